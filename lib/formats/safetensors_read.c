/* safetensors reader. The header is validated completely (types, ranges,
 * tiling of the data) before any tensor is converted; messages name the
 * file, the tensor and the offending value. */
#include "formats/safetensors.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json.h"
#include "formats/half.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "libqat's checkpoint formats assume a little-endian host"
#endif

typedef enum st_kind { ST_F32, ST_F16, ST_BF16, ST_OTHER } st_kind;

static const struct {
    const char *name;
    int size;
    st_kind kind;
} dtypes[] = {
    {"F32", 4, ST_F32},     {"F16", 2, ST_F16},     {"BF16", 2, ST_BF16},   {"F64", 8, ST_OTHER},
    {"I64", 8, ST_OTHER},   {"U64", 8, ST_OTHER},   {"I32", 4, ST_OTHER},   {"U32", 4, ST_OTHER},
    {"I16", 2, ST_OTHER},   {"U16", 2, ST_OTHER},   {"I8", 1, ST_OTHER},    {"U8", 1, ST_OTHER},
    {"BOOL", 1, ST_OTHER},  {"F8_E4M3", 1, ST_OTHER}, {"F8_E5M2", 1, ST_OTHER},
};

typedef struct st_entry {
    const char *name; /* borrowed from the parsed header */
    int dtype;        /* index in dtypes */
    int ndim;
    int64_t shape[QAT_TENSOR_MAX_DIMS];
    uint64_t begin, end;
} st_entry;

static int compare_entries(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Reads a JSON integer >= 0 (json-c saturates huge ones at INT64_MAX,
 * which every later range check refuses). */
static int get_u64(json_object *v, uint64_t *out)
{
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
        return 0;
    *out = (uint64_t)json_object_get_int64(v);
    return 1;
}

static qat_status check_metadata(json_object *meta, const char *label)
{
    if (json_object_is_type(meta, json_type_null))
        return QAT_OK;
    if (!json_object_is_type(meta, json_type_object))
        return qat_fail(QAT_ERR_FORMAT, "%s: \"__metadata__\" must be an object of strings, found %s",
                        label, qat_json_type_name(json_object_get_type(meta)));
    json_object_object_foreach(meta, key, val) {
        if (!json_object_is_type(val, json_type_string))
            return qat_fail(QAT_ERR_FORMAT, "%s: \"__metadata__\" value of \"%.64s\" must be a string, "
                            "found %s", label, key, qat_json_type_name(json_object_get_type(val)));
    }
    return QAT_OK;
}

static qat_status parse_entry(const char *key, size_t key_len, json_object *obj, const char *label,
                              st_entry *e)
{
    if (strlen(key) != key_len || key_len == 0 || key_len > QAT_TENSOR_MAX_NAME)
        return qat_fail(QAT_ERR_FORMAT, "%s: tensor name \"%.64s\" is empty, contains a NUL or is "
                        "longer than %d bytes", label, key, QAT_TENSOR_MAX_NAME);
    if (!json_object_is_type(obj, json_type_object))
        return qat_fail(QAT_ERR_FORMAT, "%s: entry \"%.200s\" must be an object, found %s", label, key,
                        qat_json_type_name(json_object_get_type(obj)));
    json_object *dtype, *shape, *offsets;
    if (!json_object_object_get_ex(obj, "dtype", &dtype) || !json_object_is_type(dtype, json_type_string))
        return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\": \"dtype\" missing or not a string",
                        label, key);
    if (!json_object_object_get_ex(obj, "shape", &shape) || !json_object_is_type(shape, json_type_array))
        return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\": \"shape\" missing or not an array",
                        label, key);
    if (!json_object_object_get_ex(obj, "data_offsets", &offsets) ||
        !json_object_is_type(offsets, json_type_array))
        return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\": \"data_offsets\" missing or not an "
                        "array", label, key);
    e->name = key;
    e->dtype = -1;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(json_object_get_string(dtype), dtypes[i].name) == 0)
            e->dtype = (int)i;
    if (e->dtype < 0)
        return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\": unknown dtype \"%.32s\"", label, key,
                        json_object_get_string(dtype));
    size_t ndim = json_object_array_length(shape);
    if (ndim > QAT_TENSOR_MAX_DIMS)
        return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\" has %zu dimensions, at most %d are "
                        "supported", label, key, ndim, QAT_TENSOR_MAX_DIMS);
    e->ndim = (int)ndim;
    for (size_t d = 0; d < ndim; d++) {
        uint64_t v;
        if (!get_u64(json_object_array_get_idx(shape, d), &v))
            return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\": shape[%zu] is not a non-negative "
                            "integer", label, key, d);
        e->shape[d] = (int64_t)v;
    }
    if (json_object_array_length(offsets) != 2 ||
        !get_u64(json_object_array_get_idx(offsets, 0), &e->begin) ||
        !get_u64(json_object_array_get_idx(offsets, 1), &e->end))
        return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\": \"data_offsets\" must be two "
                        "non-negative integers [begin, end]", label, key);
    if (e->end < e->begin)
        return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\": data_offsets [%llu, %llu] end before "
                        "they begin", label, key, (unsigned long long)e->begin,
                        (unsigned long long)e->end);
    int64_t numel = qat_tensor_shape_numel(e->ndim, e->shape);
    uint64_t bytes;
    if (numel < 0 || __builtin_mul_overflow((uint64_t)numel, (uint64_t)dtypes[e->dtype].size, &bytes))
        return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\": shape too large", label, key);
    if (e->end - e->begin != bytes)
        return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\": data_offsets [%llu, %llu] span %llu "
                        "bytes, but shape x %s size needs %llu", label, key,
                        (unsigned long long)e->begin, (unsigned long long)e->end,
                        (unsigned long long)(e->end - e->begin), dtypes[e->dtype].name,
                        (unsigned long long)bytes);
    return QAT_OK;
}

