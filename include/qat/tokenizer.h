/*
 * libqat — tokenizers: SentencePiece models (unigram and BPE, with their
 * precompiled normalization and byte fallback), HF tokenizer.json (Unigram,
 * BPE, WordPiece), BERT's vocab.txt, and HF checkpoint directories with the
 * id conventions of their model type (CamemBERT's fairseq offset of 4,
 * XLM-R's offset of 1).
 *
 * Ownership: qat_tokenizer_load() creates a tokenizer that the caller
 *   releases with qat_tokenizer_free(). It borrows nothing: the files may be
 *   removed once it returns.
 * Thread-safety: a tokenizer is immutable after load. Every function taking
 *   a `const qat_tokenizer *` may run concurrently on the same tokenizer
 *   from any number of threads (each call keeps its scratch memory to
 *   itself). Only qat_tokenizer_free() needs exclusive access.
 * Buffers: functions writing ids or text take the caller's buffer and its
 *   capacity. When it is too short they return QAT_ERR_BUFFER_TOO_SMALL and
 *   report the size needed (ids, or bytes including the NUL) through the
 *   size out-parameter; calling with capacity 0 (buffer may be NULL) is the
 *   way to ask for the size.
 */
#ifndef QAT_TOKENIZER_H
#define QAT_TOKENIZER_H

#include "qat/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Special tokens, for qat_tokenizer_special_id(). BOS is also CLS (<s>,
 * [CLS]), EOS is also SEP (</s>, [SEP]). */
typedef enum qat_token_special {
    QAT_TOKEN_PAD = 0,
    QAT_TOKEN_UNK = 1,
    QAT_TOKEN_BOS = 2,
    QAT_TOKEN_EOS = 3,
    QAT_TOKEN_MASK = 4,
    QAT_TOKEN_SPECIAL_COUNT = 5
} qat_token_special;

/* Flags of qat_tokenizer_encode_words(). */
#define QAT_TOKENIZE_ADD_SPECIAL 1u /* <s> ... </s> or [CLS] ... [SEP] (a tokenizer.json's post-processor) */
/* Flag of qat_tokenizer_encode_pair(): truncate as transformers' Python
 * ("slow") tokenizers do rather than as the tokenizers library does. */
#define QAT_TOKENIZE_SLOW_TRUNCATION 2u

/* Loads a tokenizer from `path`, which is one of:
 *  - a SentencePiece model (`*.model`): ids are SentencePiece's own;
 *  - an HF `tokenizer.json` (models BPE, Unigram, WordPiece; normalizers
 *    BertNormalizer, Lowercase, NFD, StripAccents, Precompiled, Replace,
 *    Strip, Prepend; pre-tokenizers BertPreTokenizer, WhitespaceSplit,
 *    Metaspace, ByteLevel; added tokens; Roberta/Bert/Template
 *    post-processors): ids are those of the `tokenizers` library;
 *  - a BERT `vocab.txt` (WordPiece with BERT's lowercasing pipeline);
 *  - an HF checkpoint directory: tokenizer.json when present; else, for
 *    config.json `model_type` camembert / xlm-roberta, sentencepiece.bpe.model
 *    with the fairseq id convention (camembert: offset 4 and <mask> last;
 *    xlm-roberta: offset 1); else vocab.txt (do_lower_case, strip_accents,
 *    tokenize_chinese_chars from tokenizer_config.json).
 * Fails with QAT_ERR_IO, QAT_ERR_FORMAT (naming the file, the field and
 * the offset or JSON path) or QAT_ERR_UNSUPPORTED (naming the unsupported
 * component, e.g. a tokenizer.json normalizer). */
QAT_API qat_status qat_tokenizer_load(const char *path, qat_tokenizer **out);
QAT_API void qat_tokenizer_free(qat_tokenizer *tok);

/* Encodes `len` bytes of UTF-8 text (invalid bytes are handled as
 * SentencePiece does: each becomes U+FFFD) into ids, without the
 * post-processor's special tokens (added tokens written in the text, such
 * as <mask> or [MASK], do become their ids with a tokenizer.json or
 * vocab.txt). *count receives the number of ids written, or needed. */
QAT_API qat_status qat_tokenizer_encode(const qat_tokenizer *tok, const char *text, size_t len, int32_t *ids,
                                        size_t capacity, size_t *count);

/* Encodes pre-split words (CoNLL tokens) exactly as HF tokenizers do with
 * is_split_into_words=True: word_index[i] is the index of the word that
 * sub-token i belongs to, -1 for special tokens. `words` are NUL-terminated
 * unless word_lens is given. With QAT_TOKENIZE_ADD_SPECIAL the sequence is
 * wrapped in the model's <s>/</s> or [CLS]/[SEP]. max_length > 0 truncates
 * the sub-tokens so that the whole sequence, specials included, holds at
 * most max_length ids (0 = no limit). word_index may be NULL. *count
 * receives the number of ids written, or needed. */
