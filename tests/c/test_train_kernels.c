/* The cpu backend's training-step kernels beyond the forward's float parts
 * (BitNet and LSQ / LSQ+ quantizers, the gradient norm, AdamW,
 * LayerNorm's and the softmax's backward, the bias gradient, dropout) on
 * every path QAT_ISA selects with 1 and 3 threads, bit for bit equal to the
 * ref backend: odd widths, NaN, infinities, huge and tiny values, empty
 * tensors, every AdamW tensor flag, clipping and a skipped update. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/rng.h"
#include "float_compare.h"
#include "qat/qat.h"
#include "test_main.h"

static const int64_t widths[] = {0, 1, 7, 16, 17, 33, 773};
#define N_WIDTHS (sizeof widths / sizeof widths[0])
enum { ROWS = 90, MAX_N = ROWS * 773 }; /* 90 x 773: three ranges of qat_host_for */

typedef struct pair {
    qat_context *cpu, *ref;
    const struct qat_backend_ops *c, *r;
    void *cs, *rs;
} pair;

static pair open_pair(const char *isa, int threads)
{
    pair p;
    setenv("QAT_ISA", isa, 1);
    QAT_ASSERT_OK(qat_context_create("cpu", &p.cpu));
    unsetenv("QAT_ISA");
    QAT_ASSERT_OK(qat_context_create("ref", &p.ref));
    QAT_ASSERT_OK(qat_context_set_int(p.cpu, QAT_CTX_THREADS, threads));
    QAT_ASSERT_OK(qat_context_set_int(p.ref, QAT_CTX_THREADS, threads));
    p.c = p.cpu->backend.ops, p.r = p.ref->backend.ops;
    p.cs = p.cpu->backend_state, p.rs = p.ref->backend_state;
    return p;
}

static void close_pair(pair *p)
{
    qat_context_free(p->cpu);
    qat_context_free(p->ref);
}

static void quantizers(const char *isa, int threads)
{
    pair p = open_pair(isa, threads);
    qat_rng rng;
    qat_rng_seed(&rng, 21);
    float *in = malloc(MAX_N * sizeof *in), *ya = malloc(MAX_N * sizeof *ya), *yb = malloc(MAX_N * sizeof *yb);
    float ga[ROWS], gb[ROWS];
    for (size_t wi = 0; wi < N_WIDTHS; wi++) {
        const int64_t cols = widths[wi], n = ROWS * cols;
        for (int specials = 0; specials <= 1; specials++) {
            fill_specials(in, n, &rng, specials);
            for (int64_t i = 0; i < n && !specials; i++) /* weights' scale, a row of tiny ones (gamma's floor) */
                in[i] *= i / (cols ? cols : 1) == 5 ? 1e-9f : 0.003f;
            for (int per_row = 0; per_row <= 1; per_row++) {
                QAT_ASSERT_OK(p.c->bitnet_weight_fwd(p.cs, in, ROWS, cols, per_row, ga, ya));
                QAT_ASSERT_OK(p.r->bitnet_weight_fwd(p.rs, in, ROWS, cols, per_row, gb, yb));
                SAME_BITS(per_row ? "bitnet_weight_fwd per row" : "bitnet_weight_fwd", ya, yb, n);
                SAME_BITS("bitnet_weight_fwd gamma", ga, gb, per_row ? ROWS : (n ? 1 : 0));
            }
            for (int bits = 4; bits <= 8; bits += 2)
                for (int symmetric = 0; symmetric <= 1; symmetric++) {
                    QAT_ASSERT_OK(p.c->bitnet_act_fwd(p.cs, in, ROWS, cols, bits, symmetric, ya));
                    QAT_ASSERT_OK(p.r->bitnet_act_fwd(p.rs, in, ROWS, cols, bits, symmetric, yb));
                    SAME_BITS("bitnet_act_fwd", ya, yb, n);
                }
        }
    }
    free(in), free(ya), free(yb);
    close_pair(&p);
}

/* Tensors of 0, 1, 7, 773, 5000 (three AdamW ranges) and ROWS x 773
 * floats, padded to multiples of 16 as the layout pads them. */
static const int64_t tensor_sizes[] = {0, 1, 7, 773, 5000, MAX_N};
enum { TENSORS = sizeof tensor_sizes / sizeof tensor_sizes[0] };

