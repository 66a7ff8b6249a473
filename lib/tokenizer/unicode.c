/* Lookups in the generated Unicode tables, and NFD over code points. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/unicode.h"

/* Index of the last run starting at or before cp. */
static size_t run_find(const uint32_t *runs, size_t n, uint32_t cp, int shift)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if ((runs[mid] >> shift) <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

qat_tok_ucat qat_tok_ucategory(uint32_t cp)
{
    if (cp >= 0x110000)
        return QAT_UC_Cn;
    return (qat_tok_ucat)(qat_tok_ucat_runs[run_find(qat_tok_ucat_runs, qat_tok_ucat_runs_n, cp, 5)] & 31);
}

int qat_tok_uccc(uint32_t cp)
{
    if (cp >= 0x110000)
        return 0;
    return (int)(qat_tok_ccc_runs[run_find(qat_tok_ccc_runs, qat_tok_ccc_runs_n, cp, 8)] & 255);
}

/* Position of key in a sorted table of records of `stride` words, or -1. */
static long pair_find(const uint32_t *tab, size_t n_words, size_t stride, uint32_t key)
{
    size_t lo = 0, hi = n_words / stride;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t k = tab[mid * stride];
        if (k == key)
            return (long)(mid * stride);
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

size_t qat_tok_ulower(uint32_t cp, uint32_t out[3])
{
    if (cp < 128) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    long i = pair_find(qat_tok_lower_pairs, qat_tok_lower_pairs_n, 2, cp);
    if (i >= 0) {
        out[0] = qat_tok_lower_pairs[i + 1];
        return 1;
    }
    i = pair_find(qat_tok_lower_multi, qat_tok_lower_multi_n, 4, cp);
    if (i >= 0) {
        size_t n = 0;
        for (int k = 1; k <= 3 && qat_tok_lower_multi[i + k]; k++)
            out[n++] = qat_tok_lower_multi[i + k];
        return n;
    }
    out[0] = cp;
    return 1;
}

size_t qat_tok_unfd(uint32_t cp, uint32_t out[8])
{
    if (cp >= 0xAC00 && cp <= 0xD7A3) { /* Hangul syllables (Unicode 3.12) */
        uint32_t s = cp - 0xAC00, l = s / (21 * 28), v = (s % (21 * 28)) / 28, t = s % 28;
        out[0] = 0x1100 + l;
        out[1] = 0x1161 + v;
        if (!t)
            return 2;
        out[2] = 0x11A7 + t;
        return 3;
    }
    if (cp >= 0xC0) {
        long i = pair_find(qat_tok_nfd_index, qat_tok_nfd_index_n, 2, cp);
        if (i >= 0) {
            uint32_t v = qat_tok_nfd_index[i + 1], off = v >> 3, n = v & 7;
            for (uint32_t k = 0; k < n; k++)
                out[k] = qat_tok_nfd_pool[off + k];
            return n;
        }
    }
    out[0] = cp;
    return 1;
}

int qat_tok_is_white_space(uint32_t cp)
{
    switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

int qat_tok_is_bert_punct(uint32_t cp)
{
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return 1;
    return qat_tok_is_punct(cp);
}

int qat_tok_is_bert_control(uint32_t cp)
{
    if (cp == '\t' || cp == '\n' || cp == '\r')
        return 0;
    qat_tok_ucat c = qat_tok_ucategory(cp);
    return c == QAT_UC_Cc || c == QAT_UC_Cf || c == QAT_UC_Co;
}

int qat_tok_is_chinese(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B920 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* Length of the maximal prefix of an ill-formed sequence that from_utf8_lossy
 * replaces by one U+FFFD (at least 1). */
static size_t bad_len(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 1;
    size_t k = 1;
    for (; k <= need && k < left; k++) {
        unsigned b = s[k];
        if (b < lo || b > hi)
            break;
        lo = 0x80;
        hi = 0xBF;
    }
    return k;
}

qat_status qat_tok_utf8_to_cps(const char *s, size_t len, qat_tok_ivec *out)
{
    QAT_TRY(qat_tok_ivec_reserve(out, len));
    size_t at = 0;
    while (at < len) {
        unsigned char c = (unsigned char)s[at];
        if (c < 0x80) {
            out->p[out->n++] = c;
            at++;
            continue;
        }
        size_t cl;
        int32_t cp = qat_tok_utf8_decode(s + at, len - at, &cl);
        if (cp < 0) {
            cp = 0xFFFD;
            cl = bad_len((const unsigned char *)s + at, len - at);
        }
        out->p[out->n++] = cp;
        at += cl;
    }
    return QAT_OK;
}

qat_status qat_tok_cps_to_utf8(const int32_t *cps, size_t n, qat_tok_buf *out)
{
    QAT_TRY(qat_tok_buf_reserve(out, n * 4 + 1));
    for (size_t i = 0; i < n; i++)
        out->n += qat_utf8_encode((uint32_t)cps[i], out->p + out->n);
    out->p[out->n] = '\0';
    return QAT_OK;
}

qat_status qat_tok_nfd(qat_tok_ivec *cps)
{
    size_t n = cps->n, extra = 0;
    uint32_t d[8];
    for (size_t i = 0; i < n; i++)
        if (cps->p[i] >= 0xC0)
            extra += qat_tok_unfd((uint32_t)cps->p[i], d) - 1;
    if (extra) {
        QAT_TRY(qat_tok_ivec_reserve(cps, extra));
        /* expand from the back */
        size_t w = n + extra;
        for (size_t i = n; i-- > 0;) {
            size_t k = cps->p[i] >= 0xC0 ? qat_tok_unfd((uint32_t)cps->p[i], d) : (d[0] = (uint32_t)cps->p[i], 1);
            while (k-- > 0)
                cps->p[--w] = (int32_t)d[k];
        }
        cps->n = n + extra;
    }
    /* canonical ordering: stable sort of each run of non-starters by class */
    int32_t *p = cps->p;
    for (size_t i = 1; i < cps->n; i++) {
        int c = p[i] >= 0x300 ? qat_tok_uccc((uint32_t)p[i]) : 0;
        if (!c)
            continue;
        size_t j = i;
        int32_t x = p[i];
        while (j > 0 && p[j - 1] >= 0x300 && qat_tok_uccc((uint32_t)p[j - 1]) > c) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = x;
    }
    return QAT_OK;
}
