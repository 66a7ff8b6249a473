/*
 * libqat — training: AdamW with the study's schedule (a trainer over a
 * model), and evaluation of a classifier on a task file.
 *
 * A trainer holds a reference to its model (the model may be freed first;
 * see "Lifetime" in core.h) and owns the AdamW moments. The study's whole
 * protocol (the alpha pipeline: domain-adaptive MLM, then fine-tuning,
 * then evaluation) is in qat/study.h, the experimental tier.
 */
#ifndef QAT_TRAIN_H
#define QAT_TRAIN_H

#include "qat/core.h"
#include "qat/model.h"
#include "qat/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QAT_TRAIN_OPTIONS_VERSION 1

/* Optimisation settings; qat_train_options_init sets the study's defaults
 * (docs/method.md section 6). */
typedef struct qat_train_options {
    uint32_t version;           /* QAT_TRAIN_OPTIONS_VERSION */
    double learning_rate;       /* 5e-6 */
    double beta1, beta2;        /* 0.9, 0.98 */
    double eps;                 /* 1e-8 */
    double weight_decay;        /* 0.01 (never on biases, LayerNorm, steps) */
    double warmup_ratio;        /* 0.1 of each phase's steps */
    double max_grad_norm;       /* 1.0; 0 disables clipping */
    int64_t batch_size;         /* 96 sequences per optimizer step */
    int64_t micro_batch_size;   /* 0 = batch_size; else gradient accumulation */
} qat_train_options;

QAT_API qat_status qat_train_options_init(qat_train_options *options, uint32_t version);

/* A trainer for `total_steps` optimizer steps (the schedule's length).
 * The model is put in training mode (dropout on). */
QAT_API qat_status qat_trainer_create(qat_model *model, const qat_train_options *options, int64_t total_steps,
                                      qat_trainer **out);
QAT_API void qat_trainer_free(qat_trainer *trainer);

/* One optimizer step on a batch of `batch` sequences (split into micro-
 * batches, gradients averaged): labels as for qat_model_backward. *loss
 * receives the batch's mean loss. Runs on any backend (parameters,
 * gradients and AdamW's moments stay in its memory). A non-finite loss, or
 * a non-finite gradient norm when clipping, fails with QAT_ERR_NUMERIC and
 * leaves the weights and moments as they were. */
QAT_API qat_status qat_trainer_step(qat_trainer *trainer, const int32_t *input_ids, const int32_t *attention_mask,
                                    const int32_t *labels, int64_t batch, int64_t seq_len, float *loss);
/* qat_trainer_step with token type ids ([batch, seq_len]; NULL = zeros),
 * which BERT needs for pairs of texts (qat_tokenizer_encode_pair). */
QAT_API qat_status qat_trainer_step_typed(qat_trainer *trainer, const int32_t *input_ids,
                                          const int32_t *attention_mask, const int32_t *token_type_ids,
                                          const int32_t *labels, int64_t batch, int64_t seq_len, float *loss);

typedef enum qat_trainer_stat {
    QAT_TRAINER_STEP = 1,        /* optimizer steps taken */
    QAT_TRAINER_TOTAL_STEPS = 2,
    QAT_TRAINER_LR = 3,          /* learning rate of the last step */
    QAT_TRAINER_GRAD_NORM = 4,   /* global gradient norm before clipping */
    QAT_TRAINER_LOSS = 5         /* loss of the last step */
} qat_trainer_stat;

QAT_API qat_status qat_trainer_get(const qat_trainer *trainer, qat_trainer_stat stat, double *value);

/* Training state: weights, quantizer steps, AdamW moments, step count,
 * the context's RNG and two caller-defined data-position words, zlib-
 * compressed with a CRC, written atomically (temporary file, fsync,
 * rename). Resuming continues bit-identically on the same backend and
 * thread count; a state saved on one backend resumes on any other (the
 * file does not depend on it). */
