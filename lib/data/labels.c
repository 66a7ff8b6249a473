#include "data/labels.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"

struct qat_data_labels {
    size_t n;
    char **names;    /* by id */
    int32_t *sorted; /* ids ordered by name, for lookups */
};

void qat_data_labels_free(qat_data_labels *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->sorted);
    free(l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct named_id {
    const char *name;
    int32_t id;
} named_id;

static int cmp_named(const void *a, const void *b)
{
    const named_id *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* Ids ordered by name (qsort_r is not C11: the names travel with the ids);
 * *dup receives the id of a name given twice, or -1. */
static qat_status sort_ids(qat_data_labels *l, int32_t *dup)
{
    *dup = -1;
    named_id *v = malloc((l->n ? l->n : 1) * sizeof *v);
    if (!v)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "labels: out of memory");
    for (size_t i = 0; i < l->n; i++)
        v[i] = (named_id){l->names[i], (int32_t)i};
    qsort(v, l->n, sizeof *v, cmp_named);
    for (size_t i = 0; i < l->n; i++) {
        l->sorted[i] = v[i].id;
        if (i > 0 && *dup < 0 && strcmp(v[i - 1].name, v[i].name) == 0)
            *dup = v[i].id;
    }
    free(v);
    return QAT_OK;
}

static qat_status too_many(size_t n)
{
    return qat_fail(QAT_ERR_FORMAT, "labels: %zu classes, more than the %d libqat accepts", n, QAT_DATA_MAX_LABELS);
}

static qat_status alloc_labels(size_t n, qat_data_labels **out)
{
    qat_data_labels *l = calloc(1, sizeof *l);
    if (l) {
        l->names = calloc(n ? n : 1, sizeof *l->names);
        l->sorted = calloc(n ? n : 1, sizeof *l->sorted);
    }
    if (!l || !l->names || !l->sorted) {
        qat_data_labels_free(l);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "labels: out of memory");
    }
    *out = l;
    return QAT_OK;
}

qat_status qat_data_labels_from_names(const char *const *names, size_t n, qat_data_labels **out)
{
    QAT_CHECK_ARG(out != NULL, "labels: NULL output");
    *out = NULL;
    QAT_CHECK_ARG(names != NULL && n > 0, "labels: no label names");
    for (size_t i = 0; i < n; i++)
        QAT_CHECK_ARG(names[i] && names[i][0], "labels: name %zu is empty", i);
    const char **tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "labels: out of memory");
    memcpy(tmp, names, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_str);
    qat_data_labels *l = NULL;
    qat_status st = alloc_labels(n, &l);
    for (size_t i = 0; st == QAT_OK && i < n; i++) {
        if (l->n > 0 && strcmp(l->names[l->n - 1], tmp[i]) == 0)
            continue;
        if (!(l->names[l->n] = strdup(tmp[i]))) {
            qat_data_labels_free(l);
            st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "labels: out of memory");
            break;
        }
        l->n++;
    }
    free(tmp);
    if (st != QAT_OK)
        return st;
    int32_t dup;
    if (l->n > QAT_DATA_MAX_LABELS)
        st = too_many(l->n);
    if (st == QAT_OK)
        st = sort_ids(l, &dup);
    if (st != QAT_OK) {
        qat_data_labels_free(l);
        return st;
    }
    *out = l;
    return QAT_OK;
}

qat_status qat_data_labels_from_ordered(const char *const *names, size_t n, qat_data_labels **out)
{
    QAT_CHECK_ARG(out != NULL, "labels: NULL output");
    *out = NULL;
    QAT_CHECK_ARG(names != NULL && n > 0, "labels: no label names");
    if (n > QAT_DATA_MAX_LABELS)
        return too_many(n);
    qat_data_labels *l = NULL;
    QAT_TRY(alloc_labels(n, &l));
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !names[i][0]) {
            qat_data_labels_free(l);
            return qat_fail(QAT_ERR_INVALID_ARGUMENT, "labels: name %zu is empty", i);
        }
        if (!(l->names[i] = strdup(names[i]))) {
            qat_data_labels_free(l);
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "labels: out of memory");
        }
        l->n++;
    }
    int32_t dup;
    qat_status st = sort_ids(l, &dup);
    if (st == QAT_OK && dup >= 0) {
        size_t first = 0;
        while (strcmp(names[first], names[dup]) != 0)
            first++;
        st = qat_fail(QAT_ERR_INVALID_ARGUMENT, "labels: '%s' appears twice (ids %zu and %d)", names[dup], first, dup);
    }
    if (st != QAT_OK) {
        qat_data_labels_free(l);
        return st;
    }
    *out = l;
    return QAT_OK;
}

