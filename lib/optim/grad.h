/* Gradient helpers: global-norm clipping exactly as
 * torch.nn.utils.clip_grad_norm_ (torch 1.13, norm_type 2), and the
 * scale/sum operations of gradient accumulation. */
#ifndef QAT_LIB_OPTIM_GRAD_H
#define QAT_LIB_OPTIM_GRAD_H

#include <stddef.h>

#include "qat/core.h"

typedef struct qat_optim_grad_view {
    float *grad;
    size_t count;
} qat_optim_grad_view;

/* The L2 norm over all gradients together, as torch computes it: the norm
 * of each tensor, then the norm of those norms (accumulated in double here,
 * which differs from torch's float reductions only by rounding). */
double qat_optim_grad_norm(const qat_optim_grad_view *views, size_t n_views);

/* Scales every gradient by clip_coef = max_norm / (total_norm + 1e-6) when
 * that is < 1 and reports the total norm before clipping. A non-finite
 * norm fails with QAT_ERR_NUMERIC and leaves the gradients untouched when
 * error_if_nonfinite is set (torch's error_if_nonfinite=True); otherwise
 * the gradients are scaled by the (NaN) coefficient exactly as torch does. */
qat_status qat_optim_clip_grad_norm(const qat_optim_grad_view *views, size_t n_views, double max_norm,
                                    int error_if_nonfinite, double *total_norm);

/* The coefficient clip_grad_norm_ multiplies by: max_norm / (total_norm +
 * 1e-6) in float (as torch rounds it: the reciprocal, then the product), or 1 when that is >= 1 (NaN stays NaN). Split out so a
 * caller holding the norm already (a backend reduction) can clip with it. */
float qat_optim_clip_coef(double total_norm, double max_norm);

/* dst[i] *= scale (1 / accumulation steps, or a clip coefficient). */
void qat_optim_scale(float *dst, size_t count, float scale);
/* dst[i] += src[i] (summing micro-batch gradients). */
void qat_optim_accumulate(float *dst, const float *src, size_t count);
/* dst[i] += scale * src[i]: accumulate a micro-batch already divided by the
 * number of accumulation steps, as loss / accumulation_steps does. */
void qat_optim_accumulate_scaled(float *dst, const float *src, size_t count, float scale);

#endif
