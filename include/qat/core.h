/*
 * libqat — core of the public API: versions, status codes, errors, contexts
 * and backend discovery. Every other public header includes this one.
 *
 * Conventions that hold for the whole API
 * ---------------------------------------
 * Status.  Every function that can fail returns `qat_status`: QAT_OK (0) on
 *   success, a negative code otherwise. After a failure, qat_last_error()
 *   returns a human-readable message describing it (what was wrong and where).
 *   Functions never abort or exit the host program.
 *
 * Ownership.  Objects are opaque handles created by `qat_X_create`/`_load`/
 *   `_parse` functions through an out-parameter and released by the matching
 *   `qat_X_free` (NULL is accepted and ignored). On failure the out-parameter
 *   is set to NULL and nothing is leaked.
 *
 * Lifetime.  Handles may be freed in any order. A handle that keeps using
 *   another one holds a reference to it: a model holds its context, a
 *   trainer holds its model (so, through it, the context); a packed model
 *   owns its own context and tokenizer. `qat_X_free` drops the caller's
 *   reference: the object is destroyed when its last holder lets it go,
 *   and never while a handle still needs it. So `qat_context_free(ctx)`
 *   right after creating a model is allowed: the model keeps working and
 *   the context goes with the model. After `qat_X_free(h)` the caller must
 *   not pass `h` again (a freed context cannot be configured any more),
 *   even when another handle still holds the object. The counts are
 *   atomic: two models of one context may be freed on two threads at once.
 *   Pointers returned as `const` (strings, a packed model's tokenizer)
 *   belong to the library and stay valid for the life of the handle that
 *   returned them (or forever, for static strings such as
 *   qat_status_string()); they are never passed to a `_free` function.
 *
 * Buffers.  Buffers filled by the library are passed by the caller with their
 *   capacity; a `size_t *needed` out-parameter, where present, reports the
 *   size required (including the terminating NUL for strings).
 *
 * Thread-safety.  The library has no global mutable state. Distinct handles
 *   may be used concurrently from different threads. A single handle must
 *   not be used from two threads at once (callers lock if they share one);
 *   read-only queries on a quant config are the exception and may run
 *   concurrently. The last-error message is per thread.
 *
 * Settings.  Options are set through enum-keyed setters/getters with bounds
 *   (`qat_context_set_int`) or through version-prefixed option structs
 *   filled by an `_init` function. No by-value struct ever crosses the API,
 *   so new settings never break the ABI or ctypes bindings.
 *
 * Stability.  These conventions and every header but qat/study.h are the
 *   stable API. qat/study.h, the study runner, is the experimental tier: it
 *   may change in any release and compiles only with QAT_EXPERIMENTAL
 *   defined (see that header).
 */
#ifndef QAT_CORE_H
#define QAT_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QAT_VERSION_MAJOR 0
#define QAT_VERSION_MINOR 1
#define QAT_VERSION_PATCH 0
#define QAT_VERSION_NUMBER \
    (QAT_VERSION_MAJOR * 10000 + QAT_VERSION_MINOR * 100 + QAT_VERSION_PATCH)

#if defined(_WIN32)
#  define QAT_API
#elif defined(QAT_BUILDING_LIBRARY)
#  define QAT_API __attribute__((visibility("default")))
#else
#  define QAT_API
#endif

/* Status codes. 0 is success, every error is negative. */
typedef enum qat_status {
    QAT_OK = 0,
    QAT_ERR_INVALID_ARGUMENT = -1, /* a NULL handle, an out-of-range value */
    QAT_ERR_OUT_OF_MEMORY = -2,
    QAT_ERR_IO = -3,               /* open/read/write/rename failed */
    QAT_ERR_FORMAT = -4,           /* malformed or hostile file contents */
    QAT_ERR_UNSUPPORTED = -5,      /* valid request this build cannot do */
    QAT_ERR_NOT_FOUND = -6,        /* no such parameter, backend, key... */
    QAT_ERR_BACKEND = -7,          /* a backend (oneDNN, CUDA) failed */
    QAT_ERR_NUMERIC = -8,          /* non-finite loss or gradient */
    QAT_ERR_STATE = -9,            /* call not valid in the object's state */
    QAT_ERR_BUFFER_TOO_SMALL = -10,/* caller's buffer too small; see needed */
    QAT_ERR_INTERNAL = -11
} qat_status;

/* Opaque handles. */
typedef struct qat_context qat_context;
typedef struct qat_quant_config qat_quant_config;
typedef struct qat_model qat_model;
typedef struct qat_tokenizer qat_tokenizer;
typedef struct qat_trainer qat_trainer;
typedef struct qat_dataset qat_dataset;
typedef struct qat_packed_model qat_packed_model;

/* "0.1.0": the version of the library actually loaded. */
QAT_API const char *qat_version(void);
/* QAT_VERSION_NUMBER of the library actually loaded. */
QAT_API int qat_version_number(void);

/* A static, never-NULL name for a status ("QAT_ERR_FORMAT"...). */
QAT_API const char *qat_status_string(qat_status status);
/* The message of the last failure on the calling thread ("" if none).
 * Valid until the next libqat call on that thread. */
QAT_API const char *qat_last_error(void);
/* Forget the calling thread's last error. */
QAT_API void qat_clear_error(void);

/* ---- Backends -------------------------------------------------------- */

