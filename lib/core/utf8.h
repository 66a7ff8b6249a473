/* UTF-8 for every part: encoding, and incremental decoding with the
 * Unicode "maximal subpart" policy (what Python's errors="replace" does,
 * for data files): an ill-formed sequence becomes one U+FFFD per maximal
 * subpart, and the byte that broke it is decoded anew. (The tokenizers
 * decode as SentencePiece does instead, a different policy: tok_util.h.) */
#ifndef QAT_LIB_CORE_UTF8_H
#define QAT_LIB_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

typedef struct qat_utf8_dec {
    uint32_t cp;
    int need;           /* continuation bytes still expected */
    uint8_t lo, hi;     /* allowed range of the next continuation byte */
} qat_utf8_dec;

enum {
    QAT_UTF8_MORE = 0,      /* byte consumed, sequence incomplete */
    QAT_UTF8_CHAR = 1,      /* byte consumed, *cp holds a scalar value */
    QAT_UTF8_BAD = 2,       /* byte consumed, it was invalid: one U+FFFD */
    QAT_UTF8_BAD_AGAIN = 3  /* an incomplete sequence ended here: one U+FFFD,
                               then feed the same byte again */
};

#define QAT_UTF8_REPLACEMENT 0xFFFDu

static inline void qat_utf8_reset(qat_utf8_dec *d) { d->need = 0; d->cp = 0; }
int qat_utf8_feed(qat_utf8_dec *d, uint8_t b, uint32_t *cp);
/* End of input: 1 when an incomplete sequence was pending (one U+FFFD). */
int qat_utf8_finish(qat_utf8_dec *d);
/* Encodes cp into out (4 bytes room); returns the length. */
size_t qat_utf8_encode(uint32_t cp, char *out);
/* Unicode White_Space (less U+0085, which never appears in text lines
 * as such): ASCII \t \n \v \f \r and space, U+00A0, U+1680, U+2000-U+200A,
 * U+2028, U+2029, U+202F, U+205F, U+3000. */
int qat_utf8_is_space(uint32_t cp);
/* Offset of the first invalid byte of s[0, n), or n when all is valid. */
size_t qat_utf8_validate(const char *s, size_t n);

#endif
