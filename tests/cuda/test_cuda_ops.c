/* The CUDA backend, slot by slot, against the ref backend: the same random
 * inputs (odd shapes, empty ones, rows past the 65535-block grid bound) go
 * through both ops tables (ctx->backend.ops, private: this suite links the
 * internal archive) and the outputs are compared. Quantizer codes, dropout
 * masks, copies and the embedding scatter must be bit-identical; reductions
 * (double sums in a different order) agree to a tight relative tolerance.
 * Exits 77 (skipped) when no "cuda" backend is usable. */
#include <stdint.h>

#include "backend/backend.h"
#include "core/context.h"
#include "core/rng.h"
#include "cuda_test_util.h"
#include "model/encoder_walk.h"

enum { REF = 0, GPU = 1 };

typedef struct backend {
    qat_context *ctx;
    const struct qat_backend_ops *ops;
    void *st;
} backend;

static backend be[2];

static void open_backends(const char *precision)
{
    QAT_ASSERT_OK(qat_context_create("ref", &be[REF].ctx));
    if (precision)
        setenv("QAT_CUDA_PRECISION", precision, 1);
    else
        unsetenv("QAT_CUDA_PRECISION");
    QAT_ASSERT_OK(qat_context_create("cuda", &be[GPU].ctx));
    unsetenv("QAT_CUDA_PRECISION");
    for (int w = 0; w < 2; w++) {
        be[w].ops = be[w].ctx->backend.ops;
        be[w].st = be[w].ctx->backend_state;
    }
    ck_assert_str_eq(be[GPU].ops->name, "cuda");
}

static void setup(void)
{
    open_backends(NULL);
}

static void teardown(void)
{
    for (int w = 0; w < 2; w++) {
        qat_context_free(be[w].ctx);
        be[w].ctx = NULL;
    }
}

/* Asserts an op of backend w succeeded, with the module's message if not. */
#define OP_OK(w, expr)                                                                                         \
    do {                                                                                                       \
        qat_status st_ = (expr);                                                                               \
        const char *msg_ = be[w].ops->last_error ? be[w].ops->last_error(be[w].st) : qat_last_error();        \
        ck_assert_msg(st_ == QAT_OK, "%s on %s: %s: %s", #expr, be[w].ops->name, qat_status_string(st_),     \
                      msg_ ? msg_ : "");                                                                       \
    } while (0)

#define OPS(w) be[w].ops

/* Signed LSQ (plus = 0) or LSQ+ (unsigned, with an offset) over [rows, cols]. */
static qat_lsq_desc lsq_desc(const float *step, const float *offset, int64_t rows, int64_t cols, int per_row,
                             int bits)
{
    qat_lsq_desc d = {.step = step, .offset = offset, .rows = rows, .cols = cols, .per_row = per_row};
    d.qn = offset ? 0.0f : -(float)(1 << (bits - 1));
    d.qp = offset ? (float)((1 << bits) - 1) : (float)((1 << (bits - 1)) - 1);
    return d;
}
#define ST(w) be[w].st

/* ---- buffers present on both backends ---- */

typedef struct tbuf {
    size_t n, elem;
    void *host;
    void *dev[2];
    void *out[2];
} tbuf;

static tbuf tb_make(const void *init, size_t n, size_t elem)
{
    tbuf b = {n, elem, NULL, {NULL, NULL}, {NULL, NULL}};
    size_t bytes = (n ? n : 1) * elem;
    b.host = calloc(1, bytes);
    if (init && n)
        memcpy(b.host, init, n * elem);
    for (int w = 0; w < 2; w++) {
        OP_OK(w, OPS(w)->alloc(ST(w), bytes, &b.dev[w]));
        OP_OK(w, OPS(w)->upload(ST(w), b.dev[w], b.host, bytes));
        b.out[w] = calloc(1, bytes);
    }
    return b;
}

static tbuf tb_floats(const float *init, size_t n)
{
    return tb_make(init, n, sizeof(float));
}

static tbuf tb_ints(const int32_t *init, size_t n)
{
    return tb_make(init, n, sizeof(int32_t));
}

#define F(b, w) ((float *)(b).dev[w])
#define I(b, w) ((const int32_t *)(b).dev[w])

/* Downloads backend w's copy and returns it as floats. */
static float *tb_get(tbuf *b, int w)
{
    OP_OK(w, OPS(w)->download(ST(w), b->out[w], b->dev[w], (b->n ? b->n : 1) * b->elem));
    return (float *)b->out[w];
}

static void tb_free(tbuf *b)
{
    for (int w = 0; w < 2; w++) {
        OPS(w)->free(ST(w), b->dev[w]);
        free(b->out[w]);
    }
    free(b->host);
}

/* Frees buffers of both backends, or host arrays: TB_FREE(&ta, &tb); FREE_ALL(a, b). */
#define TB_FREE(...)                                                                                           \
    do {                                                                                                       \
        tbuf *tb_all_[] = {__VA_ARGS__};                                                                       \
        for (size_t tb_i_ = 0; tb_i_ < sizeof tb_all_ / sizeof tb_all_[0]; tb_i_++)                            \
            tb_free(tb_all_[tb_i_]);                                                                           \
    } while (0)
#define FREE_ALL(...)                                                                                          \
    do {                                                                                                       \
        void *free_all_[] = {__VA_ARGS__};                                                                     \
        for (size_t free_i_ = 0; free_i_ < sizeof free_all_ / sizeof free_all_[0]; free_i_++)                  \
            free(free_all_[free_i_]);                                                                          \
    } while (0)

static void compare_close(const char *what, tbuf *b, double rtol, double atol)
{
    float *want = tb_get(b, REF), *got = tb_get(b, GPU);
    expect_close(what, want, got, b->n, rtol, atol);
}

static void compare_equal(const char *what, tbuf *b)
{
    float *want = tb_get(b, REF), *got = tb_get(b, GPU);
    expect_equal(what, want, got, b->n);
}

static float *random_floats(uint64_t seed, size_t n, float lo, float hi)
{
    qat_rng rng;
    qat_rng_seed(&rng, seed);
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * qat_rng_uniform(&rng);
    return x;
}

static int32_t *random_ids(uint64_t seed, size_t n, int64_t bound)
{
    qat_rng rng;
    qat_rng_seed(&rng, seed);
    int32_t *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (int32_t)qat_rng_below(&rng, (uint64_t)bound);
    return x;
}

