/* The packed model in memory: what a .qatp file holds, ready for the
 * integer forward (forward.c). */
#ifndef QAT_LIB_PACKED_MODEL_H
#define QAT_LIB_PACKED_MODEL_H

#include "core/context.h"
#include "formats/qatp_format.h"
#include "formats/qatp_schema.h"
#include "model/dims.h"
#include "model/pooling.h"
#include "packed/packed.h"
#include "qat/packed.h"
#include "quant/quant_config.h"

typedef struct pm_linear {
    int64_t out, in;
    int integer;              /* 1: integer GEMM (W and A quantized) */
    qat_packed_matrix mat;    /* integer: the codes in the kernels' layout, made once at load */
    float *wf;                /* float path: [out, in] (dequantized when W is quantized) */
    float *bias;              /* [out] */
    float *ibias;             /* integer LSQ+ input: the epilogue's bias, bias[o] + beta' sw[o] sum_k qw[o, k]
                               * with beta' = offset + 2^(b-1) step (pm_load.c); NULL otherwise */
    qat_class_quant aq;       /* the input's quantizer (NONE: float input) */
    float astep;              /* LSQ / LSQ+ input step */
    float aoffset;            /* LSQ+ input offset */
} pm_linear;

typedef struct pm_layer {
    pm_linear lin[QATP_LINEARS];
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
} pm_layer;

typedef struct pm_table {
    int64_t rows;
    float *f;                 /* float table, or NULL when quantized */
    qat_packed_weights codes; /* LSQ codes (per tensor) when quantized */
    float value_of[256];      /* then the value of each unsigned code u: (u - offset) * step */
} pm_table;

/* Scratch of the current batch shape, in buffers of cap tokens (the
 * largest batch so far: they only grow). */
typedef struct pm_scratch {
    int64_t N, B, L, cap;
    int32_t *ids, *pos, *types;
    float *key_bias;
    int any_masked;           /* some key of the batch is padding: key_bias is not all zeros */
    float *x, *h1, *q, *k, *v, *ctxv, *res, *wide, *tmp, *fq;
    float *mean, *rstd;
    qat_packed_acts act_h, act_i;
} pm_scratch;

struct qat_packed_model {
    qat_model_dims dims;
    qat_task task;
    int64_t num_labels;
    char quant[QAT_QUANT_CONFIG_MAX_STRING + 1];
    qat_quant_config cfg;
    pm_table word, pos, type;
    float *emb_ln_w, *emb_ln_b;
    pm_layer *layers;
    float *mlm_dense_w, *mlm_dense_b, *mlm_ln_w, *mlm_ln_b, *mlm_decoder_w, *mlm_bias;
    float *cls_w, *cls_b;
    float *pool_w, *pool_b;   /* sequence classification: pooler / classifier.dense [H, H], [H] */
    qat_tokenizer *tokenizer;
    const char **label_names; /* [num_labels] into label_text; NULL when the file has no "labels" record */
    char *label_text;
    qat_pooling_config pooling_cfg; /* the "pooling" record; zero when the file has none */
    size_t file_bytes;
    int64_t integer_linears;

    qat_context *ctx;         /* float kernels: cpu backend (oneDNN), else ref */
    int64_t threads_setting;  /* 0 = all cores */
    int64_t isa_setting;      /* a qat_packed_isa */
    qat_packed_cpu cpu;       /* probed at load: each forward resolves its path on it */
    pm_scratch s;
};

/* Reads a parsed file into a new model (tokenizer included). */
qat_status pm_from_file(const qatp_file *f, size_t file_bytes, qat_packed_model **out);
void pm_free(qat_packed_model *m);
/* Re-creates the tokenizer from its embedded files (none: m->tokenizer NULL). */
qat_status pm_load_tokenizer(const qatp_file *f, qat_packed_model *m);
/* Reads and validates the optional "labels" record (none: m->label_names
 * NULL); needs the config read first. */
qat_status pm_load_labels(const qatp_file *f, qat_packed_model *m);
/* Reads and validates the optional "pooling" and "max_seq_length" records
 * into m->pooling_cfg. */
qat_status pm_load_pooling(const qatp_file *f, qat_packed_model *m);
/* The forward into logits [B * L, classes] ([B, classes] for sequence
 * classification). */
qat_status pm_forward(qat_packed_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types,
                      int64_t B, int64_t L, float *logits);
/* The encoder's last hidden state pooled into out [B, H] (pooling resolved: CLS or MEAN). */
qat_status pm_embed(qat_packed_model *m, const int32_t *ids, const int32_t *mask, const int32_t *types, int64_t B,
                    int64_t L, qat_pooling pooling, uint32_t flags, float *out);
int64_t pm_classes(const qat_packed_model *m);
/* Turns the integer linears whose input quantizer is algo into float ones
 * (dequantized weights, the float GEMM): bench/packed_infer's side-by-side
 * LSQ+ column. */
qat_status pm_use_float_linears(qat_packed_model *m, qat_quant_algo algo);
/* Kernel handle for the current settings. */
qat_status pm_kernel(const qat_packed_model *m, qat_packed_kernel *k);
/* The layout the isa's kernel reads (amx: B tiles; onednn: signed codes),
 * made once per matrix: at load for the path chosen then, and at the first
 * forward of a path chosen later (a changed QAT_ISA or isa setting). */
qat_status pm_prepare_weights(qat_packed_model *m, qat_packed_isa isa);

#endif
