#include "formats/tensor_set.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Tensors live in an insertion-ordered array; `index` is an open-addressing
 * hash table of positions + 1 (0 = empty slot), kept at most half full. */
struct qat_tensor_set {
    qat_tensor *items;
    size_t count, cap;
    size_t *index;
    size_t index_cap; /* power of two */
    char **skipped;
    size_t n_skipped;
};

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

int64_t qat_tensor_shape_numel(int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > QAT_TENSOR_MAX_DIMS)
        return -1;
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || __builtin_mul_overflow(n, shape[d], &n))
            return -1;
    }
    /* Bytes as float32 must fit a size_t and an int64 with room to spare. */
    return n > ((int64_t)1 << 60) ? -1 : n;
}

qat_status qat_tensor_set_create(qat_tensor_set **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_tensor_set_create: NULL out");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tensor set: out of memory");
    return QAT_OK;
}

void qat_tensor_set_free(qat_tensor_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++) {
        free((char *)set->items[i].name);
        if (set->items[i].owned)
            free(set->items[i].data);
    }
    for (size_t i = 0; i < set->n_skipped; i++)
        free(set->skipped[i]);
    free(set->skipped);
    free(set->items);
    free(set->index);
    free(set);
}

size_t qat_tensor_set_count(const qat_tensor_set *set)
{
    return set ? set->count : 0;
}

const qat_tensor *qat_tensor_set_at(const qat_tensor_set *set, size_t i)
{
    return set && i < set->count ? &set->items[i] : NULL;
}

/* Slot of `name` in the index: where it is, or the empty slot it would take. */
static size_t slot_of(const qat_tensor_set *set, const char *name)
{
    size_t mask = set->index_cap - 1;
    size_t s = (size_t)hash_name(name) & mask;
    while (set->index[s] && strcmp(set->items[set->index[s] - 1].name, name) != 0)
        s = (s + 1) & mask;
    return s;
}

const qat_tensor *qat_tensor_set_find(const qat_tensor_set *set, const char *name)
{
    if (!set || !name || set->index_cap == 0)
        return NULL;
    size_t s = slot_of(set, name);
    return set->index[s] ? &set->items[set->index[s] - 1] : NULL;
}

/* Installs a fresh zeroed table (allocated by the caller, so that a failed
 * allocation leaves the set untouched) and indexes every tensor in it. */
static void install_index(qat_tensor_set *set, size_t *index, size_t cap)
{
    free(set->index);
    set->index = index;
    set->index_cap = cap;
    for (size_t i = 0; i < set->count; i++)
        set->index[slot_of(set, set->items[i].name)] = i + 1;
}

static qat_status check_name(const char *name)
{
    QAT_CHECK_ARG(name != NULL, "tensor set: NULL tensor name");
    size_t n = strnlen(name, QAT_TENSOR_MAX_NAME + 1);
    QAT_CHECK_ARG(n > 0, "tensor set: empty tensor name");
    QAT_CHECK_ARG(n <= QAT_TENSOR_MAX_NAME, "tensor set: tensor name longer than %d bytes",
                  QAT_TENSOR_MAX_NAME);
    return QAT_OK;
}

static qat_status check_shape(const char *name, int ndim, const int64_t *shape, int64_t *numel)
{
    QAT_CHECK_ARG(ndim >= 0 && ndim <= QAT_TENSOR_MAX_DIMS,
                  "tensor set: '%s' has %d dimensions, at most %d are supported", name, ndim,
                  QAT_TENSOR_MAX_DIMS);
    QAT_CHECK_ARG(ndim == 0 || shape != NULL, "tensor set: '%s': NULL shape", name);
    *numel = qat_tensor_shape_numel(ndim, shape);
    QAT_CHECK_ARG(*numel >= 0, "tensor set: '%s' has a negative or overflowing shape", name);
    return QAT_OK;
}

/* Appends an entry over `data`. Everything that can fail happens before the
 * set changes, so a failure leaves it as it was (the caller frees data). */
static qat_status append(qat_tensor_set *set, const char *name, int ndim, const int64_t *shape,
                         int64_t numel, float *data, int owned)
{
    if (qat_tensor_set_find(set, name))
        return qat_fail(QAT_ERR_FORMAT, "tensor set: duplicate tensor name '%s'", name);
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        qat_tensor *items = realloc(set->items, cap * sizeof *items);
        if (!items)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tensor set: out of memory");
        set->items = items;
        set->cap = cap;
    }
    size_t *grown = NULL;
    size_t grown_cap = set->index_cap ? set->index_cap * 2 : 128;
    if (2 * (set->count + 1) > set->index_cap) {
        grown = calloc(grown_cap, sizeof *grown);
        if (!grown)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tensor set: out of memory");
    }
    char *copy = strdup(name);
    if (!copy) {
        free(grown);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tensor set: out of memory");
    }
    qat_tensor *t = &set->items[set->count];
    memset(t, 0, sizeof *t);
    t->name = copy;
    t->ndim = ndim;
    for (int d = 0; d < QAT_TENSOR_MAX_DIMS; d++)
        t->shape[d] = d < ndim ? shape[d] : 1;
    t->numel = numel;
    t->data = data;
    t->owned = owned;
    set->count++;
    if (grown)
        install_index(set, grown, grown_cap);
    else
        set->index[slot_of(set, name)] = set->count;
    return QAT_OK;
}

