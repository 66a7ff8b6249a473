/* The public packed-model API (include/qat/packed.h): load, settings, info,
 * forward. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"
#include "packed_model/packed_model.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .qatp reader copies little-endian floats directly; port pm_load.c first"
#endif

QAT_API qat_status qat_packed_model_load_memory(const void *data, size_t size, qat_packed_model **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_packed_model_load_memory: NULL out");
    *out = NULL;
    QAT_CHECK_ARG(data != NULL || size == 0, "qat_packed_model_load_memory: NULL data");
    qatp_file f;
    QAT_TRY(qatp_parse(data, size, &f));
    qat_status st = pm_from_file(&f, size, out);
    qatp_file_clear(&f);
    return st;
}

QAT_API qat_status qat_packed_model_load(const char *path, qat_packed_model **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_packed_model_load: NULL out");
    *out = NULL;
    QAT_CHECK_ARG(path != NULL, "qat_packed_model_load: NULL path");
    qat_mapped_file mf;
    QAT_TRY(qat_file_map(path, &mf));
    qat_status st = qat_packed_model_load_memory(mf.data, mf.size, out);
    qat_file_unmap(&mf);
    if (st != QAT_OK)
        return qat_fail_prefix(st, "%s", path);
    return QAT_OK;
}

QAT_API void qat_packed_model_free(qat_packed_model *model)
{
    pm_free(model);
}

QAT_API qat_status qat_packed_isa_resolve(int64_t isa, int64_t *resolved, const char **name)
{
    QAT_CHECK_ARG(isa >= QAT_PACKED_ISA_AUTO && isa < QAT_PACKED_ISA_COUNT,
                  "qat_packed_isa_resolve: ISA %lld outside [0, %d]", (long long)isa, QAT_PACKED_ISA_COUNT - 1);
    qat_packed_kernel k;
    QAT_TRY(qat_packed_kernel_init(&k, (qat_packed_isa)isa, 1));
    if (resolved)
        *resolved = k.isa;
    if (name)
        *name = qat_packed_isa_name(k.isa);
    return QAT_OK;
}

QAT_API qat_status qat_packed_isa_name_of(int64_t isa, const char **name)
{
    QAT_CHECK_ARG(name != NULL, "qat_packed_isa_name_of: NULL name");
    QAT_CHECK_ARG(isa >= QAT_PACKED_ISA_AUTO && isa < QAT_PACKED_ISA_COUNT,
                  "qat_packed_isa_name_of: ISA %lld outside [0, %d]", (long long)isa, QAT_PACKED_ISA_COUNT - 1);
    *name = qat_packed_isa_name((qat_packed_isa)isa);
    return QAT_OK;
}

QAT_API qat_status qat_packed_model_set_int(qat_packed_model *m, qat_packed_param param, int64_t value)
{
    QAT_CHECK_ARG(m != NULL, "qat_packed_model_set_int: NULL model");
    switch (param) {
    case QAT_PACKED_THREADS:
        QAT_CHECK_ARG(value >= 0 && value <= 1024, "qat_packed_model_set_int: threads %lld outside [0, 1024]",
                      (long long)value);
        QAT_TRY(qat_context_set_int(m->ctx, QAT_CTX_THREADS, value));
        m->threads_setting = value;
        return QAT_OK;
    case QAT_PACKED_ISA: {
        QAT_CHECK_ARG(value >= QAT_PACKED_ISA_AUTO && value < QAT_PACKED_ISA_COUNT,
                      "qat_packed_model_set_int: ISA %lld outside [0, %d]", (long long)value, QAT_PACKED_ISA_COUNT - 1);
        qat_packed_kernel k;
        QAT_TRY(qat_packed_kernel_init_on(&k, &m->cpu, (qat_packed_isa)value, 1));
        m->isa_setting = value;
        return QAT_OK;
    }
    }
    return qat_fail(QAT_ERR_INVALID_ARGUMENT, "qat_packed_model_set_int: unknown parameter %d", (int)param);
}

QAT_API qat_status qat_packed_model_get_int(const qat_packed_model *m, qat_packed_param param, int64_t *value)
{
    QAT_CHECK_ARG(m != NULL && value != NULL, "qat_packed_model_get_int: NULL argument");
    switch (param) {
    case QAT_PACKED_THREADS: *value = m->threads_setting; return QAT_OK;
    case QAT_PACKED_ISA: *value = m->isa_setting; return QAT_OK;
    }
    return qat_fail(QAT_ERR_INVALID_ARGUMENT, "qat_packed_model_get_int: unknown parameter %d", (int)param);
}

QAT_API qat_status qat_packed_model_info(const qat_packed_model *m, qat_packed_info key, int64_t *value)
{
    QAT_CHECK_ARG(m != NULL && value != NULL, "qat_packed_model_info: NULL argument");
    const qat_model_dims *d = &m->dims;
    switch (key) {
    case QAT_PACKED_INFO_FORMAT_VERSION: *value = QATP_VERSION; return QAT_OK;
    case QAT_PACKED_INFO_ARCH: *value = d->arch; return QAT_OK;
    case QAT_PACKED_INFO_TASK: *value = m->task; return QAT_OK;
    case QAT_PACKED_INFO_VOCAB_SIZE: *value = d->vocab_size; return QAT_OK;
    case QAT_PACKED_INFO_HIDDEN_SIZE: *value = d->hidden_size; return QAT_OK;
    case QAT_PACKED_INFO_NUM_LAYERS: *value = d->num_layers; return QAT_OK;
    case QAT_PACKED_INFO_NUM_HEADS: *value = d->num_heads; return QAT_OK;
    case QAT_PACKED_INFO_INTERMEDIATE_SIZE: *value = d->intermediate_size; return QAT_OK;
    case QAT_PACKED_INFO_MAX_POSITIONS: *value = d->max_position_embeddings; return QAT_OK;
    case QAT_PACKED_INFO_NUM_LABELS: *value = pm_classes(m); return QAT_OK;
    case QAT_PACKED_INFO_PAD_TOKEN_ID: *value = d->pad_token_id; return QAT_OK;
    case QAT_PACKED_INFO_FILE_BYTES: *value = (int64_t)m->file_bytes; return QAT_OK;
    case QAT_PACKED_INFO_INTEGER_LINEARS: *value = m->integer_linears; return QAT_OK;
    case QAT_PACKED_INFO_HAS_TOKENIZER: *value = m->tokenizer != NULL; return QAT_OK;
    case QAT_PACKED_INFO_HAS_LABEL_NAMES: *value = m->label_names != NULL; return QAT_OK;
    case QAT_PACKED_INFO_ISA: {
        qat_packed_kernel k;
        QAT_TRY(qat_packed_kernel_init_on(&k, &m->cpu, (qat_packed_isa)m->isa_setting, 1));
        *value = k.isa;
        return QAT_OK;
    }
    }
    return qat_fail(QAT_ERR_INVALID_ARGUMENT, "qat_packed_model_info: unknown key %d", (int)key);
}

QAT_API qat_status qat_packed_model_quant(const qat_packed_model *m, const char **quant)
{
    QAT_CHECK_ARG(m != NULL && quant != NULL, "qat_packed_model_quant: NULL argument");
    *quant = m->quant;
    return QAT_OK;
}

QAT_API qat_status qat_packed_model_tokenizer(const qat_packed_model *m, const qat_tokenizer **tokenizer)
{
    QAT_CHECK_ARG(m != NULL && tokenizer != NULL, "qat_packed_model_tokenizer: NULL argument");
    *tokenizer = m->tokenizer;
    if (!m->tokenizer)
        return qat_fail(QAT_ERR_NOT_FOUND, "this packed model has no embedded tokenizer");
    return QAT_OK;
}

QAT_API qat_status qat_packed_model_label_name(const qat_packed_model *m, size_t index, const char **name)
{
    QAT_CHECK_ARG(m != NULL && name != NULL, "qat_packed_model_label_name: NULL argument");
    *name = NULL;
    if (!m->label_names)
        return qat_fail(QAT_ERR_NOT_FOUND, "this packed model stores no label names");
    QAT_CHECK_ARG(index < (size_t)m->num_labels, "qat_packed_model_label_name: index %zu >= %lld labels", index,
                  (long long)m->num_labels);
    *name = m->label_names[index];
    return QAT_OK;
}

QAT_API qat_status qat_packed_model_logits_size(const qat_packed_model *m, int64_t batch, int64_t seq_len,
                                                size_t *count)
{
    QAT_CHECK_ARG(m != NULL && count != NULL, "qat_packed_model_logits_size: NULL argument");
    QAT_CHECK_ARG(batch > 0 && seq_len > 0 && batch <= (1 << 20) && seq_len <= (1 << 20),
                  "qat_packed_model_logits_size: batch %lld x seq_len %lld out of range", (long long)batch,
                  (long long)seq_len);
    /* sequence classification: one row of logits per sequence */
    *count = (size_t)(m->task == QAT_TASK_SEQUENCE_CLASSIFICATION ? batch : batch * seq_len) * (size_t)pm_classes(m);
    return QAT_OK;
}

