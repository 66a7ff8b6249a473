/* The energy meter (lib/study/energy.c): a fake powercap tree written
 * here (QAT_POWERCAP_ROOT) with package, DRAM, core, psys and MMIO zones
 * and counters that wrap between readings; the estimate where nothing is
 * readable; NVML where libnvidia-ml is present (a message otherwise); and
 * the "energy" object of a short pipeline run's results.json. Expected
 * joules are worked out by hand from the counters written. */
#include <dlfcn.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qat/qat.h"
#include "test_main.h"
#include "study/energy.h"

static char root[64];

static void put(const char *zone, const char *file, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, zone);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/%s/%s", root, zone, file);
    FILE *f = fopen(p, "w");
    ck_assert_msg(f != NULL, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
}

static void zone(const char *dir, const char *name, const char *energy, const char *range)
{
    if (name)
        put(dir, "name", name);
    put(dir, "energy_uj", energy);
    if (range)
        put(dir, "max_energy_range_uj", range);
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/qat-powercap-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    setenv("QAT_POWERCAP_ROOT", root, 1);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
    unsetenv("QAT_POWERCAP_ROOT");
}

static void close_to(double got, double want, const char *what)
{
    ck_assert_msg(fabs(got - want) <= 1e-9 * fabs(want) + 1e-15, "%s: got %.17g, expected %.17g", what, got, want);
}

START_TEST(rapl_packages_and_one_wrap)
{
    zone("intel-rapl:0", "package-0\n", "1000000\n", "10000000\n");
    zone("intel-rapl:0:0", "core\n", "100\n", "10000000\n");       /* inside the package: not added */
    zone("intel-rapl:0:1", "dram\n", "500\n", "1000000\n");        /* DRAM: added */
    zone("intel-rapl:1", "psys\n", "7\n", "10000000\n");           /* the platform: would double count */
    zone("intel-rapl-mmio:0", "package-0\n", "7\n", "10000000\n"); /* a second view of package 0 */
    zone("intel-rapl:2", NULL, "100\n", NULL);                     /* unnamed, range unknown */
    qat_energy_meter m;
    QAT_ASSERT_OK(qat_energy_start(&m, "ref", 2, 0, 100));
    ck_assert_int_eq(m.n_zones, 3);
    put("intel-rapl:0", "energy_uj", "300000\n");  /* wrapped: 10e6 - 1e6 + 3e5 = 9.3e6 uJ */
    put("intel-rapl:0:0", "energy_uj", "900000\n");
    put("intel-rapl:0:1", "energy_uj", "2500\n");  /* 2000 uJ */
    put("intel-rapl:1", "energy_uj", "9000000\n");
    put("intel-rapl:2", "energy_uj", "5100\n");    /* 5000 uJ */
    qat_energy_reading r;
    qat_energy_stop(&m, &r);
    const double joules = 9.3 + 0.002 + 0.005;
    ck_assert_str_eq(r.method, "measured-rapl");
    ck_assert_str_eq(r.device, "cpu");
    close_to(r.kwh, joules / 3.6e6, "kWh");
    close_to(r.cpu_kwh, r.kwh, "cpu kWh");
    close_to(r.gco2eq, 100 * joules / 3.6e6, "gCO2eq");
    ck_assert_uint_eq(r.wraps, 1);
    ck_assert_msg(strstr(r.measured, "intel-rapl:0 (package-0)") && strstr(r.measured, "intel-rapl:0:1 (dram)") &&
                      strstr(r.measured, "intel-rapl:2"),
                  "%s", r.measured);
    ck_assert_msg(!strstr(r.measured, "psys") && !strstr(r.measured, "core") && !strstr(r.measured, "mmio"), "%s",
                  r.measured);
    json_object *j = qat_energy_json(&r);
    json_object *v;
    ck_assert(json_object_object_get_ex(j, "method", &v));
    ck_assert_str_eq(json_object_get_string(v), "measured-rapl");
    ck_assert(json_object_object_get_ex(j, "counter_wraps", &v) && json_object_get_int(v) == 1);
    ck_assert(!json_object_object_get_ex(j, "power_watts", &v));
    json_object_put(j);
}
END_TEST