/* The data ranges, sorted, must tile [0, data_size) exactly. */
static qat_status check_tiling(st_entry *entries, size_t n, uint64_t data_size, const char *label)
{
    qsort(entries, n, sizeof *entries, compare_entries);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].begin < at)
            return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\" data [%llu, %llu) overlaps \"%.200s\" "
                            "[%llu, %llu)", label, entries[i].name,
                            (unsigned long long)entries[i].begin, (unsigned long long)entries[i].end,
                            entries[i - 1].name, (unsigned long long)entries[i - 1].begin,
                            (unsigned long long)entries[i - 1].end);
        if (entries[i].begin > at)
            return qat_fail(QAT_ERR_FORMAT, "%s: %llu unused bytes at data offset %llu, before tensor "
                            "\"%.200s\"", label, (unsigned long long)(entries[i].begin - at),
                            (unsigned long long)at, entries[i].name);
        if (entries[i].end > data_size)
            return qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\" data [%llu, %llu) runs past the end "
                            "of the data (%llu bytes; truncated file?)", label, entries[i].name,
                            (unsigned long long)entries[i].begin, (unsigned long long)entries[i].end,
                            (unsigned long long)data_size);
        at = entries[i].end;
    }
    if (at != data_size)
        return qat_fail(QAT_ERR_FORMAT, "%s: %llu bytes after the last tensor's data (header says %llu "
                        "bytes of data, the file holds %llu)", label,
                        (unsigned long long)(data_size - at), (unsigned long long)at,
                        (unsigned long long)data_size);
    return QAT_OK;
}

static qat_status load_entry(const st_entry *e, const uint8_t *base, const char *label,
                             unsigned flags, qat_tensor_set *set)
{
    const char *dname = dtypes[e->dtype].name;
    if (dtypes[e->dtype].kind == ST_OTHER) {
        if (flags & QAT_SAFETENSORS_STRICT_DTYPES)
            return qat_fail(QAT_ERR_UNSUPPORTED, "%s: tensor \"%.200s\" has dtype %s; libqat loads "
                            "F32, F16 and BF16 tensors", label, e->name, dname);
        char why[48];
        snprintf(why, sizeof why, "dtype %s not loaded", dname);
        return qat_tensor_set_note_skipped(set, e->name, why);
    }
    qat_tensor *t;
    qat_status st = qat_tensor_set_add(set, e->name, e->ndim, e->shape, &t);
    if (st != QAT_OK)
        return qat_fail_prefix(st, "%s", label);
    const uint8_t *src = base + e->begin;
    size_t n = (size_t)t->numel;
    switch (dtypes[e->dtype].kind) {
    case ST_F32:
        memcpy(t->data, src, n * sizeof(float)); /* unaligned-safe */
        break;
    case ST_F16:
        for (size_t i = 0; i < n; i++)
            t->data[i] = qat_f16_to_float(qat_load_le16(src + 2 * i));
        break;
    case ST_BF16:
        for (size_t i = 0; i < n; i++)
            t->data[i] = qat_bf16_to_float(qat_load_le16(src + 2 * i));
        break;
    case ST_OTHER:
        break;
    }
    return QAT_OK;
}

