/* The qat commands' option-table parser (examples/qat/cli_args.c): every
 * type, its bounds and its refusals with the message a user reads, the
 * exit statuses, required and first-pass options, positional arguments,
 * the config-file key of each option, and the help generated from the
 * table. Output is captured from the real stdout / stderr. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "test_main.h"

/* ---- capture of stdout or stderr ------------------------------------------ */

static char captured[16384];

typedef struct capture {
    int fd, saved;
    FILE *stream;
    char path[64];
} capture;

static void capture_begin(capture *c, FILE *stream)
{
    c->stream = stream;
    c->fd = fileno(stream);
    snprintf(c->path, sizeof c->path, "/tmp/qat-cli-args-XXXXXX");
    int tmp = mkstemp(c->path);
    ck_assert_int_ge(tmp, 0);
    fflush(stream);
    c->saved = dup(c->fd);
    dup2(tmp, c->fd);
    close(tmp);
}

static const char *capture_end(capture *c)
{
    fflush(c->stream);
    dup2(c->saved, c->fd);
    close(c->saved);
    FILE *f = fopen(c->path, "r");
    size_t n = f ? fread(captured, 1, sizeof captured - 1, f) : 0;
    captured[n] = '\0';
    if (f)
        fclose(f);
    unlink(c->path);
    return captured;
}

/* ---- one table exercising every type --------------------------------------- */

typedef struct values {
    const char *name, *config_seen;
    int64_t count;
    uint64_t seed;
    double ratio;
    int fast, mode, custom_calls;
    char custom_value[64];
    const char *files[3];
    size_t n_files;
} values;

static int parse_custom(const char *cmd, const char *label, const char *value, void *user)
{
    values *v = user;
    v->custom_calls++;
    if (strcmp(value, "bad") == 0) {
        fprintf(stderr, "qat %s: %s: '%s' refused by its parser\n", cmd, label, value);
        return 1;
    }
    snprintf(v->custom_value, sizeof v->custom_value, "%s", value);
    return 0;
}

/* A first-pass option: records what --count held when it ran, then sets it. */
static int parse_first(const char *cmd, const char *label, const char *value, void *user)
{
    (void)cmd;
    (void)label;
    values *v = user;
    static char seen[32];
    snprintf(seen, sizeof seen, "count=%lld", (long long)v->count);
    v->config_seen = seen;
    v->count = atoll(value);
    return 0;
}

static const qat_cli_choice modes[] = {{"slow", 10}, {"fast", 20}, {"exact", 30}, {NULL, 0}};

#define TABLE(v) \
    {.name = "--name", .type = QAT_CLI_STRING, .to.str = &(v).name, .value_name = "NAME", \
     .flags = QAT_CLI_REQUIRED, .help = "a required string"}, \
    QAT_OPT_INT("--count", &(v).count, "N", 1, 10, "a bounded whole number"), \
    QAT_OPT_UINT("--seed", &(v).seed, "N", "a seed"), \
    QAT_OPT_DOUBLE("--ratio", &(v).ratio, "R", 0, 1, "a bounded real"), \
    QAT_OPT_FLAG("--fast", &(v).fast, "a flag"), \
    QAT_OPT_CHOICE("--mode", &(v).mode, NULL, modes, "one of three"), \
    QAT_OPT_CUSTOM("--custom", parse_custom, &(v), "X", "its own parser"), \
    {.name = "--first", .type = QAT_CLI_CUSTOM, .parse = parse_first, .to.user = &(v), .value_name = "N", \
     .flags = QAT_CLI_FIRST | QAT_CLI_NO_KEY, .help = "runs before the others"}, \
    {.name = "--output", .alias = "-o", .type = QAT_CLI_STRING, .to.str = &(v).config_seen, .value_name = "F", \
     .key = "output_file", .help = "an alias and an explicit key"}, \
    QAT_OPT_STRING("--micro-batch", &(v).name, "N", "a dashed name")

static values v;
static qat_cli_option table[] = {TABLE(v)};
static const qat_cli_spec spec = {
    .command = "demo",
    .synopsis = "--name NAME [options] FILE...\n--first N",
    .about = "  About the demo.\n",
    .epilog = "The end.\n",
    .options = table,
    .n_options = sizeof table / sizeof table[0],
    .positional_name = "FILE",
    .positional = v.files,
    .min_positional = 0,
    .max_positional = 3,
    .n_positional = &v.n_files,
};

static void reset(void)
{
    memset(&v, 0, sizeof v);
    v.count = 5;
    v.ratio = 0.5;
    v.mode = 20;
}

/* Runs the parser on the words (NULL-terminated), capturing stderr. */
static int parse(const char **words)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"demo";
    for (; *words; words++)
        argv[argc++] = (char *)*words;
    capture c;
    capture_begin(&c, stderr);
    int rc = qat_cli_parse(&spec, argc, argv);
    capture_end(&c);
    return rc;
}

