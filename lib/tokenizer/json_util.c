/* Typed member access on json-c objects (see json_util.h). */
#include "tokenizer/json_util.h"

#include "core/error.h"

const char *qat_tok_jtype_name(int type)
{
    switch (type) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a number";
    case json_type_int: return "an integer";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    default: return "a value";
    }
}

qat_status qat_tok_jget(const qat_tok_jctx *c, json_object *o, const char *path, const char *key, int type,
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
                        qat_tok_jtype_name(type), qat_tok_jtype_name(t));
    *v = x;
    return QAT_OK;
}

qat_status qat_tok_jbool(const qat_tok_jctx *c, json_object *o, const char *path, const char *key, int *out)
{
    json_object *v;
    QAT_TRY(qat_tok_jget(c, o, path, key, json_type_boolean, 0, &v));
    if (v)
        *out = json_object_get_boolean(v) ? 1 : 0;
    return QAT_OK;
}

qat_status qat_tok_jint(const qat_tok_jctx *c, json_object *o, const char *path, const char *key, int64_t lo,
                        int64_t hi, int64_t *out)
{
    json_object *v;
    QAT_TRY(qat_tok_jget(c, o, path, key, json_type_int, 0, &v));
    if (v) {
        int64_t x = json_object_get_int64(v);
        if (x < lo || x > hi)
            return qat_fail(QAT_ERR_FORMAT, "%s: %s.%s = %lld is out of range [%lld, %lld]", c->where, path, key,
                            (long long)x, (long long)lo, (long long)hi);
        *out = x;
    }
    return QAT_OK;
}

qat_status qat_tok_jstr(const qat_tok_jctx *c, json_object *o, const char *path, const char *key, const char **s,
                        size_t *len)
{
    json_object *v;
    *s = NULL;
    if (len)
        *len = 0;
    QAT_TRY(qat_tok_jget(c, o, path, key, json_type_string, 0, &v));
    if (v) {
        *s = json_object_get_string(v);
        if (len)
            *len = (size_t)json_object_get_string_len(v);
    }
    return QAT_OK;
}
