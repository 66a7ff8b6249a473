/* The LSQ+ initialisation search. Evaluating the MSE of every candidate
 * range over the raw tensor would cost a pass per candidate (a thousand
 * passes over a 37M-float activation of CamemBERT-base); instead x is
 * summarised once by a histogram (count, sum, sum of squares per bin) and
 * each bin is quantized as a whole at its mean, which is exact whenever the
 * bin lies inside one quantization cell:
 *   sum_{x in bin} (c - x)^2 = count c^2 - 2 c sum + sumsq,  c = q(mean).
 * Candidates clip the range [min, max] from below and above in steps of
 * (max - min) / GRID, up to half of it each; the first candidate with the
 * least error wins (lower clip outer, upper clip inner, both ascending). */
#include "quant/lsq_plus_init.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "math/float_math.h"

typedef struct bin_stats {
    double count, sum, sumsq, mean;
} bin_stats;

static double quantize(double v, double lo, double s, double qp)
{
    double u = (v - lo) / s;
    /* two selects (max, then min), not a nested branch: the candidates'
     * lanes below then run as vector code */
    u = u > 0.0 ? u : 0.0;
    u = u < qp ? u : qp;
    return qat_round_even_small_d(u) * s + lo;
}

qat_status qat_lsq_plus_init(const float *x, int64_t n, int bits, float *step, float *offset)
{
    QAT_CHECK_ARG(bits >= 2 && bits <= 8, "LSQ+ initialisation: bits must be 2..8, got %d", bits);
    QAT_CHECK_ARG(n > 0, "LSQ+ initialisation: no values to initialise from");
    double mn = x[0], mx = x[0];
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return qat_fail(QAT_ERR_NUMERIC, "LSQ+ initialisation: the first batch holds a non-finite value (%g)",
                            (double)x[i]);
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    const double qp = (double)((1 << bits) - 1), range = mx - mn;
    if (!(range > 0.0)) { /* a constant: the offset alone reproduces it */
        *offset = (float)mn;
        *step = 1e-8f;
        return QAT_OK;
    }
    bin_stats *bins = calloc(QAT_LSQ_PLUS_BINS, sizeof *bins);
    if (!bins)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "LSQ+ initialisation: out of memory");
    const double per_unit = (double)QAT_LSQ_PLUS_BINS / range;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        int64_t b = (int64_t)floor((v - mn) * per_unit);
        b = b >= QAT_LSQ_PLUS_BINS ? QAT_LSQ_PLUS_BINS - 1 : b;
        bins[b].count += 1.0;
        bins[b].sum += v;
        bins[b].sumsq += v * v;
    }
    /* The occupied bins, in order, with their means: the candidates' loop
     * below visits only these (a small tensor fills few of the 2048), with
     * the same sums in the same order as over all bins. */
    int used = 0;
    for (int b = 0; b < QAT_LSQ_PLUS_BINS; b++)
        if (bins[b].count != 0.0) {
            bins[used] = bins[b];
            bins[used].mean = bins[used].sum / bins[used].count;
            used++;
        }
    /* LANES candidates of one lower clip at a time, each with its own
     * error summed over the bins in order: the same sums as one candidate
     * at a time, which the compiler runs side by side in vector lanes. */
    enum { LANES = 4 };
    _Static_assert(QAT_LSQ_PLUS_GRID / 2 % LANES == 0, "upper clips in whole groups of LANES");
    double best = INFINITY, best_lo = mn, best_s = range / qp;
    for (int i = 0; i < QAT_LSQ_PLUS_GRID / 2; i++)
        for (int j0 = 0; j0 < QAT_LSQ_PLUS_GRID / 2; j0 += LANES) {
            const double lo = mn + range * i / QAT_LSQ_PLUS_GRID;
            double s[LANES], err[LANES];
            for (int l = 0; l < LANES; l++) {
                const double hi = mx - range * (j0 + l) / QAT_LSQ_PLUS_GRID;
                s[l] = (hi - lo) / qp;
                err[l] = 0.0;
            }
            for (int b = 0; b < used; b++)
                for (int l = 0; l < LANES; l++) {
                    const double c = quantize(bins[b].mean, lo, s[l], qp);
                    err[l] += bins[b].count * c * c - 2.0 * c * bins[b].sum + bins[b].sumsq;
                }
            for (int l = 0; l < LANES; l++)
                if (err[l] < best) {
                    best = err[l];
                    best_lo = lo;
                    best_s = s[l];
                }
        }
    free(bins);
    *offset = (float)best_lo;
    *step = (float)best_s;
    return QAT_OK;
}
