/* An address-space limit for the tests that feed libqat inputs built to
 * exhaust memory (issue #17): with it a regression fails (malloc returns
 * NULL, or the process dies at the limit) instead of swapping the machine.
 * Call before srunner_run_all: forked test processes inherit it. Skipped,
 * with a line saying so, under ASan (its shadow memory needs terabytes of
 * address space) and valgrind (which manages the limit itself); those runs
 * still check the error and message. */
#ifndef QAT_TEST_MEMORY_LIMIT_H
#define QAT_TEST_MEMORY_LIMIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#if defined(__SANITIZE_ADDRESS__)
#define QAT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QAT_TEST_ASAN 1
#endif
#endif

/* The process's current virtual size in bytes (/proc/self/statm), or 0. */
static inline size_t qat_test_vm_size(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * 4096u;
}

/* Allows `extra` bytes of address space beyond what is mapped now (the
 * equivalent of `ulimit -v`). Returns 1 when the limit is in force. */
static inline int qat_test_limit_memory(size_t extra)
{
#ifdef QAT_TEST_ASAN
    (void)extra;
    printf("note: no address-space limit under ASan\n");
    return 0;
#else
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) {
        printf("note: no address-space limit under valgrind\n");
        return 0;
    }
    struct rlimit r;
    r.rlim_cur = r.rlim_max = (rlim_t)(qat_test_vm_size() + extra);
    if (setrlimit(RLIMIT_AS, &r) != 0) {
        printf("note: setrlimit(RLIMIT_AS) refused\n");
        return 0;
    }
    return 1;
#endif
}

#endif
