/* ISA dispatch: QAT_ISA is read when a kernel handle is initialised (no
 * global cache), explicit requests override it, unknown values and paths
 * the CPU lacks are refused with messages that say so. */
#include "packed_test_util.h"
#include "qat/core.h"
#include "qat/packed.h"
#include "test_main.h"

START_TEST(env_selects_each_path)
{
    qat_packed_kernel k;
    unsetenv("QAT_ISA");
    QAT_ASSERT_OK(qat_packed_kernel_init(&k, QAT_PACKED_ISA_AUTO, 2));
    ck_assert(k.isa != QAT_PACKED_ISA_AUTO && qat_packed_isa_available(k.isa));
    ck_assert_int_eq(k.threads, 2);
    ck_assert_int_eq(k.isa, qat_packed_isa_best());
    if (qat_packed_isa_available(QAT_PACKED_ISA_AMX))
        ck_assert_int_eq(k.isa, QAT_PACKED_ISA_AMX);
    else if (qat_packed_isa_available(QAT_PACKED_ISA_AVX512VBMI))
        ck_assert_int_eq(k.isa, QAT_PACKED_ISA_AVX512VBMI);
    else if (qat_packed_isa_available(QAT_PACKED_ISA_AVX512VNNI))
        ck_assert_int_eq(k.isa, QAT_PACKED_ISA_AVX512VNNI);
    else if (qat_packed_isa_available(QAT_PACKED_ISA_AVX2))
        ck_assert_int_eq(k.isa, QAT_PACKED_ISA_AVX2);

    for (int i = 0; i < N_ISAS; i++) {
        qat_packed_isa isa = all_isas[i];
        setenv("QAT_ISA", qat_packed_isa_name(isa), 1);
        if (qat_packed_isa_available(isa)) {
            QAT_ASSERT_OK(qat_packed_kernel_init(&k, QAT_PACKED_ISA_AUTO, 1));
            ck_assert_int_eq(k.isa, isa);
        } else {
            QAT_ASSERT_FAILS(qat_packed_kernel_init(&k, QAT_PACKED_ISA_AUTO, 1), QAT_ERR_UNSUPPORTED,
                             qat_packed_isa_name(isa));
            char said[64];
            snprintf(said, sizeof said, "QAT_ISA=%s is unavailable", qat_packed_isa_name(isa));
            ck_assert_msg(strstr(qat_last_error(), said) && strstr(qat_last_error(), "available: scalar"),
                          "message: %s", qat_last_error());
            fprintf(stderr, "refused as expected: %s\n", qat_last_error());
            QAT_ASSERT_FAILS(qat_packed_kernel_init(&k, isa, 1), QAT_ERR_UNSUPPORTED, "requested ISA");
            ck_assert(strstr(qat_last_error(), qat_packed_isa_missing(isa)) && qat_packed_isa_missing(isa)[0]);
        }
        ck_assert(!qat_packed_isa_available(isa) == !!qat_packed_isa_missing(isa)[0]);
    }
    /* An explicit request ignores the environment. */
    setenv("QAT_ISA", "avx512vnni", 1);
    QAT_ASSERT_OK(qat_packed_kernel_init(&k, QAT_PACKED_ISA_SCALAR, 1));
    ck_assert_int_eq(k.isa, QAT_PACKED_ISA_SCALAR);
    setenv("QAT_ISA", "auto", 1);
    QAT_ASSERT_OK(qat_packed_kernel_init(&k, QAT_PACKED_ISA_AUTO, 1));
    setenv("QAT_ISA", "sse9", 1);
    QAT_ASSERT_FAILS(qat_packed_kernel_init(&k, QAT_PACKED_ISA_AUTO, 1), QAT_ERR_INVALID_ARGUMENT,
                     "QAT_ISA='sse9' is not one of scalar, avx2, avx512vnni, onednn, neon, amx, i8mm, avx512vbmi, auto");
    unsetenv("QAT_ISA");
}
END_TEST

