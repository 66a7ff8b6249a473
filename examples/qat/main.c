#include <stdio.h>
#include <string.h>

#include "commands.h"

static const qat_cli_command commands[] = {
    {"info", "version, build and available backends", qat_cli_info},
    {"quant", "parse a quant config (ExWyAz) and print its canonical form", qat_cli_quant},
    {"train", "the alpha pipeline: DAPT, fine-tuning, evaluation", qat_cli_train},
    {"dapt", "one shared DAPT run with a snapshot per alpha (fine-tune with train --dapt-dir)", qat_cli_dapt},
    {"eval", "evaluate a saved token classifier on a CoNLL file", qat_cli_eval},
    {"sweep", "run a grid of pipeline cells here or as a SLURM array", qat_cli_sweep},
    {"report", "F1 tables (Table III), cost table (Table I) and plots from runs", qat_cli_report},
    {"export", "pack a saved model into a low-bit .qatp file", qat_cli_export},
    {"infer", "integer CPU inference from a .qatp file", qat_cli_infer},
    {"estimate", "footprint (MB) and BitOPs of a config and quant config", qat_cli_estimate},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: qat <command> [options]   (qat <command> --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("qat %s\n", qat_version());
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "qat: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