static int64_t layout(int64_t bounds[2 * TENSORS])
{
    int64_t at = 0;
    for (int t = 0; t < TENSORS; t++) {
        bounds[2 * t] = at;
        bounds[2 * t + 1] = at + tensor_sizes[t];
        at += (tensor_sizes[t] + 15) / 16 * 16;
    }
    return at;
}

static void optimizer(const char *isa, int threads)
{
    pair p = open_pair(isa, threads);
    qat_rng rng;
    qat_rng_seed(&rng, 22);
    int64_t bounds[2 * TENSORS];
    const int64_t total = layout(bounds), cols = total;
    uint8_t flags[TENSORS] = {0, QAT_SEGMENT_DECAY, QAT_SEGMENT_POSITIVE, QAT_SEGMENT_DECAY, 0, QAT_SEGMENT_POSITIVE};
    const qat_segments seg = {TENSORS, bounds, flags};
    float *grad = malloc(total * sizeof *grad), *param = malloc(total * sizeof *param);
    float *m = malloc(total * sizeof *m), *v = malloc(total * sizeof *v);
    float *buf[2][4];
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 4; k++)
            buf[s][k] = malloc(total * sizeof(float));
    for (int specials = 0; specials <= 1; specials++) {
        fill_specials(grad, total, &rng, specials);
        fill_specials(param, total, &rng, 0);
        fill_specials(m, total, &rng, specials);
        fill_specials(v, total, &rng, 0);
        for (int64_t i = 0; i < total; i++) {
            v[i] = fabsf(v[i]) * (i % 5 == 0 ? 1e-12f : 0.01f); /* tiny second moments: eps matters */
            param[i] *= i % 3 == 0 ? 1e-6f : 0.1f;            /* steps near the floor */
        }
        float na[2], nb[2];
        for (int clip = 0; clip <= 1; clip++) {
            QAT_ASSERT_OK(p.c->grad_norm(p.cs, &seg, grad, clip ? 1.0f : 0.0f, na));
            QAT_ASSERT_OK(p.r->grad_norm(p.rs, &seg, grad, clip ? 1.0f : 0.0f, nb));
            SAME_BITS("grad_norm", na, nb, 2);
        }
        const float scale = 0.37f, finite = 1.0f, nonfinite = NAN;
        for (int variant = 0; variant < 3; variant++) {
            /* 0: no clipping; 1: clipped (grad written back); 2: a non-finite check skips it */
            qat_adamw_desc d = {.decay = 0.9999f, .b1 = 0.9f, .one_minus_b1 = 0.1f, .b2 = 0.98f,
                                .one_minus_b2 = 0.02f, .neg_step_size = -5e-5f, .bc2_sqrt = 0.1407f, .eps = 1e-8f,
                                .scale = variant ? &scale : NULL, .check = variant == 2 ? &nonfinite : &finite,
                                .check_count = 1};
            for (int s = 0; s < 2; s++) {
                memcpy(buf[s][0], param, total * sizeof(float));
                memcpy(buf[s][1], grad, total * sizeof(float));
                memcpy(buf[s][2], m, total * sizeof(float));
                memcpy(buf[s][3], v, total * sizeof(float));
                QAT_ASSERT_OK((s ? p.r : p.c)->adamw(s ? p.rs : p.cs, &d, &seg, buf[s][0], buf[s][1], buf[s][2],
                                                     buf[s][3]));
            }
            SAME_BITS("adamw param", buf[0][0], buf[1][0], total);
            SAME_BITS("adamw grad", buf[0][1], buf[1][1], total);
            SAME_BITS("adamw exp_avg", buf[0][2], buf[1][2], total);
            SAME_BITS("adamw exp_avg_sq", buf[0][3], buf[1][3], total);
            if (variant == 2) /* skipped: nothing written */
                ck_assert(first_difference(buf[0][0], param, total) < 0);
            else /* the update ran, and floored the steps */
                ck_assert(first_difference(buf[0][0], param, total) >= 0);
            for (int64_t i = bounds[4]; i < bounds[5] && variant != 2; i++)
                ck_assert(!(buf[0][0][i] < QAT_STEP_FLOOR));
        }
    }
    free(grad), free(param), free(m), free(v);
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 4; k++)
            free(buf[s][k]);
    close_pair(&p);
}

/* LayerNorm's, the softmax's and the bias's gradients; dx aliasing dy as
 * the model may call them, dw / db accumulating onto nonzero values. */
