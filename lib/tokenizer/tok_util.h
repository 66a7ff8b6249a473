/* Small helpers shared by the tokenizer files: growable buffers and
 * SentencePiece's UTF-8 rules (encoding and files: lib/core). */
#ifndef QAT_TOK_UTIL_H
#define QAT_TOK_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

typedef struct qat_tok_buf {   /* growable bytes */
    char *p;
    size_t n, cap;
} qat_tok_buf;

typedef struct qat_tok_ivec {  /* growable int32 */
    int32_t *p;
    size_t n, cap;
} qat_tok_ivec;

qat_status qat_tok_buf_reserve(qat_tok_buf *b, size_t extra);
qat_status qat_tok_buf_append(qat_tok_buf *b, const void *data, size_t n);
void qat_tok_buf_free(qat_tok_buf *b);
qat_status qat_tok_ivec_reserve(qat_tok_ivec *v, size_t extra);
qat_status qat_tok_ivec_push(qat_tok_ivec *v, int32_t x);
void qat_tok_ivec_free(qat_tok_ivec *v);

/* SentencePiece's OneCharLen: length of a UTF-8 sequence from its lead byte
 * (1 for stray continuation bytes), never past `left`. */
static inline size_t qat_tok_one_char_len(const char *s, size_t left)
{
    size_t n = (size_t)"\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[((unsigned char)*s) >> 4];
    return n < left ? n : left;
}

/* Strict UTF-8 decode of one code point (SentencePiece's DecodeUTF8: no
 * overlongs, no surrogates, <= U+10FFFF). Returns the code point and sets
 * *len, or returns -1 with *len = 1 on an invalid sequence. */
int32_t qat_tok_utf8_decode(const char *s, size_t left, size_t *len);

#endif
