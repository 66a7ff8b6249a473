/* Reads a SentencePiece ModelProto (.model file): pieces with score and
 * type, the trainer fields that change encoding (model type, byte fallback,
 * whitespace-as-suffix, unknown surface) and the normalizer spec. The
 * checks are those of SentencePiece's ModelInterface::InitializePieces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/pb.h"
#include "tokenizer/tokenizer_impl.h"

int qat_tok_piece_to_byte(const char *p, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>')
        return -1;
    const char *hi = memchr(hex, p[3], 16), *lo = memchr(hex, p[4], 16);
    if (!hi || !lo || !p[3] || !p[4])
        return -1;
    return (int)((hi - hex) * 16 + (lo - hex));
}

typedef struct spm_spec {
    int model_type;                /* 1 unigram, 2 bpe */
    int byte_fallback, ws_as_suffix;
    const uint8_t *unk_surface;
    size_t unk_surface_len;
    int has_unk_surface;
} spm_spec;

static qat_status parse_piece(qat_tokenizer *t, const qat_pb_reader *parent, const qat_pb_field *pf)
{
    qat_pb_reader r = qat_pb_sub(parent, pf, "SentencePiece");
    qat_pb_field f;
    int done;
    const uint8_t *piece = NULL;
    size_t piece_len = 0;
    float score = 0.0f;
    int type = QAT_TOK_NORMAL;
    for (;;) {
        QAT_TRY(qat_pb_next(&r, &f, &done));
        if (done)
            break;
        if (f.number == 1) {
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_LEN, "piece"));
            piece = f.data;
            piece_len = f.len;
        } else if (f.number == 2) {
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_I32, "score"));
            memcpy(&score, &f.fixed32, 4);
        } else if (f.number == 3) {
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_VARINT, "type"));
            if (f.varint < 1 || f.varint > 6)
                return qat_fail(QAT_ERR_FORMAT, "%s: piece %d: unknown type %llu at offset %zu (expected 1..6)",
                                r.file, t->vocab.n, (unsigned long long)f.varint, f.offset);
            type = (int)f.varint;
        }
    }
    if (!piece || piece_len == 0)
        return qat_fail(QAT_ERR_FORMAT, "%s: piece %d (offset %zu) is empty; pieces must not be empty", r.file,
                        t->vocab.n, pf->offset);
    return qat_tok_vocab_add(&t->vocab, (const char *)piece, piece_len, score, type, r.file);
}

static qat_status parse_trainer(spm_spec *spec, const qat_pb_reader *parent, const qat_pb_field *pf)
{
    qat_pb_reader r = qat_pb_sub(parent, pf, "TrainerSpec");
    qat_pb_field f;
    int done;
    for (;;) {
        QAT_TRY(qat_pb_next(&r, &f, &done));
        if (done)
            return QAT_OK;
        switch (f.number) {
        case 3:
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_VARINT, "model_type"));
            spec->model_type = (int)(f.varint > 100 ? 100 : f.varint);
            break;
        case 24:
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_VARINT, "treat_whitespace_as_suffix"));
            spec->ws_as_suffix = f.varint != 0;
            break;
        case 35:
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_VARINT, "byte_fallback"));
            spec->byte_fallback = f.varint != 0;
            break;
        case 44:
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_LEN, "unk_surface"));
            spec->unk_surface = f.data;
            spec->unk_surface_len = f.len;
            spec->has_unk_surface = 1;
            break;
        default:
            break;
        }
    }
}

