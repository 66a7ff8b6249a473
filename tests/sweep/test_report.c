/* qat report on a synthetic results set: results.json + cell.json files
 * written here with known F1s; the expected cells (mean, sample std, '-'
 * for collapsed, bold best per config block and column) and the Table I
 * figures are computed here, independently of the report's code, and
 * compared with what `qat report` prints in table3.md / table3.tex /
 * table1.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_main.h"

static const char *configs[] = {"FP32", "E2W2A2"};
static const double alphas[] = {0, 0.5};
static const char *tasks[] = {"ner-a", "pos-b"}; /* the report sorts names: this is its order */
static const char *models[] = {"m1", "m2"};
static const int seeds_per_config[] = {3, 1};

/* Known F1s (fractions); one collapsed cell, one tie, spread over seeds. */
static double f1_of(int c, int a, int t, int m, int s)
{
    if (c == 1 && a == 1 && t == 0 && m == 0)
        return 0.12; /* collapsed */
    if (c == 1 && t == 1 && m == 1)
        return 0.7;  /* a tie between the two alphas: both bold */
    return 0.40 + 0.05 * ((c * 7 + a * 3 + t * 5 + m * 2) % 7) + 0.013 * s * (1 + a);
}

static char root[64];

static void mkdirs(const char *p)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", p);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* A CamemBERT-base-like config.json, the model "m1" points at. */
static const long V = 32005, H = 768, L = 12, I = 3072, P = 514, T = 1;

static void write_runs(void)
{
    char p[512], text[2048];
    snprintf(p, sizeof p, "%s/ckpt-m1", root);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/ckpt-m1/config.json", root);
    snprintf(text, sizeof text,
             "{\"model_type\": \"camembert\", \"vocab_size\": %ld, \"hidden_size\": %ld, \"num_hidden_layers\": %ld,"
             " \"intermediate_size\": %ld, \"max_position_embeddings\": %ld, \"type_vocab_size\": %ld}\n",
             V, H, L, I, P, T);
    write_text(p, text);
    for (int c = 0; c < 2; c++)
        for (int a = 0; a < 2; a++)
            for (int t = 0; t < 2; t++)
                for (int m = 0; m < 2; m++)
                    for (int s = 0; s < seeds_per_config[c]; s++) {
                        char d[400];
                        snprintf(d, sizeof d, "%s/runs/%s/%s/%s/a%g-s%d", root, models[m], tasks[t], configs[c],
                                 alphas[a], s);
                        mkdirs(d);
                        const char *metric = t == 0 ? "entity_micro_f1" : "token_micro_f1";
                        snprintf(p, sizeof p, "%s/results.json", d);
                        snprintf(text, sizeof text,
                                 "{\"model\": \"%s/ckpt-%s\", \"quant\": \"%s\", \"alpha\": %g, \"seed\": %d,"
                                 " \"task\": \"%s\", \"total_steps\": 100,"
                                 " \"test\": {\"f1\": %.17g, \"f1_metric\": \"%s\", \"collapsed\": %s}}\n",
                                 root, models[m], configs[c], alphas[a], s, t == 0 ? "ner" : "pos",
                                 f1_of(c, a, t, m, s), metric, f1_of(c, a, t, m, s) < 0.2 ? "true" : "false");
                        write_text(p, text);
                        snprintf(p, sizeof p, "%s/cell.json", d);
                        snprintf(text, sizeof text,
                                 "{\"model\": \"%s\", \"model_path\": \"%s/ckpt-%s\", \"task\": \"%s\"}\n", models[m],
                                 root, models[m], tasks[t]);
                        write_text(p, text);
                    }
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/qat-report-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    write_runs();
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

static void run_report(const char *extra)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' report '%s/runs' --out '%s/out' --no-plots --quiet %s", QAT_EXE, root, root, extra);
    ck_assert_int_eq(system(cmd), 0);
}

/* Expected text of a cell, before bold; *shown = the rounded mean, NAN if
 * '-'. Mean and sample std computed the plain way. */
static void expected(int c, int a, int t, int m, int latex, char *out, size_t cap, double *shown)
{
    int n = seeds_per_config[c];
    double sum = 0;
    for (int s = 0; s < n; s++)
        sum += 100 * f1_of(c, a, t, m, s);
    double mean = sum / n, var = 0;
    for (int s = 0; s < n; s++)
        var += pow(100 * f1_of(c, a, t, m, s) - mean, 2);
    double sd = n > 1 ? sqrt(var / (n - 1)) : 0;
    *shown = NAN;
    if (mean < 20) {
        snprintf(out, cap, "-");
        return;
    }
    char num[32];
    snprintf(num, sizeof num, "%.2f", mean);
    *shown = atof(num);
    if (n > 1)
        snprintf(out, cap, "%s %s %.2f", num, latex ? "$\\pm$" : "±", sd);
    else
        snprintf(out, cap, "%s", num);
}

