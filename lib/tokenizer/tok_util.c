#include "tokenizer/tok_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

qat_status qat_tok_buf_reserve(qat_tok_buf *b, size_t extra)
{
    if (b->cap - b->n >= extra)
        return QAT_OK;
    if (extra > SIZE_MAX / 2 - b->n)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: buffer size overflow");
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->n < extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (%zu bytes)", cap);
    b->p = p;
    b->cap = cap;
    return QAT_OK;
}

qat_status qat_tok_buf_append(qat_tok_buf *b, const void *data, size_t n)
{
    QAT_TRY(qat_tok_buf_reserve(b, n + 1));
    if (n)
        memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0';
    return QAT_OK;
}

void qat_tok_buf_free(qat_tok_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

qat_status qat_tok_ivec_reserve(qat_tok_ivec *v, size_t extra)
{
    if (v->cap - v->n >= extra)
        return QAT_OK;
    if (extra > SIZE_MAX / 8 - v->n)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: id buffer size overflow");
    size_t cap = v->cap ? v->cap : 32;
    while (cap - v->n < extra)
        cap *= 2;
    int32_t *p = realloc(v->p, cap * sizeof *p);
    if (!p)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (%zu ids)", cap);
    v->p = p;
    v->cap = cap;
    return QAT_OK;
}

qat_status qat_tok_ivec_push(qat_tok_ivec *v, int32_t x)
{
    if (v->n == v->cap)
        QAT_TRY(qat_tok_ivec_reserve(v, 1));
    v->p[v->n++] = x;
    return QAT_OK;
}

void qat_tok_ivec_free(qat_tok_ivec *v)
{
    free(v->p);
    v->p = NULL;
    v->n = v->cap = 0;
}

static int is_trail(unsigned char c) { return (c & 0xC0) == 0x80; }

int32_t qat_tok_utf8_decode(const char *str, size_t left, size_t *len)
{
    const unsigned char *s = (const unsigned char *)str;
    *len = 1;
    if (left == 0)
        return -1;
    if (s[0] < 0x80)
        return s[0];
    uint32_t cp;
    if (left >= 2 && (s[0] & 0xE0) == 0xC0) {
        cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
        if (is_trail(s[1]) && cp >= 0x80) {
            *len = 2;
            return (int32_t)cp;
        }
    } else if (left >= 3 && (s[0] & 0xF0) == 0xE0) {
        cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        if (is_trail(s[1]) && is_trail(s[2]) && cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {
            *len = 3;
            return (int32_t)cp;
        }
    } else if (left >= 4 && (s[0] & 0xF8) == 0xF0) {
        cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
             (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
        if (is_trail(s[1]) && is_trail(s[2]) && is_trail(s[3]) && cp >= 0x10000 && cp <= 0x10FFFF) {
            *len = 4;
            return (int32_t)cp;
        }
    }
    return -1;
}

