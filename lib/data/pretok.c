/* The resumable pre-tokenization stage (see pretok.h for the format). */
#include "data/pretok.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"
#include "data/shards.h"

typedef struct ivec {
    int32_t *v;
    size_t n, cap;
} ivec;

static qat_status ivec_reserve(ivec *a, size_t need)
{
    if (need <= a->cap)
        return QAT_OK;
    size_t cap = a->cap ? a->cap : 1024;
    while (cap < need)
        cap *= 2;
    int32_t *p = realloc(a->v, cap * sizeof *p);
    if (!p)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "pretokenize: out of memory");
    a->v = p;
    a->cap = cap;
    return QAT_OK;
}

typedef struct stage {
    const qat_data_pretok_options *opt;
    uint32_t token_bytes;
    char *manifest_path;
    json_object *shards;      /* array of committed shards */
    qat_data_corpus_pos pos;  /* after the last record consumed */
    ivec carry;               /* encoded, not yet in a committed shard */
    ivec seqs;                /* sequences of the shard being filled */
    ivec scratch;             /* encoder output */
    uint64_t records, sequences, tokens, dropped;
} stage;

void qat_data_pretok_options_init(qat_data_pretok_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->seq_len = 512;
    opt->seqs_per_shard = 16384;
    opt->bos_id = 0;
    opt->eos_id = 2;
    qat_data_corpus_options_init(&opt->corpus);
}

static size_t max_chars(const qat_data_pretok_options *o)
{
    return o->corpus.max_chars ? o->corpus.max_chars : QAT_DATA_MAX_CHARS_DEFAULT;
}

static qat_status write_manifest(stage *s, int done)
{
    const qat_data_pretok_options *o = s->opt;
    json_object *m = json_object_new_object();
    json_object_object_add(m, "format", json_object_new_string("qat-token-shards"));
    json_object_object_add(m, "version", json_object_new_int(1));
    json_object_object_add(m, "source", json_object_new_string(o->corpus_path));
    json_object_object_add(m, "tokenizer", json_object_new_string(o->tokenizer_id ? o->tokenizer_id : ""));
    json_object_object_add(m, "vocab_size", json_object_new_int64(o->vocab_size));
    json_object_object_add(m, "bos_id", json_object_new_int(o->bos_id));
    json_object_object_add(m, "eos_id", json_object_new_int(o->eos_id));
    json_object_object_add(m, "seq_len", json_object_new_int64(o->seq_len));
    json_object_object_add(m, "token_bytes", json_object_new_int64(s->token_bytes));
    json_object_object_add(m, "seqs_per_shard", json_object_new_int64(o->seqs_per_shard));
    json_object_object_add(m, "max_chars", json_object_new_int64((int64_t)max_chars(o)));
    json_object_object_add(m, "utf8", json_object_new_string(o->corpus.utf8 == QAT_DATA_UTF8_ERROR ? "error"
                                                                                                   : "replace"));
    json_object_object_add(m, "shards", json_object_get(s->shards));
    json_object *pos = json_object_new_object();
    json_object_object_add(pos, "offset", json_object_new_int64((int64_t)s->pos.offset));
    json_object_object_add(pos, "line", json_object_new_int64((int64_t)s->pos.line));
    json_object_object_add(pos, "segment", json_object_new_int64((int64_t)s->pos.segment));
    json_object_object_add(m, "position", pos);
    json_object *carry = json_object_new_array_ext((int)s->carry.n);
    for (size_t i = 0; i < s->carry.n; i++)
        json_object_array_add(carry, json_object_new_int(s->carry.v[i]));
    json_object_object_add(m, "carry", carry);
    json_object_object_add(m, "records", json_object_new_int64((int64_t)s->records));
    json_object_object_add(m, "sequences", json_object_new_int64((int64_t)s->sequences));
    json_object_object_add(m, "tokens", json_object_new_int64((int64_t)s->tokens));
    json_object_object_add(m, "dropped_tail_tokens", json_object_new_int64((int64_t)s->dropped));
    json_object_object_add(m, "done", json_object_new_boolean(done));
    const char *text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN);
    qat_status st = qat_file_write_atomic(s->manifest_path, text, strlen(text));
    json_object_put(m);
    return st;
}

static int get_i64(json_object *o, const char *key, int64_t *v)
{
    json_object *x;
    if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_int))
        return 0;
    *v = json_object_get_int64(x);
    return 1;
}

