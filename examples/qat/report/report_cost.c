/* Table I: memory footprint and BitOPs per quant config (docs/method.md section 8),
 * computed from the checkpoint's config.json.
 *
 * A qat_estimate() C API with the same definition is being added to the
 * library (include/qat/packed.h); until it is part of the public API the
 * report computes the figures here, with the same rules: embedding tables at
 * E bits, the six linear weights per layer at W bits (ternary stored as 2),
 * biases and LayerNorms in 32-bit float, heads and quantizer steps not
 * counted; BitOPs = sum over the linear layers of W * A * |weights| *
 * seq_len, FP32 counting 32 x 32. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <qat/qat.h>

#include "report.h"

static int64_t int_field(json_object *o, const char *key, int64_t dflt)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
                                                                                            : dflt;
}

int report_cost(const char *config_json, const char *quant, int64_t seq_len, double *size_bytes, double *bitops,
                char *err, size_t errcap)
{
    json_object *c = json_object_from_file(config_json);
    if (!c) {
        snprintf(err, errcap, "cannot read %s", config_json);
        return -1;
    }
    const double V = (double)int_field(c, "vocab_size", 0), H = (double)int_field(c, "hidden_size", 0),
                 L = (double)int_field(c, "num_hidden_layers", 0), I = (double)int_field(c, "intermediate_size", 0),
                 P = (double)int_field(c, "max_position_embeddings", 0),
                 T = (double)int_field(c, "type_vocab_size", 2); /* HF's default */
    json_object_put(c);
    if (V <= 0 || H <= 0 || L <= 0 || I <= 0 || P <= 0) {
        snprintf(err, errcap, "%s lacks vocab_size, hidden_size, num_hidden_layers, intermediate_size or "
                              "max_position_embeddings", config_json);
        return -1;
    }
    int bits[QAT_CLASS_COUNT] = {32, 32, 32};
    qat_quant_config *q = NULL;
    if (qat_quant_config_parse(quant, &q) != QAT_OK) {
        snprintf(err, errcap, "invalid quant config '%s': %s", quant, qat_last_error());
        return -1;
    }
    for (int k = 0; k < QAT_CLASS_COUNT; k++) {
        int algo = QAT_ALGO_NONE;
        qat_quant_config_get(q, (qat_tensor_class)k, QAT_QP_ALGO, &algo);
        /* QAT_QP_BITS is 32 for float and 2 (stored) for ternary weights. */
        if (algo != QAT_ALGO_NONE)
            qat_quant_config_get(q, (qat_tensor_class)k, QAT_QP_BITS, &bits[k]);
    }
    qat_quant_config_free(q);
    const double emb = (V + P + T) * H;
    const double linear = L * (4 * H * H + 2 * H * I);
    const double floats = 2 * H + L * (4 * H + I + H) + L * 2 * 2 * H; /* emb LN; biases; 2 LNs per layer */
    if (size_bytes)
        *size_bytes = (emb * bits[QAT_CLASS_EMBEDDING] + linear * bits[QAT_CLASS_WEIGHT] + floats * 32) / 8;
    if (bitops)
        *bitops = (double)bits[QAT_CLASS_WEIGHT] * bits[QAT_CLASS_ACTIVATION] * linear * (double)seq_len;
    return 0;
}

static void si(char *buf, size_t cap, double v, double unit)
{
    double x = v / unit;
    snprintf(buf, cap, x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : x >= 1 ? "%.2f" : "%.3f", x);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

int report_table1(FILE *md, FILE *tex, const report_set *set, const report_axes *ax, int64_t seq_len)
{
    /* One table per checkpoint: the two study models differ in vocabulary. */
    char **paths = NULL;
    size_t np = 0;
    for (size_t i = 0; i < set->n; i++) {
        size_t k = 0;
        while (k < np && strcmp(paths[k], set->runs[i].model_path))
            k++;
        if (k == np) {
            char **grown = realloc(paths, (np + 1) * sizeof *paths);
            if (!grown) {
                fprintf(stderr, "qat report: Table I: out of memory\n");
                free(paths);
                return 0;
            }
            paths = grown;
            paths[np++] = set->runs[i].model_path;
        }
    }
    if (np)
        qsort(paths, np, sizeof *paths, cmp_str);
    int written = 0;
    for (size_t p = 0; p < np; p++) {
        char cfg[4200], err[512];
        snprintf(cfg, sizeof cfg, "%s/config.json", paths[p]);
        double fp_size, fp_ops;
        if (report_cost(cfg, "FP32", seq_len, &fp_size, &fp_ops, err, sizeof err) != 0) {
            fprintf(stderr, "qat report: Table I: skipping %s: %s\n", paths[p], err);
            continue;
        }
        const char *ops_unit = fp_ops >= 1e12 ? "T" : fp_ops >= 1e9 ? "G" : "M";
        double ops_scale = fp_ops >= 1e12 ? 1e12 : fp_ops >= 1e9 ? 1e9 : 1e6;
        fprintf(md, "\n**Table I.** Hardware cost of %s (docs/method.md section 8: encoder parameters, heads excluded; "
                    "MB = 10^6 bytes; BitOPs of one forward pass over %lld tokens).\n\n",
                paths[p], (long long)seq_len);
        fprintf(md, "| Config | Size (MB) | Size gain | %sBitOPs | BitOPs gain |\n|---|---:|---:|---:|---:|\n", ops_unit);
        fprintf(tex, "%% Table I for %s (needs booktabs); made by `qat report`.\n", paths[p]);
        fprintf(tex, "\\begin{table}[t]\n\\centering\n\\caption{Memory footprint and BitOPs (sequence of %lld "
                     "tokens) per configuration; gains over FP32.}\n",
                (long long)seq_len);
        fprintf(tex, "\\begin{tabular}{lrrrr}\n\\toprule\nConfig & Size (MB) & Gain & %sBitOPs & Gain \\\\\n"
                     "\\midrule\n", ops_unit);
        for (size_t c = 0; c < ax->n_configs; c++) {
            double size, ops;
            if (report_cost(cfg, ax->configs[c], seq_len, &size, &ops, err, sizeof err) != 0)
                continue;
            char s_mb[32], s_ops[32];
            si(s_mb, sizeof s_mb, size, 1e6);
            si(s_ops, sizeof s_ops, ops, ops_scale);
            fprintf(md, "| %s | %s | ×%.1f | %s | ×%.1f |\n", ax->configs[c], s_mb, fp_size / size, s_ops,
                    fp_ops / ops);
            fprintf(tex, "%s & %s & $\\times$%.1f & %s & $\\times$%.1f \\\\\n", ax->configs[c], s_mb, fp_size / size,
                    s_ops, fp_ops / ops);
        }
        fprintf(tex, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
        written++;
    }
    free(paths);
    return written;
}
