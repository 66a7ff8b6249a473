#include "core/utf8.h"

int qat_utf8_feed(qat_utf8_dec *d, uint8_t b, uint32_t *cp)
{
    if (d->need == 0) {
        if (b < 0x80) {
            *cp = b;
            return QAT_UTF8_CHAR;
        }
        /* Lead bytes and the range of their first continuation (Unicode
         * Table 3-7), which rules out overlongs, surrogates and > U+10FFFF. */
        d->lo = 0x80;
        d->hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            d->need = 1;
            d->cp = b & 0x1Fu;
        } else if (b >= 0xE0 && b <= 0xEF) {
            d->need = 2;
            d->cp = b & 0x0Fu;
            if (b == 0xE0)
                d->lo = 0xA0;
            else if (b == 0xED)
                d->hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            d->need = 3;
            d->cp = b & 0x07u;
            if (b == 0xF0)
                d->lo = 0x90;
            else if (b == 0xF4)
                d->hi = 0x8F;
        } else {
            return QAT_UTF8_BAD;
        }
        return QAT_UTF8_MORE;
    }
    if (b < d->lo || b > d->hi) {
        d->need = 0;
        return QAT_UTF8_BAD_AGAIN;
    }
    d->cp = (d->cp << 6) | (b & 0x3Fu);
    d->lo = 0x80;
    d->hi = 0xBF;
    if (--d->need == 0) {
        *cp = d->cp;
        return QAT_UTF8_CHAR;
    }
    return QAT_UTF8_MORE;
}

int qat_utf8_finish(qat_utf8_dec *d)
{
    int pending = d->need != 0;
    d->need = 0;
    return pending;
}

size_t qat_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int qat_utf8_is_space(uint32_t cp)
{
    if (cp <= 0x20)
        return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    if (cp < 0xA0)
        return 0;
    return cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t qat_utf8_validate(const char *s, size_t n)
{
    qat_utf8_dec d;
    qat_utf8_reset(&d);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp;
        int r = qat_utf8_feed(&d, (uint8_t)s[i], &cp);
        if (r == QAT_UTF8_BAD)
            return i;
        if (r == QAT_UTF8_BAD_AGAIN)
            return start;
        if (r == QAT_UTF8_CHAR)
            start = i + 1;
    }
    return d.need ? start : n;
}