/* Loads an existing manifest. Returns QAT_OK with *found = 0 when there is
 * none; fails when it exists but was made with other settings. */
static qat_status load_manifest(stage *s, int *found, int *done)
{
    const qat_data_pretok_options *o = s->opt;
    *found = 0;
    *done = 0;
    if (access(s->manifest_path, F_OK) != 0)
        return QAT_OK;
    json_object *m = json_object_from_file(s->manifest_path);
    if (!m)
        return qat_fail(QAT_ERR_FORMAT, "pretokenize: cannot parse %s (%s); remove it to start over",
                        s->manifest_path, json_util_get_last_err());
    qat_status st = QAT_OK;
    int64_t seq_len = 0, vocab = 0, bos = 0, eos = 0, per = 0, mc = 0, tb = 0;
    json_object *src, *tok, *shards, *pos, *carry, *dn, *utf8;
    int ok = get_i64(m, "seq_len", &seq_len) && get_i64(m, "vocab_size", &vocab) && get_i64(m, "bos_id", &bos) &&
             get_i64(m, "eos_id", &eos) && get_i64(m, "seqs_per_shard", &per) && get_i64(m, "max_chars", &mc) &&
             get_i64(m, "token_bytes", &tb) && json_object_object_get_ex(m, "source", &src) &&
             json_object_object_get_ex(m, "tokenizer", &tok) && json_object_object_get_ex(m, "shards", &shards) &&
             json_object_is_type(shards, json_type_array) && json_object_object_get_ex(m, "position", &pos) &&
             json_object_object_get_ex(m, "carry", &carry) && json_object_is_type(carry, json_type_array) &&
             json_object_object_get_ex(m, "done", &dn) && json_object_object_get_ex(m, "utf8", &utf8);
    if (!ok) {
        st = qat_fail(QAT_ERR_FORMAT, "pretokenize: %s lacks fields of a token-shard manifest", s->manifest_path);
        goto out;
    }
    const char *want_tok = o->tokenizer_id ? o->tokenizer_id : "";
    const char *want_utf8 = o->corpus.utf8 == QAT_DATA_UTF8_ERROR ? "error" : "replace";
    if (seq_len != o->seq_len || vocab != o->vocab_size || bos != o->bos_id || eos != o->eos_id ||
        per != o->seqs_per_shard || mc != (int64_t)max_chars(o) || tb != s->token_bytes ||
        strcmp(json_object_get_string(src), o->corpus_path) != 0 ||
        strcmp(json_object_get_string(tok), want_tok) != 0 || strcmp(json_object_get_string(utf8), want_utf8) != 0) {
        st = qat_fail(QAT_ERR_STATE,
                      "pretokenize: %s was made with other settings (source %s, tokenizer '%s', vocab %lld, "
                      "seq_len %lld, <s>/</s> %lld/%lld, %lld sequences per shard, max_chars %lld); "
                      "use another folder or remove it",
                      s->manifest_path, json_object_get_string(src), json_object_get_string(tok), (long long)vocab,
                      (long long)seq_len, (long long)bos, (long long)eos, (long long)per, (long long)mc);
        goto out;
    }
    int64_t off = 0, line = 0, seg = 0, rec = 0, seqs = 0, toks = 0, drop = 0;
    if (!get_i64(pos, "offset", &off) || !get_i64(pos, "line", &line) || !get_i64(pos, "segment", &seg) ||
        !get_i64(m, "records", &rec) || !get_i64(m, "sequences", &seqs) || !get_i64(m, "tokens", &toks) ||
        !get_i64(m, "dropped_tail_tokens", &drop) || off < 0 || line < 0 || seg < 0) {
        st = qat_fail(QAT_ERR_FORMAT, "pretokenize: %s has a malformed position", s->manifest_path);
        goto out;
    }
    s->pos = (qat_data_corpus_pos){(uint64_t)off, (uint64_t)line, (uint64_t)seg};
    s->records = (uint64_t)rec;
    s->sequences = (uint64_t)seqs;
    s->tokens = (uint64_t)toks;
    s->dropped = (uint64_t)drop;
    size_t nc = json_object_array_length(carry);
    st = ivec_reserve(&s->carry, nc);
    if (st != QAT_OK)
        goto out;
    for (size_t i = 0; i < nc; i++) {
        int64_t v = json_object_get_int64(json_object_array_get_idx(carry, i));
        if (v < 0 || v >= o->vocab_size) {
            st = qat_fail(QAT_ERR_FORMAT, "pretokenize: %s carries token %lld outside the vocabulary",
                          s->manifest_path, (long long)v);
            goto out;
        }
        s->carry.v[i] = (int32_t)v;
    }
    s->carry.n = nc;
    json_object_put(s->shards);
    s->shards = json_object_get(shards);
    *found = 1;
    *done = json_object_get_boolean(dn);
out:
    json_object_put(m);
    return st;
}

