/* Token exchange by TCP or by file (rendezvous.h). Messages: the magic
 * "QATRDZV1", then (rank -> rank 0) the sender's rank as a u32, or
 * (rank 0 -> rank, and in the file) the token's length as a u64 and the
 * token. Integers in host order: the ranks of a job run one build. */
#define _POSIX_C_SOURCE 200809L
#include "dist/rendezvous.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"

#define MAGIC "QATRDZV1"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void pause_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ---- TCP ---------------------------------------------------------------- */

/* Waits for fd to be readable (or writable) until the deadline. */
static int ready(int fd, int for_write, double deadline)
{
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0)
            return 0;
        struct pollfd p = {fd, (short)(for_write ? POLLOUT : POLLIN), 0};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 0;
    }
}

static int io_all(int fd, void *buf, size_t n, int for_write, double deadline)
{
    uint8_t *p = buf;
    while (n > 0) {
        if (!ready(fd, for_write, deadline))
            return 0;
        ssize_t k = for_write ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return 0;
        p += k;
        n -= (size_t)k;
    }
    return 1;
}

static qat_status tcp_serve(const qat_rank_env *e, const void *token, size_t bytes, double deadline)
{
    char port[16];
    snprintf(port, sizeof port, "%d", e->master_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(NULL, port, &hints, &ai);
    if (gai != 0)
        return qat_fail(QAT_ERR_IO, "rendezvous: port %s: %s", port, gai_strerror(gai));
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        int one = 1;
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
                        bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, e->world) != 0)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return qat_fail(QAT_ERR_IO, "rendezvous: rank 0 cannot listen on MASTER_PORT=%d: %s", e->master_port,
                        strerror(errno));
    unsigned char *seen = calloc((size_t)e->world, 1);
    qat_status st = seen ? QAT_OK : qat_fail(QAT_ERR_OUT_OF_MEMORY, "rendezvous: out of memory");
    for (int served = 1; st == QAT_OK && served < e->world;) {
        if (!ready(fd, 0, deadline)) {
            st = qat_fail(QAT_ERR_IO, "rendezvous: %d of %d ranks reached MASTER_PORT=%d within %g s "
                          "(QAT_DIST_TIMEOUT)", served - 1, e->world - 1, e->master_port, e->timeout_s);
            break;
        }
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            continue;
        char magic[8];
        uint32_t rank = 0;
        uint64_t n = bytes;
        /* A stray connection (a port scanner, an old job) is dropped, not fatal. */
        if (io_all(c, magic, 8, 0, deadline) && memcmp(magic, MAGIC, 8) == 0 && io_all(c, &rank, 4, 0, deadline)) {
            if (rank == 0 || rank >= (uint32_t)e->world || seen[rank])
                st = qat_fail(QAT_ERR_STATE, "rendezvous: rank %u connected %s", rank,
                              rank == 0 || rank >= (uint32_t)e->world ? "but is not a rank of this world" : "twice");
            else if (io_all(c, MAGIC, 8, 1, deadline) && io_all(c, &n, 8, 1, deadline) &&
                     io_all(c, (void *)token, bytes, 1, deadline)) {
                seen[rank] = 1;
                served++;
            }
        }
        close(c);
    }
    free(seen);
    close(fd);
    return st;
}

