#include "study/adaptive.h"

#include <math.h>

void qat_adaptive_reset(qat_adaptive_state *s)
{
    s->best = INFINITY;
    s->best_index = 0;
    s->bad = 0;
    s->seen = 0;
    s->stopped = 0;
}

int qat_adaptive_observe(qat_adaptive_state *s, const qat_adaptive_rule *rule, double loss)
{
    if (s->stopped)
        return 1;
    size_t index = s->seen++;
    /* isfinite first: NaN compares false anyway, but +inf - delta < inf
     * would otherwise count a diverged evaluation as progress. */
    if (isfinite(loss) && loss < s->best - rule->min_delta) {
        s->best = loss;
        s->best_index = index;
        s->bad = 0;
        return 0;
    }
    if (++s->bad >= rule->patience)
        s->stopped = 1;
    return s->stopped;
}

size_t qat_adaptive_stop_index(const double *losses, size_t n, const qat_adaptive_rule *rule)
{
    qat_adaptive_state s;
    qat_adaptive_reset(&s);
    for (size_t i = 0; i < n; i++)
        if (qat_adaptive_observe(&s, rule, losses[i]))
            return i;
    return n;
}