static void backward(const char *isa, int threads)
{
    pair p = open_pair(isa, threads);
    qat_rng rng;
    qat_rng_seed(&rng, 23);
    float *x = malloc(MAX_N * sizeof *x), *dy = malloc(MAX_N * sizeof *dy), *y = malloc(MAX_N * sizeof *y);
    float *da = malloc(MAX_N * sizeof *da), *db = malloc(MAX_N * sizeof *db);
    float *xa = malloc(MAX_N * sizeof *xa), *xb = malloc(MAX_N * sizeof *xb); /* dx, ds unless in place */
    float w[773], wa[773], wb[773], ba[773], bb[773], mean[ROWS], rstd[ROWS];
    for (size_t wi = 0; wi < N_WIDTHS; wi++) {
        const int64_t cols = widths[wi], n = ROWS * cols;
        for (int specials = 0; specials <= 1; specials++) {
            fill_specials(x, n, &rng, specials);
            fill_specials(dy, n, &rng, specials);
            fill_specials(w, cols, &rng, 0);
            fill_specials(wa, cols, &rng, 0);
            QAT_ASSERT_OK(p.r->layernorm_fwd(p.rs, x, w, wa, 1e-5f, ROWS, cols, y, mean, rstd));
            for (int alias = 0; alias <= 1; alias++) {
                fill_specials(wa, cols, &rng, 0);
                fill_specials(ba, cols, &rng, 0);
                memcpy(wb, wa, sizeof wb);
                memcpy(bb, ba, sizeof bb);
                memcpy(da, dy, n * sizeof *da);
                memcpy(db, dy, n * sizeof *db);
                float *dxa = alias ? da : xa, *dxb = alias ? db : xb;
                QAT_ASSERT_OK(p.c->layernorm_bwd(p.cs, da, x, w, mean, rstd, ROWS, cols, dxa, wa, ba));
                QAT_ASSERT_OK(p.r->layernorm_bwd(p.rs, db, x, w, mean, rstd, ROWS, cols, dxb, wb, bb));
                SAME_BITS(alias ? "layernorm_bwd dx in place" : "layernorm_bwd dx", dxa, dxb, n);
                SAME_BITS("layernorm_bwd dw", wa, wb, cols);
                SAME_BITS("layernorm_bwd db", ba, bb, cols);
            }
            /* the softmax: real probabilities (and a row of specials) */
            memcpy(y, x, n * sizeof *y);
            QAT_ASSERT_OK(p.r->softmax_fwd(p.rs, y, NULL, 2, 5, 9, cols));
            for (int alias = 0; alias <= 1; alias++) {
                memcpy(da, dy, n * sizeof *da);
                memcpy(db, dy, n * sizeof *db);
                float *dsa = alias ? da : xa, *dsb = alias ? db : xb;
                QAT_ASSERT_OK(p.c->softmax_bwd(p.cs, da, y, ROWS, cols, dsa));
                QAT_ASSERT_OK(p.r->softmax_bwd(p.rs, db, y, ROWS, cols, dsb));
                SAME_BITS(alias ? "softmax_bwd in place" : "softmax_bwd", dsa, dsb, n);
            }
            memcpy(ba, wa, sizeof ba);
            memcpy(bb, wa, sizeof bb);
            QAT_ASSERT_OK(p.c->bias_grad(p.cs, dy, ROWS, cols, ba));
            QAT_ASSERT_OK(p.r->bias_grad(p.rs, dy, ROWS, cols, bb));
            SAME_BITS("bias_grad", ba, bb, cols);
        }
    }
    free(x), free(dy), free(y), free(da), free(db), free(xa), free(xb);
    close_pair(&p);
}

/* Dropout's counter-hash mask and scale, from offsets that split the
 * ranges unevenly, with seeds whose hash start wraps around 2^64. */
static void dropout(const char *isa, int threads)
{
    pair p = open_pair(isa, threads);
    qat_rng rng;
    qat_rng_seed(&rng, 24);
    float *in = malloc(MAX_N * sizeof *in), *xa = malloc(MAX_N * sizeof *xa), *xb = malloc(MAX_N * sizeof *xb);
    static const float probs[] = {0.0f, 0.1f, 0.5f, 0.999f};
    static const uint64_t seeds[] = {0, 42, 0xfffffffffffffff0ull};
    for (size_t wi = 0; wi < N_WIDTHS; wi++) {
        const int64_t cols = widths[wi], n = ROWS * cols;
        fill_specials(in, n, &rng, 1);
        for (size_t pi = 0; pi < sizeof probs / sizeof probs[0]; pi++)
            for (size_t si = 0; si < sizeof seeds / sizeof seeds[0]; si++) {
                memcpy(xa, in, n * sizeof *xa);
                memcpy(xb, in, n * sizeof *xb);
                QAT_ASSERT_OK(p.c->dropout(p.cs, xa, n, probs[pi], seeds[si]));
                QAT_ASSERT_OK(p.r->dropout(p.rs, xb, n, probs[pi], seeds[si]));
                SAME_BITS("dropout", xa, xb, n);
            }
    }
    free(in), free(xa), free(xb);
    close_pair(&p);
}

