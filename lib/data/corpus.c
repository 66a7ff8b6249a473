/* The corpus reader: bytes -> lines -> UTF-8 checked, stripped, segmented
 * records. Memory is bounded by max_chars, not by the longest line: a long
 * line is cut as soon as it holds max_chars + 1 characters. */
#include "data/corpus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "core/utf8.h"

#define INPUT_SIZE (1 << 16)

struct qat_data_corpus {
    char *name;
    gzFile gz;                 /* NULL for a memory source */
    const uint8_t *mem;
    size_t mem_size, mem_pos;
    qat_data_corpus_options opt;

    uint8_t *in;
    size_t in_len, in_pos;
    uint64_t offset;           /* uncompressed bytes consumed */
    int eof;

    /* the line being read */
    uint64_t line, line_start, seg_done, seg_skip;
    int line_open;             /* bytes of the current line consumed */
    qat_utf8_dec dec;

    /* characters of the current line not yet returned: no leading space */
    char *acc;
    size_t acc_len, acc_cap, acc_chars;
    size_t ws_byte, ws_len;    /* last white space in acc (ws_len 0: none) */

    char *out;                 /* the record handed out */
    size_t out_cap;
    qat_data_corpus_stats stats;
};

void qat_data_corpus_options_init(qat_data_corpus_options *opt)
{
    opt->max_chars = QAT_DATA_MAX_CHARS_DEFAULT;
    opt->utf8 = QAT_DATA_UTF8_REPLACE;
}

static qat_status create(const char *name, const qat_data_corpus_options *opt, qat_data_corpus **out)
{
    qat_data_corpus *c = calloc(1, sizeof *c);
    if (!c)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "corpus: out of memory");
    if (opt)
        c->opt = *opt;
    else
        qat_data_corpus_options_init(&c->opt);
    if (c->opt.max_chars == 0)
        c->opt.max_chars = QAT_DATA_MAX_CHARS_DEFAULT;
    c->name = strdup(name ? name : "<memory>");
    c->in = malloc(INPUT_SIZE);
    c->acc_cap = 4 * (c->opt.max_chars + 2);
    c->acc = malloc(c->acc_cap);
    c->out_cap = c->acc_cap + 1;
    c->out = malloc(c->out_cap);
    if (!c->name || !c->in || !c->acc || !c->out) {
        qat_data_corpus_close(c);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "corpus: out of memory");
    }
    *out = c;
    return QAT_OK;
}

qat_status qat_data_corpus_open(const char *path, const qat_data_corpus_options *opt, qat_data_corpus **out)
{
    QAT_CHECK_ARG(out != NULL, "corpus: NULL output");
    *out = NULL;
    QAT_CHECK_ARG(path != NULL, "corpus: NULL path");
    QAT_CHECK_ARG(!opt || opt->utf8 == QAT_DATA_UTF8_REPLACE || opt->utf8 == QAT_DATA_UTF8_ERROR,
                  "corpus: unknown UTF-8 policy %d", (int)opt->utf8);
    qat_data_corpus *c;
    QAT_TRY(create(path, opt, &c));
    errno = 0;
    c->gz = gzopen(path, "rb");
    if (!c->gz) {
        qat_status st = qat_fail(QAT_ERR_IO, "corpus: cannot open %s: %s", path, errno ? strerror(errno) : "zlib error");
        qat_data_corpus_close(c);
        return st;
    }
    gzbuffer(c->gz, 1 << 17);
    *out = c;
    return QAT_OK;
}

qat_status qat_data_corpus_open_memory(const void *data, size_t size, const char *name,
                                       const qat_data_corpus_options *opt, qat_data_corpus **out)
{
    QAT_CHECK_ARG(out != NULL, "corpus: NULL output");
    *out = NULL;
    QAT_CHECK_ARG(data != NULL || size == 0, "corpus: NULL data");
    qat_data_corpus *c;
    QAT_TRY(create(name, opt, &c));
    c->mem = data;
    c->mem_size = size;
    *out = c;
    return QAT_OK;
}

void qat_data_corpus_close(qat_data_corpus *c)
{
    if (!c)
        return;
    if (c->gz)
        gzclose(c->gz);
    free(c->name);
    free(c->in);
    free(c->acc);
    free(c->out);
    free(c);
}

static qat_status refill(qat_data_corpus *c)
{
    c->in_pos = 0;
    c->in_len = 0;
    if (!c->gz) {
        size_t n = c->mem_size - c->mem_pos;
        if (n > INPUT_SIZE)
            n = INPUT_SIZE;
        if (n)
            memcpy(c->in, c->mem + c->mem_pos, n);
        c->mem_pos += n;
        c->in_len = n;
        c->eof = n == 0;
        return QAT_OK;
    }
    int r = gzread(c->gz, c->in, INPUT_SIZE);
    if (r > 0) {
        c->in_len = (size_t)r;
        return QAT_OK;
    }
    int err = Z_OK;
    const char *msg = gzerror(c->gz, &err);
    if (r < 0 || (err != Z_OK && err != Z_STREAM_END))
        return qat_fail(QAT_ERR_FORMAT,
                        "corpus %s: corrupt or truncated gzip data after %llu uncompressed bytes (line %llu): %s",
                        c->name, (unsigned long long)c->offset, (unsigned long long)c->line + 1, msg);
    c->eof = 1;
    return QAT_OK;
}

