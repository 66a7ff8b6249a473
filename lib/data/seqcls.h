/* Sequence-classification task files: one example per line, a text, an
 * optional second text (pairs: NLI, paraphrase...) and a label.
 *
 * Format by extension (a trailing .gz is read through zlib):
 *  - .tsv: fields split at TAB, no quoting (GLUE's files). The first line
 *    is a header when it names a text column (text, sentence, sentence1,
 *    premise) and a label column (label), in any case; a second-text
 *    column is text_b, sentence2 or hypothesis; other columns (idx...)
 *    are ignored, but every line must have the header's column count.
 *    Without a header: 2 columns are text, label; 3 are text, text_b,
 *    label; every line as many as the first.
 *  - .jsonl: one JSON object per line with the same keys (the first
 *    present of text / sentence / sentence1 / premise, of text_b /
 *    sentence2 / hypothesis, and label); other keys are ignored. A label
 *    is a string or an integer.
 * Blank lines are skipped; LF or CRLF. Errors (QAT_ERR_FORMAT, naming
 * file:line): invalid UTF-8, a NUL byte, a wrong column count, invalid
 * JSON or a line that is not an object, a missing or empty text or label,
 * a second text on some lines only, a file with no example.
 *
 * Label ids (qat_data_seqcls_labels): when every label of the files is a
 * non-negative decimal integer (0, 1, 2...), label k is id k (HF datasets'
 * ClassLabel ids; names "0".."max"); otherwise the distinct strings sorted
 * by byte order (as HF's run_glue sorts its label list), so the same label
 * set always gets the same ids whatever the file order. */
#ifndef QAT_LIB_DATA_SEQCLS_H
#define QAT_LIB_DATA_SEQCLS_H

#include <stddef.h>
#include <stdint.h>

#include "data/labels.h"
#include "qat/core.h"

typedef struct qat_data_seqcls_example {
    const char *text_a;
    size_t len_a;
    const char *text_b;     /* NULL when the file has single texts */
    size_t len_b;
    const char *label;
    uint64_t line;          /* 1-based */
} qat_data_seqcls_example;

typedef struct qat_data_seqcls qat_data_seqcls;

/* 1 when path names a sequence-classification file (.tsv, .jsonl, maybe .gz). */
int qat_data_seqcls_is_task_file(const char *path);
qat_status qat_data_seqcls_read_file(const char *path, qat_data_seqcls **out);
/* data[0, size) in the format `name`'s extension says (name: messages). */
qat_status qat_data_seqcls_read_memory(const char *data, size_t size, const char *name, qat_data_seqcls **out);
void qat_data_seqcls_free(qat_data_seqcls *c);

size_t qat_data_seqcls_count(const qat_data_seqcls *c);
const qat_data_seqcls_example *qat_data_seqcls_get(const qat_data_seqcls *c, size_t i);
int qat_data_seqcls_pairs(const qat_data_seqcls *c);        /* 1: examples have a second text */
const char *qat_data_seqcls_name(const qat_data_seqcls *c);

/* The label map of several files (train, validation, test) together. */
qat_status qat_data_seqcls_labels(const qat_data_seqcls *const *sets, size_t n_sets, qat_data_labels **out);
/* The id of an example's label in `labels` (a model's id2label): its name,
 * or, where the name is absent and the label is a decimal integer k below
 * the label count, k (a checkpoint's LABEL_k names). Fails naming file:line. */
qat_status qat_data_seqcls_label_id(const qat_data_seqcls *c, size_t i, const qat_data_labels *labels,
                                    int32_t *id);

/* Internal to the readers: appends one example (copied), checking it. */
qat_status qat_data_seqcls_add(qat_data_seqcls *c, const char *a, size_t la, const char *b, size_t lb,
                               const char *label, size_t llabel, uint64_t line);
qat_status qat_data_seqcls_parse_tsv(qat_data_seqcls *c, char *buf, size_t size);
qat_status qat_data_seqcls_parse_jsonl(qat_data_seqcls *c, char *buf, size_t size);

#endif
