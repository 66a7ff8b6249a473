/* Row-wise kernels: LayerNorm, masked softmax, embeddings, cross-entropy.
 * Each is a range function (the loop body over [begin, end)) run by
 * qat_host_for. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "host/host_layernorm_quant.h"
#include "math/row_math.h"
#include "ref/ref_backend.h"
#include "ref/ref_kernels.h"

typedef struct layernorm {
    const float *x, *w, *b, *dy, *mean_in, *rstd_in;
    float eps;
    int64_t rows, cols;
    float *y, *mean, *rstd, *dx, *dw, *db;
} layernorm;

static int layernorm_fwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const layernorm *l = arg;
    const int64_t cols = l->cols;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        qat_layernorm_row(l->x + r * cols, l->w, l->b, l->eps, cols, l->y + r * cols, &l->mean[r], &l->rstd[r]);
    return 0;
}

qat_status qat_ref_layernorm_fwd(void *st, const float *x, const float *w, const float *b, float eps,
                                 int64_t rows, int64_t cols, float *y, float *mean, float *rstd)
{
    layernorm l = {.x = x, .w = w, .b = b, .eps = eps, .rows = rows, .cols = cols, .y = y, .mean = mean,
                   .rstd = rstd};
    qat_host_for(st, rows, cols, layernorm_fwd_range, &l);
    return QAT_OK;
}

qat_status qat_ref_layernorm_bitnet_act_fwd(void *st, const float *x, const float *w, const float *b, float eps,
                                            int64_t rows, int64_t cols, int bits, int symmetric, float *y,
                                            float *yq, float *mean, float *rstd)
{
    return qat_host_layernorm_bitnet_act_fwd(&qat_backend_ref_ops, st, x, w, b, eps, rows, cols, bits, symmetric, y,
                                             yq, mean, rstd);
}

/* Parameter gradients: each range owns a block of columns and walks the
 * rows in order (contiguous reads, a fixed summation order: each column's
 * sums in double, row by row, which the cpu backend's twin repeats across
 * columns). */
enum { LN_BLOCK = 128 };

static int layernorm_params_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const layernorm *l = arg;
    const int64_t cols = l->cols;
    (void)index;
    for (int64_t b = begin; b < end; b++) {
        const int64_t c0 = b * LN_BLOCK, c1 = c0 + LN_BLOCK < cols ? c0 + LN_BLOCK : cols;
        double gw[LN_BLOCK] = {0}, gb[LN_BLOCK] = {0};
        for (int64_t r = 0; r < l->rows; r++) {
            const float *xr = l->x + r * cols, *dyr = l->dy + r * cols;
            for (int64_t c = c0; c < c1; c++) {
                float xhat = (xr[c] - l->mean_in[r]) * l->rstd_in[r];
                gw[c - c0] += (double)dyr[c] * xhat;
                gb[c - c0] += dyr[c];
            }
        }
        for (int64_t c = c0; c < c1; c++) {
            l->dw[c] += (float)gw[c - c0];
            l->db[c] += (float)gb[c - c0];
        }
    }
    return 0;
}

static int layernorm_input_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const layernorm *l = arg;
    const int64_t cols = l->cols;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        qat_layernorm_bwd_row(l->dy + r * cols, l->x + r * cols, l->w, l->mean_in[r], l->rstd_in[r], cols,
                              l->dx + r * cols);
    return 0;
}

qat_status qat_ref_layernorm_bwd(void *st, const float *dy, const float *x, const float *w,
                                 const float *mean, const float *rstd, int64_t rows, int64_t cols,
                                 float *dx, float *dw, float *db)
{
    layernorm l = {.x = x, .w = w, .dy = dy, .mean_in = mean, .rstd_in = rstd, .rows = rows, .cols = cols,
                   .dx = dx, .dw = dw, .db = db};
    qat_host_for(st, (cols + LN_BLOCK - 1) / LN_BLOCK, rows * LN_BLOCK, layernorm_params_range, &l);
    qat_host_for(st, rows, cols, layernorm_input_range, &l);
    return QAT_OK;
}

typedef struct softmax {
    float *scores;
    const float *key_bias, *dp, *p;
    int64_t rows_per_batch, cols;
    float *ds;
} softmax;

void qat_ref_softmax_row(float *s, const float *kb, int64_t lk)
{
    qat_softmax_row(s, kb, lk);
}

static int softmax_fwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const softmax *sm = arg;
    const int64_t lk = sm->cols;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        qat_ref_softmax_row(sm->scores + r * lk, sm->key_bias ? sm->key_bias + (r / sm->rows_per_batch) * lk : NULL,
                            lk);
    return 0;
}

qat_status qat_ref_softmax_fwd(void *st, float *scores, const float *key_bias, int64_t batch,
                               int64_t heads, int64_t lq, int64_t lk)
{
    softmax sm = {.scores = scores, .key_bias = key_bias, .rows_per_batch = heads * lq, .cols = lk};
    qat_host_for(st, batch * heads * lq, lk, softmax_fwd_range, &sm);
    return QAT_OK;
}

