/* A test helper preloaded (LD_PRELOAD) into a training run to break it at
 * the moments that matter for crash consistency: it counts the calls of
 * rename, renameat, renameat2, fsync and fdatasync, and
 *   QAT_SHIM_KILL_AT=N     raises SIGKILL just before the N-th call (1-based)
 *                          is made, as a power cut or kill -9 would;
 *   QAT_SHIM_FILL_AT=N     just before the N-th call, fills the file system
 *   QAT_SHIM_FILL_PATH=F   of file F (creating F) until it is full, so the
 *                          writes that follow fail with ENOSPC;
 *   QAT_SHIM_TRACE=FILE    appends "index call path" for every call (fsync's
 *                          path read from /proc/self/fd), so a test can find
 *                          the index of a given checkpoint or save.
 * Nothing here is part of libqat. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long calls;

static long env_long(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : 0;
}

static void fill(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    static char block[1 << 16];
    while (write(fd, block, sizeof block) > 0)
        ;
    while (write(fd, block, 1) > 0) /* the last partial block */
        ;
    close(fd);
}

static void before(const char *call, const char *path, int fd)
{
    long n = ++calls;
    const char *trace = getenv("QAT_SHIM_TRACE");
    if (trace && *trace) {
        char where[PATH_MAX] = "";
        if (!path) {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t k = readlink(link, where, sizeof where - 1);
            where[k > 0 ? k : 0] = '\0';
            path = where;
        }
        FILE *f = fopen(trace, "a");
        if (f) {
            fprintf(f, "%ld %s %s\n", n, call, path);
            fclose(f);
        }
    }
    if (n == env_long("QAT_SHIM_FILL_AT") && getenv("QAT_SHIM_FILL_PATH"))
        fill(getenv("QAT_SHIM_FILL_PATH"));
    if (n == env_long("QAT_SHIM_KILL_AT"))
        raise(SIGKILL);
}

typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned);
typedef int (*fsync_fn)(int);

/* The libc function this one stands in for. */
#define REAL(type, name) \
    static type real; \
    if (!real) \
        real = (type)dlsym(RTLD_NEXT, name)

int rename(const char *from, const char *to)
{
    REAL(rename_fn, "rename");
    before("rename", to, -1);
    return real(from, to);
}

int renameat(int a, const char *from, int b, const char *to)
{
    REAL(renameat_fn, "renameat");
    before("renameat", to, -1);
    return real(a, from, b, to);
}

int renameat2(int a, const char *from, int b, const char *to, unsigned flags)
{
    REAL(renameat2_fn, "renameat2");
    before("renameat2", to, -1);
    return real(a, from, b, to, flags);
}

int fsync(int fd)
{
    REAL(fsync_fn, "fsync");
    before("fsync", NULL, fd);
    return real(fd);
}

int fdatasync(int fd)
{
    REAL(fsync_fn, "fdatasync");
    before("fdatasync", NULL, fd);
    return real(fd);
}
