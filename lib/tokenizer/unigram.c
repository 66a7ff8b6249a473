/* Viterbi segmentation of a unigram model: the best path ending at each
 * byte, the lattice generated on the fly from the pieces trie. One lattice
 * and one backtrack serve SentencePiece (.model files) and tokenizers
 * (tokenizer.json); only the forward pass is written twice, because the
 * two libraries add and compare the scores in different precisions, and
 * matching each one's ties exactly needs each one's arithmetic (the
 * viterbi fixtures of tests/tokenizer segment differently in the two). */
#include <stdlib.h>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

typedef struct node {
    int32_t id;        /* -1: not reached */
    int32_t starts_at; /* -1: not reached */
    double score;      /* holds a float's value exactly on the SentencePiece path */
} node;

/* Nodes 0..len, unreached; a small text's live on the caller's stack. */
enum { STACK_NODES = 257 };

static node *lattice_new(size_t len, node *stack_nodes)
{
    node *best = len < STACK_NODES ? stack_nodes : malloc((len + 1) * sizeof *best);
    if (!best)
        return NULL;
    for (size_t i = 0; i <= len; i++)
        best[i] = (node){-1, -1, 0.0};
    return best;
}

/* Relaxes the node at `end` with a path from `start`: a node not reached
 * yet takes any candidate; one reached keeps the first of equal scores. */
static void relax(node *target, double cand, size_t start, int32_t id)
{
    if (target->starts_at == -1 || cand > target->score) {
        target->score = cand;
        target->starts_at = (int32_t)start;
        target->id = id;
    }
}

/* SentencePiece's EncodeOptimized. Why float: SentencePiece keeps the best
 * score per position as a float and forms each candidate in double from
 * it (score + till_here), so a candidate is rounded to float when stored;
 * unknowns are added in float. Doing the same keeps every tie (and so
 * every segmentation) identical to SentencePiece's. User-defined pieces
 * score length * max_score - 0.1; unused pieces are skipped. */
static void forward_spm(const qat_tokenizer *t, const char *s, size_t len, node *best)
{
    const qat_tok_trie *trie = &t->pieces_trie;
    const float unk_score = t->min_score - 10.0f; /* kUnkPenalty */
    for (size_t start = 0; start < len;) {
        const float till_here = (float)best[start].score;
        const size_t mblen = qat_tok_one_char_len(s + start, len - start);
        int has_single = 0;
        int32_t nd = 0;
        for (size_t k = start; k < len; k++) {
            if ((nd = qat_tok_trie_step(trie, nd, (unsigned char)s[k])) < 0)
                break;
            int32_t id = trie->value[nd];
            if (id < 0 || t->vocab.type[id] == QAT_TOK_UNUSED)
                continue;
            size_t length = k + 1 - start;
            double score = t->vocab.type[id] == QAT_TOK_USER_DEFINED ? (double)((float)length * t->max_score) - 0.1
                                                                      : (double)t->vocab.score[id];
            /* compared unrounded, stored rounded: not relax(), which compares what it stores */
            double cand = score + (double)till_here;
            node *target = &best[k + 1];
            if (target->starts_at == -1 || cand > target->score)
                *target = (node){id, (int32_t)start, (double)(float)cand};
            has_single |= length == mblen;
        }
        if (!has_single)
            relax(&best[start + mblen], (double)(unk_score + till_here), start, t->unk_id);
        start += mblen;
    }
}

/* tokenizers' Unigram::encode_optimized. Why double: tokenizers keeps
 * scores and sums in f64 throughout, so the float path above would break
 * some of its ties differently. Every piece counts (no user-defined or
 * unused rule); an invalid UTF-8 byte is a character of its own. */
static void forward_hf(const qat_tokenizer *t, const char *s, size_t len, node *best)
{
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
            if ((nd = qat_tok_trie_step(trie, nd, (unsigned char)s[k])) < 0)
                break;
            int32_t id = trie->value[nd];
            if (id < 0)
                continue;
            relax(&best[k + 1], t->dscore[id] + here, start, id);
            has_single |= k + 1 - start == mblen;
        }
        if (!has_single)
            relax(&best[start + mblen], unk_score + here, start, t->unk_id);
        start += mblen;
    }
}

/* The best path's nodes in text order, unknown runs fused by emit_unk. */
static qat_status backtrack(const qat_tokenizer *t, const char *s, size_t len, const node *best, qat_tok_ivec *out)
{
    size_t n = 0;
    for (size_t end = len; end > 0; end = (size_t)best[end].starts_at)
        n++;
    int32_t *ends = malloc(n * sizeof *ends);
    if (!ends)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    size_t i = n;
    for (size_t end = len; end > 0; end = (size_t)best[end].starts_at)
        ends[--i] = (int32_t)end;
    qat_status st = QAT_OK;
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
    free(ends);
    return st;
}

static qat_status segment(const qat_tokenizer *t, const char *s, size_t len, int hf, qat_tok_ivec *out)
{
    if (len == 0)
        return QAT_OK;
    if (len > (size_t)INT32_MAX - 1)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "tokenizer: text of %zu bytes is too long", len);
    node stack_nodes[STACK_NODES];
    node *best = lattice_new(len, stack_nodes);
    if (!best)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (%zu bytes of text)", len);
    if (hf)
        forward_hf(t, s, len, best);
    else
        forward_spm(t, s, len, best);
    qat_status st = backtrack(t, s, len, best, out);
    if (best != stack_nodes)
        free(best);
    return st;
}

qat_status qat_tok_unigram(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out)
{
    return segment(t, s, len, 0, out);
}

qat_status qat_tok_unigram_hf(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out)
{
    return segment(t, s, len, 1, out);
}
