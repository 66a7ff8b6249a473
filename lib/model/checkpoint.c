/* Loading Hugging Face checkpoints into the model by name, and saving the
 * model as save_pretrained does (plus the quantizer state). */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/dispatch.h"
#include "core/options_version.h"
#include "core/file_io.h"
#include "core/json.h"
#include "formats/hf_config.h"
#include "formats/st_modules.h"
#include "formats/hf_dir.h"
#include "formats/safetensors.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/quantize.h"

#define QUANTIZERS_FILE "qat_quantizers.safetensors"
#define QAT_CONFIG_FILE "qat_config.json"

QAT_API qat_status qat_load_options_init(qat_load_options *o, uint32_t version)
{
    QAT_CHECK_ARG(o != NULL, "qat_load_options_init: NULL options");
    QAT_TRY(qat_options_version_check("qat_load_options_init", version, 1, QAT_LOAD_OPTIONS_VERSION));
    /* A program built against version 1 has the shorter struct. */
    memset(o, 0, version == 1 ? offsetof(qat_load_options, flags) : sizeof *o);
    o->version = version;
    o->task = QAT_TASK_MLM;
    return QAT_OK;
}

void qat_model_clear_report(qat_model *m)
{
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < m->report_count[k]; i++)
            free(m->report[k][i]);
        free(m->report[k]);
        m->report[k] = NULL;
        m->report_count[k] = 0;
    }
}

static qat_status report_add(qat_model *m, qat_load_report kind, const char *name)
{
    char **grown = realloc(m->report[kind], (m->report_count[kind] + 1) * sizeof *grown);
    if (!grown)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "load: out of memory");
    m->report[kind] = grown;
    grown[m->report_count[kind]] = strdup(name);
    if (!grown[m->report_count[kind]])
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "load: out of memory");
    m->report_count[kind]++;
    return QAT_OK;
}

QAT_API qat_status qat_model_load_report_count(const qat_model *m, qat_load_report kind, size_t *count)
{
    QAT_CHECK_ARG(m != NULL && count != NULL, "qat_model_load_report_count: NULL argument");
    QAT_CHECK_ARG(kind >= QAT_LOAD_MISSING && kind <= QAT_LOAD_SKIPPED, "unknown load report kind %d", (int)kind);
    *count = m->report_count[kind];
    return QAT_OK;
}

QAT_API qat_status qat_model_load_report_name(const qat_model *m, qat_load_report kind, size_t index,
                                              const char **name)
{
    QAT_CHECK_ARG(m != NULL && name != NULL, "qat_model_load_report_name: NULL argument");
    QAT_CHECK_ARG(kind >= QAT_LOAD_MISSING && kind <= QAT_LOAD_SKIPPED, "unknown load report kind %d", (int)kind);
    QAT_CHECK_ARG(index < m->report_count[kind], "load report: index %zu >= %zu", index, m->report_count[kind]);
    *name = m->report[kind][index];
    return QAT_OK;
}

static qat_status upload_tensor(qat_model *m, size_t index, const qat_tensor *t)
{
    const qat_param *p = &m->params[index];
    if (!qat_checkpoint_fits(p, t))
        return qat_fail(QAT_ERR_FORMAT, "checkpoint tensor '%s' has %d dims / %lld values, the model's %s has %lld",
                        t->name, t->ndim, (long long)t->numel, p->name, (long long)p->numel);
    for (int64_t i = 0; i < t->numel; i++)
        if (!isfinite(t->data[i]))
            return qat_fail(QAT_ERR_FORMAT, "checkpoint tensor '%s' holds %s at index %lld: the weights are damaged "
                            "(or were saved after training diverged)", t->name,
                            isnan(t->data[i]) ? "NaN" : "an infinity", (long long)i);
    qat_context *ctx = m->ctx;
    qat_model_weights_changed(m);
    return qat_context_backend_error(
        ctx, ctx->backend.ops->upload(ctx->backend_state, model_w(m, index), t->data, (size_t)t->numel * sizeof(float)),
        "loading parameters");
}

/* The quant config saved next to the weights, if any, and how many
 * quantizer-state tensors qat_quantizers.safetensors holds with it
 * (*steps = -1 when qat_config.json does not say: an older libqat). */
