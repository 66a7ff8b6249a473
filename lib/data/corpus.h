/* Streaming reader for pre-training corpora: plain or gzip'ed UTF-8 text
 * (zlib's gzread reads both; concatenated gzip members too), one document
 * per line, of any size, in bounded memory.
 *
 * What a record is. Each line is stripped of leading/trailing white space
 * (CRLF endings included); blank lines are skipped. A line longer than
 * max_chars characters (code points, default 2000) is cut into segments:
 * each cut happens at the last white space within the first max_chars + 1
 * characters (the white space run is dropped), or, when there is none, right
 * after max_chars characters, which is always a UTF-8 boundary. Each segment
 * is one record. NUL bytes become spaces.
 *
 * Invalid UTF-8: QAT_DATA_UTF8_REPLACE (default) writes one U+FFFD per
 * maximal ill-formed subpart, as Python's errors="replace", and counts it;
 * QAT_DATA_UTF8_ERROR fails with QAT_ERR_FORMAT naming the line and offset.
 *
 * Position. After each record the reader can report where it stands: the
 * byte offset of the current line in the uncompressed stream, its number,
 * and how many segments of it were returned. Seeking to such a position
 * resumes exactly after that record (gzip streams are re-inflated up to
 * the offset, which costs time but no memory). */
#ifndef QAT_LIB_DATA_CORPUS_H
#define QAT_LIB_DATA_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "qat/core.h"

#define QAT_DATA_MAX_CHARS_DEFAULT 2000

typedef enum qat_data_utf8_policy {
    QAT_DATA_UTF8_REPLACE = 0,
    QAT_DATA_UTF8_ERROR = 1
} qat_data_utf8_policy;

typedef struct qat_data_corpus_options {
    size_t max_chars;            /* 0 = 2000 */
    qat_data_utf8_policy utf8;
} qat_data_corpus_options;

typedef struct qat_data_corpus_pos {
    uint64_t offset;   /* uncompressed byte offset of the line's start */
    uint64_t line;     /* 0-based line number */
    uint64_t segment;  /* segments of that line already returned */
} qat_data_corpus_pos;

typedef struct qat_data_corpus_stats {
    uint64_t lines;          /* lines read (blank ones included) */
    uint64_t records;        /* records returned */
    uint64_t cut_lines;      /* lines longer than max_chars */
    uint64_t hard_cuts;      /* cuts without white space */
    uint64_t replacements;   /* U+FFFD written for invalid UTF-8 */
} qat_data_corpus_stats;

typedef struct qat_data_corpus qat_data_corpus;

void qat_data_corpus_options_init(qat_data_corpus_options *opt);
/* opt may be NULL (defaults). */
qat_status qat_data_corpus_open(const char *path, const qat_data_corpus_options *opt, qat_data_corpus **out);
/* Reads from memory (borrowed; uncompressed), for tests and fuzzing. */
qat_status qat_data_corpus_open_memory(const void *data, size_t size, const char *name,
                                       const qat_data_corpus_options *opt, qat_data_corpus **out);
void qat_data_corpus_close(qat_data_corpus *c);

/* Next record: *text (NUL-terminated, valid until the next call) and *len
 * in bytes; *text = NULL at the end of the input. */
qat_status qat_data_corpus_next(qat_data_corpus *c, const char **text, size_t *len);
/* Where the reader stands: after the last record returned. */
void qat_data_corpus_position(const qat_data_corpus *c, qat_data_corpus_pos *pos);
/* Resumes at a position obtained from qat_data_corpus_position(). */
qat_status qat_data_corpus_seek(qat_data_corpus *c, const qat_data_corpus_pos *pos);
void qat_data_corpus_stats_get(const qat_data_corpus *c, qat_data_corpus_stats *stats);

#endif
