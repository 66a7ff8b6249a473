/* sentence-transformers' modules.json and Pooling config.json: what a
 * checkpoint's embeddings are (formats/st_modules.h). */
#include "formats/st_modules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json.h"

#define ST_MAX_FILE (1u << 20) /* both files are a few hundred bytes */
#define ST_MAX_DEPTH 8
#define POOLING_DIR "1_Pooling"
#define NORMALIZE_DIR "2_Normalize"
#define TRANSFORMER_CONFIG "sentence_bert_config.json"

static const char *const pooling_modes[] = {
    "pooling_mode_cls_token",         "pooling_mode_mean_tokens",          "pooling_mode_max_tokens",
    "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken",
};
enum { MODE_CLS = 0, MODE_MEAN = 1, N_MODES = sizeof pooling_modes / sizeof pooling_modes[0] };

static qat_status read_json(const char *path, int required, json_object **out)
{
    *out = NULL;
    if (!required && !qat_file_exists(path))
        return QAT_OK;
    char *text = NULL;
    size_t n = 0;
    QAT_TRY(qat_file_read(path, ST_MAX_FILE, &text, &n));
    char label[4200];
    snprintf(label, sizeof label, "'%s'", path);
    qat_status st = qat_json_parse(text, n, ST_MAX_DEPTH, label, out);
    free(text);
    return st;
}

/* The last dotted component of a module type ("sentence_transformers.models.Pooling" -> "Pooling"). */
static const char *short_type(const char *type)
{
    const char *dot = strrchr(type, '.');
    return dot ? dot + 1 : type;
}

/* A module folder must stay inside the checkpoint: a relative path without "..". */
static int safe_path(const char *p)
{
    if (p[0] == '/' || p[0] == '\\')
        return 0;
    for (const char *s = p; *s; s++)
        if (s[0] == '.' && s[1] == '.' && (s == p || s[-1] == '/') && (s[2] == '/' || s[2] == 0))
            return 0;
    return 1;
}

static qat_status read_pooling_config(const char *dir, const char *sub, int64_t hidden, qat_pooling_config *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/config.json", dir, sub);
    json_object *root = NULL;
    QAT_TRY(read_json(path, 1, &root));
    const qat_json_ctx c = {path};
    qat_status st = json_object_is_type(root, json_type_object)
                        ? QAT_OK
                        : qat_fail(QAT_ERR_FORMAT, "%s: not a JSON object", path);
    int64_t dim = hidden;
    if (st == QAT_OK)
        st = qat_json_int(&c, root, "", "word_embedding_dimension", 1, INT64_MAX, &dim);
    if (st == QAT_OK && dim != hidden)
        st = qat_fail(QAT_ERR_FORMAT, "%s: word_embedding_dimension %lld, but the model's hidden size is %lld", path,
                      (long long)dim, (long long)hidden);
    int on[N_MODES] = {0};
    int count = 0;
    for (int i = 0; st == QAT_OK && i < N_MODES; i++) {
        st = qat_json_bool(&c, root, "", pooling_modes[i], &on[i]);
        count += on[i] != 0;
    }
    json_object_put(root);
    QAT_TRY(st);
    out->known = 1;
    if (count == 1 && (on[MODE_CLS] || on[MODE_MEAN])) {
        out->pooling = on[MODE_CLS] ? QAT_POOLING_CLS : QAT_POOLING_MEAN;
        return QAT_OK;
    }
    size_t at = (size_t)snprintf(out->unsupported, sizeof out->unsupported, "%.100s sets", path);
    for (int i = 0; i < N_MODES && at < sizeof out->unsupported; i++)
        if (on[i])
            at += (size_t)snprintf(out->unsupported + at, sizeof out->unsupported - at, " %s", pooling_modes[i]);
    if (at < sizeof out->unsupported)
        snprintf(out->unsupported + at, sizeof out->unsupported - at, "%s",
                 count ? " (libqat pools by exactly one of cls_token, mean_tokens)" : " no pooling mode");
    return QAT_OK;
}

static void set_unsupported(qat_pooling_config *out, const char *what, const char *path, const char *type)
{
    if (!out->unsupported[0])
        snprintf(out->unsupported, sizeof out->unsupported, "modules.json: %s '%.60s' (%.60s)", what, path, type);
}

/* sentence_bert_config.json: the Transformer module's max_seq_length and do_lower_case. */
static qat_status read_transformer_config(const char *dir, qat_pooling_config *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, TRANSFORMER_CONFIG);
    json_object *root = NULL;
    QAT_TRY(read_json(path, 0, &root));
    if (!root)
        return QAT_OK;
    const qat_json_ctx c = {path};
    qat_status st = json_object_is_type(root, json_type_object)
                        ? QAT_OK
                        : qat_fail(QAT_ERR_FORMAT, "%s: not a JSON object", path);
    int lower = 0;
    if (st == QAT_OK)
        st = qat_json_int(&c, root, "", "max_seq_length", 1, QAT_POOL_MAX_SEQ_LENGTH, &out->max_seq_length);
    if (st == QAT_OK)
        st = qat_json_bool(&c, root, "", "do_lower_case", &lower);
    json_object_put(root);
    if (st == QAT_OK && lower)
        snprintf(out->unsupported, sizeof out->unsupported,
                 "%.100s sets do_lower_case (libqat tokenizes as tokenizer.json says)", path);
    return st;
}