/* Periodic samples keep count across several wrap-arounds. */
START_TEST(rapl_several_wraps_between_samples)
{
    zone("intel-rapl:0", "package-0", "1000000", "10000000");
    qat_energy_meter m;
    QAT_ASSERT_OK(qat_energy_start(&m, "cpu", 1, 0, 0));
    const char *counters[] = {"9000000", "500000", "8000000"};
    for (int i = 0; i < 3; i++) {
        put("intel-rapl:0", "energy_uj", counters[i]);
        qat_energy_sample(&m); /* too soon: not read */
        m.last_sample.tv_sec -= (time_t)QAT_ENERGY_SAMPLE_S + 1;
        qat_energy_sample(&m);
    }
    put("intel-rapl:0", "energy_uj", "200000");
    qat_energy_reading r;
    qat_energy_stop(&m, &r);
    /* 8e6, then 1e6 + 5e5 (wrap), 7.5e6, then 2e6 + 2e5 (wrap) */
    const double joules = (8e6 + 1.5e6 + 7.5e6 + 2.2e6) * 1e-6;
    close_to(r.kwh, joules / 3.6e6, "kWh");
    ck_assert_uint_eq(r.wraps, 2);
    close_to(r.carbon_intensity, QAT_ENERGY_DEFAULT_CARBON_G_PER_KWH, "default intensity");
    close_to(r.gco2eq, QAT_ENERGY_DEFAULT_CARBON_G_PER_KWH * joules / 3.6e6, "gCO2eq");
}
END_TEST

START_TEST(unreadable_counters_give_an_estimate)
{
    zone("intel-rapl:0", "package-0", "", "10000000"); /* empty: unreadable */
    zone("intel-rapl:1", "package-1", "not a number", NULL);
    qat_energy_meter m;
    QAT_ASSERT_OK(qat_energy_start(&m, "ref", 3, 0, 0));
    ck_assert_int_eq(m.n_zones, 0);
    usleep(20000);
    qat_energy_reading r;
    qat_energy_stop(&m, &r);
    ck_assert_str_eq(r.method, "estimated");
    close_to(r.power_watts, 3 * QAT_ENERGY_DEFAULT_WATTS_PER_THREAD, "default draw");
    ck_assert(r.seconds >= 0.02 && r.seconds < 60);
    close_to(r.kwh, 30 * r.seconds / 3.6e6, "kWh");
    close_to(r.gco2eq, r.kwh * QAT_ENERGY_DEFAULT_CARBON_G_PER_KWH, "gCO2eq");
    ck_assert_msg(strstr(r.measured, "30 W"), "%s", r.measured);

    setenv("QAT_POWERCAP_ROOT", "/nonexistent/powercap", 1);
    QAT_ASSERT_OK(qat_energy_start(&m, "ref", 1, 150, 20));
    qat_energy_stop(&m, &r);
    ck_assert_str_eq(r.method, "estimated");
    close_to(r.kwh, 150 * r.seconds / 3.6e6, "kWh at 150 W");
    close_to(r.gco2eq, 20 * r.kwh, "gCO2eq at 20 g/kWh");
    json_object *j = qat_energy_json(&r), *v;
    ck_assert(json_object_object_get_ex(j, "power_watts", &v) && json_object_get_double(v) == 150);
    json_object_put(j);

    QAT_ASSERT_FAILS(qat_energy_start(&m, "ref", 1, -1, 0), QAT_ERR_INVALID_ARGUMENT, "power_watts");
    QAT_ASSERT_FAILS(qat_energy_start(&m, "ref", 1, 0, NAN), QAT_ERR_INVALID_ARGUMENT, "carbon_intensity");
}
END_TEST

