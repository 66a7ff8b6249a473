/* json-c helpers for the checkpoint formats: one strict parse with a depth
 * limit that rejects trailing data, and error messages that say where. */
#ifndef QAT_LIB_FORMATS_JSON_UTIL_H
#define QAT_LIB_FORMATS_JSON_UTIL_H

#include <json-c/json.h>
#include <stddef.h>

#include "qat/core.h"

/* Parses text[0..len) as one JSON value (strict RFC 8259: no comments, no
 * single quotes, no trailing commas; NaN and Infinity refused), nested at
 * most max_depth levels, followed only by whitespace. `label` names the
 * source in errors ("'dir/config.json'"). On success *out holds a new
 * reference the caller puts. Fails with QAT_ERR_FORMAT. */
qat_status qat_formats_json_parse(const char *text, size_t len, int max_depth, const char *label,
                                  json_object **out);

/* Number of keys of the object spelled at the top level of text[0..len),
 * counted in the source text, so that duplicates (which json-c silently
 * merges) can be detected. Only meaningful for text json-c accepted. When
 * a key repeats, dup_start and dup_len locate its raw spelling. */
size_t qat_formats_json_count_top_keys(const char *text, size_t len, const char **dup_start,
                                       size_t *dup_len);

/* Whether a string in text[0..len) holds the escape \u0000 (json-c would
 * cut an object key there). */
int qat_formats_json_has_nul_escape(const char *text, size_t len);

/* Writes j, pretty-printed, to path atomically (temporary file, fsync,
 * rename): readers see the old file or the whole new one. */
qat_status qat_formats_write_json(const char *path, json_object *j);

/* A printable name for a json type ("a string", "an integer"...). */
const char *qat_formats_json_type_name(const json_object *v);

#endif
