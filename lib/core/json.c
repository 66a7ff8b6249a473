#include "core/json.h"

#include <string.h>

#include "core/error.h"
#include "core/file_io.h"

const char *qat_json_type_name(json_type type)
{
    switch (type) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a floating-point number";
    case json_type_int: return "an integer";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "an unknown JSON value";
}

/* Line and column of byte offset `at`, for messages about text files. */
static void line_col(const char *text, size_t at, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < at; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

qat_status qat_json_parse(const char *text, size_t len, int max_depth, const char *label,
                          json_object **out)
{
    *out = NULL;
    /* json-c stops at a NUL byte; a NUL inside a header is itself corrupt. */
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return qat_fail(QAT_ERR_FORMAT, "%s: JSON text contains a NUL byte at offset %zu", label,
                        (size_t)(nul - text));
    if (len > (size_t)INT32_MAX)
        return qat_fail(QAT_ERR_FORMAT, "%s: JSON text of %zu bytes is too large", label, len);
    json_tokener *tok = json_tokener_new_ex(max_depth);
    if (!tok)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    /* Trailing characters are checked below, with a clearer message. */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    size_t line, col;
    if (!root || err != json_tokener_success) {
        json_object_put(root);
        if (err == json_tokener_continue)
            return qat_fail(QAT_ERR_FORMAT, "%s: JSON text ends early (truncated)", label);
        line_col(text, end > len ? len : end, &line, &col);
        if (err == json_tokener_error_depth)
            return qat_fail(QAT_ERR_FORMAT, "%s: JSON nested deeper than %d levels (line %zu)",
                            label, max_depth, line);
        return qat_fail(QAT_ERR_FORMAT, "%s: invalid JSON at line %zu, column %zu: %s", label, line,
                        col, json_tokener_error_desc(err));
    }
    for (size_t i = end; i < len; i++) {
        char c = text[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            json_object_put(root);
            line_col(text, i, &line, &col);
            return qat_fail(QAT_ERR_FORMAT,
                            "%s: unexpected data after the JSON value at line %zu, column %zu", label,
                            line, col);
        }
    }
    *out = root;
    return QAT_OK;
}

size_t qat_json_count_top_keys(const char *text, size_t len, const char **dup_start,
                               size_t *dup_len)
{
    /* The text is already known to be valid JSON, so a small state machine
     * suffices: skip strings (with their escapes), track nesting, and count
     * the colons at depth 1: one per key of the top-level object. Keys are
     * the strings that precede those colons. */
    size_t count = 0;
    int depth = 0;
    const char *last_str = NULL;
    size_t last_len = 0;
    /* Keys seen so far, as raw spans, to name a duplicate (bounded scan). */
    enum { MAX_TRACKED = 1024 };
    const char *seen[MAX_TRACKED];
    size_t seen_len[MAX_TRACKED];
    size_t n_seen = 0;
    if (dup_start)
        *dup_start = NULL;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '"') {
            size_t start = i + 1;
            for (i = start; i < len && text[i] != '"'; i++)
                if (text[i] == '\\')
                    i++;
            last_str = text + start;
            last_len = (i < len ? i : len) - start;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ':' && depth == 1) {
            count++;
            if (dup_start && !*dup_start && last_str) {
                for (size_t k = 0; k < n_seen; k++) {
                    if (seen_len[k] == last_len && memcmp(seen[k], last_str, last_len) == 0) {
                        *dup_start = last_str;
                        *dup_len = last_len;
                    }
                }
                if (n_seen < MAX_TRACKED) {
                    seen[n_seen] = last_str;
                    seen_len[n_seen++] = last_len;
                }
            }
        }
    }
    return count;
}

int qat_json_has_nul_escape(const char *text, size_t len)
{
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        if (!in_string) {
            in_string = text[i] == '"';
        } else if (text[i] == '"') {
            in_string = 0;
        } else if (text[i] == '\\' && i + 1 < len) {
            if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0)
                return 1;
            i++; /* the escaped character */
        }
    }
    return 0;
}

qat_status qat_json_write_file(const char *path, json_object *j)
{
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY);
    qat_atomic_file f;
    QAT_TRY(qat_atomic_open(path, &f));
    qat_status st = qat_atomic_write(&f, text, strlen(text));
    if (st == QAT_OK)
        return qat_atomic_commit(&f);
    qat_atomic_abort(&f);
    return st;
}

/* ---- Typed member access ---------------------------------------------- */

qat_status qat_json_get(const qat_json_ctx *c, json_object *o, const char *path, const char *key, int type,
                        int required, json_object **v)
{
    *v = NULL;
    json_object *x = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &x) || !x) {
        if (required)
            return qat_fail(QAT_ERR_FORMAT, "%s: %s.%s is missing", c->where, path, key);
        return QAT_OK;
    }
    int t = (int)json_object_get_type(x);
    if (type >= 0 && t != type && !(type == json_type_double && t == json_type_int))
        return qat_fail(QAT_ERR_FORMAT, "%s: %s.%s must be %s, not %s", c->where, path, key,
                        type == json_type_double ? "a number" : qat_json_type_name((json_type)type),
                        qat_json_type_name((json_type)t));
    *v = x;
    return QAT_OK;
}

qat_status qat_json_bool(const qat_json_ctx *c, json_object *o, const char *path, const char *key, int *out)
{
    json_object *v;
    QAT_TRY(qat_json_get(c, o, path, key, json_type_boolean, 0, &v));
    if (v)
        *out = json_object_get_boolean(v) ? 1 : 0;
    return QAT_OK;
}

qat_status qat_json_int(const qat_json_ctx *c, json_object *o, const char *path, const char *key, int64_t lo,
                        int64_t hi, int64_t *out)
{
    json_object *v;
    QAT_TRY(qat_json_get(c, o, path, key, json_type_int, 0, &v));
    if (v) {
        int64_t x = json_object_get_int64(v);
        if (x < lo || x > hi)
            return qat_fail(QAT_ERR_FORMAT, "%s: %s.%s = %lld is out of range [%lld, %lld]", c->where, path, key,
                            (long long)x, (long long)lo, (long long)hi);
        *out = x;
    }
    return QAT_OK;
}

qat_status qat_json_str(const qat_json_ctx *c, json_object *o, const char *path, const char *key, const char **s,
                        size_t *len)
{
    json_object *v;
    *s = NULL;
    if (len)
        *len = 0;
    QAT_TRY(qat_json_get(c, o, path, key, json_type_string, 0, &v));
    if (v) {
        *s = json_object_get_string(v);
        if (len)
            *len = (size_t)json_object_get_string_len(v);
    }
    return QAT_OK;
}
