/* CoNLL-style task files (DrBenchmark-like POS and NER sets).
 *
 * Format, line by line (UTF-8, LF or CRLF, gzip'ed or plain):
 *  - a blank line (or only white space) ends a sentence;
 *  - `-DOCSTART-` as the token ends a sentence and is skipped;
 *  - a line starting with '#' and holding no TAB is a comment (so a '#'
 *    token must be written `#<TAB>tag`);
 *  - otherwise `token<TAB>tag`; with more TAB-separated columns, the first
 *    is the token and the last the tag (CoNLL-2003 style). A line without
 *    TAB is split at runs of spaces instead (token = first field, tag =
 *    last), so space-separated files work but their tokens cannot hold
 *    spaces.
 * Errors (QAT_ERR_FORMAT, naming file and line): invalid UTF-8, a line
 * with one field (missing tag), a file without sentences.
 *
 * IOB2 (scheme QAT_DATA_TAGS_IOB2): tags must be O, B-X or I-X (X not
 * empty). An I-X that follows neither B-X nor I-X (after O, after another
 * type, or opening a sentence) is an inconsistency: real corpora hold
 * them, transformers trains on them and seqeval's default mode reads such
 * an I-X as the start of a new entity, as lib/metrics does. So by default
 * the tag is kept as written and the inconsistency counted, with the
 * file:line of the first QAT_DATA_CONLL_KEPT_ISSUES; with strict set, the
 * first one fails naming its line. */
#ifndef QAT_LIB_DATA_CONLL_H
#define QAT_LIB_DATA_CONLL_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

typedef enum qat_data_tag_scheme {
    QAT_DATA_TAGS_ANY = 0,  /* POS: any non-empty tag */
    QAT_DATA_TAGS_IOB2 = 1  /* NER */
} qat_data_tag_scheme;

typedef struct qat_data_conll_options {
    qat_data_tag_scheme scheme;
    int strict;             /* IOB2: an inconsistency fails instead of being counted */
} qat_data_conll_options;

/* How many IOB2 inconsistencies keep their description. */
#define QAT_DATA_CONLL_KEPT_ISSUES 5

typedef struct qat_data_conll qat_data_conll;

qat_status qat_data_conll_read_file(const char *path, const qat_data_conll_options *opt, qat_data_conll **out);
/* data[0, size) is copied; name is used in messages. */
qat_status qat_data_conll_read_memory(const char *data, size_t size, const char *name,
                                      const qat_data_conll_options *opt, qat_data_conll **out);
void qat_data_conll_free(qat_data_conll *c);

size_t qat_data_conll_sentence_count(const qat_data_conll *c);
size_t qat_data_conll_token_count(const qat_data_conll *c);
/* Tokens of sentence i are [first, first + length) of the token arrays. */
size_t qat_data_conll_sentence_first(const qat_data_conll *c, size_t i);
size_t qat_data_conll_sentence_length(const qat_data_conll *c, size_t i);
const char *qat_data_conll_token(const qat_data_conll *c, size_t t);
const char *qat_data_conll_tag(const qat_data_conll *c, size_t t);
uint64_t qat_data_conll_line(const qat_data_conll *c, size_t t); /* 1-based */
/* IOB2 inconsistencies read (each an I-X starting an entity), and the
 * description of the i-th for i < min(count, QAT_DATA_CONLL_KEPT_ISSUES):
 * "train.conll:502: tag 'I-CMD' follows 'B-OPT'". */
size_t qat_data_conll_iob2_issue_count(const qat_data_conll *c);
const char *qat_data_conll_iob2_issue(const qat_data_conll *c, size_t i);

#endif
