/* The vocabulary of a tokenizer model: pieces by id (with score and type)
 * and a hash from piece to id; plus a byte trie for longest/all-prefix
 * matching (Viterbi, WordPiece, user-defined symbols). Both are built once
 * at load and only read afterwards. */
#ifndef QAT_TOK_VOCAB_H
#define QAT_TOK_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

/* SentencePiece piece types (the ModelProto enum values). */
enum {
    QAT_TOK_NORMAL = 1,
    QAT_TOK_UNKNOWN = 2,
    QAT_TOK_CONTROL = 3,
    QAT_TOK_USER_DEFINED = 4,
    QAT_TOK_UNUSED = 5,
    QAT_TOK_BYTE = 6
};

/* The longest vocabulary entry accepted (bytes). Real pieces are short
 * (SentencePiece caps them at 16 characters by default, BPE vocabularies
 * stay under a few hundred bytes); a longer one is a malformed file, and
 * refusing it at once keeps the tries (tens of bytes per piece byte) from
 * growing with it: a 100 MB token would need gigabytes. */
#define QAT_TOK_MAX_PIECE_BYTES 1024

typedef struct qat_tok_vocab {
    int32_t n, cap;
    int32_t hashed;       /* pieces already in the hash (qat_tok_vocab_finish) */
    char *blob;           /* pieces, each followed by NUL */
    size_t blob_n, blob_cap;
    size_t *off;          /* start of piece i in blob; off[i+1]-off[i]-1 = length */
    float *score;
    uint8_t *type;
    int32_t *slots;       /* open addressing, -1 = empty */
    uint32_t mask;
} qat_tok_vocab;

/* Appends a piece; fails with QAT_ERR_FORMAT (naming `where`) on a piece
 * longer than QAT_TOK_MAX_PIECE_BYTES. */
qat_status qat_tok_vocab_add(qat_tok_vocab *v, const char *piece, size_t len, float score, int type,
                             const char *where);
/* Puts the pieces added since the last call into the hash (growing it
 * when needed: the cost is amortised, so calling it after each added
 * token stays linear); fails with QAT_ERR_FORMAT on a duplicate. */
qat_status qat_tok_vocab_finish(qat_tok_vocab *v);
int32_t qat_tok_vocab_find(const qat_tok_vocab *v, const char *piece, size_t len);
static inline const char *qat_tok_vocab_piece(const qat_tok_vocab *v, int32_t id, size_t *len)
{
    *len = v->off[id + 1] - v->off[id] - 1;
    return v->blob + v->off[id];
}
void qat_tok_vocab_free(qat_tok_vocab *v);

/* Byte trie: node 0 is the root; value[node] is an id or -1. Children are
 * in one hash keyed by (node, byte), the root's in a direct table. */
typedef struct qat_tok_trie {
    int32_t *value;
    int32_t n_nodes, cap_nodes;
    uint64_t *keys;       /* (node << 8 | byte) + 1; 0 = empty */
    int32_t *child;
    size_t hcap, hcount;
    int32_t root[256];
} qat_tok_trie;

qat_status qat_tok_trie_init(qat_tok_trie *t);
qat_status qat_tok_trie_insert(qat_tok_trie *t, const char *key, size_t len, int32_t value);
void qat_tok_trie_free(qat_tok_trie *t);

static inline uint64_t qat_tok_trie_hash(uint64_t k)
{
    k *= 0x9E3779B97F4A7C15ull;
    return k ^ (k >> 29);
}

/* Child of node by byte, or -1. */
static inline int32_t qat_tok_trie_step(const qat_tok_trie *t, int32_t node, unsigned char c)
{
    if (node == 0)
        return t->root[c];
    uint64_t key = ((uint64_t)node << 8 | c) + 1;
    size_t m = t->hcap - 1;
    for (size_t i = qat_tok_trie_hash(key) & m;; i = (i + 1) & m) {
        if (t->keys[i] == key)
            return t->child[i];
        if (t->keys[i] == 0)
            return -1;
    }
}

/* Length of the longest key that prefixes s[0..len) and its value, or 0. */
size_t qat_tok_trie_longest(const qat_tok_trie *t, const char *s, size_t len, int32_t *value);

#endif
