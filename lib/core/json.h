/* json-c helpers for every reader and writer of JSON in the library: one
 * strict parse with a depth limit that rejects trailing data (errors say
 * line and column), the duplicate-key and NUL-escape checks json-c cannot
 * make, typed member access whose failures name the file and the JSON path,
 * and atomic writes. */
#ifndef QAT_LIB_CORE_JSON_H
#define QAT_LIB_CORE_JSON_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

/* Parses text[0..len) as one JSON value (strict RFC 8259: no comments, no
 * single quotes, no trailing commas; NaN and Infinity refused), nested at
 * most max_depth levels, followed only by whitespace. `label` names the
 * source in errors ("'dir/config.json'"). On success *out holds a new
 * reference the caller puts. Fails with QAT_ERR_FORMAT. */
qat_status qat_json_parse(const char *text, size_t len, int max_depth, const char *label,
                          json_object **out);

/* Number of keys of the object spelled at the top level of text[0..len),
 * counted in the source text, so that duplicates (which json-c silently
 * merges) can be detected. Only meaningful for text json-c accepted. When
 * a key repeats, dup_start and dup_len locate its raw spelling. */
size_t qat_json_count_top_keys(const char *text, size_t len, const char **dup_start,
                               size_t *dup_len);

/* Whether a string in text[0..len) holds the escape \u0000 (json-c would
 * cut an object key there). */
int qat_json_has_nul_escape(const char *text, size_t len);

/* Writes j, pretty-printed, to path atomically (temporary file, fsync,
 * rename): readers see the old file or the whole new one. */
qat_status qat_json_write_file(const char *path, json_object *j);

/* A printable name for a json type ("a string", "an integer"...). */
const char *qat_json_type_name(json_type type);

/* ---- Typed member access ---------------------------------------------- */

typedef struct qat_json_ctx {
    const char *where; /* the file, as messages name it */
} qat_json_ctx;

/* Member `key` of object `o` (at JSON path `path`): required members fail
 * with QAT_ERR_FORMAT when absent; *v is NULL when absent or null and
 * `required` is 0. Fails when present with another type (`type` < 0: any). */
qat_status qat_json_get(const qat_json_ctx *c, json_object *o, const char *path, const char *key, int type,
                        int required, json_object **v);
/* Optional scalars: *out keeps its default when absent or null. */
qat_status qat_json_bool(const qat_json_ctx *c, json_object *o, const char *path, const char *key, int *out);
qat_status qat_json_int(const qat_json_ctx *c, json_object *o, const char *path, const char *key, int64_t lo,
                        int64_t hi, int64_t *out);
/* Optional string: *s = NULL when absent or null. */
qat_status qat_json_str(const qat_json_ctx *c, json_object *o, const char *path, const char *key, const char **s,
                        size_t *len);

#endif
