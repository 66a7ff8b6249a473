/* The ExWyAz notation (include/qat/quant.h): parsing and the canonical
 * string, which is derived from the content so that names cannot lie. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/quant_config.h"

#define class_letters qat_quant_class_letters
#define class_names qat_quant_class_names

typedef struct parsed_class {
    int bits;           /* 32 = float */
    int ternary;        /* W1.58 */
    int algo_override;  /* -1 or a qat_quant_algo */
    int gran_override;  /* -1 or a qat_granularity */
    const char *start;  /* for messages */
    int length;
} parsed_class;

static int ieq(const char *s, const char *word, size_t n)
{
    if (strlen(word) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return 0;
    }
    return 1;
}

static qat_status parse_options(const char *text, const char **p, parsed_class *pc, int cls)
{
    const char *s = *p + 1; /* after '(' */
    for (;;) {
        const char *word = s;
        while (*s && *s != ',' && *s != ')')
            s++;
        size_t n = (size_t)(s - word);
        if (ieq(word, "lsq", n))
            pc->algo_override = QAT_ALGO_LSQ;
        else if (ieq(word, "lsq+", n))
            pc->algo_override = QAT_ALGO_LSQ_PLUS;
        else if (ieq(word, "bitnet", n))
            pc->algo_override = QAT_ALGO_BITNET158;
        else if (ieq(word, "tensor", n))
            pc->gran_override = QAT_GRAN_TENSOR;
        else if (ieq(word, "row", n))
            pc->gran_override = QAT_GRAN_ROW;
        else if (ieq(word, "token", n))
            pc->gran_override = QAT_GRAN_TOKEN;
        else
            return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                            "bad quant config '%s': unknown option '%.*s' for %c "
                            "(expected lsq, lsq+, bitnet, tensor, row or token)",
                            text, (int)n, word, class_letters[cls]);
        if (*s == ')') {
            *p = s + 1;
            return QAT_OK;
        }
        if (*s != ',')
            return qat_fail(QAT_ERR_INVALID_ARGUMENT, "bad quant config '%s': unclosed '(' after %c",
                            text, class_letters[cls]);
        s++;
    }
}

/* *p walks `base`, the copy of text before any '@': positions in messages
 * count from base, which starts where text does. */
static qat_status parse_class(const char *text, const char *base, const char **p, int cls, parsed_class *pc)
{
    const char *s = *p;
    char letter = *s;
    if (letter >= 'a' && letter <= 'z')
        letter = (char)(letter - 'a' + 'A');
    if (letter != class_letters[cls]) {
        if (*s == '\0')
            return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                            "bad quant config '%s': missing %c<bits> (%s) at position %d; "
                            "a config names E, W and A in that order, e.g. E8W8A8 or E6W1.58A6",
                            text, class_letters[cls], class_names[cls], (int)(s - base) + 1);
        return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                        "bad quant config '%s': expected '%c' (%s bits) at position %d, found '%c'; "
                        "a config names E, W and A in that order, e.g. E8W8A8 or E6W1.58A6",
                        text, class_letters[cls], class_names[cls], (int)(s - base) + 1, *s);
    }
    pc->start = s;
    s++;
    const char *digits = s;
    long bits = 0;
    while (*s >= '0' && *s <= '9' && s - digits < 3)
        bits = bits * 10 + (*s++ - '0');
    if (s == digits)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "bad quant config '%s': %c needs a bit width (2..8, 32%s)",
                        text, class_letters[cls], cls == QAT_CLASS_WEIGHT ? " or 1.58" : "");
    pc->ternary = 0;
    if (*s == '.') {
        const char *frac = s + 1;
        const char *end = frac;
        while (*end >= '0' && *end <= '9')
            end++;
        if (cls == QAT_CLASS_WEIGHT && bits == 1 && end - frac == 2 && frac[0] == '5' && frac[1] == '8') {
            pc->ternary = 1;
            s = end;
        } else {
            return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                            "bad quant config '%s': %.*s: %s bits must be an integer 2..8 or 32%s",
                            text, (int)(end - pc->start), pc->start, class_names[cls],
                            cls == QAT_CLASS_WEIGHT ? ", or 1.58 for BitNet b1.58 ternary weights" : "");
        }
    } else if (!((bits >= 2 && bits <= 8) || bits == 32)) {
        return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                        "bad quant config '%s': %.*s: %s bits must be 2..8 or 32 (float)%s",
                        text, (int)(s - pc->start), pc->start, class_names[cls],
                        cls == QAT_CLASS_WEIGHT ? ", or 1.58 for BitNet b1.58 ternary weights" : "");
    }
    pc->bits = (int)bits;
    pc->algo_override = -1;
    pc->gran_override = -1;
    if (*s == '(')
        QAT_TRY(parse_options(text, &s, pc, cls));
    pc->length = (int)(s - pc->start);
    *p = s;
    return QAT_OK;
}

