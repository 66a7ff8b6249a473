/* A Hugging Face checkpoint directory, as save_pretrained writes it:
 * config.json plus the weights, looked for in this order:
 *   model.safetensors
 *   model.safetensors.index.json   (sharded: {"weight_map": {name: file}})
 *   pytorch_model.bin
 *   pytorch_model.bin.index.json
 * Shard file names must be plain names inside the directory. Every tensor
 * the index lists must be found in the shards. */
#ifndef QAT_LIB_FORMATS_HF_DIR_H
#define QAT_LIB_FORMATS_HF_DIR_H

#include "formats/hf_config.h"
#include "formats/tensor_set.h"
#include "model/dims.h"
#include "qat/core.h"

enum {
    /* Refuse non-float tensors instead of skipping (and listing) them. */
    QAT_HF_DIR_STRICT_DTYPES = 1u << 0
};

/* Reads dims (and labels, when not NULL) from config.json and every
 * tensor into a new set (*out, freed with qat_tensor_set_free). When no
 * weights file exists, fails with QAT_ERR_NOT_FOUND listing the names it
 * looked for. On failure *out is NULL and labels are cleared. */
qat_status qat_formats_hf_dir_read(const char *dir, unsigned flags, qat_model_dims *dims,
                                   qat_hf_labels *labels, qat_tensor_set **out);

/* Where the weights of `dir` are: 0 model.safetensors, 1 its index, 2
 * pytorch_model.bin, 3 its index; -1 (with QAT_ERR_NOT_FOUND) for none. */
qat_status qat_formats_hf_dir_find_weights(const char *dir, int *kind);

#endif
