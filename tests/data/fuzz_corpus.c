/* Fuzz target: the corpus reader on arbitrary bytes. The first byte picks
 * max_chars (1..32, so cuts happen constantly) and the UTF-8 policy. Every
 * record must be valid UTF-8, within max_chars characters and stripped;
 * resuming from a record's position must give the same next record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/corpus.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t chars(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    qat_data_corpus_options o;
    qat_data_corpus_options_init(&o);
    o.max_chars = 1 + (data[0] & 31);
    o.utf8 = (data[0] & 32) ? QAT_DATA_UTF8_ERROR : QAT_DATA_UTF8_REPLACE;
    qat_data_corpus *c = NULL, *d = NULL;
    if (qat_data_corpus_open_memory(data + 1, size - 1, "fuzz", &o, &c) != QAT_OK ||
        qat_data_corpus_open_memory(data + 1, size - 1, "fuzz", &o, &d) != QAT_OK)
        __builtin_trap();
    int checks = 0;
    for (;;) {
        const char *t;
        size_t n;
        if (qat_data_corpus_next(c, &t, &n) != QAT_OK) {
            if (o.utf8 != QAT_DATA_UTF8_ERROR)
                __builtin_trap(); /* replacing never fails on memory */
            break;
        }
        if (!t)
            break;
        if (n == 0 || qat_utf8_validate(t, n) != n || chars(t, n) > o.max_chars || t[0] == ' ' || t[n - 1] == ' ')
            __builtin_trap();
        /* Every few records, resume a second reader here and compare. */
        if (checks++ % 7 == 0) {
            qat_data_corpus_pos pos;
            qat_data_corpus_position(c, &pos);
            char *cur_next = NULL;
            const char *u;
            size_t un;
            qat_data_corpus_pos before;
            qat_data_corpus_position(c, &before);
            if (qat_data_corpus_seek(d, &pos) != QAT_OK)
                __builtin_trap();
            if (qat_data_corpus_next(d, &u, &un) == QAT_OK && u)
                cur_next = strndup(u, un);
            if (qat_data_corpus_next(c, &t, &n) != QAT_OK) {
                free(cur_next);
                break;
            }
            if ((t == NULL) != (cur_next == NULL) || (t && strcmp(t, cur_next) != 0))
                __builtin_trap();
            free(cur_next);
            if (!t)
                break;
        }
    }
    qat_data_corpus_close(c);
    qat_data_corpus_close(d);
    return 0;
}