/* Copies acc[0, n) to the output, without trailing white space; returns 0
 * when nothing is left. */
static size_t rstrip_len(const char *s, size_t n)
{
    while (n > 0) {
        size_t start = n - 1;
        while (start > 0 && ((unsigned char)s[start] & 0xC0) == 0x80)
            start--;
        qat_utf8_dec d;
        qat_utf8_reset(&d);
        uint32_t cp = 0;
        for (size_t i = start; i < n; i++)
            qat_utf8_feed(&d, (uint8_t)s[i], &cp);
        if (!qat_utf8_is_space(cp))
            break;
        n = start;
    }
    return n;
}

/* Rebuilds acc from acc[from, acc_len), without leading white space, and
 * recounts its characters and last white space. */
static void keep_tail(qat_data_corpus *c, size_t from)
{
    size_t n = c->acc_len - from;
    memmove(c->acc, c->acc + from, n);
    c->acc_len = 0;
    c->acc_chars = 0;
    c->ws_len = 0;
    qat_utf8_dec d;
    qat_utf8_reset(&d);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp;
        if (qat_utf8_feed(&d, (uint8_t)c->acc[i], &cp) != QAT_UTF8_CHAR)
            continue;
        size_t len = i + 1 - start;
        if (qat_utf8_is_space(cp)) {
            if (c->acc_len > 0) {
                c->ws_byte = c->acc_len;
                c->ws_len = len;
            }
        }
        if (c->acc_len > 0 || !qat_utf8_is_space(cp)) {
            memmove(c->acc + c->acc_len, c->acc + start, len);
            c->acc_len += len;
            c->acc_chars++;
        }
        start = i + 1;
    }
}

/* Hands acc[0, n) out (stripped). Returns 1 when a record was produced. */
static int emit(qat_data_corpus *c, size_t n)
{
    n = rstrip_len(c->acc, n);
    if (n == 0)
        return 0;
    memcpy(c->out, c->acc, n);
    c->out[n] = '\0';
    return 1;
}

/* Adds one character; cuts when the line holds max_chars + 1 of them.
 * Returns 1 when a segment is ready in out (its length in *len). */
static int add_char(qat_data_corpus *c, uint32_t cp, size_t *len)
{
    if (cp == 0)
        cp = ' ';
    int space = qat_utf8_is_space(cp);
    if (space && c->acc_len == 0)
        return 0;
    size_t n = qat_utf8_encode(cp, c->acc + c->acc_len);
    if (space) {
        c->ws_byte = c->acc_len;
        c->ws_len = n;
    }
    c->acc_len += n;
    c->acc_chars++;
    if (c->acc_chars <= c->opt.max_chars)
        return 0;
    /* Over the limit: cut at the last white space (index <= max_chars),
     * else right before the character just added. */
    size_t seg_end, rest;
    if (c->ws_len > 0) {
        seg_end = c->ws_byte;
        rest = c->ws_byte + c->ws_len;
    } else {
        seg_end = c->acc_len - n;
        rest = seg_end;
        c->stats.hard_cuts++;
    }
    if (c->seg_done == 0 && c->seg_skip == 0)
        c->stats.cut_lines++;
    size_t m = rstrip_len(c->acc, seg_end);
    int ready = m > 0;
    if (ready) {
        memcpy(c->out, c->acc, m);
        c->out[m] = '\0';
        *len = m;
    }
    keep_tail(c, rest);
    return ready;
}

static qat_status bad_utf8(qat_data_corpus *c)
{
    return qat_fail(QAT_ERR_FORMAT, "corpus %s: line %llu: invalid UTF-8 near uncompressed byte offset %llu",
                    c->name, (unsigned long long)c->line + 1, (unsigned long long)c->offset - 1);
}

/* A character (or U+FFFD) for the line; applies the UTF-8 policy. */
static qat_status put(qat_data_corpus *c, uint32_t cp, int bad, int *ready, size_t *len)
{
    if (bad) {
        if (c->opt.utf8 == QAT_DATA_UTF8_ERROR)
            return bad_utf8(c);
        c->stats.replacements++;
        cp = QAT_UTF8_REPLACEMENT;
    }
    *ready = add_char(c, cp, len);
    return QAT_OK;
}

static void end_line(qat_data_corpus *c)
{
    c->line++;
    c->line_start = c->offset;
    c->seg_done = 0;
    c->seg_skip = 0;
    c->line_open = 0;
    c->acc_len = c->acc_chars = c->ws_len = 0;
    c->stats.lines++;
}