qat_status qat_formats_st_pooling_read(const char *dir, int64_t hidden, qat_pooling_config *out)
{
    memset(out, 0, sizeof *out);
    QAT_TRY(read_transformer_config(dir, out));
    char path[4096];
    snprintf(path, sizeof path, "%s/modules.json", dir);
    json_object *root = NULL;
    QAT_TRY(read_json(path, 0, &root));
    if (!root)
        return QAT_OK;
    qat_status st = json_object_is_type(root, json_type_array)
                        ? QAT_OK
                        : qat_fail(QAT_ERR_FORMAT, "%s: not a JSON array of modules", path);
    const qat_json_ctx c = {path};
    int pooling_at = -1, normalize_at = -1;
    const size_t n = st == QAT_OK ? json_object_array_length(root) : 0;
    for (size_t i = 0; st == QAT_OK && i < n; i++) {
        json_object *mod = json_object_array_get_idx(root, i);
        char where[32];
        snprintf(where, sizeof where, "[%zu]", i);
        const char *type = NULL, *sub = NULL;
        if (!json_object_is_type(mod, json_type_object)) {
            st = qat_fail(QAT_ERR_FORMAT, "%s: module %zu is not an object", path, i);
            break;
        }
        st = qat_json_str(&c, mod, where, "type", &type, NULL);
        if (st == QAT_OK)
            st = qat_json_str(&c, mod, where, "path", &sub, NULL);
        if (st == QAT_OK && (!type || !sub))
            st = qat_fail(QAT_ERR_FORMAT, "%s: module %zu lacks its %s", path, i, type ? "path" : "type");
        if (st == QAT_OK && !safe_path(sub))
            st = qat_fail(QAT_ERR_FORMAT, "%s: module %zu's path '%s' leaves the checkpoint directory", path, i, sub);
        if (st != QAT_OK)
            break;
        const char *kind = short_type(type);
        if (strcmp(kind, "Transformer") == 0 && i == 0)
            continue;
        if (strcmp(kind, "Pooling") == 0 && pooling_at < 0) {
            pooling_at = (int)i;
            st = read_pooling_config(dir, sub, hidden, out);
        } else if (strcmp(kind, "Normalize") == 0 && pooling_at >= 0 && normalize_at < 0) {
            normalize_at = (int)i;
            out->flags |= QAT_EMBED_NORMALIZE;
        } else {
            set_unsupported(out, "libqat does not run module", sub, type);
        }
    }
    json_object_put(root);
    QAT_TRY(st);
    out->known = 1;
    if (pooling_at < 0)
        set_unsupported(out, "no Pooling module in", path, "sentence_transformers.models.Pooling");
    return QAT_OK;
}

static int add_module(json_object *list, int idx, const char *sub, const char *type)
{
    json_object *m = json_object_new_object();
    char name[8];
    snprintf(name, sizeof name, "%d", idx);
    int ok = m && json_object_object_add(m, "idx", json_object_new_int(idx)) == 0 &&
             json_object_object_add(m, "name", json_object_new_string(name)) == 0 &&
             json_object_object_add(m, "path", json_object_new_string(sub)) == 0 &&
             json_object_object_add(m, "type", json_object_new_string(type)) == 0;
    if (ok && json_object_array_add(list, m) == 0)
        return 1;
    json_object_put(m);
    return 0;
}

static qat_status write_transformer_config(const char *dir, int64_t max_seq_length)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, TRANSFORMER_CONFIG);
    json_object *o = json_object_new_object();
    int ok = o && json_object_object_add(o, "max_seq_length", json_object_new_int64(max_seq_length)) == 0 &&
             json_object_object_add(o, "do_lower_case", json_object_new_boolean(0)) == 0;
    qat_status st = ok ? qat_json_write_file(path, o) : qat_fail(QAT_ERR_OUT_OF_MEMORY, "save: %s", path);
    json_object_put(o);
    return st;
}

qat_status qat_formats_st_pooling_write(const char *dir, int64_t hidden, const qat_pooling_config *cfg)
{
    if (cfg->max_seq_length > 0)
        QAT_TRY(write_transformer_config(dir, cfg->max_seq_length));
    if (!cfg->known || cfg->unsupported[0])
        return QAT_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, POOLING_DIR);
    QAT_TRY(qat_mkdirs(path));
    json_object *pool = json_object_new_object();
    int ok = pool && json_object_object_add(pool, "word_embedding_dimension", json_object_new_int64(hidden)) == 0;
    for (int i = 0; ok && i < N_MODES; i++)
        ok = json_object_object_add(pool, pooling_modes[i],
                                    json_object_new_boolean((i == MODE_CLS && cfg->pooling == QAT_POOLING_CLS) ||
                                                            (i == MODE_MEAN && cfg->pooling == QAT_POOLING_MEAN))) == 0;
    snprintf(path, sizeof path, "%s/%s/config.json", dir, POOLING_DIR);
    qat_status st = ok ? qat_json_write_file(path, pool) : qat_fail(QAT_ERR_OUT_OF_MEMORY, "save: %s", path);
    json_object_put(pool);
    QAT_TRY(st);
    json_object *list = json_object_new_array();
    ok = list && add_module(list, 0, "", "sentence_transformers.models.Transformer") &&
         add_module(list, 1, POOLING_DIR, "sentence_transformers.models.Pooling") &&
         (!(cfg->flags & QAT_EMBED_NORMALIZE) || add_module(list, 2, NORMALIZE_DIR, "sentence_transformers.models.Normalize"));
    snprintf(path, sizeof path, "%s/modules.json", dir);
    st = ok ? qat_json_write_file(path, list) : qat_fail(QAT_ERR_OUT_OF_MEMORY, "save: %s", path);
    json_object_put(list);
    return st;
}
