/*
 * libqat — quantization-aware training and low-bit inference for
 * BERT-class encoders. This umbrella header includes the whole stable
 * public API, and the experimental tier (qat/study.h) when QAT_EXPERIMENTAL
 * is defined; each topic header also compiles on its own.
 *
 * See qat/core.h for the conventions every function follows (status codes,
 * ownership, thread-safety, settings).
 */
#ifndef QAT_QAT_H
#define QAT_QAT_H

#include "qat/core.h"
#include "qat/quant.h"
#include "qat/tokenizer.h"
#include "qat/model.h"
#include "qat/train.h"
#include "qat/packed.h"
#ifdef QAT_EXPERIMENTAL
#include "qat/study.h" /* the experimental tier */
#endif

#endif /* QAT_QAT_H */
