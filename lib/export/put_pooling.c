/* The model's own pooling as the optional BYTES record "pooling" of a .qatp
 * file, and its max_seq_length as the optional INT64 record
 * "max_seq_length" (formats/qatp_schema.h, docs/formats.md), so that packed
 * embeddings pool and truncate as the checkpoint said. */
#include <string.h>

#include "core/error.h"
#include "export/export_internal.h"
#include "formats/qatp_schema.h"
#include "model/model.h"

qat_status pm_put_pooling(qatp_writer *w, const qat_model *m)
{
    const qat_pooling_config *c = &m->pooling_cfg;
    if (c->max_seq_length > 0) {
        size_t at;
        QAT_TRY(qatp_begin(w, QATP_I64, QATP_MAX_SEQ_LENGTH_RECORD, &at));
        QAT_TRY(qatp_put_u64(w, (uint64_t)c->max_seq_length));
        QAT_TRY(qatp_end(w, at));
    }
    if (!c->known)
        return QAT_OK;
    const size_t reason = strnlen(c->unsupported, QATP_POOLING_REASON_MAX);
    size_t mark;
    QAT_TRY(qatp_begin(w, QATP_BYTES, QATP_POOLING_RECORD, &mark));
    QAT_TRY(qatp_put_u32(w, reason ? QATP_POOLING_UNSUPPORTED : (uint32_t)c->pooling));
    QAT_TRY(qatp_put_u32(w, c->flags));
    if (reason)
        QAT_TRY(qatp_put(w, c->unsupported, reason));
    return qatp_end(w, mark);
}
