/* The ref backend's encoder kernels, also the fallback of every other
 * host-memory backend (whose state must start like qat_ref_state). */
#ifndef QAT_REF_KERNELS_H
#define QAT_REF_KERNELS_H

#include "backend/backend.h"
#include "math/float_math.h" /* qat_round_even_small */

/* One row of the masked softmax, in place: s[j] += kb[j] (kb may be NULL),
 * then s = exp(s - max) / sum: lib/math's qat_softmax_row (qat_expf, the
 * sum in 16 fixed float lanes; the cpu backend's AVX2 / AVX-512 twin is
 * qat_cpu_softmax_row, cpu/cpu_float.h). softmax_fwd and
 * attention_fwd run it on every row, so the fused attention's
 * probabilities are softmax_fwd's bit for bit. */
void qat_ref_softmax_row(float *s, const float *kb, int64_t lk);

/* qat_ref_<kernel> for every kernel of the list (backend/kernels.h). */
#define QAT_REF_DECLARE(name, params, args) qat_status qat_ref_##name QAT_KERNEL_PARAMS params;
QAT_BACKEND_KERNELS(QAT_REF_DECLARE)
#undef QAT_REF_DECLARE

#endif
