/* Training-state files (lib/train/state.c) against what a damaged or
 * hostile file can do (issue #17): a state that claims 4 GiB is refused
 * before anything is allocated for it (under a 1 GiB address-space limit),
 * a payload of 8 bytes no longer makes the reader copy 16 (ASan saw the
 * over-read), a flipped byte fails the CRC; a saved state resumes
 * bit-identically. With -DSTATE_SLOW: the CRC over a 4.5 GiB sparse file
 * (zlib's crc32 takes 32-bit lengths; every state of 4 GiB or more read as
 * "CRC mismatch"). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "core/crc32.h"
#include "memory_limit.h"
#include "qat/qat.h"
#include "test_main.h"
#include "train/trainer.h"

#ifndef STATE_SLOW
static qat_context *ctx;
static qat_model *model;
static qat_trainer *trainer;
static char path[64];

static void setup(void)
{
    QAT_ASSERT_OK(qat_context_create("ref", &ctx));
    qat_model_options o;
    QAT_ASSERT_OK(qat_model_options_init(&o, QAT_MODEL_OPTIONS_VERSION));
    o.vocab_size = 32;
    o.hidden_size = 8;
    o.num_layers = 1;
    o.num_heads = 2;
    o.intermediate_size = 16;
    o.max_position_embeddings = 16;
    QAT_ASSERT_OK(qat_model_create(ctx, &o, &model));
    qat_train_options to;
    QAT_ASSERT_OK(qat_train_options_init(&to, QAT_TRAIN_OPTIONS_VERSION));
    QAT_ASSERT_OK(qat_trainer_create(model, &to, 10, &trainer));
    snprintf(path, sizeof path, "/tmp/qat-state-%d.state", (int)getpid());
}

static void teardown(void)
{
    unlink(path);
    qat_trainer_free(trainer);
    qat_model_free(model);
    qat_context_free(ctx);
}

/* A state file: header, a zlib stream of `payload`, then the trailer with
 * `claimed` bytes and the payload's CRC. */
static void write_state(const uint8_t *payload, size_t n, uint64_t claimed)
{
    uLongf packed_n = compressBound((uLong)n);
    uint8_t *packed = malloc(packed_n);
    ck_assert_int_eq(compress(packed, &packed_n, payload, (uLong)n), Z_OK);
    uint32_t head[2] = {1, 0}, crc = (uint32_t)crc32(crc32(0, NULL, 0), payload, (uInt)n);
    FILE *f = fopen(path, "wb");
    fwrite("QATSTATE", 1, 8, f);
    fwrite(head, sizeof head, 1, f);
    fwrite(packed, 1, packed_n, f);
    fwrite(&claimed, 8, 1, f);
    fwrite(&crc, 4, 1, f);
    fclose(f);
    free(packed);
}

START_TEST(claimed_size_checked_before_reading)
{
    uint8_t payload[64] = {0};
    write_state(payload, sizeof payload, (uint64_t)4 << 30);
    uint64_t pos[2];
    QAT_ASSERT_FAILS(qat_trainer_resume(trainer, path, pos), QAT_ERR_STATE, "holds a state of 4294967296 bytes");
    ck_assert_msg(strstr(qat_last_error(), "saved for another model"), "%s", qat_last_error());
}
END_TEST

START_TEST(short_payload_no_over_read)
{
    uint8_t payload[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    write_state(payload, sizeof payload, sizeof payload);
    uint64_t pos[2];
    QAT_ASSERT_FAILS(qat_trainer_resume(trainer, path, pos), QAT_ERR_STATE, "holds a state of 8 bytes");
}
END_TEST

START_TEST(round_trip_and_damage)
{
    uint64_t pos[2] = {7, 11}, back[2] = {0, 0};
    trainer->step = 3;
    float *saved = malloc(model->total * sizeof(float));
    memcpy(saved, model->w, model->total * sizeof(float));
    QAT_ASSERT_OK(qat_trainer_save(trainer, path, pos));
    memset(model->w, 0, model->total * sizeof(float));
    trainer->step = 0;
    QAT_ASSERT_OK(qat_trainer_resume(trainer, path, back));
    ck_assert(memcmp(saved, model->w, model->total * sizeof(float)) == 0);
    ck_assert_int_eq(trainer->step, 3);
    ck_assert(back[0] == 7 && back[1] == 11);
    /* one byte flipped in the compressed stream's middle */
    int fd = open(path, O_RDWR);
    off_t size = lseek(fd, 0, SEEK_END);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, size / 2), 1);
    b ^= 0x10;
    ck_assert_int_eq(pwrite(fd, &b, 1, size / 2), 1);
    close(fd);
    qat_status st = qat_trainer_resume(trainer, path, back);
    ck_assert_int_eq(st, QAT_ERR_FORMAT);
    ck_assert_msg(strstr(qat_last_error(), "CRC mismatch") || strstr(qat_last_error(), "corrupt compressed data"),
                  "%s", qat_last_error());
    free(saved);
}
END_TEST

Suite *make_suite(void)
{
    qat_test_limit_memory((size_t)1 << 30);
    Suite *s = suite_create("training_state");
    TCase *tc = tcase_create("state");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, claimed_size_checked_before_reading);
    tcase_add_test(tc, short_payload_no_over_read);
    tcase_add_test(tc, round_trip_and_damage);
    suite_add_tcase(s, tc);
    return s;
}

#else

/* zlib's CRC of n zero bytes, by combining a 1 MiB block's (no 32-bit
 * length involved): what qat_crc32 must give over any length. */
static uint32_t crc_of_zeros(uint64_t n)
{
    static uint8_t block[1 << 20];
    uLong one = crc32(crc32(0, NULL, 0), block, sizeof block), crc = crc32(0, NULL, 0);
    for (; n >= sizeof block; n -= sizeof block)
        crc = crc32_combine(crc, one, (z_off_t)sizeof block);
    return (uint32_t)crc32(crc, block, (uInt)n);
}

START_TEST(crc_past_4_gib)
{
    const uint64_t size = ((uint64_t)9 << 29) + 12345; /* 4.5 GiB and some */
    char path[] = "/tmp/qat-sparse-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(ftruncate(fd, (off_t)size), 0); /* sparse: no disk used */
    uint8_t *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ck_assert(p != MAP_FAILED);
    uint32_t want = crc_of_zeros(size);
    ck_assert_uint_eq(qat_crc32(p, size), want);
    /* the truncating call the state reader made gets it wrong */
    ck_assert_uint_ne((uint32_t)crc32(crc32(0, NULL, 0), p, (uInt)size), want);
    munmap(p, size);
    close(fd);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("training_state_crc");
    TCase *tc = tcase_create("crc");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, crc_past_4_gib);
    suite_add_tcase(s, tc);
    return s;
}
#endif
