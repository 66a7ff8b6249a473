/* Training-state files: everything a resumed run needs to continue
 * bit-identically, deflate-compressed with a CRC, written atomically.
 *
 *   "QATSTATE" | u32 version (1) | u32 0 | zlib stream of the payload |
 *   u64 payload bytes | u32 crc32 of the payload
 * payload: u64 layout hash, u64 floats, i64 step, i64 total steps,
 *          u64 rng[4], u64 data position[2], u8 step-initialised flag per
 *          parameter, then weights, exp_avg, exp_avg_sq (floats): the same
 *          bytes whichever backend held them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/crc32.h"
#include "core/error.h"
#include "core/file_io.h"
#include "train/trainer.h"

/* The state's tensors (weights, AdamW's moments) live in backend memory:
 * save downloads them one at a time through one host buffer, resume
 * uploads them, so a state saved on one backend resumes on any other. */
static qat_status transfer(const qat_model *m, int up, void *dst, const void *src, size_t bytes, const char *what)
{
    const qat_context *ctx = m->ctx;
    const struct qat_backend_ops *ops = ctx->backend.ops;
    return qat_context_backend_error(
        ctx, up ? ops->upload(ctx->backend_state, dst, src, bytes) : ops->download(ctx->backend_state, dst, src, bytes),
        what);
}

#define STATE_MAGIC "QATSTATE"
#define STATE_VERSION 1u
#define CHUNK (1u << 20)

typedef struct writer {
    z_stream z;
    qat_atomic_file *file;
    uint8_t *out;
    uint64_t raw;
    uint32_t crc;
} writer;

static qat_status write_some(writer *w, const void *data, size_t n, int flush)
{
    const uint8_t *p = data;
    size_t left = n;
    do {
        size_t piece = left > CHUNK ? CHUNK : left;
        w->crc = (uint32_t)crc32(w->crc, p, (uInt)piece);
        w->z.next_in = (Bytef *)p;
        w->z.avail_in = (uInt)piece;
        int mode = flush && piece == left ? Z_FINISH : Z_NO_FLUSH;
        do {
            w->z.next_out = w->out;
            w->z.avail_out = CHUNK;
            if (deflate(&w->z, mode) == Z_STREAM_ERROR)
                return qat_fail(QAT_ERR_INTERNAL, "training state: deflate failed");
            QAT_TRY(qat_atomic_write(w->file, w->out, CHUNK - w->z.avail_out));
        } while (w->z.avail_out == 0);
        p += piece;
        left -= piece;
        w->raw += piece;
    } while (left > 0);
    return QAT_OK;
}

static void step_flags(const qat_model *m, uint8_t *flags)
{
    for (size_t i = 0; i < m->n_params; i++)
        flags[i] = (uint8_t)(m->params[i].is_step && m->params[i].ready);
}

QAT_API qat_status qat_trainer_save(const qat_trainer *t, const char *path, const uint64_t data_position[2])
{
    QAT_CHECK_ARG(t != NULL && path != NULL, "qat_trainer_save: NULL trainer or path");
    const qat_model *m = t->model;
    const size_t floats = m->total * sizeof(float);
    uint8_t *flags = malloc(m->n_params ? m->n_params : 1);
    uint8_t *out = malloc(CHUNK);
    float *host = malloc(floats ? floats : 1);
    if (!flags || !out || !host) {
        free(flags);
        free(out);
        free(host);
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_trainer_save: out of memory");
    }
    step_flags(m, flags);
    qat_atomic_file file;
    qat_status st = qat_atomic_open(path, &file);
    if (st != QAT_OK) {
        free(flags);
        free(out);
        free(host);
        return st;
    }
    writer w = {.file = &file, .out = out, .crc = (uint32_t)crc32(0, NULL, 0)};
    deflateInit(&w.z, 6);
    uint32_t head[2] = {STATE_VERSION, 0};
    st = qat_atomic_write(&file, STATE_MAGIC, 8);
    if (st == QAT_OK)
        st = qat_atomic_write(&file, head, sizeof head);
    uint64_t fixed[2] = {qat_trainer_layout_hash(m), (uint64_t)m->total};
    int64_t steps[2] = {t->step, t->schedule.total_steps};
    uint64_t zero_pos[2] = {0, 0};
    if (st == QAT_OK) st = write_some(&w, fixed, sizeof fixed, 0);
    if (st == QAT_OK) st = write_some(&w, steps, sizeof steps, 0);
    if (st == QAT_OK) st = write_some(&w, m->ctx->rng.s, sizeof m->ctx->rng.s, 0);
    if (st == QAT_OK) st = write_some(&w, data_position ? data_position : zero_pos, 2 * sizeof(uint64_t), 0);
    if (st == QAT_OK) st = write_some(&w, flags, m->n_params, 0);
    const float *tensors[3] = {m->w, t->optim.exp_avg, t->optim.exp_avg_sq};
    for (int i = 0; i < 3 && st == QAT_OK; i++) {
        st = transfer(m, 0, host, tensors[i], floats, "saving the training state");
        if (st == QAT_OK)
            st = write_some(&w, host, floats, i == 2);
    }
    deflateEnd(&w.z);
    if (st == QAT_OK) st = qat_atomic_write(&file, &w.raw, sizeof w.raw);
    if (st == QAT_OK) st = qat_atomic_write(&file, &w.crc, sizeof w.crc);
    if (st == QAT_OK)
        st = qat_atomic_commit(&file);
    else
        qat_atomic_abort(&file);
    free(flags);
    free(out);
    free(host);
    return st;
}

