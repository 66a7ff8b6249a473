/* What makes a run directory crash-consistent, piece by piece: directories
 * written whole, start-up cleaning of temporaries, the run lock,
 * metrics.jsonl written once per step across a resume (a torn last line
 * cut), the loss band and the checkpoints it keeps (a pending checkpoint
 * confirmed or dropped by the next step's loss). The kill-anywhere test of
 * whole runs is crash_resume.sh. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/atomic_dir.h"
#include "core/error.h"
#include "qat/qat.h"
#include "run_dirs.h"
#include "study/checkpoints.h"
#include "study/metrics_log.h"
#include "study/run_dir.h"
#include "test_main.h"
#include "train/trainer.h"

static int exists(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0;
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(directory_written_whole)
{
    char *root = temp_dir("rundir"), path[600];
    snprintf(path, sizeof path, "%s/phase/", root); /* a trailing slash names the same directory */
    qat_atomic_dir d;
    QAT_ASSERT_OK(qat_atomic_dir_open(path, &d));
    put(d.tmp_path, "a", "new");
    ck_assert(!exists(root, "phase")); /* nothing there until the commit */
    QAT_ASSERT_OK(qat_atomic_dir_commit(&d));
    ck_assert(exists(root, "phase/a"));
    /* over an older directory: exchanged, the old one removed */
    QAT_ASSERT_OK(qat_atomic_dir_open(path, &d));
    put(d.tmp_path, "b", "newer");
    QAT_ASSERT_OK(qat_atomic_dir_commit(&d));
    ck_assert(exists(root, "phase/b") && !exists(root, "phase/a"));
    /* an aborted one leaves nothing */
    QAT_ASSERT_OK(qat_atomic_dir_open(path, &d));
    put(d.tmp_path, "c", "never");
    qat_atomic_dir_abort(&d);
    ck_assert(!exists(root, "phase/c"));
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls '%s' | wc -l", root);
    FILE *p = popen(cmd, "r");
    int n = -1;
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    ck_assert_int_eq(n, 1); /* only phase/ */
    remove_tree(root);
    free(root);
}
END_TEST

