/* Sequence classification through the pipeline and qat_model_evaluate on a
 * synthetic pair task ("does the first text start with `le` or the second
 * with `un`?": the label depends on both texts, at positions that move with
 * the first text's length), on the demo's RoBERTa encoder and a BERT one
 * made here (token type ids): results.json's metrics, the saved model's
 * label names, evaluation of the saved model agreeing with the pipeline's,
 * malformed task files rejected naming file:line. With -DSEQCLS_SLOW: the
 * task is learned to >= 90 % test accuracy, in float and quantized. */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qat/qat.h"
#include "run_dirs.h"
#include "test_main.h"

#define DATA DEMO_DIR

/* One SentencePiece piece each in the demo's vocabulary ("la", "une" are two) */
static const char *const first_words[] = {"le", "un", "ce"};
static const char *const rest[] = {"patient présente une fièvre légère", "médecin prescrit un traitement",
                                   "dose augmente pendant la analyse", "infirmière surveille la tension",
                                   "examen montre une douleur aiguë", "traitement diminue la fièvre"};

static uint64_t next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* n examples: TSV with a GLUE header, or JSONL with premise/hypothesis keys. */
static void write_task(const char *path, int n, uint64_t seed, int jsonl)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    if (!jsonl)
        fprintf(f, "idx\tsentence1\tsentence2\tlabel\n");
    for (int i = 0; i < n; i++) {
        int a = (int)(next(&seed) % 3), b = (int)(next(&seed) % 3), yes = a == 0 || b == 1;
        const char *ra = rest[next(&seed) % 6], *rb = rest[next(&seed) % 6];
        if (jsonl)
            fprintf(f, "{\"premise\": \"%s %s\", \"hypothesis\": \"%s %s\", \"label\": \"%s\"}\n", first_words[a], ra,
                    first_words[b], rb, yes ? "yes" : "no");
        else
            fprintf(f, "%d\t%s %s\t%s %s\t%s\n", i, first_words[a], ra, first_words[b], rb, yes ? "yes" : "no");
    }
    fclose(f);
}

static const char *path_in(const char *dir, const char *name)
{
    static _Thread_local char buf[4][1400];
    static _Thread_local int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void options(qat_pipeline_options *o, const char *dir, const char *quant, double alpha, int64_t steps)
{
    QAT_ASSERT_OK(qat_pipeline_options_init(o, QAT_PIPELINE_OPTIONS_VERSION));
    o->run.model_dir = DATA "/model";
    o->run.tokenizer = DATA "/spm.model";
    o->train_file = strdup(path_in(dir, "train.tsv"));
    o->run.corpus = DATA "/corpus.txt";
    o->run.out_dir = strdup(path_in(dir, "run"));
    o->run.quant = quant;
    o->alpha = alpha;
    o->run.total_steps = steps;
    o->run.max_seq_len = 48;
    o->run.train.batch_size = 16;
    o->run.train.learning_rate = 2e-3;
}

static void free_options(qat_pipeline_options *o)
{
    free((void *)o->train_file);
    free((void *)o->run.out_dir);
}

static json_object *read_json(const char *path)
{
    json_object *j = json_object_from_file(path);
    ck_assert_msg(j != NULL, "cannot read %s", path);
    return j;
}

static double num(json_object *o, const char *a, const char *b)
{
    json_object *x = o, *v;
    ck_assert_msg(json_object_object_get_ex(x, a, &x), "no key %s", a);
    if (b)
        ck_assert_msg(json_object_object_get_ex(x, b, &x), "no key %s.%s", a, b);
    v = x;
    return json_object_get_double(v);
}

#ifdef SEQCLS_SLOW
static const char *configs[] = {"FP32", "E8W8A8", "E6W1.58A6"};

START_TEST(learns_the_pair_task)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend_or(NULL), &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 2));
    char *dir = temp_dir("seqcls");
    write_task(path_in(dir, "train.tsv"), 800, 7, 0);
    qat_pipeline_options o;
    options(&o, dir, configs[_i], 0.0, 600);
    o.run.train.learning_rate = 1e-3;
    double acc = 0.0;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &acc));
    json_object *r = read_json(path_in(o.run.out_dir, "results.json"));
    printf("%s: test accuracy %.3f, macro F1 %.3f\n", configs[_i], acc, num(r, "test", "macro_f1"));
    ck_assert_msg(acc >= 0.9, "%s: test accuracy %.3f < 0.9", configs[_i], acc);
    ck_assert(num(r, "test", "macro_f1") >= 0.9);
    json_object_put(r);
    free_options(&o);
    remove_tree(dir);
    free(dir);
    qat_context_free(ctx);
}
END_TEST

#else

static const char *str(json_object *o, const char *a, const char *b)
{
    json_object *x = o;
    ck_assert_msg(json_object_object_get_ex(x, a, &x), "no key %s", a);
    if (b)
        ck_assert_msg(json_object_object_get_ex(x, b, &x), "no key %s.%s", a, b);
    return json_object_get_string(x);
}

