/* Sequence-classification task files: the examples' storage and checks,
 * the dispatch on the extension, and the label map. The TSV and JSONL
 * parsers (seqcls_tsv.c, seqcls_jsonl.c) feed qat_data_seqcls_add. */
#include "data/seqcls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/utf8.h"

struct qat_data_seqcls {
    char *name;
    int pairs;                  /* -1 until the first example */
    size_t n, cap;
    qat_data_seqcls_example *ex; /* each owns one block: a \0 b \0 label \0 */
};

void qat_data_seqcls_free(qat_data_seqcls *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free((void *)c->ex[i].text_a);
    free(c->ex);
    free(c->name);
    free(c);
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* 1 = TSV, 2 = JSONL, 0 = neither (a trailing .gz ignored). */
static int format_of(const char *path)
{
    size_t n = strlen(path);
    if (ends_with(path, n, ".gz"))
        n -= 3;
    return ends_with(path, n, ".tsv") ? 1 : ends_with(path, n, ".jsonl") ? 2 : 0;
}

int qat_data_seqcls_is_task_file(const char *path)
{
    return path && format_of(path) != 0;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\v\f", s[i]))
            return 0;
    return 1;
}

static qat_status check_field(const qat_data_seqcls *c, const char *what, const char *s, size_t n, uint64_t line)
{
    if (blank(s, n))
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: empty %s", c->name, (unsigned long long)line, what);
    if (memchr(s, '\0', n))
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: NUL character in the %s", c->name, (unsigned long long)line, what);
    size_t bad = qat_utf8_validate(s, n);
    if (bad < n)
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: invalid UTF-8 in the %s at byte %zu (0x%02x)", c->name,
                        (unsigned long long)line, what, bad + 1, (unsigned char)s[bad]);
    return QAT_OK;
}

qat_status qat_data_seqcls_add(qat_data_seqcls *c, const char *a, size_t la, const char *b, size_t lb,
                               const char *label, size_t llabel, uint64_t line)
{
    /* Labels lose surrounding blanks ("1 " and "1" are one class). */
    while (llabel > 0 && strchr(" \t\r\v\f", label[0]) && label[0]) {
        label++;
        llabel--;
    }
    while (llabel > 0 && strchr(" \t\r\v\f", label[llabel - 1]) && label[llabel - 1])
        llabel--;
    QAT_TRY(check_field(c, "text", a, la, line));
    if (b)
        QAT_TRY(check_field(c, "second text", b, lb, line));
    QAT_TRY(check_field(c, "label", label, llabel, line));
    if (c->pairs < 0)
        c->pairs = b != NULL;
    else if (c->pairs != (b != NULL))
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: %s, unlike line %llu", c->name, (unsigned long long)line,
                        b ? "a second text" : "no second text", (unsigned long long)c->ex[0].line);
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        qat_data_seqcls_example *ex = realloc(c->ex, cap * sizeof *ex);
        if (!ex)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", c->name);
        c->ex = ex;
        c->cap = cap;
    }
    char *block = malloc(la + lb + llabel + 3);
    if (!block)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", c->name);
    qat_data_seqcls_example *e = &c->ex[c->n++];
    memcpy(block, a, la);
    block[la] = '\0';
    e->text_a = block;
    e->len_a = la;
    e->text_b = NULL;
    e->len_b = 0;
    if (b) {
        memcpy(block + la + 1, b, lb);
        block[la + 1 + lb] = '\0';
        e->text_b = block + la + 1;
        e->len_b = lb;
    }
    char *lab = block + la + lb + 2;
    memcpy(lab, label, llabel);
    lab[llabel] = '\0';
    e->label = lab;
    e->line = line;
    return QAT_OK;
}

static qat_status from_buffer(char *buf, size_t size, const char *name, qat_data_seqcls **out)
{
    int format = format_of(name);
    if (!format) {
        free(buf);
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "%s: a sequence-classification file must end in .tsv or .jsonl",
                        name);
    }
    qat_data_seqcls *c = calloc(1, sizeof *c);
    if (!c || !(c->name = strdup(name))) {
        free(buf);
        free(c);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "seqcls: out of memory");
    }
    c->pairs = -1;
    qat_status st = format == 1 ? qat_data_seqcls_parse_tsv(c, buf, size) : qat_data_seqcls_parse_jsonl(c, buf, size);
    free(buf);
    if (st == QAT_OK && c->n == 0)
        st = qat_fail(QAT_ERR_FORMAT, "%s: no examples (%s)", name, size == 0 ? "the file is empty"
                                                                              : "only a header or blank lines");
    if (st != QAT_OK) {
        qat_data_seqcls_free(c);
        return st;
    }
    *out = c;
    return QAT_OK;
}

