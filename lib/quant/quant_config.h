/* The quant config's private representation, read by the model graph. */
#ifndef QAT_LIB_QUANT_CONFIG_H
#define QAT_LIB_QUANT_CONFIG_H

#include "qat/quant.h"

typedef struct qat_class_quant {
    qat_quant_algo algo;
    int bits;                  /* 2..8; 32 for NONE; 2 for BitNet weights */
    qat_granularity granularity;
} qat_class_quant;

struct qat_quant_config {
    qat_class_quant cls[QAT_CLASS_COUNT];
};

/* Checks one class setting; on failure sets the message (naming `what`). */
qat_status qat_class_quant_validate(qat_tensor_class cls, const qat_class_quant *q);

/* The defaults the notation implies for a class given its bits token and,
 * for activations, whether the weights are BitNet. */
qat_class_quant qat_class_quant_default(qat_tensor_class cls, int bits, int ternary,
                                        int weights_are_bitnet);

#endif