/* RoBERTa, DAPT then fine-tuning on a TSV, evaluation on JSONL files. */
START_TEST(roberta_pairs_through_the_pipeline)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    char *dir = temp_dir("seqcls");
    write_task(path_in(dir, "train.tsv"), 64, 1, 0);
    write_task(path_in(dir, "eval.jsonl"), 24, 2, 1);
    write_task(path_in(dir, "test.jsonl"), 40, 3, 1);
    qat_pipeline_options o;
    options(&o, dir, "E6W1.58A6", 0.5, 6);
    o.run.train.batch_size = 8;
    o.eval_file = path_in(dir, "eval.jsonl");
    char test_file[700];
    snprintf(test_file, sizeof test_file, "%s", path_in(dir, "test.jsonl"));
    o.test_file = test_file;
    double acc = -1.0;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &acc));
    json_object *r = read_json(path_in(o.run.out_dir, "results.json"));
    ck_assert_str_eq(str(r, "task", NULL), "sequence-classification");
    ck_assert_str_eq(str(r, "test", "f1_metric"), "accuracy");
    ck_assert(num(r, "test", "accuracy") == acc && num(r, "test", "f1") == acc);
    ck_assert(num(r, "test", "examples") == 40 && num(r, "eval", "examples") == 24);
    double macro = num(r, "test", "macro_f1");
    ck_assert(macro >= 0.0 && macro <= 1.0);
    ck_assert_int_eq(access(path_in(o.run.out_dir, "dapt/config.json"), R_OK), 0);
    /* The saved classifier: sequence-classification head, sorted label names. */
    json_object *cfg = read_json(path_in(o.run.out_dir, "model/config.json"));
    json_object *arch = NULL;
    ck_assert(json_object_object_get_ex(cfg, "architectures", &arch));
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(arch, 0)), "RobertaForSequenceClassification");
    ck_assert_str_eq(str(cfg, "id2label", "0"), "no");
    ck_assert_str_eq(str(cfg, "id2label", "1"), "yes");
    json_object_put(cfg);
    /* ... evaluates alone to the pipeline's numbers. */
    qat_load_options lo;
    QAT_ASSERT_OK(qat_load_options_init(&lo, QAT_LOAD_OPTIONS_VERSION));
    lo.task = QAT_TASK_SEQUENCE_CLASSIFICATION;
    qat_model *m;
    QAT_ASSERT_OK(qat_model_load(ctx, path_in(o.run.out_dir, "model"), &lo, &m));
    qat_tokenizer *tok;
    QAT_ASSERT_OK(qat_tokenizer_load(DATA "/spm.model", &tok));
    double again = -1.0;
    QAT_ASSERT_OK(qat_model_evaluate(m, tok, test_file, 48, path_in(dir, "eval.json"), &again));
    ck_assert_msg(again == acc, "qat_model_evaluate %.6f, pipeline %.6f", again, acc);
    json_object *e = read_json(path_in(dir, "eval.json"));
    ck_assert(num(e, "macro_f1", NULL) == macro);
    ck_assert_str_eq(str(e, "file", NULL), test_file);
    json_object_put(e);
    QAT_ASSERT_FAILS(qat_model_evaluate(m, tok, DATA "/task.conll", 48, NULL, NULL), QAT_ERR_INVALID_ARGUMENT,
                     ".tsv or .jsonl");
    qat_tokenizer_free(tok);
    qat_model_free(m);
    json_object_put(r);
    free_options(&o);
    remove_tree(dir);
    free(dir);
    qat_context_free(ctx);
}
END_TEST

/* BERT with two token types: a vocab.txt and a fresh encoder made here, a
 * headerless 3-column TSV, the seeded split. */
