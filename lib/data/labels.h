/* Label maps (tag <-> id) for token classification. Built from data they
 * are sorted by byte order (= code point order), as HF's run_ner sorts
 * its label list, so the same tag set always gets the same ids. Saved and
 * loaded as HF config.json's two maps:
 *   {"id2label": {"0": "B-LOC", ...}, "label2id": {"B-LOC": 0, ...}}
 * A loaded map keeps the ids of its file. */
#ifndef QAT_LIB_DATA_LABELS_H
#define QAT_LIB_DATA_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "data/conll.h"
#include "qat/core.h"

typedef struct qat_data_labels qat_data_labels;

/* The most classes a label map holds (a task's tag set is tens, a
 * classification task's classes at most thousands): larger maps, such as
 * integer labels up to 999999, fail with QAT_ERR_FORMAT before any work
 * proportional to them. */
#define QAT_DATA_MAX_LABELS 10000

/* Sorted, duplicates removed. */
qat_status qat_data_labels_from_names(const char *const *names, size_t n, qat_data_labels **out);
/* Ids as given: names[i] gets id i (a model's id2label); duplicates fail. */
qat_status qat_data_labels_from_ordered(const char *const *names, size_t n, qat_data_labels **out);
/* The tags of several files (train, validation, test) together. */
qat_status qat_data_labels_from_conll(const qat_data_conll *const *sets, size_t n_sets, qat_data_labels **out);
void qat_data_labels_free(qat_data_labels *l);
size_t qat_data_labels_count(const qat_data_labels *l);
const char *qat_data_labels_name(const qat_data_labels *l, int32_t id); /* NULL when out of range */
qat_status qat_data_labels_id(const qat_data_labels *l, const char *name, int32_t *id);
/* ids[t] for every token of c; a tag absent from the map fails naming its line. */
qat_status qat_data_labels_encode(const qat_data_labels *l, const qat_data_conll *c, int32_t *ids);
qat_status qat_data_labels_save(const qat_data_labels *l, const char *path);
qat_status qat_data_labels_load(const char *path, qat_data_labels **out);

#endif
