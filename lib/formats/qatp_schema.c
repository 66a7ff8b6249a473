/* The .qatp record schema shared by the writer and the loader. */
#include "formats/qatp_schema.h"

#include "core/utf8.h"

const char *const qatp_linear_names[QATP_LINEARS] = {
    "attention.self.query", "attention.self.key",   "attention.self.value",
    "attention.output.dense", "intermediate.dense", "output.dense",
};

/* Control characters are refused because `qat infer` prints names in
 * tab-separated lines. */
const char *qatp_label_name_problem(const char *s, size_t n)
{
    if (n == 0)
        return "is empty";
    if (n > QATP_LABEL_MAX_BYTES)
        return "is longer than 1024 bytes";
    if (qat_utf8_validate(s, n) != n)
        return "is not valid UTF-8";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return "contains a control character";
    return NULL;
}
