/* Pre-tokenization: corpus -> token shards, as a separate, resumable stage.
 *
 * Packing (RoBERTa's run_mlm with line_by_line=False): every record
 * (see corpus.h) is encoded, framed as <s> ids </s> (bos_id, eos_id), and
 * the frames are concatenated and cut into sequences of exactly seq_len
 * tokens, so a sequence may start or end inside a document. Sequences go
 * to shards of seqs_per_shard sequences. The tail left at the end (fewer
 * than seq_len tokens) is dropped, as group_texts drops it; the manifest
 * counts it.
 *
 * Resumption. After each shard the manifest (out_dir/manifest.json) is
 * rewritten with the corpus position after the last record consumed and
 * the tokens already encoded but not yet in a shard ("carry"). A run that
 * finds an unfinished manifest with the same settings continues from
 * there and produces the same shards as an uninterrupted run; a finished
 * one returns at once (report->skipped). Shards and manifest are written
 * atomically (temporary file, fsync, rename, fsync of the folder), so a
 * crash at any point leaves a consistent state.
 *
 * manifest.json:
 *   {"format": "qat-token-shards", "version": 1,
 *    "source": PATH, "tokenizer": FINGERPRINT, "vocab_size": V,
 *    "bos_id": B, "eos_id": E, "seq_len": L, "token_bytes": 2|4,
 *    "seqs_per_shard": N, "max_chars": 2000,
 *    "shards": [{"file": "shard-00000.bin", "sequences": n, "tokens": n*L}],
 *    "position": {"offset": O, "line": K, "segment": S},
 *    "carry": [ids...], "records": R, "sequences": total, "tokens": total,
 *    "dropped_tail_tokens": T, "done": true|false} */
#ifndef QAT_LIB_DATA_PRETOK_H
#define QAT_LIB_DATA_PRETOK_H

#include <stddef.h>
#include <stdint.h>

#include "data/corpus.h"
#include "qat/core.h"

/* The tokenizer, as a callback: encode text[0, len) (valid UTF-8, no
 * special tokens) into ids. Write at most `capacity` ids and set *count to
 * the number the text needs; when *count > capacity the stage calls again
 * with a buffer of at least *count. Return QAT_OK or a failure status
 * (with qat_fail), which stops the stage. */
typedef qat_status (*qat_data_encode_fn)(void *user, const char *text, size_t len, int32_t *ids, size_t capacity,
                                         size_t *count);

typedef struct qat_data_pretok_options {
    const char *corpus_path;
    const char *out_dir;            /* must exist */
    qat_data_encode_fn encode;
    void *encode_user;
    const char *tokenizer_id;       /* a fingerprint checked on resume (may be NULL) */
    int64_t vocab_size;
    int32_t bos_id, eos_id;         /* <s> and </s> (BERT: [CLS], [SEP]) */
    uint32_t seq_len;               /* default 512 */
    uint32_t seqs_per_shard;        /* default 16384 */
    qat_data_corpus_options corpus;
} qat_data_pretok_options;

typedef struct qat_data_pretok_report {
    int skipped;                 /* the manifest said done: nothing to do */
    int resumed;                 /* continued an interrupted run */
    uint64_t records;            /* records encoded, all runs together */
    uint64_t sequences;
    uint64_t shards;
    uint64_t dropped_tail_tokens;
} qat_data_pretok_report;

void qat_data_pretok_options_init(qat_data_pretok_options *opt);
qat_status qat_data_pretokenize(const qat_data_pretok_options *opt, qat_data_pretok_report *report);

#endif
