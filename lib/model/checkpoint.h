/* What loading a checkpoint needs besides the model API: how a checkpoint's
 * tensor names map onto the model's parameters, and the checks made before
 * the model is allocated (checkpoint_check.c), so that a small file cannot
 * make libqat allocate a model config.json describes but the weights do
 * not hold, nor load as QAT_OK with parameters left random. */
#ifndef QAT_LIB_MODEL_CHECKPOINT_H
#define QAT_LIB_MODEL_CHECKPOINT_H

#include "formats/tensor_set.h"
#include "model/model.h"

/* The parameter a checkpoint tensor name refers to (the base model may be
 * prefixed roberta., camembert., xlm-roberta., bert. or bare; HF's aliases
 * of the MLM head): 1 and *index, or 0. */
int qat_checkpoint_map_name(const qat_model *m, const char *name, size_t *index);
/* Whether tensor t fits parameter p (a step may be stored as a scalar). */
int qat_checkpoint_fits(const qat_param *p, const qat_tensor *t);
/* An encoder parameter: the embeddings and the layers, which a checkpoint
 * must hold; the heads (MLM head, classifier, BERT's pooler) may be new. */
int qat_checkpoint_is_encoder(const qat_model *m, const qat_param *p);

/* Before a model of `dims` is allocated: every tensor of `set` that names
 * one of its parameters has that parameter's shape; every encoder parameter
 * is in `set` unless `partial`; with `partial`, the missing ones hold no
 * more values than the checkpoint does. Fails with QAT_ERR_FORMAT naming
 * `dir`, the tensor and both shapes, or the missing tensors. */
qat_status qat_checkpoint_check(const qat_model_dims *dims, qat_task task, int64_t num_labels,
                                const qat_tensor_set *set, int partial);

#endif
