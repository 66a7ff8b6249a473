/* The model's own pooling in a .qatp file: the optional BYTES record
 * "pooling" (formats/qatp_schema.h). Files without it (older files, models
 * that had none) pool by the mean without normalisation. */
#include <string.h>

#include "core/error.h"
#include "formats/qatp_schema.h"
#include "packed_model/packed_model.h"

qat_status pm_load_pooling(const qatp_file *f, qat_packed_model *m)
{
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