qat_status qat_tensor_set_add(qat_tensor_set *set, const char *name, int ndim,
                              const int64_t *shape, qat_tensor **out)
{
    QAT_CHECK_ARG(set != NULL, "tensor set: NULL set");
    QAT_TRY(check_name(name));
    int64_t numel;
    QAT_TRY(check_shape(name, ndim, shape, &numel));
    /* calloc(0) may return NULL; one element keeps data non-NULL. */
    float *data = calloc(numel ? (size_t)numel : 1, sizeof(float));
    if (!data)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tensor set: out of memory for '%s' (%lld floats)",
                        name, (long long)numel);
    qat_status st = append(set, name, ndim, shape, numel, data, 1);
    if (st != QAT_OK) {
        free(data);
        return st;
    }
    if (out)
        *out = &set->items[set->count - 1];
    return QAT_OK;
}

qat_status qat_tensor_set_add_copy(qat_tensor_set *set, const char *name, int ndim,
                                   const int64_t *shape, const float *data)
{
    qat_tensor *t = NULL;
    QAT_TRY(qat_tensor_set_add(set, name, ndim, shape, &t));
    if (t->numel) {
        QAT_CHECK_ARG(data != NULL, "tensor set: '%s': NULL data", name);
        memcpy(t->data, data, (size_t)t->numel * sizeof(float));
    }
    return QAT_OK;
}

qat_status qat_tensor_set_add_view(qat_tensor_set *set, const char *name, int ndim,
                                   const int64_t *shape, const float *data)
{
    QAT_CHECK_ARG(set != NULL, "tensor set: NULL set");
    QAT_TRY(check_name(name));
    QAT_CHECK_ARG(data != NULL, "tensor set: '%s': NULL data", name);
    int64_t numel;
    QAT_TRY(check_shape(name, ndim, shape, &numel));
    /* Never written or freed through the set: owned == 0. */
    return append(set, name, ndim, shape, numel, (float *)data, 0);
}

qat_status qat_tensor_set_remove(qat_tensor_set *set, const char *name)
{
    QAT_CHECK_ARG(set != NULL && name != NULL, "tensor set: NULL argument");
    const qat_tensor *t = qat_tensor_set_find(set, name);
    if (!t)
        return qat_fail(QAT_ERR_NOT_FOUND, "tensor set: no tensor named '%s'", name);
    /* Linear probing cannot just clear a slot: positions shift too, so the
     * table is rebuilt; allocate it first so a failure changes nothing. */
    size_t *index = calloc(set->index_cap, sizeof *index);
    if (!index)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tensor set: out of memory");
    size_t i = (size_t)(t - set->items);
    free((char *)set->items[i].name);
    if (set->items[i].owned)
        free(set->items[i].data);
    memmove(&set->items[i], &set->items[i + 1], (set->count - i - 1) * sizeof *set->items);
    set->count--;
    install_index(set, index, set->index_cap);
    return QAT_OK;
}

qat_status qat_tensor_set_note_skipped(qat_tensor_set *set, const char *name, const char *why)
{
    QAT_CHECK_ARG(set != NULL && name != NULL && why != NULL, "tensor set: NULL argument");
    size_t len = strnlen(name, QAT_TENSOR_MAX_NAME) + strlen(why) + 4;
    char *text = malloc(len);
    if (!text)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tensor set: out of memory");
    char **list = realloc(set->skipped, (set->n_skipped + 1) * sizeof *list);
    if (!list) {
        free(text);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tensor set: out of memory");
    }
    set->skipped = list;
    snprintf(text, len, "%.*s (%s)", QAT_TENSOR_MAX_NAME, name, why);
    set->skipped[set->n_skipped++] = text;
    return QAT_OK;
}

size_t qat_tensor_set_skipped_count(const qat_tensor_set *set)
{
    return set ? set->n_skipped : 0;
}

const char *qat_tensor_set_skipped(const qat_tensor_set *set, size_t i)
{
    return set && i < set->n_skipped ? set->skipped[i] : NULL;
}
