/* JSONL sequence-classification files: one object per line (format in
 * data/seqcls.h), parsed with json-c. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/utf8.h"
#include "data/seqcls.h"

static const char *const text_keys[] = {"text", "sentence", "sentence1", "premise"};
static const char *const text_b_keys[] = {"text_b", "sentence2", "hypothesis"};

/* The first of `keys` present in o (NULL if none); *key its name. */
static json_object *first_key(json_object *o, const char *const *keys, size_t n, const char **key)
{
    for (size_t i = 0; i < n; i++) {
        json_object *v;
        if (json_object_object_get_ex(o, keys[i], &v)) {
            *key = keys[i];
            return v;
        }
    }
    return NULL;
}

static qat_status text_of(const char *file, uint64_t line, json_object *v, const char *key, const char **s,
                          size_t *n)
{
    if (!json_object_is_type(v, json_type_string))
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: \"%s\" must be a string, not %s", file, (unsigned long long)line,
                        key, json_type_to_name(json_object_get_type(v)));
    *s = json_object_get_string(v);
    *n = (size_t)json_object_get_string_len(v);
    return QAT_OK;
}

static qat_status parse_line(qat_data_seqcls *c, const char *s, size_t n, uint64_t line, json_tokener *tk)
{
    const char *file = qat_data_seqcls_name(c);
    size_t bad = qat_utf8_validate(s, n);
    if (bad < n)
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: invalid UTF-8 at byte %zu (0x%02x)", file, (unsigned long long)line,
                        bad + 1, (unsigned char)s[bad]);
    json_tokener_reset(tk);
    json_object *o = json_tokener_parse_ex(tk, s, (int)n);
    enum json_tokener_error err = json_tokener_get_error(tk);
    if (!o || err != json_tokener_success) {
        json_object_put(o);
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: not valid JSON (%s at column %zu)", file, (unsigned long long)line,
                        json_tokener_error_desc(err == json_tokener_success ? json_tokener_continue : err),
                        json_tokener_get_parse_end(tk) + 1);
    }
    qat_status st = QAT_OK;
    size_t used = json_tokener_get_parse_end(tk);
    if (used < n && strspn(s + used, " \t\r") != n - used)
        st = qat_fail(QAT_ERR_FORMAT, "%s:%llu: data after the JSON object at column %zu (one object per line)", file,
                      (unsigned long long)line, used + 1);
    if (st == QAT_OK && !json_object_is_type(o, json_type_object))
        st = qat_fail(QAT_ERR_FORMAT, "%s:%llu: a line must be a JSON object, not %s", file, (unsigned long long)line,
                      json_type_to_name(json_object_get_type(o)));
    const char *ka = NULL, *kb = NULL, *a = NULL, *b = NULL, *label = NULL;
    size_t la = 0, lb = 0, ll = 0;
    char num[32];
    if (st == QAT_OK) {
        json_object *va = first_key(o, text_keys, 4, &ka), *vb = first_key(o, text_b_keys, 3, &kb), *vl;
        if (!va)
            st = qat_fail(QAT_ERR_FORMAT, "%s:%llu: no text (expected a key text, sentence, sentence1 or premise)",
                          file, (unsigned long long)line);
        if (st == QAT_OK)
            st = text_of(file, line, va, ka, &a, &la);
        if (st == QAT_OK && vb && !json_object_is_type(vb, json_type_null))
            st = text_of(file, line, vb, kb, &b, &lb);
        if (st == QAT_OK && (!json_object_object_get_ex(o, "label", &vl) || json_object_is_type(vl, json_type_null)))
            st = qat_fail(QAT_ERR_FORMAT, "%s:%llu: no label (expected a key \"label\")", file,
                          (unsigned long long)line);
        if (st == QAT_OK && json_object_is_type(vl, json_type_string)) {
            label = json_object_get_string(vl);
            ll = (size_t)json_object_get_string_len(vl);
        } else if (st == QAT_OK && json_object_is_type(vl, json_type_int)) {
            snprintf(num, sizeof num, "%lld", (long long)json_object_get_int64(vl));
            label = num;
            ll = strlen(num);
        } else if (st == QAT_OK) {
            st = qat_fail(QAT_ERR_FORMAT, "%s:%llu: the label must be a string or an integer, not %s", file,
                          (unsigned long long)line, json_type_to_name(json_object_get_type(vl)));
        }
    }
    if (st == QAT_OK)
        st = qat_data_seqcls_add(c, a, la, b, lb, label, ll, line);
    json_object_put(o);
    return st;
}

qat_status qat_data_seqcls_parse_jsonl(qat_data_seqcls *c, char *buf, size_t size)
{
    json_tokener *tk = json_tokener_new_ex(32);
    if (!tk)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "seqcls: out of memory");
    char *p = buf, *end = buf + size;
    uint64_t line = 0;
    qat_status st = QAT_OK;
    while (st == QAT_OK && p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        const char *s = p;
        p += n + 1;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (strspn(s, " \t\r\v\f") >= n)
            continue;
        if (n > INT32_MAX - 1)
            st = qat_fail(QAT_ERR_FORMAT, "%s:%llu: line too long", qat_data_seqcls_name(c), (unsigned long long)line);
        else
            st = parse_line(c, s, n, line, tk);
    }
    json_tokener_free(tk);
    return st;
}