qat_status qat_data_seqcls_read_memory(const char *data, size_t size, const char *name, qat_data_seqcls **out)
{
    QAT_CHECK_ARG(out != NULL && name != NULL, "seqcls: NULL argument");
    *out = NULL;
    QAT_CHECK_ARG(data != NULL || size == 0, "seqcls: NULL data");
    char *buf = malloc(size + 1);
    if (!buf)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "seqcls: out of memory");
    if (size)
        memcpy(buf, data, size);
    buf[size] = '\0';
    return from_buffer(buf, size, name, out);
}

qat_status qat_data_seqcls_read_file(const char *path, qat_data_seqcls **out)
{
    QAT_CHECK_ARG(out != NULL && path != NULL, "seqcls: NULL argument");
    *out = NULL;
    if (!format_of(path))
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "%s: a sequence-classification file must end in .tsv or .jsonl",
                        path);
    char *buf;
    size_t size;
    QAT_TRY(qat_file_read(path, QAT_FILE_ANY_SIZE, &buf, &size));
    return from_buffer(buf, size, path, out);
}

size_t qat_data_seqcls_count(const qat_data_seqcls *c) { return c->n; }
const qat_data_seqcls_example *qat_data_seqcls_get(const qat_data_seqcls *c, size_t i) { return &c->ex[i]; }
int qat_data_seqcls_pairs(const qat_data_seqcls *c) { return c->pairs > 0; }
const char *qat_data_seqcls_name(const qat_data_seqcls *c) { return c->name; }

/* ---- labels ---------------------------------------------------------- */

/* The value of a non-negative decimal integer label (at most 6 digits), or -1. */
static long int_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 6 || strspn(s, "0123456789") != n || (n > 1 && s[0] == '0'))
        return -1;
    return strtol(s, NULL, 10);
}

qat_status qat_data_seqcls_labels(const qat_data_seqcls *const *sets, size_t n_sets, qat_data_labels **out)
{
    QAT_CHECK_ARG(out != NULL && sets != NULL && n_sets > 0, "seqcls labels: no files");
    *out = NULL;
    size_t total = 0;
    long max_int = -1;
    int all_int = 1;
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < sets[s]->n; i++) {
            long v = int_label(sets[s]->ex[i].label);
            all_int &= v >= 0;
            max_int = v > max_int ? v : max_int;
            total++;
        }
    if (all_int && max_int >= QAT_DATA_MAX_LABELS) {
        for (size_t s = 0; s < n_sets; s++)
            for (size_t i = 0; i < sets[s]->n; i++)
                if (int_label(sets[s]->ex[i].label) == max_int)
                    return qat_fail(QAT_ERR_FORMAT, "%s:%llu: label %ld: integer labels name the classes 0..%ld, "
                                    "more than the %d libqat accepts", sets[s]->name,
                                    (unsigned long long)sets[s]->ex[i].line, max_int, max_int, QAT_DATA_MAX_LABELS);
    }
    if (all_int) {
        /* Ids are the integers; at least two classes (a binary task whose
         * files hold only 0s still has class 1). */
        size_t n = (size_t)(max_int < 1 ? 1 : max_int) + 1;
        char **names = calloc(n, sizeof *names);
        qat_status st = names ? QAT_OK : qat_fail(QAT_ERR_OUT_OF_MEMORY, "seqcls labels: out of memory");
        for (size_t k = 0; st == QAT_OK && k < n; k++) {
            char tmp[24];
            snprintf(tmp, sizeof tmp, "%zu", k);
            if (!(names[k] = strdup(tmp)))
                st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "seqcls labels: out of memory");
        }
        if (st == QAT_OK)
            st = qat_data_labels_from_ordered((const char *const *)names, n, out);
        for (size_t k = 0; names && k < n; k++)
            free(names[k]);
        free(names);
        return st;
    }
    const char **names = malloc(total * sizeof *names);
    if (!names)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "seqcls labels: out of memory");
    size_t k = 0;
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < sets[s]->n; i++)
            names[k++] = sets[s]->ex[i].label;
    qat_status st = qat_data_labels_from_names(names, total, out);
    free((void *)names);
    if (st == QAT_OK && qat_data_labels_count(*out) < 2) {
        qat_data_labels_free(*out);
        *out = NULL;
        return qat_fail(QAT_ERR_FORMAT, "%s: every example has the label '%s'; sequence classification needs at "
                        "least two classes", sets[0]->name, sets[0]->ex[0].label);
    }
    return st;
}

qat_status qat_data_seqcls_label_id(const qat_data_seqcls *c, size_t i, const qat_data_labels *labels, int32_t *id)
{
    const qat_data_seqcls_example *e = &c->ex[i];
    if (qat_data_labels_id(labels, e->label, id) == QAT_OK)
        return QAT_OK;
    long v = int_label(e->label);
    if (v >= 0 && (size_t)v < qat_data_labels_count(labels)) {
        qat_clear_error();
        *id = (int32_t)v;
        return QAT_OK;
    }
    return qat_fail(QAT_ERR_FORMAT, "%s:%llu: label '%s' is not one of the model's %zu labels", c->name,
                    (unsigned long long)e->line, e->label, qat_data_labels_count(labels));
}
