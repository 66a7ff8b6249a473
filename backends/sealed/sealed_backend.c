/* The "ref-sealed" backend, for the library's own tests: the ref kernels
 * over memory the host cannot touch outside the backend's own calls.
 *
 * Every buffer lies in anonymous mappings kept PROT_NONE. A kernel call
 * opens all of them (PROT_READ | PROT_WRITE), runs the ref kernel and seals
 * them again; upload and download open only the mapping they copy into or
 * out of, and refuse a host side that lies in a buffer or a device side
 * that does not. Any read or write of backend
 * memory by the core (a parameter, gradient or moment used as if it were a
 * host array) then faults in the test instead of on a user's GPU: it proves
 * on a CPU what a device backend needs, that the core reaches backend memory
 * only through the backend.
 *
 * Its caps lack QAT_BACKEND_CAP_HOST_MEMORY, so the dispatcher never runs a
 * ref kernel on it directly, and the core takes its device-memory paths.
 * Opened by its exact name only (qat_context_create("ref-sealed")), never
 * listed by qat_backend_list nor chosen by "auto" (lib/backend/registry.c);
 * docs/architecture.md, "Backends". */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backend/backend.h"
#include "core/error.h"

/* Buffers are carved from chunks (64 MiB, or one buffer's size when
 * larger), so opening and sealing everything around a kernel is one
 * mprotect per chunk, not per buffer; a chunk is unmapped when its last
 * buffer is freed. Carving never reuses memory, so alloc's zeroes are the
 * fresh mapping's. */
#define SEALED_CHUNK ((size_t)64 << 20)
#define SEALED_ALIGN 64
/* Chunks are aligned to and protected in 2 MiB steps and asked to be
 * transparent huge pages where the kernel offers them: mprotect then
 * rewrites one entry per 2 MiB, not per 4 KiB page (the residency runs cost
 * a fraction of the time). Correctness does not depend on it. */
#define SEALED_HUGE ((size_t)2 << 20)

typedef struct sealed_chunk {
    uint8_t *base;  /* NULL: unmapped, slot reusable */
    size_t size, used, live;
} sealed_chunk;

typedef struct sealed_buffer {
    uint8_t *ptr;
    size_t bytes;   /* asked for, rounded up to SEALED_ALIGN */
    size_t chunk;
} sealed_buffer;

typedef struct sealed_state {
    void *inner;    /* the ref backend's state: its threads */
    sealed_buffer *buf;
    size_t count, cap;
    sealed_chunk *chunks;
    size_t n_chunks;
} sealed_state;

static qat_status protect(const sealed_chunk *c, int prot, const char *what)
{
    size_t len = (c->used + SEALED_HUGE - 1) / SEALED_HUGE * SEALED_HUGE;
    if (len > c->size)
        len = c->size;
    if (len && mprotect(c->base, len, prot) != 0)
        return qat_fail(QAT_ERR_BACKEND, "ref-sealed: %s: mprotect of %zu bytes failed: %s", what, len,
                        strerror(errno));
    return QAT_OK;
}

static qat_status protect_all(sealed_state *s, int prot, const char *what)
{
    for (size_t i = 0; i < s->n_chunks; i++)
        if (s->chunks[i].base)
            QAT_TRY(protect(&s->chunks[i], prot, what));
    return QAT_OK;
}

static qat_status open_all(sealed_state *s, const char *what)
{
    return protect_all(s, PROT_READ | PROT_WRITE, what);
}

static qat_status seal_all(sealed_state *s, const char *what)
{
    return protect_all(s, PROT_NONE, what);
}

/* The buffer holding [p, p + bytes), or NULL. */
static sealed_buffer *find(sealed_state *s, const void *p, size_t bytes)
{
    const uint8_t *q = p;
    for (size_t i = 0; i < s->count; i++) {
        sealed_buffer *b = &s->buf[i];
        if (q >= b->ptr && q < b->ptr + b->bytes)
            return bytes <= (size_t)(b->ptr + b->bytes - q) ? b : NULL;
    }
    return NULL;
}

/* A chunk with `bytes` free (a new one if none), or SIZE_MAX. */
static size_t chunk_for(sealed_state *s, size_t bytes)
{
    for (size_t i = 0; i < s->n_chunks; i++)
        if (s->chunks[i].base && s->chunks[i].size - s->chunks[i].used >= bytes)
            return i;
    size_t slot = s->n_chunks;
    for (size_t i = 0; i < s->n_chunks; i++)
        if (!s->chunks[i].base)
            slot = i;
    if (slot == s->n_chunks) {
        sealed_chunk *grown = realloc(s->chunks, (s->n_chunks + 1) * sizeof *grown);
        if (!grown)
            return SIZE_MAX;
        s->chunks = grown;
        s->n_chunks++;
    }
    size_t size = bytes > SEALED_CHUNK ? (bytes + SEALED_HUGE - 1) / SEALED_HUGE * SEALED_HUGE : SEALED_CHUNK;
    /* map a huge page more, then trim to a 2 MiB aligned range */
    uint8_t *p = mmap(NULL, size + SEALED_HUGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        s->chunks[slot].base = NULL;
        return SIZE_MAX;
    }
    uint8_t *base = (uint8_t *)(((uintptr_t)p + SEALED_HUGE - 1) / SEALED_HUGE * SEALED_HUGE);
    if (base > p)
        munmap(p, (size_t)(base - p));
    if (p + SEALED_HUGE > base)
        munmap(base + size, (size_t)(p + SEALED_HUGE - base));
#ifdef MADV_HUGEPAGE
    madvise(base, size, MADV_HUGEPAGE);
#endif
    s->chunks[slot] = (sealed_chunk){base, size, 0, 0};
    return slot;
}