/* Number of backends usable on this machine right now: the built-in "ref"
 * and "cpu" and, when its module loads and finds a device, "cuda". Each
 * call scans the machine again (a module is loaded and its device probed):
 * to ask more than once, take a qat_backend_list. */
QAT_API int qat_backend_count(void);
/* Name of backend i (0 <= i < qat_backend_count()), or NULL. */
QAT_API const char *qat_backend_name(int index);

/* The usable backends found by one scan of the machine, in the order of
 * qat_backend_name; queries load nothing. The caller owns it (there is no
 * process-wide cache: a new list sees a changed QAT_BACKEND_PATH or device).
 * Read-only after creation, so it may be queried from any thread. */
typedef struct qat_backend_list qat_backend_list;
QAT_API qat_status qat_backend_list_create(qat_backend_list **out);
QAT_API void qat_backend_list_free(qat_backend_list *list);
QAT_API int qat_backend_list_count(const qat_backend_list *list);
/* Name of backend i, or NULL; valid until the list is freed. */
QAT_API const char *qat_backend_list_name(const qat_backend_list *list, int index);

/* ---- Contexts -------------------------------------------------------- */

/* A context owns one backend instance (its streams, buffers, threads) and
 * the random generator. backend: "ref", "cpu", "cuda", or NULL / "auto"
 * for the best available one ("ref-sealed", never listed nor chosen by
 * "auto", is for libqat's own tests: docs/architecture.md). Fails with
 * QAT_ERR_NOT_FOUND naming the available backends when the requested one
 * is absent. */
QAT_API qat_status qat_context_create(const char *backend, qat_context **out);
QAT_API void qat_context_free(qat_context *ctx);
/* Name of the context's backend ("ref", "cpu", "cuda"). */
QAT_API const char *qat_context_backend(const qat_context *ctx);

typedef enum qat_context_param {
    QAT_CTX_THREADS = 1,       /* worker threads for CPU kernels; 0 = the CPUs the process may run on (affinity) */
    QAT_CTX_SEED = 2,          /* RNG seed (dropout, masking, init); default 42 */
    QAT_CTX_DETERMINISTIC = 3, /* 1 = bit-reproducible kernels (default 1) */
    /* CoNLL task files with IOB2 tags (qat_model_evaluate, the study
     * runner): 0 (default) reads an I-X that follows neither B-X nor I-X
     * as the start of a new entity, as seqeval's default mode and
     * transformers do, and reports their count and first lines as a
     * warning of the context; 1 refuses the file at the first one. */
    QAT_CTX_STRICT_IOB2 = 4,
    /* GEMM precision policy, a qat_precision. Parameters, gradients and
     * optimizer state stay fp32 (master weights) under every policy; it
     * chooses how GEMM operands are multiplied. Device backends (cuda)
     * accept all three; their default comes from QAT_CUDA_PRECISION
     * (fp32 | tf32 | bf16, fp32 when unset). Host backends (ref, cpu)
     * compute in fp32 only: they report QAT_PRECISION_FP32 and refuse the
     * others with QAT_ERR_UNSUPPORTED. Recorded in the study runner's
     * results.json. */
    QAT_CTX_PRECISION = 5,
    /* Training attention: 0 (default) computes the [batch, heads, L, L]
     * probabilities with GEMMs and keeps them (twice with attention
     * dropout) for the backward; 1 runs the backend's fused attention,
     * which keeps one float per query row and head instead and recomputes
     * the probabilities in the backward: the activation memory of a
     * model at batch B and length L shrinks by 4 B heads L^2 bytes a layer
     * (x 2 with attention dropout, + the backward's gradient of the same
     * size). Same mask, same dropout; the results differ from 0's by the
     * order of accumulation only. The fused backward recomputes the
     * scores, so on host backends (ref, cpu) a step is slower. Read
     * when a model prepares a batch shape. */
    QAT_CTX_FUSED_ATTENTION = 6
} qat_context_param;

typedef enum qat_precision {
    QAT_PRECISION_FP32 = 0, /* fp32 operands and math */
    QAT_PRECISION_TF32 = 1, /* fp32 operands, TF32 tensor cores, fp32 accumulation */
    QAT_PRECISION_BF16 = 2  /* operands rounded to bf16, fp32 accumulation */
} qat_precision;

/* Bounds of a setting, for validation and UIs. */
QAT_API qat_status qat_context_param_bounds(qat_context_param param,
                                            int64_t *min_value,
                                            int64_t *max_value);
QAT_API qat_status qat_context_set_int(qat_context *ctx,
                                       qat_context_param param,
                                       int64_t value);
QAT_API qat_status qat_context_get_int(const qat_context *ctx,
                                       qat_context_param param,
                                       int64_t *value);

/* ---- Warnings --------------------------------------------------------- */

/* What calls using the context noticed without failing (e.g. "train.conll:
 * 3 IOB2 inconsistencies read as seqeval does, first at train.conll:502:
 * tag 'I-CMD' follows 'B-OPT'"). The library prints nothing: the caller
 * shows them. The first 16 are kept, later ones only counted. */
QAT_API size_t qat_context_warning_count(const qat_context *ctx);
/* Warning `index` (0-based), or NULL past the kept ones. Valid until the
 * warnings are cleared or the context destroyed. */
QAT_API const char *qat_context_warning(const qat_context *ctx, size_t index);
/* Forgets the warnings (not while another thread uses the context). */
QAT_API void qat_context_clear_warnings(qat_context *ctx);

#ifdef __cplusplus
}
#endif

#endif /* QAT_CORE_H */
