/* A torch zip checkpoint built as a decompression bomb (issue #17): 4 MB of
 * deflate that inflates to 4.1 GB of storage, of which the one tensor uses
 * 16 bytes. It inflated whole before; now it is refused before inflating
 * anything (the archive's inflate budget), under a 1 GiB address-space
 * limit. A storage larger than its tensor but within the budget still
 * loads, keeping only what the tensor addresses. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "formats/tensor_set.h"
#include "formats/torch_bin.h"
#include "memory_limit.h"
#include "qat/qat.h"
#include "test_main.h"

#define BLOCK ((size_t)1 << 20)

/* {"w": _rebuild_tensor_v2(storage "0" of `numel` floats, offset, (4,), (1,))} */
static size_t tensor_pickle(uint8_t *out, uint32_t numel, uint8_t offset)
{
    static const char head[] = "\x80\x02}(X\x01\x00\x00\x00w"
                               "ctorch._utils\n_rebuild_tensor_v2\n"
                               "((X\x07\x00\x00\x00storage"
                               "ctorch\nFloatStorage\n"
                               "X\x01\x00\x00\x00" "0"
                               "X\x03\x00\x00\x00" "cpu"
                               "J";
    static const char tail[] = "tQK";
    static const char rest[] = "K\x04\x85K\x01\x85\x89"
                               "ccollections\nOrderedDict\n)R"
                               "tRu.";
    size_t n = 0;
    memcpy(out + n, head, sizeof head - 1);
    n += sizeof head - 1;
    for (int i = 0; i < 4; i++)
        out[n++] = (uint8_t)(numel >> (8 * i));
    memcpy(out + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;
    out[n++] = offset;
    memcpy(out + n, rest, sizeof rest - 1);
    return n + sizeof rest - 1;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

/* One local header (with sizes and CRC) and its data go to f; the central
 * header is appended to cd. */
static void entry(FILE *f, uint8_t *cd, size_t *cd_n, const char *name, uint16_t method, uint32_t crc, uint32_t comp,
                  uint32_t size, const uint8_t *data, size_t data_n)
{
    uint8_t h[30] = {0};
    long at = ftell(f);
    put32(h, 0x04034b50); put16(h + 4, 20); put16(h + 8, method);
    put32(h + 14, crc); put32(h + 18, comp); put32(h + 22, size);
    put16(h + 26, (uint16_t)strlen(name));
    fwrite(h, 1, 30, f);
    fwrite(name, 1, strlen(name), f);
    if (data)
        fwrite(data, 1, data_n, f);
    uint8_t *c = cd + *cd_n;
    memset(c, 0, 46);
    put32(c, 0x02014b50); put16(c + 4, 20); put16(c + 6, 20); put16(c + 10, method);
    put32(c + 16, crc); put32(c + 20, comp); put32(c + 24, size);
    put16(c + 28, (uint16_t)strlen(name)); put32(c + 42, (uint32_t)at);
    memcpy(c + 46, name, strlen(name));
    *cd_n += 46 + strlen(name);
}

/* A torch archive whose storage "0" is `blocks` MiB of zeros, deflated by
 * repeating one full-flush block (cheap to make at any size), and whose
 * tensor addresses 4 floats from `offset`; crc_xor damages its CRC. */
static void write_archive(const char *path, uint32_t blocks, uint8_t offset, uint32_t crc_xor)
{
    static uint8_t zeros[BLOCK];
    static uint8_t b1[BLOCK], b2[BLOCK], b3[BLOCK], fin[64];
    z_stream s;
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(deflateInit2(&s, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    uint8_t *outs[3] = {b1, b2, b3};
    size_t lens[3];
    for (int k = 0; k < 3; k++) {
        s.next_in = zeros;
        s.avail_in = BLOCK;
        s.next_out = outs[k];
        s.avail_out = BLOCK;
        ck_assert_int_eq(deflate(&s, Z_FULL_FLUSH), Z_OK);
        lens[k] = BLOCK - s.avail_out;
    }
    ck_assert(lens[1] == lens[2] && memcmp(b2, b3, lens[1]) == 0); /* the repeating block */
    s.next_in = zeros;
    s.avail_in = 0;
    s.next_out = fin;
    s.avail_out = sizeof fin;
    ck_assert_int_eq(deflate(&s, Z_FINISH), Z_STREAM_END);
    size_t fin_n = sizeof fin - s.avail_out;
    deflateEnd(&s);
    uLong one = crc32(crc32(0, NULL, 0), zeros, BLOCK), crc = crc32(0, NULL, 0);
    for (uint32_t i = 0; i < blocks; i++)
        crc = crc32_combine(crc, one, (z_off_t)BLOCK);
    uint64_t size = (uint64_t)blocks * BLOCK;
    ck_assert(size < ((uint64_t)1 << 32));
    uint32_t comp = (uint32_t)(lens[0] + (blocks - 1) * lens[1] + fin_n);

    uint8_t pkl[512], cd[512];
    size_t pkl_n = tensor_pickle(pkl, (uint32_t)(size / 4), offset), cd_n = 0;
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    entry(f, cd, &cd_n, "bomb/data.pkl", 0, (uint32_t)crc32(crc32(0, NULL, 0), pkl, (uInt)pkl_n), (uint32_t)pkl_n,
          (uint32_t)pkl_n, pkl, pkl_n);
    entry(f, cd, &cd_n, "bomb/data/0", 8, (uint32_t)crc ^ crc_xor, comp, (uint32_t)size, NULL, 0);
    fwrite(b1, 1, lens[0], f);
    for (uint32_t i = 1; i < blocks; i++)
        fwrite(b2, 1, lens[1], f);
    fwrite(fin, 1, fin_n, f);
    long cd_at = ftell(f);
    fwrite(cd, 1, cd_n, f);
    uint8_t eocd[22] = {0};
    put32(eocd, 0x06054b50); put16(eocd + 8, 2); put16(eocd + 10, 2);
    put32(eocd + 12, (uint32_t)cd_n); put32(eocd + 16, (uint32_t)cd_at);
    fwrite(eocd, 1, 22, f);
    fclose(f);
}

START_TEST(deflate_bomb_refused)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/qat-bomb-%d.bin", (int)getpid());
    write_archive(path, 3910, 0, 0); /* 4.1 GB */
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    QAT_ASSERT_FAILS(qat_torch_bin_read(path, 0, set), QAT_ERR_FORMAT, "refused as a likely decompression bomb");
    ck_assert_msg(strstr(qat_last_error(), "inflates to 4099932160 bytes"), "%s", qat_last_error());
    qat_tensor_set_free(set);
    unlink(path);
}
END_TEST

START_TEST(storage_larger_than_its_tensor)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/qat-view-%d.bin", (int)getpid());
    write_archive(path, 16, 9, 0); /* 16 MiB of storage, a 4-float view at element 9 */
    qat_tensor_set *set;
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    QAT_ASSERT_OK(qat_torch_bin_read(path, 0, set));
    const qat_tensor *w = qat_tensor_set_find(set, "w");
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->numel, 4);
    for (int i = 0; i < 4; i++)
        ck_assert(w->data[i] == 0.0f);
    qat_tensor_set_free(set);
    /* the part nobody reads is still inflated to check the CRC */
    write_archive(path, 16, 9, 1);
    QAT_ASSERT_OK(qat_tensor_set_create(&set));
    QAT_ASSERT_FAILS(qat_torch_bin_read(path, 0, set), QAT_ERR_FORMAT, "CRC-32 mismatch");
    qat_tensor_set_free(set);
    unlink(path);
}
END_TEST

Suite *make_suite(void)
{
    qat_test_limit_memory((size_t)1 << 30);
    Suite *s = suite_create("formats_bounds");
    TCase *tc = tcase_create("bounds");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, deflate_bomb_refused);
    tcase_add_test(tc, storage_larger_than_its_tensor);
    suite_add_tcase(s, tc);
    return s;
}