/* Shapes (rows, cols): empty, single, odd, past a warp, past a block, long rows. */
typedef struct shape { int64_t rows, cols; } shape;
static const shape shapes[] = {{0, 5}, {3, 0}, {1, 1}, {3, 7}, {17, 33}, {5, 769}, {2, 4097}, {33, 1}, {64, 257},
                               {1, 70001}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static char label[256];
static const char *what(const char *op, const shape *s)
{
    snprintf(label, sizeof label, "%s %lldx%lld", op, (long long)s->rows, (long long)s->cols);
    return label;
}

/* ---- element-wise ---- */

START_TEST(elementwise_fill_copy_add_accumulate)
{
    for (size_t k = 0; k < N_SHAPES; k++) {
        const shape *s = &shapes[k];
        size_t n = (size_t)(s->rows * s->cols);
        float *a = random_floats(k + 1, n, -2, 2), *b = random_floats(k + 100, n, -2, 2);
        tbuf ta = tb_floats(a, n), tb = tb_floats(b, n), out = tb_floats(NULL, n);
        for (int w = 0; w < 2; w++) {
            OP_OK(w, OPS(w)->fill(ST(w), F(out, w), (int64_t)n, 0.375f));
        }
        compare_equal(what("fill", s), &out);
        for (int w = 0; w < 2; w++) {
            OP_OK(w, OPS(w)->add(ST(w), F(ta, w), F(tb, w), F(out, w), (int64_t)n));
        }
        compare_equal(what("add", s), &out);
        for (int w = 0; w < 2; w++) {
            OP_OK(w, OPS(w)->add(ST(w), F(ta, w), F(tb, w), F(ta, w), (int64_t)n)); /* out aliases a */
            OP_OK(w, OPS(w)->accumulate(ST(w), F(tb, w), F(out, w), (int64_t)n));
        }
        compare_equal(what("add in place", s), &ta);
        compare_equal(what("accumulate", s), &out);
        for (int w = 0; w < 2; w++) {
            OP_OK(w, OPS(w)->copy(ST(w), F(tb, w), F(out, w), (int64_t)n));
        }
        compare_equal(what("copy", s), &out);
        expect_equal(what("copy is the source", s), b, tb_get(&out, GPU), n);
        TB_FREE(&ta, &tb, &out);
        FREE_ALL(a, b);
    }
}
END_TEST

START_TEST(elementwise_bias_gelu)
{
    for (size_t k = 0; k < N_SHAPES; k++) {
        const shape *s = &shapes[k];
        size_t n = (size_t)(s->rows * s->cols);
        float *x = random_floats(k + 7, n, -6, 6), *bias = random_floats(k + 8, (size_t)s->cols, -1, 1);
        float *dy = random_floats(k + 9, n, -1, 1);
        for (int variant = 0; variant < 3; variant++) { /* bias only, bias + GELU, GELU without bias */
            tbuf tx = tb_floats(x, n), tbias = tb_floats(bias, (size_t)s->cols), ty = tb_floats(NULL, n);
            qat_activation act = variant == 0 ? QAT_ACTIVATION_NONE : QAT_ACTIVATION_GELU;
            for (int w = 0; w < 2; w++)
                OP_OK(w, OPS(w)->bias_act_fwd(ST(w), F(tx, w), variant == 2 ? NULL : F(tbias, w), s->rows, s->cols,
                                              act, act == QAT_ACTIVATION_GELU ? F(ty, w) : NULL));
            compare_equal(what("bias_act_fwd x", s), &tx);
            if (act == QAT_ACTIVATION_GELU)
                compare_close(what("bias_act_fwd gelu", s), &ty, 2e-6, 1e-6); /* erff: 2 ulp on the device, near 1 */
            TB_FREE(&tx, &tbias, &ty);
        }
        /* gelu_bwd, separate output and in place (dx aliases dy). */
        tbuf tpre = tb_floats(x, n), tdy = tb_floats(dy, n), tdx = tb_floats(NULL, n);
        for (int w = 0; w < 2; w++) {
            OP_OK(w, OPS(w)->gelu_bwd(ST(w), F(tdy, w), F(tpre, w), (int64_t)n, F(tdx, w)));
            OP_OK(w, OPS(w)->gelu_bwd(ST(w), F(tdy, w), F(tpre, w), (int64_t)n, F(tdy, w)));
        }
        compare_close(what("gelu_bwd", s), &tdx, 4e-6, 1e-6);
        compare_close(what("gelu_bwd in place", s), &tdy, 4e-6, 1e-6);
        TB_FREE(&tpre, &tdy, &tdx);
        FREE_ALL(x, bias, dy);
    }
}
END_TEST

/* The pooler's tanh: bias_act_fwd with TANH, and tanh_bwd (separate output
 * and in place). Device tanhf is within 2 ulp of glibc's. */
START_TEST(elementwise_bias_tanh)
{
    for (size_t k = 0; k < N_SHAPES; k++) {
        const shape *s = &shapes[k];
        size_t n = (size_t)(s->rows * s->cols);
        float *x = random_floats(k + 17, n, -4, 4), *bias = random_floats(k + 18, (size_t)s->cols, -1, 1);
        float *dy = random_floats(k + 19, n, -1, 1);
        tbuf tx = tb_floats(x, n), tbias = tb_floats(bias, (size_t)s->cols), ty = tb_floats(NULL, n);
        for (int w = 0; w < 2; w++)
            OP_OK(w, OPS(w)->bias_act_fwd(ST(w), F(tx, w), F(tbias, w), s->rows, s->cols, QAT_ACTIVATION_TANH,
                                          F(ty, w)));
        compare_equal(what("bias_act_fwd x (tanh)", s), &tx);
        compare_close(what("bias_act_fwd tanh", s), &ty, 5e-7, 1e-7);
        /* The backward from ref's tanh output on both, so only tanh_bwd differs. */
        float *y = tb_get(&ty, REF);
        tbuf tyr = tb_floats(y, n), tdy = tb_floats(dy, n), tdx = tb_floats(NULL, n);
        for (int w = 0; w < 2; w++) {
            OP_OK(w, OPS(w)->tanh_bwd(ST(w), F(tdy, w), F(tyr, w), (int64_t)n, F(tdx, w)));
            OP_OK(w, OPS(w)->tanh_bwd(ST(w), F(tdy, w), F(tyr, w), (int64_t)n, F(tdy, w)));
        }
        compare_equal(what("tanh_bwd", s), &tdx);
        compare_equal(what("tanh_bwd in place", s), &tdy);
        TB_FREE(&tx, &tbias, &ty, &tyr, &tdy, &tdx);
        FREE_ALL(x, bias, dy);
    }
}
END_TEST

START_TEST(elementwise_bias_grad)
{
    const shape more[] = {{1000, 3}, {4099, 65}, {7, 33000}};
    for (size_t k = 0; k < N_SHAPES + 3; k++) {
        const shape *s = k < N_SHAPES ? &shapes[k] : &more[k - N_SHAPES];
        size_t n = (size_t)(s->rows * s->cols);
        float *dy = random_floats(k + 11, n, -1, 1), *db0 = random_floats(k + 12, (size_t)s->cols, -1, 1);
        tbuf tdy = tb_floats(dy, n), tdb = tb_floats(db0, (size_t)s->cols);
        for (int w = 0; w < 2; w++)
            OP_OK(w, OPS(w)->bias_grad(ST(w), F(tdy, w), s->rows, s->cols, F(tdb, w)));
        compare_close(what("bias_grad (accumulated)", s), &tdb, 1e-6, 1e-6);
        TB_FREE(&tdy, &tdb);
        FREE_ALL(dy, db0);
    }
}
END_TEST

/* linear_fwd (cuBLASLt: bias in the matmul's epilogue, the exact GELU
 * after it) against ref under one precision policy: odd shapes, an empty
 * reduction (in = 0: the unfused fallback), no bias, and operands one float
 * off 16-byte alignment (cuBLASLt told their real alignment; the bias then
 * added with the GELU). Tolerance from each output's magnitude sum
 * |x||w| + |b|, as gemm_policy; GELU's slope is at most 1.13. */
static void linear_policy(const char *precision, double rtol)
{
    teardown();
    open_backends(precision);
    const int64_t sh[][3] = {{1, 1, 1}, {7, 13, 19}, {33, 20, 3}, {5, 0, 4}, {17, 24, 96}, {64, 257, 33}};
    for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++)
        for (int v = 0; v < 8; v++) { /* bit 0: GELU, bit 1: bias, bit 2: misaligned */
            const int gelu = v & 1, has_bias = v & 2, off = v & 4 ? 1 : 0;
            const int64_t rows = sh[k][0], in = sh[k][1], out = sh[k][2];
            const size_t nx = (size_t)(rows * in), nw = (size_t)(out * in), ny = (size_t)(rows * out);
            float *x = random_floats(k * 8 + v, nx + 1, -1, 1), *wt = random_floats(k * 8 + v + 50, nw + 1, -1, 1);
            float *b = random_floats(k * 8 + v + 90, (size_t)out + 1, -1, 1);
            tbuf tx = tb_floats(x, nx + 1), tw = tb_floats(wt, nw + 1), tbias = tb_floats(b, (size_t)out + 1);
            tbuf tpre = tb_floats(NULL, ny + 1), ty = tb_floats(NULL, ny + 1);
            for (int w = 0; w < 2; w++) {
                const qat_linear_desc d = {.rows = rows, .in = in, .out = out, .x = F(tx, w) + off,
                                           .w = F(tw, w) + off, .bias = has_bias ? F(tbias, w) + off : NULL,
                                           .act = gelu ? QAT_ACTIVATION_GELU : QAT_ACTIVATION_NONE,
                                           .pre = gelu ? F(tpre, w) + off : NULL, .y = F(ty, w) + off};
                OP_OK(w, OPS(w)->linear_fwd(ST(w), &d));
            }
            const float *want_pre = tb_get(&tpre, REF), *got_pre = tb_get(&tpre, GPU);
            const float *want_y = tb_get(&ty, REF), *got_y = tb_get(&ty, GPU);
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < out; j++) {
                    double mag = has_bias ? fabs(b[off + j]) : 0.0;
                    for (int64_t p = 0; p < in; p++)
                        mag += fabs((double)x[off + i * in + p] * wt[off + j * in + p]);
                    const double tol = rtol * mag + 1e-6;
                    const size_t at = (size_t)(off + i * out + j);
                    ck_assert_msg(fabs((double)got_y[at] - want_y[at]) <= (gelu ? 1.13 : 1.0) * tol + 1e-6,
                                  "linear_fwd %s %lldx%lldx%lld variant %d: y[%lld,%lld] %g vs ref %g", precision,
                                  (long long)rows, (long long)in, (long long)out, v, (long long)i, (long long)j,
                                  (double)got_y[at], (double)want_y[at]);
                    if (gelu)
                        ck_assert_msg(fabs((double)got_pre[at] - want_pre[at]) <= tol,
                                      "linear_fwd %s %lldx%lldx%lld variant %d: pre[%lld,%lld] %g vs ref %g",
                                      precision, (long long)rows, (long long)in, (long long)out, v, (long long)i,
                                      (long long)j, (double)got_pre[at], (double)want_pre[at]);
                }
            TB_FREE(&tx, &tw, &tbias, &tpre, &ty);
            FREE_ALL(x, wt, b);
        }
}

START_TEST(linear_fwd_fp32)
{
    linear_policy("fp32", 1e-5);
}
END_TEST

START_TEST(linear_fwd_bf16)
{
    linear_policy("bf16", 1.6e-2); /* 7-bit mantissa inputs, fp32 accumulation: gemm_bf16's */
}
END_TEST

/* gelu_bias_bwd (dGELU and the column sums in one pass) against ref,
 * separate output and in place, db accumulating onto a random start. */
START_TEST(elementwise_gelu_bias_bwd)
{
    const shape more[] = {{1000, 3}, {4099, 65}};
    for (size_t k = 0; k < N_SHAPES + 2; k++) {
        const shape *s = k < N_SHAPES ? &shapes[k] : &more[k - N_SHAPES];
        size_t n = (size_t)(s->rows * s->cols);
        float *pre = random_floats(k + 21, n, -6, 6), *dy = random_floats(k + 22, n, -1, 1);
        float *db0 = random_floats(k + 23, (size_t)s->cols, -1, 1);
        tbuf tpre = tb_floats(pre, n), tdy = tb_floats(dy, n), tdx = tb_floats(NULL, n);
        tbuf tdb = tb_floats(db0, (size_t)s->cols);
        for (int w = 0; w < 2; w++)
            OP_OK(w, OPS(w)->gelu_bias_bwd(ST(w), F(tdy, w), F(tpre, w), s->rows, s->cols, F(tdx, w), F(tdb, w)));
        compare_close(what("gelu_bias_bwd dx", s), &tdx, 4e-6, 1e-6);
        compare_close(what("gelu_bias_bwd db", s), &tdb, 1e-5, 1e-5);
        for (int w = 0; w < 2; w++)
            OP_OK(w, OPS(w)->gelu_bias_bwd(ST(w), F(tdy, w), F(tpre, w), s->rows, s->cols, F(tdy, w), F(tdb, w)));
        compare_close(what("gelu_bias_bwd in place", s), &tdy, 4e-6, 1e-6);
        compare_close(what("gelu_bias_bwd db twice", s), &tdb, 1e-5, 1e-5);
        TB_FREE(&tpre, &tdy, &tdx, &tdb);
        FREE_ALL(pre, dy, db0);
    }
}
END_TEST

START_TEST(elementwise_dropout_mask_is_identical)
{
    const float ps[] = {0.0f, 0.1f, 0.5f, 0.9f, 1.0f};
    const int64_t ns[] = {0, 1, 31, 1000003};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (size_t j = 0; j < sizeof ps / sizeof ps[0]; j++) {
            size_t n = (size_t)ns[i];
            float *x = random_floats(i * 10 + j, n, -3, 3);
            tbuf tx = tb_floats(x, n);
            uint64_t seed = 0x0123456789abcdefull * (j + 1) + i;
            for (int w = 0; w < 2; w++)
                OP_OK(w, OPS(w)->dropout(ST(w), F(tx, w), ns[i], ps[j], seed));
            char msg[64];
            snprintf(msg, sizeof msg, "dropout n=%lld p=%g", (long long)ns[i], (double)ps[j]);
            compare_equal(msg, &tx);
            tb_free(&tx);
            free(x);
        }
}
END_TEST

/* dropout_add: the dropout slot's mask and scale, then add's sum (or none),
 * so bit-identical to ref: with and without a residual, y apart from x and
 * in place over it, p <= 0 (x kept as it is), a -0 without a residual. */
START_TEST(elementwise_dropout_add)
{
    const float ps[] = {-0.5f, 0.0f, 0.1f, 0.5f, 0.999f};
    const int64_t ns[] = {0, 1, 31, 1000003};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (size_t j = 0; j < sizeof ps / sizeof ps[0]; j++)
            for (int with_residual = 0; with_residual < 2; with_residual++) {
                size_t n = (size_t)ns[i];
                float *x = random_floats(i * 10 + j + 500, n, -3, 3), *r = random_floats(i * 10 + j + 600, n, -1, 1);
                if (n > 2)
                    x[2] = -0.0f;
                tbuf tx = tb_floats(x, n), tr = tb_floats(r, n), ty = tb_floats(NULL, n);
                const uint64_t seed = 0x0123456789abcdefull * (j + 3) + i;
                for (int w = 0; w < 2; w++) {
                    OP_OK(w, OPS(w)->dropout_add(ST(w), F(tx, w), with_residual ? F(tr, w) : NULL, ns[i], ps[j], seed,
                                                 F(ty, w)));
                    OP_OK(w, OPS(w)->dropout_add(ST(w), F(tx, w), with_residual ? F(tr, w) : NULL, ns[i], ps[j], seed,
                                                 F(tx, w)));
                }
                char msg[96];
                snprintf(msg, sizeof msg, "dropout_add n=%lld p=%g residual=%d", (long long)ns[i], (double)ps[j],
                         with_residual);
                compare_equal(msg, &ty);
                compare_equal(msg, &tx); /* in place */
                if (n > 2 && !with_residual && ps[j] <= 0.0f)
                    ck_assert_msg(signbit(tb_get(&ty, GPU)[2]), "%s: -0 became +0", msg);
                TB_FREE(&tx, &tr, &ty);
                FREE_ALL(x, r);
            }
    float *y = NULL;
    OP_OK(GPU, OPS(GPU)->alloc(ST(GPU), 16 * sizeof(float), (void **)&y));
    ck_assert_int_eq(OPS(GPU)->dropout_add(ST(GPU), y, y + 8, 4, 0.5f, 1, y + 8), QAT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(OPS(GPU)->last_error(ST(GPU)), "alias"));
    OPS(GPU)->free(ST(GPU), y);
}
END_TEST

