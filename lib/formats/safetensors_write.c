/* safetensors writer, byte-compatible with safetensors.torch.save_file for
 * float32 tensors: compact JSON header, "__metadata__" first, entries sorted
 * by name (the crate sorts by dtype alignment, then name; all are F32
 * here), spaces padding the header to a multiple of 8 so that the data
 * starts aligned. */
#include "formats/safetensors.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "libqat's checkpoint formats assume a little-endian host"
#endif

static int compare_names(const void *a, const void *b)
{
    const qat_tensor *x = *(const qat_tensor *const *)a;
    const qat_tensor *y = *(const qat_tensor *const *)b;
    return strcmp(x->name, y->name); /* byte order, as Rust's String Ord */
}

/* Builds the header JSON; *order receives the tensors in file order. */
static qat_status build_header(const qat_tensor_set *set, const char *const (*metadata)[2],
                               size_t n_metadata, const qat_tensor ***order, json_object **out)
{
    size_t n = qat_tensor_set_count(set);
    const qat_tensor **sorted = malloc((n ? n : 1) * sizeof *sorted);
    json_object *root = json_object_new_object();
    json_object *meta = json_object_new_object();
    int ok = sorted && root && meta;
    if (ok)
        ok = json_object_object_add(root, "__metadata__", meta) == 0;
    if (!ok)
        json_object_put(meta);
    ok = ok && json_object_object_add(meta, "format", json_object_new_string("pt")) == 0;
    for (size_t i = 0; ok && i < n_metadata; i++)
        ok = json_object_object_add(meta, metadata[i][0], json_object_new_string(metadata[i][1])) == 0;
    for (size_t i = 0; ok && i < n; i++)
        sorted[i] = qat_tensor_set_at(set, i);
    if (ok)
        qsort(sorted, n, sizeof *sorted, compare_names);
    uint64_t at = 0;
    for (size_t i = 0; ok && i < n; i++) {
        const qat_tensor *t = sorted[i];
        json_object *entry = json_object_new_object();
        json_object *shape = json_object_new_array();
        json_object *offs = json_object_new_array();
        ok = entry && shape && offs && json_object_object_add(root, t->name, entry) == 0;
        if (!ok) {
            json_object_put(entry);
            json_object_put(shape);
            json_object_put(offs);
            break;
        }
        ok = json_object_object_add(entry, "dtype", json_object_new_string("F32")) == 0;
        ok = ok && json_object_object_add(entry, "shape", shape) == 0;
        if (!ok)
            json_object_put(shape);
        ok = ok && json_object_object_add(entry, "data_offsets", offs) == 0;
        if (!ok)
            json_object_put(offs);
        for (int d = 0; ok && d < t->ndim; d++)
            ok = json_object_array_add(shape, json_object_new_int64(t->shape[d])) == 0;
        uint64_t bytes = (uint64_t)t->numel * sizeof(float);
        ok = ok && json_object_array_add(offs, json_object_new_int64((int64_t)at)) == 0;
        at += bytes;
        ok = ok && json_object_array_add(offs, json_object_new_int64((int64_t)at)) == 0;
    }
    if (!ok) {
        free(sorted);
        json_object_put(root);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "safetensors writer: out of memory");
    }
    *order = sorted;
    *out = root;
    return QAT_OK;
}

qat_status qat_safetensors_write(const char *path, const qat_tensor_set *set,
                                 const char *const (*metadata)[2], size_t n_metadata)
{
    QAT_CHECK_ARG(path != NULL && set != NULL, "qat_safetensors_write: NULL argument");
    QAT_CHECK_ARG(n_metadata == 0 || metadata != NULL, "qat_safetensors_write: NULL metadata");
    for (size_t i = 0; i < n_metadata; i++) {
        QAT_CHECK_ARG(metadata[i][0] && metadata[i][1], "qat_safetensors_write: NULL metadata string");
        QAT_CHECK_ARG(strcmp(metadata[i][0], "format") != 0,
                      "qat_safetensors_write: metadata key \"format\" is reserved (always \"pt\")");
        for (size_t j = 0; j < i; j++)
            QAT_CHECK_ARG(strcmp(metadata[i][0], metadata[j][0]) != 0,
                          "qat_safetensors_write: metadata key \"%s\" given twice", metadata[i][0]);
    }
    for (size_t i = 0; i < qat_tensor_set_count(set); i++)
        QAT_CHECK_ARG(strcmp(qat_tensor_set_at(set, i)->name, "__metadata__") != 0,
                      "qat_safetensors_write: a tensor cannot be named \"__metadata__\"");
    const qat_tensor **order = NULL;
    json_object *root = NULL;
    QAT_TRY(build_header(set, metadata, n_metadata, &order, &root));
    size_t len = 0;
    const char *json = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    qat_status st = QAT_OK;
    size_t pad = (8 - len % 8) % 8;
    if (!json)
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "safetensors writer: out of memory");
    else if (len + pad > QAT_SAFETENSORS_MAX_HEADER)
        st = qat_fail(QAT_ERR_INVALID_ARGUMENT, "safetensors writer: header of %zu bytes exceeds the "
                      "format's %u-byte limit", len + pad, QAT_SAFETENSORS_MAX_HEADER);
    qat_atomic_file af;
    memset(&af, 0, sizeof af);
    if (st == QAT_OK)
        st = qat_atomic_open(path, &af);
    if (st == QAT_OK) {
        uint64_t header_len = len + pad;
        uint8_t le[8];
        for (int i = 0; i < 8; i++)
            le[i] = (uint8_t)(header_len >> (8 * i));
        st = qat_atomic_write(&af, le, 8);
        if (st == QAT_OK)
            st = qat_atomic_write(&af, json, len);
        if (st == QAT_OK)
            st = qat_atomic_write(&af, "        ", pad);
        for (size_t i = 0; st == QAT_OK && i < qat_tensor_set_count(set); i++)
            st = qat_atomic_write(&af, order[i]->data, (size_t)order[i]->numel * sizeof(float));
        if (st == QAT_OK)
            st = qat_atomic_commit(&af);
    }
    qat_atomic_abort(&af);
    json_object_put(root);
    free(order);
    return st;
}
