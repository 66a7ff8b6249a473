/* torch.save zip checkpoints -> tensor set. The pickle says which storage,
 * offset, sizes and strides make each tensor; the storages are the archive
 * entries "<prefix>/data/<key>", raw little-endian elements. */
#include "formats/torch_bin.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"
#include "formats/half.h"
#include "formats/pickle_vm.h"
#include "formats/zip_reader.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "libqat's checkpoint formats assume a little-endian host"
#endif

static int is_float(qat_torch_dtype d)
{
    return d == QAT_TORCH_F32 || d == QAT_TORCH_F16 || d == QAT_TORCH_BF16;
}

/* Explains non-zip inputs: the pre-1.6 format starts with a pickled magic
 * number (LONG1 0x1950a86a20f9469cfc6c), very old ones are tar files. */
static qat_status refuse_non_zip(const uint8_t *d, size_t n, const char *label)
{
    static const uint8_t legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                           0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    if (n >= sizeof legacy_magic && memcmp(d, legacy_magic, sizeof legacy_magic) == 0)
        return qat_fail(QAT_ERR_UNSUPPORTED,
                        "%s: legacy (non-zip) torch.save format, written by torch < 1.6 or with "
                        "_use_new_zipfile_serialization=False, is not supported; re-save it with "
                        "a current torch.save or as safetensors", label);
    if (n >= 262 && memcmp(d + 257, "ustar", 5) == 0)
        return qat_fail(QAT_ERR_UNSUPPORTED,
                        "%s: tar-based torch.save format (torch < 0.4) is not supported; re-save "
                        "it with a current torch.save or as safetensors", label);
    if (n >= 2 && d[0] == 0x80)
        return qat_fail(QAT_ERR_UNSUPPORTED,
                        "%s: a bare pickle, not a torch zip checkpoint; pickles are only read "
                        "inside torch's zip format", label);
    return qat_fail(QAT_ERR_FORMAT, "%s: not a PyTorch checkpoint (no zip signature)", label);
}

/* "<prefix>/data.pkl": torch names the prefix after the file it saved to. */
static qat_status find_pickle(const qat_zip *zip, const char *label, size_t *index,
                              size_t *prefix_len)
{
    int found = 0;
    for (size_t i = 0; i < qat_formats_zip_count(zip); i++) {
        const char *name = qat_formats_zip_name(zip, i);
        const char *slash = strchr(name, '/');
        if (!slash || slash == name || strcmp(slash, "/data.pkl") != 0)
            continue;
        if (found)
            return qat_fail(QAT_ERR_FORMAT, "%s: several */data.pkl records in one archive", label);
        found = 1;
        *index = i;
        *prefix_len = (size_t)(slash - name);
    }
    if (!found)
        return qat_fail(QAT_ERR_FORMAT, "%s: zip archive without a <name>/data.pkl record: not a "
                        "torch.save checkpoint", label);
    return QAT_OK;
}

typedef struct storage_slot {
    const char *key;
    qat_torch_dtype dtype;
    int64_t numel;
    qat_zip_data bytes;
} storage_slot;

/* A float tensor to fill: its description and its position in the set. */
typedef struct pending {
    const qat_torch_tensor_ref *ref;
    size_t set_index;
} pending;

static int by_key(const void *a, const void *b)
{
    return strcmp(((const pending *)a)->ref->storage_key, ((const pending *)b)->ref->storage_key);
}

static float element(const uint8_t *base, qat_torch_dtype d, int64_t i)
{
    switch (d) {
    case QAT_TORCH_F16: return qat_f16_to_float(qat_load_le16(base + 2 * i));
    case QAT_TORCH_BF16: return qat_bf16_to_float(qat_load_le16(base + 2 * i));
    default: {
        float f;
        memcpy(&f, base + 4 * i, sizeof f);
        return f;
    }
    }
}

/* Copies the strided view r out of its storage into dst (row-major). The
 * pickle VM already proved every addressed element lies in the storage. */