/* ---- rows ---- */

START_TEST(rows_layernorm)
{
    const shape more[] = {{70001, 3}, {9, 768}};
    for (size_t k = 0; k < N_SHAPES + 2; k++) {
        const shape *s = k < N_SHAPES ? &shapes[k] : &more[k - N_SHAPES];
        if (s->cols == 0)
            continue; /* 0 / 0: NaN statistics on both, nothing to compare */
        size_t n = (size_t)(s->rows * s->cols), c = (size_t)s->cols, r = (size_t)s->rows;
        float *x = random_floats(k + 21, n, -3, 5), *wt = random_floats(k + 22, c, 0.5f, 1.5f);
        float *b = random_floats(k + 23, c, -1, 1), *dy = random_floats(k + 24, n, -1, 1);
        float *dw0 = random_floats(k + 25, c, -1, 1), *db0 = random_floats(k + 26, c, -1, 1);
        tbuf tx = tb_floats(x, n), tw = tb_floats(wt, c), tbb = tb_floats(b, c), ty = tb_floats(NULL, n);
        tbuf tmean = tb_floats(NULL, r), trstd = tb_floats(NULL, r), tdy = tb_floats(dy, n), tdx = tb_floats(NULL, n);
        tbuf tdw = tb_floats(dw0, c), tdb = tb_floats(db0, c);
        for (int w = 0; w < 2; w++)
            OP_OK(w, OPS(w)->layernorm_fwd(ST(w), F(tx, w), F(tw, w), F(tbb, w), 1e-5f, s->rows, s->cols, F(ty, w),
                                           F(tmean, w), F(trstd, w)));
        compare_close(what("layernorm_fwd mean", s), &tmean, 1e-6, 1e-6);
        compare_close(what("layernorm_fwd rstd", s), &trstd, 1e-6, 0);
        compare_close(what("layernorm_fwd y", s), &ty, 1e-5, 1e-5);
        /* The backward from the ref's statistics on both, so only the kernel differs. */
        float *mean = tb_get(&tmean, REF), *rstd = tb_get(&trstd, REF);
        OP_OK(GPU, OPS(GPU)->upload(ST(GPU), tmean.dev[GPU], mean, r * sizeof(float)));
        OP_OK(GPU, OPS(GPU)->upload(ST(GPU), trstd.dev[GPU], rstd, r * sizeof(float)));
        for (int w = 0; w < 2; w++)
            OP_OK(w, OPS(w)->layernorm_bwd(ST(w), F(tdy, w), F(tx, w), F(tw, w), F(tmean, w), F(trstd, w), s->rows,
                                           s->cols, F(tdx, w), F(tdw, w), F(tdb, w)));
        compare_close(what("layernorm_bwd dx", s), &tdx, 1e-5, 1e-5);
        compare_close(what("layernorm_bwd dw (accumulated)", s), &tdw, 1e-5, 1e-5);
        compare_close(what("layernorm_bwd db (accumulated)", s), &tdb, 1e-5, 1e-5);
        TB_FREE(&tx, &tw, &tbb, &ty, &tmean, &trstd, &tdy, &tdx, &tdw, &tdb);
        FREE_ALL(x, wt, b, dy, dw0, db0);
    }
}
END_TEST

/* The LayerNorm feeding a BitNet activation quantizer, one kernel on the
 * device. Its error bound: y, mean and rstd are the device layernorm_fwd's
 * bit for bit (the same device functions), so against ref they carry
 * rows_layernorm's tolerances (double sums in another order than ref's
 * float lanes); yq is bit for bit ref's bitnet_act_fwd of the device's y
 * (max |y| is exact in any order, the quantizer's roundings explicit) and
 * the device's own bitnet_act_fwd of it. Against ref's yq, from ref's y, an
 * element may differ by one step max|y| / Qp where y * Qp / max|y| lies
 * within y's error of a rounding tie, and every element by the scale's
 * relative error (that of max|y|, 1e-5): |diff| <= step + 1e-5 (|yq| + 1). */
static void expect_within_a_step(const char *what, const float *y_ref, const float *yq_ref, const float *yq,
                                 int64_t rows, int64_t cols, int bits)
{
    const float qp = (float)((1 << (bits - 1)) - 1);
    for (int64_t r = 0; r < rows; r++) {
        float m = 1e-5f;
        for (int64_t c = 0; c < cols; c++)
            m = fmaxf(m, fabsf(y_ref[r * cols + c]));
        for (int64_t c = 0; c < cols; c++) {
            const int64_t i = r * cols + c;
            const double tol = m / qp + 1e-5 * (fabs((double)yq_ref[i]) + 1.0);
            ck_assert_msg(fabs((double)yq[i] - (double)yq_ref[i]) <= tol,
                          "%s: row %lld column %lld is %.9g, ref %.9g (one step %.3g)", what, (long long)r,
                          (long long)c, (double)yq[i], (double)yq_ref[i], (double)(m / qp));
        }
    }
}

START_TEST(rows_layernorm_bitnet_act)
{
    const shape more[] = {{70001, 3}, {9, 768}};
    const int bits_list[] = {2, 6, 8};
    for (size_t k = 0; k < N_SHAPES + 2; k++)
        for (size_t bi = 0; bi < sizeof bits_list / sizeof bits_list[0]; bi++)
            for (int symmetric = 0; symmetric < 2; symmetric++) {
                const shape *s = k < N_SHAPES ? &shapes[k] : &more[k - N_SHAPES];
                if (s->cols == 0)
                    continue; /* 0 / 0: NaN statistics on both, nothing to compare */
                const int bits = bits_list[bi];
                size_t n = (size_t)(s->rows * s->cols), c = (size_t)s->cols, r = (size_t)s->rows;
                float *x = random_floats(k * 7 + bi + 41, n, -3, 5), *wt = random_floats(k + 42, c, 0.5f, 1.5f);
                float *b = random_floats(k + 43, c, -1, 1);
                tbuf tx = tb_floats(x, n), tw = tb_floats(wt, c), tbb = tb_floats(b, c), ty = tb_floats(NULL, n);
                tbuf tyq = tb_floats(NULL, n), tmean = tb_floats(NULL, r), trstd = tb_floats(NULL, r);
                tbuf ty2 = tb_floats(NULL, n), tyq2 = tb_floats(NULL, n), tm2 = tb_floats(NULL, r);
                tbuf tr2 = tb_floats(NULL, r);
                for (int w = 0; w < 2; w++)
                    OP_OK(w, OPS(w)->layernorm_bitnet_act_fwd(ST(w), F(tx, w), F(tw, w), F(tbb, w), 1e-5f, s->rows,
                                                              s->cols, bits, symmetric, F(ty, w), F(tyq, w),
                                                              F(tmean, w), F(trstd, w)));
                compare_close(what("layernorm_bitnet_act_fwd mean", s), &tmean, 1e-6, 1e-6);
                compare_close(what("layernorm_bitnet_act_fwd rstd", s), &trstd, 1e-6, 0);
                compare_close(what("layernorm_bitnet_act_fwd y", s), &ty, 1e-5, 1e-5);
                const float *y_ref = tb_get(&ty, REF), *yq_ref = tb_get(&tyq, REF), *y = tb_get(&ty, GPU);
                expect_within_a_step(what("layernorm_bitnet_act_fwd yq", s), y_ref, yq_ref, tb_get(&tyq, GPU),
                                     s->rows, s->cols, bits);
                /* The device's unfused kernels on the same input: the same bits. */
                OP_OK(GPU, OPS(GPU)->layernorm_fwd(ST(GPU), F(tx, GPU), F(tw, GPU), F(tbb, GPU), 1e-5f, s->rows,
                                                   s->cols, F(ty2, GPU), F(tm2, GPU), F(tr2, GPU)));
                OP_OK(GPU, OPS(GPU)->bitnet_act_fwd(ST(GPU), F(ty2, GPU), s->rows, s->cols, bits, symmetric,
                                                    F(tyq2, GPU)));
                expect_equal(what("layernorm_bitnet_act_fwd y vs layernorm_fwd", s), tb_get(&ty2, GPU), y, n);
                expect_equal(what("layernorm_bitnet_act_fwd yq vs bitnet_act_fwd", s), tb_get(&tyq2, GPU),
                             tb_get(&tyq, GPU), n);
                expect_equal(what("layernorm_bitnet_act_fwd mean vs layernorm_fwd", s), tb_get(&tm2, GPU),
                             tb_get(&tmean, GPU), r);
                expect_equal(what("layernorm_bitnet_act_fwd rstd vs layernorm_fwd", s), tb_get(&tr2, GPU),
                             tb_get(&trstd, GPU), r);
                /* ref's quantizer on the device's y: the same codes and values. */
                OP_OK(REF, OPS(REF)->upload(ST(REF), ty2.dev[REF], y, n * sizeof(float)));
                OP_OK(REF, OPS(REF)->bitnet_act_fwd(ST(REF), F(ty2, REF), s->rows, s->cols, bits, symmetric,
                                                    F(tyq2, REF)));
                expect_equal(what("layernorm_bitnet_act_fwd yq vs ref's quantizer of its y", s), tb_get(&tyq2, REF),
                             tb_get(&tyq, GPU), n);
                /* y in place over x: the same bits. */
                OP_OK(GPU, OPS(GPU)->layernorm_bitnet_act_fwd(ST(GPU), F(tx, GPU), F(tw, GPU), F(tbb, GPU), 1e-5f,
                                                              s->rows, s->cols, bits, symmetric, F(tx, GPU),
                                                              F(tyq2, GPU), F(tm2, GPU), F(tr2, GPU)));
                expect_equal(what("layernorm_bitnet_act_fwd y in place", s), tb_get(&ty, GPU), tb_get(&tx, GPU), n);
                expect_equal(what("layernorm_bitnet_act_fwd yq after y in place", s), tb_get(&tyq, GPU),
                             tb_get(&tyq2, GPU), n);
                TB_FREE(&tx, &tw, &tbb, &ty, &tyq, &tmean, &trstd, &ty2, &tyq2, &tm2, &tr2);
                FREE_ALL(x, wt, b);
            }
}
END_TEST