static int softmax_bwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const softmax *sm = arg;
    const int64_t cols = sm->cols;
    (void)index;
    for (int64_t r = begin; r < end; r++)
        qat_softmax_bwd_row(sm->dp + r * cols, sm->p + r * cols, cols, sm->ds + r * cols);
    return 0;
}

qat_status qat_ref_softmax_bwd(void *st, const float *dp, const float *p, int64_t rows, int64_t cols,
                               float *ds)
{
    softmax sm = {.dp = dp, .p = p, .cols = cols, .ds = ds};
    qat_host_for(st, rows, cols, softmax_bwd_range, &sm);
    return QAT_OK;
}

typedef struct embedding {
    const float *table, *dy;
    const int32_t *ids;
    int64_t n, dim;
    float *out;
    int accumulate;
} embedding;

static int embedding_fwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const embedding *e = arg;
    const int64_t dim = e->dim;
    (void)index;
    for (int64_t i = begin; i < end; i++) {
        const float *row = e->table + (int64_t)e->ids[i] * dim;
        float *o = e->out + i * dim;
        if (e->accumulate)
            for (int64_t c = 0; c < dim; c++)
                o[c] += row[c];
        else
            memcpy(o, row, (size_t)dim * sizeof(float));
    }
    return 0;
}

qat_status qat_ref_embedding_fwd(void *st, const float *table, const int32_t *ids, int64_t n,
                                 int64_t dim, float *out, int accumulate)
{
    embedding e = {.table = table, .ids = ids, .n = n, .dim = dim, .out = out, .accumulate = accumulate};
    qat_host_for(st, n, dim, embedding_fwd_range, &e);
    return QAT_OK;
}

/* Columns [begin, end) of the table, each summed over the tokens in order:
 * each table entry is summed by one range, whatever the thread count. */
static int embedding_bwd_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const embedding *e = arg;
    (void)index;
    for (int64_t c = begin; c < end; c++)
        for (int64_t i = 0; i < e->n; i++)
            e->out[(int64_t)e->ids[i] * e->dim + c] += e->dy[i * e->dim + c];
    return 0;
}

qat_status qat_ref_embedding_bwd(void *st, const float *dy, const int32_t *ids, int64_t n, int64_t dim,
                                 int64_t vocab, float *dtable)
{
    (void)vocab;
    embedding e = {.dy = dy, .ids = ids, .n = n, .dim = dim, .out = dtable};
    qat_host_for(st, dim, n, embedding_bwd_range, &e);
    return QAT_OK;
}

qat_status qat_ref_zero_rows_where(void *st, float *x, const int32_t *ids, int64_t n, int64_t dim,
                                   int32_t id)
{
    (void)st;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] == id)
            memset(x + i * dim, 0, (size_t)dim * sizeof(float));
    return QAT_OK;
}

typedef struct cross_entropy {
    const float *logits;
    const int32_t *labels;
    int64_t classes;
    float scale;
    float *dlogits;
    double *partial; /* per range: the sum of its rows' losses */
} cross_entropy;

static int cross_entropy_range(void *arg, int64_t begin, int64_t end, int64_t index)
{
    const cross_entropy *ce = arg;
    const int64_t classes = ce->classes;
    double total = 0.0;
    for (int64_t r = begin; r < end; r++) {
        const float *z = ce->logits + r * classes;
        float *dz = ce->dlogits ? ce->dlogits + r * classes : NULL;
        int32_t label = ce->labels[r];
        if (label < 0) {
            if (dz)
                memset(dz, 0, (size_t)classes * sizeof(float));
            continue;
        }
        float mx = -INFINITY;
        for (int64_t j = 0; j < classes; j++)
            mx = z[j] > mx ? z[j] : mx;
        double sum = 0.0;
        for (int64_t j = 0; j < classes; j++)
            sum += exp((double)z[j] - mx);
        double log_sum = log(sum) + mx;
        total += log_sum - z[label];
        if (dz) {
            for (int64_t j = 0; j < classes; j++)
                dz[j] = ce->scale * (float)exp((double)z[j] - log_sum);
            dz[label] -= ce->scale;
        }
    }
    ce->partial[index] = total;
    return 0;
}

qat_status qat_ref_cross_entropy(void *st, const float *logits, const int32_t *labels, int64_t rows,
                                 int64_t classes, float scale, float *loss, float *dlogits)
{
    /* Rows' losses summed per range, then the ranges in order: the same
     * total whatever the thread count. */
    const int64_t ranges = qat_host_ranges(rows, classes);
    double *partial = malloc((size_t)(ranges ? ranges : 1) * sizeof *partial);
    if (!partial)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "cross_entropy: out of memory");
    cross_entropy ce = {logits, labels, classes, scale, dlogits, partial};
    qat_host_for(st, rows, classes, cross_entropy_range, &ce);
    double total = 0.0;
    for (int64_t i = 0; i < ranges; i++)
        total += partial[i];
    free(partial);
    *loss = (float)(total * scale);
    return QAT_OK;
}
