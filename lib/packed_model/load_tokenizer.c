/* The tokenizer embedded in a .qatp file (lib/export/put_tokenizer.c):
 * "tokenizer/<file name>" records read straight from the file's bytes, as
 * the one file they hold (tokenizer.mode 1) or as a checkpoint directory
 * holding them (mode 2). Nothing is written to disk. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "packed_model/packed_model.h"
#include "tokenizer/load_files.h"

#define PREFIX "tokenizer/"
#define NAME_MAX_BYTES 200

/* A stored file name: plain, no directory part, not hidden. */
static int safe_name(const char *s)
{
    if (!s[0] || s[0] == '.' || strlen(s) > NAME_MAX_BYTES)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static qat_status read_mode(const qatp_file *f, uint64_t *mode)
{
    const qatp_record *r;
    QAT_TRY(qatp_find(f, "tokenizer.mode", QATP_I64, &r));
    if (r->size != 8)
        return qat_fail(QAT_ERR_FORMAT, "packed model: record 'tokenizer.mode' has %llu bytes, expected 8",
                        (unsigned long long)r->size);
    *mode = qatp_u64(r->payload);
    if (*mode != 1 && *mode != 2)
        return qat_fail(QAT_ERR_FORMAT, "packed model: unknown tokenizer mode %llu", (unsigned long long)*mode);
    return QAT_OK;
}

qat_status pm_load_tokenizer(const qatp_file *f, qat_packed_model *m)
{
    if (!qatp_has(f, "tokenizer.mode"))
        return QAT_OK;
    uint64_t mode = 0;
    QAT_TRY(read_mode(f, &mode));
    size_t n = 0;
    for (size_t i = 0; i < f->count; i++)
        n += strncmp(f->records[i].name, PREFIX, strlen(PREFIX)) == 0;
    if (n == 0)
        return qat_fail(QAT_ERR_FORMAT, "packed model: tokenizer mode set but no tokenizer file stored");
    if (mode == 1 && n != 1)
        return qat_fail(QAT_ERR_FORMAT, "packed model: single-file tokenizer with %zu files", n);
    qat_tok_file *files = calloc(n, sizeof *files);
    if (!files)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "packed model: out of memory");
    size_t k = 0;
    qat_status st = QAT_OK;
    for (size_t i = 0; st == QAT_OK && i < f->count; i++) {
        const qatp_record *r = &f->records[i];
        if (strncmp(r->name, PREFIX, strlen(PREFIX)) != 0)
            continue;
        const char *name = r->name + strlen(PREFIX);
        if (r->kind != QATP_BYTES || !safe_name(name))
            st = qat_fail(QAT_ERR_FORMAT, "packed model: bad tokenizer record '%s'", r->name);
        for (size_t j = 0; st == QAT_OK && j < k; j++)
            if (strcmp(files[j].name, name) == 0)
                st = qat_fail(QAT_ERR_FORMAT, "packed model: tokenizer file '%s' stored twice", name);
        files[k++] = (qat_tok_file){.name = name, .data = r->payload, .size = (size_t)r->size};
    }
    if (st == QAT_OK) {
        st = qat_tokenizer_load_files(files, n, mode == 2, "embedded tokenizer", &m->tokenizer);
        if (st != QAT_OK)
            st = qat_fail_prefix(QAT_ERR_FORMAT, "packed model: embedded tokenizer");
    }
    free(files);
    return st;
}