START_TEST(rows_softmax)
{
    /* (batch, heads, lq, lk) */
    const int64_t dims[][4] = {{0, 2, 3, 4}, {1, 1, 1, 1}, {2, 3, 5, 7}, {3, 2, 17, 129}, {2, 1, 3, 1025},
                               {7, 1, 10001, 3}, {1, 2, 4, 0}};
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        int64_t B = dims[k][0], H = dims[k][1], Q = dims[k][2], K = dims[k][3];
        size_t n = (size_t)(B * H * Q * K);
        float *x = random_floats(k + 31, n, -8, 8), *dp = random_floats(k + 32, n, -1, 1);
        /* Key bias as the model builds it: 0 for tokens, a large negative for padding. */
        float *kb = malloc((size_t)(B * K + 1) * sizeof *kb);
        for (int64_t i = 0; i < B * K; i++)
            kb[i] = (i % 5 == 3 && i % K != 0) ? -3.4028235e38f : 0.0f; /* MASKED_SCORE */
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            tbuf ts = tb_floats(x, n), tkb = tb_floats(kb, (size_t)(B * K));
            for (int w = 0; w < 2; w++)
                OP_OK(w, OPS(w)->softmax_fwd(ST(w), F(ts, w), with_bias ? F(tkb, w) : NULL, B, H, Q, K));
            char msg[96];
            snprintf(msg, sizeof msg, "softmax_fwd %lldx%lldx%lldx%lld bias=%d", (long long)B, (long long)H,
                     (long long)Q, (long long)K, with_bias);
            compare_close(msg, &ts, 2e-6, 1e-9);
            /* Backward from the ref probabilities; ds written in place over dp. */
            float *p = tb_get(&ts, REF);
            OP_OK(GPU, OPS(GPU)->upload(ST(GPU), ts.dev[GPU], p, n * sizeof(float)));
            tbuf tdp = tb_floats(dp, n), tds = tb_floats(NULL, n);
            for (int w = 0; w < 2; w++) {
                OP_OK(w, OPS(w)->softmax_bwd(ST(w), F(tdp, w), F(ts, w), B * H * Q, K, F(tds, w)));
                OP_OK(w, OPS(w)->softmax_bwd(ST(w), F(tdp, w), F(ts, w), B * H * Q, K, F(tdp, w)));
            }
            compare_close("softmax_bwd", &tds, 1e-5, 3e-7); /* (float)dot may round apart by an ulp */
            compare_close("softmax_bwd in place", &tdp, 1e-5, 3e-7);
            TB_FREE(&ts, &tkb, &tdp, &tds);
        }
        FREE_ALL(x, dp, kb);
    }
}
END_TEST

/* The fused inference attention (attention_fwd) against ref's. The scores
 * are summed in the contract's order on both (over d ascending, each step
 * an fmaf), so they agree exactly; the probabilities then carry softmax_fwd's 2e-6
 * (device expf, a double sum against ref's float lanes); out is a convex
 * combination of v summed over keys ascending on both, so |err| <= (2e-6 +
 * lk 2^-24) max|v| (v in [-1, 1] here). Strided rows (ld > heads x dh),
 * cross-attention shapes (lq != lk), padded keys (the model's additive
 * mask, one sequence all padding), rows past the grid bound; more keys than
 * the kernel's shared scores hold are refused with a message. */
START_TEST(attention_fused_fwd)
{
    /* (batch, heads, lq, lk, head_dim) */
    const int64_t dims[][5] = {{1, 1, 1, 1, 1}, {2, 3, 5, 7, 8}, {3, 2, 17, 17, 16}, {2, 4, 9, 129, 64},
                               {2, 4, 8200, 3, 2}, {1, 2, 3, 0, 4}};
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        const int64_t B = dims[k][0], NH = dims[k][1], LQ = dims[k][2], LK = dims[k][3], DH = dims[k][4];
        const int64_t ld = NH * DH + 3; /* rows wider than the heads: a strided view */
        const size_t nq = (size_t)(B * LQ * ld), nk = (size_t)(B * LK * ld);
        float *q = random_floats(k + 61, nq, -1, 1), *kk = random_floats(k + 62, nk, -1, 1);
        float *v = random_floats(k + 63, nk, -1, 1), *kb = malloc((size_t)(B * LK + 1) * sizeof *kb);
        for (int64_t i = 0; i < B * LK; i++) /* the last sequence all padding when B > 1 */
            kb[i] = (B > 1 && i / LK == B - 1) || (i % 4 == 3 && i % LK != 0) ? -3.4028235e38f : 0.0f;
        tbuf tq = tb_floats(q, nq), tk = tb_floats(kk, nk), tv = tb_floats(v, nk);
        tbuf tkb = tb_floats(kb, (size_t)(B * LK)), to = tb_floats(NULL, nq);
        for (int with_mask = 0; with_mask < 2; with_mask++) {
            for (int w = 0; w < 2; w++) {
                const qat_attention_desc d = {.batch = B, .heads = NH, .lq = LQ, .lk = LK, .head_dim = DH,
                                              .scale = 1.0f / sqrtf((float)DH), .q = F(tq, w), .ldq = ld,
                                              .k = F(tk, w), .ldk = ld, .v = F(tv, w), .ldv = ld,
                                              .key_bias = with_mask ? F(tkb, w) : NULL, .out = F(to, w), .ldo = ld};
                if (LK == 0) { /* no keys: ref refuses the descriptor; the device kernel too */
                    ck_assert_int_ne(OPS(w)->attention_fwd(ST(w), &d), QAT_OK);
                    continue;
                }
                OP_OK(w, OPS(w)->attention_fwd(ST(w), &d));
            }
            char msg[128];
            snprintf(msg, sizeof msg, "attention_fwd %lldx%lldx%lldx%lldx%lld mask=%d", (long long)B, (long long)NH,
                     (long long)LQ, (long long)LK, (long long)DH, with_mask);
            if (LK > 0)
                compare_close(msg, &to, 0.0, 2e-6 + (double)LK / 16777216.0);
        }
        TB_FREE(&tq, &tk, &tv, &tkb, &to);
        FREE_ALL(q, kk, v, kb);
    }
    /* More keys than the shared scores hold: refused, with the limit. */
    float *x = NULL;
    OP_OK(GPU, OPS(GPU)->alloc(ST(GPU), 64 * sizeof(float), (void **)&x));
    const qat_attention_desc big = {.batch = 1, .heads = 1, .lq = 1, .lk = 12289, .head_dim = 1, .scale = 1.0f,
                                    .q = x, .ldq = 1, .k = x, .ldk = 1, .v = x, .ldv = 1, .out = x, .ldo = 1};
    ck_assert_int_eq(OPS(GPU)->attention_fwd(ST(GPU), &big), QAT_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(OPS(GPU)->last_error(ST(GPU)), "keys"));
    OPS(GPU)->free(ST(GPU), x);
}
END_TEST

/* The fused training attention (attention_train_fwd, attention_bwd) against
 * ref's, from the same inputs; each backend's backward reads its own
 * forward's out. The scores are the same bits on both (fmaf over d
 * ascending, times scale, plus the bias); the rest differs by rounding
 * only: the device's expf and its online softmax (one rescale per 16-key
 * tile) against ref's float lanes, and D = dout . out (float) against ref's
 * sum of dp p (double). Each element of out, dq, dk, dv is a sum of lk (or
 * lq) terms each within a few 1e-7 of ref's, so the tolerance is relative
 * to the terms' size, which the tensor's largest |value| stands for (a sum
 * that cancels is small next to its terms): |err| <= r (|ref| + max |ref|)
 * with r = 1e-5 for out and 2e-5 for the gradients. D's rounding (a few
 * 1e-7 of |dout| |out| <= keep_scale max |dout_i| max |v_j|, row norms of
 * a head) enters dq and dk through ds = p (dp - D) even where they cancel
 * to 0 (one key: ds = 0 exactly, and ref's double D gives that 0), so they
 * get 1e-6 of scale keep_scale max |dout_i| max |v_j| times max |k| (dq)
 * or max |q| (dk) on top. Shapes: head_dim 64 (BERT), 32
 * (MiniLM) and 24; 1, 37 and 130 rows (one partial 16-row tile, several,
 * not a multiple), cross shapes; every row stride wider than heads x
 * head_dim and each another, the columns past the heads NaN (neither
 * backend may write them, and every output element must be written); the
 * model's key mask (QAT_MASKED_SCORE) on every fourth key with one sequence
 * all padding (its rows' p is 1 / lk, which a backward from a log-sum-exp
 * alone would miss), and small biases on the others; dropout 0 and 0.1 (the mask is
 * ref's bit for bit). A second run of both slots must give the same bits. */
static float *nan_floats(size_t n)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
    return x;
}

static double max_abs(const float *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && fabs((double)x[i]) > m)
            m = fabs((double)x[i]);
    return m;
}

/* The largest L2 norm of a head's slice of a row (rows of stride ld). */
static double max_head_norm(const float *x, int64_t rows, int64_t ld, int64_t heads, int64_t head_dim)
{
    double m = 0.0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t h = 0; h < heads; h++) {
            double sq = 0.0;
            for (int64_t c = 0; c < head_dim; c++)
                sq += (double)x[r * ld + h * head_dim + c] * x[r * ld + h * head_dim + c];
            m = sqrt(sq) > m ? sqrt(sq) : m;
        }
    return m;
}

/* |got - want| <= rel (|want| + max |want|) + floor, NaN where ref has NaN. */
static void compare_scaled(const char *what, tbuf *b, double rel, double floor)
{
    float *want = tb_get(b, REF), *got = tb_get(b, GPU);
    expect_close(what, want, got, b->n, rel, rel * max_abs(want, b->n) + floor);
}

/* "<msg>: <part>", in what()'s buffer. */
static const char *part_label(const char *msg, const char *part)
{
    snprintf(label, sizeof label, "%s: %s", msg, part);
    return label;
}

/* A copy of the device's result, to compare with a second run's. */
static float *gpu_copy(tbuf *b)
{
    float *x = malloc(b->n * sizeof *x);
    memcpy(x, tb_get(b, GPU), b->n * sizeof *x);
    return x;
}