QAT_API qat_status qat_packed_model_forward(qat_packed_model *m, const int32_t *input_ids,
                                            const int32_t *attention_mask, const int32_t *token_type_ids,
                                            int64_t batch, int64_t seq_len, float *logits, size_t logits_count)
{
    QAT_CHECK_ARG(m != NULL && input_ids != NULL && logits != NULL, "qat_packed_model_forward: NULL argument");
    size_t need;
    QAT_TRY(qat_packed_model_logits_size(m, batch, seq_len, &need));
    QAT_CHECK_ARG(logits_count == need, "qat_packed_model_forward: logits_count %zu, expected %zu", logits_count,
                  need);
    return pm_forward(m, input_ids, attention_mask, token_type_ids, batch, seq_len, logits);
}

QAT_API qat_status qat_packed_model_pooling(const qat_packed_model *m, qat_pooling *pooling, uint32_t *flags)
{
    QAT_CHECK_ARG(m != NULL && pooling != NULL && flags != NULL, "qat_packed_model_pooling: NULL argument");
    qat_pooling p = QAT_POOLING_MODEL;
    uint32_t f = 0;
    QAT_TRY(qat_pooling_resolve(&m->pooling_cfg, &p, &f, "qat_packed_model_pooling"));
    *pooling = p;
    *flags = f;
    return QAT_OK;
}

