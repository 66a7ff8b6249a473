/* Encoding of one text or a pair of texts for sequence classification: the
 * post-processor's template around them, token type ids, and HF's
 * `longest_first` truncation (the tokenizers library's, or transformers'
 * Python tokenizers' where the two differ). */
#include <string.h>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

static void set_layout(qat_tokenizer *t, const qat_tok_pair_item *items, int n)
{
    t->n_pair = 0;
    for (int i = 0; i < n; i++)
        if (items[i].id >= 0 || items[i].id == QAT_TOK_PAIR_A || items[i].id == QAT_TOK_PAIR_B)
            t->pair[t->n_pair++] = items[i];
}

void qat_tok_pair_roberta(qat_tokenizer *t, int32_t cls, int32_t sep)
{
    /* tokenizers' RobertaProcessing: every type id is 0 (RoBERTa has one
     * token type), as RobertaTokenizer's create_token_type_ids_from_sequences */
    const qat_tok_pair_item items[6] = {{cls, 0}, {QAT_TOK_PAIR_A, 0}, {sep, 0},
                                        {sep, 0}, {QAT_TOK_PAIR_B, 0}, {sep, 0}};
    set_layout(t, items, 6);
}

void qat_tok_pair_bert(qat_tokenizer *t, int32_t cls, int32_t sep)
{
    const qat_tok_pair_item items[5] = {{cls, 0}, {QAT_TOK_PAIR_A, 0}, {sep, 0}, {QAT_TOK_PAIR_B, 1}, {sep, 1}};
    set_layout(t, items, 5);
}

void qat_tok_pair_default(qat_tokenizer *t)
{
    if (t->n_pair > 0)
        return;
    int32_t cls = t->has_post ? t->post_bos : t->special[QAT_TOKEN_BOS];
    int32_t sep = t->has_post ? t->post_eos : t->special[QAT_TOKEN_EOS];
    char piece[8] = "";
    size_t len = 0;
    if (cls >= 0 && t->idmap == QAT_TOK_MAP_NONE) {
        const char *p = qat_tok_vocab_piece(&t->vocab, cls, &len);
        if (p && len < sizeof piece)
            memcpy(piece, p, len);
    }
    if (t->algo == QAT_TOK_ALGO_WORDPIECE || strcmp(piece, "[CLS]") == 0)
        qat_tok_pair_bert(t, cls, sep);
    else
        qat_tok_pair_roberta(t, cls, sep);
}

/* How many tokens each text keeps so that la + lb <= budget: the
 * tokenizers library's truncate_encodings (LongestFirst), or with `slow`
 * transformers' truncate_sequences. They differ only when both texts are
 * cut to an odd budget and the first is not the longer: the tokenizers
 * library gives the odd token to the longer text (the second on a tie),
 * transformers' Python code always to the first. */
static void truncate_pair(size_t *la, size_t *lb, size_t budget, int has_b, int slow)
{
    if (*la + *lb <= budget)
        return;
    if (!has_b) {
        *la = budget;
        return;
    }
    if (slow) {
        size_t remove = *la + *lb - budget;
        size_t diff = *la > *lb ? *la - *lb : *lb - *la;
        size_t first = diff < remove ? diff : remove, second = remove - first;
        if (*la > *lb) {
            *la -= first + second / 2;
            *lb -= second - second / 2;
        } else {
            *la -= second / 2;
            *lb -= first + second - second / 2;
        }
        return;
    }
    size_t n1 = *la, n2 = *lb;
    int swap = n1 > n2;
    if (swap) {
        size_t x = n1;
        n1 = n2;
        n2 = x;
    }
    if (n1 > budget)
        n2 = n1;
    else
        n2 = n1 > budget - n1 ? n1 : budget - n1;
    if (n1 + n2 > budget) {
        n1 = budget / 2;
        n2 = n1 + budget % 2;
    }
    *la = swap ? n2 : n1;
    *lb = swap ? n1 : n2;
}

QAT_API qat_status qat_tokenizer_encode_pair(const qat_tokenizer *tok, const char *text_a, size_t len_a,
                                             const char *text_b, size_t len_b, unsigned flags, size_t max_length,
                                             int32_t *ids, int32_t *type_ids, size_t capacity, size_t *count)
{
    QAT_CHECK_ARG(tok != NULL && count != NULL, "qat_tokenizer_encode_pair: NULL tokenizer or count");
    QAT_CHECK_ARG(text_a != NULL || len_a == 0, "qat_tokenizer_encode_pair: NULL text_a");
    QAT_CHECK_ARG(ids != NULL || capacity == 0, "qat_tokenizer_encode_pair: NULL ids with capacity %zu", capacity);
    QAT_CHECK_ARG((flags & ~(QAT_TOKENIZE_ADD_SPECIAL | QAT_TOKENIZE_SLOW_TRUNCATION)) == 0,
                  "qat_tokenizer_encode_pair: unknown flags 0x%x", flags);
    *count = 0;
    const int has_b = text_b != NULL;
    /* The layout: the pair template, or the single one (bos A eos). */
    qat_tok_pair_item single[3];
    const qat_tok_pair_item *items = tok->pair;
    int n_items = tok->n_pair;
    if (!has_b) {
        int32_t bos = tok->has_post ? tok->post_bos : tok->special[QAT_TOKEN_BOS];
        int32_t eos = tok->has_post ? tok->post_eos : tok->special[QAT_TOKEN_EOS];
        n_items = 0;
        if (bos >= 0)
            single[n_items++] = (qat_tok_pair_item){bos, 0};
        single[n_items++] = (qat_tok_pair_item){QAT_TOK_PAIR_A, 0};
        if (eos >= 0)
            single[n_items++] = (qat_tok_pair_item){eos, 0};
        items = single;
    }
    size_t n_special = 0;
    for (int i = 0; i < n_items; i++)
        n_special += items[i].id >= 0;
    if (max_length > 0 && max_length < n_special)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "qat_tokenizer_encode_pair: max_length %zu leaves no room for the "
                        "%zu special tokens", max_length, n_special);
    qat_tok_buf scratch = {0};
    qat_tok_ivec a = {0}, b = {0};
    qat_status st = qat_tok_encode_text(tok, text_a ? text_a : "", len_a, &scratch, &a);
    if (st == QAT_OK && has_b)
        st = qat_tok_encode_text(tok, text_b, len_b, &scratch, &b);
    if (st == QAT_OK) {
        size_t la = a.n, lb = b.n;
        if (max_length > 0)
            truncate_pair(&la, &lb, max_length - n_special, has_b, (flags & QAT_TOKENIZE_SLOW_TRUNCATION) != 0);
        size_t n = n_special + la + lb;
        *count = n;
        if (n > capacity) {
            st = qat_fail(QAT_ERR_BUFFER_TOO_SMALL, "qat_tokenizer_encode_pair: %zu ids do not fit in %zu", n,
                          capacity);
        } else {
            size_t at = 0;
            for (int i = 0; i < n_items; i++) {
                const int32_t *src = items[i].id == QAT_TOK_PAIR_A ? a.p : items[i].id == QAT_TOK_PAIR_B ? b.p : NULL;
                size_t len = items[i].id == QAT_TOK_PAIR_A ? la : items[i].id == QAT_TOK_PAIR_B ? lb : 1;
                for (size_t k = 0; k < len; k++, at++) {
                    ids[at] = src ? src[k] : items[i].id;
                    if (type_ids)
                        type_ids[at] = items[i].type_id;
                }
            }
        }
    }
    qat_tok_buf_free(&scratch);
    qat_tok_ivec_free(&a);
    qat_tok_ivec_free(&b);
    return st;
}