static qat_status parse_normalizer(qat_tokenizer *t, const qat_pb_reader *parent, const qat_pb_field *pf)
{
    qat_pb_reader r = qat_pb_sub(parent, pf, "NormalizerSpec");
    qat_pb_field f;
    int done;
    qat_tok_spm_norm *n = &t->spm_norm;
    for (;;) {
        QAT_TRY(qat_pb_next(&r, &f, &done));
        if (done)
            return QAT_OK;
        switch (f.number) {
        case 2:
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_LEN, "precompiled_charsmap"));
            if (n->has_map) {
                qat_tok_charsmap_free(&n->map);
                n->has_map = 0;
            }
            if (f.len) {
                char where[600];
                snprintf(where, sizeof where, "%s: NormalizerSpec.precompiled_charsmap (offset %zu)", r.file,
                         f.offset);
                QAT_TRY(qat_tok_charsmap_parse(&n->map, f.data, f.len, where));
                n->has_map = 1;
            }
            break;
        case 3:
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_VARINT, "add_dummy_prefix"));
            n->add_dummy_prefix = f.varint != 0;
            break;
        case 4:
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_VARINT, "remove_extra_whitespaces"));
            n->remove_extra_ws = f.varint != 0;
            break;
        case 5:
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_VARINT, "escape_whitespaces"));
            n->escape_ws = f.varint != 0;
            break;
        default:
            break;
        }
    }
}

/* Builds the lookup structures from the pieces (InitializePieces). */
static qat_status init_pieces(qat_tokenizer *t, const spm_spec *spec, const char *file)
{
    qat_tok_vocab *v = &t->vocab;
    if (v->n == 0)
        return qat_fail(QAT_ERR_FORMAT, "%s: ModelProto has no pieces", file);
    QAT_TRY(qat_tok_vocab_finish(v));
    QAT_TRY(qat_tok_trie_init(&t->pieces_trie));
    QAT_TRY(qat_tok_trie_init(&t->user_trie));
    t->unk_id = -1;
    for (int i = 0; i < 256; i++)
        t->byte_id[i] = -1;
    t->min_score = 3.402823466e+38f; /* FLT_MAX, FLT_MIN as SentencePiece starts */
    t->max_score = 1.175494351e-38f;
    int n_bytes = 0;
    for (int32_t id = 0; id < v->n; id++) {
        size_t len;
        const char *p = qat_tok_vocab_piece(v, id, &len);
        int type = v->type[id];
        if (type == QAT_TOK_NORMAL) {
            if (v->score[id] < t->min_score)
                t->min_score = v->score[id];
            if (v->score[id] > t->max_score)
                t->max_score = v->score[id];
        }
        if (type == QAT_TOK_NORMAL || type == QAT_TOK_USER_DEFINED || type == QAT_TOK_UNUSED)
            QAT_TRY(qat_tok_trie_insert(&t->pieces_trie, p, len, id));
        if (type == QAT_TOK_USER_DEFINED) {
            QAT_TRY(qat_tok_trie_insert(&t->user_trie, p, len, id));
            t->has_user = 1;
        }
        if (type == QAT_TOK_UNKNOWN) {
            if (t->unk_id >= 0)
                return qat_fail(QAT_ERR_FORMAT, "%s: piece %d: unk is already defined (piece %d)", file, id,
                                t->unk_id);
            t->unk_id = id;
        }
        if (type == QAT_TOK_BYTE) {
            if (!spec->byte_fallback)
                return qat_fail(QAT_ERR_FORMAT, "%s: byte piece %d '%.*s' is found although byte_fallback is false",
                                file, id, (int)(len > 32 ? 32 : len), p);
            int b = qat_tok_piece_to_byte(p, len);
            if (b < 0)
                return qat_fail(QAT_ERR_FORMAT, "%s: byte piece %d '%.*s' is invalid (expected <0xXX>)", file, id,
                                (int)(len > 32 ? 32 : len), p);
            if (t->byte_id[b] < 0)
                n_bytes++;
            t->byte_id[b] = id;
        }
    }
    if (t->unk_id < 0)
        return qat_fail(QAT_ERR_FORMAT, "%s: unk is not defined (no piece of type UNKNOWN)", file);
    if (spec->byte_fallback && n_bytes != 256)
        return qat_fail(QAT_ERR_FORMAT, "%s: there are %d byte pieces, not 256, although byte_fallback is true",
                        file, n_bytes);
    t->byte_fallback = spec->byte_fallback;
    return QAT_OK;
}

