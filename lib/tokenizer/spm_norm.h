/* SentencePiece's normalizer: the precompiled charsmap (a darts-clone
 * double-array trie of rules plus their NUL-terminated outputs), the
 * dummy-prefix / extra-whitespace / `▁` escaping rules, and user-defined
 * symbols passed through untouched. Also the normalizer of a tokenizer.json
 * "Precompiled" step (the same blob). */
#ifndef QAT_TOK_SPM_NORM_H
#define QAT_TOK_SPM_NORM_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"
#include "tokenizer/tok_util.h"
#include "tokenizer/vocab.h"

typedef struct qat_tok_charsmap {
    uint32_t *units;      /* double-array units (copied: the blob may be unaligned) */
    size_t n_units;
    char *norm;           /* normalized strings, NUL-terminated each */
    size_t norm_len;
} qat_tok_charsmap;

typedef struct qat_tok_spm_norm {
    qat_tok_charsmap map;
    int has_map;
    int add_dummy_prefix, remove_extra_ws, escape_ws, ws_as_suffix;
    const qat_tok_trie *user; /* user-defined symbols, or NULL */
} qat_tok_spm_norm;

/* Parses a precompiled charsmap blob; `where` names it in messages. */
qat_status qat_tok_charsmap_parse(qat_tok_charsmap *m, const uint8_t *blob, size_t len, const char *where);
void qat_tok_charsmap_free(qat_tok_charsmap *m);

/* Normalized form of the longest rule matching a prefix of s: sets *out/
 * *out_len to the replacement and *consumed to the input bytes it covers,
 * or *consumed = 0 when no rule applies. Fails only on a rule pointing
 * outside the blob. */
qat_status qat_tok_charsmap_prefix(const qat_tok_charsmap *m, const char *s, size_t len, const char **out,
                                   size_t *out_len, size_t *consumed);

/* SentencePiece's Normalizer::Normalize: appends the normalized text to out. */
qat_status qat_tok_spm_normalize(const qat_tok_spm_norm *n, const char *text, size_t len, qat_tok_buf *out);

#endif
