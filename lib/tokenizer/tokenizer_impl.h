/* The tokenizer object shared by the loaders (SentencePiece .model,
 * tokenizer.json, vocab.txt, HF directories) and the encoders. It is
 * immutable after load: encoders keep their scratch memory per call, so
 * concurrent encodes on one tokenizer are safe. */
#ifndef QAT_TOK_IMPL_H
#define QAT_TOK_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "qat/tokenizer.h"
#include "tokenizer/spm_norm.h"
#include "tokenizer/tok_util.h"
#include "tokenizer/vocab.h"

typedef enum qat_tok_algo {
    QAT_TOK_ALGO_UNIGRAM = 1,
    QAT_TOK_ALGO_BPE = 2,
    QAT_TOK_ALGO_WORDPIECE = 3
} qat_tok_algo;

/* How the model's own ids relate to the ids the checkpoint uses. */
typedef enum qat_tok_idmap {
    QAT_TOK_MAP_NONE = 0,
    QAT_TOK_MAP_CAMEMBERT = 1, /* fairseq: +4, spm <unk> -> 3, <mask> last */
    QAT_TOK_MAP_XLMR = 2       /* fairseq: +1, spm <unk> -> 3, <mask> last */
} qat_tok_idmap;

/* What kind of file a tokenizer was loaded from. */
typedef enum qat_tok_source {
    QAT_TOK_SOURCE_SPM = 1,       /* a SentencePiece .model */
    QAT_TOK_SOURCE_JSON = 2,      /* an HF tokenizer.json */
    QAT_TOK_SOURCE_VOCAB_TXT = 3  /* a BERT vocab.txt */
} qat_tok_source;

/* Steps of a tokenizer.json pipeline that libqat implements. */
typedef enum qat_tok_norm_kind {
    QAT_TOK_N_PRECOMPILED = 1,
    QAT_TOK_N_REPLACE,        /* literal, or one char repeated >= min times */
    QAT_TOK_N_STRIP,
    QAT_TOK_N_LOWERCASE,
    QAT_TOK_N_NFD,
    QAT_TOK_N_STRIP_ACCENTS,
    QAT_TOK_N_BERT,
    QAT_TOK_N_PREPEND
} qat_tok_norm_kind;

typedef struct qat_tok_norm_step {
    qat_tok_norm_kind kind;
    qat_tok_charsmap map;     /* PRECOMPILED */
    char *pattern, *content;  /* REPLACE (pattern), PREPEND (content) */
    size_t pattern_len, content_len;
    int repeat_min;           /* REPLACE: 0 = literal pattern */
    int left, right;          /* STRIP */
    int clean_text, chinese, strip_accents, lowercase; /* BERT */
} qat_tok_norm_step;

typedef enum qat_tok_pre_kind {
    QAT_TOK_P_METASPACE = 1,
    QAT_TOK_P_WHITESPACE_SPLIT,
    QAT_TOK_P_BERT,
    QAT_TOK_P_BYTELEVEL
} qat_tok_pre_kind;

/* How ids become text again (the tokenizer.json decoder). */
typedef enum qat_tok_decoder {
    QAT_TOK_DEC_SPM = 0,      /* `▁` -> space, first one dropped, <0xXX> bytes */
    QAT_TOK_DEC_WORDPIECE,    /* "##" glues to the previous piece, else a space */
    QAT_TOK_DEC_BYTELEVEL,    /* GPT-2's byte-to-unicode table reversed */
    QAT_TOK_DEC_CONCAT        /* pieces as they are */
} qat_tok_decoder;

/* An HF added token, split out of the raw text before the pipeline runs. */
typedef struct qat_tok_added {
    int32_t id;
    int lstrip, rstrip, single_word, special;
} qat_tok_added;

/* One item of a post-processor's pair template: a special token id (>= 0)
 * or one of the two texts, with its token type id. */