/* SentencePiece's bos_id() etc.: the id of the named piece if it is a
 * control (or, for <unk>, the unknown) piece. */
static int32_t control_id(const qat_tokenizer *t, const char *piece)
{
    int32_t id = qat_tok_vocab_find(&t->vocab, piece, strlen(piece));
    if (id >= 0 && (t->vocab.type[id] == QAT_TOK_CONTROL || t->vocab.type[id] == QAT_TOK_USER_DEFINED))
        return id;
    return -1;
}

qat_status qat_tok_load_spm(qat_tokenizer *t, const uint8_t *data, size_t size, const char *where)
{
    qat_pb_reader r = {data, data, data + size, "ModelProto", where};
    qat_pb_field f;
    int done;
    spm_spec spec = {1, 0, 0, NULL, 0, 0};
    /* NormalizerSpec defaults: add_dummy_prefix, remove_extra_whitespaces
     * and escape_whitespaces are all true. */
    t->spm_norm.add_dummy_prefix = t->spm_norm.remove_extra_ws = t->spm_norm.escape_ws = 1;
    int seen_normalizer = 0;
    for (;;) {
        QAT_TRY(qat_pb_next(&r, &f, &done));
        if (done)
            break;
        switch (f.number) {
        case 1:
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_LEN, "pieces"));
            QAT_TRY(parse_piece(t, &r, &f));
            break;
        case 2:
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_LEN, "trainer_spec"));
            QAT_TRY(parse_trainer(&spec, &r, &f));
            break;
        case 3:
            QAT_TRY(qat_pb_expect(&r, &f, QAT_PB_LEN, "normalizer_spec"));
            QAT_TRY(parse_normalizer(t, &r, &f));
            seen_normalizer = 1;
            break;
        default:
            break; /* self_test_data, denormalizer_spec: not needed to encode */
        }
    }
    (void)seen_normalizer;
    if (spec.model_type == 1)
        t->algo = QAT_TOK_ALGO_UNIGRAM;
    else if (spec.model_type == 2)
        t->algo = QAT_TOK_ALGO_BPE;
    else
        return qat_fail(QAT_ERR_UNSUPPORTED,
                        "%s: TrainerSpec.model_type %d is not supported (1 = UNIGRAM and 2 = BPE are; WORD and "
                        "CHAR are not)",
                        where, spec.model_type);
    QAT_TRY(init_pieces(t, &spec, where));
    t->is_spm = 1;
    t->fuse_unk = 1;
    t->spm_norm.ws_as_suffix = spec.ws_as_suffix;
    t->spm_norm.user = t->has_user ? &t->user_trie : NULL;
    const char *surface = " \xE2\x81\x87 ";
    size_t surface_len = strlen(surface);
    if (spec.has_unk_surface) {
        surface = (const char *)spec.unk_surface;
        surface_len = spec.unk_surface_len;
    }
    t->unk_surface = malloc(surface_len + 1);
    if (!t->unk_surface)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    memcpy(t->unk_surface, surface, surface_len);
    t->unk_surface[surface_len] = '\0';
    snprintf(t->kind_name, sizeof t->kind_name, "sentencepiece-%s",
             t->algo == QAT_TOK_ALGO_UNIGRAM ? "unigram" : "bpe");
    t->n_ids = t->vocab.n;
    t->special[QAT_TOKEN_UNK] = t->unk_id;
    t->special[QAT_TOKEN_BOS] = control_id(t, "<s>");
    t->special[QAT_TOKEN_EOS] = control_id(t, "</s>");
    t->special[QAT_TOKEN_PAD] = control_id(t, "<pad>");
    t->special[QAT_TOKEN_MASK] = control_id(t, "<mask>");
    return QAT_OK;
}