qat_status qat_safetensors_read_memory(const uint8_t *data, size_t size, const char *label,
                                       unsigned flags, qat_tensor_set *set)
{
    QAT_CHECK_ARG(set != NULL && (data != NULL || size == 0), "safetensors: NULL argument");
    if (!label)
        label = "safetensors";
    if (size < 8)
        return qat_fail(QAT_ERR_FORMAT, "%s: %zu bytes, too short for the 8-byte header length "
                        "(truncated or not a safetensors file)", label, size);
    uint64_t n = qat_load_le64(data);
    if (n > QAT_SAFETENSORS_MAX_HEADER)
        return qat_fail(QAT_ERR_FORMAT, "%s: header length %llu exceeds the %u-byte limit (corrupt or "
                        "not a safetensors file)", label, (unsigned long long)n,
                        QAT_SAFETENSORS_MAX_HEADER);
    if (n > size - 8)
        return qat_fail(QAT_ERR_FORMAT, "%s: header length %llu runs past the end of the %zu-byte file "
                        "(truncated?)", label, (unsigned long long)n, size);
    if (n < 2 || data[8] != '{')
        return qat_fail(QAT_ERR_FORMAT, "%s: the header must be a JSON object starting with '{'",
                        label);
    const char *text = (const char *)data + 8;
    json_object *root;
    /* root -> entry -> shape: 3 levels; a little slack for odd metadata. */
    QAT_TRY(qat_json_parse(text, (size_t)n, 8, label, &root));
    qat_status st = QAT_OK;
    st_entry *entries = NULL;
    size_t n_entries = 0;
    if (!json_object_is_type(root, json_type_object)) {
        st = qat_fail(QAT_ERR_FORMAT, "%s: the header must be a JSON object", label);
        goto done;
    }
    size_t n_keys = (size_t)json_object_object_length(root);
    if (qat_json_count_top_keys(text, (size_t)n, NULL, NULL) != n_keys) {
        const char *dup = NULL;
        size_t dup_len = 0;
        qat_json_count_top_keys(text, (size_t)n, &dup, &dup_len);
        st = qat_fail(QAT_ERR_FORMAT, "%s: the header names tensor \"%.*s\" more than once", label,
                      dup ? (int)(dup_len > 200 ? 200 : dup_len) : 1, dup ? dup : "?");
        goto done;
    }
    /* json-c keys are C strings: a key with an escaped NUL would silently
     * be cut short. */
    if (qat_json_has_nul_escape(text, (size_t)n)) {
        st = qat_fail(QAT_ERR_FORMAT, "%s: the header contains a NUL character (a \\u0000 escape)", label);
        goto done;
    }
    entries = calloc(n_keys ? n_keys : 1, sizeof *entries);
    if (!entries) {
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
        goto done;
    }
    struct json_object_iterator it = json_object_iter_begin(root);
    struct json_object_iterator end = json_object_iter_end(root);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        json_object *val = json_object_iter_peek_value(&it);
        if (strcmp(key, "__metadata__") == 0) {
            st = check_metadata(val, label);
        } else {
            st = parse_entry(key, strlen(key), val, label, &entries[n_entries]);
            if (st == QAT_OK)
                n_entries++;
        }
        if (st != QAT_OK)
            goto done;
    }
    uint64_t data_size = size - 8 - n;
    st = check_tiling(entries, n_entries, data_size, label);
    const uint8_t *base = data + 8 + n;
    for (size_t i = 0; st == QAT_OK && i < n_entries; i++)
        st = load_entry(&entries[i], base, label, flags, set);
done:
    free(entries);
    json_object_put(root);
    return st;
}

qat_status qat_safetensors_read(const char *path, unsigned flags, qat_tensor_set *set)
{
    QAT_CHECK_ARG(path != NULL && set != NULL, "qat_safetensors_read: NULL argument");
    return qat_formats_read_mapped(path, qat_safetensors_read_memory, flags, set);
}
