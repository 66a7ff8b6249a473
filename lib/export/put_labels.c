/* The label names of a classification model as the optional BYTES record
 * "labels" of a .qatp file (formats/qatp_schema.h, docs/formats.md). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "export/export_internal.h"
#include "formats/qatp_schema.h"
#include "model/model.h"

qat_status pm_put_labels(qatp_writer *w, const qat_model *m)
{
    if (!qat_task_has_labels(m->task) || !m->label_names)
        return QAT_OK;
    if (m->n_label_names != (size_t)m->num_labels)
        return qat_fail(QAT_ERR_STATE, "export: the model has %zu label names for %lld labels", m->n_label_names,
                        (long long)m->num_labels);
    for (size_t i = 0; i < m->n_label_names; i++) {
        const char *why = qatp_label_name_problem(m->label_names[i], strlen(m->label_names[i]));
        if (why)
            return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                            "export: label %zu name '%.64s' %s (rename it with qat_model_set_label_names)", i,
                            m->label_names[i], why);
    }
    size_t mark;
    QAT_TRY(qatp_begin(w, QATP_BYTES, QATP_LABELS_RECORD, &mark));
    QAT_TRY(qatp_put_u32(w, (uint32_t)m->n_label_names));
    for (size_t i = 0; i < m->n_label_names; i++) {
        size_t n = strlen(m->label_names[i]);
        QAT_TRY(qatp_put_u32(w, (uint32_t)n));
        QAT_TRY(qatp_put(w, m->label_names[i], n));
    }
    return qatp_end(w, mark);
}
