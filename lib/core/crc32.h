/* CRC-32 (zlib's) over a size_t length: zlib takes 32-bit lengths, so
 * larger buffers go in chunks. Used by the .qatp and zip readers and writers. */
#ifndef QAT_LIB_CORE_CRC32_H
#define QAT_LIB_CORE_CRC32_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

static inline uint32_t qat_crc32(const uint8_t *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

#endif