static qat_status saved_quant(const char *dir, char *out, size_t cap, int *found, int64_t *steps)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, QAT_CONFIG_FILE);
    *found = 0;
    *steps = -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return QAT_OK;
    json_object *root = json_object_from_file(path);
    json_object *q = NULL, *n = NULL;
    if (!root || !json_object_object_get_ex(root, "quant", &q) || !json_object_is_type(q, json_type_string)) {
        json_object_put(root);
        return qat_fail(QAT_ERR_FORMAT, "%s: expected a JSON object with a \"quant\" string", path);
    }
    snprintf(out, cap, "%s", json_object_get_string(q));
    if (json_object_object_get_ex(root, "quantizer_steps", &n) && json_object_is_type(n, json_type_int))
        *steps = json_object_get_int64(n);
    json_object_put(root);
    *found = 1;
    return QAT_OK;
}

static qat_status apply_tensors(qat_model *m, const qat_tensor_set *set, unsigned char *loaded, int report)
{
    for (size_t i = 0; i < qat_tensor_set_count(set); i++) {
        const qat_tensor *t = qat_tensor_set_at(set, i);
        size_t index;
        if (!qat_checkpoint_map_name(m, t->name, &index)) {
            if (report)
                QAT_TRY(report_add(m, QAT_LOAD_UNEXPECTED, t->name));
            continue;
        }
        /* A tied decoder is the word table: HF stores both, equal. */
        if (loaded[index] && index == m->word.w)
            continue;
        QAT_TRY(upload_tensor(m, index, t));
        loaded[index] = 1;
    }
    return QAT_OK;
}

/* Loads the tensors of `set` and the quantizer state of `dir`; expected_steps
 * > 0: qat_config.json says the state is there (its absence is an error
 * unless partial: the steps would silently start afresh). */
static qat_status load_into(qat_model *m, const char *dir, const qat_tensor_set *set, int64_t expected_steps,
                            int partial)
{
    unsigned char *loaded = calloc(m->n_params ? m->n_params : 1, 1);
    if (!loaded)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "load: out of memory");
    qat_status st = apply_tensors(m, set, loaded, 1);
    if (st == QAT_OK) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, QUANTIZERS_FILE);
        struct stat sb;
        if (stat(path, &sb) != 0 && expected_steps > 0 && !partial) {
            st = qat_fail(QAT_ERR_FORMAT, "%s records %lld tensors of quantizer state (qat_config.json) but %s is "
                          "missing: the LSQ steps would start afresh (a partial load accepts that)", dir,
                          (long long)expected_steps, QUANTIZERS_FILE);
        } else if (stat(path, &sb) == 0) {
            qat_tensor_set *steps = NULL;
            st = qat_tensor_set_create(&steps);
            if (st == QAT_OK)
                st = qat_safetensors_read(path, 0, steps);
            if (st == QAT_OK)
                st = apply_tensors(m, steps, loaded, 1);
            qat_tensor_set_free(steps);
        }
    }
    for (size_t i = 0; st == QAT_OK && i < qat_tensor_set_skipped_count(set); i++)
        st = report_add(m, QAT_LOAD_SKIPPED, qat_tensor_set_skipped(set, i));
    for (size_t i = 0; st == QAT_OK && i < m->n_params; i++)
        if (!loaded[i] && !m->params[i].is_step)
            st = report_add(m, QAT_LOAD_MISSING, m->params[i].name);
    /* Quantizer state that came with the checkpoint keeps its values; the
     * rest starts from the loaded weights (weight steps) or the first batch. */
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i].ready = loaded[i] && m->params[i].is_step;
    if (st == QAT_OK)
        st = qat_model_init_weight_steps(m);
    qat_model_weights_changed(m);
    free(loaded);
    return st;
}