static qat_status commit_shard(stage *s)
{
    const qat_data_pretok_options *o = s->opt;
    uint64_t n = s->seqs.n / o->seq_len;
    if (n == 0)
        return QAT_OK;
    char name[64];
    snprintf(name, sizeof name, "shard-%05zu.bin", json_object_array_length(s->shards));
    char *path = qat_path_join(o->out_dir, name);
    if (!path)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "pretokenize: out of memory");
    uint8_t *image;
    size_t size;
    qat_status st = qat_data_shard_encode(s->seqs.v, n, o->seq_len, s->token_bytes, &image, &size);
    if (st == QAT_OK) {
        st = qat_file_write_atomic(path, image, size);
        free(image);
    }
    free(path);
    if (st != QAT_OK)
        return st;
    json_object *e = json_object_new_object();
    json_object_object_add(e, "file", json_object_new_string(name));
    json_object_object_add(e, "sequences", json_object_new_int64((int64_t)n));
    json_object_object_add(e, "tokens", json_object_new_int64((int64_t)(n * o->seq_len)));
    json_object_array_add(s->shards, e);
    s->sequences += n;
    s->tokens += n * o->seq_len;
    s->seqs.n = 0;
    return QAT_OK;
}

/* Moves full sequences from carry into the shard; commits full shards
 * (the manifest then records carry's remainder and the position). */
static qat_status pack(stage *s)
{
    const qat_data_pretok_options *o = s->opt;
    size_t used = 0;
    qat_status st = QAT_OK;
    while (s->carry.n - used >= o->seq_len) {
        if ((st = ivec_reserve(&s->seqs, s->seqs.n + o->seq_len)) != QAT_OK)
            break;
        memcpy(s->seqs.v + s->seqs.n, s->carry.v + used, o->seq_len * sizeof(int32_t));
        s->seqs.n += o->seq_len;
        used += o->seq_len;
        if (s->seqs.n == (size_t)o->seqs_per_shard * o->seq_len) {
            /* carry must hold exactly what the shard lacks when the
             * manifest is written: drop the packed prefix first. */
            memmove(s->carry.v, s->carry.v + used, (s->carry.n - used) * sizeof(int32_t));
            s->carry.n -= used;
            used = 0;
            if ((st = commit_shard(s)) != QAT_OK || (st = write_manifest(s, 0)) != QAT_OK)
                break;
        }
    }
    memmove(s->carry.v, s->carry.v + used, (s->carry.n - used) * sizeof(int32_t));
    s->carry.n -= used;
    return st;
}

static qat_status encode_record(stage *s, const char *text, size_t len, uint64_t line)
{
    const qat_data_pretok_options *o = s->opt;
    size_t count = 0;
    QAT_TRY(ivec_reserve(&s->scratch, len + 16));
    qat_status st = o->encode(o->encode_user, text, len, s->scratch.v, s->scratch.cap, &count);
    if (st == QAT_OK && count > s->scratch.cap) {
        QAT_TRY(ivec_reserve(&s->scratch, count));
        st = o->encode(o->encode_user, text, len, s->scratch.v, s->scratch.cap, &count);
        if (st == QAT_OK && count > s->scratch.cap)
            return qat_fail(QAT_ERR_INTERNAL, "pretokenize: the encoder asked for a larger buffer twice (line %llu)",
                            (unsigned long long)line + 1);
    }
    if (st != QAT_OK)
        return qat_fail_prefix(st, "pretokenize: encoding line %llu of %s", (unsigned long long)line + 1,
                               o->corpus_path);
    QAT_TRY(ivec_reserve(&s->carry, s->carry.n + count + 2));
    s->carry.v[s->carry.n++] = o->bos_id;
    for (size_t i = 0; i < count; i++) {
        int32_t id = s->scratch.v[i];
        if (id < 0 || id >= o->vocab_size)
            return qat_fail(QAT_ERR_FORMAT, "pretokenize: the encoder returned id %d (vocabulary %lld) on line %llu",
                            id, (long long)o->vocab_size, (unsigned long long)line + 1);
        s->carry.v[s->carry.n++] = id;
    }
    s->carry.v[s->carry.n++] = o->eos_id;
    return QAT_OK;
}

