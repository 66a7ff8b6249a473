/* PyTorch parity of the quantizers: gen_quant_ref.py (torch 1.13) writes
 * the codes and scales of the BitNet and LSQ fake quantizers on random and
 * adversarial tensors; lib/packed must produce identical ones. The file's
 * path comes in QAT_GOLDEN_PACKED_QUANT (meson builds it at test time). */
#include "packed_test_util.h"
#include "qat/core.h"
#include "test_main.h"

static int read_i32(FILE *f, int32_t *v) { return fread(v, sizeof *v, 1, f) == 1; }

static void *read_array(FILE *f, size_t count, size_t size)
{
    void *p = malloc(count * size + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_msg(fread(p, size, count, f) == count, "golden file truncated");
    return p;
}

static void check_case(int kind, int bits, int rows, int cols, int flag, const float *params,
                       const float *x, const int8_t *want, int nscale, const float *want_scale, int index)
{
    int8_t *got = malloc((size_t)rows * (size_t)cols);
    float *scale = malloc((size_t)(rows > 0 ? rows : 1) * sizeof *scale);
    int ngot = 0;
    if (kind == 0 || kind == 1) {
        qat_packed_weights pw;
        if (kind == 0) {
            QAT_ASSERT_OK(qat_packed_bitnet_gamma(x, rows, cols, flag, scale));
            /* Both ternary layouts must carry the same codes. */
            for (int f = 0; f < 2; f++) {
                QAT_ASSERT_OK(qat_packed_pack_ternary(x, rows, cols, scale, flag,
                                                      f ? QAT_PACKED_W_TERNARY1P6 : QAT_PACKED_W_TERNARY2, &pw));
                QAT_ASSERT_OK(qat_packed_unpack_codes(&pw, 0, rows, got));
                qat_packed_weights_free(&pw);
                ck_assert_msg(memcmp(got, want, (size_t)rows * (size_t)cols) == 0,
                              "case %d (bitnet weight, layout %d): codes differ from torch", index, f);
            }
        } else {
            QAT_ASSERT_OK(qat_packed_pack_lsq(x, rows, cols, bits, params, flag, &pw));
            QAT_ASSERT_OK(qat_packed_unpack_codes(&pw, 0, rows, got));
            memcpy(scale, pw.scale, (size_t)(flag ? rows : 1) * sizeof *scale);
            qat_packed_weights_free(&pw);
        }
        ngot = flag ? rows : 1;
    } else {
        qat_packed_acts a;
        QAT_ASSERT_OK(qat_packed_acts_alloc(rows, cols, &a));
        if (kind == 2)
            QAT_ASSERT_OK(qat_packed_quantize_bitnet(NULL, x, cols, bits, flag, &a));
        else
            QAT_ASSERT_OK(qat_packed_quantize_lsq(NULL, x, cols, bits, params[0], &a));
        for (int r = 0; r < rows; r++) {
            memcpy(got + (size_t)r * (size_t)cols, a.codes + r * a.stride, (size_t)cols);
            scale[r] = a.scale[r];
        }
        ngot = rows;
        qat_packed_acts_free(&a);
    }
    size_t i = 0;
    while (i < (size_t)rows * (size_t)cols && got[i] == want[i])
        i++;
    if (i < (size_t)rows * (size_t)cols)
        ck_assert_msg(got[i] == want[i], "case %d (kind %d, %d bits, %dx%d, flag %d): code %zu = %d, torch %d (x = %a)",
                      index, kind, bits, rows, cols, flag, i, got[i], want[i], (double)x[i]);
    ck_assert_int_eq(ngot, nscale);
    for (int i = 0; i < nscale; i++)
        ck_assert_msg(memcmp(&scale[i], &want_scale[i], sizeof(float)) == 0,
                      "case %d (kind %d, %d bits): scale %d = %a, torch %a", index, kind, bits, i,
                      (double)scale[i], (double)want_scale[i]);
    free(got);
    free(scale);
}

START_TEST(codes_and_scales_match_torch)
{
    const char *path = getenv("QAT_GOLDEN_PACKED_QUANT");
    ck_assert_msg(path && *path, "QAT_GOLDEN_PACKED_QUANT is not set (run through meson test)");
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char magic[4];
    int32_t ncases = 0;
    ck_assert(fread(magic, 1, 4, f) == 4 && memcmp(magic, "QPKT", 4) == 0);
    ck_assert(read_i32(f, &ncases) && ncases > 0);
    int per_kind[4] = {0};
    for (int c = 0; c < ncases; c++) {
        int32_t h[6], nscale;
        for (int i = 0; i < 6; i++)
            ck_assert(read_i32(f, &h[i]));
        ck_assert(h[0] >= 0 && h[0] <= 3 && h[2] > 0 && h[3] > 0 && h[5] >= 0);
        size_t n = (size_t)h[2] * (size_t)h[3];
        float *params = read_array(f, (size_t)h[5], sizeof(float));
        float *x = read_array(f, n, sizeof(float));
        int8_t *q = read_array(f, n, 1);
        ck_assert(read_i32(f, &nscale) && nscale > 0);
        float *scale = read_array(f, (size_t)nscale, sizeof(float));
        check_case(h[0], h[1], h[2], h[3], h[4], params, x, q, nscale, scale, c);
        per_kind[h[0]]++;
        free(params);
        free(x);
        free(q);
        free(scale);
    }
    fclose(f);
    fprintf(stderr, "torch parity: %d cases (bitnet W %d, lsq W %d, bitnet A %d, lsq A %d)\n", ncases,
            per_kind[0], per_kind[1], per_kind[2], per_kind[3]);
    for (int k = 0; k < 4; k++)
        ck_assert_int_gt(per_kind[k], 0);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("packed_torch");
    TCase *tc = tcase_create("torch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, codes_and_scales_match_torch);
    suite_add_tcase(s, tc);
    return s;
}
