/* The energy meter of a pipeline run (energy.h, docs/energy.md): RAPL
 * through powercap, NVML through dlopen, else an estimate. Best effort by
 * design: a counter that cannot be read is left out, never an error. */
#include "study/energy.h"

#include <dirent.h>
#include <dlfcn.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + 1e-9 * (double)(b->tv_nsec - a->tv_nsec);
}

/* ---- RAPL (powercap) ------------------------------------------------------ */

static int read_text(const char *root, const char *dir, const char *file, char *buf, size_t cap)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return n > 0 ? 0 : -1;
}

static int read_u64(const char *root, const char *dir, const char *file, uint64_t *out)
{
    char buf[64], *end;
    if (read_text(root, dir, file, buf, sizeof buf) != 0)
        return -1;
    unsigned long long v = strtoull(buf, &end, 10);
    if (end == buf || (*end && *end != ' '))
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* "intel-rapl:N" -> 1 (a package-level zone), "intel-rapl:N:M" -> 2 (a
 * subzone), anything else (intel-rapl-mmio:N duplicates the package on
 * client parts) -> 0. */
static int rapl_depth(const char *name)
{
    const char *prefix = "intel-rapl:";
    if (strncmp(name, prefix, strlen(prefix)) != 0)
        return 0;
    int depth = 0;
    for (const char *p = name + strlen(prefix) - 1; *p; ) {
        if (*p != ':' || !(p[1] >= '0' && p[1] <= '9'))
            return 0;
        p++;
        while (*p >= '0' && *p <= '9')
            p++;
        depth++;
    }
    return depth <= 2 ? depth : 0;
}

static int cmp_zone(const void *a, const void *b)
{
    return strcmp(((const qat_energy_zone *)a)->dir, ((const qat_energy_zone *)b)->dir);
}

/* Package zones (named package-*, or unnamed) and their DRAM subzones;
 * psys (the whole platform) would count the packages twice. */
static void rapl_open(qat_energy_meter *m)
{
    const char *root = getenv("QAT_POWERCAP_ROOT");
    snprintf(m->root, sizeof m->root, "%s", root && *root ? root : "/sys/class/powercap");
    DIR *d = opendir(m->root);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && m->n_zones < QAT_ENERGY_MAX_ZONES) {
        int depth = rapl_depth(e->d_name);
        if (depth == 0 || strlen(e->d_name) >= sizeof m->zones[0].dir)
            continue;
        qat_energy_zone z;
        memset(&z, 0, sizeof z);
        snprintf(z.dir, sizeof z.dir, "%s", e->d_name);
        if (read_text(m->root, z.dir, "name", z.label, sizeof z.label) != 0)
            z.label[0] = '\0';
        if (depth == 1 && z.label[0] && strncmp(z.label, "package", 7) != 0)
            continue;
        if (depth == 2 && strcmp(z.label, "dram") != 0)
            continue;
        if (read_u64(m->root, z.dir, "energy_uj", &z.last) != 0)
            continue; /* unreadable (root-only since 2020 on most kernels) */
        if (read_u64(m->root, z.dir, "max_energy_range_uj", &z.max_range) != 0)
            z.max_range = 0;
        m->zones[m->n_zones++] = z;
    }
    closedir(d);
    qsort(m->zones, (size_t)m->n_zones, sizeof *m->zones, cmp_zone);
}

static void rapl_read(qat_energy_meter *m)
{
    for (int i = 0; i < m->n_zones; i++) {
        qat_energy_zone *z = &m->zones[i];
        uint64_t v;
        if (read_u64(m->root, z->dir, "energy_uj", &v) != 0)
            continue; /* keep the last reading; the next one catches up */
        uint64_t delta;
        if (v >= z->last) {
            delta = v - z->last;
        } else if (z->max_range > 0 && z->last <= z->max_range) {
            delta = z->max_range - z->last + v; /* wrapped past max_energy_range_uj */
            z->wraps++;
        } else {
            delta = v; /* range unknown: count from zero, an underestimate */
            z->wraps++;
        }
        z->joules += 1e-6 * (double)delta;
        z->last = v;
    }
}

