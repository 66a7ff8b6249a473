/* What every run directory of the study shares (the alpha pipeline, the
 * shared DAPT run): one run at a time holds it (a lock, released by the
 * kernel when the process dies, however it dies), temporaries of an
 * interrupted run are removed on start, and a model directory a phase
 * leaves (the DAPT model, the fine-tuned model, a snapshot) is written
 * whole, with the tokenizer next to the weights: its presence marks the
 * phase done. */
#ifndef QAT_LIB_STUDY_RUN_DIR_H
#define QAT_LIB_STUDY_RUN_DIR_H

#include "core/rng.h"
#include "qat/model.h"
#include "qat/tokenizer.h"

typedef struct qat_run_dir {
    int lock_fd; /* -1: not held */
} qat_run_dir;

/* Creates out_dir (mkdir -p), takes its lock (QAT_ERR_STATE when another
 * process holds it) and removes the temporaries an interrupted run left in
 * out_dir, out_dir/snapshots and out_dir/shards. */
qat_status qat_run_dir_open(const char *out_dir, qat_run_dir *rd);
void qat_run_dir_close(qat_run_dir *rd);

/* Writes `dir` whole: the model (qat_model_save) and the tokenizer's files
 * (qat_tokenizer_save) into a temporary sibling, made durable, then renamed.
 * rng (may be NULL): the run's RNG where the phase ended, kept in
 * qat_run_rng.json so that the next phase starts from it after a restart
 * exactly as it did in the uninterrupted run. */
qat_status qat_run_save_model(const qat_model *model, const qat_tokenizer *tok, const qat_rng *rng,
                              const char *dir);
/* The RNG a phase's directory kept (*found = 0 when it kept none). */
qat_status qat_run_load_rng(const char *dir, qat_rng *rng, int *found);
/* Whether a phase left its model directory at `dir`. */
int qat_run_has_model(const char *dir);

#endif