static qat_status tcp_fetch(const qat_rank_env *e, void *token, size_t bytes, double deadline)
{
    char port[16];
    snprintf(port, sizeof port, "%d", e->master_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    for (;;) {
        struct addrinfo *ai = NULL;
        int gai = getaddrinfo(e->master_addr, port, &hints, &ai);
        if (gai != 0 && gai != EAI_AGAIN)
            return qat_fail(QAT_ERR_IO, "rendezvous: MASTER_ADDR=%s: %s", e->master_addr, gai_strerror(gai));
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
            int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
            if (fd < 0)
                continue;
            uint32_t rank = (uint32_t)e->rank;
            char magic[8];
            uint64_t n = 0;
            int ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0 && io_all(fd, MAGIC, 8, 1, deadline) &&
                     io_all(fd, &rank, 4, 1, deadline) && io_all(fd, magic, 8, 0, deadline) &&
                     memcmp(magic, MAGIC, 8) == 0 && io_all(fd, &n, 8, 0, deadline);
            ok = ok && n == bytes && io_all(fd, token, bytes, 0, deadline);
            close(fd);
            if (ok || n != 0) {
                freeaddrinfo(ai);
                return ok ? QAT_OK : qat_fail(QAT_ERR_STATE, "rendezvous: rank 0 sent a token of %llu bytes, "
                                              "expected %zu (another build or backend?)", (unsigned long long)n,
                                              bytes);
            }
        }
        if (ai)
            freeaddrinfo(ai);
        if (now_s() >= deadline)
            return qat_fail(QAT_ERR_IO, "rendezvous: rank %d could not reach rank 0 at %s:%d within %g s "
                            "(QAT_DIST_TIMEOUT)", e->rank, e->master_addr, e->master_port, e->timeout_s);
        pause_ms(100); /* rank 0 is not listening yet */
    }
}

/* ---- file ---------------------------------------------------------------- */

static qat_status file_write(const qat_rank_env *e, const void *token, size_t bytes)
{
    struct stat sb;
    if (stat(e->file, &sb) == 0)
        return qat_fail(QAT_ERR_STATE, "rendezvous: QAT_DIST_FILE %s exists already (left by an earlier job?): "
                        "give each job a fresh path, e.g. with $SLURM_JOB_ID in it", e->file);
    uint64_t n = bytes;
    qat_atomic_file f;
    QAT_TRY(qat_atomic_open(e->file, &f));
    qat_status st = qat_atomic_write(&f, MAGIC, 8);
    if (st == QAT_OK)
        st = qat_atomic_write(&f, &n, 8);
    if (st == QAT_OK)
        st = qat_atomic_write(&f, token, bytes);
    if (st == QAT_OK)
        return qat_atomic_commit(&f);
    qat_atomic_abort(&f);
    return st;
}

/* The file appears whole (written aside, then renamed): poll for it. */
static qat_status file_read(const qat_rank_env *e, void *token, size_t bytes, double deadline)
{
    for (;;) {
        FILE *f = fopen(e->file, "rb");
        if (f) {
            char magic[8];
            uint64_t n = 0;
            int ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, MAGIC, 8) == 0 && fread(&n, 8, 1, f) == 1 &&
                     n == bytes && fread(token, 1, bytes, f) == bytes;
            fclose(f);
            if (ok)
                return QAT_OK;
            return qat_fail(QAT_ERR_FORMAT, "rendezvous: QAT_DIST_FILE %s is not a token of %zu bytes from this "
                            "job's rank 0", e->file, bytes);
        }
        if (now_s() >= deadline)
            return qat_fail(QAT_ERR_IO, "rendezvous: rank 0 did not write QAT_DIST_FILE %s within %g s "
                            "(QAT_DIST_TIMEOUT)", e->file, e->timeout_s);
        pause_ms(20);
    }
}

qat_status qat_rendezvous_share(const qat_rank_env *e, void *token, size_t bytes)
{
    QAT_CHECK_ARG(e != NULL && token != NULL, "rendezvous: NULL argument");
    if (e->world == 1)
        return QAT_OK;
    const double deadline = now_s() + e->timeout_s;
    if (e->file[0])
        return e->rank == 0 ? file_write(e, token, bytes) : file_read(e, token, bytes, deadline);
    QAT_CHECK_ARG(e->master_addr[0] && e->master_port > 0, "rendezvous: neither MASTER_ADDR/MASTER_PORT nor "
                  "QAT_DIST_FILE");
    return e->rank == 0 ? tcp_serve(e, token, bytes, deadline) : tcp_fetch(e, token, bytes, deadline);
}

void qat_rendezvous_done(const qat_rank_env *e)
{
    if (e && e->world > 1 && e->rank == 0 && e->file[0])
        unlink(e->file);
}