START_TEST(attention_fused_train)
{
    /* (batch, heads, lq, lk, head_dim) */
    const int64_t dims[][5] = {{2, 3, 1, 1, 64},    {3, 2, 37, 37, 64},  {2, 2, 130, 130, 64}, {2, 3, 1, 1, 32},
                               {3, 3, 37, 37, 32},  {2, 2, 130, 130, 32}, {3, 2, 1, 1, 24},    {2, 3, 37, 37, 24},
                               {3, 2, 130, 130, 24}, {2, 2, 17, 130, 64}, {2, 3, 130, 9, 24}};
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        const int64_t B = dims[k][0], NH = dims[k][1], LQ = dims[k][2], LK = dims[k][3], DH = dims[k][4];
        const int64_t W = NH * DH, ldq = W + 3, ldk = W + 5, ldv = W + 1, ldo = W + 2, lddo = W + 4, ldg = W + 7;
        const size_t nq = (size_t)(B * LQ * ldq), nk = (size_t)(B * LK * ldk), nv = (size_t)(B * LK * ldv);
        const size_t no = (size_t)(B * LQ * ldo), ndo = (size_t)(B * LQ * lddo);
        const size_t ngq = (size_t)(B * LQ * ldg), ngk = (size_t)(B * LK * ldg);
        /* q in [-3, 3]: scores of about unit size, so the rows' maxes move between key tiles. */
        float *q = random_floats(k + 71, nq, -3, 3), *kk = random_floats(k + 72, nk, -1, 1);
        float *v = random_floats(k + 73, nv, -1, 1), *dout = random_floats(k + 74, ndo, -1, 1);
        float *kb = malloc((size_t)(B * LK) * sizeof *kb);
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < LK; j++)
                kb[b * LK + j] = b == B - 1 || (j % 4 == 3) ? QAT_MASKED_SCORE : 0.5f * (float)(j % 3) - 0.5f;
        float *nan_q = nan_floats(ngq > no ? ngq : no), *nan_k = nan_floats(ngk);
        tbuf tq = tb_floats(q, nq), tk = tb_floats(kk, nk), tv = tb_floats(v, nv), tdo = tb_floats(dout, ndo);
        tbuf tkb = tb_floats(kb, (size_t)(B * LK));
        for (int variant = 0; variant < 4; variant++) {
            const int with_mask = variant & 1;
            const float dropout = variant & 2 ? 0.1f : 0.0f;
            tbuf to = tb_floats(nan_q, no), tdq = tb_floats(nan_q, ngq);
            tbuf tdk = tb_floats(nan_k, ngk), tdv = tb_floats(nan_k, ngk);
            qat_attention_train_desc d[2];
            for (int w = 0; w < 2; w++) {
                d[w] = (qat_attention_train_desc){
                    .a = {.batch = B, .heads = NH, .lq = LQ, .lk = LK, .head_dim = DH,
                          .scale = 1.0f / sqrtf((float)DH), .q = F(tq, w), .ldq = ldq, .k = F(tk, w), .ldk = ldk,
                          .v = F(tv, w), .ldv = ldv, .key_bias = with_mask ? F(tkb, w) : NULL, .out = F(to, w),
                          .ldo = ldo},
                    .dropout = dropout, .seed = 0x5eed0000ull + k, .dout = F(tdo, w), .lddo = lddo,
                    .dq = F(tdq, w), .dk = F(tdk, w), .dv = F(tdv, w), .ldg = ldg};
                OP_OK(w, OPS(w)->attention_train_fwd(ST(w), &d[w]));
                OP_OK(w, OPS(w)->attention_bwd(ST(w), &d[w]));
            }
            char msg[160];
            snprintf(msg, sizeof msg, "attention_train %lldx%lldx%lldx%lldx%lld mask=%d dropout=%g", (long long)B,
                     (long long)NH, (long long)LQ, (long long)LK, (long long)DH, with_mask, (double)dropout);
            const double ds_size = (double)d[REF].a.scale * (dropout > 0.0f ? 1.0 / (1.0 - dropout) : 1.0) *
                                   max_head_norm(dout, B * LQ, lddo, NH, DH) * max_head_norm(v, B * LK, ldv, NH, DH);
            compare_scaled(part_label(msg, "out"), &to, 1e-5, 0.0);
            compare_scaled(part_label(msg, "dq"), &tdq, 2e-5, 1e-6 * ds_size * max_abs(kk, nk));
            compare_scaled(part_label(msg, "dk"), &tdk, 2e-5, 1e-6 * ds_size * max_abs(q, nq));
            compare_scaled(part_label(msg, "dv"), &tdv, 2e-5, 0.0);
            float *out1 = gpu_copy(&to), *dq1 = gpu_copy(&tdq), *dk1 = gpu_copy(&tdk), *dv1 = gpu_copy(&tdv);
            OP_OK(GPU, OPS(GPU)->attention_train_fwd(ST(GPU), &d[GPU]));
            OP_OK(GPU, OPS(GPU)->attention_bwd(ST(GPU), &d[GPU]));
            expect_equal(part_label(msg, "out, run twice"), out1, tb_get(&to, GPU), no);
            expect_equal(part_label(msg, "dq, run twice"), dq1, tb_get(&tdq, GPU), ngq);
            expect_equal(part_label(msg, "dk, run twice"), dk1, tb_get(&tdk, GPU), ngk);
            expect_equal(part_label(msg, "dv, run twice"), dv1, tb_get(&tdv, GPU), ngk);
            FREE_ALL(out1, dq1, dk1, dv1);
            TB_FREE(&to, &tdq, &tdk, &tdv);
        }
        TB_FREE(&tq, &tk, &tv, &tdo, &tkb);
        FREE_ALL(q, kk, v, dout, kb, nan_q, nan_k);
    }
    /* Nothing to do: no sequences, or no query rows in the forward. */
    const qat_attention_train_desc none = {.a = {.batch = 0, .heads = 2, .lq = 3, .lk = 3, .head_dim = 8}};
    const qat_attention_train_desc no_rows = {.a = {.batch = 2, .heads = 2, .lq = 0, .lk = 3, .head_dim = 8}};
    for (int w = 0; w < 2; w++) {
        OP_OK(w, OPS(w)->attention_train_fwd(ST(w), &none));
        OP_OK(w, OPS(w)->attention_bwd(ST(w), &none));
        OP_OK(w, OPS(w)->attention_train_fwd(ST(w), &no_rows));
    }
    /* Refused with a message: dropout 1, a head wider than the kernels'
     * tiles, a backward without the forward's out (D reads it). */
    float *x = NULL;
    OP_OK(GPU, OPS(GPU)->alloc(ST(GPU), 64 * sizeof(float), (void **)&x));
    qat_attention_train_desc bad = {
        .a = {.batch = 1, .heads = 1, .lq = 1, .lk = 1, .head_dim = 8, .scale = 1.0f, .q = x, .ldq = 8, .k = x,
              .ldk = 8, .v = x, .ldv = 8, .out = x + 8, .ldo = 8},
        .dropout = 1.0f, .dout = x, .lddo = 8, .dq = x + 24, .dk = x + 32, .dv = x + 40, .ldg = 8};
    ck_assert_int_eq(OPS(GPU)->attention_train_fwd(ST(GPU), &bad), QAT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(OPS(GPU)->last_error(ST(GPU)), "dropout"));
    bad.dropout = 0.1f;
    bad.a.head_dim = bad.a.ldq = bad.a.ldk = bad.a.ldv = bad.a.ldo = bad.lddo = bad.ldg = 129;
    ck_assert_int_eq(OPS(GPU)->attention_train_fwd(ST(GPU), &bad), QAT_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(OPS(GPU)->last_error(ST(GPU)), "head_dim"));
    bad.a.head_dim = bad.a.ldq = bad.a.ldk = bad.a.ldv = bad.a.ldo = bad.lddo = bad.ldg = 8;
    bad.a.out = NULL;
    ck_assert_int_eq(OPS(GPU)->attention_bwd(ST(GPU), &bad), QAT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(OPS(GPU)->last_error(ST(GPU)), "NULL q, k, v or out"));
    OPS(GPU)->free(ST(GPU), x);
}
END_TEST

/* embedding_bwd's contract (backends/cuda/cuda_rows.cu): the sorted positions are cut in tiles of 128; a run of
 * equal ids with no tile boundary strictly inside it is summed in ref's order (bit-identical to ref); a longer
 * ("long") run is summed per tile in double and rounded once, so it must match the exact sum to one rounding. The
 * table starts at `table`; `want` is ref's result, `got` the GPU's. Returns how many rows took the long path. */
enum { EMBED_TILE = 128 };
static int64_t check_embedding_bwd(const char *what, const float *table, const float *dy, const int32_t *ids,
                                   int64_t n, int64_t dim, int64_t vocab, const float *want, const float *got)
{
    int64_t *count = calloc((size_t)vocab + 1, sizeof *count), long_rows = 0;
    for (int64_t i = 0; i < n; i++)
        count[ids[i] + 1]++;
    double *exact = malloc((size_t)(dim ? dim : 1) * sizeof *exact), *mag = malloc((size_t)(dim ? dim : 1) * sizeof *mag);
    int64_t start = 0; /* the run's first position in the stably sorted ids */
    for (int64_t r = 0; r < vocab; r++) {
        const int64_t len = count[r + 1];
        const int is_long = len > 0 && (start / EMBED_TILE + 1) * EMBED_TILE < start + len;
        long_rows += is_long;
        const float *w = want + r * dim, *g = got + r * dim;
        if (!is_long) {
            for (int64_t c = 0; c < dim; c++)
                ck_assert_msg(w[c] == g[c], "%s: row %lld (run of %lld inside a tile) col %lld: %.9g, ref %.9g", what,
                              (long long)r, (long long)len, (long long)c, (double)g[c], (double)w[c]);
        } else {
            for (int64_t c = 0; c < dim; c++)
                exact[c] = table[r * dim + c], mag[c] = fabs(exact[c]);
            for (int64_t i = 0; i < n; i++)
                if (ids[i] == r)
                    for (int64_t c = 0; c < dim; c++)
                        exact[c] += dy[i * dim + c], mag[c] += fabs(dy[i * dim + c]);
            for (int64_t c = 0; c < dim; c++) {
                /* one float rounding of a double sum (its own error ~ len * 2^-53 * mag) */
                const double tol = 0x1p-24 * fabs(exact[c]) + 1e-10 * mag[c] + 1e-30;
                ck_assert_msg(fabs((double)g[c] - exact[c]) <= tol,
                              "%s: row %lld (long run of %lld) col %lld: %.9g, exact %.12g, ref %.9g", what,
                              (long long)r, (long long)len, (long long)c, (double)g[c], exact[c], (double)w[c]);
                /* and ref, a float running sum, within its own bound */
                ck_assert_msg(fabs((double)w[c] - exact[c]) <= (double)len * 0x1p-23 * mag[c] + 1e-30,
                              "%s: ref row %lld col %lld off its float bound", what, (long long)r, (long long)c);
            }
        }
        start += len;
    }
    FREE_ALL(exact, mag, count);
    return long_rows;
}

