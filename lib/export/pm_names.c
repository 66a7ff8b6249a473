/* Record names shared by the writer and the reader. */
#include "export/packed_model.h"

const char *const pm_linear_names[PM_LINEARS] = {
    "attention.self.query", "attention.self.key",   "attention.self.value",
    "attention.output.dense", "intermediate.dense", "output.dense",
};