/* ---- NVML ------------------------------------------------------------------ */

/* CUDA's device 0 is the first of CUDA_VISIBLE_DEVICES (an index or a
 * GPU-UUID); MIG instances have no energy counter of their own. */
static void nvml_open(qat_energy_nvml *n)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    int (*init)(void) = NULL;
    int (*by_index)(unsigned, void **) = NULL;
    int (*by_uuid)(const char *, void **) = NULL;
    *(void **)&init = dlsym(lib, "nvmlInit_v2");
    *(void **)&by_index = dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&by_uuid = dlsym(lib, "nvmlDeviceGetHandleByUUID");
    *(void **)&n->total_energy = dlsym(lib, "nvmlDeviceGetTotalEnergyConsumption");
    *(void **)&n->shutdown = dlsym(lib, "nvmlShutdown");
    if (!init || !by_index || !n->total_energy || !n->shutdown || init() != 0) {
        dlclose(lib);
        memset(n, 0, sizeof *n);
        return;
    }
    const char *visible = getenv("CUDA_VISIBLE_DEVICES");
    char first[128] = "0";
    if (visible && *visible)
        snprintf(first, sizeof first, "%.*s", (int)strcspn(visible, ","), visible);
    int ok = 0;
    if (!strncmp(first, "GPU-", 4) && by_uuid) {
        ok = by_uuid(first, &n->device) == 0;
    } else if (first[0] >= '0' && first[0] <= '9') {
        ok = by_index((unsigned)strtoul(first, NULL, 10), &n->device) == 0;
    }
    snprintf(n->name, sizeof n->name, "GPU %s", first);
    if (!ok || n->total_energy(n->device, &n->start_mj) != 0) {
        n->shutdown();
        dlclose(lib);
        memset(n, 0, sizeof *n);
        return;
    }
    n->last_mj = n->start_mj;
    n->lib = lib;
}

static void nvml_read(qat_energy_nvml *n)
{
    unsigned long long v;
    if (n->lib && n->total_energy(n->device, &v) == 0 && v >= n->last_mj)
        n->last_mj = v;
}

static void nvml_close(qat_energy_nvml *n)
{
    if (!n->lib)
        return;
    n->shutdown();
    dlclose(n->lib);
    n->lib = NULL;
}

/* ---- The meter -------------------------------------------------------------- */

qat_status qat_energy_start(qat_energy_meter *m, const char *backend, int64_t threads, double power_watts,
                            double carbon_intensity)
{
    QAT_CHECK_ARG(isfinite(power_watts) && power_watts >= 0 && power_watts < 1e7,
                  "pipeline options: power_watts must be in [0, 1e7) W (0 = default), got %g", power_watts);
    QAT_CHECK_ARG(isfinite(carbon_intensity) && carbon_intensity >= 0 && carbon_intensity < 1e5,
                  "pipeline options: carbon_intensity must be in [0, 1e5) g CO2eq/kWh (0 = default), got %g",
                  carbon_intensity);
    memset(m, 0, sizeof *m);
    m->cuda = backend && !strcmp(backend, "cuda");
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? n : 1;
    }
    m->power_watts = power_watts > 0 ? power_watts
                     : m->cuda       ? QAT_ENERGY_DEFAULT_GPU_WATTS
                                     : QAT_ENERGY_DEFAULT_WATTS_PER_THREAD * (double)threads;
    m->carbon_intensity = carbon_intensity > 0 ? carbon_intensity : QAT_ENERGY_DEFAULT_CARBON_G_PER_KWH;
    rapl_open(m);
    if (m->cuda)
        nvml_open(&m->nvml);
    clock_gettime(CLOCK_MONOTONIC, &m->t0);
    m->last_sample = m->t0;
    return QAT_OK;
}

