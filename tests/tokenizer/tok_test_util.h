/* Helpers of the tokenizer C tests: the fixture directory (written by
 * make_fixtures.py into the build dir), `.cases` files, hex strings. */
#ifndef QAT_TOK_TEST_UTIL_H
#define QAT_TOK_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../c/test_main.h" /* test_under_valgrind */

typedef struct tcase {
    char *text;
    size_t text_len;
    int32_t *ids;
    size_t n_ids;
    char *decoded;
    size_t decoded_len;
} tcase;

/* 1, or 8 under valgrind: there the tests check every 8th case of a
 * fixture (memory errors and leaks on every code path the cases reach),
 * since all of them took minutes; release and ASan runs check every case
 * against the oracle. */
static inline size_t case_stride(void)
{
    return test_under_valgrind() ? 8 : 1;
}

static const char *fixture_dir(void)
{
    const char *d = getenv("QAT_TOK_FIXTURES");
    return d ? d : "fixtures";
}

/* Exits 77 (meson's "skipped") with the reason when fixtures are missing. */
static void skip_without_fixtures(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/SKIP", fixture_dir());
    FILE *f = fopen(path, "r");
    if (f) {
        char why[512] = "";
        if (!fgets(why, sizeof why, f))
            why[0] = '\0';
        fclose(f);
        printf("SKIP: %s", why);
        exit(77);
    }
}

static inline unsigned hex_digit(char c)
{
    return c >= 'a' ? (unsigned)(c - 'a' + 10) : c >= 'A' ? (unsigned)(c - 'A' + 10) : (unsigned)(c - '0');
}

/* Decodes the fixtures' hex strings ("-": empty). By hand, not sscanf: the
 * fixtures hold megabytes of it, and sscanf per byte was a quarter of the
 * tokenizer tests' time (most of it under valgrind). */
static inline char *unhex(const char *h, size_t n, size_t *out_len)
{
    char *out = malloc(n / 2 + 1);
    size_t k = 0;
    if (!(n == 1 && h[0] == '-'))
        for (size_t i = 0; i + 1 < n; i += 2)
            out[k++] = (char)(hex_digit(h[i]) << 4 | hex_digit(h[i + 1]));
    out[k] = '\0';
    *out_len = k;
    return out;
}

/* 1 when the ids equal the oracle's case; else 0, and the first five
 * differences of a run (*mismatches counts them) are printed. */
static inline int ids_match(const char *name, size_t line, const tcase *c, const int32_t *ids, size_t count,
                            size_t *mismatches)
{
    if (count == c->n_ids && memcmp(ids, c->ids, count * sizeof *ids) == 0)
        return 1;
    if ((*mismatches)++ < 5) {
        fprintf(stderr, "%s line %zu '%s': got", name, line, c->text);
        for (size_t k = 0; k < count; k++)
            fprintf(stderr, " %d", ids[k]);
        fprintf(stderr, "\n  expected");
        for (size_t k = 0; k < c->n_ids; k++)
            fprintf(stderr, " %d", c->ids[k]);
        fprintf(stderr, "\n");
    }
    return 0;
}

/* Reads NAME.cases from the fixture dir: hex(text) TAB ids TAB hex(decoded). */
static inline tcase *read_cases(const char *name, size_t *n_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.cases", fixture_dir(), name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 256, n = 0;
    tcase *cases = malloc(cap * sizeof *cases);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, f)) > 0) {
        if (line[got - 1] == '\n')
            line[--got] = '\0';
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2)
            continue;
        if (n == cap)
            cases = realloc(cases, (cap *= 2) * sizeof *cases);
        tcase *c = &cases[n++];
        c->text = unhex(line, (size_t)(t1 - line), &c->text_len);
        c->decoded = unhex(t2 + 1, strlen(t2 + 1), &c->decoded_len);
        c->ids = malloc(((size_t)(t2 - t1)) * sizeof *c->ids);
        c->n_ids = 0;
        char *p = t1 + 1;
        while (p < t2 && *p != '-') {
            c->ids[c->n_ids++] = (int32_t)strtol(p, &p, 10);
            while (*p == ' ')
                p++;
        }
    }
    free(line);
    fclose(f);
    *n_out = n;
    return cases;
}

static inline void free_cases(tcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].text);
        free(c[i].ids);
        free(c[i].decoded);
    }
    free(c);
}

static inline char *fixture_path(const char *name)
{
    static _Thread_local char path[8192];
    snprintf(path, sizeof path, "%s/%s", fixture_dir(), name);
    return path;
}

#endif