static void gather(const qat_torch_tensor_ref *r, const uint8_t *storage, float *dst)
{
    int64_t numel = 1;
    for (int d = 0; d < r->ndim; d++)
        numel *= r->size[d];
    if (numel == 0)
        return;
    int contiguous = 1;
    int64_t expect = 1;
    for (int d = r->ndim - 1; d >= 0; d--) {
        if (r->size[d] != 1 && r->stride[d] != expect)
            contiguous = 0;
        expect *= r->size[d];
    }
    if (contiguous && r->dtype == QAT_TORCH_F32) {
        memcpy(dst, storage + 4 * r->offset, (size_t)numel * sizeof(float));
        return;
    }
    if (contiguous) {
        for (int64_t i = 0; i < numel; i++)
            dst[i] = element(storage, r->dtype, r->offset + i);
        return;
    }
    /* Odometer over the indices, tracking the source position. */
    int64_t idx[QAT_TENSOR_MAX_DIMS] = {0};
    int64_t src = r->offset;
    for (int64_t i = 0; i < numel; i++) {
        dst[i] = element(storage, r->dtype, src);
        for (int d = r->ndim - 1; d >= 0; d--) {
            if (++idx[d] < r->size[d]) {
                src += r->stride[d];
                break;
            }
            src -= (r->size[d] - 1) * r->stride[d];
            idx[d] = 0;
        }
    }
}

/* One past the last element of its storage that r addresses (0 if none). */
static int64_t extent(const qat_torch_tensor_ref *r)
{
    int64_t last = r->offset;
    for (int d = 0; d < r->ndim; d++) {
        if (r->size[d] == 0)
            return 0;
        last += (r->size[d] - 1) * r->stride[d];
    }
    return last + 1;
}

/* Loads storage `key` once, checking its size against the pickle's claim;
 * only its first `need` elements (what its tensors address) are kept. */
static qat_status load_storage(qat_zip *zip, const char *label, const char *prefix,
                               size_t prefix_len, const qat_torch_tensor_ref *r, int64_t need,
                               storage_slot *slot)
{
    memset(slot, 0, sizeof *slot);
    slot->key = r->storage_key;
    slot->dtype = r->dtype;
    slot->numel = r->storage_numel;
    size_t len = prefix_len + strlen(r->storage_key) + 8;
    char *entry = malloc(len);
    if (!entry)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    snprintf(entry, len, "%.*s/data/%s", (int)prefix_len, prefix, r->storage_key);
    size_t index;
    qat_status st = QAT_OK;
    if (!qat_formats_zip_find(zip, entry, &index))
        st = qat_fail(QAT_ERR_FORMAT, "%s: storage '%s' of tensor '%s' is missing (no entry \"%s\")",
                      label, r->storage_key, r->name, entry);
    free(entry);
    QAT_TRY(st);
    uint64_t want = (uint64_t)r->storage_numel * (uint64_t)qat_torch_dtype_size(r->dtype);
    if (qat_formats_zip_size(zip, index) != want)
        return qat_fail(QAT_ERR_FORMAT, "%s: storage '%s' holds %llu bytes, but the pickle declares "
                        "%lld elements of %s (%llu bytes)", label, r->storage_key,
                        (unsigned long long)qat_formats_zip_size(zip, index), (long long)r->storage_numel,
                        qat_torch_dtype_name(r->dtype), (unsigned long long)want);
    return qat_formats_zip_read_prefix(zip, index, (uint64_t)need * (uint64_t)qat_torch_dtype_size(r->dtype),
                                       &slot->bytes);
}