#define PARSE(...) parse((const char *[]){__VA_ARGS__, NULL})
#define ASSERT_SAID(text) ck_assert_msg(strstr(captured, text) != NULL, "message '%s' lacks '%s'", captured, text)

START_TEST(every_type_is_stored)
{
    reset();
    ck_assert_int_eq(PARSE("--name", "x", "--count", "7", "--seed", "18446744073709551615", "--ratio", "0.25",
                           "--fast", "--mode", "exact", "--custom", "hello", "a.txt", "b.txt"),
                     QAT_CLI_RUN);
    ck_assert_str_eq(v.name, "x");
    ck_assert_int_eq(v.count, 7);
    ck_assert(v.seed == UINT64_MAX);
    ck_assert(v.ratio == 0.25);
    ck_assert_int_eq(v.fast, 1);
    ck_assert_int_eq(v.mode, 30);
    ck_assert_int_eq(v.custom_calls, 1);
    ck_assert_str_eq(v.custom_value, "hello");
    ck_assert_uint_eq(v.n_files, 2);
    ck_assert_str_eq(v.files[0], "a.txt");
    ck_assert_str_eq(v.files[1], "b.txt");
    ck_assert_str_eq(captured, "");
    reset();
    ck_assert_int_eq(PARSE("--name", "x", "-o", "out", "--count", "1", "--ratio", "1"), QAT_CLI_RUN);
    ck_assert_str_eq(v.config_seen, "out"); /* the alias */
    ck_assert_int_eq(v.count, 1);           /* bounds are inclusive */
    ck_assert(v.ratio == 1.0);
    ck_assert_int_eq(v.mode, 20); /* untouched: the default stays */
}
END_TEST

