/*
 * libqat — packed low-bit models: export, load, integer CPU inference, and
 * the footprint / BitOPs estimate of docs/method.md section 8.
 *
 * A packed model file (.qatp, docs/formats.md "Packed model (.qatp)") holds
 * the model config, the quant config, the tokenizer's source file(s), the
 * six linear layers of every encoder layer as packed integer codes with
 * their scales (BitNet ternary: 2-bit or 1.6-bit codes and gamma; LSQ:
 * b-bit codes and the step), the activation quantizers (LSQ input steps,
 * BitNet bits), embeddings (LSQ codes + step when E is quantized), and the
 * float parts (LayerNorms, biases, heads), with a CRC32 over the file.
 *
 * qat_packed_model_forward runs the encoder with the integer GEMMs of
 * lib/packed for every linear layer whose weight and input are both
 * quantized, and in float for the rest (LayerNorm, attention, GELU, heads;
 * linear layers of FP32 or half-quantized configs). Its logits equal the
 * fake-quant forward of the training model (qat_model_forward) up to the
 * float accumulation order (docs/packed-inference.md).
 *
 * Ownership and threads follow core.h: a packed model owns everything it
 * uses (no context to pass); one handle is used by one thread at a time.
 */
#ifndef QAT_PACKED_H
#define QAT_PACKED_H

#include "qat/core.h"
#include "qat/model.h"
#include "qat/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Export ------------------------------------------------------------ */

#define QAT_EXPORT_OPTIONS_VERSION 1

typedef enum qat_ternary_format {
    QAT_TERNARY_2BIT = 0,   /* 4 codes per byte (TQ2_0 style), fastest */
    QAT_TERNARY_1P6BIT = 1  /* 5 trits per byte (TQ1_0 style), smallest */
} qat_ternary_format;

typedef struct qat_export_options {
    uint32_t version;                 /* QAT_EXPORT_OPTIONS_VERSION */
    const char *tokenizer_path;       /* a tokenizer file (.model, tokenizer.json,
                                         vocab.txt) or an HF directory whose
                                         tokenizer files are embedded; NULL: none */
    qat_ternary_format ternary;       /* default QAT_TERNARY_2BIT */
} qat_export_options;

QAT_API qat_status qat_export_options_init(qat_export_options *options, uint32_t version);

/* Writes `model` (with its current quant config) to `path`, atomically.
 * LSQ activation steps must be initialised (run one forward on
 * representative data first, or train): QAT_ERR_STATE otherwise. BitNet
 * gammas are computed from the weights as the forward does. options may be
 * NULL (defaults). */
QAT_API qat_status qat_packed_export(const qat_model *model, const char *path,
                                     const qat_export_options *options);

/* ---- Load ---------------------------------------------------------------- */

/* Loads and validates a .qatp file: magic, version, sizes, CRC32, every
 * record's shape. Malformed files fail with QAT_ERR_FORMAT naming the
 * problem (and the record), unreadable ones with QAT_ERR_IO. */
QAT_API qat_status qat_packed_model_load(const char *path, qat_packed_model **out);
/* Same from bytes in memory (copied where needed; data may be freed after). */
QAT_API qat_status qat_packed_model_load_memory(const void *data, size_t size,
                                                qat_packed_model **out);
QAT_API void qat_packed_model_free(qat_packed_model *model);

typedef enum qat_packed_param {
    QAT_PACKED_THREADS = 1,  /* threads of the kernels; 0 = all cores (default 0) */
    QAT_PACKED_ISA = 2       /* 0 auto (QAT_ISA env, else best), 1 scalar,
                                2 avx2, 3 avx512vnni, 4 onednn (oneDNN's int8
                                matmul: AMX where the CPU has it), 5 neon
                                (ARM64 sdot), 6 amx (libqat's own AMX-INT8
                                tile kernel), 7 i8mm (ARM64 smmla, the int8
                                matrix multiply), 8 avx512vbmi (avx512vnni,
                                with ternary weights against activations of
                                at most 6 bits by vpermi2b table lookups);
                                refused if the CPU or the build lacks it */
} qat_packed_param;

/* The integer kernels' path that a QAT_PACKED_ISA value resolves to on this
 * machine now (0 auto: QAT_ISA, else the fastest path this CPU has; 1..8
 * that path), as a model would run it: *resolved 1..8 and *name "scalar",
 * "avx2", "avx512vnni", "onednn", "neon", "amx", "i8mm" or "avx512vbmi" (static; either may be NULL). QAT_ERR_UNSUPPORTED,
 * saying what the CPU lacks, for a path it cannot run. */
QAT_API qat_status qat_packed_isa_resolve(int64_t isa, int64_t *resolved, const char **name);
/* The name of QAT_PACKED_ISA value `isa` whether or not this machine can
 * run that path: 0 "auto", 1 "scalar", ..., 8 "avx512vbmi" (static), so that a
 * caller lists and parses the paths without a table of its own.
 * QAT_ERR_INVALID_ARGUMENT past the last value, which ends a loop from 0. */
QAT_API qat_status qat_packed_isa_name_of(int64_t isa, const char **name);

QAT_API qat_status qat_packed_model_set_int(qat_packed_model *model, qat_packed_param param,
                                            int64_t value);
QAT_API qat_status qat_packed_model_get_int(const qat_packed_model *model, qat_packed_param param,
                                            int64_t *value);

