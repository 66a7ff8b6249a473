/* qat_model_dims -> config.json in the layout save_pretrained writes, so
 * that transformers' AutoConfig/AutoModel reload a libqat model. */
#include "formats/hf_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json.h"

static const struct {
    const char *model_type;
    const char *class_prefix;
} class_prefixes[] = {
    {"camembert", "Camembert"},
    {"xlm-roberta", "XLMRoberta"},
    {"roberta", "Roberta"},
    {"bert", "Bert"},
};

/* The shortest decimal that reads back as the same float, so 1e-5f is
 * written "1e-05" and python sees the value the user typed. */
static json_object *new_float(float x)
{
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x)
            break;
    }
    /* JSON needs a fraction or exponent for python to read a float. */
    if (!strpbrk(buf, ".eEn"))
        strcat(buf, ".0");
    return json_object_new_double_s((double)x, buf);
}

/* Adds v (consumed even on failure); false when v is NULL (allocation
 * failed) or the add failed. */
static int add(json_object *obj, const char *key, json_object *v)
{
    if (v && json_object_object_add(obj, key, v) == 0)
        return 1;
    json_object_put(v);
    return 0;
}

static int add_id(json_object *obj, const char *key, int64_t id)
{
    /* -1 means "absent" in qat_model_dims: HF writes null then. */
    return json_object_object_add(obj, key, id < 0 ? NULL : json_object_new_int64(id)) == 0;
}

static qat_status build(const qat_model_dims *d, const char *architecture,
                        const qat_hf_labels *labels, json_object **out)
{
    const char *prefix = NULL;
    for (size_t i = 0; i < sizeof class_prefixes / sizeof class_prefixes[0]; i++)
        if (strcmp(d->model_type, class_prefixes[i].model_type) == 0)
            prefix = class_prefixes[i].class_prefix;
    if (!prefix)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                        "config.json writer: model_type \"%.32s\" is not one of camembert, "
                        "roberta, xlm-roberta, bert",
                        d->model_type);
    QAT_CHECK_ARG(!labels || labels->count == (size_t)d->num_labels,
                  "config.json writer: %zu label names for num_labels %lld",
                  labels ? labels->count : 0, (long long)d->num_labels);
    QAT_CHECK_ARG(d->num_labels >= 0 && d->num_labels <= (1 << 20),
                  "config.json writer: num_labels %lld out of range", (long long)d->num_labels);
    for (size_t i = 0; labels && i < labels->count; i++)
        QAT_CHECK_ARG(labels->names && labels->names[i], "config.json writer: label %zu has no name", i);
    char arch[96];
    if (architecture)
        snprintf(arch, sizeof arch, "%s", architecture);
    else
        snprintf(arch, sizeof arch, "%sForMaskedLM", prefix);

    json_object *o = json_object_new_object();
    json_object *archs = json_object_new_array();
    json_object *arch_name = json_object_new_string(arch);
    int ok = o && archs && arch_name && json_object_array_add(archs, arch_name) == 0;
    if (!ok)
        json_object_put(arch_name);
    ok = ok ? add(o, "architectures", archs) : (json_object_put(archs), 0);
    /* Keys in save_pretrained's (sorted) order. */
    ok = ok && add(o, "attention_probs_dropout_prob", new_float(d->attention_dropout_prob));
    ok = ok && add_id(o, "bos_token_id", d->bos_token_id);
    ok = ok && json_object_object_add(o, "classifier_dropout", NULL) == 0;
    ok = ok && add_id(o, "eos_token_id", d->eos_token_id);
    ok = ok && add(o, "hidden_act", json_object_new_string("gelu"));
    ok = ok && add(o, "hidden_dropout_prob", new_float(d->hidden_dropout_prob));
    ok = ok && add(o, "hidden_size", json_object_new_int64(d->hidden_size));
    /* The label maps are added to o first (o then owns them) and filled
     * through borrowed pointers, so no failure path can leak them. */
    json_object *id2label = NULL, *label2id = NULL;
    if (d->num_labels > 0) {
        id2label = json_object_new_object();
        ok = ok ? add(o, "id2label", id2label) : (json_object_put(id2label), 0);
    }
    ok = ok && add(o, "initializer_range", new_float(0.02f));
    ok = ok && add(o, "intermediate_size", json_object_new_int64(d->intermediate_size));
    if (d->num_labels > 0) {
        label2id = json_object_new_object();
        ok = ok ? add(o, "label2id", label2id) : (json_object_put(label2id), 0);
    }
    for (int64_t i = 0; ok && i < d->num_labels; i++) {
        char key[24], generated[32];
        snprintf(key, sizeof key, "%lld", (long long)i);
        snprintf(generated, sizeof generated, "LABEL_%lld", (long long)i);
        const char *name = labels ? labels->names[i] : generated;
        ok = add(id2label, key, json_object_new_string(name)) &&
             add(label2id, name, json_object_new_int64(i));
    }
    ok = ok && add(o, "layer_norm_eps", new_float(d->layer_norm_eps));
    ok = ok && add(o, "max_position_embeddings", json_object_new_int64(d->max_position_embeddings));
    ok = ok && add(o, "model_type", json_object_new_string(d->model_type));
    ok = ok && add(o, "num_attention_heads", json_object_new_int64(d->num_heads));
    ok = ok && add(o, "num_hidden_layers", json_object_new_int64(d->num_layers));
    ok = ok && add_id(o, "pad_token_id", d->pad_token_id);
    ok = ok && add(o, "position_embedding_type", json_object_new_string("absolute"));
    ok = ok && add(o, "tie_word_embeddings", json_object_new_boolean(d->tie_word_embeddings != 0));
    ok = ok && add(o, "torch_dtype", json_object_new_string("float32"));
    ok = ok && add(o, "type_vocab_size", json_object_new_int64(d->type_vocab_size));
    ok = ok && add(o, "use_cache", json_object_new_boolean(1));
    ok = ok && add(o, "vocab_size", json_object_new_int64(d->vocab_size));
    if (!ok) {
        json_object_put(o);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "config.json writer: out of memory");
    }
    *out = o;
    return QAT_OK;
}

qat_status qat_hf_config_to_string(const qat_model_dims *dims, const char *architecture,
                                   const qat_hf_labels *labels, char **text)
{
    QAT_CHECK_ARG(dims != NULL && text != NULL, "qat_hf_config_to_string: NULL argument");
    *text = NULL;
    json_object *o;
    QAT_TRY(build(dims, architecture, labels, &o));
    const char *s = json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t n = s ? strlen(s) : 0;
    *text = s ? malloc(n + 2) : NULL;
    if (*text) {
        memcpy(*text, s, n);
        (*text)[n] = '\n';
        (*text)[n + 1] = '\0';
    }
    json_object_put(o);
    return *text ? QAT_OK : qat_fail(QAT_ERR_OUT_OF_MEMORY, "config.json writer: out of memory");
}

qat_status qat_hf_config_write(const char *path, const qat_model_dims *dims,
                               const char *architecture, const qat_hf_labels *labels)
{
    QAT_CHECK_ARG(path != NULL, "qat_hf_config_write: NULL path");
    char *text;
    QAT_TRY(qat_hf_config_to_string(dims, architecture, labels, &text));
    qat_atomic_file af;
    qat_status st = qat_atomic_open(path, &af);
    if (st == QAT_OK)
        st = qat_atomic_write(&af, text, strlen(text));
    if (st == QAT_OK)
        st = qat_atomic_commit(&af);
    qat_atomic_abort(&af);
    free(text);
    return st;
}
