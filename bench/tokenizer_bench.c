/* Encodes every line of a file with libqat's tokenizer on one thread and
 * prints "lines bytes ids seconds". Used by bench/tokenizer_bench.py.
 * usage: tokenizer_bench MODEL TEXTFILE */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qat/tokenizer.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL TEXTFILE\n", argv[0]);
        return 2;
    }
    qat_tokenizer *tok;
    if (qat_tokenizer_load(argv[1], &tok) != QAT_OK) {
        fprintf(stderr, "%s\n", qat_last_error());
        return 1;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    /* Read everything first so that only encoding is timed. */
    size_t cap = 1 << 20, n = 0;
    char *data = malloc(cap);
    size_t got;
    while ((got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            data = realloc(data, cap *= 2);
    }
    fclose(f);
    int32_t *ids = malloc(((size_t)1 << 20) * sizeof *ids);
    size_t lines = 0, total = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t at = 0; at < n;) {
        char *nl = memchr(data + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (data + at)) : n - at;
        size_t count;
        if (qat_tokenizer_encode(tok, data + at, len, ids, 1 << 20, &count) != QAT_OK) {
            fprintf(stderr, "line %zu: %s\n", lines, qat_last_error());
            return 1;
        }
        total += count;
        lines++;
        at += len + 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%zu %zu %zu %.6f\n", lines, n, total, s);
    free(ids);
    free(data);
    qat_tokenizer_free(tok);
    return 0;
}