/* The payload of a state file held in memory, into a fresh buffer, after
 * checking size and CRC. The size the trailer claims must be `want`, this
 * model's, before anything is allocated for it: a file cannot make the
 * reader allocate more than the model it is resumed into holds. */
static qat_status read_payload(const uint8_t *data, size_t size, const char *label, uint64_t want,
                               uint8_t **payload)
{
    const size_t start = 16; /* magic, version, reserved */
    if (size < start || memcmp(data, STATE_MAGIC, 8) != 0)
        return qat_fail(QAT_ERR_FORMAT, "%s is not a libqat training state (bad magic)", label);
    uint32_t head[2];
    memcpy(head, data + 8, sizeof head);
    if (head[0] != STATE_VERSION)
        return qat_fail(QAT_ERR_UNSUPPORTED, "%s: training state version %u, this libqat reads %u", label, head[0],
                        STATE_VERSION);
    if (size - start < 12)
        return qat_fail(QAT_ERR_FORMAT, "%s: truncated training state", label);
    uint64_t raw;
    uint32_t crc;
    memcpy(&raw, data + size - 12, 8);
    memcpy(&crc, data + size - 4, 4);
    if (raw != want)
        return qat_fail(QAT_ERR_STATE, "%s holds a state of %llu bytes, this model's has %llu: it was saved for "
                        "another model or quant config", label, (unsigned long long)raw, (unsigned long long)want);
    uint8_t *out = malloc(raw ? (size_t)raw : 1);
    if (!out)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    uLongf dest = (uLongf)raw;
    int zr = uncompress(out, &dest, data + start, (uLong)(size - start - 12));
    qat_status st = QAT_OK;
    if (zr != Z_OK || dest != raw)
        st = qat_fail(QAT_ERR_FORMAT, "%s: corrupt compressed data (zlib %d)", label, zr);
    else if (qat_crc32(out, (size_t)raw) != crc)
        st = qat_fail(QAT_ERR_FORMAT, "%s: CRC mismatch, the file is damaged", label);
    if (st != QAT_OK) {
        free(out);
        return st;
    }
    *payload = out;
    return QAT_OK;
}

qat_status qat_trainer_resume_memory(qat_trainer *t, const uint8_t *data, size_t size, const char *label,
                                     uint64_t data_position[2])
{
    QAT_CHECK_ARG(t != NULL && (data != NULL || size == 0) && label != NULL, "resume: NULL argument");
    qat_model *m = t->model;
    const size_t floats = m->total * sizeof(float);
    const uint64_t want = 16 + 16 + 32 + 16 + m->n_params + 3 * (uint64_t)floats;
    uint8_t *p = NULL;
    QAT_TRY(read_payload(data, size, label, want, &p));
    uint64_t fixed[2];
    memcpy(fixed, p, sizeof fixed);
    qat_status st = QAT_OK;
    if (fixed[0] != qat_trainer_layout_hash(m) || fixed[1] != m->total)
        st = qat_fail(QAT_ERR_STATE, "%s was saved for another model or quant config (its parameter layout "
                      "differs from this model's)", label);
    if (st == QAT_OK) {
        const uint8_t *q = p + 16;
        int64_t steps[2];
        memcpy(steps, q, 16);
        q += 16;
        memcpy(m->ctx->rng.s, q, 32);
        q += 32;
        if (data_position)
            memcpy(data_position, q, 16);
        q += 16;
        const uint8_t *flags = q;
        q += m->n_params;
        float *tensors[3] = {m->w, t->optim.exp_avg, t->optim.exp_avg_sq};
        for (int i = 0; i < 3 && st == QAT_OK; i++)
            st = transfer(m, 1, tensors[i], q + i * floats, floats, "resuming the training state");
        qat_model_weights_changed(m);
        if (st == QAT_OK)
            t->step = steps[0];
        for (size_t i = 0; st == QAT_OK && i < m->n_params; i++)
            if (flags[i])
                qat_model_mark_step_initialized(m, i);
    }
    free(p);
    return st;
}

QAT_API qat_status qat_trainer_resume(qat_trainer *t, const char *path, uint64_t data_position[2])
{
    QAT_CHECK_ARG(t != NULL && path != NULL, "qat_trainer_resume: NULL trainer or path");
    qat_mapped_file f;
    qat_status st = qat_file_map(path, &f);
    if (st != QAT_OK)
        return qat_fail_prefix(st, "cannot open training state %s", path);
    st = qat_trainer_resume_memory(t, f.data, f.size, path, data_position);
    qat_file_unmap(&f);
    return st;
}
