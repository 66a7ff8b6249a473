#include "dist/rank_env.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* A decimal integer in [lo, hi], the whole string (no sign games, no
 * trailing text): "2x", "", " 1" and "1e3" are refused. */
static qat_status parse_int(const char *name, const char *text, long lo, long hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end || errno == ERANGE || ((text[0] < '0' || text[0] > '9') && text[0] != '-'))
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "%s='%s' is not an integer", name, text);
    if (v < lo || v > hi)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "%s=%ld is out of range [%ld, %ld]", name, v, lo, hi);
    *out = (int)v;
    return QAT_OK;
}

/* NULL when unset; "" (set but empty) is refused by whoever parses it. */
static const char *var(qat_env_lookup get, void *user, const char *name)
{
    return get(user, name);
}

const char *qat_rank_source_name(qat_rank_source source)
{
    switch (source) {
    case QAT_RANK_SOURCE_TORCHRUN: return "RANK/WORLD_SIZE";
    case QAT_RANK_SOURCE_SLURM: return "SLURM_PROCID/SLURM_NTASKS";
    case QAT_RANK_SOURCE_NONE: break;
    }
    return "none";
}

/* rank, world and local rank from one family of variables. */
static qat_status ranks(qat_env_lookup get, void *user, const char *rank_var, const char *world_var,
                        const char *local_var, qat_rank_env *e)
{
    const char *r = var(get, user, rank_var), *w = var(get, user, world_var);
    if (!r || !w)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "%s is set but %s is not: a data-parallel job needs both",
                        r ? rank_var : world_var, r ? world_var : rank_var);
    QAT_TRY(parse_int(world_var, w, 1, INT_MAX, &e->world));
    QAT_TRY(parse_int(rank_var, r, 0, INT_MAX, &e->rank));
    if (e->rank >= e->world)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "%s=%d is not below %s=%d", rank_var, e->rank, world_var,
                        e->world);
    const char *l = var(get, user, local_var);
    /* Without a local rank, one node: the local rank is the rank. */
    e->local_rank = e->rank;
    if (l) {
        QAT_TRY(parse_int(local_var, l, 0, INT_MAX, &e->local_rank));
        if (e->local_rank >= e->world)
            return qat_fail(QAT_ERR_INVALID_ARGUMENT, "%s=%d is not below %s=%d: a node cannot hold more ranks "
                            "than the job", local_var, e->local_rank, world_var, e->world);
    }
    return QAT_OK;
}

static qat_status rendezvous(qat_env_lookup get, void *user, qat_rank_env *e)
{
    const char *addr = var(get, user, "MASTER_ADDR"), *port = var(get, user, "MASTER_PORT");
    const char *file = var(get, user, "QAT_DIST_FILE"), *timeout = var(get, user, "QAT_DIST_TIMEOUT");
    if (addr && !port)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "MASTER_ADDR=%s is set but MASTER_PORT is not", addr);
    if (port && !addr)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "MASTER_PORT=%s is set but MASTER_ADDR is not", port);
    if (addr) {
        if (!*addr)
            return qat_fail(QAT_ERR_INVALID_ARGUMENT, "MASTER_ADDR is empty");
        if (strlen(addr) >= sizeof e->master_addr)
            return qat_fail(QAT_ERR_INVALID_ARGUMENT, "MASTER_ADDR is longer than %d bytes", QAT_DIST_ADDR_MAX - 1);
        strcpy(e->master_addr, addr);
        QAT_TRY(parse_int("MASTER_PORT", port, 1, 65535, &e->master_port));
    }
    if (file) {
        if (!*file)
            return qat_fail(QAT_ERR_INVALID_ARGUMENT, "QAT_DIST_FILE is empty");
        if (strlen(file) >= sizeof e->file)
            return qat_fail(QAT_ERR_INVALID_ARGUMENT, "QAT_DIST_FILE is longer than %d bytes", QAT_DIST_PATH_MAX - 1);
        if (addr)
            return qat_fail(QAT_ERR_INVALID_ARGUMENT, "both MASTER_ADDR and QAT_DIST_FILE are set: choose one "
                            "rendezvous");
        strcpy(e->file, file);
    }
    e->timeout_s = 300.0;
    if (timeout) {
        char *end = NULL;
        double t = strtod(timeout, &end);
        if (end == timeout || *end || !isfinite(t) || t <= 0)
            return qat_fail(QAT_ERR_INVALID_ARGUMENT, "QAT_DIST_TIMEOUT='%s' is not a positive number of seconds",
                            timeout);
        e->timeout_s = t;
    }
    if (e->world > 1 && !addr && !file)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "%s gives %d ranks but no rendezvous: set MASTER_ADDR and "
                        "MASTER_PORT (as torchrun does) or QAT_DIST_FILE (a path on a file system every rank sees)",
                        qat_rank_source_name(e->source), e->world);
    return QAT_OK;
}

qat_status qat_rank_env_parse(qat_env_lookup get, void *user, qat_rank_env *out)
{
    QAT_CHECK_ARG(get != NULL && out != NULL, "qat_rank_env_parse: NULL argument");
    qat_rank_env e;
    memset(&e, 0, sizeof e);
    e.world = 1;
    qat_status st = QAT_OK;
    if (var(get, user, "RANK") || var(get, user, "WORLD_SIZE")) {
        e.source = QAT_RANK_SOURCE_TORCHRUN;
        st = ranks(get, user, "RANK", "WORLD_SIZE", "LOCAL_RANK", &e);
    } else if (var(get, user, "SLURM_PROCID") || var(get, user, "SLURM_NTASKS")) {
        e.source = QAT_RANK_SOURCE_SLURM;
        st = ranks(get, user, "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", &e);
    }
    if (st == QAT_OK)
        st = rendezvous(get, user, &e);
    if (st != QAT_OK)
        return qat_fail_prefix(st, "the data-parallel environment");
    *out = e;
    return QAT_OK;
}

static const char *process_lookup(void *user, const char *name)
{
    (void)user;
    return getenv(name);
}

qat_status qat_rank_env_from_process(qat_rank_env *out)
{
    return qat_rank_env_parse(process_lookup, NULL, out);
}
