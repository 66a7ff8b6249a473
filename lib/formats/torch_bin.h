/* PyTorch checkpoints (pytorch_model.bin): the zip format torch.save has
 * written since 1.6 ("<prefix>/data.pkl" + "<prefix>/data/<key>" storages),
 * read with the restricted pickle VM (pickle_vm.h) and the zip reader
 * (zip_reader.h). Tensor views are rebuilt honouring storage offsets and
 * strides (non-contiguous views and storages shared by several tensors,
 * such as a tied decoder, are fine); F32/F16/BF16 become float32 exactly.
 * Integer and F64 tensors are skipped and listed in the set's skipped list,
 * or refused with QAT_TORCH_STRICT_DTYPES. The legacy non-zip format
 * (torch < 1.6 or _use_new_zipfile_serialization=False) is recognised and
 * refused with QAT_ERR_UNSUPPORTED. */
#ifndef QAT_LIB_FORMATS_TORCH_BIN_H
#define QAT_LIB_FORMATS_TORCH_BIN_H

#include <stddef.h>
#include <stdint.h>

#include "formats/tensor_set.h"
#include "qat/core.h"

enum {
    QAT_TORCH_STRICT_DTYPES = 1u << 0
};

/* Maps `path` and adds its state dict's tensors to `set`. On failure the
 * set may hold some of them. */
qat_status qat_torch_bin_read(const char *path, unsigned flags, qat_tensor_set *set);
/* The same over a buffer; `label` names it in messages. */
qat_status qat_torch_bin_read_memory(const uint8_t *data, size_t size, const char *label,
                                     unsigned flags, qat_tensor_set *set);

#endif
