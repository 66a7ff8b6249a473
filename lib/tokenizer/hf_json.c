/* config.json / tokenizer_config.json lookups with json-c (the
 * tokenizer.json reader itself is json_load.c and json_model.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

qat_status qat_tok_json_config(const char *data, size_t size, const char *where, const char *key, char *value,
                               size_t cap, int *found)
{
    *found = 0;
    value[0] = '\0';
    json_tokener *tk = json_tokener_new();
    json_object *root = tk ? json_tokener_parse_ex(tk, data, (int)(size > INT32_MAX ? INT32_MAX : size)) : NULL;
    qat_status st = QAT_OK;
    if (!root || !json_object_is_type(root, json_type_object)) {
        st = qat_fail(QAT_ERR_FORMAT, "%s: not a JSON object (%s)", where,
                      tk ? json_tokener_error_desc(json_tokener_get_error(tk)) : "out of memory");
    } else {
        json_object *v;
        if (json_object_object_get_ex(root, key, &v)) {
            *found = 1;
            const char *s = v ? json_object_get_string(v) : "null";
            snprintf(value, cap, "%s", s ? s : "null");
        }
    }
    json_object_put(root);
    if (tk)
        json_tokener_free(tk);
    return st;
}
