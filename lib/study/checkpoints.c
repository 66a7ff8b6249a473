#include "study/checkpoints.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_dir.h"
#include "core/error.h"
#include "train/trainer.h"

/* The band: about the last ten losses (beta), after a warm-up of as many
 * steps; its upper bound is the mean plus six mean deviations, half the
 * mean and a tenth of a nat, wide enough that the noise of small batches
 * stays inside while a blow-up (orders of magnitude) does not. */
#define BAND_WARMUP 10
#define BAND_BETA 0.9
#define BAND_DEVS 6.0
#define BAND_RELATIVE 0.5
#define BAND_SLACK 0.1

double qat_loss_band_upper(const qat_loss_band *b)
{
    if (b->seen < BAND_WARMUP)
        return INFINITY;
    return b->mean + BAND_DEVS * b->dev + BAND_RELATIVE * fabs(b->mean) + BAND_SLACK;
}

int qat_loss_band_observe(qat_loss_band *b, double loss)
{
    if (!isfinite(loss))
        return 0;
    double upper = qat_loss_band_upper(b);
    int inside = loss <= upper;
    double x = inside ? loss : upper;
    if (b->seen == 0) {
        b->mean = x;
        b->dev = 0.0;
    } else {
        b->dev = BAND_BETA * b->dev + (1.0 - BAND_BETA) * fabs(x - b->mean);
        b->mean = BAND_BETA * b->mean + (1.0 - BAND_BETA) * x;
    }
    b->seen++;
    return inside;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

qat_status qat_checkpoints_init(qat_checkpoints *c, const char *out_dir, const char *phase, qat_metrics_log *metrics,
                                int *resumable)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s/%s.state", out_dir, phase);
    snprintf(c->pending_path, sizeof c->pending_path, "%s.pending", c->path);
    c->metrics = metrics;
    c->left_band_at = -1;
    c->writes = 1;
    /* never confirmed by the next step's loss: not a state to resume from */
    if (unlink(c->pending_path) != 0 && errno != ENOENT)
        return qat_fail(QAT_ERR_IO, "cannot remove %s: %s", c->pending_path, strerror(errno));
    *resumable = exists(c->path);
    return QAT_OK;
}

static qat_status promote(qat_checkpoints *c)
{
    c->pending = 0;
    if (rename(c->pending_path, c->path) != 0)
        return qat_fail(QAT_ERR_IO, "cannot rename %s to %s: %s", c->pending_path, c->path, strerror(errno));
    c->kept_step = c->pending_step;
    c->left_band_at = -1;
    return qat_sync_parent_dir(c->path);
}

static qat_status save(qat_checkpoints *c, const qat_trainer *t, const uint64_t pos[2], const char *path)
{
    QAT_TRY(qat_metrics_log_sync(c->metrics)); /* the records of the steps the state holds */
    return qat_trainer_save(t, path, pos);
}

qat_status qat_checkpoints_step(qat_checkpoints *c, const qat_trainer *t, const uint64_t pos[2], double loss, int due)
{
    int inside = qat_loss_band_observe(&c->band, loss);
    if (!inside && c->left_band_at < 0)
        c->left_band_at = t->step;
    if (!c->writes)
        return QAT_OK;
    if (c->pending) {
        if (inside) {
            QAT_TRY(promote(c));
        } else {
            c->pending = 0; /* its weights gave a loss out of band */
            unlink(c->pending_path);
        }
    }
    if (!due || !inside)
        return QAT_OK;
    QAT_TRY(save(c, t, pos, c->pending_path));
    c->pending = 1;
    c->pending_step = t->step;
    memcpy(c->pending_pos, pos, sizeof c->pending_pos);
    return QAT_OK;
}

qat_status qat_checkpoints_stop(qat_checkpoints *c, const qat_trainer *t, const uint64_t pos[2])
{
    if (c->left_band_at >= 0 || !c->writes)
        return QAT_OK; /* keep the one from before the loss left its band */
    if (c->pending) {
        c->pending = 0;
        unlink(c->pending_path);
    }
    QAT_TRY(save(c, t, pos, c->path));
    c->kept_step = t->step;
    return QAT_OK;
}

qat_status qat_checkpoints_diverged(const qat_checkpoints *c, qat_status st, const char *phase, int64_t step)
{
    char kept[96] = "no checkpoint is kept: a resume starts the phase again";
    if (exists(c->path))
        snprintf(kept, sizeof kept, "the checkpoint of step %lld is kept", (long long)c->kept_step);
    if (c->left_band_at >= 0)
        return qat_fail_prefix(st, "%s diverged at step %lld (the loss left its running band at step %lld; %s)",
                               phase, (long long)step, (long long)c->left_band_at, kept);
    return qat_fail_prefix(st, "%s diverged at step %lld (%s)", phase, (long long)step, kept);
}

void qat_checkpoints_finish(qat_checkpoints *c)
{
    if (!c->writes)
        return;
    unlink(c->pending_path);
    unlink(c->path);
}
