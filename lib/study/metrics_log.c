#include "study/metrics_log.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"

/* The entry of `phase` (added when new; NULL when the table is full). */
static int64_t *last_step(qat_metrics_log *log, const char *phase)
{
    for (size_t i = 0; i < log->n_phases; i++)
        if (strcmp(log->phases[i].name, phase) == 0)
            return &log->phases[i].last_step;
    if (log->n_phases == QAT_METRICS_LOG_PHASES || strlen(phase) >= sizeof log->phases[0].name)
        return NULL;
    snprintf(log->phases[log->n_phases].name, sizeof log->phases[0].name, "%s", phase);
    log->phases[log->n_phases].last_step = INT64_MIN;
    return &log->phases[log->n_phases++].last_step;
}

static void note_line(qat_metrics_log *log, const char *line, size_t len)
{
    json_tokener *tk = json_tokener_new();
    json_object *j = tk ? json_tokener_parse_ex(tk, line, (int)len) : NULL, *phase, *step;
    if (j && json_object_object_get_ex(j, "phase", &phase) && json_object_object_get_ex(j, "step", &step) &&
        json_object_is_type(phase, json_type_string) && json_object_is_type(step, json_type_int)) {
        int64_t *last = last_step(log, json_object_get_string(phase));
        int64_t s = json_object_get_int64(step);
        if (last && s > *last)
            *last = s;
    }
    json_object_put(j);
    if (tk)
        json_tokener_free(tk);
}

qat_status qat_metrics_log_open(const char *path, qat_metrics_log *log)
{
    memset(log, 0, sizeof *log);
    char *text = NULL;
    size_t size = 0;
    if (access(path, F_OK) == 0) {
        QAT_TRY(qat_file_read(path, QAT_FILE_ANY_SIZE, &text, &size));
        size_t whole = size;
        while (whole > 0 && text[whole - 1] != '\n')
            whole--; /* a line the kill cut short */
        for (size_t at = 0; at < whole;) {
            size_t end = at;
            while (text[end] != '\n')
                end++;
            note_line(log, text + at, end - at);
            at = end + 1;
        }
        free(text);
        if (whole < size && truncate(path, (off_t)whole) != 0)
            return qat_fail(QAT_ERR_IO, "cannot cut the torn last line of %s: %s", path, strerror(errno));
    }
    log->f = fopen(path, "a");
    if (!log->f)
        return qat_fail(QAT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    return QAT_OK;
}

/* A JSON number, or null where there is none (a diverged evaluation). */
static const char *number(double x, char *buf)
{
    if (!isfinite(x))
        return "null";
    snprintf(buf, 32, "%.6g", x);
    return buf;
}

void qat_metrics_log_write(qat_metrics_log *log, const char *phase, int64_t step, double loss, double lr,
                           double norm)
{
    if (!log || !log->f)
        return;
    int64_t *last = last_step(log, phase);
    if (last && step <= *last)
        return; /* written before an interruption: the same values */
    if (last)
        *last = step;
    char value[32];
    fprintf(log->f, "{\"phase\": \"%s\", \"step\": %lld, \"loss\": %s", phase, (long long)step,
            number(loss, value));
    if (!isnan(lr)) {
        fprintf(log->f, ", \"lr\": %s", number(lr, value));
        fprintf(log->f, ", \"grad_norm\": %s", number(norm, value));
    }
    fputs("}\n", log->f);
    fflush(log->f);
}

qat_status qat_metrics_log_sync(qat_metrics_log *log)
{
    if (!log || !log->f)
        return QAT_OK;
    if (fflush(log->f) != 0 || fsync(fileno(log->f)) != 0)
        return qat_fail(QAT_ERR_IO, "cannot write metrics.jsonl: %s", strerror(errno));
    return QAT_OK;
}

void qat_metrics_log_close(qat_metrics_log *log)
{
    if (log && log->f)
        fclose(log->f);
    if (log)
        log->f = NULL;
}
