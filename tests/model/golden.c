#include "golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_exact(FILE *f, void *dst, size_t n)
{
    return fread(dst, 1, n, f) == n ? 0 : -1;
}

int golden_load(const char *path, golden *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char magic[4];
    uint32_t n;
    if (read_exact(f, magic, 4) || memcmp(magic, "QATG", 4) || read_exact(f, &n, 4)) {
        fclose(f);
        return -1;
    }
    out->records = calloc(n, sizeof *out->records);
    for (uint32_t i = 0; i < n; i++) {
        golden_record *r = &out->records[i];
        uint32_t len, dtype, ndim;
        if (read_exact(f, &len, 4))
            goto fail;
        r->name = calloc(len + 1, 1);
        if (read_exact(f, r->name, len) || read_exact(f, &dtype, 4) || read_exact(f, &ndim, 4) || ndim > 8)
            goto fail;
        r->dtype = (int)dtype;
        r->ndim = (int)ndim;
        r->count = 1;
        if (read_exact(f, r->dims, ndim * sizeof(int64_t)))
            goto fail;
        for (uint32_t d = 0; d < ndim; d++)
            r->count *= (size_t)r->dims[d];
        size_t bytes = r->count * (dtype == 2 ? 1 : 4);
        r->data = calloc(bytes + 1, 1);
        if (read_exact(f, r->data, bytes))
            goto fail;
        out->n++;
    }
    fclose(f);
    return 0;
fail:
    fclose(f);
    out->n++;
    golden_free(out);
    return -1;
}

void golden_free(golden *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->records[i].name);
        free(g->records[i].data);
    }
    free(g->records);
    memset(g, 0, sizeof *g);
}

const golden_record *golden_find(const golden *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->records[i].name, name) == 0)
            return &g->records[i];
    return NULL;
}
