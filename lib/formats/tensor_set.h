/* A named-tensor collection: the exchange type between the checkpoint
 * readers/writers (safetensors, torch .bin, HF directories) and the model.
 *
 * Every tensor is float32, row-major and contiguous, with at most
 * QAT_TENSOR_MAX_DIMS dimensions. Its data is either owned by the set
 * (readers convert F16/BF16 into a fresh float32 buffer) or borrowed (a
 * "view" the model adds over its own parameters to save them without a
 * copy; the caller keeps such data alive while the set is used).
 * Iteration follows insertion order; lookup by name is hashed.
 *
 * Tensors a reader could not represent (integer buffers such as
 * `embeddings.position_ids`, F64...) are not added; their names and dtypes
 * are kept in a "skipped" list so that callers can report them. */
#ifndef QAT_LIB_FORMATS_TENSOR_SET_H
#define QAT_LIB_FORMATS_TENSOR_SET_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

#define QAT_TENSOR_MAX_DIMS 8
/* Longest tensor name accepted by any reader (bytes, without the NUL). */
#define QAT_TENSOR_MAX_NAME 1024

typedef struct qat_tensor {
    const char *name;
    int ndim;                            /* 0 (a scalar) .. QAT_TENSOR_MAX_DIMS */
    int64_t shape[QAT_TENSOR_MAX_DIMS];  /* unused dimensions are 1 */
    int64_t numel;                       /* product of shape (1 for a scalar) */
    float *data;                         /* numel floats, row-major */
    int owned;                           /* 1 when the set frees data */
} qat_tensor;

typedef struct qat_tensor_set qat_tensor_set;

qat_status qat_tensor_set_create(qat_tensor_set **out);
void qat_tensor_set_free(qat_tensor_set *set);

size_t qat_tensor_set_count(const qat_tensor_set *set);
/* Tensor i in insertion order (NULL when i is out of range). */
const qat_tensor *qat_tensor_set_at(const qat_tensor_set *set, size_t i);
/* The tensor named `name`, or NULL. */
const qat_tensor *qat_tensor_set_find(const qat_tensor_set *set, const char *name);

/* Adds a zero-filled tensor owned by the set and returns it (its data may
 * then be written). Fails on a duplicate or invalid name, a bad shape
 * (ndim > 8, negative dimension, numel overflow) or out of memory. */
qat_status qat_tensor_set_add(qat_tensor_set *set, const char *name, int ndim,
                              const int64_t *shape, qat_tensor **out);
/* Adds a tensor whose data the set copies. */
qat_status qat_tensor_set_add_copy(qat_tensor_set *set, const char *name, int ndim,
                                   const int64_t *shape, const float *data);
/* Adds a borrowed view: the set never frees or writes `data`. */
qat_status qat_tensor_set_add_view(qat_tensor_set *set, const char *name, int ndim,
                                   const int64_t *shape, const float *data);

/* Removes (and frees, when owned) the tensor named `name`. */
qat_status qat_tensor_set_remove(qat_tensor_set *set, const char *name);

/* Records a tensor a reader left out, e.g. ("embeddings.position_ids",
 * "I64"). Readers call it; callers list them with the two below. */
qat_status qat_tensor_set_note_skipped(qat_tensor_set *set, const char *name, const char *why);
size_t qat_tensor_set_skipped_count(const qat_tensor_set *set);
/* "name (why)" of skipped tensor i, or NULL. */
const char *qat_tensor_set_skipped(const qat_tensor_set *set, size_t i);

/* A reader of one checkpoint format from memory; `label` names the source
 * in messages. */
typedef qat_status (*qat_tensor_reader_fn)(const uint8_t *data, size_t size, const char *label, unsigned flags,
                                           qat_tensor_set *set);
/* Maps the file at `path` and runs `read` over it, labelled '<path>'. */
qat_status qat_formats_read_mapped(const char *path, qat_tensor_reader_fn read, unsigned flags,
                                   qat_tensor_set *set);

/* numel of a shape, or -1 when a dimension is negative, ndim is out of
 * range or the product overflows int64 (or exceeds 2^62 bytes as float). */
int64_t qat_tensor_shape_numel(int ndim, const int64_t *shape);

#endif