qat_status qat_data_labels_from_conll(const qat_data_conll *const *sets, size_t n_sets, qat_data_labels **out)
{
    QAT_CHECK_ARG(out != NULL, "labels: NULL output");
    *out = NULL;
    QAT_CHECK_ARG(sets != NULL && n_sets > 0, "labels: no data sets");
    size_t total = 0;
    for (size_t s = 0; s < n_sets; s++) {
        QAT_CHECK_ARG(sets[s] != NULL, "labels: data set %zu is NULL", s);
        total += qat_data_conll_token_count(sets[s]);
    }
    const char **all = malloc((total ? total : 1) * sizeof *all);
    if (!all)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "labels: out of memory");
    size_t k = 0;
    for (size_t s = 0; s < n_sets; s++)
        for (size_t t = 0; t < qat_data_conll_token_count(sets[s]); t++)
            all[k++] = qat_data_conll_tag(sets[s], t);
    qat_status st = qat_data_labels_from_names(all, k, out);
    free(all);
    return st;
}

size_t qat_data_labels_count(const qat_data_labels *l)
{
    return l ? l->n : 0;
}

const char *qat_data_labels_name(const qat_data_labels *l, int32_t id)
{
    return l && id >= 0 && (size_t)id < l->n ? l->names[id] : NULL;
}

qat_status qat_data_labels_id(const qat_data_labels *l, const char *name, int32_t *id)
{
    QAT_CHECK_ARG(l != NULL && name != NULL && id != NULL, "labels: NULL argument");
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(l->names[l->sorted[mid]], name);
        if (c == 0) {
            *id = l->sorted[mid];
            return QAT_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return qat_fail(QAT_ERR_NOT_FOUND, "labels: unknown label '%s'", name);
}

qat_status qat_data_labels_encode(const qat_data_labels *l, const qat_data_conll *c, int32_t *ids)
{
    QAT_CHECK_ARG(l != NULL && c != NULL && ids != NULL, "labels: NULL argument");
    for (size_t t = 0; t < qat_data_conll_token_count(c); t++) {
        if (qat_data_labels_id(l, qat_data_conll_tag(c, t), &ids[t]) != QAT_OK)
            return qat_fail(QAT_ERR_NOT_FOUND, "line %llu: tag '%s' is not in the label map (%zu labels)",
                            (unsigned long long)qat_data_conll_line(c, t), qat_data_conll_tag(c, t), l->n);
    }
    return QAT_OK;
}

qat_status qat_data_labels_save(const qat_data_labels *l, const char *path)
{
    QAT_CHECK_ARG(l != NULL && path != NULL, "labels: NULL argument");
    json_object *root = json_object_new_object(), *i2l = json_object_new_object(), *l2i = json_object_new_object();
    for (size_t i = 0; i < l->n; i++) {
        char key[24];
        snprintf(key, sizeof key, "%zu", i);
        json_object_object_add(i2l, key, json_object_new_string(l->names[i]));
        json_object_object_add(l2i, l->names[i], json_object_new_int((int)i));
    }
    json_object_object_add(root, "id2label", i2l);
    json_object_object_add(root, "label2id", l2i);
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    qat_status st = qat_file_write_atomic(path, text, strlen(text));
    json_object_put(root);
    return st;
}

qat_status qat_data_labels_load(const char *path, qat_data_labels **out)
{
    QAT_CHECK_ARG(out != NULL && path != NULL, "labels: NULL argument");
    *out = NULL;
    json_object *root = json_object_from_file(path);
    if (!root)
        return qat_fail(QAT_ERR_FORMAT, "labels: cannot read %s: %s", path, json_util_get_last_err());
    json_object *i2l;
    qat_status st = QAT_OK;
    qat_data_labels *l = NULL;
    if (!json_object_object_get_ex(root, "id2label", &i2l) || !json_object_is_type(i2l, json_type_object) ||
        json_object_object_length(i2l) == 0) {
        st = qat_fail(QAT_ERR_FORMAT, "labels: %s has no id2label object", path);
        goto out;
    }
    size_t n = (size_t)json_object_object_length(i2l);
    if (n > QAT_DATA_MAX_LABELS) {
        st = too_many(n);
        goto out;
    }
    if ((st = alloc_labels(n, &l)) != QAT_OK)
        goto out;
    l->n = n;
    json_object_object_foreach(i2l, key, val)
    {
        char *end;
        unsigned long id = strtoul(key, &end, 10);
        if (*key == '\0' || *end != '\0' || id >= n || !json_object_is_type(val, json_type_string) ||
            json_object_get_string_len(val) == 0) {
            st = qat_fail(QAT_ERR_FORMAT, "labels: %s: id2label entry '%s' is not an id in [0, %zu) with a name",
                          path, key, n);
            goto out;
        }
        if (l->names[id]) {
            st = qat_fail(QAT_ERR_FORMAT, "labels: %s: id %lu appears twice", path, id);
            goto out;
        }
        if (!(l->names[id] = strdup(json_object_get_string(val)))) {
            st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "labels: out of memory");
            goto out;
        }
    }
    int32_t dup;
    if ((st = sort_ids(l, &dup)) != QAT_OK)
        goto out;
    if (dup >= 0) {
        st = qat_fail(QAT_ERR_FORMAT, "labels: %s: label '%s' has two ids", path, l->names[dup]);
        goto out;
    }
out:
    json_object_put(root);
    if (st != QAT_OK) {
        qat_data_labels_free(l);
        return st;
    }
    *out = l;
    return QAT_OK;
}