START_TEST(nvml_where_present)
{
    setenv("QAT_POWERCAP_ROOT", "/nonexistent/powercap", 1);
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    qat_energy_meter m;
    qat_energy_reading r;
    QAT_ASSERT_OK(qat_energy_start(&m, "cuda", 1, 0, 0));
    qat_energy_stop(&m, &r);
    ck_assert_str_eq(r.device, "cuda");
    if (!lib) {
        fprintf(stderr, "test_energy: libnvidia-ml.so.1 absent: NVML path not exercised (estimate checked)\n");
        ck_assert_str_eq(r.method, "estimated");
        close_to(r.power_watts, QAT_ENERGY_DEFAULT_GPU_WATTS, "GPU draw");
        return;
    }
    dlclose(lib);
    fprintf(stderr, "test_energy: NVML: %s, %s, %.3g kWh\n", r.method, r.measured, r.kwh);
    ck_assert(!strcmp(r.method, "measured-nvml") || !strcmp(r.method, "estimated"));
    ck_assert(r.kwh >= 0 && isfinite(r.kwh));
    if (!strcmp(r.method, "measured-nvml"))
        ck_assert_msg(strstr(r.measured, "NVML"), "%s", r.measured);
}
END_TEST

static double num(json_object *o, const char *key)
{
    json_object *v;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "energy.%s missing", key);
    return json_object_get_double(v);
}

START_TEST(pipeline_results_hold_energy)
{
    setenv("QAT_POWERCAP_ROOT", "/nonexistent/powercap", 1);
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    char out[128];
    snprintf(out, sizeof out, "%s/run", root);
    qat_pipeline_options o;
    QAT_ASSERT_OK(qat_pipeline_options_init(&o, QAT_PIPELINE_OPTIONS_VERSION));
    ck_assert(o.run.carbon_intensity == 0 && o.run.power_watts == 0);
    o.run.model_dir = DEMO_DIR "/model";
    o.run.tokenizer = DEMO_DIR "/spm.model";
    o.train_file = DEMO_DIR "/task_small.conll";
    o.run.out_dir = out;
    o.run.total_steps = 4;
    o.run.max_seq_len = 32;
    o.run.train.batch_size = 16;
    o.run.carbon_intensity = 100;
    o.run.power_watts = 40;
    double f1;
    o.run.power_watts = -3;
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &f1), QAT_ERR_INVALID_ARGUMENT, "power_watts");
    o.run.power_watts = 40;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &f1));
    char path[256];
    snprintf(path, sizeof path, "%s/results.json", out);
    json_object *res = json_object_from_file(path), *e, *v;
    ck_assert_ptr_nonnull(res);
    ck_assert_msg(json_object_object_get_ex(res, "energy", &e), "results.json lacks energy");
    ck_assert(json_object_object_get_ex(e, "method", &v));
    ck_assert_str_eq(json_object_get_string(v), "estimated");
    ck_assert(json_object_object_get_ex(e, "device", &v));
    ck_assert_str_eq(json_object_get_string(v), "cpu");
    double s = num(e, "seconds"), kwh = num(e, "kwh");
    ck_assert_msg(s > 0 && s <= num(res, "seconds"), "meter %g s outside the run's %g s", s, num(res, "seconds"));
    close_to(kwh, 40 * s / 3.6e6, "kWh");
    close_to(num(e, "gco2eq"), 100 * kwh, "gCO2eq");
    close_to(num(e, "carbon_intensity_g_per_kwh"), 100, "intensity");
    close_to(num(e, "power_watts"), 40, "draw");
    /* The precision policy the run used (a host backend: fp32). */
    int64_t precision = -1;
    QAT_ASSERT_OK(qat_context_get_int(ctx, QAT_CTX_PRECISION, &precision));
    ck_assert_int_eq(precision, QAT_PRECISION_FP32);
    ck_assert_msg(json_object_object_get_ex(res, "precision", &v), "results.json lacks precision");
    ck_assert_str_eq(json_object_get_string(v), "fp32");
    json_object_put(res);
    qat_context_free(ctx);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("energy");
    TCase *tc = tcase_create("energy");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, rapl_packages_and_one_wrap);
    tcase_add_test(tc, rapl_several_wraps_between_samples);
    tcase_add_test(tc, unreadable_counters_give_an_estimate);
    tcase_add_test(tc, nvml_where_present);
    tcase_add_test(tc, pipeline_results_hold_energy);
    suite_add_tcase(s, tc);
    return s;
}