static const struct {
    const char *word;
    qat_quant_switch which;
} switch_words[] = {
    {"shared", QAT_QS_SHARING},
    {"frozen-step", QAT_QS_LSQ_GRADIENT},
    {"symmetric", QAT_QS_ACT_RANGE},
    {"mlm-head", QAT_QS_MLM_HEAD},
};
#define N_SWITCH_WORDS (sizeof switch_words / sizeof switch_words[0])

/* "seed-code", "paper" or switch words after the '@', comma-separated, in
 * order: a profile sets everything, a word sets its switch. */
static qat_status parse_switches(const char *text, const char *s, qat_quant_config *cfg, int explicit_w_granularity)
{
    for (;;) {
        const char *word = s;
        while (*s && *s != ',')
            s++;
        size_t n = (size_t)(s - word);
        int known = 0;
        if (ieq(word, "seed-code", n) || ieq(word, "paper", n)) {
            qat_quant_config_apply_profile(cfg, ieq(word, "paper", n) ? QAT_PROFILE_PAPER : QAT_PROFILE_SEED_CODE,
                                           explicit_w_granularity);
            known = 1;
        }
        for (size_t i = 0; !known && i < N_SWITCH_WORDS; i++)
            if (ieq(word, switch_words[i].word, n)) {
                cfg->switches[switch_words[i].which] = 1;
                known = 1;
            }
        if (!known)
            return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                            "bad quant config '%s': unknown switch '@%.*s' (expected seed-code, paper, shared, "
                            "frozen-step, symmetric or mlm-head)",
                            text, (int)n, word);
        if (*s == '\0')
            return QAT_OK;
        s++;
    }
}

QAT_API qat_status qat_quant_config_parse(const char *text, qat_quant_config **out)
{
    QAT_CHECK_ARG(out != NULL, "qat_quant_config_parse: NULL out");
    *out = NULL;
    QAT_CHECK_ARG(text != NULL, "qat_quant_config_parse: NULL string");
    size_t len = strnlen(text, QAT_QUANT_CONFIG_MAX_STRING + 1);
    QAT_CHECK_ARG(len > 0, "bad quant config: empty string (expected e.g. FP32, E8W8A8, E6W1.58A6)");
    QAT_CHECK_ARG(len <= QAT_QUANT_CONFIG_MAX_STRING,
                  "bad quant config: longer than %d characters", QAT_QUANT_CONFIG_MAX_STRING);

    qat_quant_config cfg;
    qat_quant_config_init_fp32(&cfg);
    const char *at = strchr(text, '@');
    size_t base_len = at ? (size_t)(at - text) : len;
    int explicit_w_granularity = 0;
    if (!(ieq(text, "fp32", base_len) || ieq(text, "none", base_len))) {
        parsed_class pc[QAT_CLASS_COUNT];
        char base[QAT_QUANT_CONFIG_MAX_STRING + 1];
        memcpy(base, text, base_len);
        base[base_len] = '\0';
        const char *p = base;
        for (int c = 0; c < QAT_CLASS_COUNT; c++)
            QAT_TRY(parse_class(text, base, &p, c, &pc[c]));
        explicit_w_granularity = pc[QAT_CLASS_WEIGHT].gran_override >= 0;
        if (*p != '\0')
            return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                            "bad quant config '%s': unexpected '%s' after the A part", text, p);
        int weights_bitnet = pc[QAT_CLASS_WEIGHT].ternary ||
                             pc[QAT_CLASS_WEIGHT].algo_override == QAT_ALGO_BITNET158;
        for (int c = 0; c < QAT_CLASS_COUNT; c++) {
            qat_class_quant q = qat_class_quant_default((qat_tensor_class)c, pc[c].bits, pc[c].ternary,
                                                        weights_bitnet);
            if (pc[c].algo_override >= 0 && pc[c].algo_override != (int)q.algo) {
                if (pc[c].bits == 32)
                    return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                                    "bad quant config '%s': %.*s: a 32-bit (float) class takes no algorithm",
                                    text, pc[c].length, pc[c].start);
                q.algo = (qat_quant_algo)pc[c].algo_override;
                q.granularity = q.algo == QAT_ALGO_BITNET158 && c == QAT_CLASS_ACTIVATION
                                    ? QAT_GRAN_TOKEN : QAT_GRAN_TENSOR;
                if (q.algo == QAT_ALGO_BITNET158 && c == QAT_CLASS_WEIGHT)
                    return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                                    "bad quant config '%s': %.*s: BitNet weights are written W1.58",
                                    text, pc[c].length, pc[c].start);
            }
            if (pc[c].gran_override >= 0)
                q.granularity = (qat_granularity)pc[c].gran_override;
            qat_status st = qat_class_quant_validate((qat_tensor_class)c, &q);
            if (st != QAT_OK)
                return qat_fail_prefix(st, "bad quant config '%s': %.*s", text, pc[c].length, pc[c].start);
            cfg.cls[c] = q;
        }
    }
    if (at)
        QAT_TRY(parse_switches(text, at + 1, &cfg, explicit_w_granularity));
    qat_status valid = qat_quant_config_validate(&cfg);
    if (valid != QAT_OK)
        return qat_fail_prefix(valid, "bad quant config '%s'", text);
    QAT_TRY(qat_quant_config_create(out));
    **out = cfg;
    return QAT_OK;
}