static void expected_bold(int c, int a, int t, int m, int latex, char *out, size_t cap)
{
    double shown, best = -1, other;
    char text[96], tmp[96];
    expected(c, a, t, m, latex, text, sizeof text, &shown);
    for (int k = 0; k < 2; k++) {
        expected(c, k, t, m, latex, tmp, sizeof tmp, &other);
        if (other > best)
            best = other;
    }
    if (shown == best)
        snprintf(out, cap, latex ? "\\textbf{%s}" : "**%s**", text);
    else
        snprintf(out, cap, "%s", text);
}

START_TEST(markdown_table3)
{
    run_report("");
    char p[256];
    snprintf(p, sizeof p, "%s/out/table3.md", root);
    char *md = slurp(p);
    ck_assert_msg(strstr(md, "| Config | α | ner-a / m1 | ner-a / m2 | pos-b / m1 | pos-b / m2 |"), "%s", md);
    ck_assert_msg(strstr(md, "ner-a: entity-level micro F1"), "caption lacks the NER metric:\n%s", md);
    ck_assert_msg(strstr(md, "pos-b: token micro F1"), "caption lacks the POS metric:\n%s", md);
    int bolds = 0, dashes = 0;
    for (int c = 0; c < 2; c++)
        for (int a = 0; a < 2; a++) {
            char row[1024];
            int len = snprintf(row, sizeof row, "| %s | %g |", configs[c], alphas[a]);
            for (int t = 0; t < 2; t++)
                for (int m = 0; m < 2; m++) {
                    char cell[128];
                    expected_bold(c, a, t, m, 0, cell, sizeof cell);
                    bolds += cell[0] == '*';
                    dashes += !strcmp(cell, "-");
                    len += snprintf(row + len, sizeof row - (size_t)len, " %s |", cell);
                }
            ck_assert_msg(strstr(md, row), "row not found:\n%s\nin:\n%s", row, md);
        }
    ck_assert_int_eq(dashes, 1);
    ck_assert_int_ge(bolds, 9); /* 8 columns x 2 blocks, minus '-', plus the tie */
    /* FP32 rows come before E2W2A2's (the study's order) */
    ck_assert_msg(strstr(md, "| FP32 | 0 |") < strstr(md, "| E2W2A2 | 0 |"), "config order:\n%s", md);
    free(md);
}
END_TEST

START_TEST(latex_table3)
{
    run_report("");
    char p[256];
    snprintf(p, sizeof p, "%s/out/table3.tex", root);
    char *tex = slurp(p);
    ck_assert_ptr_nonnull(strstr(tex, "\\toprule"));
    ck_assert_ptr_nonnull(strstr(tex, "\\bottomrule"));
    ck_assert_ptr_nonnull(strstr(tex, "\\multicolumn{2}{c}{ner-a} & \\multicolumn{2}{c}{pos-b}"));
    ck_assert_ptr_nonnull(strstr(tex, "\\cmidrule(lr){3-4}\\cmidrule(lr){5-6}"));
    ck_assert_ptr_nonnull(strstr(tex, "Test F1 in \\%"));
    for (int c = 0; c < 2; c++)
        for (int a = 0; a < 2; a++) {
            char row[1024];
            int len = snprintf(row, sizeof row, "%s & %g", a == 0 ? configs[c] : "", alphas[a]);
            for (int t = 0; t < 2; t++)
                for (int m = 0; m < 2; m++) {
                    char cell[128];
                    expected_bold(c, a, t, m, 1, cell, sizeof cell);
                    len += snprintf(row + len, sizeof row - (size_t)len, " & %s", cell);
                }
            snprintf(row + len, sizeof row - (size_t)len, " \\\\\n");
            ck_assert_msg(strstr(tex, row), "row not found:\n%s\nin:\n%s", row, tex);
        }
    free(tex);
}
END_TEST

