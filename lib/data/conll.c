/* CoNLL reader: the file is held in one buffer and split in place (the
 * task files are megabytes, not gigabytes). */
#include "data/conll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/utf8.h"

struct qat_data_conll {
    char *buf;
    char *name;
    size_t n_tokens, cap_tokens;
    char **tokens, **tags;
    uint64_t *lines;
    size_t n_sentences, cap_sentences;
    size_t *first;   /* n_sentences + 1 */
    size_t n_issues;   /* IOB2 inconsistencies */
    char *issues[QAT_DATA_CONLL_KEPT_ISSUES];
};

void qat_data_conll_free(qat_data_conll *c)
{
    if (!c)
        return;
    free(c->buf);
    free(c->name);
    free(c->tokens);
    free(c->tags);
    free(c->lines);
    free(c->first);
    for (size_t i = 0; i < QAT_DATA_CONLL_KEPT_ISSUES; i++)
        free(c->issues[i]);
    free(c);
}

static qat_status add_token(qat_data_conll *c, char *tok, char *tag, uint64_t line)
{
    if (c->n_tokens == c->cap_tokens) {
        size_t cap = c->cap_tokens ? 2 * c->cap_tokens : 1024;
        char **a = realloc(c->tokens, cap * sizeof *a);
        if (a)
            c->tokens = a;
        char **b = realloc(c->tags, cap * sizeof *b);
        if (b)
            c->tags = b;
        uint64_t *l = realloc(c->lines, cap * sizeof *l);
        if (l)
            c->lines = l;
        if (!a || !b || !l)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "conll: out of memory");
        c->cap_tokens = cap;
    }
    c->tokens[c->n_tokens] = tok;
    c->tags[c->n_tokens] = tag;
    c->lines[c->n_tokens] = line;
    c->n_tokens++;
    return QAT_OK;
}

/* Closes the sentence being read, if it has tokens. */
static qat_status end_sentence(qat_data_conll *c)
{
    if (c->n_tokens == c->first[c->n_sentences])
        return QAT_OK;
    if (c->n_sentences + 2 > c->cap_sentences) {
        size_t cap = 2 * c->cap_sentences;
        size_t *f = realloc(c->first, cap * sizeof *f);
        if (!f)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "conll: out of memory");
        c->first = f;
        c->cap_sentences = cap;
    }
    c->n_sentences++;
    c->first[c->n_sentences] = c->n_tokens;
    return QAT_OK;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* IOB2 check of `tag` after `prev` (NULL at a sentence start). */
static qat_status check_iob2(qat_data_conll *c, const char *tag, const char *prev, uint64_t line, int strict)
{
    if (strcmp(tag, "O") == 0)
        return QAT_OK;
    if ((tag[0] != 'B' && tag[0] != 'I') || tag[1] != '-' || tag[2] == '\0')
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: tag '%s' is not IOB2 (expected O, B-TYPE or I-TYPE)", c->name,
                        (unsigned long long)line, tag);
    if (tag[0] == 'B')
        return QAT_OK;
    if (prev && prev[0] != 'O' && strcmp(prev + 2, tag + 2) == 0)
        return QAT_OK;
    char what[256];
    if (prev)
        snprintf(what, sizeof what, "%s:%llu: tag '%s' follows '%s'", c->name, (unsigned long long)line, tag, prev);
    else
        snprintf(what, sizeof what, "%s:%llu: tag '%s' opens a sentence", c->name, (unsigned long long)line, tag);
    if (strict)
        return qat_fail(QAT_ERR_FORMAT, "%s (strict IOB2 needs B-%s to start an entity)", what, tag + 2);
    if (c->n_issues < QAT_DATA_CONLL_KEPT_ISSUES && !(c->issues[c->n_issues] = strdup(what)))
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "conll: out of memory");
    c->n_issues++;
    return QAT_OK;
}

static qat_status parse_line(qat_data_conll *c, char *s, size_t n, uint64_t line, const qat_data_conll_options *o)
{
    while (n > 0 && is_blank(s[n - 1]))
        n--;
    s[n] = '\0';
    size_t lead = 0;
    while (lead < n && (s[lead] == ' ' || s[lead] == '\r'))
        lead++;
    if (lead == n || strspn(s, " \t\r\v\f") == n)
        return end_sentence(c);
    size_t bad = qat_utf8_validate(s, n);
    if (bad < n)
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: invalid UTF-8 at column %zu (byte 0x%02x)", c->name,
                        (unsigned long long)line, bad + 1, (unsigned char)s[bad]);
    if (memchr(s, '\0', n))
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: NUL byte in the line", c->name, (unsigned long long)line);
    char *tab = strchr(s, '\t');
    if (s[0] == '#' && !tab)
        return QAT_OK;
    char *tok, *tag;
    if (tab) {
        tok = s + lead;
        *tab = '\0';
        char *last = strrchr(tab + 1, '\t');
        tag = last ? last + 1 : tab + 1;
    } else {
        tok = s + lead;
        char *sp = strchr(tok, ' ');
        if (!sp)
            return qat_fail(QAT_ERR_FORMAT, "%s:%llu: expected 'token<TAB>tag', found one field '%s' (missing tag?)",
                            c->name, (unsigned long long)line, tok);
        *sp = '\0';
        char *last = strrchr(sp + 1, ' ');
        tag = last ? last + 1 : sp + 1;
    }
    /* Strip blanks around both fields. */
    while (*tag == ' ')
        tag++;
    size_t tl = strlen(tok);
    while (tl > 0 && is_blank(tok[tl - 1]))
        tok[--tl] = '\0';
    if (strcmp(tok, "-DOCSTART-") == 0)
        return end_sentence(c);
    if (tok[0] == '\0')
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: empty token before the tag '%s'", c->name, (unsigned long long)line,
                        tag);
    if (tag[0] == '\0')
        return qat_fail(QAT_ERR_FORMAT, "%s:%llu: token '%s' has an empty tag (missing tag?)", c->name,
                        (unsigned long long)line, tok);
    if (o->scheme == QAT_DATA_TAGS_IOB2) {
        const char *prev = c->n_tokens > c->first[c->n_sentences] ? c->tags[c->n_tokens - 1] : NULL;
        QAT_TRY(check_iob2(c, tag, prev, line, o->strict));
    }
    return add_token(c, tok, tag, line);
}