static size_t append(char *buf, size_t cap, size_t used, const char *s)
{
    size_t n = strlen(s);
    if (used + n < cap)
        memcpy(buf + used, s, n + 1);
    return used + n;
}

QAT_API qat_status qat_quant_config_to_string(const qat_quant_config *cfg, char *buffer,
                                              size_t capacity, size_t *needed)
{
    QAT_CHECK_ARG(cfg != NULL, "qat_quant_config_to_string: NULL config");
    QAT_CHECK_ARG(buffer != NULL || capacity == 0, "qat_quant_config_to_string: NULL buffer");
    char text[QAT_QUANT_CONFIG_MAX_STRING + 1];
    size_t used = 0;
    text[0] = '\0';
    int all_float = 1;
    for (int c = 0; c < QAT_CLASS_COUNT; c++)
        all_float &= cfg->cls[c].algo == QAT_ALGO_NONE;
    if (all_float) {
        used = append(text, sizeof text, used, "FP32");
    } else {
        int weights_bitnet = cfg->cls[QAT_CLASS_WEIGHT].algo == QAT_ALGO_BITNET158;
        qat_quant_profile profile;
        QAT_TRY(qat_quant_config_get_profile(cfg, &profile));
        for (int c = 0; c < QAT_CLASS_COUNT; c++) {
            qat_class_quant q_shown = cfg->cls[c];
            const qat_class_quant *q = &q_shown;
            if (profile == QAT_PROFILE_SEED_CODE && c == QAT_CLASS_WEIGHT && weights_bitnet)
                q_shown.granularity = QAT_GRAN_TENSOR; /* @seed-code implies per-row BitNet scales */
            char token[32];
            int ternary = c == QAT_CLASS_WEIGHT && q->algo == QAT_ALGO_BITNET158;
            if (ternary)
                snprintf(token, sizeof token, "%c1.58", class_letters[c]);
            else
                snprintf(token, sizeof token, "%c%d", class_letters[c], q->bits);
            used = append(text, sizeof text, used, token);
            qat_class_quant implied = qat_class_quant_default((qat_tensor_class)c, q->bits, ternary,
                                                              weights_bitnet);
            const char *opts[2];
            int n = 0;
            if (implied.algo != q->algo)
                opts[n++] = q->algo == QAT_ALGO_LSQ ? "lsq" : q->algo == QAT_ALGO_LSQ_PLUS ? "lsq+" : "bitnet";
            qat_granularity gran_after_algo =
                q->algo == QAT_ALGO_BITNET158 && c == QAT_CLASS_ACTIVATION ? QAT_GRAN_TOKEN : QAT_GRAN_TENSOR;
            if (q->granularity != gran_after_algo)
                opts[n++] = q->granularity == QAT_GRAN_ROW ? "row"
                            : q->granularity == QAT_GRAN_TOKEN ? "token" : "tensor";
            for (int i = 0; i < n; i++) {
                used = append(text, sizeof text, used, i == 0 ? "(" : ",");
                used = append(text, sizeof text, used, opts[i]);
            }
            if (n)
                used = append(text, sizeof text, used, ")");
        }
        if (profile == QAT_PROFILE_SEED_CODE) {
            used = append(text, sizeof text, used, "@seed-code");
        } else {
            int first = 1;
            for (size_t i = 0; i < N_SWITCH_WORDS; i++)
                if (qat_quant_switch_effective(cfg, switch_words[i].which)) {
                    used = append(text, sizeof text, used, first ? "@" : ",");
                    used = append(text, sizeof text, used, switch_words[i].word);
                    first = 0;
                }
        }
    }
    if (needed)
        *needed = used + 1;
    if (capacity < used + 1)
        return qat_fail(QAT_ERR_BUFFER_TOO_SMALL, "qat_quant_config_to_string: needs %zu bytes, got %zu",
                        used + 1, capacity);
    memcpy(buffer, text, used + 1);
    return QAT_OK;
}