#define QAT_TOK_PAIR_A (-1)
#define QAT_TOK_PAIR_B (-2)
#define QAT_TOK_PAIR_MAX 8
typedef struct qat_tok_pair_item {
    int32_t id;
    int32_t type_id;
} qat_tok_pair_item;

typedef struct qat_tok_pre_step {
    qat_tok_pre_kind kind;
    char replacement[8];      /* METASPACE */
    size_t replacement_len;
    int prepend;              /* METASPACE: 0 never, 1 always, 2 first */
    int split;
    int add_prefix_space;     /* BYTELEVEL */
    int use_regex;            /* BYTELEVEL: GPT-2's split pattern */
} qat_tok_pre_step;

struct qat_tokenizer {
    qat_tok_algo algo;
    char kind_name[48];       /* "sentencepiece-unigram", "wordpiece"... */
    qat_tok_vocab vocab;      /* the model's pieces, by model id */
    int32_t unk_id;           /* model id of the unknown piece, or -1 */
    int byte_fallback;
    int32_t byte_id[256];     /* model id of <0xXX>, or -1 */

    /* SentencePiece model (.model, or a tokenizer.json in its image). */
    int is_spm;
    qat_tok_spm_norm spm_norm;
    qat_tok_trie pieces_trie; /* unigram: NORMAL/USER_DEFINED/UNUSED pieces */
    qat_tok_trie user_trie;   /* user-defined symbols */
    int has_user;
    float min_score, max_score;
    char *unk_surface;

    /* tokenizer.json pipeline (is_spm == 0, algo != WORDPIECE or json). */
    qat_tok_norm_step *norms;
    int n_norms;
    qat_tok_pre_step *pres;
    int n_pres;
    int fuse_unk;
    char *cont_prefix;        /* BPE continuing_subword_prefix / WordPiece "##" */
    size_t cont_prefix_len;
    char *eow_suffix;         /* BPE end_of_word_suffix */
    size_t eow_suffix_len;
    int max_word_chars;       /* WordPiece max_input_chars_per_word */
    /* HF BPE merges: open-addressed (left id, right id) -> rank, merged id */
    uint64_t *merge_keys;
    int32_t *merge_rank, *merge_id;
    size_t merge_cap;
    qat_tok_trie cont_trie;   /* WordPiece: continuation pieces, prefix removed */
    int decoder_metaspace;    /* decode: "▁" -> " " and strip the first */
    qat_tok_decoder decoder;
    double *dscore;           /* HF Unigram: scores as the JSON gives them */
    double dmin_score;
    int ignore_merges;        /* HF BPE: a word in the vocabulary is kept whole */
    int drop_unk;             /* HF BPE without unk_token: unknown chars vanish */
    /* HF added tokens: trie of their contents -> index into `added` */
    qat_tok_added *added;
    int n_added;
    qat_tok_trie added_trie;
    /* post-processor: ids around a single sequence (-1 = none) */
    int has_post;
    int32_t post_bos, post_eos;
    /* ... and around a pair (TemplateProcessing's "pair", or the layout
     * of RobertaProcessing / BertProcessing); n_pair = 0 until set, then
     * qat_tok_pair_default fills it from the specials. */
    qat_tok_pair_item pair[QAT_TOK_PAIR_MAX];
    int n_pair;

    /* The file it was loaded from, kept whole so that qat_tokenizer_save
     * writes it again (a model directory then carries its tokenizer). */
    qat_tok_source source_kind;
    char *source;
    size_t source_size;
    int vocab_lowercase, vocab_strip_accents, vocab_chinese; /* VOCAB_TXT: BertTokenizer's flags */

    /* id convention of the checkpoint */
    qat_tok_idmap idmap;
    int32_t n_ids;            /* ids the checkpoint uses: 0 .. n_ids-1 */
    int32_t special[QAT_TOKEN_SPECIAL_COUNT];
};

