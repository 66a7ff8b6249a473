/* Runs a libFuzzer target without libFuzzer, so that every build (gcc,
 * ASan, valgrind) exercises the parsers briefly: each seed as given, then
 * deterministic mutations of the seeds (bit flips, truncations, insertions,
 * overwrites with boundary values). A target that defines
 * LLVMFuzzerCustomMutator gets half of its mutations from it, with these
 * edits as its LLVMFuzzerMutate, as libFuzzer would. With -Dfuzz=true and
 * clang, the same targets are also linked against the real libFuzzer
 * (tests/fuzz/run_fuzz.sh runs them).
 *
 * usage: fuzz_X [--iterations N] [--seed S] SEED_FILE_OR_DIR...          */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
    __attribute__((weak));
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

typedef struct blob { uint8_t *data; size_t size; } blob;

static int read_file(const char *path, blob *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    out->size = n > 0 ? (size_t)n : 0;
    out->data = malloc(out->size + 1);
    if (out->size && fread(out->data, 1, out->size, f) != out->size)
        out->size = 0;
    fclose(f);
    return 1;
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The mutations' generator: main seeds it; LLVMFuzzerMutate, called back by
 * a custom mutator, draws from it too. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* 1 to 8 edits of buf (size bytes, room for max_size); the new size. */
size_t LLVMFuzzerMutate(uint8_t *buf, size_t size, size_t max_size)
{
    static const uint8_t boundary[] = {0x00, 0xff, 0x7f, 0x80, 0x01, '"', '{', '}', ':', ','};
    int edits = 1 + (int)(next(&rng) % 8);
    for (int e = 0; e < edits; e++) {
        uint64_t r = next(&rng);
        size_t at = size ? (size_t)(r >> 8) % size : 0;
        switch (r % 5) {
        case 0: if (size) buf[at] ^= (uint8_t)(1u << ((r >> 4) % 8)); break;
        case 1: if (size) buf[at] = boundary[(r >> 16) % sizeof boundary]; break;
        case 2: size = at; break; /* truncate */
        case 3: if (size < max_size) { memmove(buf + at + 1, buf + at, size - at); buf[at] = (uint8_t)(r >> 24); size++; } break;
        case 4: if (size >= 4) { uint32_t v = (uint32_t)(r >> 32); memcpy(buf + (at > size - 4 ? size - 4 : at), &v, 4); } break;
        }
    }
    return size;
}

static void add_seed(blob **seeds, size_t *n, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            add_seed(seeds, n, sub);
        }
        if (d)
            closedir(d);
        return;
    }
    *seeds = realloc(*seeds, (*n + 1) * sizeof **seeds);
    if (read_file(path, &(*seeds)[*n]))
        (*n)++;
}

int main(int argc, char **argv)
{
    long iterations = 1000;
    blob *seeds = NULL;
    size_t n_seeds = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            iterations = atol(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            rng = strtoull(argv[++i], NULL, 10) | 1;
        else
            add_seed(&seeds, &n_seeds, argv[i]);
    }
    if (n_seeds == 0) {
        fprintf(stderr, "fuzz: no seed inputs found\n");
        return 1;
    }
    for (size_t i = 0; i < n_seeds; i++)
        LLVMFuzzerTestOneInput(seeds[i].data, seeds[i].size);
    for (long it = 0; it < iterations; it++) {
        const blob *src = &seeds[next(&rng) % n_seeds];
        size_t cap = src->size + 64;
        uint8_t *buf = malloc(cap);
        memcpy(buf, src->data, src->size);
        size_t size = src->size;
        if (LLVMFuzzerCustomMutator && it % 2)
            size = LLVMFuzzerCustomMutator(buf, size, cap, (unsigned)next(&rng));
        else
            size = LLVMFuzzerMutate(buf, size, cap);
        LLVMFuzzerTestOneInput(buf, size);
        free(buf);
    }
    printf("fuzz: %zu seeds and %ld mutations ran without a crash\n", n_seeds, iterations);
    for (size_t i = 0; i < n_seeds; i++)
        free(seeds[i].data);
    free(seeds);
    return 0;
}