START_TEST(start_removes_temporaries_and_locks)
{
    char *root = temp_dir("rundir"), sub[600];
    put(root, "finetune.state.tmp-Ab3xZ9", "torn");
    put(root, "results.json", "{}");
    put(root, "notes.tmp-1", "a user's file: not ours (too short a suffix)");
    snprintf(sub, sizeof sub, "%s/model.tmp-QQ12ab", root);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    put(sub, "config.json", "{}");
    snprintf(sub, sizeof sub, "%s/snapshots", root);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    snprintf(sub, sizeof sub, "%s/snapshots/step-4.tmp-zzzzzz", root);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    qat_run_dir rd;
    QAT_ASSERT_OK(qat_run_dir_open(root, &rd));
    ck_assert(!exists(root, "finetune.state.tmp-Ab3xZ9") && !exists(root, "model.tmp-QQ12ab") &&
              !exists(root, "snapshots/step-4.tmp-zzzzzz"));
    ck_assert(exists(root, "results.json") && exists(root, "notes.tmp-1") && exists(root, "snapshots"));
    /* a second run on the same directory is refused while the first holds it */
    pid_t child = fork();
    if (child == 0) {
        qat_run_dir other;
        qat_status st = qat_run_dir_open(root, &other);
        _exit(st == QAT_ERR_STATE && strstr(qat_last_error(), "in use by another run") ? 0 : 1);
    }
    int status;
    waitpid(child, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    qat_run_dir_close(&rd);
    QAT_ASSERT_OK(qat_run_dir_open(root, &rd)); /* released */
    qat_run_dir_close(&rd);
    remove_tree(root);
    free(root);
}
END_TEST

START_TEST(metrics_written_once_per_step)
{
    char *root = temp_dir("rundir"), path[600];
    snprintf(path, sizeof path, "%s/metrics.jsonl", root);
    qat_metrics_log log;
    QAT_ASSERT_OK(qat_metrics_log_open(path, &log));
    for (int s = 1; s <= 3; s++)
        qat_metrics_log_write(&log, "dapt", s, 1.0 / s, 1e-3, 0.5);
    qat_metrics_log_write(&log, "dapt_heldout", 2, NAN, NAN, NAN);
    qat_metrics_log_close(&log);
    FILE *f = fopen(path, "a");
    fputs("{\"phase\": \"dapt\", \"step\": 4, \"lo", f); /* the kill came mid-line */
    fclose(f);
    /* resumed from step 1: steps 2-3 come again, then new ones */
    QAT_ASSERT_OK(qat_metrics_log_open(path, &log));
    for (int s = 2; s <= 5; s++)
        qat_metrics_log_write(&log, "dapt", s, 1.0 / s, 1e-3, 0.5);
    qat_metrics_log_write(&log, "dapt_heldout", 2, NAN, NAN, NAN);
    qat_metrics_log_write(&log, "finetune", 1, 0.25, 2e-3, 1.0);
    QAT_ASSERT_OK(qat_metrics_log_sync(&log));
    qat_metrics_log_close(&log);
    size_t n;
    char *text = (char *)slurp_file(path, &n);
    const char *want =
        "{\"phase\": \"dapt\", \"step\": 1, \"loss\": 1, \"lr\": 0.001, \"grad_norm\": 0.5}\n"
        "{\"phase\": \"dapt\", \"step\": 2, \"loss\": 0.5, \"lr\": 0.001, \"grad_norm\": 0.5}\n"
        "{\"phase\": \"dapt\", \"step\": 3, \"loss\": 0.333333, \"lr\": 0.001, \"grad_norm\": 0.5}\n"
        "{\"phase\": \"dapt_heldout\", \"step\": 2, \"loss\": null}\n"
        "{\"phase\": \"dapt\", \"step\": 4, \"loss\": 0.25, \"lr\": 0.001, \"grad_norm\": 0.5}\n"
        "{\"phase\": \"dapt\", \"step\": 5, \"loss\": 0.2, \"lr\": 0.001, \"grad_norm\": 0.5}\n"
        "{\"phase\": \"finetune\", \"step\": 1, \"loss\": 0.25, \"lr\": 0.002, \"grad_norm\": 1}\n";
    ck_assert_str_eq(text, want);
    free(text);
    remove_tree(root);
    free(root);
}
END_TEST

START_TEST(loss_band)
{
    qat_loss_band b = {0};
    /* the warm-up takes anything finite */
    ck_assert(qat_loss_band_observe(&b, 1e6));
    b = (qat_loss_band){0};
    unsigned x = 12345;
    int outside = 0;
    for (int i = 0; i < 2000; i++) { /* a noisy, slowly falling loss stays inside */
        x = x * 1103515245u + 12345u;
        double noise = (double)((x >> 8) & 0xffff) / 65535.0; /* [0, 1] */
        outside += !qat_loss_band_observe(&b, 2.0 * exp(-i / 500.0) * (0.5 + noise) + 0.05);
    }
    ck_assert_int_eq(outside, 0);
    double level = b.mean;
    ck_assert(!qat_loss_band_observe(&b, NAN) && !qat_loss_band_observe(&b, INFINITY));
    ck_assert(!qat_loss_band_observe(&b, 100.0 * level)); /* a blow-up */
    /* a lasting shift up is followed after a while */
    int back = -1;
    for (int i = 0; i < 200 && back < 0; i++)
        if (qat_loss_band_observe(&b, 3.0 * level + 1.0))
            back = i;
    ck_assert_msg(back > 0 && back < 100, "the band followed a lasting shift after %d steps", back);
}
END_TEST

START_TEST(checkpoint_confirmed_by_the_next_loss)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model_options mo;
    QAT_ASSERT_OK(qat_model_options_init(&mo, QAT_MODEL_OPTIONS_VERSION));
    mo.vocab_size = 16;
    mo.hidden_size = 8;
    mo.num_layers = 1;
    mo.num_heads = 2;
    mo.intermediate_size = 16;
    mo.max_position_embeddings = 16;
    qat_model *m;
    QAT_ASSERT_OK(qat_model_create(ctx, &mo, &m));
    qat_train_options to;
    QAT_ASSERT_OK(qat_train_options_init(&to, QAT_TRAIN_OPTIONS_VERSION));
    qat_trainer *t;
    QAT_ASSERT_OK(qat_trainer_create(m, &to, 100, &t));
    char *root = temp_dir("rundir");
    qat_checkpoints c;
    int resumable = 1;
    put(root, "finetune.state.pending", "never confirmed");
    QAT_ASSERT_OK(qat_checkpoints_init(&c, root, "finetune", NULL, &resumable));
    ck_assert(!resumable && !exists(root, "finetune.state.pending"));
    uint64_t pos[2] = {0, 0};
    for (t->step = 1; t->step <= 12; t->step++) /* past the warm-up, in band */
        QAT_ASSERT_OK(qat_checkpoints_step(&c, t, pos, 1.0, 0));
    QAT_ASSERT_OK(qat_checkpoints_step(&c, t, pos, 1.0, 1)); /* step 13: due */
    ck_assert(exists(root, "finetune.state.pending") && !exists(root, "finetune.state"));
    t->step++;
    QAT_ASSERT_OK(qat_checkpoints_step(&c, t, pos, 1.1, 0)); /* its weights are fine: promoted */
    ck_assert(exists(root, "finetune.state") && !exists(root, "finetune.state.pending"));
    ck_assert_int_eq(c.kept_step, 13);
    t->step++;
    QAT_ASSERT_OK(qat_checkpoints_step(&c, t, pos, 0.9, 1)); /* step 15: due */
    t->step++;
    QAT_ASSERT_OK(qat_checkpoints_step(&c, t, pos, 5e12, 1)); /* the next loss blew up: dropped */
    ck_assert(!exists(root, "finetune.state.pending"));
    t->step++;
    QAT_ASSERT_OK(qat_checkpoints_step(&c, t, pos, 7e12, 1)); /* out of band: no checkpoint */
    ck_assert(!exists(root, "finetune.state.pending"));
    QAT_ASSERT_OK(qat_checkpoints_stop(&c, t, pos)); /* nor on a stop */
    qat_fail(QAT_ERR_NUMERIC, "the loss is not finite (nan)");
    qat_status st = qat_checkpoints_diverged(&c, QAT_ERR_NUMERIC, "fine-tuning", 18);
    ck_assert_int_eq(st, QAT_ERR_NUMERIC);
    ck_assert_msg(strstr(qat_last_error(), "left its running band at step 16") &&
                      strstr(qat_last_error(), "the checkpoint of step 13 is kept"),
                  "%s", qat_last_error());
    qat_checkpoints_finish(&c);
    ck_assert(!exists(root, "finetune.state"));
    remove_tree(root);
    free(root);
    qat_trainer_free(t);
    qat_model_free(m);
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("run_dir");
    TCase *tc = tcase_create("run_dir");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, directory_written_whole);
    tcase_add_test(tc, start_removes_temporaries_and_locks);
    tcase_add_test(tc, metrics_written_once_per_step);
    tcase_add_test(tc, loss_band);
    tcase_add_test(tc, checkpoint_confirmed_by_the_next_loss);
    suite_add_tcase(s, tc);
    return s;
}