QAT_API qat_status qat_packed_model_max_seq_length(const qat_packed_model *m, int64_t *max_seq_length)
{
    QAT_CHECK_ARG(m != NULL && max_seq_length != NULL, "qat_packed_model_max_seq_length: NULL argument");
    *max_seq_length = m->pooling_cfg.max_seq_length;
    return QAT_OK;
}

QAT_API qat_status qat_packed_model_embed(qat_packed_model *m, const int32_t *input_ids,
                                          const int32_t *attention_mask, const int32_t *token_type_ids,
                                          int64_t batch, int64_t seq_len, qat_pooling pooling, uint32_t flags,
                                          float *embeddings, size_t count)
{
    QAT_CHECK_ARG(m != NULL && input_ids != NULL && embeddings != NULL, "qat_packed_model_embed: NULL argument");
    QAT_CHECK_ARG(batch > 0 && seq_len > 0 && batch <= (1 << 20) && seq_len <= (1 << 20),
                  "qat_packed_model_embed: batch %lld x seq_len %lld out of range", (long long)batch,
                  (long long)seq_len);
    QAT_TRY(qat_pooling_check_args(pooling, flags, "qat_packed_model_embed"));
    const size_t need = (size_t)batch * (size_t)m->dims.hidden_size;
    QAT_CHECK_ARG(count >= need, "qat_packed_model_embed: the embeddings buffer holds %zu floats, %zu needed", count,
                  need);
    for (int64_t i = 0; attention_mask && i < batch * seq_len; i++)
        QAT_CHECK_ARG(attention_mask[i] == 0 || attention_mask[i] == 1,
                      "qat_packed_model_embed: attention_mask[%lld] is %d, not 0 or 1", (long long)i,
                      attention_mask[i]);
    QAT_TRY(qat_pooling_resolve(&m->pooling_cfg, &pooling, &flags, "qat_packed_model_embed"));
    return pm_embed(m, input_ids, attention_mask, token_type_ids, batch, seq_len, pooling, flags, embeddings);
}
