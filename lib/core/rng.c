#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void qat_rng_seed(qat_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The state transition alone (the output scrambler is not needed). */
static inline void advance(uint64_t *s)
{
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
}

uint64_t qat_rng_next(qat_rng *rng)
{
    uint64_t result = rotl(rng->s[1] * 5, 7) * 9;
    advance(rng->s);
    return result;
}

void qat_rng_skip(qat_rng *rng, uint64_t n)
{
    uint64_t s[4] = {rng->s[0], rng->s[1], rng->s[2], rng->s[3]};
    for (uint64_t i = 0; i < n; i++)
        advance(s);
    for (int i = 0; i < 4; i++)
        rng->s[i] = s[i];
}

float qat_rng_uniform(qat_rng *rng)
{
    return (float)(qat_rng_next(rng) >> 40) * (1.0f / 16777216.0f);
}

uint64_t qat_rng_below(qat_rng *rng, uint64_t bound)
{
    /* Rejection sampling on the top of the range keeps it unbiased. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do {
        x = qat_rng_next(rng);
    } while (x >= limit);
    return x % bound;
}

float qat_rng_normal(qat_rng *rng)
{
    double u1 = ((double)(qat_rng_next(rng) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(qat_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