typedef enum qat_packed_info {
    QAT_PACKED_INFO_FORMAT_VERSION = 1,
    QAT_PACKED_INFO_ARCH = 2,               /* a qat_arch */
    QAT_PACKED_INFO_TASK = 3,               /* a qat_task */
    QAT_PACKED_INFO_VOCAB_SIZE = 4,
    QAT_PACKED_INFO_HIDDEN_SIZE = 5,
    QAT_PACKED_INFO_NUM_LAYERS = 6,
    QAT_PACKED_INFO_NUM_HEADS = 7,
    QAT_PACKED_INFO_INTERMEDIATE_SIZE = 8,
    QAT_PACKED_INFO_MAX_POSITIONS = 9,
    QAT_PACKED_INFO_NUM_LABELS = 10,        /* classes of the head (MLM: vocab) */
    QAT_PACKED_INFO_PAD_TOKEN_ID = 11,
    QAT_PACKED_INFO_FILE_BYTES = 12,        /* size of the file loaded */
    QAT_PACKED_INFO_INTEGER_LINEARS = 13,   /* linear layers run by integer GEMMs */
    QAT_PACKED_INFO_HAS_TOKENIZER = 14,
    QAT_PACKED_INFO_HAS_LABEL_NAMES = 15,   /* 1 when the file stores label names */
    QAT_PACKED_INFO_ISA = 16                /* the integer kernels' path the settings resolve to now
                                               (QAT_ISA read at this call): 1 scalar, 2 avx2, 3 avx512vnni, 4 onednn,
                                               5 neon, 6 amx, 7 i8mm, 8 avx512vbmi */
} qat_packed_info;

QAT_API qat_status qat_packed_model_info(const qat_packed_model *model, qat_packed_info key,
                                         int64_t *value);
/* The quant config string stored in the file (owned by the model). */
QAT_API qat_status qat_packed_model_quant(const qat_packed_model *model, const char **quant);
/* The embedded tokenizer (owned by the model), QAT_ERR_NOT_FOUND if none. */
QAT_API qat_status qat_packed_model_tokenizer(const qat_packed_model *model,
                                              const qat_tokenizer **tokenizer);
/* Name of class `index` (0 .. num_labels - 1) of a token or sequence
 * classifier, as the exported model had it (config.json's id2label): UTF-8,
 * owned by the model. QAT_ERR_NOT_FOUND when the file stores no names (an
 * MLM model, a model exported without names, a file older than the
 * "labels" record); QAT_ERR_INVALID_ARGUMENT for an index out of range. */
QAT_API qat_status qat_packed_model_label_name(const qat_packed_model *model, size_t index,
                                               const char **name);

/* ---- Inference ------------------------------------------------------------ */

/* Logits of a batch, as qat_model_forward: input_ids [batch, seq_len],
 * attention_mask (1 token, 0 padding; NULL all tokens), token_type_ids
 * (NULL zeros); logits receives batch * seq_len * classes floats. */
QAT_API qat_status qat_packed_model_forward(qat_packed_model *model, const int32_t *input_ids,
                                            const int32_t *attention_mask,
                                            const int32_t *token_type_ids, int64_t batch,
                                            int64_t seq_len, float *logits, size_t logits_count);
QAT_API qat_status qat_packed_model_logits_size(const qat_packed_model *model, int64_t batch,
                                                int64_t seq_len, size_t *count);

/* Sentence embeddings, as qat_model_embed (include/qat/model.h) on the
 * model that was exported: the encoder's last hidden state (the head does
 * not run) pooled by `pooling` (QAT_POOLING_MODEL: the exported model's own,
 * stored in the file) and L2-normalised with QAT_EMBED_NORMALIZE;
 * embeddings receives batch * hidden_size floats. attention_mask entries
 * are 0 or 1. */
QAT_API qat_status qat_packed_model_embed(qat_packed_model *model, const int32_t *input_ids,
                                          const int32_t *attention_mask, const int32_t *token_type_ids,
                                          int64_t batch, int64_t seq_len, qat_pooling pooling, uint32_t flags,
                                          float *embeddings, size_t count);
/* The exported model's own pooling (what QAT_POOLING_MODEL runs), as
 * qat_model_pooling. */
QAT_API qat_status qat_packed_model_pooling(const qat_packed_model *model, qat_pooling *pooling, uint32_t *flags);
/* The exported model's max_seq_length, as qat_model_max_seq_length (0: none). */
QAT_API qat_status qat_packed_model_max_seq_length(const qat_packed_model *model, int64_t *max_seq_length);

/* ---- Footprint and BitOPs (docs/method.md section 8) -------------------------------- */

/* For the encoder described by a config.json and a quant config (ExWyAz
 * string; NULL or "FP32" = float): *size_bytes = stored bits / 8 of every
 * encoder parameter (embedding tables at E bits, the six linear weights
 * per layer at W bits, ternary stored as 2; biases and LayerNorms 32-bit;
 * heads and quantizer steps not counted), *bitops = sum over the linear
 * layers of W * A * |weights| * seq_len (FP32: 32 x 32, ternary W = 2),
 * heads excluded. Either output may be NULL. */
QAT_API qat_status qat_estimate(const char *config_path, const char *quant, int64_t seq_len,
                                double *size_bytes, double *bitops);

#ifdef __cplusplus
}
#endif

#endif /* QAT_PACKED_H */