START_TEST(bad_values_are_refused_naming_the_flag)
{
    static const struct {
        const char *flag, *value, *said;
    } cases[] = {
        {"--count", "11", "--count: '11' is outside [1, 10]"},
        {"--count", "0", "--count: '0' is outside [1, 10]"},
        {"--count", "3.5", "--count: '3.5' is not a number (a whole number)"},
        {"--count", "", "is not a number"},
        {"--count", "99999999999999999999", "is not a number"},
        {"--seed", "-1", "--seed: '-1' is not a number (a whole number >= 0)"},
        {"--seed", "x1", "is not a number"},
        {"--ratio", "1.5", "--ratio: '1.5' is outside [0, 1]"},
        {"--ratio", "nan", "--ratio: 'nan' is not a number"},
        {"--ratio", "0.5x", "is not a number"},
        {"--mode", "quick", "--mode: 'quick' is not one of slow, fast, exact"},
        {"--custom", "bad", "--custom: 'bad' refused by its parser"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset();
        ck_assert_int_eq(PARSE("--name", "x", cases[i].flag, cases[i].value), 2);
        ASSERT_SAID("qat demo: ");
        ASSERT_SAID(cases[i].said);
    }
    reset();
    ck_assert_int_eq(PARSE("--name", "x", "--count", "12"), 2);
    ck_assert_int_eq(v.count, 5); /* a refused value is not stored */
}
END_TEST

START_TEST(usage_errors)
{
    reset();
    ck_assert_int_eq(PARSE("--name", "x", "--bogus"), 2);
    ASSERT_SAID("qat demo: unknown option --bogus");
    ASSERT_SAID("usage: qat demo --name NAME [options] FILE...");
    ASSERT_SAID("qat demo --help");
    reset();
    ck_assert_int_eq(PARSE("--name", "x", "--count"), 2);
    ASSERT_SAID("qat demo: --count needs a value");
    reset();
    ck_assert_int_eq(PARSE("--count", "3"), 2);
    ASSERT_SAID("qat demo: --name is required");
    reset();
    ck_assert_int_eq(PARSE("--name", "x", "a", "b", "c", "d"), 2);
    ASSERT_SAID("unexpected argument 'd' (too many)");
    reset();
    v.name = "set before parsing"; /* as a config file does */
    ck_assert_int_eq(PARSE("--count", "3"), QAT_CLI_RUN);
}
END_TEST

START_TEST(required_lists_every_missing_option)
{
    values w;
    memset(&w, 0, sizeof w);
    const qat_cli_option opts[] = {
        {.name = "--a", .type = QAT_CLI_STRING, .to.str = &w.name, .value_name = "X", .flags = QAT_CLI_REQUIRED,
         .help = ""},
        {.name = "--b", .type = QAT_CLI_STRING, .to.str = &w.config_seen, .value_name = "X",
         .flags = QAT_CLI_REQUIRED, .help = ""},
        {.name = "--c", .type = QAT_CLI_CUSTOM, .parse = parse_custom, .to.user = &w, .value_name = "X",
         .flags = QAT_CLI_REQUIRED, .help = ""},
    };
    const char *positional[1];
    const qat_cli_spec s = {.command = "req", .synopsis = "", .options = opts, .n_options = 3,
                            .positional_name = "MODEL", .positional = positional, .min_positional = 1,
                            .max_positional = 1};
    char *argv[] = {"req", "m"};
    capture c;
    capture_begin(&c, stderr);
    ck_assert_int_eq(qat_cli_parse(&s, 2, argv), 2);
    capture_end(&c);
    ASSERT_SAID("qat req: --a, --b and --c are required");
    char *argv2[] = {"req", "--a", "1", "--b", "2", "--c", "3"};
    capture_begin(&c, stderr);
    ck_assert_int_eq(qat_cli_parse(&s, 7, argv2), 2);
    capture_end(&c);
    ASSERT_SAID("qat req: MODEL is required");
}
END_TEST

START_TEST(first_options_run_first_and_are_overridden)
{
    reset();
    /* --first stands last but runs before --count, which then overrides it */
    ck_assert_int_eq(PARSE("--name", "x", "--count", "9", "--first", "3"), QAT_CLI_RUN);
    ck_assert_str_eq(v.config_seen, "count=5");
    ck_assert_int_eq(v.count, 9);
    reset();
    ck_assert_int_eq(PARSE("--name", "x", "--first", "3"), QAT_CLI_RUN);
    ck_assert_int_eq(v.count, 3);
}
END_TEST

START_TEST(help_is_generated_from_the_table)
{
    reset();
    v.name = "demo-default";
    char *argv[] = {"demo", "--count", "99", "--help"}; /* --help wins over a bad value */
    capture c;
    capture_begin(&c, stdout);
    int rc = qat_cli_parse(&spec, 4, argv);
    const char *out = capture_end(&c);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(v.count, 5);
    ck_assert_msg(strncmp(out, "usage: qat demo --name NAME [options] FILE...\n       qat demo --first N\n", 71) == 0,
                  "%s", out);
    for (size_t i = 0; i < spec.n_options; i++)
        ck_assert_msg(strstr(out, table[i].name) && strstr(out, table[i].help), "help lacks %s:\n%s", table[i].name,
                      out);
    static const char *const shown[] = {"  About the demo.\n", "--name NAME", "(default demo-default)",
                                        "--count N", "[1..10] (default 5)", "--ratio R", "[0..1] (default 0.5)",
                                        "--mode slow|fast|exact", "(default fast)", "-o, --output F",
                                        "-h, --help", "The end.\n", "--seed N", "(default 0)"};
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++)
        ck_assert_msg(strstr(out, shown[i]) != NULL, "help lacks '%s':\n%s", shown[i], out);
    for (const char *line = out; *line;) {
        size_t n = strcspn(line, "\n");
        ck_assert_msg(n <= 100, "line longer than 100: %.*s", (int)n, line);
        line += n + (line[n] == '\n');
    }
    /* a default outside the bounds means "not given": not shown */
    reset();
    v.count = -1;
    capture_begin(&c, stdout);
    qat_cli_help(&spec, stdout);
    out = capture_end(&c);
    ck_assert_ptr_null(strstr(out, "(default -1)"));
}
END_TEST

START_TEST(config_keys)
{
    ck_assert_ptr_eq(qat_cli_find_key(&spec, "count"), &table[1]);
    ck_assert_ptr_eq(qat_cli_find_key(&spec, "micro_batch"), &table[9]);
    ck_assert_ptr_null(qat_cli_find_key(&spec, "micro-batch"));
    ck_assert_ptr_eq(qat_cli_find_key(&spec, "output_file"), &table[8]);
    ck_assert_ptr_null(qat_cli_find_key(&spec, "output")); /* its key replaces the name's */
    ck_assert_ptr_null(qat_cli_find_key(&spec, "first"));  /* QAT_CLI_NO_KEY */
    ck_assert_ptr_null(qat_cli_find_key(&spec, "coun"));
    ck_assert_ptr_null(qat_cli_find_key(&spec, "counts"));
    reset();
    capture c;
    capture_begin(&c, stderr);
    ck_assert_int_eq(qat_cli_set(&spec, &table[1], "run.yaml: count", "42"), 1);
    capture_end(&c);
    ASSERT_SAID("qat demo: run.yaml: count: '42' is outside [1, 10]");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("cli_args");
    TCase *t = tcase_create("parse");
    tcase_add_test(t, every_type_is_stored);
    tcase_add_test(t, bad_values_are_refused_naming_the_flag);
    tcase_add_test(t, usage_errors);
    tcase_add_test(t, required_lists_every_missing_option);
    tcase_add_test(t, first_options_run_first_and_are_overridden);
    tcase_add_test(t, help_is_generated_from_the_table);
    tcase_add_test(t, config_keys);
    suite_add_tcase(s, t);
    return s;
}
