/* BPE segmentation. SentencePiece's variant merges the adjacent pair whose
 * concatenation is the best-scoring piece (ties: leftmost), re-splitting
 * pieces of type UNUSED into the pair they came from. HF's variant merges
 * by the rank of the (left, right) pair in its merges list. Both keep
 * symbols in a doubly linked list and candidate pairs in a binary heap;
 * stale heap entries are recognised and skipped. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

typedef struct sym {
    int32_t prev, next;
    uint32_t start, len;  /* span of the word; len 0 = merged away */
    int32_t id;           /* HF: current id */
    int freeze;
} sym;

typedef struct pair {
    float score;          /* larger first (HF: -rank) */
    int32_t left, right;
    uint32_t size;        /* HF: merged id */
} pair;

typedef struct heap {
    pair *p;
    size_t n, cap;
} heap;

/* a before b in the agenda: higher score, then smaller left. */
static inline int before(const pair *a, const pair *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static qat_status heap_push(heap *h, pair x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        pair *p = realloc(h->p, cap * sizeof *p);
        if (!p)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        h->p = p;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&x, &h->p[parent]))
            break;
        h->p[i] = h->p[parent];
        i = parent;
    }
    h->p[i] = x;
    return QAT_OK;
}

static pair heap_pop(heap *h)
{
    pair top = h->p[0];
    pair x = h->p[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(&h->p[c + 1], &h->p[c]))
            c++;
        if (!before(&h->p[c], &x))
            break;
        h->p[i] = h->p[c];
        i = c;
    }
    if (h->n)
        h->p[i] = x;
    return top;
}

/* ---- SentencePiece BPE ------------------------------------------------ */

typedef struct rev_merge {
    uint32_t start, len;        /* the merged (UNUSED) piece's bytes in s */
    uint32_t lstart, llen, rstart, rlen;
} rev_merge;

typedef struct spm_ctx {
    const qat_tokenizer *t;
    const char *s;
    sym *syms;
    heap agenda;
    rev_merge *rev;
    size_t n_rev, cap_rev;
} spm_ctx;

static qat_status spm_maybe_add(spm_ctx *c, int32_t left, int32_t right)
{
    if (left < 0 || right < 0 || c->syms[left].freeze || c->syms[right].freeze)
        return QAT_OK;
    uint32_t start = c->syms[left].start, size = c->syms[left].len + c->syms[right].len;
    int32_t id = qat_tok_vocab_find(&c->t->vocab, c->s + start, size);
    if (id < 0)
        return QAT_OK;
    int type = c->t->vocab.type[id];
    if (type != QAT_TOK_NORMAL && type != QAT_TOK_USER_DEFINED && type != QAT_TOK_UNUSED)
        return QAT_OK;
    pair p = {c->t->vocab.score[id], left, right, size};
    QAT_TRY(heap_push(&c->agenda, p));
    if (type == QAT_TOK_UNUSED) {
        if (c->n_rev == c->cap_rev) {
            size_t cap = c->cap_rev ? c->cap_rev * 2 : 8;
            rev_merge *r = realloc(c->rev, cap * sizeof *r);
            if (!r)
                return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
            c->rev = r;
            c->cap_rev = cap;
        }
        rev_merge m = {start, size, start, c->syms[left].len, c->syms[right].start, c->syms[right].len};
        c->rev[c->n_rev++] = m;
    }
    return QAT_OK;
}

/* ModelInterface::PieceToId: reserved pieces first, then the others, else unk. */
static int32_t spm_piece_id(const qat_tokenizer *t, const char *p, size_t len)
{
    int32_t id = qat_tok_vocab_find(&t->vocab, p, len);
    return id < 0 ? t->unk_id : id;
}

static qat_status spm_resegment(spm_ctx *c, uint32_t start, uint32_t len, int depth, int *prev_unk,
                                qat_tok_ivec *out)
{
    const qat_tokenizer *t = c->t;
    int32_t id = spm_piece_id(t, c->s + start, len);
    if (t->vocab.type[id] == QAT_TOK_UNUSED && depth < 64) {
        /* The latest merge recorded for these bytes wins, as in a hash map. */
        for (size_t i = c->n_rev; i-- > 0;) {
            const rev_merge *m = &c->rev[i];
            if (m->len == len && memcmp(c->s + m->start, c->s + start, len) == 0) {
                rev_merge copy = *m;
                QAT_TRY(spm_resegment(c, copy.lstart, copy.llen, depth + 1, prev_unk, out));
                return spm_resegment(c, copy.rstart, copy.rlen, depth + 1, prev_unk, out);
            }
        }
    }
    if (id == t->unk_id) {
        QAT_TRY(qat_tok_emit_unk(t, c->s + start, len, *prev_unk, out));
        *prev_unk = 1;
        return QAT_OK;
    }
    *prev_unk = 0;
    return qat_tok_ivec_push(out, id);
}