/* A probe once, then resolutions on it (the packed model's per-forward
 * way): the probe is what qat_packed_isa_available says, and a resolution
 * on it is the probing one's; on a made-up CPU with only the scalar and
 * avx2 paths, auto and QAT_ISA go by it, not by this machine. */
START_TEST(resolves_on_a_probe)
{
    qat_packed_cpu cpu;
    qat_packed_cpu_probe(&cpu);
    for (int i = 0; i < N_ISAS; i++)
        ck_assert_int_eq((cpu.available >> all_isas[i]) & 1u, qat_packed_isa_available(all_isas[i]));
    ck_assert_int_eq(cpu.available & 1u, 0); /* auto is a request, not a path */
    qat_packed_kernel k, probing;
    unsetenv("QAT_ISA");
    QAT_ASSERT_OK(qat_packed_kernel_init_on(&k, &cpu, QAT_PACKED_ISA_AUTO, 3));
    QAT_ASSERT_OK(qat_packed_kernel_init(&probing, QAT_PACKED_ISA_AUTO, 3));
    ck_assert_int_eq(k.isa, probing.isa);
    ck_assert_int_eq(k.threads, 3);
    ck_assert_ptr_null(k.pool);

    const qat_packed_cpu avx2_only = {.available = 1u << QAT_PACKED_ISA_SCALAR | 1u << QAT_PACKED_ISA_AVX2};
    QAT_ASSERT_OK(qat_packed_kernel_init_on(&k, &avx2_only, QAT_PACKED_ISA_AUTO, 1));
    ck_assert_int_eq(k.isa, QAT_PACKED_ISA_AVX2);
    setenv("QAT_ISA", "scalar", 1);
    QAT_ASSERT_OK(qat_packed_kernel_init_on(&k, &avx2_only, QAT_PACKED_ISA_AUTO, 1));
    ck_assert_int_eq(k.isa, QAT_PACKED_ISA_SCALAR);
    setenv("QAT_ISA", "avx512vnni", 1);
    QAT_ASSERT_FAILS(qat_packed_kernel_init_on(&k, &avx2_only, QAT_PACKED_ISA_AUTO, 1), QAT_ERR_UNSUPPORTED,
                     "QAT_ISA=avx512vnni is unavailable");
    ck_assert_msg(strstr(qat_last_error(), "(available: scalar, avx2)"), "message: %s", qat_last_error());
    unsetenv("QAT_ISA");
    QAT_ASSERT_FAILS(qat_packed_kernel_init_on(&k, &avx2_only, QAT_PACKED_ISA_AMX, 1), QAT_ERR_UNSUPPORTED,
                     "requested ISA amx is unavailable");
    QAT_ASSERT_FAILS(qat_packed_kernel_init_on(&k, NULL, QAT_PACKED_ISA_AUTO, 1), QAT_ERR_INVALID_ARGUMENT,
                     "NULL argument");
    QAT_ASSERT_FAILS(qat_packed_kernel_init_on(&k, &cpu, QAT_PACKED_ISA_AUTO, 0), QAT_ERR_INVALID_ARGUMENT,
                     "threads = 0");
}
END_TEST

START_TEST(kernel_init_errors)
{
    qat_packed_kernel k;
    QAT_ASSERT_FAILS(qat_packed_kernel_init(&k, QAT_PACKED_ISA_SCALAR, 0), QAT_ERR_INVALID_ARGUMENT, "threads = 0");
    QAT_ASSERT_FAILS(qat_packed_kernel_init(&k, (qat_packed_isa)QAT_PACKED_ISA_COUNT, 1), QAT_ERR_INVALID_ARGUMENT,
                     "unknown isa");
    QAT_ASSERT_FAILS(qat_packed_kernel_init(NULL, QAT_PACKED_ISA_SCALAR, 1), QAT_ERR_INVALID_ARGUMENT, "NULL");
    ck_assert_str_eq(qat_packed_isa_name(QAT_PACKED_ISA_AVX2), "avx2");
    ck_assert(qat_packed_isa_available(QAT_PACKED_ISA_SCALAR));
}
END_TEST

