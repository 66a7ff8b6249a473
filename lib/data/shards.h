/* Token shards: the output of pre-tokenization, streamed by training.
 *
 * A shard file holds fixed-length sequences, little-endian:
 *   offset  0  magic "QATTOKS1"
 *           8  uint32 version (1)
 *          12  uint32 bytes per token (2 when the vocabulary has at most
 *              65536 ids, else 4)
 *          16  uint32 sequence length
 *          20  uint32 reserved (0)
 *          24  uint64 number of sequences
 *          32  the tokens, sequence after sequence
 * A folder of shards has a manifest.json (see pretok.h) listing them; the
 * reader maps every listed shard (mmap) and checks each header and size
 * against the manifest before serving a sequence. */
#ifndef QAT_LIB_DATA_SHARDS_H
#define QAT_LIB_DATA_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

#define QAT_DATA_SHARD_HEADER 32
#define QAT_DATA_MANIFEST "manifest.json"

typedef struct qat_data_shards qat_data_shards;

/* Encodes n_seqs sequences of seq_len ids as a shard image (malloc'ed). */
qat_status qat_data_shard_encode(const int32_t *ids, uint64_t n_seqs, uint32_t seq_len, uint32_t token_bytes,
                                 uint8_t **image, size_t *size);

/* Opens the shards of a pre-tokenized folder. An unfinished folder (an
 * interrupted pre-tokenization) is refused unless allow_incomplete. */
qat_status qat_data_shards_open(const char *dir, int allow_incomplete, qat_data_shards **out);
void qat_data_shards_close(qat_data_shards *s);
uint64_t qat_data_shards_count(const qat_data_shards *s); /* sequences */
uint32_t qat_data_shards_seq_len(const qat_data_shards *s);
int64_t qat_data_shards_vocab_size(const qat_data_shards *s);
/* Copies sequence `index` (0 <= index < count) into ids[seq_len]; fails
 * with QAT_ERR_FORMAT on an id outside the vocabulary. */
qat_status qat_data_shards_get(const qat_data_shards *s, uint64_t index, int32_t *ids);

#endif
