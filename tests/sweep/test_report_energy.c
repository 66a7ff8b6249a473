/* qat report's energy sums (energy.md, energy.tex) on synthetic runs: two
 * sweeps' cells and plain `qat train` runs, measured, estimated and
 * unmetered (no energy object), with known kWh and gCO2eq. The expected
 * sums are computed here, run by run, independently of the report's code. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_main.h"

static const char *configs[] = {"FP32", "E2W2A2"};
static const double alphas[] = {0, 0.5};
static const char *grids[] = {"g1", "g2", "(qat train runs)"}; /* the last: no cell.json */

static int kind_of(int k, int c, int a) { return (k + c + 2 * a) % 3; } /* 0 none, 1 measured, 2 estimated */
static double kwh_of(int k, int c, int a) { return 0.5 + 1.7 * k + 0.3 * c + 0.05 * a; }
static double g_of(int k, int c, int a) { return kwh_of(k, c, a) * (50 + 10 * k); }

static char root[64];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/qat-report-energy-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    for (int k = 0; k < 3; k++)
        for (int c = 0; c < 2; c++)
            for (int a = 0; a < 2; a++) {
                char d[256], p[320], text[1024], energy[400] = "";
                snprintf(d, sizeof d, "%s/runs/k%d/%s/a%g", root, k, configs[c], alphas[a]);
                snprintf(text, sizeof text, "mkdir -p '%s'", d);
                ck_assert_int_eq(system(text), 0);
                if (kind_of(k, c, a))
                    snprintf(energy, sizeof energy,
                             ", \"energy\": {\"kwh\": %.17g, \"gco2eq\": %.17g, \"method\": \"%s\", \"device\": \"cpu\","
                             " \"seconds\": 10}",
                             kwh_of(k, c, a), g_of(k, c, a), kind_of(k, c, a) == 1 ? "measured-rapl" : "estimated");
                snprintf(text, sizeof text,
                         "{\"model\": \"/m/model\", \"quant\": \"%s\", \"alpha\": %g, \"seed\": %d, \"task\": \"ner\","
                         " \"test\": {\"f1\": 0.5, \"f1_metric\": \"entity_micro_f1\"}%s}\n",
                         configs[c], alphas[a], k, energy);
                snprintf(p, sizeof p, "%s/results.json", d);
                write_text(p, text);
                if (k < 2) {
                    snprintf(text, sizeof text, "{\"sweep\": \"%s\", \"grid\": \"/x/%s.yaml\", \"model\": \"m\","
                                                " \"task\": \"ner\"}\n", grids[k], grids[k]);
                    snprintf(p, sizeof p, "%s/cell.json", d);
                    write_text(p, text);
                }
            }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' report '%s/runs' --out '%s/out' --no-plots --quiet", QAT_EXE, root, root);
    ck_assert_int_eq(system(cmd), 0);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/out/%s", root, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The documented rounding: 0 decimals from 100, 1 from 10, 2 from 1, else 3. */
static void fmt(char *buf, size_t cap, double x)
{
    snprintf(buf, cap, x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : x >= 1 ? "%.2f" : "%.3f", x);
}

typedef struct expect { int runs, measured, estimated; double kwh, g; } expect;

/* by: 0 grid, 1 config, 2 alpha, 3 all */
static expect expected(int by, int which)
{
    expect e = {0, 0, 0, 0, 0};
    for (int k = 0; k < 3; k++)
        for (int c = 0; c < 2; c++)
            for (int a = 0; a < 2; a++) {
                if ((by == 0 && k != which) || (by == 1 && c != which) || (by == 2 && a != which))
                    continue;
                e.runs++;
                int kind = kind_of(k, c, a);
                e.measured += kind == 1;
                e.estimated += kind == 2;
                if (kind) {
                    e.kwh += kwh_of(k, c, a);
                    e.g += g_of(k, c, a);
                }
            }
    return e;
}

