/* WordPiece (BERT): greedy longest-match-first over each word, "##" on
 * continuations, the whole word as [UNK] when a part matches nothing or the
 * word has more than max_input_chars_per_word characters. Also BERT's
 * vocab.txt loader, which sets up BERT's pipeline around the model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

qat_status qat_tok_wordpiece(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out)
{
    if (len == 0)
        return QAT_OK;
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    size_t first = out->n;
    if (chars <= (size_t)t->max_word_chars) {
        for (size_t at = 0; at < len;) {
            int32_t id = -1;
            size_t m = qat_tok_trie_longest(at ? &t->cont_trie : &t->pieces_trie, s + at, len - at, &id);
            if (!m || id < 0) {
                out->n = first;
                goto unk;
            }
            QAT_TRY(qat_tok_ivec_push(out, id));
            at += m;
        }
        return QAT_OK;
    }
unk:
    if (t->unk_id < 0)
        return qat_fail(QAT_ERR_FORMAT, "tokenizer: WordPiece cannot encode '%.*s' and has no unk_token",
                        (int)(len > 32 ? 32 : len), s);
    return qat_tok_ivec_push(out, t->unk_id);
}

qat_status qat_tok_wordpiece_finish(qat_tokenizer *t, const char *unk, int max_chars, const char *where)
{
    t->algo = QAT_TOK_ALGO_WORDPIECE;
    t->decoder = QAT_TOK_DEC_WORDPIECE;
    t->max_word_chars = max_chars;
    if (!t->cont_prefix) {
        t->cont_prefix = malloc(3);
        if (!t->cont_prefix)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
        memcpy(t->cont_prefix, "##", 3);
        t->cont_prefix_len = 2;
    }
    t->unk_id = qat_tok_vocab_find(&t->vocab, unk, strlen(unk));
    if (t->unk_id < 0)
        return qat_fail(QAT_ERR_FORMAT, "%s: WordPiece unk_token '%s' is not in the vocabulary", where, unk);
    QAT_TRY(qat_tok_trie_init(&t->pieces_trie));
    QAT_TRY(qat_tok_trie_init(&t->cont_trie));
    for (int32_t i = 0; i < t->vocab.n; i++) {
        size_t len;
        const char *p = qat_tok_vocab_piece(&t->vocab, i, &len);
        /* the first id wins for duplicates, as in a HashMap built in order */
        QAT_TRY(qat_tok_trie_insert(&t->pieces_trie, p, len, i));
        if (len > t->cont_prefix_len && memcmp(p, t->cont_prefix, t->cont_prefix_len) == 0)
            QAT_TRY(qat_tok_trie_insert(&t->cont_trie, p + t->cont_prefix_len, len - t->cont_prefix_len, i));
    }
    return QAT_OK;
}

static qat_status set_norm_pre(qat_tokenizer *t, int lowercase, int strip_accents, int chinese, const char *where)
{
    t->norms = calloc(1, sizeof *t->norms);
    t->pres = calloc(1, sizeof *t->pres);
    if (!t->norms || !t->pres)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    t->n_norms = 1;
    t->norms[0].kind = QAT_TOK_N_BERT;
    t->norms[0].clean_text = 1;
    t->norms[0].chinese = chinese;
    t->norms[0].strip_accents = strip_accents;
    t->norms[0].lowercase = lowercase;
    t->n_pres = 1;
    t->pres[0].kind = QAT_TOK_P_BERT;
    return QAT_OK;
}

static int32_t find_name(const qat_tokenizer *t, const char *name)
{
    return qat_tok_vocab_find(&t->vocab, name, strlen(name));
}

qat_status qat_tok_load_vocab_txt(qat_tokenizer *t, const char *text, size_t size, const char *where,
                                  int lowercase, int strip_accents, int chinese)
{
    size_t at = 0;
    while (at < size) {
        const char *nl = memchr(text + at, '\n', size - at);
        size_t end = nl ? (size_t)(nl - text) : size;
        /* BertTokenizer's load_vocab keeps the line minus its "\n" */
        QAT_TRY(qat_tok_vocab_add(&t->vocab, text + at, end - at, 0.0f, QAT_TOK_NORMAL, where));
        at = end + 1;
    }
    qat_status st = qat_tok_vocab_finish(&t->vocab);
    if (st != QAT_OK)
        return qat_fail_prefix(st, "%s", where);
    if (t->vocab.n == 0)
        return qat_fail(QAT_ERR_FORMAT, "%s: empty vocabulary", where);
    QAT_TRY(qat_tok_wordpiece_finish(t, "[UNK]", 100, where));
    QAT_TRY(set_norm_pre(t, lowercase, strip_accents, chinese, where));
    snprintf(t->kind_name, sizeof t->kind_name, "wordpiece");
    t->n_ids = t->vocab.n;
    static const char *const names[QAT_TOKEN_SPECIAL_COUNT] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int i = 0; i < QAT_TOKEN_SPECIAL_COUNT; i++)
        t->special[i] = find_name(t, names[i]);
    for (int i = 0; i < QAT_TOKEN_SPECIAL_COUNT; i++) {
        int32_t id = t->special[i];
        if (id >= 0 && i != QAT_TOKEN_UNK)
            t->vocab.type[id] = QAT_TOK_CONTROL;
    }
    t->has_post = 1;
    t->post_bos = t->special[QAT_TOKEN_BOS];
    t->post_eos = t->special[QAT_TOKEN_EOS];
    /* BertTokenizer never splits its special tokens: split them out first */
    QAT_TRY(qat_tok_trie_init(&t->added_trie));
    t->added = calloc(QAT_TOKEN_SPECIAL_COUNT, sizeof *t->added);
    if (!t->added)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    for (int i = 0; i < QAT_TOKEN_SPECIAL_COUNT; i++)
        if (t->special[i] >= 0) {
            t->added[t->n_added] = (qat_tok_added){t->special[i], 0, 0, 0, 1};
            QAT_TRY(qat_tok_trie_insert(&t->added_trie, names[i], strlen(names[i]), t->n_added));
            t->n_added++;
        }
    return QAT_OK;
}