/* LSQ and LSQ+ forward and backward: per tensor and per row, signed and
 * unsigned ranges, the seed code's step_eps, dx in place. */
static void lsq(const char *isa, int threads)
{
    pair p = open_pair(isa, threads);
    qat_rng rng;
    qat_rng_seed(&rng, 25);
    float *x = malloc(MAX_N * sizeof *x), *dy = malloc(MAX_N * sizeof *dy);
    float *ya = malloc(MAX_N * sizeof *ya), *yb = malloc(MAX_N * sizeof *yb);
    float step[ROWS], sa[ROWS], sb[ROWS], offset = 0.3f, oa[1], ob[1];
    for (int r = 0; r < ROWS; r++)
        step[r] = 0.05f + 0.01f * (float)(r % 37);
    for (size_t wi = 0; wi < N_WIDTHS; wi++) {
        const int64_t cols = widths[wi], n = ROWS * cols;
        fill_specials(x, n, &rng, 1);
        fill_specials(dy, n, &rng, 1);
        for (int variant = 0; variant < 8; variant++) {
            const int per_row = variant & 1, plus = (variant >> 1) & 1, seed_eps = variant >> 2;
            const qat_lsq_desc d = {.step = step, .offset = plus ? &offset : NULL, .rows = ROWS, .cols = cols,
                                    .per_row = per_row, .qn = plus ? 0.0f : -8.0f, .qp = plus ? 15.0f : 7.0f,
                                    .step_eps = seed_eps ? 1e-8f : 0.0f};
            QAT_ASSERT_OK(p.c->lsq_fwd(p.cs, &d, x, ya));
            QAT_ASSERT_OK(p.r->lsq_fwd(p.rs, &d, x, yb));
            SAME_BITS("lsq_fwd", ya, yb, n);
            for (int r = 0; r < ROWS; r++)
                sa[r] = sb[r] = 0.5f;
            oa[0] = ob[0] = 0.25f;
            memcpy(ya, dy, n * sizeof *ya);
            memcpy(yb, dy, n * sizeof *yb);
            QAT_ASSERT_OK(p.c->lsq_bwd(p.cs, &d, ya, x, 0.01f, ya, sa, oa));
            QAT_ASSERT_OK(p.r->lsq_bwd(p.rs, &d, yb, x, 0.01f, yb, sb, ob));
            SAME_BITS("lsq_bwd dx in place", ya, yb, n);
            SAME_BITS("lsq_bwd dstep", sa, sb, per_row ? ROWS : 1);
            SAME_BITS("lsq_bwd doffset", oa, ob, 1);
        }
    }
    free(x), free(dy), free(ya), free(yb);
    close_pair(&p);
}

START_TEST(quantizers_match_ref_on_every_path)
{
    FOR_EVERY_PATH(quantizers)
}
END_TEST

START_TEST(optimizer_matches_ref_on_every_path)
{
    FOR_EVERY_PATH(optimizer)
}
END_TEST

START_TEST(backward_matches_ref_on_every_path)
{
    FOR_EVERY_PATH(backward)
}
END_TEST

START_TEST(dropout_matches_ref_on_every_path)
{
    FOR_EVERY_PATH(dropout)
}
END_TEST

START_TEST(lsq_matches_ref_on_every_path)
{
    FOR_EVERY_PATH(lsq)
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("train_kernels");
    TCase *tc = tcase_create("train_kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, quantizers_match_ref_on_every_path);
    tcase_add_test(tc, optimizer_matches_ref_on_every_path);
    tcase_add_test(tc, backward_matches_ref_on_every_path);
    tcase_add_test(tc, dropout_matches_ref_on_every_path);
    tcase_add_test(tc, lsq_matches_ref_on_every_path);
    suite_add_tcase(s, tc);
    return s;
}
