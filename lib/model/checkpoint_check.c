#include "model/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int qat_checkpoint_map_name(const qat_model *m, const char *name, size_t *index)
{
    static const char *const prefixes[] = {"roberta.", "camembert.", "xlm-roberta.", "bert.", ""};
    const char *base = m->dims.arch == QAT_ARCH_BERT ? "bert." : "roberta.";
    for (size_t p = 0; p < sizeof prefixes / sizeof *prefixes; p++) {
        size_t n = strlen(prefixes[p]);
        if (strncmp(name, prefixes[p], n) != 0)
            continue;
        const char *rest = name + n;
        if (strncmp(rest, "embeddings.", 11) != 0 && strncmp(rest, "encoder.", 8) != 0 &&
            strncmp(rest, "pooler.", 7) != 0) {
            if (n == 0)
                break; /* a head name, looked up as it is below */
            continue;
        }
        char full[QAT_PARAM_NAME_MAX];
        if ((size_t)snprintf(full, sizeof full, "%s%s", base, rest) >= sizeof full)
            return 0;
        for (size_t i = 0; i < m->n_params; i++)
            if (strcmp(m->params[i].name, full) == 0) {
                *index = i;
                return 1;
            }
        return 0;
    }
    if (qat_model_find_param(m, name, index) == QAT_OK)
        return 1;
    qat_clear_error();
    return 0;
}

int qat_checkpoint_fits(const qat_param *p, const qat_tensor *t)
{
    int fits = t->numel == p->numel && (t->ndim == p->ndim || (p->is_step && t->numel == 1));
    for (int d = 0; fits && !p->is_step && d < p->ndim; d++)
        fits = t->shape[d] == p->shape[d];
    return fits;
}

int qat_checkpoint_is_encoder(const qat_model *m, const qat_param *p)
{
    const char *base = m->dims.arch == QAT_ARCH_BERT ? "bert." : "roberta.";
    size_t n = strlen(base);
    return !p->is_step && strncmp(p->name, base, n) == 0 && strncmp(p->name + n, "pooler.", 7) != 0;
}

static const char *shape_text(int ndim, const int64_t *shape, char *buf, size_t cap)
{
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && at < cap; d++)
        at += (size_t)snprintf(buf + at, cap - at, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
    return buf;
}

/* Which parameters the set holds, each tensor's shape checked. */
static qat_status match(const qat_model *m, const qat_tensor_set *set, unsigned char *found)
{
    for (size_t i = 0; i < qat_tensor_set_count(set); i++) {
        const qat_tensor *t = qat_tensor_set_at(set, i);
        size_t index;
        if (!qat_checkpoint_map_name(m, t->name, &index))
            continue;
        const qat_param *p = &m->params[index];
        if (!qat_checkpoint_fits(p, t)) {
            char a[160], b[160];
            return qat_fail(QAT_ERR_FORMAT, "checkpoint tensor '%s' is %s, but config.json makes the model's %s %s",
                            t->name, shape_text(t->ndim, t->shape, a, sizeof a), p->name,
                            shape_text(p->ndim, p->shape, b, sizeof b));
        }
        found[index] = 1;
    }
    return QAT_OK;
}

static qat_status coverage(const qat_model *m, const qat_tensor_set *set, const unsigned char *found, int partial)
{
    size_t n_encoder = 0, n_missing = 0;
    int64_t missing_values = 0, held_values = 0;
    char names[400] = "";
    for (size_t i = 0; i < m->n_params; i++) {
        if (!qat_checkpoint_is_encoder(m, &m->params[i]))
            continue;
        n_encoder++;
        if (found[i])
            continue;
        missing_values += m->params[i].numel;
        if (n_missing++ < 3) {
            size_t at = strlen(names);
            snprintf(names + at, sizeof names - at, "%s%s", at ? ", " : "", m->params[i].name);
        }
    }
    for (size_t i = 0; i < qat_tensor_set_count(set); i++)
        held_values += qat_tensor_set_at(set, i)->numel;
    if (n_missing == 0)
        return QAT_OK;
    if (!partial)
        return qat_fail(QAT_ERR_FORMAT,
                        "the checkpoint holds %zu of the model's %zu encoder tensors (missing: %s%s; %zu tensors "
                        "skipped as not float): loading it would leave them random. Ask for a partial load if "
                        "that is meant (QAT_LOAD_PARTIAL, --allow-partial, partial=True)",
                        n_encoder - n_missing, n_encoder, names, n_missing > 3 ? " and more" : "",
                        qat_tensor_set_skipped_count(set));
    if (missing_values > held_values && missing_values > (1 << 20))
        return qat_fail(QAT_ERR_FORMAT,
                        "a partial load would leave %lld encoder values random (missing: %s%s), more than the "
                        "%lld the checkpoint holds: config.json does not describe these weights",
                        (long long)missing_values, names, n_missing > 3 ? " and more" : "", (long long)held_values);
    return QAT_OK;
}

qat_status qat_checkpoint_check(const qat_model_dims *dims, qat_task task, int64_t num_labels,
                                const qat_tensor_set *set, int partial)
{
    /* A skeleton: the parameter table of the model, no buffers. */
    qat_model *m = calloc(1, sizeof *m);
    if (!m)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "load: out of memory");
    m->dims = *dims;
    m->task = task;
    m->num_labels = qat_task_has_labels(task) ? num_labels : 0;
    qat_quant_config_init_fp32(&m->quant);
    m->layers = calloc((size_t)(dims->num_layers ? dims->num_layers : 1), sizeof *m->layers);
    qat_status st = m->layers ? qat_model_layout_plan(m) : qat_fail(QAT_ERR_OUT_OF_MEMORY, "load: out of memory");
    unsigned char *found = st == QAT_OK ? calloc(m->n_params ? m->n_params : 1, 1) : NULL;
    if (st == QAT_OK && !found)
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "load: out of memory");
    if (st == QAT_OK)
        st = match(m, set, found);
    if (st == QAT_OK)
        st = coverage(m, set, found, partial);
    free(found);
    free(m->params);
    free(m->layers);
    free(m);
    return st;
}