START_TEST(rows_embeddings)
{
    /* (tokens, dim, vocab): repeats galore with a small vocab, one-row tables. */
    const int64_t dims[][3] = {{0, 4, 3}, {1, 1, 1}, {13, 7, 5}, {257, 33, 2}, {1000, 65, 1}, {70001, 3, 11},
                               {300, 769, 1000}, {5, 0, 3}};
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        int64_t N = dims[k][0], D = dims[k][1], V = dims[k][2];
        char msg[96];
        snprintf(msg, sizeof msg, "n=%lld dim=%lld vocab=%lld", (long long)N, (long long)D, (long long)V);
        float *table = random_floats(k + 41, (size_t)(V * D), -1, 1), *dy = random_floats(k + 42, (size_t)(N * D), -1, 1);
        float *out0 = random_floats(k + 43, (size_t)(N * D), -1, 1);
        int32_t *ids = random_ids(k + 44, (size_t)N, V);
        tbuf ttab = tb_floats(table, (size_t)(V * D)), tids = tb_ints(ids, (size_t)N);
        tbuf tout = tb_floats(out0, (size_t)(N * D)), tacc = tb_floats(out0, (size_t)(N * D));
        tbuf tdy = tb_floats(dy, (size_t)(N * D)), tdt = tb_floats(table, (size_t)(V * D));
        for (int w = 0; w < 2; w++) {
            OP_OK(w, OPS(w)->embedding_fwd(ST(w), F(ttab, w), I(tids, w), N, D, F(tout, w), 0));
            OP_OK(w, OPS(w)->embedding_fwd(ST(w), F(ttab, w), I(tids, w), N, D, F(tacc, w), 1));
            /* dtable starts non-zero: the scatter accumulates. */
            OP_OK(w, OPS(w)->embedding_bwd(ST(w), F(tdy, w), I(tids, w), N, D, V, F(tdt, w)));
        }
        compare_equal(msg, &tout);
        compare_equal(msg, &tacc);
        /* Runs inside a tile: ref's order of float additions (bit-identical); long runs: one rounding. */
        check_embedding_bwd(msg, table, dy, ids, N, D, V, tb_get(&tdt, REF), tb_get(&tdt, GPU));
        /* Deterministic: a second scatter on the GPU lands on the same bits. */
        float *first = malloc((size_t)(V * D + 1) * sizeof *first);
        memcpy(first, tb_get(&tdt, GPU), (size_t)(V * D) * sizeof *first);
        OP_OK(GPU, OPS(GPU)->upload(ST(GPU), tdt.dev[GPU], table, (size_t)(V * D) * sizeof(float)));
        OP_OK(GPU, OPS(GPU)->embedding_bwd(ST(GPU), F(tdy, GPU), I(tids, GPU), N, D, V, F(tdt, GPU)));
        expect_equal("embedding_bwd run twice", first, tb_get(&tdt, GPU), (size_t)(V * D));
        /* Padding rows zeroed where ids == id. */
        for (int w = 0; w < 2; w++)
            OP_OK(w, OPS(w)->zero_rows_where(ST(w), F(tdy, w), I(tids, w), N, D, V > 1 ? 1 : 0));
        compare_equal(msg, &tdy);
        TB_FREE(&ttab, &tids, &tout, &tacc, &tdy, &tdt);
        FREE_ALL(first, table, dy, out0, ids);
    }
}
END_TEST

/* The id distribution of a real batch: a one-row token-type table, a padding id taking 40 % of the tokens, a
 * skewed (Zipf-like) vocabulary; odd sizes so runs start anywhere in a tile. Long runs are reduced per tile in
 * parallel (checked against the exact sum), short ones must stay bit-identical to ref; twice gives the same bits. */
START_TEST(rows_embedding_bwd_skewed)
{
    const int64_t dims[][3] = {{49157, 65, 1}, {20011, 33, 997}, {129, 5, 2}, {385, 7, 3}};
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        const int64_t N = dims[k][0], D = dims[k][1], V = dims[k][2];
        char msg[96];
        snprintf(msg, sizeof msg, "skewed n=%lld dim=%lld vocab=%lld", (long long)N, (long long)D, (long long)V);
        float *table = random_floats(k + 61, (size_t)(V * D), -1, 1), *dy = random_floats(k + 62, (size_t)(N * D), -1, 1);
        float *u = random_floats(k + 63, (size_t)N, 0, 1);
        int32_t *ids = malloc((size_t)N * sizeof *ids);
        for (int64_t i = 0; i < N; i++) {
            const int64_t zipf = (int64_t)((double)V * (double)u[i] * (double)u[i] * (double)u[i]);
            ids[i] = (int32_t)(u[i] < 0.4f ? (V > 1 ? 1 : 0) : (zipf < V ? zipf : V - 1));
        }
        tbuf tids = tb_ints(ids, (size_t)N), tdy = tb_floats(dy, (size_t)(N * D)), tdt = tb_floats(table, (size_t)(V * D));
        for (int w = 0; w < 2; w++)
            OP_OK(w, OPS(w)->embedding_bwd(ST(w), F(tdy, w), I(tids, w), N, D, V, F(tdt, w)));
        const int64_t long_rows = check_embedding_bwd(msg, table, dy, ids, N, D, V, tb_get(&tdt, REF), tb_get(&tdt, GPU));
        ck_assert_msg(long_rows > 0, "%s: no run took the tiled path", msg);
        float *first = malloc((size_t)(V * D) * sizeof *first);
        memcpy(first, tb_get(&tdt, GPU), (size_t)(V * D) * sizeof *first);
        OP_OK(GPU, OPS(GPU)->upload(ST(GPU), tdt.dev[GPU], table, (size_t)(V * D) * sizeof(float)));
        OP_OK(GPU, OPS(GPU)->embedding_bwd(ST(GPU), F(tdy, GPU), I(tids, GPU), N, D, V, F(tdt, GPU)));
        expect_equal("embedding_bwd (skewed) run twice", first, tb_get(&tdt, GPU), (size_t)(V * D));
        TB_FREE(&tids, &tdy, &tdt);
        FREE_ALL(first, table, dy, u, ids);
    }
}
END_TEST

/* ---- loss ---- */

START_TEST(loss_cross_entropy)
{
    const int64_t dims[][2] = {{0, 5}, {1, 1}, {3, 7}, {17, 33}, {9, 32005}, {70001, 3}, {4, 0}};
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        int64_t R = dims[k][0], C = dims[k][1];
        size_t n = (size_t)(R * C);
        float *z = random_floats(k + 51, n, -10, 10);
        int32_t *labels = random_ids(k + 52, (size_t)R, C > 0 ? C : 1);
        int64_t used = 0;
        for (int64_t r = 0; r < R; r++) {
            if (r % 3 == 1 || C == 0)
                labels[r] = -100;
            used += labels[r] >= 0;
        }
        float scale = used ? 1.0f / (float)used : 0.0f;
        tbuf tz = tb_floats(z, n), tl = tb_ints(labels, (size_t)R), tloss = tb_floats(NULL, 1);
        tbuf tloss2 = tb_floats(NULL, 1), tdz = tb_floats(z, n); /* dlogits starts as garbage */
        for (int w = 0; w < 2; w++) {
            OP_OK(w, OPS(w)->fill(ST(w), F(tloss, w), 1, 123.0f));
            OP_OK(w, OPS(w)->cross_entropy(ST(w), F(tz, w), I(tl, w), R, C, scale, F(tloss, w), F(tdz, w)));
            OP_OK(w, OPS(w)->cross_entropy(ST(w), F(tz, w), I(tl, w), R, C, scale, F(tloss2, w), NULL));
        }
        char msg[96];
        snprintf(msg, sizeof msg, "cross_entropy %lldx%lld", (long long)R, (long long)C);
        compare_close(msg, &tloss, 1e-6, 1e-7);
        compare_close(msg, &tloss2, 1e-6, 1e-7);
        compare_close(msg, &tdz, 1e-5, 1e-9);
        TB_FREE(&tz, &tl, &tloss, &tloss2, &tdz);
        FREE_ALL(z, labels);
    }
}
END_TEST

/* ---- quantizers ---- */

START_TEST(quant_abs_mean)
{
    for (size_t k = 0; k < N_SHAPES; k++) {
        const shape *s = &shapes[k];
        if (s->cols == 0)
            continue;
        size_t n = (size_t)(s->rows * s->cols);
        float *x = random_floats(k + 61, n, -2, 1);
        tbuf tx = tb_floats(x, n), tr = tb_floats(NULL, (size_t)s->rows), t1 = tb_floats(NULL, 1);
        for (int w = 0; w < 2; w++) {
            OP_OK(w, OPS(w)->abs_mean(ST(w), F(tx, w), s->rows, s->cols, F(tr, w)));
            if (n)
                OP_OK(w, OPS(w)->abs_mean(ST(w), F(tx, w), 1, (int64_t)n, F(t1, w)));
        }
        compare_close(what("abs_mean per row", s), &tr, 2e-7, 0);
        compare_close(what("abs_mean whole", s), &t1, 2e-7, 0);
        TB_FREE(&tx, &tr, &t1);
        free(x);
    }
}
END_TEST

START_TEST(quant_lsq)
{
    const int bits_list[] = {2, 4, 6, 8};
    const int64_t ns[] = {0, 1, 33, 4097, 1000003};
    for (size_t b = 0; b < sizeof bits_list / sizeof bits_list[0]; b++)
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            int bits = bits_list[b];
            size_t n = (size_t)ns[k];
            float qp = (float)((1 << (bits - 1)) - 1);
            /* Step 0.25 (x / s exact) and every 4th value on a half-integer
             * multiple of it: round half to even is exercised. */
            float step = 0.25f;
            float *x = random_floats(b * 10 + k, n, -1.3f * qp * step, 1.3f * qp * step);
            for (size_t i = 0; i < n; i += 4)
                x[i] = ((float)(int)(x[i] / step) + 0.5f) * step;
            float *dy = random_floats(b * 10 + k + 5, n, -1, 1);
            tbuf tx = tb_floats(x, n), ts = tb_floats(&step, 1), ty = tb_floats(NULL, n), tdy = tb_floats(dy, n);
            tbuf tdx = tb_floats(NULL, n);
            float dstep0 = 0.125f;
            tbuf tds = tb_floats(&dstep0, 1);
            const float grad_scale = 1.0f / sqrtf((float)(n ? n : 1) * qp);
            for (int w = 0; w < 2; w++) {
                qat_lsq_desc d = lsq_desc(F(ts, w), NULL, 1, (int64_t)n, 0, bits);
                OP_OK(w, OPS(w)->lsq_fwd(ST(w), &d, F(tx, w), F(ty, w)));
                OP_OK(w, OPS(w)->lsq_bwd(ST(w), &d, F(tdy, w), F(tx, w), grad_scale, F(tdx, w), F(tds, w), NULL));
                /* In place (dx aliases dy), accumulating into dstep again. */
                OP_OK(w, OPS(w)->lsq_bwd(ST(w), &d, F(tdy, w), F(tx, w), grad_scale, F(tdy, w), F(tds, w), NULL));
            }
            char msg[64];
            snprintf(msg, sizeof msg, "lsq bits=%d n=%zu", bits, n);
            compare_equal(msg, &ty);
            compare_equal(msg, &tdx);
            compare_equal(msg, &tdy);
            compare_close(msg, &tds, 1e-6, 1e-7);
            /* A non-power-of-two step: the division rounds the same way. */
            float odd_step = 0.0371f;
            OP_OK(REF, OPS(REF)->upload(ST(REF), ts.dev[REF], &odd_step, sizeof odd_step));
            OP_OK(GPU, OPS(GPU)->upload(ST(GPU), ts.dev[GPU], &odd_step, sizeof odd_step));
            for (int w = 0; w < 2; w++) {
                qat_lsq_desc d = lsq_desc(F(ts, w), NULL, 1, (int64_t)n, 0, bits);
                OP_OK(w, OPS(w)->lsq_fwd(ST(w), &d, F(tx, w), F(ty, w)));
            }
            compare_equal(msg, &ty);
            TB_FREE(&tx, &ts, &ty, &tdy, &tdx, &tds);
            FREE_ALL(x, dy);
        }
}
END_TEST