QAT_API qat_status qat_trainer_save(const qat_trainer *trainer, const char *path, const uint64_t data_position[2]);
QAT_API qat_status qat_trainer_resume(qat_trainer *trainer, const char *path, uint64_t data_position[2]);

/* ---- Data-parallel training ------------------------------------------------ */

/* A communicator: this process's place among the ranks of a data-parallel
 * job (one process per GPU) and the collectives they train with. */
typedef struct qat_comm qat_comm;

/* From the environment, as torchrun or srun set it (docs/distributed.md):
 * RANK, WORLD_SIZE, LOCAL_RANK with MASTER_ADDR and MASTER_PORT, or
 * SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, with QAT_DIST_FILE for a
 * rendezvous through a shared file and QAT_DIST_TIMEOUT (seconds, 300)
 * for how long to wait for the other ranks. No variable set: a single-rank
 * communicator. More than one rank needs a backend with collectives (cuda:
 * NCCL); on the CPU backends that is an error, not a hang. Every rank
 * calls this at the same point; it returns once all ranks have joined.
 * The communicator holds a reference to ctx, and its collectives run on
 * ctx's backend memory. */
QAT_API qat_status qat_comm_create_from_env(qat_context *ctx, qat_comm **out);
QAT_API void qat_comm_free(qat_comm *comm);

typedef enum qat_comm_stat {
    QAT_COMM_RANK = 1,
    QAT_COMM_WORLD_SIZE = 2,
    QAT_COMM_LOCAL_RANK = 3      /* the rank on this node (its GPU) */
} qat_comm_stat;

QAT_API qat_status qat_comm_get(const qat_comm *comm, qat_comm_stat stat, int64_t *value);
/* "single", "loopback" (tests) or "backend" (NCCL); a static string. */
QAT_API const char *qat_comm_kind(const qat_comm *comm);

/* Trains data-parallel over comm (NULL: back to one rank); the trainer
 * holds a reference. Every rank passes the same global batch to
 * qat_trainer_step: rank r trains on its shard, sequences
 * [r * batch / world, (r + 1) * batch / world) (batch must be a multiple of
 * the world size), split into micro-batches as micro_batch_size says; the
 * gradients are summed over the ranks in buckets of about bucket_bytes
 * (0: 25 MB) of parameters, each all-reduced as soon as the backward has
 * produced it, and divided by the world size with the micro-batch mean.
 * Dropout draws and quantizer initialisation follow the single-rank run,
 * so N ranks give the update one rank gives with gradient accumulation over
 * the same global batch, up to the order of the sums. The weights are
 * broadcast from rank 0 at the first step. The comm's context must be the
 * model's. */
QAT_API qat_status qat_trainer_set_comm(qat_trainer *trainer, qat_comm *comm, int64_t bucket_bytes);

/* ---- Evaluation ----------------------------------------------------------- */

/* Evaluates a token-classification model (with label names: a model saved
 * by the pipeline, or an HF checkpoint with id2label) on a CoNLL file:
 * entity-level micro F1 (seqeval semantics) for IOB2 tag sets, token micro
 * F1 otherwise, plus macro/weighted F1, accuracy, a 95 % bootstrap interval
 * and the collapse flag, written as JSON to results_path (may be NULL).
 * *f1 (may be NULL) receives the headline F1 as a fraction.
 * A sequence-classification model evaluates a .tsv / .jsonl task file
 * (docs/data.md; texts and pairs encoded as qat_tokenizer_encode_pair
 * does, truncated to max_seq_len): accuracy (the headline, into *f1, and
 * "f1" with "f1_metric": "accuracy" in the JSON), macro and weighted F1,
 * with 95 % bootstrap intervals of the accuracy and the macro F1. File
 * labels are the model's label names (id2label), or integers k < the
 * number of labels. */
QAT_API qat_status qat_model_evaluate(qat_model *model, const qat_tokenizer *tokenizer, const char *conll_path,
                                      int64_t max_seq_len, const char *results_path, double *f1);

#ifdef __cplusplus
}
#endif

#endif /* QAT_TRAIN_H */