qat_status qat_tok_bpe_spm(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out)
{
    if (len == 0)
        return QAT_OK;
    if (len > (size_t)INT32_MAX / 2)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "tokenizer: text of %zu bytes is too long", len);
    spm_ctx c = {t, s, NULL, {0}, NULL, 0, 0};
    c.syms = malloc(len * sizeof *c.syms);
    if (!c.syms)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    /* Split into characters; user-defined symbols stay whole and frozen. */
    int32_t n = 0;
    for (size_t at = 0; at < len;) {
        size_t ml = 0;
        int32_t v;
        if (t->has_user)
            ml = qat_tok_trie_longest(&t->user_trie, s + at, len - at, &v);
        sym x = {n - 1, -1, (uint32_t)at, 0, -1, ml > 0};
        if (!ml)
            ml = qat_tok_one_char_len(s + at, len - at);
        x.len = (uint32_t)ml;
        at += ml;
        if (at < len)
            x.next = n + 1;
        c.syms[n++] = x;
    }
    qat_status st = QAT_OK;
    for (int32_t i = 1; i < n && st == QAT_OK; i++)
        st = spm_maybe_add(&c, i - 1, i);
    while (st == QAT_OK && c.agenda.n) {
        pair top = heap_pop(&c.agenda);
        sym *l = &c.syms[top.left], *r = &c.syms[top.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != top.size)
            continue;
        l->len += r->len;
        l->next = r->next;
        if (r->next >= 0)
            c.syms[r->next].prev = top.left;
        r->len = 0;
        st = spm_maybe_add(&c, l->prev, top.left);
        if (st == QAT_OK)
            st = spm_maybe_add(&c, top.left, l->next);
    }
    int prev_unk = 0;
    for (int32_t i = 0; st == QAT_OK && i >= 0; i = c.syms[i].next)
        st = spm_resegment(&c, c.syms[i].start, c.syms[i].len, 0, &prev_unk, out);
    free(c.syms);
    free(c.agenda.p);
    free(c.rev);
    return st;
}

/* ---- HF BPE (tokenizer.json) ------------------------------------------ */

static inline uint64_t merge_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1; }

static int merge_find(const qat_tokenizer *t, int32_t a, int32_t b, int32_t *rank, int32_t *id)
{
    if (!t->merge_cap)
        return 0;
    uint64_t key = merge_key(a, b);
    size_t m = t->merge_cap - 1;
    for (size_t i = qat_tok_trie_hash(key) & m;; i = (i + 1) & m) {
        if (t->merge_keys[i] == key) {
            *rank = t->merge_rank[i];
            *id = t->merge_id[i];
            return 1;
        }
        if (!t->merge_keys[i])
            return 0;
    }
}

static qat_status hf_maybe_add(const qat_tokenizer *t, sym *syms, heap *h, int32_t left, int32_t right)
{
    if (left < 0 || right < 0 || syms[left].id < 0 || syms[right].id < 0)
        return QAT_OK;
    int32_t rank, id;
    if (!merge_find(t, syms[left].id, syms[right].id, &rank, &id))
        return QAT_OK;
    pair p = {-(float)rank, left, right, (uint32_t)id};
    return heap_push(h, p);
}

qat_status qat_tok_bpe_hf(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out)
{
    if (len == 0)
        return QAT_OK;
    if (len > (size_t)INT32_MAX / 2)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "tokenizer: text of %zu bytes is too long", len);
    if (t->ignore_merges) {
        int32_t whole = qat_tok_vocab_find(&t->vocab, s, len);
        if (whole >= 0)
            return qat_tok_ivec_push(out, whole);
    }
    sym *syms = malloc(len * sizeof *syms);
    char *tmp = malloc(len + t->cont_prefix_len + t->eow_suffix_len + 8);
    heap h = {0};
    qat_status st = QAT_OK;
    if (!syms || !tmp) {
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        goto done;
    }
    /* Characters, with the continuing prefix on all but the first and the
     * end-of-word suffix on the last, as tokenizers' BPE::merge_word. */
    int32_t n = 0;
    for (size_t at = 0; at < len;) {
        size_t cl;
        if (qat_tok_utf8_decode(s + at, len - at, &cl) < 0)
            cl = 1;
        size_t k = 0;
        if (at > 0 && t->cont_prefix_len) {
            memcpy(tmp, t->cont_prefix, t->cont_prefix_len);
            k = t->cont_prefix_len;
        }
        memcpy(tmp + k, s + at, cl);
        k += cl;
        if (at + cl == len && t->eow_suffix_len) {
            memcpy(tmp + k, t->eow_suffix, t->eow_suffix_len);
            k += t->eow_suffix_len;
        }
        sym x = {n - 1, at + cl < len ? n + 1 : -1, (uint32_t)at, (uint32_t)cl,
                 qat_tok_vocab_find(&t->vocab, tmp, k), 0};
        syms[n++] = x;
        at += cl;
    }
    for (int32_t i = 1; i < n && st == QAT_OK; i++)
        st = hf_maybe_add(t, syms, &h, i - 1, i);
    while (st == QAT_OK && h.n) {
        pair top = heap_pop(&h);
        sym *l = &syms[top.left], *r = &syms[top.right];
        if (l->len == 0 || r->len == 0 || l->next != top.right)
            continue;
        int32_t rank, id;
        if (!merge_find(t, l->id, r->id, &rank, &id) || id != (int32_t)top.size)
            continue;
        l->len += r->len;
        l->id = id;
        l->next = r->next;
        if (r->next >= 0)
            syms[r->next].prev = top.left;
        r->len = 0;
        st = hf_maybe_add(t, syms, &h, l->prev, top.left);
        if (st == QAT_OK)
            st = hf_maybe_add(t, syms, &h, top.left, l->next);
    }
    int prev_unk = 0;
    for (int32_t i = 0; st == QAT_OK && i >= 0; i = syms[i].next) {
        if (syms[i].id >= 0) {
            st = qat_tok_ivec_push(out, syms[i].id);
            prev_unk = 0;
        } else if (t->drop_unk && !t->byte_fallback) {
            continue; /* tokenizers drops what it cannot encode without an unk_token */
        } else {
            st = qat_tok_emit_unk(t, s + syms[i].start, syms[i].len, prev_unk, out);
            prev_unk = 1;
        }
    }
done:
    free(syms);
    free(tmp);
    free(h.p);
    return st;
}
