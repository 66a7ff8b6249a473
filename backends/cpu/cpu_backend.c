/* The cpu backend: oneDNN GEMMs; the encoder kernels it leaves NULL run
 * the ref implementations (its state is a qat_ref_state for that reason). */
#include <dnnl.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "core/error.h"
#include "host/host_memory.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ref/ref_backend.h"

typedef qat_ref_state cpu_state;

static qat_status cpu_create(int threads, void **state)
{
    cpu_state *s = calloc(1, sizeof *s);
    if (!s)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "cpu backend: out of memory");
    s->threads = threads;
    *state = s;
    return QAT_OK;
}

static void cpu_destroy(void *state)
{
    free(state);
}

static qat_status cpu_set_threads(void *state, int threads)
{
    ((cpu_state *)state)->threads = threads;
    return QAT_OK;
}

static qat_status cpu_gemm(void *state, const qat_gemm_desc *d)
{
    QAT_TRY(qat_gemm_desc_validate(d));
    if (d->m == 0 || d->n == 0 || d->batch == 0)
        return QAT_OK;
#ifdef _OPENMP
    /* oneDNN's OpenMP runtime uses the calling thread's max-threads ICV;
     * setting it here is per-thread state, not global state. */
    /* Below ~4 MFLOP a second thread costs more than it saves. */
    int64_t flops = d->batch * d->m * d->n * d->k;
    omp_set_num_threads(flops < (1 << 22) ? 1 : ((cpu_state *)state)->threads);
#endif
    if (d->k == 0) {
        /* oneDNN returns early on k == 0; BLAS semantics still scale C. */
        for (int64_t bi = 0; bi < d->batch; bi++)
            for (int64_t i = 0; i < d->m; i++) {
                float *c = d->c + bi * d->stride_c + i * d->ldc;
                for (int64_t j = 0; j < d->n; j++)
                    c[j] = d->beta == 0.0f ? 0.0f : d->beta * c[j];
            }
        return QAT_OK;
    }
    for (int64_t bi = 0; bi < d->batch; bi++) {
        dnnl_status_t st = dnnl_sgemm(d->trans_a ? 'T' : 'N', d->trans_b ? 'T' : 'N',
                                      d->m, d->n, d->k, d->alpha,
                                      d->a ? d->a + bi * d->stride_a : NULL, d->lda,
                                      d->b ? d->b + bi * d->stride_b : NULL, d->ldb,
                                      d->beta, d->c + bi * d->stride_c, d->ldc);
        if (st != dnnl_success)
            return qat_fail(QAT_ERR_BACKEND, "cpu backend: dnnl_sgemm failed with status %d", (int)st);
    }
    return QAT_OK;
}

const struct qat_backend_ops qat_backend_cpu_ops = {
    .abi_version = QAT_BACKEND_ABI_VERSION,
    .name = "cpu",
    .caps = QAT_BACKEND_CAP_HOST_MEMORY | QAT_BACKEND_CAP_GEMM_BATCHED,
    .score = 50,
    .probe = qat_host_probe,
    .create = cpu_create,
    .destroy = cpu_destroy,
    .set_threads = cpu_set_threads,
    .alloc = qat_host_alloc,
    .free = qat_host_free,
    .upload = qat_host_copy,
    .download = qat_host_copy,
    .synchronize = qat_host_synchronize,
    .gemm = cpu_gemm,
};
