/* The adaptive-alpha knobs, spelled the same for qat train and qat dapt. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"

int qat_cli_adaptive_option(const char *flag, const char *value, qat_adaptive_options *a, char **end)
{
    if (strcmp(flag, "--alpha-max") == 0) a->alpha_max = strtod(value, end);
    else if (strcmp(flag, "--eval-every") == 0) a->eval_every = strtoll(value, end, 10);
    else if (strcmp(flag, "--patience") == 0) a->patience = strtoll(value, end, 10);
    else if (strcmp(flag, "--min-delta") == 0) a->min_delta = strtod(value, end);
    else if (strcmp(flag, "--heldout") == 0) a->heldout_sequences = strtoll(value, end, 10);
    else return 0;
    return 1;
}
