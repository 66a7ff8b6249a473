/* Viterbi segmentation of a unigram model: SentencePiece's EncodeOptimized
 * (best path ending at each byte, lattice generated on the fly). The score
 * arithmetic mirrors SentencePiece's types exactly (a double candidate
 * compared with the float stored per position, unknowns in float) so that
 * ties resolve as they do there. */
#include <stdlib.h>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

typedef struct best_node {
    int32_t id;
    int32_t starts_at;
    float score;
} best_node;

qat_status qat_tok_unigram(const qat_tokenizer *t, const char *s, size_t len, int spm_rules, qat_tok_ivec *out)
{
    if (len == 0)
        return QAT_OK;
    if (len > (size_t)INT32_MAX - 1)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "tokenizer: text of %zu bytes is too long", len);
    best_node stack_nodes[257];
    best_node *best = len < 256 ? stack_nodes : malloc((len + 1) * sizeof *best);
    if (!best)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (%zu bytes of text)", len);
    for (size_t i = 0; i <= len; i++) {
        best[i].id = -1;
        best[i].starts_at = -1;
        best[i].score = 0.0f;
    }
    const qat_tok_trie *trie = &t->pieces_trie;
    const float unk_score = t->min_score - 10.0f; /* kUnkPenalty */
    const uint8_t *types = t->vocab.type;
    const float *scores = t->vocab.score;
    size_t start = 0;
    while (start < len) {
        const float till_here = best[start].score;
        const size_t mblen = qat_tok_one_char_len(s + start, len - start);
        int has_single = 0;
        int32_t node = 0;
        for (size_t k = start; k < len; k++) {
            node = qat_tok_trie_step(trie, node, (unsigned char)s[k]);
            if (node < 0)
                break;
            int32_t id = trie->value[node];
            if (id < 0)
                continue;
            int type = types[id];
            if (spm_rules && type == QAT_TOK_UNUSED)
                continue;
            size_t length = k + 1 - start;
            double score = (spm_rules && type == QAT_TOK_USER_DEFINED)
                               ? (double)((float)length * t->max_score) - 0.1
                               : (double)scores[id];
            double cand = score + (double)till_here;
            best_node *target = &best[k + 1];
            if (target->starts_at == -1 || cand > (double)target->score) {
                target->score = (float)cand;
                target->starts_at = (int32_t)start;
                target->id = id;
            }
            if (length == mblen)
                has_single = 1;
        }
        if (!has_single) {
            best_node *target = &best[start + mblen];
            float cand = unk_score + till_here;
            if (target->starts_at == -1 || cand > target->score) {
                target->score = cand;
                target->starts_at = (int32_t)start;
                target->id = t->unk_id;
            }
        }
        start += mblen;
    }
    /* Backtrack: count, then emit in order. */
    size_t n = 0;
    for (size_t end = len; end > 0; end = (size_t)best[end].starts_at)
        n++;
    qat_status st = qat_tok_ivec_reserve(out, n * 4 + 4);
    if (st == QAT_OK) {
        /* Node spans are written reversed into the tail, then emitted. */
        size_t base = out->n;
        int32_t *spans = malloc(n * 2 * sizeof *spans);
        if (!spans) {
            st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        } else {
            size_t i = n;
            for (size_t end = len; end > 0; end = (size_t)best[end].starts_at) {
                i--;
                spans[2 * i] = best[end].starts_at;
                spans[2 * i + 1] = (int32_t)end;
            }
            int prev_unk = 0;
            for (i = 0; i < n && st == QAT_OK; i++) {
                size_t b = (size_t)spans[2 * i], e = (size_t)spans[2 * i + 1];
                int32_t id = best[e].id;
                if (id == t->unk_id) {
                    st = qat_tok_emit_unk(t, s + b, e - b, prev_unk, out);
                    prev_unk = 1;
                } else {
                    st = qat_tok_ivec_push(out, id);
                    prev_unk = 0;
                }
            }
            free(spans);
        }
        (void)base;
    }
    if (best != stack_nodes)
        free(best);
    return st;
}
