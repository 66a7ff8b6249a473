#include "tokenizer/vocab.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then mixed */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return qat_tok_trie_hash(h);
}

static qat_status oom(void) { return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory"); }

qat_status qat_tok_vocab_add(qat_tok_vocab *v, const char *piece, size_t len, float score, int type,
                             const char *where)
{
    if (len > QAT_TOK_MAX_PIECE_BYTES)
        return qat_fail(QAT_ERR_FORMAT, "%s: piece %d ('%.24s...') has %zu bytes, more than the %d a vocabulary "
                        "entry may have", where, v->n, piece, len, QAT_TOK_MAX_PIECE_BYTES);
    if (v->n == v->cap) {
        int32_t cap = v->cap ? v->cap * 2 : 1024;
        if (cap > (1 << 28))
            return qat_fail(QAT_ERR_FORMAT, "%s: more than %d pieces", where, 1 << 28);
        size_t *off = realloc(v->off, ((size_t)cap + 1) * sizeof *off);
        if (!off)
            return oom();
        v->off = off;
        float *score_p = realloc(v->score, (size_t)cap * sizeof *score_p);
        if (!score_p)
            return oom();
        v->score = score_p;
        uint8_t *type_p = realloc(v->type, (size_t)cap);
        if (!type_p)
            return oom();
        v->type = type_p;
        v->cap = cap;
    }
    if (v->blob_cap - v->blob_n < len + 1) {
        size_t cap = v->blob_cap ? v->blob_cap : 65536;
        while (cap - v->blob_n < len + 1)
            cap *= 2;
        char *b = realloc(v->blob, cap);
        if (!b)
            return oom();
        v->blob = b;
        v->blob_cap = cap;
    }
    if (v->n == 0)
        v->off[0] = 0;
    memcpy(v->blob + v->blob_n, piece, len);
    v->blob[v->blob_n + len] = '\0';
    v->blob_n += len + 1;
    v->score[v->n] = score;
    v->type[v->n] = (uint8_t)type;
    v->n++;
    v->off[v->n] = v->blob_n;
    return QAT_OK;
}

qat_status qat_tok_vocab_finish(qat_tok_vocab *v)
{
    if (!v->slots || (uint64_t)v->n * 2u + 16u > (uint64_t)v->mask + 1) { /* (re)build, at least doubled */
        uint32_t cap = 16;
        while (cap < (uint32_t)v->n * 4u + 16u)
            cap *= 2;
        free(v->slots);
        v->slots = malloc(cap * sizeof *v->slots);
        if (!v->slots)
            return oom();
        memset(v->slots, 0xff, cap * sizeof *v->slots);
        v->mask = cap - 1;
        v->hashed = 0;
    }
    for (int32_t id = v->hashed; id < v->n; id++) {
        size_t len;
        const char *p = qat_tok_vocab_piece(v, id, &len);
        for (uint32_t i = (uint32_t)hash_bytes(p, len) & v->mask;; i = (i + 1) & v->mask) {
            int32_t other = v->slots[i];
            if (other < 0) {
                v->slots[i] = id;
                break;
            }
            size_t olen;
            const char *o = qat_tok_vocab_piece(v, other, &olen);
            if (olen == len && memcmp(o, p, len) == 0)
                return qat_fail(QAT_ERR_FORMAT, "piece %d '%.*s' is already defined as piece %d", id,
                                (int)(len > 64 ? 64 : len), p, other);
        }
        v->hashed = id + 1;
    }
    return QAT_OK;
}

int32_t qat_tok_vocab_find(const qat_tok_vocab *v, const char *piece, size_t len)
{
    if (!v->slots)
        return -1;
    for (uint32_t i = (uint32_t)hash_bytes(piece, len) & v->mask;; i = (i + 1) & v->mask) {
        int32_t id = v->slots[i];
        if (id < 0)
            return -1;
        size_t plen = v->off[id + 1] - v->off[id] - 1;
        if (plen == len && memcmp(v->blob + v->off[id], piece, len) == 0)
            return id;
    }
}

void qat_tok_vocab_free(qat_tok_vocab *v)
{
    free(v->blob);
    free(v->off);
    free(v->score);
    free(v->type);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

qat_status qat_tok_trie_init(qat_tok_trie *t)
{
    memset(t, 0, sizeof *t);
    t->cap_nodes = 256;
    t->value = malloc((size_t)t->cap_nodes * sizeof *t->value);
    t->hcap = 1024;
    t->keys = calloc(t->hcap, sizeof *t->keys);
    t->child = malloc(t->hcap * sizeof *t->child);
    if (!t->value || !t->keys || !t->child) {
        qat_tok_trie_free(t);
        return oom();
    }
    t->n_nodes = 1;
    t->value[0] = -1;
    for (int i = 0; i < 256; i++)
        t->root[i] = -1;
    return QAT_OK;
}

static qat_status grow_hash(qat_tok_trie *t)
{
    size_t cap = t->hcap * 2;
    uint64_t *keys = calloc(cap, sizeof *keys);
    int32_t *child = malloc(cap * sizeof *child);
    if (!keys || !child) {
        free(keys);
        free(child);
        return oom();
    }
    for (size_t i = 0; i < t->hcap; i++) {
        if (!t->keys[i])
            continue;
        size_t j = qat_tok_trie_hash(t->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = t->keys[i];
        child[j] = t->child[i];
    }
    free(t->keys);
    free(t->child);
    t->keys = keys;
    t->child = child;
    t->hcap = cap;
    return QAT_OK;
}

static qat_status new_node(qat_tok_trie *t, int32_t *out)
{
    if (t->n_nodes == t->cap_nodes) {
        if (t->cap_nodes > (1 << 29))
            return qat_fail(QAT_ERR_FORMAT, "tokenizer: vocabulary trie too large");
        int32_t *v = realloc(t->value, (size_t)t->cap_nodes * 2 * sizeof *v);
        if (!v)
            return oom();
        t->value = v;
        t->cap_nodes *= 2;
    }
    t->value[t->n_nodes] = -1;
    *out = t->n_nodes++;
    return QAT_OK;
}

qat_status qat_tok_trie_insert(qat_tok_trie *t, const char *key, size_t len, int32_t value)
{
    int32_t node = 0;
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)key[k];
        int32_t next = qat_tok_trie_step(t, node, c);
        if (next < 0) {
            QAT_TRY(new_node(t, &next));
            if (node == 0) {
                t->root[c] = next;
            } else {
                if ((t->hcount + 1) * 2 > t->hcap)
                    QAT_TRY(grow_hash(t));
                uint64_t hk = ((uint64_t)node << 8 | c) + 1;
                size_t i = qat_tok_trie_hash(hk) & (t->hcap - 1);
                while (t->keys[i])
                    i = (i + 1) & (t->hcap - 1);
                t->keys[i] = hk;
                t->child[i] = next;
                t->hcount++;
            }
        }
        node = next;
    }
    /* The first insertion wins, as with SentencePiece's unique pieces. */
    if (t->value[node] < 0)
        t->value[node] = value;
    return QAT_OK;
}

size_t qat_tok_trie_longest(const qat_tok_trie *t, const char *s, size_t len, int32_t *value)
{
    size_t best = 0;
    int32_t node = 0;
    for (size_t k = 0; k < len; k++) {
        node = qat_tok_trie_step(t, node, (unsigned char)s[k]);
        if (node < 0)
            break;
        if (t->value[node] >= 0) {
            best = k + 1;
            *value = t->value[node];
        }
    }
    return best;
}

void qat_tok_trie_free(qat_tok_trie *t)
{
    free(t->value);
    free(t->keys);
    free(t->child);
    memset(t, 0, sizeof *t);
}