static int sealed_probe(void)
{
    return 1;
}

static void sealed_destroy(void *state)
{
    sealed_state *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_chunks; i++)
        if (s->chunks[i].base)
            munmap(s->chunks[i].base, s->chunks[i].size);
    free(s->chunks);
    free(s->buf);
    qat_backend_ref_ops.destroy(s->inner);
    free(s);
}

static qat_status sealed_create(int threads, void **state)
{
    sealed_state *s = calloc(1, sizeof *s);
    if (!s)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "ref-sealed: out of memory");
    qat_status st = qat_backend_ref_ops.create(threads, &s->inner);
    if (st != QAT_OK) {
        free(s);
        return st;
    }
    *state = s;
    return QAT_OK;
}

static struct qat_pool *sealed_thread_pool(void *state)
{
    return qat_backend_ref_ops.thread_pool(((sealed_state *)state)->inner);
}

static qat_status sealed_set_threads(void *state, int threads)
{
    return qat_backend_ref_ops.set_threads(((sealed_state *)state)->inner, threads);
}

static qat_status sealed_alloc(void *state, size_t bytes, void **ptr)
{
    sealed_state *s = state;
    QAT_CHECK_ARG(ptr != NULL, "alloc: NULL out");
    const size_t rounded = bytes == 0 ? SEALED_ALIGN : (bytes + SEALED_ALIGN - 1) / SEALED_ALIGN * SEALED_ALIGN;
    if (rounded < bytes)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "alloc: %zu bytes overflow", bytes);
    if (s->count == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        sealed_buffer *grown = realloc(s->buf, cap * sizeof *grown);
        if (!grown)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "ref-sealed: out of memory");
        s->buf = grown;
        s->cap = cap;
    }
    size_t c = chunk_for(s, rounded);
    if (c == SIZE_MAX)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "alloc: cannot map %zu bytes: %s", bytes, strerror(errno));
    sealed_chunk *ch = &s->chunks[c];
    s->buf[s->count++] = (sealed_buffer){ch->base + ch->used, rounded, c};
    ch->used += rounded;
    ch->live++;
    *ptr = s->buf[s->count - 1].ptr;
    return QAT_OK;
}

static void sealed_free(void *state, void *ptr)
{
    sealed_state *s = state;
    for (size_t i = 0; ptr && i < s->count; i++)
        if (s->buf[i].ptr == ptr) {
            sealed_chunk *ch = &s->chunks[s->buf[i].chunk];
            if (--ch->live == 0) {
                munmap(ch->base, ch->size);
                ch->base = NULL;
            }
            s->buf[i] = s->buf[--s->count];
            return;
        }
}

/* One buffer opened around a copy; the host side must not be a buffer. */
static qat_status transfer(sealed_state *s, void *dst, const void *src, size_t bytes, int up)
{
    if (bytes == 0)
        return QAT_OK;
    const char *what = up ? "upload" : "download";
    QAT_CHECK_ARG(dst != NULL && src != NULL, "%s: NULL buffer", what);
    const void *device = up ? (const void *)dst : src, *host = up ? src : (const void *)dst;
    sealed_buffer *b = find(s, device, bytes);
    if (!b)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "ref-sealed: %s of %zu bytes: %p is not inside one of this "
                        "backend's buffers", what, bytes, device);
    if (find(s, host, 1))
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "ref-sealed: %s: the host side %p is backend memory", what, host);
    const sealed_chunk *ch = &s->chunks[b->chunk];
    QAT_TRY(protect(ch, PROT_READ | PROT_WRITE, what));
    memcpy(dst, src, bytes);
    return protect(ch, PROT_NONE, what);
}

static qat_status sealed_upload(void *state, void *dst, const void *src, size_t bytes)
{
    return transfer(state, dst, src, bytes, 1);
}

static qat_status sealed_download(void *state, void *dst, const void *src, size_t bytes)
{
    return transfer(state, dst, src, bytes, 0);
}

static qat_status sealed_synchronize(void *state)
{
    (void)state;
    return QAT_OK;
}

/* Each kernel: open every buffer, run ref's, seal them again. */
#define SEALED_KERNEL(name, params, args)                                                          \
    static qat_status sealed_##name QAT_KERNEL_PARAMS params                                        \
    {                                                                                              \
        sealed_state *s_ = state;                                                                  \
        QAT_TRY(open_all(s_, #name));                                                              \
        qat_status st_ = qat_backend_ref_ops.name QAT_KERNEL_ARGS(s_->inner, args);                \
        qat_status sealed_ = seal_all(s_, #name);                                                  \
        return st_ != QAT_OK ? st_ : sealed_;                                                      \
    }
QAT_BACKEND_KERNELS(SEALED_KERNEL)
#undef SEALED_KERNEL

const struct qat_backend_ops qat_backend_sealed_ops = {
    .abi_version = QAT_BACKEND_ABI_VERSION,
    .name = "ref-sealed",
    .caps = QAT_BACKEND_CAP_GEMM_BATCHED,
    .score = 0,
    .probe = sealed_probe,
    .create = sealed_create,
    .destroy = sealed_destroy,
    .set_threads = sealed_set_threads,
    .thread_pool = sealed_thread_pool,
    .alloc = sealed_alloc,
    .free = sealed_free,
    .upload = sealed_upload,
    .download = sealed_download,
    .synchronize = sealed_synchronize,
#define SEALED_SLOT(name, params, args) .name = sealed_##name,
    QAT_BACKEND_KERNELS(SEALED_SLOT)
#undef SEALED_SLOT
};
