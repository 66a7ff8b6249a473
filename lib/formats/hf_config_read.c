/* config.json -> qat_model_dims. Every refusal names the field, what was
 * found and what is accepted, since users meet these messages when they
 * point libqat at an arbitrary Hub checkpoint. */
#include "formats/hf_config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json.h"

typedef struct cfg_reader {
    json_object *root;
    const char *label;
} cfg_reader;

static const struct {
    const char *model_type;
    const char *arch_prefix; /* of architectures[0], to infer a missing model_type */
    qat_arch kind;
} known_types[] = {
    {"camembert", "Camembert", QAT_ARCH_ROBERTA},
    {"xlm-roberta", "XLMRoberta", QAT_ARCH_ROBERTA},
    {"roberta", "Roberta", QAT_ARCH_ROBERTA},
    {"bert", "Bert", QAT_ARCH_BERT},
};
#define N_KNOWN (sizeof known_types / sizeof known_types[0])

/* Looks `key` up; *v is NULL when absent. */
static json_object *field(const cfg_reader *r, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(r->root, key, &v) ? v : NULL;
}

static qat_status wrong_type(const cfg_reader *r, const char *key, json_object *v,
                             const char *expected)
{
    return qat_fail(QAT_ERR_FORMAT, "%s: field \"%s\" must be %s, found %s", r->label, key, expected,
                    qat_json_type_name(json_object_get_type(v)));
}

/* An integer field in [lo, hi]. Absent: *out = def when !required. JSON
 * null: *out = null_value when null_ok. */
static qat_status get_int(const cfg_reader *r, const char *key, int required, int64_t def,
                          int64_t lo, int64_t hi, int null_ok, int64_t null_value, int64_t *out)
{
    json_object *v = field(r, key);
    if (!v && !json_object_object_get_ex(r->root, key, NULL)) {
        if (required)
            return qat_fail(QAT_ERR_FORMAT, "%s: required field \"%s\" is missing", r->label, key);
        *out = def;
        return QAT_OK;
    }
    if (!v) { /* present and null */
        if (null_ok) {
            *out = null_value;
            return QAT_OK;
        }
        return wrong_type(r, key, v, "an integer");
    }
    if (!json_object_is_type(v, json_type_int))
        return wrong_type(r, key, v, "an integer");
    /* json-c saturates out-of-range integers at INT64_MIN/MAX, which the
     * bounds below (well inside int64) then refuse. */
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi)
        return qat_fail(QAT_ERR_FORMAT, "%s: field \"%s\" is %s, expected an integer in [%lld, %lld]",
                        r->label, key, json_object_get_string(v), (long long)lo, (long long)hi);
    *out = x;
    return QAT_OK;
}

/* A number field (integer or float) in [lo, hi] (hi exclusive when
 * hi_open), finite. */
