/* Adaptive alpha (docs/method.md section 11): the DAPT phase evaluates the held-out
 * MLM loss every `eval_every` steps and stops once `patience` evaluations
 * in a row have not improved on the best loss so far by more than
 * `min_delta` (Keras EarlyStopping semantics: an evaluation improves when
 * loss < best - min_delta; the first finite one always does; a non-finite
 * loss never does). The steps DAPT did not use go to fine-tuning, so the
 * chosen alpha is stop_step / total_steps.
 *
 * The rule is a pure function of the loss sequence: a resumed run replays
 * the evaluations it had logged and reaches the same state. */
#ifndef QAT_LIB_TRAIN_ADAPTIVE_H
#define QAT_LIB_TRAIN_ADAPTIVE_H

#include <stddef.h>
#include <stdint.h>

typedef struct qat_adaptive_rule {
    int64_t patience;   /* >= 1 */
    double min_delta;   /* >= 0, absolute (nats) */
} qat_adaptive_rule;

typedef struct qat_adaptive_state {
    double best;        /* best loss so far (+inf before the first) */
    size_t best_index;  /* evaluation that set it */
    int64_t bad;        /* evaluations since the last improvement */
    size_t seen;        /* evaluations observed */
    int stopped;        /* the rule fired (at evaluation seen - 1) */
} qat_adaptive_state;

void qat_adaptive_reset(qat_adaptive_state *s);
/* Feeds one evaluation; returns 1 when the rule fires on it (and from
 * then on, without looking at further losses). */
int qat_adaptive_observe(qat_adaptive_state *s, const qat_adaptive_rule *rule, double loss);
/* The whole curve at once: the index of the evaluation at which the rule
 * fires, or n when it never does. */
size_t qat_adaptive_stop_index(const double *losses, size_t n, const qat_adaptive_rule *rule);

#endif
