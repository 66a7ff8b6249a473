/* `qat train --config FILE`: the run described in YAML or JSON, with the
 * quantization block of docs/method.md section 2; the keys are qat train's flags. */
#ifndef QAT_CLI_TRAIN_CONFIG_H
#define QAT_CLI_TRAIN_CONFIG_H

#include <qat/qat.h>

#include "cli_args.h"

typedef struct train_config {
    void *root; /* the parsed document (json_object), owns the strings the options point to */
    char quant[QAT_QUANT_CONFIG_MAX_STRING + 1];
} train_config;

/* Sets the options of qat train's table (spec) from the file's keys: each
 * flag's name without its dashes and with '_' for '-' (steps, micro_batch,
 * dapt_dir, heldout_sequences...), values checked as the flags' are; and
 * docs/method.md section 2's quantization block, whose canonical ExWyAz string goes
 * to *quant. Returns 0, or prints why and returns nonzero. */
int train_config_load(const char *path, const qat_cli_spec *spec, train_config *c, const char **quant);
void train_config_free(train_config *c);

#endif
