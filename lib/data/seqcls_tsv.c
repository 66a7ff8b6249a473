/* TSV sequence-classification files: a header naming the columns, or 2/3
 * bare columns (format in data/seqcls.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "data/seqcls.h"

#define MAX_COLUMNS 64

static const char *const text_names[] = {"text", "sentence", "sentence1", "premise"};
static const char *const text_b_names[] = {"text_b", "sentence2", "hypothesis"};

/* Index of the first name of `names` among the fields, or -1. */
static int find_column(char **fields, size_t n, const char *const *names, size_t n_names)
{
    for (size_t k = 0; k < n_names; k++)
        for (size_t i = 0; i < n; i++)
            if (strcasecmp(fields[i], names[k]) == 0)
                return (int)i;
    return -1;
}

/* Splits s (NUL-terminated, no newline) at TABs in place. */
static size_t split(char *s, char **fields, size_t cap)
{
    size_t n = 0;
    for (;;) {
        if (n < cap)
            fields[n] = s;
        n++;
        char *tab = strchr(s, '\t');
        if (!tab)
            return n;
        *tab = '\0';
        s = tab + 1;
    }
}

static void trim_cr(char *s, size_t *n)
{
    if (*n > 0 && s[*n - 1] == '\r')
        s[--*n] = '\0';
}

qat_status qat_data_seqcls_parse_tsv(qat_data_seqcls *c, char *buf, size_t size)
{
    const char *name = qat_data_seqcls_name(c);
    char *p = buf, *end = buf + size;
    uint64_t line = 0;
    int col_a = 0, col_b = -1, col_label = 1, header_seen = 0;
    size_t n_cols = 0; /* fixed by the header or the first line */
    char *fields[MAX_COLUMNS];
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        char *s = p;
        p += n + 1;
        s[n] = '\0';
        trim_cr(s, &n);
        if (strspn(s, " \t\r\v\f") == n && !memchr(s, '\0', n))
            continue;
        if (memchr(s, '\0', n))
            return qat_fail(QAT_ERR_FORMAT, "%s:%llu: NUL byte in the line", name, (unsigned long long)line);
        size_t nf = split(s, fields, MAX_COLUMNS);
        if (nf > MAX_COLUMNS)
            return qat_fail(QAT_ERR_FORMAT, "%s:%llu: %zu columns (at most %d)", name, (unsigned long long)line, nf,
                            MAX_COLUMNS);
        if (!header_seen) {
            header_seen = 1;
            int a = find_column(fields, nf, text_names, 4);
            int label = find_column(fields, nf, (const char *const[]){"label"}, 1);
            if (a >= 0 && label >= 0) { /* a header */
                col_a = a;
                col_label = label;
                col_b = find_column(fields, nf, text_b_names, 3);
                n_cols = nf;
                continue;
            }
            if (nf != 2 && nf != 3)
                return qat_fail(QAT_ERR_FORMAT, "%s:%llu: %zu columns; without a header line (naming text / sentence "
                                "/ sentence1 / premise and label) a line must be text<TAB>label or "
                                "text<TAB>text_b<TAB>label", name, (unsigned long long)line, nf);
            n_cols = nf;
            col_b = nf == 3 ? 1 : -1;
            col_label = (int)nf - 1;
        }
        if (nf != n_cols)
            return qat_fail(QAT_ERR_FORMAT, "%s:%llu: %zu columns, expected %zu (a missing label or text, or a TAB "
                            "inside a text?)", name, (unsigned long long)line, nf, n_cols);
        const char *b = col_b >= 0 ? fields[col_b] : NULL;
        QAT_TRY(qat_data_seqcls_add(c, fields[col_a], strlen(fields[col_a]), b, b ? strlen(b) : 0, fields[col_label],
                                    strlen(fields[col_label]), line));
    }
    return QAT_OK;
}
