#include "train_config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sweep/sweep_grid.h"

static int fail(const char *path, const char *key, const char *why)
{
    fprintf(stderr, "qat train: %s: '%s' %s\n", path, key, why);
    return 1;
}

/* A key's value as a string, or NULL when it is anything else (json-c gives
 * NULL for a YAML/JSON null, which string functions must never see). */
static const char *string_value(json_object *v)
{
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* One class of docs/method.md section 2's quantization block into cfg. */
static int class_from(json_object *spec, qat_quant_config *cfg, qat_tensor_class cls, const char *path,
                      const char *key)
{
    if (!spec)
        return 0; /* absent: float */
    json_object *algo = NULL, *bits = NULL, *gran = NULL;
    if (!json_object_is_type(spec, json_type_object) || !json_object_object_get_ex(spec, "algo", &algo) ||
        !json_object_is_type(algo, json_type_string))
        return fail(path, key, "needs an object with an \"algo\" string (LSQ, BitNet_b158 or none)");
    const char *a = json_object_get_string(algo);
    int id = !strcasecmp(a, "lsq")                                                  ? QAT_ALGO_LSQ
             : !strcasecmp(a, "lsq+") || !strcasecmp(a, "lsq_plus")                 ? QAT_ALGO_LSQ_PLUS
             : !strcasecmp(a, "bitnet_b158") || !strcasecmp(a, "bitnet")           ? QAT_ALGO_BITNET158
             : !strcasecmp(a, "none") || !strcasecmp(a, "fp32") || !strcmp(a, "") ? QAT_ALGO_NONE
                                                                                     : -1;
    if (id < 0)
        return fail(path, key, "has an unknown algo (expected LSQ, LSQ+, BitNet_b158 or none)");
    if (qat_quant_config_set(cfg, cls, QAT_QP_ALGO, id) != QAT_OK)
        return fail(path, key, qat_last_error());
    if (json_object_object_get_ex(spec, "bits", &bits)) {
        if (!json_object_is_type(bits, json_type_int))
            return fail(path, key, "has non-integer bits");
        if (!(id == QAT_ALGO_BITNET158 && cls == QAT_CLASS_WEIGHT) &&
            qat_quant_config_set(cfg, cls, QAT_QP_BITS, json_object_get_int(bits)) != QAT_OK)
            return fail(path, key, qat_last_error());
    }
    if (json_object_object_get_ex(spec, "granularity", &gran)) {
        const char *g = string_value(gran);
        if (!g)
            return fail(path, key, "has a granularity that is not a string");
        int gid = !strcmp(g, "tensor") || !strcmp(g, "per_tensor")                            ? QAT_GRAN_TENSOR
                  : !strcmp(g, "row") || !strcmp(g, "per_row") || !strcmp(g, "per_channel") ? QAT_GRAN_ROW
                  : !strcmp(g, "token") || !strcmp(g, "per_token")                           ? QAT_GRAN_TOKEN
                                                                                               : -1;
        if (gid < 0 || qat_quant_config_set(cfg, cls, QAT_QP_GRANULARITY, gid) != QAT_OK)
            return fail(path, key, gid < 0 ? "has an unknown granularity" : qat_last_error());
    }
    return 0;
}

/* The switches of docs/method.md section 10, one key each, and `profile` (set first;
 * the keys then override it). Values name the behaviour. */
static const struct {
    const char *key;
    qat_quant_switch which;
    const char *values[2]; /* [0]: the paper's, [1]: the seed code's */
} switch_keys[] = {
    {"sharing", QAT_QS_SHARING, {"tensor", "class"}},
    {"lsq_gradient", QAT_QS_LSQ_GRADIENT, {"learned", "frozen"}},
    {"activation_range", QAT_QS_ACT_RANGE, {"full", "symmetric"}},
    {"mlm_head", QAT_QS_MLM_HEAD, {"float", "quantized"}},
};

static int switches_from(json_object *q, qat_quant_config *cfg, int explicit_w_granularity, const char *path)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(q, "profile", &v)) {
        const char *p = string_value(v);
        if (!p)
            return fail(path, "profile", "must be a string: paper or seed-code");
        int seed = !strcasecmp(p, "seed-code") || !strcasecmp(p, "seed_code");
        if (!seed && strcasecmp(p, "paper"))
            return fail(path, "profile", "must be paper or seed-code");
        int w_gran = 0;
        qat_quant_config_get(cfg, QAT_CLASS_WEIGHT, QAT_QP_GRANULARITY, &w_gran);
        if (qat_quant_config_set_profile(cfg, seed ? QAT_PROFILE_SEED_CODE : QAT_PROFILE_PAPER) != QAT_OK)
            return fail(path, "profile", qat_last_error());
        if (explicit_w_granularity) /* the weight_quant block said which */
            qat_quant_config_set(cfg, QAT_CLASS_WEIGHT, QAT_QP_GRANULARITY, w_gran);
    }
    for (size_t i = 0; i < sizeof switch_keys / sizeof switch_keys[0]; i++) {
        if (!json_object_object_get_ex(q, switch_keys[i].key, &v))
            continue;
        const char *value = string_value(v);
        int id = !value ? -1
                 : !strcasecmp(value, switch_keys[i].values[0]) ? 0 : !strcasecmp(value, switch_keys[i].values[1]) ? 1 : -1;
        if (id < 0) {
            char why[128];
            snprintf(why, sizeof why, "must be %s or %s", switch_keys[i].values[0], switch_keys[i].values[1]);
            return fail(path, switch_keys[i].key, why);
        }
        if (qat_quant_config_set_switch(cfg, switch_keys[i].which, id) != QAT_OK)
            return fail(path, switch_keys[i].key, qat_last_error());
    }
    return 0;
}

