/* The cpu backend's attention tiles (cpu_attention.c), for the fused
 * inference attention there and the fused training backward
 * (cpu_attention_bwd.c): row-block products whose every element is summed
 * in kernels.h's order, one fused multiply-add a step, so that each path
 * gives ref's bits. */
#ifndef QAT_CPU_ATTENTION_H
#define QAT_CPU_ATTENTION_H

#include <stdint.h>

#include "cpu/cpu_float.h"

enum {
    QAT_CPU_ATT_PANEL_DH = 256,                          /* head_dim a panel holds at most */
    QAT_CPU_ATT_PANEL_FLOATS = QAT_CPU_ATT_PANEL_DH * 32 /* one panel of the widest path (32 KiB) */
};

/* s[r * lds + l] = (sum over c ascending of q_r[c] * panel[c * keys + l]) * scale,
 * l < nk, r < R (R <= srows). */
typedef void (*scores_fn)(const float *const *q, int R, const float *panel, int64_t dh, float scale, float *s,
                          int64_t lds, int nk);
/* o_r[c] = sum over j ascending of p_r[j] * v_j[c], from 0, for the R rows
 * p + r * ldp, o + r * ldo (R <= crows), c < dh, v_j = v + j * ldv. */
typedef void (*context_fn)(const float *p, int64_t ldp, int R, const float *v, int64_t ldv, int64_t lk,
                           int64_t dh, float *o, int64_t ldo);
/* panel[c * keys + l] = k[l * ldk + c] for c < dh, l < nk; 0 for l >= nk. */
typedef void (*panel_fn)(const float *k, int64_t ldk, int nk, int64_t dh, float *panel);

typedef struct qat_cpu_att_kernels {
    scores_fn scores;
    context_fn context;
    panel_fn panel;
    int keys;         /* keys per panel */
    int srows, crows; /* rows per call of scores / context */
} qat_cpu_att_kernels;

/* The tiles of float path isa for head_dim head_dim (the scalar ones on
 * an AVX2 CPU without FMA or a path this architecture has not). */
void qat_cpu_att_kernels_for(qat_cpu_float_isa isa, int64_t head_dim, qat_cpu_att_kernels *k);

/* The slots (cpu_attention.c, cpu_attention_bwd.c). */
qat_status qat_cpu_attention_fwd(void *state, const qat_attention_desc *d);
qat_status qat_cpu_attention_train_fwd(void *state, const qat_attention_train_desc *d);
qat_status qat_cpu_attention_bwd(void *state, const qat_attention_train_desc *d);

#endif