static qat_status load_tensors(qat_zip *zip, const char *label, const char *prefix,
                               size_t prefix_len, const qat_torch_state_dict *sd, unsigned flags,
                               qat_tensor_set *set)
{
    /* Pass 1, in pickle order: add (zeroed) tensors to the set, so that it
     * iterates in the state dict's order; remember where each went. */
    size_t n = sd->count;
    pending *todo = malloc((n ? n : 1) * sizeof *todo);
    if (!todo)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    qat_status st = QAT_OK;
    size_t n_float = 0;
    for (size_t i = 0; i < n && st == QAT_OK; i++) {
        const qat_torch_tensor_ref *r = &sd->tensors[i];
        if (!is_float(r->dtype)) {
            if (flags & QAT_TORCH_STRICT_DTYPES) {
                st = qat_fail(QAT_ERR_UNSUPPORTED, "%s: tensor '%s' is stored as %s; libqat loads "
                              "FloatStorage, HalfStorage and BFloat16Storage tensors", label,
                              r->name, qat_torch_dtype_name(r->dtype));
            } else {
                char why[64];
                snprintf(why, sizeof why, "%s not loaded", qat_torch_dtype_name(r->dtype));
                st = qat_tensor_set_note_skipped(set, r->name, why);
            }
            continue;
        }
        todo[n_float].ref = r;
        todo[n_float].set_index = qat_tensor_set_count(set);
        st = qat_tensor_set_add(set, r->name, r->ndim, r->size, NULL);
        if (st != QAT_OK)
            st = qat_fail_prefix(st, "%s", label);
        n_float++;
    }
    /* Pass 2, grouped by storage: read each storage once (shared storages,
     * e.g. a tied decoder, are common) and gather its tensors. */
    if (st == QAT_OK)
        qsort(todo, n_float, sizeof *todo, by_key);
    storage_slot slot;
    memset(&slot, 0, sizeof slot);
    for (size_t i = 0; st == QAT_OK && i < n_float; i++) {
        const qat_torch_tensor_ref *r = todo[i].ref;
        if (!slot.key || strcmp(slot.key, r->storage_key) != 0) {
            /* the group of tensors over this storage: what they address */
            int64_t need = 0;
            for (size_t j = i; j < n_float && strcmp(todo[j].ref->storage_key, r->storage_key) == 0; j++) {
                int64_t e = extent(todo[j].ref);
                need = e > need ? e : need;
            }
            qat_formats_zip_data_free(&slot.bytes);
            st = load_storage(zip, label, prefix, prefix_len, r, need, &slot);
            if (st != QAT_OK)
                break;
        } else if (slot.dtype != r->dtype || slot.numel != r->storage_numel) {
            st = qat_fail(QAT_ERR_FORMAT, "%s: storage '%s' is declared twice with different "
                          "types or sizes", label, r->storage_key);
            break;
        }
        gather(r, slot.bytes.data, qat_tensor_set_at(set, todo[i].set_index)->data);
    }
    qat_formats_zip_data_free(&slot.bytes);
    free(todo);
    return st;
}

qat_status qat_torch_bin_read_memory(const uint8_t *data, size_t size, const char *label,
                                     unsigned flags, qat_tensor_set *set)
{
    QAT_CHECK_ARG(set != NULL && (data != NULL || size == 0), "torch checkpoint: NULL argument");
    if (!label)
        label = "pytorch_model.bin";
    if (size < 4 || memcmp(data, "PK", 2) != 0)
        return refuse_non_zip(data, size, label);
    qat_zip *zip;
    QAT_TRY(qat_formats_zip_open(data, size, label, &zip));
    size_t pkl = 0, prefix_len = 0;
    qat_status st = find_pickle(zip, label, &pkl, &prefix_len);
    const char *prefix = st == QAT_OK ? qat_formats_zip_name(zip, pkl) : NULL;
    /* Newer torch records the byte order; storages are little-endian only. */
    if (st == QAT_OK) {
        char name[600];
        size_t idx;
        snprintf(name, sizeof name, "%.*s/byteorder", (int)(prefix_len > 512 ? 512 : prefix_len),
                 prefix);
        if (qat_formats_zip_find(zip, name, &idx)) {
            qat_zip_data bo;
            st = qat_formats_zip_read(zip, idx, &bo);
            if (st == QAT_OK && !(bo.size == 6 && memcmp(bo.data, "little", 6) == 0))
                st = qat_fail(QAT_ERR_UNSUPPORTED, "%s: storages are not little-endian", label);
            qat_formats_zip_data_free(&bo);
        }
    }
    qat_zip_data pickle;
    memset(&pickle, 0, sizeof pickle);
    if (st == QAT_OK)
        st = qat_formats_zip_read(zip, pkl, &pickle);
    qat_torch_state_dict sd;
    memset(&sd, 0, sizeof sd);
    if (st == QAT_OK)
        st = qat_torch_pickle_load(pickle.data, pickle.size, label, &sd);
    if (st == QAT_OK)
        st = load_tensors(zip, label, prefix, prefix_len, &sd, flags, set);
    qat_torch_state_dict_clear(&sd);
    qat_formats_zip_data_free(&pickle);
    qat_formats_zip_free(zip);
    return st;
}

qat_status qat_torch_bin_read(const char *path, unsigned flags, qat_tensor_set *set)
{
    QAT_CHECK_ARG(path != NULL && set != NULL, "qat_torch_bin_read: NULL argument");
    return qat_formats_read_mapped(path, qat_torch_bin_read_memory, flags, set);
}