QAT_API qat_status qat_model_load(qat_context *ctx, const char *dir, const qat_load_options *options,
                                  qat_model **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_model_load: NULL out");
    *out = NULL;
    QAT_CHECK_ARG(ctx != NULL && dir != NULL, "qat_model_load: NULL context or directory");
    qat_load_options defaults;
    if (!options) {
        qat_load_options_init(&defaults, QAT_LOAD_OPTIONS_VERSION);
        options = &defaults;
    }
    QAT_TRY(qat_options_version_check("qat_model_load", options->version, 1, QAT_LOAD_OPTIONS_VERSION));
    QAT_CHECK_ARG(options->task == QAT_TASK_MLM || qat_task_has_labels(options->task),
                  "qat_model_load: unknown task %d", (int)options->task);
    const uint32_t flags = options->version >= 2 ? options->flags : 0;
    QAT_CHECK_ARG((flags & ~(uint32_t)QAT_LOAD_PARTIAL) == 0, "qat_model_load: unknown flags 0x%x", flags);
    const int partial = (flags & QAT_LOAD_PARTIAL) != 0;
    char quant_text[QAT_QUANT_CONFIG_MAX_STRING + 1] = "FP32", saved[QAT_QUANT_CONFIG_MAX_STRING + 1] = "";
    int have_saved = 0;
    int64_t saved_steps = -1;
    QAT_TRY(saved_quant(dir, saved, sizeof saved, &have_saved, &saved_steps));
    if (have_saved)
        snprintf(quant_text, sizeof quant_text, "%s", saved);
    if (options->quant)
        snprintf(quant_text, sizeof quant_text, "%s", options->quant);
    /* The saved steps are expected only under the config they were saved with. */
    int64_t expected_steps = have_saved && strcmp(quant_text, saved) == 0 ? saved_steps : -1;
    qat_quant_config *quant = NULL;
    QAT_TRY(qat_quant_config_parse(quant_text, &quant));

    qat_model_dims dims;
    qat_hf_labels labels = {0, NULL};
    qat_tensor_set *set = NULL;
    qat_status st = qat_formats_hf_dir_read(dir, 0, &dims, &labels, &set);
    qat_pooling_config pooling;
    if (st == QAT_OK)
        st = qat_formats_st_pooling_read(dir, dims.hidden_size, &pooling);
    int64_t num_labels = options->num_labels ? options->num_labels : (labels.count ? (int64_t)labels.count : 2);
    qat_model *m = NULL;
    if (st == QAT_OK) {
        qat_model_options check;
        qat_model_options_init(&check, QAT_MODEL_OPTIONS_VERSION);
        check.arch = dims.arch;
        check.task = options->task;
        check.vocab_size = dims.vocab_size;
        check.hidden_size = dims.hidden_size;
        check.num_layers = dims.num_layers;
        check.num_heads = dims.num_heads;
        check.intermediate_size = dims.intermediate_size;
        check.max_position_embeddings = dims.max_position_embeddings;
        check.type_vocab_size = dims.type_vocab_size;
        check.pad_token_id = dims.pad_token_id;
        check.num_labels = num_labels;
        check.layer_norm_eps = dims.layer_norm_eps;
        check.tie_word_embeddings = dims.tie_word_embeddings;
        check.hidden_dropout = dims.hidden_dropout_prob;
        check.attention_dropout = dims.attention_dropout_prob;
        check.classifier_dropout = dims.hidden_dropout_prob;
        /* The tensors against config.json before the model's memory is
         * taken: a config that describes more than the weights hold fails
         * here, not after allocating it. */
        st = qat_model_options_check(&check);
        if (st == QAT_OK)
            st = qat_checkpoint_check(&dims, options->task, num_labels, set, partial);
        if (st == QAT_OK)
            st = qat_model_create_loading(ctx, &check, set, &m);
        if (st == QAT_OK) {
            m->dims = dims; /* keep model_type, bos/eos ids... as read */
            m->pooling_cfg = pooling;
            m->dims.num_labels = qat_task_has_labels(options->task) ? num_labels : 0;
        }
    }
    if (st == QAT_OK)
        st = qat_model_set_quant(m, quant);
    if (st == QAT_OK)
        st = load_into(m, dir, set, expected_steps, partial);
    /* id2label names, unless they are transformers' LABEL_<i> placeholders */
    if (st == QAT_OK && qat_task_has_labels(options->task) && labels.count == (size_t)num_labels &&
        !(labels.count > 0 && strncmp(labels.names[0], "LABEL_", 6) == 0))
        st = qat_model_set_label_names(m, (const char *const *)labels.names, labels.count);
    qat_hf_labels_clear(&labels);
    qat_tensor_set_free(set);
    qat_quant_config_free(quant);
    if (st != QAT_OK) {
        qat_model_free(m);
        return qat_fail_prefix(st, "loading %s", dir);
    }
    *out = m;
    return QAT_OK;
}

