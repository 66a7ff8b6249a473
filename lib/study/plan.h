/* The plans of a pipeline run (docs/training.md, "Plans"): where its DAPT
 * comes from (its own, per alpha; a shared run's snapshot; its own with
 * adaptive stopping) and what results.json records about it, plus the
 * achieved-sigma report of the evaluation splits (docs/method.md section 7). */
#ifndef QAT_LIB_TRAIN_PLAN_H
#define QAT_LIB_TRAIN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "qat/study.h"

struct json_object;

/* Shared prefix: finds dapt_dir's snapshot for this run (the step
 * round(alpha * total_steps), or the DAPT run's adaptive step) after
 * checking the DAPT run finished with the same quant config and B_total.
 * dir receives the snapshot's directory, *info (owned by the caller) what
 * results.json's "dapt" object records. */
qat_status qat_plan_shared_snapshot(const qat_pipeline_options *o, int64_t *dapt_steps, char *dir, size_t cap,
                                    struct json_object **info);

/* Adds "plan", "alpha_mode", the adaptive record (and the chosen alpha as
 * "alpha") and the shared run's "dapt" object (consumed) to results.json. */
void qat_plan_results_add(struct json_object *results, const qat_pipeline_options *o, int64_t dapt_steps,
                          struct json_object *dapt_info);

/* results.json's "splits": sizes and achieved z = sqrt(n) * k per split,
 * and which rule made them ("files", "70/10/20" or "z/k"). */
struct json_object *qat_plan_splits_json(size_t n_train, size_t n_eval, size_t n_test, int from_files);

/* The pipeline's checks of the plan fields. */
qat_status qat_plan_validate(const qat_pipeline_options *o);

#endif