static qat_status get_float(const cfg_reader *r, const char *key, double def, double lo, double hi,
                            int lo_open, int hi_open, float *out)
{
    json_object *v = field(r, key);
    if (!json_object_object_get_ex(r->root, key, NULL)) {
        *out = (float)def;
        return QAT_OK;
    }
    if (!v || !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return wrong_type(r, key, v, "a number");
    double x = json_object_get_double(v);
    if (!isfinite(x) || (lo_open ? x <= lo : x < lo) || (hi_open ? x >= hi : x > hi))
        return qat_fail(QAT_ERR_FORMAT, "%s: field \"%s\" is %s, expected a number in %c%g, %g%c",
                        r->label, key, json_object_get_string(v), lo_open ? '(' : '[', lo, hi,
                        hi_open ? ')' : ']');
    *out = (float)x;
    return QAT_OK;
}

/* A string field; *out is NULL when absent. */
static qat_status get_string(const cfg_reader *r, const char *key, const char **out)
{
    json_object *v = field(r, key);
    *out = NULL;
    if (!json_object_object_get_ex(r->root, key, NULL))
        return QAT_OK;
    if (!v || !json_object_is_type(v, json_type_string))
        return wrong_type(r, key, v, "a string");
    if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
        return qat_fail(QAT_ERR_FORMAT, "%s: field \"%s\" contains a NUL character", r->label, key);
    *out = json_object_get_string(v);
    return QAT_OK;
}

static qat_status resolve_model_type(const cfg_reader *r, qat_model_dims *dims)
{
    const char *type;
    QAT_TRY(get_string(r, "model_type", &type));
    if (type) {
        for (size_t i = 0; i < N_KNOWN; i++) {
            if (strcmp(type, known_types[i].model_type) == 0) {
                dims->arch = known_types[i].kind;
                snprintf(dims->model_type, sizeof dims->model_type, "%s", type);
                return QAT_OK;
            }
        }
        return qat_fail(QAT_ERR_UNSUPPORTED,
                        "%s: model_type \"%.64s\" is not supported (expected \"camembert\", "
                        "\"roberta\", \"xlm-roberta\" or \"bert\")",
                        r->label, type);
    }
    /* Old configs (google-research BERT exports) have no model_type; the
     * architectures list still names the family. */
    json_object *arch = field(r, "architectures");
    if (arch && json_object_is_type(arch, json_type_array) && json_object_array_length(arch) > 0) {
        json_object *a0 = json_object_array_get_idx(arch, 0);
        const char *name = json_object_is_type(a0, json_type_string) ? json_object_get_string(a0) : "";
        for (size_t i = 0; i < N_KNOWN; i++) {
            size_t n = strlen(known_types[i].arch_prefix);
            /* "<Prefix>For..." or "<Prefix>Model", matched from the start so
             * that "RobertaFor..." does not match "XLMRobertaFor...". */
            if (strncmp(name, known_types[i].arch_prefix, n) == 0 &&
                (strncmp(name + n, "For", 3) == 0 || strcmp(name + n, "Model") == 0)) {
                dims->arch = known_types[i].kind;
                snprintf(dims->model_type, sizeof dims->model_type, "%s", known_types[i].model_type);
                return QAT_OK;
            }
        }
        return qat_fail(QAT_ERR_UNSUPPORTED,
                        "%s: no model_type, and architectures[0] \"%.64s\" is not a BERT, RoBERTa, "
                        "CamemBERT or XLM-RoBERTa class",
                        r->label, name);
    }
    return qat_fail(QAT_ERR_FORMAT, "%s: required field \"model_type\" is missing (and no "
                    "\"architectures\" to infer it from)", r->label);
}

void qat_hf_labels_clear(qat_hf_labels *labels)
{
    if (!labels)
        return;
    for (size_t i = 0; i < labels->count; i++)
        free(labels->names ? labels->names[i] : NULL);
    free(labels->names);
    labels->names = NULL;
    labels->count = 0;
}

/* id2label: {"0": "O", "1": "B-PER", ...}. Keys must be exactly the ids
 * 0..n-1 (in any order) so that label i means the classifier's row i. */
static qat_status read_labels(const cfg_reader *r, qat_model_dims *dims, qat_hf_labels *labels)
{
    json_object *map = field(r, "id2label");
    size_t n;
    if (!map) {
        if (json_object_object_get_ex(r->root, "id2label", NULL))
            return wrong_type(r, "id2label", map, "an object");
        /* No id2label (save_pretrained omits the default one): an explicit
         * num_labels counts, else transformers' default of 2 labels. */
        int64_t count;
        QAT_TRY(get_int(r, "num_labels", 0, 2, 0, 1 << 20, 0, 0, &count));
        n = (size_t)count;
    } else {
        if (!json_object_is_type(map, json_type_object))
            return wrong_type(r, "id2label", map, "an object");
        n = (size_t)json_object_object_length(map);
        if (n > (1u << 20))
            return qat_fail(QAT_ERR_FORMAT, "%s: id2label has %zu labels, more than 1048576", r->label, n);
    }
    char **names = calloc(n ? n : 1, sizeof *names);
    if (!names)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", r->label);
    qat_status st = QAT_OK;
    if (map) {
        json_object_object_foreach(map, key, val) {
            char *end;
            errno = 0;
            long long id = strtoll(key, &end, 10);
            if (key[0] < '0' || key[0] > '9' || *end || errno || id < 0 || (size_t)id >= n) {
                st = qat_fail(QAT_ERR_FORMAT, "%s: id2label key \"%.64s\" is not a label id in 0..%zu",
                              r->label, key, n ? n - 1 : 0);
                break;
            }
            if (!json_object_is_type(val, json_type_string) ||
                strlen(json_object_get_string(val)) != (size_t)json_object_get_string_len(val)) {
                st = qat_fail(QAT_ERR_FORMAT, "%s: id2label[\"%s\"] must be a string without NUL, found %s",
                              r->label, key, qat_json_type_name(json_object_get_type(val)));
                break;
            }
            if (names[id]) {
                st = qat_fail(QAT_ERR_FORMAT, "%s: id2label lists id %lld twice", r->label, id);
                break;
            }
            names[id] = strdup(json_object_get_string(val));
            if (!names[id]) {
                st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", r->label);
                break;
            }
        }
    } else {
        /* transformers' generated names */
        for (size_t i = 0; i < n && st == QAT_OK; i++) {
            char buf[32];
            snprintf(buf, sizeof buf, "LABEL_%zu", i);
            if (!(names[i] = strdup(buf)))
                st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", r->label);
        }
    }
    if (st == QAT_OK)
        dims->num_labels = (int64_t)n;
    if (st == QAT_OK && labels) {
        labels->count = n;
        labels->names = names;
        return QAT_OK;
    }
    qat_hf_labels tmp = {n, names};
    qat_hf_labels_clear(&tmp);
    return st;
}

static qat_status read_fields(const cfg_reader *r, qat_model_dims *dims, qat_hf_labels *labels)
{
    QAT_TRY(resolve_model_type(r, dims));
    const int roberta = dims->arch == QAT_ARCH_ROBERTA;
    const int64_t big = (int64_t)1 << 31;
    QAT_TRY(get_int(r, "vocab_size", 1, 0, 1, big - 1, 0, 0, &dims->vocab_size));
    QAT_TRY(get_int(r, "hidden_size", 1, 0, 1, 1 << 20, 0, 0, &dims->hidden_size));
    QAT_TRY(get_int(r, "num_hidden_layers", 1, 0, 1, 1 << 12, 0, 0, &dims->num_layers));
    QAT_TRY(get_int(r, "num_attention_heads", 1, 0, 1, 1 << 12, 0, 0, &dims->num_heads));
    QAT_TRY(get_int(r, "intermediate_size", 1, 0, 1, 1 << 24, 0, 0, &dims->intermediate_size));
    QAT_TRY(get_int(r, "max_position_embeddings", 1, 0, 1, 1 << 24, 0, 0,
                    &dims->max_position_embeddings));
    if (dims->hidden_size % dims->num_heads != 0)
        return qat_fail(QAT_ERR_FORMAT,
                        "%s: hidden_size %lld is not a multiple of num_attention_heads %lld",
                        r->label, (long long)dims->hidden_size, (long long)dims->num_heads);
    /* transformers' defaults: BertConfig and RobertaConfig both say 2 and
     * 1e-12; RoBERTa's special ids are <s>=0, <pad>=1, </s>=2. */
    QAT_TRY(get_int(r, "type_vocab_size", 0, 2, 1, 1 << 16, 0, 0, &dims->type_vocab_size));
    QAT_TRY(get_int(r, "pad_token_id", 0, roberta ? 1 : 0, 0, dims->vocab_size - 1, !roberta, -1,
                    &dims->pad_token_id));
    QAT_TRY(get_int(r, "bos_token_id", 0, roberta ? 0 : -1, 0, big, 1, -1, &dims->bos_token_id));
    QAT_TRY(get_int(r, "eos_token_id", 0, roberta ? 2 : -1, 0, big, 1, -1, &dims->eos_token_id));
    QAT_TRY(get_float(r, "layer_norm_eps", 1e-12, 0.0, 1.0, 1, 1, &dims->layer_norm_eps));
    if (!(dims->layer_norm_eps > 0.0f))
        return qat_fail(QAT_ERR_FORMAT, "%s: field \"layer_norm_eps\" underflows float32", r->label);
    QAT_TRY(get_float(r, "hidden_dropout_prob", 0.1, 0.0, 1.0, 0, 1, &dims->hidden_dropout_prob));
    QAT_TRY(get_float(r, "attention_probs_dropout_prob", 0.1, 0.0, 1.0, 0, 1,
                      &dims->attention_dropout_prob));

    json_object *tie = field(r, "tie_word_embeddings");
    dims->tie_word_embeddings = 1; /* PretrainedConfig's default */
    if (json_object_object_get_ex(r->root, "tie_word_embeddings", NULL)) {
        if (!tie || !json_object_is_type(tie, json_type_boolean))
            return wrong_type(r, "tie_word_embeddings", tie, "a boolean");
        dims->tie_word_embeddings = json_object_get_boolean(tie) ? 1 : 0;
    }

    const char *act;
    QAT_TRY(get_string(r, "hidden_act", &act));
    if (act && strcmp(act, "gelu") != 0)
        return qat_fail(QAT_ERR_UNSUPPORTED,
                        "%s: hidden_act \"%.64s\" is not supported: libqat implements only the "
                        "exact erf GELU (\"gelu\")",
                        r->label, act);
    const char *pos;
    QAT_TRY(get_string(r, "position_embedding_type", &pos));
    if (pos && strcmp(pos, "absolute") != 0)
        return qat_fail(QAT_ERR_UNSUPPORTED,
                        "%s: position_embedding_type \"%.64s\" is not supported (only \"absolute\")",
                        r->label, pos);
    return read_labels(r, dims, labels);
}

qat_status qat_hf_config_parse(const char *text, size_t len, const char *label,
                               qat_model_dims *dims, qat_hf_labels *labels)
{
    QAT_CHECK_ARG(text != NULL && dims != NULL, "qat_hf_config_parse: NULL argument");
    if (!label)
        label = "config.json";
    if (labels) {
        labels->count = 0;
        labels->names = NULL;
    }
    if (len > QAT_HF_CONFIG_MAX_BYTES)
        return qat_fail(QAT_ERR_FORMAT, "%s: %zu bytes, more than the %u accepted for a config",
                        label, len, QAT_HF_CONFIG_MAX_BYTES);
    cfg_reader r = {NULL, label};
    QAT_TRY(qat_json_parse(text, len, 32, label, &r.root));
    qat_status st;
    if (!json_object_is_type(r.root, json_type_object)) {
        st = qat_fail(QAT_ERR_FORMAT, "%s: must hold a JSON object, found %s", label,
                      qat_json_type_name(json_object_get_type(r.root)));
    } else {
        qat_model_dims d;
        memset(&d, 0, sizeof d);
        st = read_fields(&r, &d, labels);
        if (st == QAT_OK)
            *dims = d;
    }
    json_object_put(r.root);
    return st;
}

qat_status qat_hf_config_read(const char *path, qat_model_dims *dims, qat_hf_labels *labels)
{
    QAT_CHECK_ARG(path != NULL, "qat_hf_config_read: NULL path");
    char *text;
    size_t len;
    QAT_TRY(qat_file_read(path, QAT_HF_CONFIG_MAX_BYTES, &text, &len));
    size_t label_len = strlen(path) + 3;
    char *label = malloc(label_len);
    if (!label) {
        free(text);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    snprintf(label, label_len, "'%s'", path);
    qat_status st = qat_hf_config_parse(text, len, label, dims, labels);
    free(label);
    free(text);
    return st;
}
