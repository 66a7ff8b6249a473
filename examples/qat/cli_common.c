/* What the commands share: failing with the library's message, a context
 * on the asked backend and thread count, progress timing, directories,
 * words of a line of text. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"

int qat_cli_fail(const char *cmd, const char *what, qat_status st)
{
    fprintf(stderr, "qat %s: %s: %s (%s)\n", cmd, what, qat_last_error(), qat_status_string(st));
    return 1;
}

int64_t qat_cli_max_threads(void)
{
    int64_t lo = 0, hi = 0;
    return qat_context_param_bounds(QAT_CTX_THREADS, &lo, &hi) == QAT_OK ? hi : 0;
}

const qat_cli_choice qat_cli_precisions[] = {
    {"fp32", QAT_PRECISION_FP32}, {"tf32", QAT_PRECISION_TF32}, {"bf16", QAT_PRECISION_BF16}, {NULL, 0}};

/* torchrun starts a node's ranks with every GPU visible: each rank takes
 * the one of its LOCAL_RANK (srun --gpus-per-task sets
 * CUDA_VISIBLE_DEVICES itself). Before the context, whose backend opens the
 * device. */
static void one_gpu_per_rank(void)
{
    const char *world = getenv("WORLD_SIZE"), *local = getenv("LOCAL_RANK");
    if (world && local && atoi(world) > 1 && !getenv("CUDA_VISIBLE_DEVICES"))
        setenv("CUDA_VISIBLE_DEVICES", local, 0);
}

int qat_cli_context(const char *cmd, const char *backend, int64_t threads, int precision, qat_context **ctx)
{
    one_gpu_per_rank();
    qat_status st = qat_context_create(backend, ctx);
    if (st != QAT_OK) {
        *ctx = NULL;
        return qat_cli_fail(cmd, "cannot create a context", st);
    }
    if (threads > 0 && (st = qat_context_set_int(*ctx, QAT_CTX_THREADS, threads)) != QAT_OK) {
        qat_context_free(*ctx);
        *ctx = NULL;
        return qat_cli_fail(cmd, "bad --threads", st);
    }
    if (precision >= 0 && (st = qat_context_set_int(*ctx, QAT_CTX_PRECISION, precision)) != QAT_OK) {
        qat_context_free(*ctx);
        *ctx = NULL;
        return qat_cli_fail(cmd, "bad --precision", st);
    }
    return 0;
}

int qat_cli_comm(const char *cmd, qat_context *ctx, qat_comm **comm, int64_t *rank, int64_t *world)
{
    qat_status st = qat_comm_create_from_env(ctx, comm);
    if (st != QAT_OK)
        return qat_cli_fail(cmd, "cannot join the data-parallel job", st);
    qat_comm_get(*comm, QAT_COMM_RANK, rank);
    qat_comm_get(*comm, QAT_COMM_WORLD_SIZE, world);
    return 0;
}

int qat_cli_strict_iob(const char *cmd, qat_context *ctx, int strict)
{
    qat_status st = qat_context_set_int(ctx, QAT_CTX_STRICT_IOB2, strict ? 1 : 0);
    return st == QAT_OK ? 0 : qat_cli_fail(cmd, "bad --strict-iob", st);
}

int qat_cli_fused_attention(const char *cmd, qat_context *ctx, int fused)
{
    qat_status st = qat_context_set_int(ctx, QAT_CTX_FUSED_ATTENTION, fused ? 1 : 0);
    return st == QAT_OK ? 0 : qat_cli_fail(cmd, "bad --fused-attention", st);
}

void qat_cli_print_warnings(const char *cmd, const qat_context *ctx)
{
    size_t n = qat_context_warning_count(ctx);
    for (size_t i = 0; i < n; i++) {
        const char *w = qat_context_warning(ctx, i);
        if (!w) {
            fprintf(stderr, "qat %s: warning: %zu more\n", cmd, n - i);
            break;
        }
        fprintf(stderr, "qat %s: warning: %s\n", cmd, w);
    }
}

/* "a, b, c and 4 more" of a load report, on stderr after `lead`. */
static void print_report(const char *cmd, const qat_model *m, qat_load_report kind, const char *lead)
{
    size_t n = 0;
    if (qat_model_load_report_count(m, kind, &n) != QAT_OK || n == 0)
        return;
    fprintf(stderr, "qat %s: note: %s: ", cmd, lead);
    for (size_t i = 0; i < n && i < 6; i++) {
        const char *name = "";
        qat_model_load_report_name(m, kind, i, &name);
        fprintf(stderr, "%s%s", i ? ", " : "", name);
    }
    if (n > 6)
        fprintf(stderr, " and %zu more", n - 6);
    fputc('\n', stderr);
}

qat_status qat_cli_load_model(const char *cmd, qat_context *ctx, const char *dir, qat_task task, const char *quant,
                              int partial, qat_model **out)
{
    qat_load_options lo;
    qat_load_options_init(&lo, QAT_LOAD_OPTIONS_VERSION);
    lo.task = task;
    lo.quant = quant;
    lo.flags = partial ? QAT_LOAD_PARTIAL : 0;
    qat_status st = qat_model_load(ctx, dir, &lo, out);
    if (st != QAT_OK)
        return st;
    print_report(cmd, *out, QAT_LOAD_MISSING, "not in the checkpoint, initialised as in a new model");
    print_report(cmd, *out, QAT_LOAD_UNEXPECTED, "in the checkpoint, not used by this model");
    print_report(cmd, *out, QAT_LOAD_SKIPPED, "in the checkpoint, not float, skipped");
    return QAT_OK;
}

size_t qat_cli_split_words(char *text, const char **words, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(text, " \t\r\n", &save); tok && n < max; tok = strtok_r(NULL, " \t\r\n", &save))
        words[n++] = tok;
    return n;
}

int qat_cli_progress_step(qat_cli_progress *p, const char *phase, int64_t step, double *rate)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (strcmp(p->phase, phase) != 0) {
        if (p->tty && p->phase[0])
            fputc('\n', stderr);
        snprintf(p->phase, sizeof p->phase, "%s", phase);
        p->start = now;
        return 1;
    }
    double elapsed = (double)(now.tv_sec - p->start.tv_sec) + 1e-9 * (double)(now.tv_nsec - p->start.tv_nsec);
    *rate = (double)step / (elapsed > 0 ? elapsed : 1e-9);
    return 0;
}

int qat_cli_mkdirs(const char *path)
{
    char buf[PATH_MAX + 64];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int qat_cli_file_exists(const char *dir, const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}