/* The public names (qat_packed_isa_name_of, which the CLI, qat info and
 * Python list the paths by) are the paths' own, in value order, each one
 * QAT_ISA accepts; the loop's end is the first value past them. */
START_TEST(public_isa_names)
{
    const char *name = NULL;
    int64_t n = 0;
    while (qat_packed_isa_name_of(n, &name) == QAT_OK) {
        ck_assert_str_eq(name, qat_packed_isa_name((qat_packed_isa)n));
        for (int64_t j = 0; j < n; j++) {
            const char *other = NULL;
            QAT_ASSERT_OK(qat_packed_isa_name_of(j, &other));
            ck_assert_str_ne(name, other);
        }
        int64_t resolved = -1;
        const char *as = NULL;
        if (n > 0 && qat_packed_isa_resolve(n, &resolved, &as) == QAT_OK) {
            ck_assert_int_eq(resolved, n);
            ck_assert_str_eq(as, name);
            qat_packed_kernel k;
            setenv("QAT_ISA", name, 1);
            QAT_ASSERT_OK(qat_packed_kernel_init(&k, QAT_PACKED_ISA_AUTO, 1));
            unsetenv("QAT_ISA");
            ck_assert_int_eq(k.isa, n);
        }
        n++;
    }
    ck_assert_int_eq(n, QAT_PACKED_ISA_COUNT);
    QAT_ASSERT_FAILS(qat_packed_isa_name_of(n, &name), QAT_ERR_INVALID_ARGUMENT, "outside [0, 8]");
    QAT_ASSERT_FAILS(qat_packed_isa_name_of(-1, &name), QAT_ERR_INVALID_ARGUMENT, "outside");
    QAT_ASSERT_FAILS(qat_packed_isa_name_of(0, NULL), QAT_ERR_INVALID_ARGUMENT, "NULL name");
}
END_TEST

/* 1 when /proc/cpuinfo's first flags line lists `flag` (Linux lists the
 * AMX flags only when it supports the tile state), -1 when unreadable. */
static int cpuinfo_has(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return -1;
    char line[8192];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) {
            found = 0;
            for (char *w = strtok(strchr(line, ':'), " :\n"); w && !found; w = strtok(NULL, " \n"))
                found = strcmp(w, flag) == 0;
        }
    fclose(f);
    return found;
}

/* AMX detection against the kernel's view: what it reports usable the
 * kernel lists, and where the kernel lists AMX but the path is refused,
 * the reason names the step that refused it. */
START_TEST(amx_detection)
{
    const char *why = qat_packed_amx_missing();
    ck_assert_int_eq(qat_packed_cpu_has_amx(), why[0] == '\0');
    if (!qat_packed_cpu_has_amx())
        ck_assert(!qat_packed_isa_available(QAT_PACKED_ISA_AMX));
    const int tile = cpuinfo_has("amx_tile"), int8 = cpuinfo_has("amx_int8");
    if (tile < 0 || int8 < 0 || test_under_valgrind()) {
        fprintf(stderr, "SKIP: AMX detection not compared with /proc/cpuinfo (%s)\n",
                test_under_valgrind() ? "valgrind hides AMX from CPUID, not from /proc/cpuinfo" : "unreadable");
        return;
    }
    if (qat_packed_cpu_has_amx())
        ck_assert_msg(tile && int8, "AMX detected where /proc/cpuinfo lists amx_tile %d, amx_int8 %d", tile, int8);
    else if (tile && int8)
        ck_assert_msg(strstr(why, "arch_prctl") || strstr(why, "XCR0") || strstr(why, "XSAVE"),
                      "the kernel lists AMX, refused for another reason: %s", why);
    fprintf(stderr, "AMX: %s\n", why[0] ? why : "usable");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("packed_dispatch");
    TCase *tc = tcase_create("dispatch");
    tcase_add_test(tc, env_selects_each_path);
    tcase_add_test(tc, kernel_init_errors);
    tcase_add_test(tc, resolves_on_a_probe);
    tcase_add_test(tc, public_isa_names);
    tcase_add_test(tc, amx_detection);
    suite_add_tcase(s, tc);
    return s;
}
