/* The GEMM driver: output rows are cut into panels; each OpenMP thread
 * unpacks a panel of weight rows into a u8 scratch buffer and runs it
 * against every token of a token block, then applies the shared scalar
 * epilogue. Token blocks keep the activations they stream in L2 (a long
 * batch would otherwise be re-read from memory for every panel); a panel
 * is unpacked once per block (once per call for up to TOKEN_BLOCK_BYTES of
 * activations). Every output element is computed by exactly one thread
 * with the same code, so results do not depend on the thread count. */
#include <stdlib.h>
#include <string.h>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/error.h"
#include "packed/packed_internal.h"

/* Rows per panel: 16 rows of up to 3072 codes (48 KiB) stay in L2 while the
 * activations stream past; a multiple of the kernels' 4-row blocks. */
#define PANEL_ROWS 16
/* Activation bytes per token block: half of a 512 KiB L2. */
#define TOKEN_BLOCK_BYTES (256 * 1024)

static qat_status check_gemm(const qat_packed_kernel *k, const qat_packed_acts *a,
                             const qat_packed_weights *w, const void *outp, int64_t ld,
                             const char *who)
{
    QAT_CHECK_ARG(k && a && w && outp, "packed: %s: NULL argument", who);
    QAT_CHECK_ARG(k->threads >= 1 && k->isa != QAT_PACKED_ISA_AUTO,
                  "packed: %s: kernel handle not initialised", who);
    QAT_CHECK_ARG(a->codes && a->bits >= 2, "packed: %s: activations not quantized", who);
    QAT_CHECK_ARG(w->data && w->scale, "packed: %s: weights not packed", who);
    QAT_CHECK_ARG(a->in == w->in, "packed: %s: activations have %lld features, weights %lld", who,
                  (long long)a->in, (long long)w->in);
    QAT_CHECK_ARG(ld >= w->out, "packed: %s: ld = %lld < out = %lld", who, (long long)ld,
                  (long long)w->out);
    return QAT_OK;
}

/* Tokens [t0, t0 + tokens) x outputs [o0, o0 + rows); acc is relative to
 * (t0, o0), y absolute. */
static void dequant_rows(const qat_packed_acts *a, const qat_packed_weights *w, int64_t t0,
                         int64_t tokens, int64_t o0, int64_t rows, const int32_t *acc,
                         int64_t ldacc, const float *bias, float *y, int64_t ldy)
{
    for (int64_t t = t0; t < t0 + tokens; t++) {
        const float sa = a->scale[t];
        for (int64_t r = 0; r < rows; r++) {
            int64_t o = o0 + r;
            float v = ((float)acc[(t - t0) * ldacc + r] * sa) * w->scale[w->per_row ? o : 0];
            y[t * ldy + o] = bias ? v + bias[o] : v;
        }
    }
}

/* y == NULL: write the accumulators to acc_out (ld = ldacc_out) instead. */
static qat_status run(const qat_packed_kernel *k, const qat_packed_acts *a,
                      const qat_packed_weights *w, int32_t *acc_out, int64_t ldacc_out,
                      const float *bias, float *y, int64_t ldy)
{
    const int64_t kpad = a->stride;
    const int64_t npanels = (w->out + PANEL_ROWS - 1) / PANEL_ROWS;
    const int nt = (int)(npanels < k->threads ? npanels : k->threads);
    int64_t tblock = TOKEN_BLOCK_BYTES / kpad;
    tblock = tblock < 16 ? 16 : tblock;
    tblock = tblock > a->tokens ? a->tokens : tblock;
    const size_t panel_bytes = (size_t)PANEL_ROWS * (size_t)kpad;
    /* Per thread: the unpacked panel and (for float output) its
     * accumulators for one token block. */
    const size_t acc_bytes = y ? (size_t)tblock * PANEL_ROWS * sizeof(int32_t) : 0;
    const size_t per_thread = panel_bytes + (acc_bytes + 63) / 64 * 64;
    uint8_t *scratch = aligned_alloc(64, per_thread * (size_t)nt);
    if (!scratch)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed: gemm: out of memory for %d panels of %lld bytes", nt,
                        (long long)per_thread);
    const qat_packed_panel_fn kernel = qat_packed_panel_for(k->isa);
    const qat_packed_unpack_fn unpack = qat_packed_unpack_for(k->isa, w->format);
    const int umax = w->qmax + w->offset;

#pragma omp parallel num_threads(nt)
    {
        int tid = 0;
#if defined(_OPENMP)
        tid = omp_get_thread_num();
#endif
        uint8_t *panel = scratch + per_thread * (size_t)tid;
        /* Every thread walks the same blocks; the panels of a block are
         * shared out (the implicit barrier ends each block). */
        for (int64_t t0 = 0; t0 < a->tokens; t0 += tblock) {
            const int64_t tokens = a->tokens - t0 < tblock ? a->tokens - t0 : tblock;
#pragma omp for schedule(static)
            for (int64_t pi = 0; pi < npanels; pi++) {
                int64_t o0 = pi * PANEL_ROWS;
                int64_t rows = w->out - o0 < PANEL_ROWS ? w->out - o0 : PANEL_ROWS;
                unpack(w, o0, rows, panel, kpad);
                qat_packed_panel_args p = {
                    .panel = panel, .rows = rows, .kpad = kpad, .offset = w->offset, .umax = umax,
                    .acts = a->codes + t0 * a->stride, .lda = a->stride, .tokens = tokens,
                    .row_sum = a->row_sum + t0,
                };
                if (y) {
                    p.acc = (int32_t *)(panel + panel_bytes);
                    p.ldacc = PANEL_ROWS;
                    kernel(&p);
                    dequant_rows(a, w, t0, tokens, o0, rows, p.acc, PANEL_ROWS, bias, y, ldy);
                } else {
                    p.acc = acc_out + t0 * ldacc_out + o0;
                    p.ldacc = ldacc_out;
                    kernel(&p);
                }
            }
        }
    }
    free(scratch);
    return QAT_OK;
}

qat_status qat_packed_gemm_i32(const qat_packed_kernel *k, const qat_packed_acts *a,
                               const qat_packed_weights *w, int32_t *acc, int64_t ldacc)
{
    QAT_TRY(check_gemm(k, a, w, acc, ldacc, "gemm_i32"));
    return run(k, a, w, acc, ldacc, NULL, NULL, 0);
}

qat_status qat_packed_gemm(const qat_packed_kernel *k, const qat_packed_acts *a,
                           const qat_packed_weights *w, const float *bias, float *y, int64_t ldy)
{
    QAT_TRY(check_gemm(k, a, w, y, ldy, "gemm"));
    return run(k, a, w, NULL, 0, bias, y, ldy);
}

qat_status qat_packed_dequant(const qat_packed_acts *a, const qat_packed_weights *w,
                              const int32_t *acc, int64_t ldacc, const float *bias, float *y,
                              int64_t ldy)
{
    QAT_CHECK_ARG(a && w && acc && y && a->scale && w->scale, "packed: dequant: NULL argument");
    QAT_CHECK_ARG(ldacc >= w->out && ldy >= w->out, "packed: dequant: ld smaller than out = %lld",
                  (long long)w->out);
    dequant_rows(a, w, 0, a->tokens, 0, w->out, acc, ldacc, bias, y, ldy);
    return QAT_OK;
}
