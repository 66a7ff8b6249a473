/* Energy and carbon of one pipeline run (docs/energy.md).
 *
 * The meter reads, in this order of preference:
 *   - on the CUDA backend, NVML's total energy counter of the GPU
 *     (libnvidia-ml.so.1, loaded at run time with dlopen: no link
 *     dependency; skipped when the library or the counter is absent), plus
 *     the CPU's RAPL zones when readable;
 *   - the Linux powercap/RAPL counters of the CPU packages (and their DRAM
 *     subzones where present) under /sys/class/powercap, or under
 *     $QAT_POWERCAP_ROOT (tests point it at a fake tree);
 *   - otherwise an estimate, power draw x duration, marked "estimated".
 * Counters are sampled at start, at most every QAT_ENERGY_SAMPLE_S seconds
 * while running (qat_energy_sample) and at stop, so a counter that wraps
 * (RAPL: every max_energy_range_uj) several times over a long run is
 * still counted right as long as it wraps at most once between samples.
 *
 * The meter is a plain struct owned by its caller: no globals, nothing
 * allocated; qat_energy_stop releases NVML. */
#ifndef QAT_LIB_ENERGY_H
#define QAT_LIB_ENERGY_H

#include <stdint.h>
#include <time.h>

#include "qat/core.h"

#define QAT_ENERGY_MAX_ZONES 16
#define QAT_ENERGY_SAMPLE_S 10.0
/* Defaults (docs/energy.md): the French grid's average carbon intensity,
 * and the estimate's draw per CPU thread and for a GPU. */
#define QAT_ENERGY_DEFAULT_CARBON_G_PER_KWH 56.0
#define QAT_ENERGY_DEFAULT_WATTS_PER_THREAD 10.0
#define QAT_ENERGY_DEFAULT_GPU_WATTS 300.0

typedef struct qat_energy_zone {
    char dir[32];           /* "intel-rapl:0", under the meter's root */
    char label[32];         /* its powercap name: "package-0", "dram" */
    uint64_t max_range;     /* max_energy_range_uj; 0 = unknown (no wrap handling) */
    uint64_t last;          /* last reading, uJ */
    double joules;          /* accumulated since start */
    unsigned wraps;
} qat_energy_zone;

typedef struct qat_energy_nvml {
    void *lib;              /* dlopen handle; NULL = not in use */
    void *device;           /* nvmlDevice_t */
    int (*total_energy)(void *device, unsigned long long *mj);
    int (*shutdown)(void);
    unsigned long long start_mj, last_mj;
    char name[64];          /* "GPU 0" */
} qat_energy_nvml;

typedef struct qat_energy_meter {
    char root[4096];                /* the powercap directory read */
    int cuda;                       /* the run's backend is CUDA */
    double power_watts;             /* the estimate's draw (resolved default) */
    double carbon_intensity;        /* g CO2eq / kWh (resolved default) */
    struct timespec t0, last_sample;
    qat_energy_zone zones[QAT_ENERGY_MAX_ZONES];
    int n_zones;
    qat_energy_nvml nvml;
} qat_energy_meter;

typedef struct qat_energy_reading {
    double seconds;
    double kwh;
    double cpu_kwh, gpu_kwh;        /* measured parts (0 when not measured) */
    double carbon_intensity;        /* g CO2eq / kWh used */
    double gco2eq;
    double power_watts;             /* the estimate's draw; 0 when measured */
    const char *method;             /* "measured-nvml" | "measured-rapl" | "estimated" */
    const char *device;             /* "cpu" | "cuda" */
    char measured[512];             /* what was read: zones, GPU, or the estimate's basis */
    unsigned wraps;                 /* counter wrap-arounds seen */
} qat_energy_reading;

/* Starts metering. backend: the context's backend name ("cuda" selects
 * NVML); threads: CPU threads in use (for the estimate's default draw;
 * <= 0 = the online cores); power_watts: the estimate's draw, 0 = default
 * (10 W x threads on CPU, 300 W on CUDA); carbon_intensity: g CO2eq per
 * kWh, 0 = default (56, France). Fails only on invalid arguments (a
 * negative or non-finite power or intensity), before reading anything. */
qat_status qat_energy_start(qat_energy_meter *m, const char *backend, int64_t threads, double power_watts,
                            double carbon_intensity);
/* Reads the counters if QAT_ENERGY_SAMPLE_S have passed since the last
 * reading (cheap otherwise: one clock_gettime). */
void qat_energy_sample(qat_energy_meter *m);
/* Reads the counters a last time, fills *out and releases NVML. */
void qat_energy_stop(qat_energy_meter *m, qat_energy_reading *out);

/* The "energy" object of results.json. */
struct json_object;
struct json_object *qat_energy_json(const qat_energy_reading *r);

#endif