START_TEST(quant_lsq_step_gradient_is_deterministic)
{
    size_t n = 3000017;
    float *x = random_floats(71, n, -2, 2), *dy = random_floats(72, n, -1, 1);
    float step = 0.1f, zero = 0.0f, first = 0.0f, again = 0.0f;
    tbuf tx = tb_floats(x, n), tdy = tb_floats(dy, n), ts = tb_floats(&step, 1), tdx = tb_floats(NULL, n);
    tbuf tds = tb_floats(&zero, 1);
    for (int rep = 0; rep < 2; rep++) {
        OP_OK(GPU, OPS(GPU)->upload(ST(GPU), tds.dev[GPU], &zero, sizeof zero));
        qat_lsq_desc d = lsq_desc(F(ts, GPU), NULL, 1, (int64_t)n, 0, 4);
        OP_OK(GPU, OPS(GPU)->lsq_bwd(ST(GPU), &d, F(tdy, GPU), F(tx, GPU), 1e-3f, F(tdx, GPU), F(tds, GPU), NULL));
        OP_OK(GPU, OPS(GPU)->download(ST(GPU), rep ? &again : &first, tds.dev[GPU], sizeof(float)));
    }
    ck_assert_msg(first == again, "lsq_bwd step gradient %.9g then %.9g", (double)first, (double)again);
    TB_FREE(&tx, &tdy, &ts, &tdx, &tds);
    FREE_ALL(x, dy);
}
END_TEST

/* Per-row steps (per-channel LSQ weights) and LSQ+ (offset, unsigned
 * range), with the seed code's s + 1e-8 divisor too: GPU == ref. */
START_TEST(quant_lsq_rows_and_offsets)
{
    const int64_t rows = 37, cols = 53, n = rows * cols;
    float *x = random_floats(81, (size_t)n, -1.5f, 1.5f), *dy = random_floats(82, (size_t)n, -1, 1);
    float *steps = random_floats(83, (size_t)rows, 0.02f, 0.2f);
    float offset = -0.3f, zeros[64] = {0};
    for (int variant = 0; variant < 3; variant++) {
        const int per_row = variant == 0, plus = variant == 1;
        tbuf tx = tb_floats(x, (size_t)n), tdy = tb_floats(dy, (size_t)n), ts = tb_floats(steps, (size_t)rows);
        tbuf to = tb_floats(&offset, 1), ty = tb_floats(NULL, (size_t)n), tdx = tb_floats(NULL, (size_t)n);
        tbuf tds = tb_floats(zeros, (size_t)rows), tdo = tb_floats(zeros, 1);
        for (int w = 0; w < 2; w++) {
            qat_lsq_desc d = lsq_desc(F(ts, w), plus ? F(to, w) : NULL, rows, cols, per_row, plus ? 4 : 3);
            d.step_eps = variant == 2 ? 1e-8f : 0.0f;
            OP_OK(w, OPS(w)->lsq_fwd(ST(w), &d, F(tx, w), F(ty, w)));
            OP_OK(w, OPS(w)->lsq_bwd(ST(w), &d, F(tdy, w), F(tx, w), 0.01f, F(tdx, w), F(tds, w), F(tdo, w)));
        }
        const char *msg = per_row ? "lsq per row" : plus ? "lsq+" : "lsq step_eps";
        compare_equal(msg, &ty);
        compare_equal(msg, &tdx);
        compare_close(msg, &tds, 1e-6, 1e-7);
        compare_close(msg, &tdo, 1e-6, 1e-7);
        TB_FREE(&tx, &tdy, &ts, &to, &ty, &tdx, &tds, &tdo);
    }
    FREE_ALL(x, dy, steps);
}
END_TEST

START_TEST(quant_bitnet_weights)
{
    for (size_t k = 0; k < N_SHAPES; k++) {
        const shape *s = &shapes[k];
        size_t n = (size_t)(s->rows * s->cols), r = (size_t)s->rows;
        float *x = random_floats(k + 81, n, -0.2f, 0.2f);
        for (int per_row = 0; per_row < 2; per_row++) {
            size_t ng = per_row ? r : 1;
            tbuf tw = tb_floats(x, n), tg = tb_floats(NULL, ng), ty = tb_floats(NULL, n);
            for (int w = 0; w < 2; w++)
                OP_OK(w, OPS(w)->bitnet_weight_fwd(ST(w), F(tw, w), s->rows, s->cols, per_row, F(tg, w), F(ty, w)));
            compare_close(what(per_row ? "bitnet_weight gamma per row" : "bitnet_weight gamma", s), &tg, 2e-7, 0);
            /* Codes and values from the GPU's gamma are exactly the ref formula. */
            const float *g = tb_get(&tg, GPU), *y = tb_get(&ty, GPU);
            for (size_t i = 0; i < n; i++) {
                float gi = per_row ? g[i / (size_t)s->cols] : g[0];
                float q = nearbyintf(x[i] / gi);
                q = q < -1.0f ? -1.0f : (q > 1.0f ? 1.0f : q);
                ck_assert_msg(y[i] == q * gi, "%s: element %zu is %.9g, expected %.9g",
                              what("bitnet_weight_fwd", s), i, (double)y[i], (double)(q * gi));
            }
            TB_FREE(&tw, &tg, &ty);
        }
        free(x);
    }
}
END_TEST

START_TEST(quant_bitnet_activations)
{
    const int bits_list[] = {2, 4, 6, 8};
    for (size_t k = 0; k < N_SHAPES; k++)
        for (size_t b = 0; b < sizeof bits_list / sizeof bits_list[0]; b++)
            for (int symmetric = 0; symmetric < 2; symmetric++) {
                const shape *s = &shapes[k];
                size_t n = (size_t)(s->rows * s->cols);
                float *x = random_floats(k * 31 + b, n, -4, 3);
                if (n > 4)
                    x[3] = 0.0f;
                tbuf tx = tb_floats(x, n), ty = tb_floats(NULL, n);
                for (int w = 0; w < 2; w++) {
                    OP_OK(w, OPS(w)->bitnet_act_fwd(ST(w), F(tx, w), s->rows, s->cols, bits_list[b], symmetric,
                                                    F(ty, w)));
                }
                compare_equal(what("bitnet_act_fwd", s), &ty);
                /* In place (y aliases x). */
                for (int w = 0; w < 2; w++)
                    OP_OK(w, OPS(w)->bitnet_act_fwd(ST(w), F(tx, w), s->rows, s->cols, bits_list[b], symmetric,
                                                    F(tx, w)));
                compare_equal(what("bitnet_act_fwd in place", s), &tx);
                TB_FREE(&tx, &ty);
                free(x);
            }
}
END_TEST

/* ---- GEMM under each precision policy ---- */

/* ---- the optimizer step ---- */

/* Tensors of odd sizes laid out as a model's (padded to 16 floats, the
 * padding NaN: no kernel may read it), half with weight decay. The norm
 * agrees to rounding; given the same clip coefficient (ref's, uploaded to
 * both) three AdamW updates are bit-identical in parameters, gradients and
 * both moments; a non-finite check value skips the update on both. */
START_TEST(optim_scale_norm_adamw)
{
    const int64_t sizes[] = {1, 7, 769, 4097, 70001, 33};
    enum { T = sizeof sizes / sizeof sizes[0] };
    int64_t bounds[2 * T], total = 0;
    uint8_t decay[T];
    for (int t = 0; t < T; t++) {
        bounds[2 * t] = total;
        bounds[2 * t + 1] = total + sizes[t];
        decay[t] = (uint8_t)(t % 2);
        total += (sizes[t] + 15) / 16 * 16;
    }
    float *p0 = random_floats(71, (size_t)total, -1, 1), *g0 = random_floats(72, (size_t)total, -3, 3);
    for (int t = 0; t < T; t++)
        for (int64_t i = bounds[2 * t + 1]; i < (t + 1 < T ? bounds[2 * t + 2] : total); i++)
            g0[i] = NAN;
    tbuf tbnd = tb_make(bounds, 2 * T, sizeof(int64_t)), tdec = tb_make(decay, T, 1);
    tbuf tp = tb_floats(p0, (size_t)total), tg = tb_floats(g0, (size_t)total);
    tbuf tm = tb_floats(NULL, (size_t)total), tv = tb_floats(NULL, (size_t)total), tn = tb_floats(NULL, 2);
    tbuf tcoef = tb_floats(NULL, 1), tbad = tb_floats((const float[]){NAN}, 1);
    qat_segments seg[2];
    for (int w = 0; w < 2; w++)
        seg[w] = (qat_segments){T, (const int64_t *)tbnd.dev[w], (const uint8_t *)tdec.dev[w]};
    for (int w = 0; w < 2; w++)
        OP_OK(w, OPS(w)->scale(ST(w), F(tg, w), total, 0.5f, F(tg, w)));
    compare_equal("scale (in place; NaN padding stays NaN)", &tg);
    for (int step = 1; step <= 3; step++) {
        for (int w = 0; w < 2; w++) {
            if (step > 1) /* clipped to norm 1 by the last step: make it clip again */
                OP_OK(w, OPS(w)->scale(ST(w), F(tg, w), total, 3.0f, F(tg, w)));
            OP_OK(w, OPS(w)->grad_norm(ST(w), &seg[w], F(tg, w), 1.0f, F(tn, w)));
        }
        compare_close("grad_norm and clip coefficient", &tn, 1e-6, 0);
        float coef = tb_get(&tn, REF)[1];
        ck_assert(coef < 1.0f); /* these gradients clip */
        qat_adamw_desc d = {.decay = 1.0f - 1e-3f * 0.01f, .b1 = 0.9f, .one_minus_b1 = 0.1f, .b2 = 0.98f,
                            .one_minus_b2 = 0.02f, .neg_step_size = -1e-3f / (1.0f - powf(0.9f, (float)step)),
                            .bc2_sqrt = sqrtf(1.0f - powf(0.98f, (float)step)), .eps = 1e-8f};
        for (int w = 0; w < 2; w++) {
            OP_OK(w, OPS(w)->upload(ST(w), tcoef.dev[w], &coef, sizeof coef));
            d.scale = F(tcoef, w);
            d.check = F(tn, w);
            d.check_count = 1;
            OP_OK(w, OPS(w)->adamw(ST(w), &d, &seg[w], F(tp, w), F(tg, w), F(tm, w), F(tv, w)));
        }
        compare_equal("adamw param", &tp);
        compare_equal("adamw grad (clipped)", &tg);
        compare_equal("adamw exp_avg", &tm);
        compare_equal("adamw exp_avg_sq", &tv);
    }
    float *before = malloc((size_t)total * sizeof *before);
    memcpy(before, tb_get(&tp, GPU), (size_t)total * sizeof *before);
    qat_adamw_desc skip = {.decay = 1, .b1 = 0.9f, .one_minus_b1 = 0.1f, .b2 = 0.98f, .one_minus_b2 = 0.02f,
                           .neg_step_size = -1.0f, .bc2_sqrt = 1, .eps = 1e-8f, .check_count = 1};
    for (int w = 0; w < 2; w++) {
        skip.check = F(tbad, w);
        OP_OK(w, OPS(w)->adamw(ST(w), &skip, &seg[w], F(tp, w), F(tg, w), F(tm, w), F(tv, w)));
    }
    expect_equal("adamw skipped on a NaN check", before, tb_get(&tp, GPU), (size_t)total);
    compare_equal("adamw skipped on both", &tp);
    free(before);
    TB_FREE(&tbnd, &tdec, &tp, &tg, &tm, &tv, &tn, &tcoef, &tbad);
    FREE_ALL(p0, g0);
}
END_TEST

