/* clip_grad_norm_'s global norm on a host-memory backend, written once for
 * ref and cpu, which differ only in how one tensor's sum of squares is
 * taken (lib/math's qat_square_sum_row, or its vector twin: the same
 * bits). */
#ifndef QAT_HOST_GRAD_NORM_H
#define QAT_HOST_GRAD_NORM_H

#include "backend/kernels.h"

/* sum x[i]^2 over n floats, in double; `arg` is the caller's. */
typedef double (*qat_host_square_sum_fn)(const void *arg, const float *x, int64_t n);

/* The grad_norm slot (backend/kernels.h): each tensor's norm (its sum of
 * squares rounded to float after the square root), one tensor per range,
 * then the norm of those summed in double in tensor order. */
qat_status qat_host_grad_norm(void *state, const qat_segments *seg, const float *grad, float max_norm, float *out,
                              qat_host_square_sum_fn square_sum, const void *arg);

#endif
