/* Helpers shared by the export writer's files. */
#ifndef QAT_LIB_EXPORT_INTERNAL_H
#define QAT_LIB_EXPORT_INTERNAL_H

#include "formats/qatp_format.h"
#include "formats/qatp_schema.h"
#include "packed/packed.h"
#include "qat/model.h"

qat_status pm_put_packed(qatp_writer *w, const char *name, const qat_packed_weights *pw);
/* Embeds the tokenizer file, or a directory's tokenizer files (NULL: none). */
qat_status pm_put_tokenizer(qatp_writer *w, const char *path);
/* The "labels" record of a classification model with label names (none:
 * nothing written). Refuses names the loader would refuse. */
qat_status pm_put_labels(qatp_writer *w, const qat_model *m);
/* The optional "pooling" record (formats/qatp_schema.h), when the model has
 * its own pooling. */
qat_status pm_put_pooling(qatp_writer *w, const qat_model *m);

#endif
