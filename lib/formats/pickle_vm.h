/* A restricted pickle virtual machine for the data.pkl of a PyTorch zip
 * checkpoint (torch.save of a state dict). It never executes anything: it
 * implements only the opcodes torch.save emits for a state dict, and the
 * only "globals" it resolves are collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the
 * torch.*Storage types, as inert markers. Any other global (os.system,
 * builtins.eval, ...), opcode, stack underflow, unset memo slot, type
 * mismatch or over-large input is refused with QAT_ERR_FORMAT.
 *
 * The result is a description of each tensor (which storage, offset, sizes,
 * strides); torch_bin.c reads the storages from the archive. */
#ifndef QAT_LIB_FORMATS_PICKLE_VM_H
#define QAT_LIB_FORMATS_PICKLE_VM_H

#include <stddef.h>
#include <stdint.h>

#include "formats/tensor_set.h"
#include "qat/core.h"

/* Limits that no real state dict comes near (BERT-base: ~30 KB, ~3k
 * objects) but that bound what a hostile pickle can make the VM allocate. */
#define QAT_TORCH_PICKLE_MAX_BYTES (64u << 20)
#define QAT_TORCH_PICKLE_MAX_OBJECTS (1u << 21)
#define QAT_TORCH_PICKLE_MAX_ITEMS (1u << 22)
#define QAT_TORCH_PICKLE_MAX_STACK (1u << 20)
#define QAT_TORCH_PICKLE_MAX_MARKS 4096u

typedef enum qat_torch_dtype {
    QAT_TORCH_F32, QAT_TORCH_F16, QAT_TORCH_BF16, QAT_TORCH_F64, QAT_TORCH_I64, QAT_TORCH_I32,
    QAT_TORCH_I16, QAT_TORCH_I8, QAT_TORCH_U8, QAT_TORCH_BOOL
} qat_torch_dtype;

/* "FloatStorage"-style name and element size of a dtype. */
const char *qat_torch_dtype_name(qat_torch_dtype dtype);
int qat_torch_dtype_size(qat_torch_dtype dtype);

typedef struct qat_torch_tensor_ref {
    char *name;            /* the state-dict key */
    char *storage_key;     /* entry "<prefix>/data/<storage_key>" of the archive */
    qat_torch_dtype dtype;
    int64_t storage_numel; /* elements the storage declares */
    int64_t offset;        /* storage offset, in elements */
    int ndim;
    int64_t size[QAT_TENSOR_MAX_DIMS];
    int64_t stride[QAT_TENSOR_MAX_DIMS]; /* in elements, >= 0 */
} qat_torch_tensor_ref;

typedef struct qat_torch_state_dict {
    qat_torch_tensor_ref *tensors;
    size_t count;
} qat_torch_state_dict;

/* The VM's resource limits; qat_torch_pickle_load uses the defaults above.
 * (Tests lower them to exercise the refusals cheaply.) */
typedef struct qat_torch_pickle_limits {
    size_t max_objects, max_items, max_stack, max_marks;
} qat_torch_pickle_limits;

/* Runs the pickle in data[0..size). On success *out lists the state dict's
 * tensors in pickle order; every view lies inside its declared storage
 * (offset + sum((size_i - 1) * stride_i) < storage_numel). */
qat_status qat_torch_pickle_load(const uint8_t *data, size_t size, const char *label,
                                 qat_torch_state_dict *out);
/* The same with explicit limits (NULL: the defaults). */
qat_status qat_torch_pickle_load_limited(const uint8_t *data, size_t size, const char *label,
                                         const qat_torch_pickle_limits *limits,
                                         qat_torch_state_dict *out);
void qat_torch_state_dict_clear(qat_torch_state_dict *sd);

#endif
