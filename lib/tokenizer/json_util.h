/* Typed member access on json-c objects for the tokenizer.json reader:
 * every failure names the file and the JSON path of the offending field. */
#ifndef QAT_TOK_JSON_UTIL_H
#define QAT_TOK_JSON_UTIL_H

#include <json-c/json.h>

#include "qat/core.h"

typedef struct qat_tok_jctx {
    const char *where;   /* the file */
} qat_tok_jctx;

/* Member `key` of object `o` (at JSON path `path`): required members fail
 * with QAT_ERR_FORMAT when absent; *v is NULL when absent or null and
 * `required` is 0. Fails when present with another type (`type` < 0: any). */
qat_status qat_tok_jget(const qat_tok_jctx *c, json_object *o, const char *path, const char *key, int type,
                        int required, json_object **v);
/* Optional scalars: *out keeps its default when absent or null. */
qat_status qat_tok_jbool(const qat_tok_jctx *c, json_object *o, const char *path, const char *key, int *out);
qat_status qat_tok_jint(const qat_tok_jctx *c, json_object *o, const char *path, const char *key, int64_t lo,
                        int64_t hi, int64_t *out);
/* Optional string: *s = NULL when absent or null. */
qat_status qat_tok_jstr(const qat_tok_jctx *c, json_object *o, const char *path, const char *key, const char **s,
                        size_t *len);
const char *qat_tok_jtype_name(int type);

#endif
