/* What qat_pipeline_run and qat_dapt_run share (qat_run_options, embedded
 * in both option structs): the defaults their _init functions set, the
 * checks of the shared fields, and how progress reaches the caller. */
#ifndef QAT_LIB_STUDY_RUN_OPTIONS_H
#define QAT_LIB_STUDY_RUN_OPTIONS_H

#include "qat/study.h"
#include "study/energy.h"

/* The study's defaults (docs/method.md section 6): B_total 30000, sequences of 512,
 * seed 42, the optimiser's and adaptive alpha's defaults. */
qat_status qat_run_options_defaults(qat_run_options *r);

/* Checks the shared fields; `what` ("pipeline options") prefixes the
 * message. The required paths are each run's own to check. */
qat_status qat_run_options_check(const qat_run_options *r, const char *what);

/* A step of a phase: samples the energy meter (may be NULL) and tells the
 * caller's callback; QAT_ERR_STATE (checkpoint kept) when it asks to stop. */
qat_status qat_run_progress(const qat_run_options *r, qat_energy_meter *energy, const char *phase, int64_t step,
                            int64_t total, double loss);

#endif