static void md_row(char *out, size_t cap, const char *label, expect e, int bold)
{
    char kwh[32], g[32];
    fmt(kwh, sizeof kwh, e.kwh);
    fmt(g, sizeof g, e.g);
    const char *b = bold ? "**" : "";
    snprintf(out, cap, "| %s%s%s | %d | %d | %d | %s%s%s | %s%s%s |\n", b, label, b, e.runs, e.measured, e.estimated,
             b, kwh, b, b, g, b);
}

START_TEST(markdown_sums)
{
    char *md = slurp("energy.md");
    char row[256];
    ck_assert_msg(strstr(md, "| Grid | Runs | Measured | Estimated | kWh | g CO2eq |"), "%s", md);
    for (int k = 0; k < 3; k++) {
        md_row(row, sizeof row, grids[k], expected(0, k), 0);
        ck_assert_msg(strstr(md, row), "grid row\n%s not in\n%s", row, md);
    }
    for (int c = 0; c < 2; c++) {
        md_row(row, sizeof row, configs[c], expected(1, c), 0);
        ck_assert_msg(strstr(md, row), "config row\n%s not in\n%s", row, md);
    }
    for (int a = 0; a < 2; a++) {
        char label[16];
        snprintf(label, sizeof label, "%g", alphas[a]);
        md_row(row, sizeof row, label, expected(2, a), 0);
        ck_assert_msg(strstr(md, row), "alpha row\n%s not in\n%s", row, md);
    }
    expect all = expected(3, 0);
    md_row(row, sizeof row, "Total", all, 1);
    ck_assert_msg(strstr(md, row), "total row\n%s not in\n%s", row, md);
    int none = all.runs - all.measured - all.estimated;
    ck_assert_int_gt(none, 0);
    char note[64];
    snprintf(note, sizeof note, "%d runs without energy data", none);
    ck_assert_msg(strstr(md, note), "%s not in\n%s", note, md);
    /* FP32 before E2W2A2, as in Table III */
    ck_assert(strstr(md, "| FP32 |") < strstr(md, "| E2W2A2 |"));
    free(md);
}
END_TEST

START_TEST(latex_sums)
{
    char *tex = slurp("energy.tex");
    ck_assert_ptr_nonnull(strstr(tex, "\\toprule"));
    ck_assert_ptr_nonnull(strstr(tex, "\\label{tab:energy}"));
    ck_assert_ptr_nonnull(strstr(tex, "\\multicolumn{6}{l}{\\emph{Per grid}}"));
    char row[256], kwh[32], g[32];
    for (int a = 0; a < 2; a++) {
        expect e = expected(2, a);
        fmt(kwh, sizeof kwh, e.kwh);
        fmt(g, sizeof g, e.g);
        snprintf(row, sizeof row, "$\\alpha = %g$ & %d & %d & %d & %s & %s \\\\\n", alphas[a], e.runs, e.measured,
                 e.estimated, kwh, g);
        ck_assert_msg(strstr(tex, row), "%s not in\n%s", row, tex);
    }
    expect e = expected(0, 0);
    fmt(kwh, sizeof kwh, e.kwh);
    fmt(g, sizeof g, e.g);
    snprintf(row, sizeof row, "g1 & %d & %d & %d & %s & %s \\\\\n", e.runs, e.measured, e.estimated, kwh, g);
    ck_assert_msg(strstr(tex, row), "%s not in\n%s", row, tex);
    e = expected(3, 0);
    fmt(kwh, sizeof kwh, e.kwh);
    fmt(g, sizeof g, e.g);
    snprintf(row, sizeof row, "\\textbf{Total} & %d & %d & %d & \\textbf{%s} & \\textbf{%s} \\\\\n", e.runs,
             e.measured, e.estimated, kwh, g);
    ck_assert_msg(strstr(tex, row), "%s not in\n%s", row, tex);
    free(tex);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("report_energy");
    TCase *tc = tcase_create("report_energy");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, markdown_sums);
    tcase_add_test(tc, latex_sums);
    suite_add_tcase(s, tc);
    return s;
}
