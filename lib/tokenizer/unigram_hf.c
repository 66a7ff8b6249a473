/* tokenizers' Unigram::encode_optimized: best path over every piece of the
 * vocabulary with double scores; a character no piece covers is an unknown
 * node scored min_score - 10, and runs of unknown nodes are fused. */
#include <stdlib.h>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

typedef struct node {
    int32_t id;
    int32_t starts_at;
    double score;
} node;

qat_status qat_tok_unigram_hf(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out)
{
    if (len == 0)
        return QAT_OK;
    if (len > (size_t)INT32_MAX - 1)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "tokenizer: text of %zu bytes is too long", len);
    node stack_nodes[129];
    node *best = len < 128 ? stack_nodes : malloc((len + 1) * sizeof *best);
    if (!best)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (%zu bytes of text)", len);
    for (size_t i = 0; i <= len; i++) {
        best[i].id = -1;
        best[i].starts_at = -1;
        best[i].score = 0.0;
    }
    const qat_tok_trie *trie = &t->pieces_trie;
    const double unk_score = t->dmin_score - 10.0;
    for (size_t start = 0; start < len;) {
        const double here = best[start].score;
        size_t mblen;
        if (qat_tok_utf8_decode(s + start, len - start, &mblen) < 0)
            mblen = 1;
        int has_single = 0;
        int32_t nd = 0;
        for (size_t k = start; k < len; k++) {
            nd = qat_tok_trie_step(trie, nd, (unsigned char)s[k]);
            if (nd < 0)
                break;
            int32_t id = trie->value[nd];
            if (id < 0)
                continue;
            double cand = t->dscore[id] + here;
            node *target = &best[k + 1];
            if (target->starts_at == -1 || cand > target->score) {
                target->score = cand;
                target->starts_at = (int32_t)start;
                target->id = id;
            }
            if (k + 1 - start == mblen)
                has_single = 1;
        }
        if (!has_single) {
            node *target = &best[start + mblen];
            double cand = unk_score + here;
            if (target->starts_at == -1 || cand > target->score) {
                target->score = cand;
                target->starts_at = (int32_t)start;
                target->id = t->unk_id;
            }
        }
        start += mblen;
    }
    size_t n = 0;
    for (size_t end = len; end > 0; end = (size_t)best[end].starts_at)
        n++;
    int32_t *ends = malloc(n * sizeof *ends);
    qat_status st = ends ? QAT_OK : qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    if (st == QAT_OK) {
        size_t i = n;
        for (size_t end = len; end > 0; end = (size_t)best[end].starts_at)
            ends[--i] = (int32_t)end;
        int prev_unk = 0;
        for (i = 0; i < n && st == QAT_OK; i++) {
            size_t e = (size_t)ends[i], b = (size_t)best[e].starts_at;
            int32_t id = best[e].id;
            if (id < 0 || id == t->unk_id) {
                st = qat_tok_emit_unk(t, s + b, e - b, prev_unk, out);
                prev_unk = 1;
            } else {
                st = qat_tok_ivec_push(out, id);
                prev_unk = 0;
            }
        }
    }
    free(ends);
    if (best != stack_nodes)
        free(best);
    return st;
}
