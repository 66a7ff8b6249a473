/* The `qat` commands' one argument parser. A command describes its options
 * as a table (name, type, where the value goes, help, bounds) and calls
 * qat_cli_parse; `--help` is generated from the same table, so a new flag
 * is one row:
 *
 *     QAT_OPT_INT("--steps", &o.total_steps, "N", 1, INT64_MAX, "total optimizer steps"),
 *
 * Values are checked against their type and bounds before the command
 * runs; a bad one ends with exit status 2 and a message naming the flag.
 * The same table also reads `qat train --config FILE` (train_config.c). */
#ifndef QAT_CLI_ARGS_H
#define QAT_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum qat_cli_type {
    QAT_CLI_FLAG,    /* no value: sets an int to 1 */
    QAT_CLI_STRING,  /* const char *, pointing into argv (or the config file) */
    QAT_CLI_INT,     /* int64_t in [lo, hi] */
    QAT_CLI_UINT,    /* uint64_t (seeds: the whole range) */
    QAT_CLI_DOUBLE,  /* double in [lo, hi] */
    QAT_CLI_CHOICE,  /* one of the choices' names: stores that choice's value */
    QAT_CLI_CUSTOM   /* a parse function (lists, "A|auto", a flag that sets two fields) */
} qat_cli_type;

typedef struct qat_cli_choice {
    const char *name;
    int value;
} qat_cli_choice;

/* Parses value into user; returns 0, or prints "qat <cmd>: <label>: why"
 * (label is the flag, or the config file's key) and returns nonzero. */
typedef int (*qat_cli_parse_fn)(const char *cmd, const char *label, const char *value, void *user);

enum {
    QAT_CLI_REQUIRED = 1, /* a string that must be set once parsing is done (by a flag or the config file) */
    QAT_CLI_FIRST = 2,    /* handled before every other option, wherever it stands (--config: flags override it) */
    QAT_CLI_NO_KEY = 4    /* not a `qat train --config` key */
};

typedef struct qat_cli_option {
    const char *name;        /* "--model" */
    const char *alias;       /* "-o", or NULL */
    qat_cli_type type;
    union {
        int *flag;
        const char **str;
        int64_t *i64;
        uint64_t *u64;
        double *f64;
        int *choice;
        void *user;
    } to;
    const char *value_name;  /* "DIR" in the help; NULL for flags */
    const char *help;        /* one paragraph, wrapped by the help printer */
    double lo, hi;           /* INT and DOUBLE: the value's inclusive bounds */
    const qat_cli_choice *choices; /* CHOICE: ends with {NULL, 0} */
    qat_cli_parse_fn parse;  /* CUSTOM */
    unsigned flags;          /* QAT_CLI_REQUIRED | QAT_CLI_FIRST | QAT_CLI_NO_KEY */
    const char *key;         /* the config file's key when it is not the name's ("--heldout": heldout_sequences) */
} qat_cli_option;

/* One row each; the dest pointer's type is checked by the compiler. */
#define QAT_OPT_FLAG(name_, dest, help_) {.name = name_, .type = QAT_CLI_FLAG, .to.flag = (dest), .help = help_}
#define QAT_OPT_STRING(name_, dest, meta, help_) \
    {.name = name_, .type = QAT_CLI_STRING, .to.str = (dest), .value_name = meta, .help = help_}
#define QAT_OPT_INT(name_, dest, meta, lo_, hi_, help_) \
    {.name = name_, .type = QAT_CLI_INT, .to.i64 = (dest), .value_name = meta, .help = help_, .lo = (double)(lo_), \
     .hi = (double)(hi_)}
#define QAT_OPT_UINT(name_, dest, meta, help_) \
    {.name = name_, .type = QAT_CLI_UINT, .to.u64 = (dest), .value_name = meta, .help = help_}
#define QAT_OPT_DOUBLE(name_, dest, meta, lo_, hi_, help_) \
    {.name = name_, .type = QAT_CLI_DOUBLE, .to.f64 = (dest), .value_name = meta, .help = help_, .lo = (lo_), \
     .hi = (hi_)}
#define QAT_OPT_CHOICE(name_, dest, meta, choices_, help_) \
    {.name = name_, .type = QAT_CLI_CHOICE, .to.choice = (dest), .value_name = meta, .help = help_, \
     .choices = (choices_)}
#define QAT_OPT_CUSTOM(name_, fn, user_, meta, help_) \
    {.name = name_, .type = QAT_CLI_CUSTOM, .to.user = (user_), .parse = (fn), .value_name = meta, .help = help_}

/* A command: what `qat <command> --help` prints around its option table,
 * and its positional arguments (at most max, at least min). */
typedef struct qat_cli_spec {
    const char *command;     /* "train": messages start "qat train: " */
    const char *synopsis;    /* after "usage: qat <command> "; each further line after a newline is another form */
    const char *about;       /* printed before the options; NULL: nothing */
    const char *epilog;      /* printed after them; NULL: nothing */
    const qat_cli_option *options;
    size_t n_options;
    const char *positional_name; /* "RUNS_DIR" in messages */
    const char **positional; /* where positional arguments go; NULL: none accepted */
    size_t min_positional, max_positional;
    size_t *n_positional;    /* may be NULL */
} qat_cli_spec;

#define QAT_CLI_COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* The command should run. */
#define QAT_CLI_RUN (-1)

/* Parses argv[1..argc) (argv[0] is the command's name) into the table's
 * destinations. Returns QAT_CLI_RUN, or the exit status the command must
 * return: 0 after printing --help (-h) on stdout, 2 after printing why the
 * arguments are wrong (and the usage line) on stderr. */
int qat_cli_parse(const qat_cli_spec *spec, int argc, char **argv);

/* Parses one value for opt (a flag's value is ignored); label names it in
 * messages ("--steps", or "run.yaml: steps"). 0, or nonzero after saying why. */
int qat_cli_set(const qat_cli_spec *spec, const qat_cli_option *opt, const char *label, const char *value);

/* The option whose config key is key: opt->key, else the name without its
 * dashes and with '_' for '-' ("--micro-batch": micro_batch). NULL if none
 * (or QAT_CLI_NO_KEY). */
const qat_cli_option *qat_cli_find_key(const qat_cli_spec *spec, const char *key);

/* `qat <command> --help`: the usage, the about text, one line (wrapped)
 * per option with its bounds or choices, the epilog. */
void qat_cli_help(const qat_cli_spec *spec, FILE *out);

#endif
