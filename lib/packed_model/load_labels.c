/* The label names of a classification model in a .qatp file: the optional
 * BYTES record "labels" (formats/qatp_schema.h), u32 count then, per label,
 * a u32 byte length and the name's UTF-8 bytes, packed without padding.
 * Files written before the record existed, and models without names, have
 * none: the loader then leaves m->label_names NULL and the getter says so. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/qatp_schema.h"
#include "model/model.h"
#include "packed_model/packed_model.h"

qat_status pm_load_labels(const qatp_file *f, qat_packed_model *m)
{
    if (!qatp_has(f, QATP_LABELS_RECORD))
        return QAT_OK;
    const qatp_record *r;
    QAT_TRY(qatp_find(f, QATP_LABELS_RECORD, QATP_BYTES, &r));
    if (!qat_task_has_labels(m->task))
        return qat_fail(QAT_ERR_FORMAT, "packed model: record 'labels' in a model without a classification head");
    if (r->size < 4)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record 'labels' has %llu bytes, too short for its count",
                        (unsigned long long)r->size);
    const uint64_t count = qatp_u32(r->payload);
    if (count != (uint64_t)m->num_labels)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record 'labels' has %llu names for %lld labels",
                        (unsigned long long)count, (long long)m->num_labels);
    /* First pass: framing and the names' contents, before any allocation. */
    uint64_t at = 4, text = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (r->size - at < 4)
            return qat_fail(QAT_ERR_FORMAT, "packed model: record 'labels' ends inside the length of name %llu",
                            (unsigned long long)i);
        const uint64_t n = qatp_u32(r->payload + at);
        at += 4;
        if (n > r->size - at)
            return qat_fail(QAT_ERR_FORMAT,
                            "packed model: record 'labels': name %llu of %llu bytes runs past the record's end",
                            (unsigned long long)i, (unsigned long long)n);
        const char *why = qatp_label_name_problem((const char *)r->payload + at, (size_t)n);
        if (why)
            return qat_fail(QAT_ERR_FORMAT, "packed model: record 'labels': name %llu %s", (unsigned long long)i,
                            why);
        at += n;
        text += n + 1;
    }
    if (at != r->size)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record 'labels' has %llu bytes after its last name",
                        (unsigned long long)(r->size - at));
    /* One block for the NUL-terminated copies, one for the pointers. */
    m->label_text = malloc((size_t)text);
    m->label_names = calloc((size_t)count ? (size_t)count : 1, sizeof *m->label_names);
    if (!m->label_text || !m->label_names)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed model: out of memory for %llu label names",
                        (unsigned long long)count);
    char *dst = m->label_text;
    at = 4;
    for (uint64_t i = 0; i < count; i++) {
        const size_t n = qatp_u32(r->payload + at);
        memcpy(dst, r->payload + at + 4, n);
        dst[n] = '\0';
        m->label_names[i] = dst;
        dst += n + 1;
        at += 4 + n;
    }
    return QAT_OK;
}