START_TEST(threshold_and_digits_options)
{
    run_report("--collapse 50 --digits 1");
    char p[256];
    snprintf(p, sizeof p, "%s/out/table3.md", root);
    char *md = slurp(p);
    ck_assert_ptr_nonnull(strstr(md, "F1 < 50 %"));
    /* FP32, alpha 0, ner-a / m1 averages 41.3 %: collapsed under a 50 % threshold */
    ck_assert_msg(f1_of(0, 0, 0, 0, 1) < 0.5, "test data changed");
    /* collapse counted per seed: config 0 has 3 seeds per cell */
    int below = 0;
    for (int s = 0; s < seeds_per_config[0]; s++)
        below += f1_of(0, 0, 0, 0, s) < 0.5;
    char want[64];
    snprintf(want, sizeof want, "| FP32 | 0 | - (%d/%d collapsed) |", below, seeds_per_config[0]);
    ck_assert_msg(strstr(md, want), "%s lacks %s", md, want);
    int cells_with_collapse = 0, shown = 0;
    for (int c = 0; c < 2; c++)
        for (int a = 0; a < 2; a++)
            for (int t = 0; t < 2; t++)
                for (int m = 0; m < 2; m++) {
                    int k = 0;
                    for (int s = 0; s < seeds_per_config[c]; s++)
                        k += f1_of(c, a, t, m, s) < 0.5;
                    cells_with_collapse += seeds_per_config[c] > 1 && k > 0;
                }
    for (const char *q = md; (q = strstr(q, " collapsed)")) != NULL; q++)
        shown++;
    ck_assert_int_eq(shown, cells_with_collapse);
    ck_assert_msg(strstr(md, "**70.0**"), "one decimal, tie in bold: %s", md);
    free(md);
}
END_TEST

static void si(char *buf, size_t cap, double x)
{
    snprintf(buf, cap, x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : x >= 1 ? "%.2f" : "%.3f", x);
}

START_TEST(table1_costs)
{
    run_report("--seq-len 512");
    char p[256];
    snprintf(p, sizeof p, "%s/out/table1.md", root);
    char *md = slurp(p);
    /* docs/method.md section 8, by hand: embeddings at E bits, linear weights at W
     * bits, biases and LayerNorms at 32; BitOPs = W * A * |W| * tokens. */
    const double emb = (double)(V + P + T) * H, lin = (double)L * (4 * H * H + 2 * H * I);
    const double flt = 2.0 * H + L * (5.0 * H + I) + L * 4.0 * H;
    const double fp_bytes = (emb + lin + flt) * 4, q_bytes = (emb * 2 + lin * 2 + flt * 32) / 8;
    const double fp_ops = 32.0 * 32 * lin * 512, q_ops = 2.0 * 2 * lin * 512;
    char a[32], b[32], c[32], d[32], row[256];
    si(a, sizeof a, fp_bytes / 1e6);
    si(b, sizeof b, fp_ops / 1e12);
    snprintf(row, sizeof row, "| FP32 | %s | ×1.0 | %s | ×1.0 |", a, b);
    ck_assert_msg(strstr(md, row), "%s not in\n%s", row, md);
    si(c, sizeof c, q_bytes / 1e6);
    si(d, sizeof d, q_ops / 1e12);
    snprintf(row, sizeof row, "| E2W2A2 | %s | ×%.1f | %s | ×%.1f |", c, fp_bytes / q_bytes, d, fp_ops / q_ops);
    ck_assert_msg(strstr(md, row), "%s not in\n%s", row, md);
    ck_assert_ptr_nonnull(strstr(md, "TBitOPs"));
    /* m2's checkpoint has no config.json: its Table I is skipped, not fatal */
    ck_assert_ptr_null(strstr(md, "ckpt-m2"));
    free(md);
}
END_TEST

START_TEST(bad_input)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' report '%s/none' --quiet 2>/dev/null", QAT_EXE, root);
    ck_assert_int_ne(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' report '%s/runs' --collapse abc 2>/dev/null", QAT_EXE, root);
    ck_assert_int_ne(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' report --frobnicate 2>/dev/null", QAT_EXE);
    ck_assert_int_ne(system(cmd), 0);
    /* a broken results.json is skipped with a warning, the rest reported */
    char p[256];
    snprintf(p, sizeof p, "%s/runs/broken", root);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/runs/broken/results.json", root);
    write_text(p, "{\"quant\": ");
    snprintf(cmd, sizeof cmd, "'%s' report '%s/runs' --out '%s/out' --quiet --no-plots 2>'%s/err.txt'", QAT_EXE, root,
             root, root);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(p, sizeof p, "%s/err.txt", root);
    char *err = slurp(p);
    ck_assert_msg(strstr(err, "broken/results.json"), "%s", err);
    free(err);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, markdown_table3);
    tcase_add_test(tc, latex_table3);
    tcase_add_test(tc, threshold_and_digits_options);
    tcase_add_test(tc, table1_costs);
    tcase_add_test(tc, bad_input);
    suite_add_tcase(s, tc);
    return s;
}
