/* The generated Unicode tables against Python's unicodedata for every code
 * point: make_fixtures.py writes the oracle (unicode.dump: category runs,
 * and the code points with a combining class, a decomposition or a
 * lowercase) from unicodedata itself, independently of the generator. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "tokenizer/unicode.h"
#include "../c/test_main.h"
#include "tok_test_util.h"

static const char *const cats[] = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc",
                                   "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp",
                                   "Cc", "Cf", "Cs", "Co"};

static void hexlist(const uint32_t *v, size_t n, char *buf)
{
    buf[0] = '\0';
    for (size_t k = 0; k < n; k++)
        buf += sprintf(buf, "%s%x", k ? "," : "", v[k]);
}

START_TEST(tables_match_unicodedata)
{
    FILE *f = fopen(fixture_path("unicode.dump"), "r");
    ck_assert_msg(f != NULL, "unicode.dump missing from the fixtures");
    uint8_t *listed = calloc(0x110000, 1);
    char line[512], buf[200];
    size_t covered = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned a, b;
        char cat[8], nfd[200], low[64];
        int ccc;
        if (sscanf(line, "C %x %x %7s", &a, &b, cat) == 3) {
            for (uint32_t cp = a; cp <= b; cp++, covered++)
                if (strcmp(cats[qat_tok_ucategory(cp)], cat) != 0 && bad++ < 5)
                    fprintf(stderr, "U+%04X: category %s, expected %s\n", cp, cats[qat_tok_ucategory(cp)], cat);
        } else if (sscanf(line, "P %x %d %199s %63s", &a, &ccc, nfd, low) == 4) {
            listed[a] = 1;
            uint32_t d[8], l[3];
            int ok = qat_tok_uccc(a) == ccc;
            hexlist(d, qat_tok_unfd(a, d), buf);
            ok &= strcmp(buf, nfd) == 0;
            hexlist(l, qat_tok_ulower(a, l), buf);
            ok &= strcmp(buf, low) == 0;
            if (!ok && bad++ < 5)
                fprintf(stderr, "mismatch: %s", line);
        }
    }
    fclose(f);
    ck_assert_uint_eq(covered, 0x110000);
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if (listed[cp] || (cp >= 0xD800 && cp < 0xE000))
            continue;
        uint32_t d[8], l[3];
        if ((qat_tok_uccc(cp) != 0 || qat_tok_unfd(cp, d) != 1 || d[0] != cp || qat_tok_ulower(cp, l) != 1 ||
             l[0] != cp) && bad++ < 5)
            fprintf(stderr, "U+%04X should be trivial\n", cp);
    }
    free(listed);
    ck_assert_msg(bad == 0, "%zu code points differ from unicodedata", bad);
}
END_TEST

Suite *make_suite(void)
{
    skip_without_fixtures();
    Suite *s = suite_create("tokenizer_unicode");
    TCase *tc = tcase_create("unicode");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tables_match_unicodedata);
    suite_add_tcase(s, tc);
    return s;
}