QAT_API qat_status qat_tokenizer_encode_words(const qat_tokenizer *tok, const char *const *words,
                                              const size_t *word_lens, size_t n_words, unsigned flags,
                                              size_t max_length, int32_t *ids, int32_t *word_index,
                                              size_t capacity, size_t *count);

/* Encodes one text (text_b NULL) or a pair of texts for sequence
 * classification, as HF's tokenizer(text_a, text_b, truncation=True,
 * max_length=...) does, with the model's special tokens always added:
 *   RoBERTa / CamemBERT / XLM-R: <s> A </s> and <s> A </s></s> B </s>,
 *     every token type id 0;
 *   BERT: [CLS] A [SEP] and [CLS] A [SEP] B [SEP], type id 0 up to the
 *     first [SEP], 1 for B and the final [SEP];
 *   a tokenizer.json's TemplateProcessing: its "pair" template, with its
 *     type ids (single texts: type 0).
 * A tokenizer without a post-processor uses BERT's layout when it is
 * WordPiece or its BOS is [CLS], RoBERTa's otherwise.
 * max_length > 0 truncates the texts (never the special tokens) so that
 * the whole holds at most max_length ids, with HF's `longest_first`
 * strategy: a single text loses its last tokens; of a pair, the longer
 * text is cut first down to the length of the shorter, then both alike.
 * By default the budget is shared as the tokenizers library (fast
 * tokenizers, AutoTokenizer's default) shares it: when both texts are cut
 * and the budget is odd, the odd token goes to the text that was longer,
 * to the second on a tie. With QAT_TOKENIZE_SLOW_TRUNCATION it always goes
 * to the first text, as transformers' Python tokenizers (CamembertTokenizer,
 * BertTokenizer...) do. max_length smaller than the special tokens fails
 * with QAT_ERR_INVALID_ARGUMENT. flags: 0, QAT_TOKENIZE_ADD_SPECIAL
 * (implied) and/or QAT_TOKENIZE_SLOW_TRUNCATION. type_ids may be NULL.
 * *count receives the number of ids written, or needed. */
QAT_API qat_status qat_tokenizer_encode_pair(const qat_tokenizer *tok, const char *text_a, size_t len_a,
                                             const char *text_b, size_t len_b, unsigned flags, size_t max_length,
                                             int32_t *ids, int32_t *type_ids, size_t capacity, size_t *count);

/* Decodes ids into UTF-8 text (NUL-terminated). Special tokens of an HF
 * checkpoint and SentencePiece control pieces are skipped. *needed receives
 * the bytes needed, NUL included (may be NULL). Out-of-range ids fail with
 * QAT_ERR_INVALID_ARGUMENT. */
QAT_API qat_status qat_tokenizer_decode(const qat_tokenizer *tok, const int32_t *ids, size_t n, char *text,
                                        size_t capacity, size_t *needed);

/* Number of ids (ids are 0 .. size-1). */
QAT_API qat_status qat_tokenizer_vocab_size(const qat_tokenizer *tok, size_t *size);
/* The id of a special token, or -1 where the tokenizer has none. */
QAT_API qat_status qat_tokenizer_special_id(const qat_tokenizer *tok, qat_token_special which, int32_t *id);
/* Id of a piece (its exact bytes, e.g. "▁le", "##ing"); QAT_ERR_NOT_FOUND
 * if the vocabulary lacks it. */
QAT_API qat_status qat_tokenizer_piece_to_id(const qat_tokenizer *tok, const char *piece, size_t len,
                                             int32_t *id);
/* The piece of an id, NUL-terminated; *needed as for decode. */
QAT_API qat_status qat_tokenizer_id_to_piece(const qat_tokenizer *tok, int32_t id, char *piece,
                                             size_t capacity, size_t *needed);
/* The name of the algorithm and source (valid while tok lives), e.g. "sentencepiece-unigram",
 * "sentencepiece-bpe", "json-unigram", "json-bpe", "wordpiece". */
QAT_API qat_status qat_tokenizer_kind(const qat_tokenizer *tok, const char **name);

/* Writes the file the tokenizer was loaded from into `dir` (created if
 * needed), as save_pretrained does next to a model's weights:
 * tokenizer.json, vocab.txt (with a tokenizer_config.json holding its
 * lowercasing flags), sentencepiece.bpe.model (with a tokenizer_config.json
 * naming CamembertTokenizer or XLMRobertaTokenizer, whose fairseq ids it
 * uses) or spiece.model (a SentencePiece model with its own ids). Tokenizer
 * files of another kind already in `dir` are removed, so that
 * qat_tokenizer_load(dir) reads back the same ids. Files are written
 * atomically. */
QAT_API qat_status qat_tokenizer_save(const qat_tokenizer *tok, const char *dir);

#ifdef __cplusplus
}
#endif

#endif /* QAT_TOKENIZER_H */
