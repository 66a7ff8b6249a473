/* The oneDNN path (QAT_ISA=onednn): oneDNN's s8 x s8 -> s32 matmul over the
 * same codes. oneDNN picks its own kernel for the CPU it runs on (AMX-INT8
 * tiles where the CPU has them and the OS grants them, VNNI, AVX2), so this
 * is how libqat reaches AMX: correct by construction there, and tested on
 * every machine through its other kernels. Offered only with AVX-512 VNNI
 * or AMX (dispatch.c): oneDNN's AVX2 int8 kernels saturate int16 pairs. The integer accumulators are
 * exact on every one of them, so the outputs are the scalar path's bits.
 *
 * Weights: the signed codes row-major ([out][kpad], zero padded), made once
 * by qat_packed_matrix_prepare. Each call wraps the caller's buffers in
 * memory objects (nothing is copied; the primitive comes from oneDNN's
 * primitive cache after the first call of a shape) and runs oneDNN with the
 * handle's thread count, restoring the calling thread's OpenMP setting. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "packed/packed_internal.h"

#if defined(QAT_HAVE_ONEDNN)
#include <dnnl.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

qat_status qat_packed_onednn_prepare(qat_packed_matrix *m)
{
    if (m->s8)
        return QAT_OK;
    int8_t *q = aligned_alloc(64, ((size_t)(m->out * m->kpad) + 63) / 64 * 64);
    if (!q)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed: onednn: out of memory for [%lld, %lld] codes",
                        (long long)m->out, (long long)m->kpad);
    for (int64_t r = 0; r < m->out; r++)
        for (int64_t c = 0; c < m->kpad; c++)
            q[r * m->kpad + c] = c < m->in ? (int8_t)((int)qat_packed_matrix_code(m, r, c) - m->offset) : 0;
    m->s8 = q;
    return QAT_OK;
}

#define DNNL_TRY(call, what)                                                                                  \
    do {                                                                                                      \
        dnnl_status_t s_ = (call);                                                                            \
        if (s_ != dnnl_success) {                                                                             \
            st = qat_fail(QAT_ERR_BACKEND, "packed: onednn: %s failed (dnnl status %d)", what, (int)s_);      \
            goto done;                                                                                        \
        }                                                                                                     \
    } while (0)

qat_status qat_packed_onednn_gemm(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m,
                                  int32_t *acc, int64_t ldacc)
{
    if (!m->s8)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                        "packed: onednn: weights not prepared for this path (qat_packed_matrix_prepare)");
    qat_status st = QAT_OK;
    dnnl_engine_t eng = NULL;
    dnnl_stream_t stream = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t src = NULL, wei = NULL, dst = NULL;
#if defined(_OPENMP)
    const int caller_threads = omp_get_max_threads();
    omp_set_num_threads(k->threads);
#else
    (void)k;
#endif
    dnnl_memory_desc_t src_md, wei_md, dst_md;
    const dnnl_dims_t sd = {a->tokens, m->kpad}, ss = {a->stride, 1};
    const dnnl_dims_t wd = {m->kpad, m->out}, ws = {1, m->kpad};
    const dnnl_dims_t dd = {a->tokens, m->out}, ds = {ldacc, 1};
    DNNL_TRY(dnnl_memory_desc_init_by_strides(&src_md, 2, sd, dnnl_s8, ss), "source descriptor");
    DNNL_TRY(dnnl_memory_desc_init_by_strides(&wei_md, 2, wd, dnnl_s8, ws), "weights descriptor");
    DNNL_TRY(dnnl_memory_desc_init_by_strides(&dst_md, 2, dd, dnnl_s32, ds), "destination descriptor");
    DNNL_TRY(dnnl_engine_create(&eng, dnnl_cpu, 0), "engine");
    DNNL_TRY(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags), "stream");
    dnnl_matmul_desc_t md;
    DNNL_TRY(dnnl_matmul_desc_init(&md, &src_md, &wei_md, NULL, &dst_md), "matmul descriptor");
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL), "matmul primitive descriptor");
    DNNL_TRY(dnnl_primitive_create(&prim, pd), "matmul primitive");
    DNNL_TRY(dnnl_memory_create(&src, &src_md, eng, a->codes), "source memory");
    DNNL_TRY(dnnl_memory_create(&wei, &wei_md, eng, m->s8), "weights memory");
    DNNL_TRY(dnnl_memory_create(&dst, &dst_md, eng, acc), "destination memory");
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    DNNL_TRY(dnnl_primitive_execute(prim, stream, 3, args), "matmul");
    DNNL_TRY(dnnl_stream_wait(stream), "stream wait");
done:
    dnnl_memory_destroy(src);
    dnnl_memory_destroy(wei);
    dnnl_memory_destroy(dst);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(eng);
#if defined(_OPENMP)
    omp_set_num_threads(caller_threads);
#endif
    return st;
}

#else

qat_status qat_packed_onednn_prepare(qat_packed_matrix *m)
{
    (void)m;
    return qat_fail(QAT_ERR_UNSUPPORTED, "packed: onednn: this build has no oneDNN");
}

qat_status qat_packed_onednn_gemm(const qat_packed_kernel *k, const qat_packed_acts *a, const qat_packed_matrix *m,
                                  int32_t *acc, int64_t ldacc)
{
    (void)k, (void)a, (void)m, (void)acc, (void)ldacc;
    return qat_fail(QAT_ERR_UNSUPPORTED, "packed: onednn: this build has no oneDNN");
}

#endif
