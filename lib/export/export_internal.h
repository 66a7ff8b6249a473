/* Helpers shared by the export writer's files. */
#ifndef QAT_LIB_EXPORT_INTERNAL_H
#define QAT_LIB_EXPORT_INTERNAL_H

#include "export/qatp_format.h"
#include "packed/packed.h"
#include "qat/model.h"

/* Entries of the "config" record (int64 each; see docs/formats.md). */
enum {
    PM_CFG_ARCH, PM_CFG_TASK, PM_CFG_VOCAB, PM_CFG_HIDDEN, PM_CFG_LAYERS, PM_CFG_HEADS, PM_CFG_INTER,
    PM_CFG_MAX_POS, PM_CFG_TYPE_VOCAB, PM_CFG_PAD, PM_CFG_NUM_LABELS, PM_CFG_TIE, PM_CFG_EPS_BITS,
    PM_CFG_BOS, PM_CFG_EOS, PM_CONFIG_COUNT
};

qat_status pm_put_packed(qatp_writer *w, const char *name, const qat_packed_weights *pw);
/* Embeds the tokenizer file, or a directory's tokenizer files (NULL: none). */
qat_status pm_put_tokenizer(qatp_writer *w, const char *path);
/* The "labels" record of a classification model with label names (none:
 * nothing written). Refuses names the loader would refuse. */
qat_status pm_put_labels(qatp_writer *w, const qat_model *m);

#endif
