/* A small, fast, seedable generator (xoshiro256**, seeded by splitmix64).
 * Its whole state is plain data, so checkpoints can store and restore it. */
#ifndef QAT_LIB_RNG_H
#define QAT_LIB_RNG_H

#include <stdint.h>

typedef struct qat_rng {
    uint64_t s[4];
} qat_rng;

void qat_rng_seed(qat_rng *rng, uint64_t seed);
uint64_t qat_rng_next(qat_rng *rng);
/* As n calls of qat_rng_next whose results are dropped. */
void qat_rng_skip(qat_rng *rng, uint64_t n);
/* Uniform in [0, 1) with 24 random bits (exactly representable floats). */
float qat_rng_uniform(qat_rng *rng);
/* Uniform integer in [0, bound), bound > 0, without modulo bias. */
uint64_t qat_rng_below(qat_rng *rng, uint64_t bound);
/* Standard normal (Box-Muller, one draw per call). */
float qat_rng_normal(qat_rng *rng);

#endif