static void gemm_policy(const char *precision, double rtol)
{
    teardown();
    open_backends(precision);
    const int64_t sh[][4] = {{1, 1, 1, 1}, {3, 5, 7, 1}, {17, 33, 65, 1}, {31, 47, 13, 5}, {128, 96, 768, 3},
                             {9, 9, 0, 1}};
    for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++)
        for (int t = 0; t < 4; t++) {
            int ta = t & 1, tb = t >> 1;
            int64_t m = sh[k][0], n = sh[k][1], kk = sh[k][2], batch = sh[k][3];
            int64_t lda = (ta ? m : kk) + 1, ldb = (tb ? kk : n) + 2, ldc = n + 1;
            int64_t sa = (ta ? kk : m) * lda, sb = (tb ? n : kk) * ldb, sc = m * ldc;
            size_t na = (size_t)(sa * batch + 1), nb = (size_t)(sb * batch + 1), nc = (size_t)(sc * batch);
            float *a = random_floats(k * 4 + t, na, -1, 1), *b = random_floats(k * 4 + t + 99, nb, -1, 1);
            float *c = random_floats(k * 4 + t + 199, nc, -1, 1);
            tbuf tA = tb_floats(a, na), tB = tb_floats(b, nb), tC = tb_floats(c, nc);
            for (int w = 0; w < 2; w++) {
                qat_gemm_desc d = {ta, tb, m, n, kk, 0.75f, 0.5f, F(tA, w), lda, sa, F(tB, w), ldb, sb,
                                   F(tC, w), ldc, sc, batch};
                OP_OK(w, OPS(w)->gemm(ST(w), &d));
            }
            /* Tolerance from the magnitude sum |a||b| of each output. */
            const float *want = tb_get(&tC, REF), *got = tb_get(&tC, GPU);
            for (int64_t bi = 0; bi < batch; bi++)
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++) {
                        double mag = 0.0;
                        for (int64_t p = 0; p < kk; p++) {
                            double av = ta ? a[bi * sa + p * lda + i] : a[bi * sa + i * lda + p];
                            double bv = tb ? b[bi * sb + j * ldb + p] : b[bi * sb + p * ldb + j];
                            mag += fabs(av * bv);
                        }
                        size_t at = (size_t)(bi * sc + i * ldc + j);
                        double tol = rtol * (0.75 * mag + 0.5 * fabs(c[at])) + 1e-6;
                        ck_assert_msg(fabs((double)got[at] - want[at]) <= tol,
                                      "gemm %s m=%lld n=%lld k=%lld ta=%d tb=%d at %zu: %g vs ref %g", precision,
                                      (long long)m, (long long)n, (long long)kk, ta, tb, at, (double)got[at],
                                      (double)want[at]);
                    }
            /* Padding (ldc > n) untouched. */
            for (size_t i = 0; i < nc; i++)
                if ((int64_t)(i % (size_t)ldc) >= n)
                    ck_assert_msg(got[i] == c[i], "gemm %s wrote padding at %zu", precision, i);
            TB_FREE(&tA, &tB, &tC);
            FREE_ALL(a, b, c);
        }
}

START_TEST(gemm_fp32)
{
    gemm_policy("fp32", 1e-5);
}
END_TEST

START_TEST(gemm_tf32)
{
    gemm_policy("tf32", 2e-3); /* 10-bit mantissa inputs */
}
END_TEST

START_TEST(gemm_bf16)
{
    gemm_policy("bf16", 1.6e-2); /* 7-bit mantissa inputs, fp32 accumulation */
}
END_TEST

/* QAT_CTX_PRECISION reaches the backend: the context reports the policy the
 * environment gave create(), and a GEMM after setting the policy on the
 * context is bit-identical to one on a context created with that policy,
 * for every pair of policies (a bf16 or tf32 GEMM of these inputs differs
 * from fp32, so the setting cannot be a no-op). */
static void policy_gemm(int set_to, float *out, int64_t m, int64_t n, int64_t k, const float *a, const float *b)
{
    tbuf tA = tb_floats(a, (size_t)(m * k)), tB = tb_floats(b, (size_t)(k * n)), tC = tb_floats(NULL, (size_t)(m * n));
    if (set_to >= 0)
        QAT_ASSERT_OK(qat_context_set_int(be[GPU].ctx, QAT_CTX_PRECISION, set_to));
    qat_gemm_desc d = {0, 0, m, n, k, 1.0f, 0.0f, F(tA, GPU), k, 0, F(tB, GPU), n, 0, F(tC, GPU), n, 0, 1};
    OP_OK(GPU, OPS(GPU)->gemm(ST(GPU), &d));
    memcpy(out, tb_get(&tC, GPU), (size_t)(m * n) * sizeof *out);
    TB_FREE(&tA, &tB, &tC);
}

START_TEST(gemm_policy_from_context)
{
    const char *names[] = {"fp32", "tf32", "bf16"};
    const int64_t m = 33, n = 65, k = 257;
    float *a = random_floats(501, (size_t)(m * k), -1, 1), *b = random_floats(502, (size_t)(k * n), -1, 1);
    float *by_env[3], *by_ctx = malloc((size_t)(m * n) * sizeof *by_ctx);
    for (int p = 0; p < 3; p++) {
        teardown();
        open_backends(names[p]);
        int64_t got = -1;
        QAT_ASSERT_OK(qat_context_get_int(be[GPU].ctx, QAT_CTX_PRECISION, &got));
        ck_assert_int_eq(got, p);
        by_env[p] = malloc((size_t)(m * n) * sizeof *by_env[p]);
        policy_gemm(-1, by_env[p], m, n, k, a, b);
    }
    ck_assert_msg(memcmp(by_env[0], by_env[2], (size_t)(m * n) * sizeof(float)) != 0, "bf16 GEMM equals fp32");
    for (int from = 0; from < 3; from++)
        for (int to = 0; to < 3; to++) {
            teardown();
            open_backends(names[from]);
            policy_gemm(to, by_ctx, m, n, k, a, b);
            int64_t got = -1;
            QAT_ASSERT_OK(qat_context_get_int(be[GPU].ctx, QAT_CTX_PRECISION, &got));
            ck_assert_int_eq(got, to);
            ck_assert_msg(memcmp(by_ctx, by_env[to], (size_t)(m * n) * sizeof(float)) == 0,
                          "created %s, set %s: the GEMM differs from a context created %s", names[from], names[to],
                          names[to]);
        }
    for (int p = 0; p < 3; p++)
        free(by_env[p]);
    FREE_ALL(by_ctx, a, b);
}
END_TEST

/* ---- errors ---- */

START_TEST(errors_are_reported)
{
    float *x = NULL;
    OP_OK(GPU, OPS(GPU)->alloc(ST(GPU), 64 * sizeof(float), (void **)&x));
    qat_status st = OPS(GPU)->bias_act_fwd(ST(GPU), x, NULL, 2, 3, (qat_activation)7, x);
    ck_assert_int_eq(st, QAT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(OPS(GPU)->last_error(ST(GPU)), "activation"));
    qat_lsq_desc bad = lsq_desc(x, NULL, 1, 4, 0, 4);
    bad.qp = bad.qn; /* an empty integer range */
    st = OPS(GPU)->lsq_fwd(ST(GPU), &bad, x, x);
    ck_assert_int_eq(st, QAT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(OPS(GPU)->last_error(ST(GPU)), "LSQ descriptor"));
    st = OPS(GPU)->layernorm_bitnet_act_fwd(ST(GPU), x, x, x, 1e-5f, 2, 4, 8, 0, x + 8, x + 8, x + 16, x + 24);
    ck_assert_int_eq(st, QAT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(OPS(GPU)->last_error(ST(GPU)), "may not alias"));
    st = OPS(GPU)->layernorm_bitnet_act_fwd(ST(GPU), x, x, x, 1e-5f, 2, 4, 25, 0, x + 8, x + 16, x + 24, x + 32);
    ck_assert_int_eq(st, QAT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(OPS(GPU)->last_error(ST(GPU)), "outside [1, 24]"));
    OPS(GPU)->free(ST(GPU), x);
    /* An unknown precision policy fails create() with a message. */
    setenv("QAT_CUDA_PRECISION", "fp8", 1);
    qat_context *ctx = NULL;
    st = qat_context_create("cuda", &ctx);
    unsetenv("QAT_CUDA_PRECISION");
    ck_assert_int_ne(st, QAT_OK);
    ck_assert_ptr_null(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("cuda_ops");
    TCase *tc = tcase_create("vs_ref");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, elementwise_fill_copy_add_accumulate);
    tcase_add_test(tc, elementwise_bias_gelu);
    tcase_add_test(tc, elementwise_bias_tanh);
    tcase_add_test(tc, elementwise_bias_grad);
    tcase_add_test(tc, elementwise_gelu_bias_bwd);
    tcase_add_test(tc, elementwise_dropout_mask_is_identical);
    tcase_add_test(tc, elementwise_dropout_add);
    tcase_add_test(tc, rows_layernorm);
    tcase_add_test(tc, rows_layernorm_bitnet_act);
    tcase_add_test(tc, rows_softmax);
    tcase_add_test(tc, attention_fused_fwd);
    tcase_add_test(tc, attention_fused_train);
    tcase_add_test(tc, rows_embeddings);
    tcase_add_test(tc, rows_embedding_bwd_skewed);
    tcase_add_test(tc, loss_cross_entropy);
    tcase_add_test(tc, quant_abs_mean);
    tcase_add_test(tc, quant_lsq);
    tcase_add_test(tc, quant_lsq_step_gradient_is_deterministic);
    tcase_add_test(tc, quant_lsq_rows_and_offsets);
    tcase_add_test(tc, quant_bitnet_weights);
    tcase_add_test(tc, quant_bitnet_activations);
    tcase_add_test(tc, optim_scale_norm_adamw);
    tcase_add_test(tc, gemm_fp32);
    tcase_add_test(tc, gemm_tf32);
    tcase_add_test(tc, gemm_bf16);
    tcase_add_test(tc, linear_fwd_fp32);
    tcase_add_test(tc, linear_fwd_bf16);
    tcase_add_test(tc, gemm_policy_from_context);
    tcase_add_test(tc, errors_are_reported);
    suite_add_tcase(s, tc);
    return s;
}
