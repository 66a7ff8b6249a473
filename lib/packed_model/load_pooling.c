/* The model's own pooling in a .qatp file: the optional BYTES record
 * "pooling" (formats/qatp_schema.h). Files without it (older files, models
 * that had none) pool by the mean without normalisation. The optional
 * INT64 record "max_seq_length" is where the embeddings' truncation goes. */
#include <string.h>

#include "core/error.h"
#include "formats/qatp_schema.h"
#include "packed_model/packed_model.h"

static qat_status load_max_seq_length(const qatp_file *f, qat_pooling_config *c)
{
    if (!qatp_has(f, QATP_MAX_SEQ_LENGTH_RECORD))
        return QAT_OK;
    const qatp_record *r;
    QAT_TRY(qatp_find(f, QATP_MAX_SEQ_LENGTH_RECORD, QATP_I64, &r));
    if (r->size != 8)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record '%s' has %llu bytes, expected 8",
                        QATP_MAX_SEQ_LENGTH_RECORD, (unsigned long long)r->size);
    const uint64_t n = qatp_u64(r->payload);
    if (n < 1 || n > QAT_POOL_MAX_SEQ_LENGTH)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record '%s' is %llu, outside 1..%d", QATP_MAX_SEQ_LENGTH_RECORD,
                        (unsigned long long)n, QAT_POOL_MAX_SEQ_LENGTH);
    c->max_seq_length = (int64_t)n;
    return QAT_OK;
}

qat_status pm_load_pooling(const qatp_file *f, qat_packed_model *m)
{
    QAT_TRY(load_max_seq_length(f, &m->pooling_cfg));
    if (!qatp_has(f, QATP_POOLING_RECORD))
        return QAT_OK;
    const qatp_record *r;
    QAT_TRY(qatp_find(f, QATP_POOLING_RECORD, QATP_BYTES, &r));
    if (r->size < 8)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record 'pooling' has %llu bytes, 8 needed",
                        (unsigned long long)r->size);
    const uint32_t mode = qatp_u32(r->payload), flags = qatp_u32(r->payload + 4);
    const uint64_t extra = r->size - 8;
    if (mode > QATP_POOLING_UNSUPPORTED)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record 'pooling': unknown mode %u", (unsigned)mode);
    if (flags & ~QAT_EMBED_NORMALIZE)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record 'pooling': unknown flags 0x%x", (unsigned)flags);
    if (mode == QATP_POOLING_UNSUPPORTED ? extra == 0 || extra > QATP_POOLING_REASON_MAX : extra != 0)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record 'pooling' has %llu bytes after its mode and flags",
                        (unsigned long long)extra);
    qat_pooling_config *c = &m->pooling_cfg;
    c->known = 1;
    c->pooling = mode == QATP_POOLING_UNSUPPORTED ? QAT_POOLING_MEAN : (qat_pooling)mode;
    c->flags = flags;
    if (mode == QATP_POOLING_UNSUPPORTED) {
        memcpy(c->unsupported, r->payload + 8, (size_t)extra);
        c->unsupported[extra] = '\0';
        for (size_t i = 0; i < (size_t)extra; i++) /* shown in messages: printable ASCII only */
            if ((unsigned char)c->unsupported[i] < 0x20 || (unsigned char)c->unsupported[i] == 0x7f)
                return qat_fail(QAT_ERR_FORMAT, "packed model: record 'pooling': control byte in its reason");
    }
    return QAT_OK;
}