void qat_energy_sample(qat_energy_meter *m)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (seconds_between(&m->last_sample, &now) < QAT_ENERGY_SAMPLE_S)
        return;
    m->last_sample = now;
    rapl_read(m);
    nvml_read(&m->nvml);
}

static void list_zones(const qat_energy_meter *m, char *out, size_t cap, size_t used)
{
    for (int i = 0; i < m->n_zones && used < cap; i++) {
        const qat_energy_zone *z = &m->zones[i];
        int k = snprintf(out + used, cap - used, "%s%s%s%s%s", i ? ", " : "", z->dir, z->label[0] ? " (" : "",
                         z->label, z->label[0] ? ")" : "");
        used += k > 0 ? (size_t)k : 0;
    }
}

void qat_energy_stop(qat_energy_meter *m, qat_energy_reading *out)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    rapl_read(m);
    nvml_read(&m->nvml);
    memset(out, 0, sizeof *out);
    out->seconds = seconds_between(&m->t0, &now);
    out->carbon_intensity = m->carbon_intensity;
    out->device = m->cuda ? "cuda" : "cpu";
    double cpu_j = 0;
    for (int i = 0; i < m->n_zones; i++) {
        cpu_j += m->zones[i].joules;
        out->wraps += m->zones[i].wraps;
    }
    if (m->nvml.lib) {
        double gpu_j = 1e-3 * (double)(m->nvml.last_mj - m->nvml.start_mj);
        out->method = "measured-nvml";
        out->gpu_kwh = gpu_j / 3.6e6;
        out->cpu_kwh = cpu_j / 3.6e6;
        out->kwh = out->gpu_kwh + out->cpu_kwh;
        int k = snprintf(out->measured, sizeof out->measured, "%s (NVML total energy)%s", m->nvml.name,
                         m->n_zones ? " + CPU RAPL: " : "; CPU not measured (no readable RAPL zone)");
        if (m->n_zones)
            list_zones(m, out->measured, sizeof out->measured, (size_t)k);
    } else if (!m->cuda && m->n_zones) {
        out->method = "measured-rapl";
        out->cpu_kwh = cpu_j / 3.6e6;
        out->kwh = out->cpu_kwh;
        int k = snprintf(out->measured, sizeof out->measured, "CPU RAPL: ");
        list_zones(m, out->measured, sizeof out->measured, (size_t)k);
    } else {
        out->method = "estimated";
        out->power_watts = m->power_watts;
        out->kwh = m->power_watts * out->seconds / 3.6e6;
        snprintf(out->measured, sizeof out->measured, "%g W x %.1f s (%s)", m->power_watts, out->seconds,
                 m->cuda ? "no NVML energy counter readable" : "no RAPL counter readable");
    }
    out->gco2eq = out->kwh * out->carbon_intensity;
    nvml_close(&m->nvml);
}

json_object *qat_energy_json(const qat_energy_reading *r)
{
    json_object *j = json_object_new_object();
    json_object_object_add(j, "kwh", json_object_new_double(r->kwh));
    json_object_object_add(j, "seconds", json_object_new_double(r->seconds));
    json_object_object_add(j, "device", json_object_new_string(r->device));
    json_object_object_add(j, "measured", json_object_new_string(r->measured));
    json_object_object_add(j, "method", json_object_new_string(r->method));
    json_object_object_add(j, "gco2eq", json_object_new_double(r->gco2eq));
    json_object_object_add(j, "carbon_intensity_g_per_kwh", json_object_new_double(r->carbon_intensity));
    if (!strcmp(r->method, "estimated")) {
        json_object_object_add(j, "power_watts", json_object_new_double(r->power_watts));
    } else {
        json_object_object_add(j, "cpu_kwh", json_object_new_double(r->cpu_kwh));
        if (!strcmp(r->method, "measured-nvml"))
            json_object_object_add(j, "gpu_kwh", json_object_new_double(r->gpu_kwh));
        json_object_object_add(j, "counter_wraps", json_object_new_int64((int64_t)r->wraps));
    }
    return j;
}
