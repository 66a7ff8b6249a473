/* Small summaries of results: the collapse flag and mean/std over seeds. */
#include <math.h>

#include "core/error.h"
#include "metrics/metrics.h"

int qat_metrics_collapsed(double f1)
{
    /* NaN (a run that produced nothing usable) counts as collapsed. */
    return !(f1 >= QAT_METRICS_COLLAPSE_F1);
}

qat_status qat_metrics_mean_std(const double *values, size_t n, double *mean, double *std)
{
    QAT_CHECK_ARG(values != NULL && n > 0, "mean_std: no values");
    QAT_CHECK_ARG(mean != NULL && std != NULL, "mean_std: NULL output");
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m += values[i];
    m /= (double)n;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (values[i] - m) * (values[i] - m);
    *mean = m;
    *std = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    return QAT_OK;
}