/* Loaders (fill a zeroed tokenizer; the caller frees it on failure). */
qat_status qat_tok_load_spm(qat_tokenizer *t, const uint8_t *data, size_t size, const char *where);
qat_status qat_tok_load_json(qat_tokenizer *t, const char *text, size_t size, const char *where);
qat_status qat_tok_load_vocab_txt(qat_tokenizer *t, const char *text, size_t size, const char *where,
                                  int lowercase, int strip_accents, int chinese);
void qat_tok_clear(qat_tokenizer *t);

/* Encoders of one piece of text into model ids (appended to out). */
qat_status qat_tok_spm_encode(const qat_tokenizer *t, const char *text, size_t len, qat_tok_buf *scratch,
                              qat_tok_ivec *out);
qat_status qat_tok_json_encode(const qat_tokenizer *t, const char *text, size_t len, qat_tok_buf *scratch,
                               qat_tok_ivec *out);

/* Model-level encoders over one pre-tokenized, normalized word. */
/* SentencePiece's EncodeOptimized (float scores, user-defined and unused
 * pieces' rules). */
qat_status qat_tok_unigram(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out);
qat_status qat_tok_bpe_spm(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out);
qat_status qat_tok_bpe_hf(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out);
qat_status qat_tok_wordpiece(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out);
/* tokenizers' Unigram::encode_optimized (double scores, all pieces). */
qat_status qat_tok_unigram_hf(const qat_tokenizer *t, const char *s, size_t len, qat_tok_ivec *out);

/* tokenizer.json pipeline steps (json_norm.c, json_pretok.c). `in` and
 * `out` are distinct buffers; `at_start` = the segment starts the text. */
qat_status qat_tok_json_normalize(const qat_tokenizer *t, const char *s, size_t len, qat_tok_buf *out,
                                  qat_tok_buf *tmp);
/* Pre-tokenizes text (replaced by its transformed form) into words:
 * spans holds (start, length) pairs into text. */
qat_status qat_tok_json_pretokenize(const qat_tokenizer *t, qat_tok_buf *text, qat_tok_buf *tmp,
                                    qat_tok_ivec *spans, int at_start);
/* GPT-2's byte -> code point table (bytes_to_unicode), and its reverse
 * (code point -> byte, or -1). */
uint32_t qat_tok_byte_to_unicode(unsigned char b);
int qat_tok_unicode_to_byte(uint32_t cp);
/* Sets up a BERT WordPiece pipeline over a filled vocabulary (vocab.txt, or
 * defaults for a tokenizer.json WordPiece). */
qat_status qat_tok_wordpiece_finish(qat_tokenizer *t, const char *unk, int max_chars, const char *where);

/* SentencePiece's handling of unknown pieces: with byte fallback, one
 * <0xXX> per byte; without, consecutive unknowns fused into one. `unk` is
 * a span of the normalized text; out receives model ids. */
qat_status qat_tok_emit_unk(const qat_tokenizer *t, const char *s, size_t len, int prev_was_unk,
                            qat_tok_ivec *out);

/* Encodes text into the checkpoint's ids (appended to out). */
qat_status qat_tok_encode_text(const qat_tokenizer *t, const char *text, size_t len, qat_tok_buf *scratch,
                               qat_tok_ivec *out);
/* The pair layouts implied by RobertaProcessing (<s> A </s></s> B </s>, all
 * type 0) and BertProcessing ([CLS] A [SEP] B [SEP], B and its [SEP] type 1). */
void qat_tok_pair_roberta(qat_tokenizer *t, int32_t cls, int32_t sep);
void qat_tok_pair_bert(qat_tokenizer *t, int32_t cls, int32_t sep);
/* Sets the pair layout where the loader gave none: BERT's when the
 * tokenizer is WordPiece or its first special is [CLS], else RoBERTa's. */
void qat_tok_pair_default(qat_tokenizer *t);

/* Decoding of model ids into text. */
qat_status qat_tok_decode_model(const qat_tokenizer *t, const int32_t *ids, size_t n, qat_tok_buf *out);

/* Parses "<0xAB>" into 0xAB, or -1. */
int qat_tok_piece_to_byte(const char *p, size_t len);

#endif