static qat_status parse(qat_data_conll *c, size_t size, const qat_data_conll_options *o)
{
    char *p = c->buf, *end = c->buf + size;
    uint64_t line = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        QAT_TRY(parse_line(c, p, n, line, o));
        p += n + 1;
    }
    QAT_TRY(end_sentence(c));
    if (c->n_sentences == 0)
        return qat_fail(QAT_ERR_FORMAT, "%s: no sentences (%s)", c->name,
                        size == 0 ? "the file is empty" : "only blank lines, comments or -DOCSTART-");
    return QAT_OK;
}

static qat_status from_buffer(char *buf, size_t size, const char *name, const qat_data_conll_options *opt,
                              qat_data_conll **out)
{
    qat_data_conll_options defaults = {QAT_DATA_TAGS_ANY, 0};
    if (!opt)
        opt = &defaults;
    qat_data_conll *c = calloc(1, sizeof *c);
    if (!c) {
        free(buf);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "conll: out of memory");
    }
    c->buf = buf;
    c->name = strdup(name ? name : "<memory>");
    c->cap_sentences = 64;
    c->first = calloc(c->cap_sentences, sizeof *c->first);
    qat_status st = c->name && c->first ? parse(c, size, opt) : qat_fail(QAT_ERR_OUT_OF_MEMORY, "conll: out of memory");
    if (st != QAT_OK) {
        qat_data_conll_free(c);
        return st;
    }
    *out = c;
    return QAT_OK;
}

qat_status qat_data_conll_read_memory(const char *data, size_t size, const char *name,
                                      const qat_data_conll_options *opt, qat_data_conll **out)
{
    QAT_CHECK_ARG(out != NULL, "conll: NULL output");
    *out = NULL;
    QAT_CHECK_ARG(data != NULL || size == 0, "conll: NULL data");
    QAT_CHECK_ARG(!opt || opt->scheme == QAT_DATA_TAGS_ANY || opt->scheme == QAT_DATA_TAGS_IOB2,
                  "conll: unknown tag scheme %d", (int)opt->scheme);
    char *buf = malloc(size + 1);
    if (!buf)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "conll: out of memory");
    if (size)
        memcpy(buf, data, size);
    buf[size] = '\0';
    return from_buffer(buf, size, name, opt, out);
}

qat_status qat_data_conll_read_file(const char *path, const qat_data_conll_options *opt, qat_data_conll **out)
{
    QAT_CHECK_ARG(out != NULL && path != NULL, "conll: NULL argument");
    *out = NULL;
    QAT_CHECK_ARG(!opt || opt->scheme == QAT_DATA_TAGS_ANY || opt->scheme == QAT_DATA_TAGS_IOB2,
                  "conll: unknown tag scheme %d", (int)opt->scheme);
    char *buf;
    size_t size;
    QAT_TRY(qat_file_read(path, QAT_FILE_ANY_SIZE, &buf, &size));
    return from_buffer(buf, size, path, opt, out);
}

size_t qat_data_conll_sentence_count(const qat_data_conll *c) { return c->n_sentences; }
size_t qat_data_conll_token_count(const qat_data_conll *c) { return c->n_tokens; }
size_t qat_data_conll_sentence_first(const qat_data_conll *c, size_t i) { return c->first[i]; }
size_t qat_data_conll_sentence_length(const qat_data_conll *c, size_t i) { return c->first[i + 1] - c->first[i]; }
const char *qat_data_conll_token(const qat_data_conll *c, size_t t) { return c->tokens[t]; }
const char *qat_data_conll_tag(const qat_data_conll *c, size_t t) { return c->tags[t]; }
uint64_t qat_data_conll_line(const qat_data_conll *c, size_t t) { return c->lines[t]; }
size_t qat_data_conll_iob2_issue_count(const qat_data_conll *c) { return c->n_issues; }
const char *qat_data_conll_iob2_issue(const qat_data_conll *c, size_t i) { return c->issues[i]; }