static const char *architecture_name(const qat_model *m, char *buf, size_t cap)
{
    const char *type = m->dims.model_type;
    const char *family = strcmp(type, "camembert") == 0     ? "Camembert"
                         : strcmp(type, "xlm-roberta") == 0 ? "XLMRoberta"
                         : strcmp(type, "bert") == 0        ? "Bert"
                                                            : "Roberta";
    snprintf(buf, cap, "%sFor%s", family,
             m->task == QAT_TASK_MLM                          ? "MaskedLM"
             : m->task == QAT_TASK_SEQUENCE_CLASSIFICATION ? "SequenceClassification"
                                                              : "TokenClassification");
    return buf;
}

/* The model's parameters as a set of borrowed views (downloaded to host
 * memory first for device backends; *host keeps that copy alive). */
static qat_status parameter_views(const qat_model *m, int steps, qat_tensor_set **out, float **host)
{
    *out = NULL;
    *host = malloc(m->total * sizeof(float));
    if (!*host)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "save: out of memory");
    QAT_TRY(qat_context_backend_error(
        m->ctx, m->ctx->backend.ops->download(m->ctx->backend_state, *host, m->w, m->total * sizeof(float)), "save"));
    QAT_TRY(qat_tensor_set_create(out));
    for (size_t i = 0; i < m->n_params; i++) {
        const qat_param *p = &m->params[i];
        if (p->is_step != steps)
            continue;
        QAT_TRY(qat_tensor_set_add_view(*out, p->name, p->ndim, p->shape, *host + p->offset));
    }
    return QAT_OK;
}

static qat_status write_quant_config(const qat_model *m, const char *dir, size_t steps)
{
    char text[QAT_QUANT_CONFIG_MAX_STRING + 1], path[4096];
    QAT_TRY(qat_quant_config_to_string(&m->quant, text, sizeof text, NULL));
    json_object *root = json_object_new_object();
    json_object_object_add(root, "quant", json_object_new_string(text));
    json_object_object_add(root, "libqat_version", json_object_new_string(qat_version()));
    /* what qat_quantizers.safetensors holds: its absence is then detected */
    json_object_object_add(root, "quantizer_steps", json_object_new_int64((int64_t)steps));
    snprintf(path, sizeof path, "%s/%s", dir, QAT_CONFIG_FILE);
    qat_status st = qat_json_write_file(path, root);
    json_object_put(root);
    return st;
}

QAT_API qat_status qat_model_save(const qat_model *m, const char *dir)
{
    QAT_CHECK_ARG(m != NULL && dir != NULL, "qat_model_save: NULL model or directory");
    QAT_TRY(qat_mkdirs(dir));
    char path[4096], arch[64];
    snprintf(path, sizeof path, "%s/config.json", dir);
    qat_model_dims dims = m->dims;
    dims.num_labels = qat_task_has_labels(m->task) ? m->num_labels : 0;
    qat_hf_labels names = {m->n_label_names, m->label_names};
    QAT_TRY(qat_hf_config_write(path, &dims, architecture_name(m, arch, sizeof arch), m->label_names ? &names : NULL));
    QAT_TRY(qat_formats_st_pooling_write(dir, m->dims.hidden_size, &m->pooling_cfg));
    qat_tensor_set *set = NULL;
    float *host = NULL;
    qat_status st = parameter_views(m, 0, &set, &host);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (st == QAT_OK)
        st = qat_safetensors_write(path, set, NULL, 0);
    qat_tensor_set_free(set);
    free(host);
    if (st != QAT_OK)
        return st;
    int quantized = 0;
    for (int c = 0; c < QAT_CLASS_COUNT; c++)
        quantized |= m->quant.cls[c].algo != QAT_ALGO_NONE;
    if (!quantized)
        return QAT_OK;
    /* The quantizer state first, then qat_config.json, which says it exists. */
    st = parameter_views(m, 1, &set, &host);
    size_t steps = st == QAT_OK ? qat_tensor_set_count(set) : 0;
    snprintf(path, sizeof path, "%s/%s", dir, QUANTIZERS_FILE);
    if (st == QAT_OK && steps > 0)
        st = qat_safetensors_write(path, set, NULL, 0);
    qat_tensor_set_free(set);
    free(host);
    return st == QAT_OK ? write_quant_config(m, dir, steps) : st;
}