/* A segment was produced: hand it out unless resuming skips it. */
static int deliver(qat_data_corpus *c, int ready)
{
    if (!ready)
        return 0;
    if (c->seg_skip > 0) {
        c->seg_skip--;
        c->seg_done++;
        return 0;
    }
    c->seg_done++;
    c->stats.records++;
    return 1;
}

qat_status qat_data_corpus_next(qat_data_corpus *c, const char **text, size_t *len)
{
    QAT_CHECK_ARG(c != NULL && text != NULL && len != NULL, "corpus: NULL argument");
    *text = NULL;
    *len = 0;
    for (;;) {
        if (c->in_pos == c->in_len) {
            if (!c->eof)
                QAT_TRY(refill(c));
            if (c->in_pos == c->in_len) {
                /* End of input: an unterminated last line still counts. */
                if (!c->line_open)
                    return QAT_OK;
                int ready = 0;
                size_t n = 0;
                if (qat_utf8_finish(&c->dec))
                    QAT_TRY(put(c, 0, 1, &ready, &n));
                if (ready && deliver(c, 1)) {
                    *text = c->out; /* the line's tail comes next call */
                    *len = n;
                    return QAT_OK;
                }
                n = rstrip_len(c->acc, c->acc_len);
                int got = deliver(c, emit(c, c->acc_len));
                end_line(c);
                if (got) {
                    *text = c->out;
                    *len = n;
                }
                return QAT_OK;
            }
        }
        uint8_t b = c->in[c->in_pos++];
        c->offset++;
        c->line_open = 1;
        if (b == '\n') {
            int ready = 0;
            size_t n = 0;
            if (qat_utf8_finish(&c->dec))
                QAT_TRY(put(c, 0, 1, &ready, &n));
            /* A cut on that last U+FFFD leaves a tail to emit as well; the
             * tail then waits for the next call (rare enough). */
            if (ready) {
                if (deliver(c, 1)) {
                    *text = c->out;
                    *len = n;
                    c->in_pos--; /* read the newline again */
                    c->offset--;
                    return QAT_OK;
                }
            }
            n = rstrip_len(c->acc, c->acc_len);
            int got = deliver(c, emit(c, c->acc_len));
            end_line(c);
            if (got) {
                *text = c->out;
                *len = n;
                return QAT_OK;
            }
            continue;
        }
        uint32_t cp;
        int r;
        do {
            r = qat_utf8_feed(&c->dec, b, &cp);
            int ready = 0;
            size_t n = 0;
            if (r == QAT_UTF8_CHAR)
                QAT_TRY(put(c, cp, 0, &ready, &n));
            else if (r == QAT_UTF8_BAD || r == QAT_UTF8_BAD_AGAIN)
                QAT_TRY(put(c, 0, 1, &ready, &n));
            if (deliver(c, ready)) {
                if (r == QAT_UTF8_BAD_AGAIN) {
                    c->in_pos--; /* the byte is decoded anew next call */
                    c->offset--;
                }
                *text = c->out;
                *len = n;
                return QAT_OK;
            }
        } while (r == QAT_UTF8_BAD_AGAIN);
    }
}

void qat_data_corpus_position(const qat_data_corpus *c, qat_data_corpus_pos *pos)
{
    pos->offset = c->line_start;
    pos->line = c->line;
    pos->segment = c->seg_done;
}

qat_status qat_data_corpus_seek(qat_data_corpus *c, const qat_data_corpus_pos *pos)
{
    QAT_CHECK_ARG(c != NULL && pos != NULL, "corpus: NULL argument");
    if (c->gz) {
        if (gzrewind(c->gz) != 0 || (pos->offset > 0 && gzseek(c->gz, (z_off_t)pos->offset, SEEK_SET) < 0)) {
            int err;
            return qat_fail(QAT_ERR_FORMAT, "corpus %s: cannot seek to byte %llu: %s", c->name,
                            (unsigned long long)pos->offset, gzerror(c->gz, &err));
        }
    } else {
        QAT_CHECK_ARG(pos->offset <= c->mem_size, "corpus %s: offset %llu is past the end (%zu bytes)", c->name,
                      (unsigned long long)pos->offset, c->mem_size);
        c->mem_pos = (size_t)pos->offset;
    }
    c->in_pos = c->in_len = 0;
    c->eof = 0;
    c->offset = pos->offset;
    c->line = pos->line;
    c->line_start = pos->offset;
    c->seg_done = 0;
    c->seg_skip = pos->segment;
    c->line_open = 0;
    c->acc_len = c->acc_chars = c->ws_len = 0;
    qat_utf8_reset(&c->dec);
    return QAT_OK;
}

void qat_data_corpus_stats_get(const qat_data_corpus *c, qat_data_corpus_stats *stats)
{
    *stats = c->stats;
}
