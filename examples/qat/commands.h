/* The `qat` command-line driver: one file per subcommand, all built only on
 * the public API. */
#ifndef QAT_CLI_COMMANDS_H
#define QAT_CLI_COMMANDS_H

#include <qat/qat.h>
#include <string.h>

typedef struct qat_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} qat_cli_command;

int qat_cli_info(int argc, char **argv);
int qat_cli_quant(int argc, char **argv);
int qat_cli_train(int argc, char **argv);
int qat_cli_dapt(int argc, char **argv);
int qat_cli_eval(int argc, char **argv);
int qat_cli_sweep(int argc, char **argv);
int qat_cli_report(int argc, char **argv);
int qat_cli_export(int argc, char **argv);
int qat_cli_infer(int argc, char **argv);
int qat_cli_estimate(int argc, char **argv);

/* 1 when a task file is a sequence-classification one (.tsv or .jsonl,
 * maybe .gz), as the library decides (docs/data.md); else CoNLL. */
static inline int qat_cli_is_seq_task(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    if (n > 3 && strcmp(path + n - 3, ".gz") == 0)
        n -= 3;
    return (n > 4 && strncmp(path + n - 4, ".tsv", 4) == 0) || (n > 6 && strncmp(path + n - 6, ".jsonl", 6) == 0);
}

/* --alpha-max, --eval-every, --patience, --min-delta, --heldout into a;
 * returns 1 when flag is one of them (*end as strtod's), 0 otherwise. */
int qat_cli_adaptive_option(const char *flag, const char *value, qat_adaptive_options *a, char **end);

/* Prints "qat <cmd>: <message>: <qat_last_error()>" and returns 1. */
int qat_cli_fail(const char *cmd, const char *what, qat_status st);

#endif
