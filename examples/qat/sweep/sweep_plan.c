/* Jobs and costs of a grid's plan (see sweep_plan.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_plan.h"

static int needs_dapt(double alpha)
{
    return alpha == SWEEP_ALPHA_AUTO || alpha > 0;
}

int64_t sweep_plan_dapt_schedule(const sweep_grid *g)
{
    int64_t s = 0;
    for (size_t i = 0; i < g->n_alphas; i++) {
        double a = g->alphas[i] == SWEEP_ALPHA_AUTO ? g->adaptive.alpha_max : g->alphas[i];
        int64_t steps = (int64_t)llround(a * (double)g->total_steps);
        if (steps > s)
            s = steps;
    }
    return s;
}

size_t sweep_plan_dapt_count(const sweep_grid *g)
{
    if (g->plan != SWEEP_PLAN_SHARED_PREFIX || sweep_plan_dapt_schedule(g) == 0)
        return 0;
    return g->n_models * g->n_configs * g->n_seeds;
}

void sweep_plan_dapt_job(const sweep_grid *g, size_t index, sweep_dapt_job *job)
{
    memset(job, 0, sizeof *job);
    job->index = index;
    size_t i = index;
    job->seed = g->seeds[i % g->n_seeds];
    i /= g->n_seeds;
    job->config = g->configs[i % g->n_configs];
    i /= g->n_configs;
    job->model = &g->models[i];
    snprintf(job->id, sizeof job->id, "_dapt/%s/%s/s%llu", job->model->name, job->config,
             (unsigned long long)job->seed);
    snprintf(job->out_dir, sizeof job->out_dir, "%s/%s", g->root, job->id);
}

long sweep_plan_cell_dapt(const sweep_grid *g, const sweep_cell *c)
{
    if (sweep_plan_dapt_count(g) == 0 || !needs_dapt(c->alpha) ||
        llround((c->alpha == SWEEP_ALPHA_AUTO ? 1.0 : c->alpha) * (double)g->total_steps) == 0)
        return -1;
    size_t m = (size_t)(c->model - g->models), k = 0, s = 0;
    while (k < g->n_configs && strcmp(g->configs[k], c->config))
        k++;
    while (s < g->n_seeds && g->seeds[s] != c->seed)
        s++;
    return (long)((m * g->n_configs + k) * g->n_seeds + s);
}

int sweep_plan_find_dapt(const sweep_grid *g, const char *key, size_t *index, char *err, size_t errcap)
{
    size_t n = sweep_plan_dapt_count(g);
    if (n == 0) {
        snprintf(err, errcap, "the grid has no DAPT job (plan: %s%s)",
                 g->plan == SWEEP_PLAN_SHARED_PREFIX ? "shared-prefix" : "per-alpha",
                 g->plan == SWEEP_PLAN_SHARED_PREFIX ? ", no alpha needs DAPT" : "; cells run their own DAPT");
        return -1;
    }
    char *end;
    errno = 0;
    unsigned long long i = strtoull(key, &end, 10);
    if (*key >= '0' && *key <= '9' && *end == '\0' && errno == 0) {
        if (i >= n) {
            snprintf(err, errcap, "DAPT job %llu does not exist: the grid has jobs 0..%zu", i, n - 1);
            return -1;
        }
        *index = (size_t)i;
        return 0;
    }
    sweep_dapt_job j;
    for (size_t k = 0; k < n; k++) {
        sweep_plan_dapt_job(g, k, &j);
        if (!strcmp(j.id, key)) {
            *index = k;
            return 0;
        }
    }
    snprintf(err, errcap, "no DAPT job has id '%s' (qat sweep --grid G --list shows them)", key);
    return -1;
}

void sweep_plan_cost(const sweep_grid *g, sweep_plan plan, sweep_cost *cost)
{
    memset(cost, 0, sizeof *cost);
    const size_t per_alpha_cells = g->n_models * g->n_tasks * g->n_configs * g->n_seeds;
    int any_dapt = 0;
    for (size_t i = 0; i < g->n_alphas; i++) {
        double a = g->alphas[i] == SWEEP_ALPHA_AUTO ? g->adaptive.alpha_max : g->alphas[i];
        int64_t d = (int64_t)llround(a * (double)g->total_steps);
        cost->finetune += (int64_t)per_alpha_cells * (g->total_steps - d);
        if (plan == SWEEP_PLAN_PER_ALPHA && d > 0) {
            cost->dapt += (int64_t)per_alpha_cells * d;
            cost->dapt_jobs += per_alpha_cells;
        }
        any_dapt |= d > 0;
    }
    if (plan == SWEEP_PLAN_SHARED_PREFIX && any_dapt) {
        cost->dapt_jobs = g->n_models * g->n_configs * g->n_seeds;
        cost->dapt = (int64_t)cost->dapt_jobs * sweep_plan_dapt_schedule(g);
    }
}

void sweep_plan_print_cost(FILE *out, const sweep_grid *g)
{
    sweep_cost mine, per;
    sweep_plan_cost(g, g->plan, &mine);
    sweep_plan_cost(g, SWEEP_PLAN_PER_ALPHA, &per);
    int autos = 0;
    for (size_t i = 0; i < g->n_alphas; i++)
        autos |= g->alphas[i] == SWEEP_ALPHA_AUTO;
    const char *bound = autos ? "at most " : "";
    if (g->plan == SWEEP_PLAN_PER_ALPHA) {
        sweep_cost shared;
        sweep_plan_cost(g, SWEEP_PLAN_SHARED_PREFIX, &shared);
        fprintf(out, "# plan per-alpha: %s%lld DAPT steps (%zu runs) + %lld fine-tuning steps = %s%lld steps; the "
                     "shared-prefix plan would take %s%lld DAPT steps (%zu runs)\n",
                bound, (long long)per.dapt, per.dapt_jobs, (long long)per.finetune, bound,
                (long long)(per.dapt + per.finetune), bound, (long long)shared.dapt, shared.dapt_jobs);
        return;
    }
    long long saved = (long long)(per.dapt - mine.dapt);
    fprintf(out, "# plan shared-prefix: %zu DAPT jobs x %s%lld steps = %lld DAPT steps + %lld fine-tuning steps = %lld "
                 "steps; the per-alpha plan: %lld DAPT + %lld = %lld steps; saved %lld steps (%.1f %% of all, "
                 "%.1f %% of DAPT)\n",
            mine.dapt_jobs, bound, (long long)sweep_plan_dapt_schedule(g), (long long)mine.dapt,
            (long long)mine.finetune, (long long)(mine.dapt + mine.finetune), (long long)per.dapt,
            (long long)per.finetune, (long long)(per.dapt + per.finetune), saved,
            per.dapt + per.finetune ? 100.0 * (double)saved / (double)(per.dapt + per.finetune) : 0.0,
            per.dapt ? 100.0 * (double)saved / (double)per.dapt : 0.0);
}
