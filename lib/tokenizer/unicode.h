/* Unicode properties for the tokenizer.json pipelines (BERT's normalizer
 * and pre-tokenizer, ByteLevel's regex, accent stripping): general
 * categories, canonical combining classes, NFD and lowercase, from the
 * tables that gen_unicode_tables.py generates into unicode_tables.c. */
#ifndef QAT_TOK_UNICODE_H
#define QAT_TOK_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"
#include "tokenizer/tok_util.h"

/* General categories, in the generator's order. */
typedef enum qat_tok_ucat {
    QAT_UC_Cn, QAT_UC_Lu, QAT_UC_Ll, QAT_UC_Lt, QAT_UC_Lm, QAT_UC_Lo, QAT_UC_Mn, QAT_UC_Mc, QAT_UC_Me,
    QAT_UC_Nd, QAT_UC_Nl, QAT_UC_No, QAT_UC_Pc, QAT_UC_Pd, QAT_UC_Ps, QAT_UC_Pe, QAT_UC_Pi, QAT_UC_Pf,
    QAT_UC_Po, QAT_UC_Sm, QAT_UC_Sc, QAT_UC_Sk, QAT_UC_So, QAT_UC_Zs, QAT_UC_Zl, QAT_UC_Zp, QAT_UC_Cc,
    QAT_UC_Cf, QAT_UC_Cs, QAT_UC_Co
} qat_tok_ucat;

extern const char qat_tok_unicode_version[];
extern const uint32_t qat_tok_ucat_runs[];
extern const size_t qat_tok_ucat_runs_n;
extern const uint32_t qat_tok_ccc_runs[];
extern const size_t qat_tok_ccc_runs_n;
extern const uint32_t qat_tok_lower_pairs[];
extern const size_t qat_tok_lower_pairs_n;
extern const uint32_t qat_tok_lower_multi[];
extern const size_t qat_tok_lower_multi_n;
extern const uint32_t qat_tok_nfd_index[];
extern const size_t qat_tok_nfd_index_n;
extern const uint32_t qat_tok_nfd_pool[];
extern const size_t qat_tok_nfd_pool_n;

qat_tok_ucat qat_tok_ucategory(uint32_t cp);
int qat_tok_uccc(uint32_t cp);
/* Lowercase of cp (1..3 code points) into out; returns the count. */
size_t qat_tok_ulower(uint32_t cp, uint32_t out[3]);
/* Full canonical decomposition of cp (1..7 code points; Hangul too). */
size_t qat_tok_unfd(uint32_t cp, uint32_t out[8]);

static inline int qat_tok_is_letter(uint32_t cp)
{
    qat_tok_ucat c = qat_tok_ucategory(cp);
    return c >= QAT_UC_Lu && c <= QAT_UC_Lo;
}
static inline int qat_tok_is_number(uint32_t cp)
{
    qat_tok_ucat c = qat_tok_ucategory(cp);
    return c >= QAT_UC_Nd && c <= QAT_UC_No;
}
static inline int qat_tok_is_punct(uint32_t cp)
{
    qat_tok_ucat c = qat_tok_ucategory(cp);
    return c >= QAT_UC_Pc && c <= QAT_UC_Po;
}
/* Rust's char::is_whitespace (the White_Space property). */
int qat_tok_is_white_space(uint32_t cp);
/* BERT's punctuation: ASCII punctuation or a P* category. */
int qat_tok_is_bert_punct(uint32_t cp);
/* BERT's control: Cc, Cf, Co, but not \t \n \r. */
int qat_tok_is_bert_control(uint32_t cp);
/* BERT's CJK ideograph blocks. */
int qat_tok_is_chinese(uint32_t cp);

/* Decodes UTF-8 into code points, invalid bytes becoming U+FFFD (as
 * String::from_utf8_lossy), appending to out. */
qat_status qat_tok_utf8_to_cps(const char *s, size_t len, qat_tok_ivec *out);
/* Appends cps[0..n) as UTF-8. */
qat_status qat_tok_cps_to_utf8(const int32_t *cps, size_t n, qat_tok_buf *out);
/* NFD in place: decomposes and reorders combining marks canonically. */
qat_status qat_tok_nfd(qat_tok_ivec *cps);

#endif