static qat_status run(stage *s, qat_data_pretok_report *report)
{
    const qat_data_pretok_options *o = s->opt;
    int found, done;
    QAT_TRY(load_manifest(s, &found, &done));
    report->skipped = done;
    report->resumed = found && !done;
    if (!done) {
        qat_data_corpus *c = NULL;
        QAT_TRY(qat_data_corpus_open(o->corpus_path, &o->corpus, &c));
        qat_status st = qat_data_corpus_seek(c, &s->pos);
        if (st == QAT_OK && !found)
            st = write_manifest(s, 0); /* marks the folder as ours early */
        while (st == QAT_OK) {
            const char *text;
            size_t len;
            qat_data_corpus_pos here;
            qat_data_corpus_position(c, &here);
            if ((st = qat_data_corpus_next(c, &text, &len)) != QAT_OK || !text)
                break;
            if ((st = encode_record(s, text, len, here.line)) != QAT_OK)
                break;
            s->records++;
            qat_data_corpus_position(c, &s->pos);
            st = pack(s);
        }
        qat_data_corpus_close(c);
        QAT_TRY(st);
        QAT_TRY(commit_shard(s));
        s->dropped = s->carry.n;
        s->carry.n = 0;
        if (s->sequences == 0)
            return qat_fail(QAT_ERR_FORMAT,
                            "pretokenize: %s yields no complete sequence of %u tokens (%llu records, %llu tokens "
                            "in all); is it empty?",
                            o->corpus_path, o->seq_len, (unsigned long long)s->records,
                            (unsigned long long)s->dropped);
        QAT_TRY(write_manifest(s, 1));
    }
    report->records = s->records;
    report->sequences = s->sequences;
    report->shards = json_object_array_length(s->shards);
    report->dropped_tail_tokens = s->dropped;
    return QAT_OK;
}

qat_status qat_data_pretokenize(const qat_data_pretok_options *opt, qat_data_pretok_report *report)
{
    QAT_CHECK_ARG(opt != NULL && report != NULL, "pretokenize: NULL argument");
    memset(report, 0, sizeof *report);
    QAT_CHECK_ARG(opt->corpus_path && opt->out_dir, "pretokenize: corpus path and output folder are required");
    QAT_CHECK_ARG(opt->encode != NULL, "pretokenize: no encoder callback");
    QAT_CHECK_ARG(opt->vocab_size > 0 && opt->vocab_size <= INT32_MAX, "pretokenize: vocabulary size %lld is invalid",
                  (long long)opt->vocab_size);
    QAT_CHECK_ARG(opt->bos_id >= 0 && opt->bos_id < opt->vocab_size && opt->eos_id >= 0 &&
                      opt->eos_id < opt->vocab_size,
                  "pretokenize: <s>/</s> ids %d/%d outside the vocabulary", opt->bos_id, opt->eos_id);
    QAT_CHECK_ARG(opt->seq_len >= 2 && opt->seq_len <= (1u << 20), "pretokenize: sequence length %u is invalid",
                  opt->seq_len);
    QAT_CHECK_ARG(opt->seqs_per_shard >= 1 && (uint64_t)opt->seqs_per_shard * opt->seq_len <= (1ull << 31),
                  "pretokenize: %u sequences per shard is invalid", opt->seqs_per_shard);
    if (access(opt->out_dir, W_OK) != 0)
        return qat_fail(QAT_ERR_IO, "pretokenize: output folder %s does not exist or is not writable", opt->out_dir);
    stage s = {0};
    s.opt = opt;
    s.token_bytes = opt->vocab_size <= 65536 ? 2 : 4;
    s.manifest_path = qat_path_join(opt->out_dir, QAT_DATA_MANIFEST);
    s.shards = json_object_new_array();
    qat_status st = s.manifest_path && s.shards ? run(&s, report)
                                                : qat_fail(QAT_ERR_OUT_OF_MEMORY, "pretokenize: out of memory");
    free(s.manifest_path);
    json_object_put(s.shards);
    free(s.carry.v);
    free(s.seqs.v);
    free(s.scratch.v);
    return st;
}