START_TEST(bert_pairs_through_the_pipeline)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    QAT_ASSERT_OK(qat_context_set_int(ctx, QAT_CTX_THREADS, 1));
    char *dir = temp_dir("seqcls");
    const char *model_dir = path_in(dir, "bert");
    char model_path[700];
    snprintf(model_path, sizeof model_path, "%s", model_dir);
    /* vocab.txt: BERT's specials, then every word of the task */
    const char *specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    const char *words[] = {"le", "la", "un", "une", "patient", "présente", "fièvre", "légère", "médecin", "prescrit",
                           "traitement", "dose", "augmente", "pendant", "analyse", "infirmière", "surveille",
                           "tension", "examen", "montre", "douleur", "aiguë", "diminue"};
    size_t n_vocab = 5 + sizeof words / sizeof *words;
    qat_model_options mo;
    QAT_ASSERT_OK(qat_model_options_init(&mo, QAT_MODEL_OPTIONS_VERSION));
    mo.arch = QAT_ARCH_BERT;
    mo.task = QAT_TASK_MLM;
    mo.vocab_size = (int64_t)n_vocab;
    mo.hidden_size = 32;
    mo.num_layers = 1;
    mo.num_heads = 4;
    mo.intermediate_size = 64;
    mo.max_position_embeddings = 64;
    mo.type_vocab_size = 2;
    mo.pad_token_id = 0;
    mo.layer_norm_eps = 1e-12;
    qat_model *m;
    QAT_ASSERT_OK(qat_model_create(ctx, &mo, &m));
    QAT_ASSERT_OK(qat_model_save(m, model_path));
    qat_model_free(m);
    FILE *f = fopen(path_in(model_path, "vocab.txt"), "w");
    for (size_t i = 0; i < 5; i++)
        fprintf(f, "%s\n", specials[i]);
    for (size_t i = 0; i < n_vocab - 5; i++)
        fprintf(f, "%s\n", words[i]);
    fclose(f);
    /* headerless: text, text_b, label */
    f = fopen(path_in(dir, "train.tsv"), "w");
    uint64_t seed = 5;
    for (int i = 0; i < 60; i++) {
        int a = (int)(next(&seed) % 3), b = (int)(next(&seed) % 3);
        fprintf(f, "%s %s\t%s %s\t%d\n", first_words[a], rest[i % 6], first_words[b], rest[(i + 1) % 6], a == b);
    }
    fclose(f);
    qat_pipeline_options o;
    options(&o, dir, "E8W8A8", 0.0, 3);
    o.run.model_dir = model_path;
    o.run.tokenizer = NULL; /* the model directory's vocab.txt */
    o.run.train.batch_size = 8;
    double acc = -1.0;
    QAT_ASSERT_OK(qat_pipeline_run(ctx, &o, &acc));
    ck_assert(acc >= 0.0 && acc <= 1.0);
    json_object *r = read_json(path_in(o.run.out_dir, "results.json"));
    ck_assert_str_eq(str(r, "task", NULL), "sequence-classification");
    ck_assert(num(r, "test", "examples") == 12 && num(r, "eval", "examples") == 6); /* 70/10/20 of 60 */
    json_object_put(r);
    json_object *cfg = read_json(path_in(o.run.out_dir, "model/config.json"));
    ck_assert_str_eq(str(cfg, "id2label", "1"), "1"); /* integer labels keep their ids */
    json_object_put(cfg);
    free_options(&o);
    remove_tree(dir);
    free(dir);
    qat_context_free(ctx);
}
END_TEST

START_TEST(malformed_task_files_rejected)
{
    qat_context *ctx;
    QAT_ASSERT_OK(qat_context_create(test_backend(), &ctx));
    char *dir = temp_dir("seqcls");
    FILE *f = fopen(path_in(dir, "train.tsv"), "w");
    fprintf(f, "sentence1\tsentence2\tlabel\nle patient\tla dose\tyes\nla dose\tle patient\n");
    fclose(f);
    qat_pipeline_options o;
    options(&o, dir, NULL, 0.0, 2);
    double acc;
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &acc), QAT_ERR_FORMAT, "train.tsv:3: 2 columns, expected 3");
    f = fopen(path_in(dir, "train.tsv"), "w");
    fprintf(f, "le patient\tyes\nla dose\tno\n");
    fclose(f);
    f = fopen(path_in(dir, "test.jsonl"), "w");
    fprintf(f, "{\"text\": \"le patient\", \"label\": \"yes\"}\n{\"text\": \"la dose\"\n");
    fclose(f);
    o.eval_file = o.train_file;
    char test_file[700];
    snprintf(test_file, sizeof test_file, "%s", path_in(dir, "test.jsonl"));
    o.test_file = test_file;
    QAT_ASSERT_FAILS(qat_pipeline_run(ctx, &o, &acc), QAT_ERR_FORMAT, "test.jsonl:2: not valid JSON");
    free_options(&o);
    remove_tree(dir);
    free(dir);
    qat_context_free(ctx);
}
END_TEST

#endif

Suite *make_suite(void)
{
    Suite *s = suite_create("seqcls_pipeline");
    TCase *tc = tcase_create("seqcls");
    tcase_set_timeout(tc, 600);
#ifdef SEQCLS_SLOW
    tcase_add_loop_test(tc, learns_the_pair_task, 0, (int)(sizeof configs / sizeof *configs));
#else
    tcase_add_test(tc, roberta_pairs_through_the_pipeline);
    tcase_add_test(tc, malformed_task_files_rejected);
    /* its own case: the ref-sealed run picks it alone (CK_RUN_CASE=bert) */
    TCase *bert = tcase_create("bert");
    tcase_set_timeout(bert, 600);
    tcase_add_test(bert, bert_pairs_through_the_pipeline);
    suite_add_tcase(s, bert);
#endif
    suite_add_tcase(s, tc);
    return s;
}