/* The ExWyAz part of a hand-given name ("BitNet_E6W1.58A6" -> "E6W1.58A6",
 * "E6W1.58A6@seed-code_run2" -> "E6W1.58A6@seed-code"). */
static const char *notation_in(const char *name)
{
    if (strstr(name, "FP32"))
        return strstr(name, "FP32");
    for (const char *p = name; *p; p++)
        if (*p == 'E' && p[1] >= '0' && p[1] <= '9')
            return p;
    return NULL;
}

/* docs/method.md section 2's block: the config's content decides; a name that
 * disagrees with it is refused, showing both. */
static int quantization_from(json_object *q, const char *path, char *out, size_t cap)
{
    if (json_object_is_type(q, json_type_array)) {
        if (json_object_array_length(q) != 1)
            return fail(path, "quantization", "must hold exactly one entry for qat train (qat sweep takes lists)");
        q = json_object_array_get_idx(q, 0);
    }
    if (!json_object_is_type(q, json_type_object))
        return fail(path, "quantization", "must be an object (or a list of one)");
    qat_quant_config *cfg = NULL;
    qat_quant_config_create(&cfg);
    json_object *e = NULL, *w = NULL, *a = NULL, *name = NULL;
    json_object_object_get_ex(q, "embedding_quant", &e);
    json_object_object_get_ex(q, "weight_quant", &w);
    json_object_object_get_ex(q, "activation_quant", &a);
    int rc = class_from(e, cfg, QAT_CLASS_EMBEDDING, path, "embedding_quant") ||
             class_from(w, cfg, QAT_CLASS_WEIGHT, path, "weight_quant") ||
             class_from(a, cfg, QAT_CLASS_ACTIVATION, path, "activation_quant");
    json_object *w_gran = NULL;
    if (!rc)
        rc = switches_from(q, cfg, w && json_object_object_get_ex(w, "granularity", &w_gran), path);
    if (!rc)
        qat_quant_config_to_string(cfg, out, cap, NULL);
    if (!rc && json_object_object_get_ex(q, "name", &name) && !string_value(name))
        rc = fail(path, "name", "must be a string");
    if (!rc && name) {
        const char *given = string_value(name), *notation = notation_in(given);
        qat_quant_config *named = NULL;
        char token[QAT_QUANT_CONFIG_MAX_STRING + 1] = "";
        if (notation) {
            /* '-' ends the notation too, except inside its @switches. */
            size_t n = strcspn(notation, strchr(notation, '@') ? "_ /" : "_ -/");
            snprintf(token, sizeof token, "%.*s", (int)n, notation);
        }
        if (!notation || qat_quant_config_parse(token, &named) != QAT_OK || !qat_quant_config_equal(named, cfg)) {
            fprintf(stderr, "qat train: %s: the name '%s' disagrees with the content, which is %s\n", path, given,
                    out);
            rc = 1;
        }
        qat_quant_config_free(named);
    }
    qat_quant_config_free(cfg);
    return rc;
}

/* A key's value must have its option's JSON type: numbers for numbers,
 * strings for strings; a custom option (alpha: a number or auto) takes
 * either and decides. */
static int check_type(const char *path, const char *key, const qat_cli_option *opt, json_object *val)
{
    int number = json_object_is_type(val, json_type_int) || json_object_is_type(val, json_type_double);
    int string = json_object_is_type(val, json_type_string);
    int numeric = opt->type == QAT_CLI_INT || opt->type == QAT_CLI_UINT || opt->type == QAT_CLI_DOUBLE;
    if (numeric && !number)
        return fail(path, key, "must be a number");
    if (!numeric && opt->type != QAT_CLI_CUSTOM && !string)
        return fail(path, key, "must be a string");
    if (!number && !string)
        return fail(path, key, "must be a number or a string");
    return 0;
}

int train_config_load(const char *path, const qat_cli_spec *spec, train_config *c, const char **quant)
{
    memset(c, 0, sizeof *c);
    char err[1024] = "";
    json_object *root = sweep_document_read(path, err, sizeof err);
    if (!root || !json_object_is_type(root, json_type_object)) {
        fprintf(stderr, "qat train: %s\n", root ? "expected a mapping at the top" : err);
        json_object_put(root);
        return 1;
    }
    c->root = root;
    json_object *block = NULL;
    json_object_object_foreach(root, key, val) {
        if (strcmp(key, "quantization") == 0) {
            block = val;
            continue;
        }
        const qat_cli_option *opt = qat_cli_find_key(spec, key);
        if (!opt)
            return fail(path, key, "is not a qat train setting (see qat train --help)");
        char label[4200];
        snprintf(label, sizeof label, "%s: %s", path, key);
        if (check_type(path, key, opt, val) || qat_cli_set(spec, opt, label, json_object_get_string(val)))
            return 1;
    }
    if (block && json_object_object_get_ex(root, "quant", NULL))
        return fail(path, "quantization", "and 'quant' are both given: keep one");
    if (block) {
        if (quantization_from(block, path, c->quant, sizeof c->quant))
            return 1;
        *quant = c->quant;
    }
    return 0;
}
void train_config_free(train_config *c)
{
    json_object_put(c->root);
    c->root = NULL;
}
