/* HF checkpoint directories: config.json + single or sharded weights. */
#include "formats/hf_dir.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json.h"
#include "formats/safetensors.h"
#include "formats/torch_bin.h"

static const char *const weight_files[] = {
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
};
#define N_WEIGHT_FILES 4
/* Index files list a few thousand names at most; 64 MB is generous. */
#define MAX_INDEX_BYTES (64u << 20)

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

qat_status qat_formats_hf_dir_find_weights(const char *dir, int *kind)
{
    QAT_CHECK_ARG(dir != NULL && kind != NULL, "hf dir: NULL argument");
    *kind = -1;
    for (int i = 0; i < N_WEIGHT_FILES; i++) {
        char *p = join(dir, weight_files[i]);
        if (!p)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
        int found = is_file(p);
        free(p);
        if (found) {
            *kind = i;
            return QAT_OK;
        }
    }
    return qat_fail(QAT_ERR_NOT_FOUND, "'%s' holds no model weights: looked for %s, %s, %s and %s",
                    dir, weight_files[0], weight_files[1], weight_files[2], weight_files[3]);
}

static qat_status read_one(const char *path, int safetensors, unsigned flags, qat_tensor_set *set)
{
    unsigned f = (flags & QAT_HF_DIR_STRICT_DTYPES)
                     ? (safetensors ? QAT_SAFETENSORS_STRICT_DTYPES : QAT_TORCH_STRICT_DTYPES)
                     : 0;
    return safetensors ? qat_safetensors_read(path, f, set) : qat_torch_bin_read(path, f, set);
}

/* Whether `name` was read, as a tensor or as a skipped (non-float) one. */
static int was_read(const qat_tensor_set *set, const char *name)
{
    if (qat_tensor_set_find(set, name))
        return 1;
    size_t n = strlen(name);
    for (size_t i = 0; i < qat_tensor_set_skipped_count(set); i++) {
        const char *s = qat_tensor_set_skipped(set, i);
        if (strncmp(s, name, n) == 0 && strncmp(s + n, " (", 2) == 0)
            return 1;
    }
    return 0;
}

static qat_status read_sharded(const char *dir, const char *index_path, int safetensors,
                               unsigned flags, qat_tensor_set *set)
{
    char *text;
    size_t len;
    QAT_TRY(qat_file_read(index_path, MAX_INDEX_BYTES, &text, &len));
    char label[512];
    snprintf(label, sizeof label, "'%s'", index_path);
    json_object *root = NULL, *map = NULL;
    qat_status st = qat_json_parse(text, len, 16, label, &root);
    free(text);
    QAT_TRY(st);
    if (!json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "weight_map", &map) ||
        !json_object_is_type(map, json_type_object)) {
        json_object_put(root);
        return qat_fail(QAT_ERR_FORMAT, "%s: expected an object with a \"weight_map\" object", label);
    }
    /* Shard names, each read once, in first-mention order. */
    size_t n = (size_t)json_object_object_length(map);
    const char **shards = calloc(n ? n : 1, sizeof *shards);
    size_t n_shards = 0;
    if (!shards)
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    json_object_object_foreach(map, tensor, file) {
        if (st != QAT_OK)
            break;
        const char *f = json_object_is_type(file, json_type_string) ? json_object_get_string(file) : NULL;
        /* Plain names only: an index must not reach outside the directory. */
        if (!f || !*f || strchr(f, '/') || strchr(f, '\\') || strcmp(f, ".") == 0 ||
            strcmp(f, "..") == 0 || strlen(f) != (size_t)json_object_get_string_len(file)) {
            st = qat_fail(QAT_ERR_FORMAT, "%s: weight_map[\"%.200s\"] must be a file name inside the "
                          "checkpoint directory", label, tensor);
            break;
        }
        size_t k = 0;
        while (k < n_shards && strcmp(shards[k], f) != 0)
            k++;
        if (k == n_shards)
            shards[n_shards++] = f;
    }
    for (size_t k = 0; st == QAT_OK && k < n_shards; k++) {
        char *path = join(dir, shards[k]);
        if (!path) {
            st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        st = read_one(path, safetensors, flags, set);
        if (st != QAT_OK)
            qat_fail_prefix(st, "shard %zu of %zu listed in %s", k + 1, n_shards, label);
        free(path);
    }
    if (st == QAT_OK) {
        json_object_object_foreach(map, tensor, file) {
            (void)file;
            if (!was_read(set, tensor)) {
                st = qat_fail(QAT_ERR_FORMAT, "%s: tensor \"%.200s\" is listed in weight_map but "
                              "missing from its shard", label, tensor);
                break;
            }
        }
    }
    free(shards);
    json_object_put(root);
    return st;
}

qat_status qat_formats_hf_dir_read(const char *dir, unsigned flags, qat_model_dims *dims,
                                   qat_hf_labels *labels, qat_tensor_set **out)
{
    QAT_CHECK_ARG(dir != NULL && dims != NULL && out != NULL, "qat_formats_hf_dir_read: NULL argument");
    *out = NULL;
    if (labels) {
        labels->count = 0;
        labels->names = NULL;
    }
    char *config = join(dir, "config.json");
    if (!config)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    if (!is_file(config)) {
        free(config);
        return qat_fail(QAT_ERR_NOT_FOUND, "'%s' is not a Hugging Face checkpoint directory: no "
                        "config.json", dir);
    }
    qat_model_dims d;
    qat_status st = qat_hf_config_read(config, &d, labels);
    free(config);
    QAT_TRY(st);
    int kind;
    qat_tensor_set *set = NULL;
    st = qat_formats_hf_dir_find_weights(dir, &kind);
    if (st == QAT_OK)
        st = qat_tensor_set_create(&set);
    char *path = NULL;
    if (st == QAT_OK && !(path = join(dir, weight_files[kind])))
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == QAT_OK) {
        int safetensors = kind < 2;
        st = (kind == 1 || kind == 3) ? read_sharded(dir, path, safetensors, flags, set)
                                      : read_one(path, safetensors, flags, set);
    }
    free(path);
    if (st != QAT_OK) {
        qat_tensor_set_free(set);
        qat_hf_labels_clear(labels);
        return st;
    }
    *dims = d;
    *out = set;
    return QAT_OK;
}
