#include "train_config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sweep/sweep_grid.h"

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = n >= 0 && n < (64 << 20) ? malloc((size_t)n + 1) : NULL;
    if (text && fread(text, 1, (size_t)n, f) == (size_t)n) {
        text[n] = '\0';
        *len = (size_t)n;
    } else {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

static int fail(const char *path, const char *key, const char *why)
{
    fprintf(stderr, "qat train: %s: '%s' %s\n", path, key, why);
    return 1;
}

/* One class of SPEC section 2's quantization block into cfg. */
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
        const char *g = json_object_get_string(gran);
        int gid = !strcmp(g, "tensor") || !strcmp(g, "per_tensor")                            ? QAT_GRAN_TENSOR
                  : !strcmp(g, "row") || !strcmp(g, "per_row") || !strcmp(g, "per_channel") ? QAT_GRAN_ROW
                  : !strcmp(g, "token") || !strcmp(g, "per_token")                           ? QAT_GRAN_TOKEN
                                                                                               : -1;
        if (gid < 0 || qat_quant_config_set(cfg, cls, QAT_QP_GRANULARITY, gid) != QAT_OK)
            return fail(path, key, gid < 0 ? "has an unknown granularity" : qat_last_error());
    }
    return 0;
}

/* The switches of SPEC section 10, one key each, and `profile` (set first;
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
        const char *p = json_object_get_string(v);
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
        const char *value = json_object_get_string(v);
        int id = !strcasecmp(value, switch_keys[i].values[0]) ? 0 : !strcasecmp(value, switch_keys[i].values[1]) ? 1 : -1;
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

/* SPEC section 2's block: the config's content decides; a name that
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
    if (!rc && json_object_object_get_ex(q, "name", &name)) {
        const char *given = json_object_get_string(name), *notation = notation_in(given);
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

static const char *str(json_object *root, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(root, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

int train_config_load(const char *path, qat_pipeline_options *o, train_config *c)
{
    memset(c, 0, sizeof *c);
    size_t len = 0;
    char *text = read_all(path, &len);
    if (!text) {
        fprintf(stderr, "qat train: cannot read %s\n", path);
        return 1;
    }
    char err[512] = "";
    json_object *root = NULL;
    size_t plen = strlen(path);
    if (plen > 5 && strcmp(path + plen - 5, ".json") == 0) {
        enum json_tokener_error jerr;
        root = json_tokener_parse_verbose(text, &jerr);
        if (!root)
            snprintf(err, sizeof err, "%s", json_tokener_error_desc(jerr));
    } else {
        root = sweep_yaml_parse(text, len, err, sizeof err);
    }
    free(text);
    if (!root || !json_object_is_type(root, json_type_object)) {
        fprintf(stderr, "qat train: %s: %s\n", path, err[0] ? err : "expected a mapping at the top");
        json_object_put(root);
        return 1;
    }
    c->root = root;
    static const char *const known[] = {"model", "tokenizer", "quant", "quantization", "alpha", "steps", "corpus",
                                        "task", "eval", "test", "out", "batch", "micro_batch", "lr", "warmup",
                                        "seq_len", "checkpoint_every", "seed", "threads", "backend",
                                        "carbon_intensity", "power_watts", "dapt_dir", "alpha_max", "eval_every",
                                        "patience", "min_delta", "heldout_sequences"};
    json_object_object_foreach(root, key, val) {
        size_t k = 0;
        while (k < sizeof known / sizeof *known && strcmp(known[k], key) != 0)
            k++;
        if (k == sizeof known / sizeof *known)
            return fail(path, key, "is not a qat train setting (see qat train --help)");
        int numeric = !strcmp(key, "alpha") || !strcmp(key, "steps") || !strcmp(key, "batch") ||
                      !strcmp(key, "micro_batch") || !strcmp(key, "lr") || !strcmp(key, "warmup") ||
                      !strcmp(key, "seq_len") || !strcmp(key, "checkpoint_every") || !strcmp(key, "seed") ||
                      !strcmp(key, "threads") || !strcmp(key, "carbon_intensity") || !strcmp(key, "power_watts") ||
                      !strcmp(key, "alpha_max") || !strcmp(key, "eval_every") || !strcmp(key, "patience") ||
                      !strcmp(key, "min_delta") || !strcmp(key, "heldout_sequences");
        if (!strcmp(key, "alpha") && json_object_is_type(val, json_type_string)) {
            if (strcmp(json_object_get_string(val), "auto") != 0)
                return fail(path, key, "must be a number in [0, 1) or auto");
            continue;
        }
        if (numeric && !json_object_is_type(val, json_type_int) && !json_object_is_type(val, json_type_double))
            return fail(path, key, "must be a number");
        if (!numeric && strcmp(key, "quantization") != 0 && !json_object_is_type(val, json_type_string))
            return fail(path, key, "must be a string");
    }
    json_object *v = NULL;
    if (str(root, "model")) o->model_dir = str(root, "model");
    if (str(root, "tokenizer")) o->tokenizer = str(root, "tokenizer");
    if (str(root, "corpus")) o->corpus = str(root, "corpus");
    if (str(root, "task")) o->train_file = str(root, "task");
    if (str(root, "eval")) o->eval_file = str(root, "eval");
    if (str(root, "test")) o->test_file = str(root, "test");
    if (str(root, "out")) o->out_dir = str(root, "out");
    if (str(root, "backend")) c->backend = str(root, "backend");
    if (str(root, "dapt_dir")) {
        o->dapt_dir = str(root, "dapt_dir");
        o->plan = QAT_PLAN_SHARED_PREFIX;
    }
    if (str(root, "alpha")) /* "auto", checked above */
        o->adaptive.enabled = 1;
    else if (json_object_object_get_ex(root, "alpha", &v))
        o->alpha = json_object_get_double(v);
    if (str(root, "quant")) {
        snprintf(c->quant, sizeof c->quant, "%s", str(root, "quant"));
        o->quant = c->quant;
    }
    if (json_object_object_get_ex(root, "quantization", &v)) {
        if (o->quant)
            return fail(path, "quantization", "and 'quant' are both given: keep one");
        if (quantization_from(v, path, c->quant, sizeof c->quant))
            return 1;
        o->quant = c->quant;
    }
#define NUM(key, field, type) \
    if (json_object_object_get_ex(root, key, &v)) field = (type)json_object_get_double(v)
    NUM("alpha_max", o->adaptive.alpha_max, double);
    NUM("eval_every", o->adaptive.eval_every, int64_t);
    NUM("patience", o->adaptive.patience, int64_t);
    NUM("min_delta", o->adaptive.min_delta, double);
    NUM("heldout_sequences", o->adaptive.heldout_sequences, int64_t);
    NUM("steps", o->total_steps, int64_t);
    NUM("batch", o->train.batch_size, int64_t);
    NUM("micro_batch", o->train.micro_batch_size, int64_t);
    NUM("lr", o->train.learning_rate, double);
    NUM("warmup", o->train.warmup_ratio, double);
    NUM("seq_len", o->max_seq_len, int64_t);
    NUM("checkpoint_every", o->checkpoint_every, int64_t);
    NUM("seed", o->seed, uint64_t);
    NUM("threads", c->threads, long long);
    NUM("carbon_intensity", o->carbon_intensity, double);
    NUM("power_watts", o->power_watts, double);
#undef NUM
    return 0;
}

void train_config_free(train_config *c)
{
    json_object_put(c->root);
    c->root = NULL;
}
