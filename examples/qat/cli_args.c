/* The table-driven parser and help printer of cli_args.h. */
#include "cli_args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* More options than any command has; a table past it is a programming
 * error reported as bad usage, never a buffer overrun. */
#define MAX_OPTIONS 64

static int takes_value(const qat_cli_option *opt)
{
    return opt->type != QAT_CLI_FLAG;
}

static const qat_cli_option *find_option(const qat_cli_spec *spec, const char *arg)
{
    for (size_t i = 0; i < spec->n_options; i++) {
        const qat_cli_option *o = &spec->options[i];
        if (strcmp(arg, o->name) == 0 || (o->alias && strcmp(arg, o->alias) == 0))
            return o;
    }
    return NULL;
}

static int bad_value(const qat_cli_spec *spec, const char *label, const char *value, const char *why)
{
    fprintf(stderr, "qat %s: %s: '%s' %s\n", spec->command, label, value, why);
    return 1;
}

static int out_of_bounds(const qat_cli_spec *spec, const qat_cli_option *opt, const char *label, const char *value)
{
    char why[96];
    if (opt->hi >= (double)INT64_MAX || isinf(opt->hi))
        snprintf(why, sizeof why, "is below %g", opt->lo);
    else
        snprintf(why, sizeof why, "is outside [%g, %g]", opt->lo, opt->hi);
    return bad_value(spec, label, value, why);
}

static int set_number(const qat_cli_spec *spec, const qat_cli_option *opt, const char *label, const char *value)
{
    char *end = NULL;
    errno = 0;
    if (opt->type == QAT_CLI_UINT) {
        unsigned long long u = strtoull(value, &end, 10);
        if (end == value || *end || errno == ERANGE || value[strspn(value, " \t")] == '-')
            return bad_value(spec, label, value, "is not a number (a whole number >= 0)");
        *opt->to.u64 = (uint64_t)u;
        return 0;
    }
    if (opt->type == QAT_CLI_INT) {
        long long v = strtoll(value, &end, 10);
        if (end == value || *end || errno == ERANGE)
            return bad_value(spec, label, value, "is not a number (a whole number)");
        if (!((double)v >= opt->lo && (double)v <= opt->hi))
            return out_of_bounds(spec, opt, label, value);
        *opt->to.i64 = (int64_t)v;
        return 0;
    }
    double x = strtod(value, &end);
    if (end == value || *end || !isfinite(x))
        return bad_value(spec, label, value, "is not a number");
    if (!(x >= opt->lo && x <= opt->hi))
        return out_of_bounds(spec, opt, label, value);
    *opt->to.f64 = x;
    return 0;
}

static int set_choice(const qat_cli_spec *spec, const qat_cli_option *opt, const char *label, const char *value)
{
    for (const qat_cli_choice *c = opt->choices; c->name; c++)
        if (strcmp(value, c->name) == 0) {
            *opt->to.choice = c->value;
            return 0;
        }
    char why[256] = "is not one of";
    for (const qat_cli_choice *c = opt->choices; c->name; c++) {
        size_t n = strlen(why);
        snprintf(why + n, sizeof why - n, "%s %s", c == opt->choices ? "" : ",", c->name);
    }
    return bad_value(spec, label, value, why);
}

int qat_cli_set(const qat_cli_spec *spec, const qat_cli_option *opt, const char *label, const char *value)
{
    switch (opt->type) {
    case QAT_CLI_FLAG:
        *opt->to.flag = 1;
        return 0;
    case QAT_CLI_STRING:
        *opt->to.str = value;
        return 0;
    case QAT_CLI_CHOICE:
        return set_choice(spec, opt, label, value);
    case QAT_CLI_CUSTOM:
        return opt->parse(spec->command, label, value, opt->to.user);
    default:
        return set_number(spec, opt, label, value);
    }
}

const qat_cli_option *qat_cli_find_key(const qat_cli_spec *spec, const char *key)
{
    for (size_t i = 0; i < spec->n_options; i++) {
        const qat_cli_option *o = &spec->options[i];
        if (o->flags & QAT_CLI_NO_KEY)
            continue;
        if (o->key) {
            if (strcmp(key, o->key) == 0)
                return o;
            continue;
        }
        const char *n = o->name + strspn(o->name, "-");
        size_t k = 0;
        while (n[k] && key[k] && (n[k] == '-' ? key[k] == '_' : n[k] == key[k]))
            k++;
        if (!n[k] && !key[k])
            return o;
    }
    return NULL;
}

static void short_usage(const qat_cli_spec *spec)
{
    size_t first_line = strcspn(spec->synopsis, "\n");
    fprintf(stderr, "usage: qat %s%s%.*s\n(qat %s --help lists the options)\n", spec->command,
            first_line ? " " : "", (int)first_line, spec->synopsis, spec->command);
}

/* "--model and --task are required" for the required options not set. */
static int check_required(const qat_cli_spec *spec, const unsigned char *seen)
{
    const char *missing[MAX_OPTIONS];
    size_t n = 0;
    for (size_t i = 0; i < spec->n_options; i++) {
        const qat_cli_option *o = &spec->options[i];
        int set = seen[i] || (o->type == QAT_CLI_STRING && *o->to.str);
        if ((o->flags & QAT_CLI_REQUIRED) && !set)
            missing[n++] = o->name;
    }
    if (n == 0)
        return 0;
    fprintf(stderr, "qat %s: ", spec->command);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s%s", missing[i], i + 2 < n ? ", " : i + 2 == n ? " and " : "");
    fprintf(stderr, " %s required\n", n == 1 ? "is" : "are");
    short_usage(spec);
    return 1;
}

static int take_positional(const qat_cli_spec *spec, const char *arg, size_t *count)
{
    if (!spec->positional || *count == spec->max_positional) {
        fprintf(stderr, "qat %s: unexpected argument '%s'%s\n", spec->command, arg,
                spec->positional ? " (too many)" : "");
        short_usage(spec);
        return 1;
    }
    spec->positional[(*count)++] = arg;
    return 0;
}

/* One pass over argv: options marked QAT_CLI_FIRST on pass 0, the rest
 * (and the positional arguments) on pass 1. 0, or the exit status. */
static int parse_pass(const qat_cli_spec *spec, int argc, char **argv, int pass, unsigned char *seen, size_t *count)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            if (pass == 1 && take_positional(spec, arg, count))
                return 2;
            continue;
        }
        const qat_cli_option *opt = find_option(spec, arg);
        if (!opt) {
            fprintf(stderr, "qat %s: unknown option %s\n", spec->command, arg);
            short_usage(spec);
            return 2;
        }
        if (takes_value(opt) && i + 1 >= argc) {
            fprintf(stderr, "qat %s: %s needs a value\n", spec->command, arg);
            short_usage(spec);
            return 2;
        }
        const char *value = takes_value(opt) ? argv[++i] : NULL;
        if (!!(opt->flags & QAT_CLI_FIRST) != (pass == 0))
            continue;
        seen[opt - spec->options] = 1;
        if (qat_cli_set(spec, opt, arg, value) != 0)
            return 2;
    }
    return 0;
}

int qat_cli_parse(const qat_cli_spec *spec, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            qat_cli_help(spec, stdout);
            return 0;
        }
        const qat_cli_option *opt = argv[i][0] == '-' ? find_option(spec, argv[i]) : NULL;
        if (opt && takes_value(opt))
            i++; /* a value is never taken for --help */
    }
    unsigned char seen[MAX_OPTIONS] = {0};
    if (spec->n_options > MAX_OPTIONS) {
        fprintf(stderr, "qat %s: more than %d options in its table\n", spec->command, MAX_OPTIONS);
        return 2;
    }
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        int rc = parse_pass(spec, argc, argv, pass, seen, &count);
        if (rc)
            return rc;
    }
    if (spec->n_positional)
        *spec->n_positional = count;
    if (count < spec->min_positional) {
        fprintf(stderr, "qat %s: %s is required\n", spec->command, spec->positional_name);
        short_usage(spec);
        return 2;
    }
    return check_required(spec, seen) ? 2 : QAT_CLI_RUN;
}

/* ---- --help --------------------------------------------------------------- */

#define HELP_WIDTH 100
#define HELP_COLUMN 23

/* Prints text from column `col` (the cursor is there), wrapped at spaces. */
static void wrap(FILE *out, const char *text, int col)
{
    int at = col;
    while (*text) {
        size_t word = strcspn(text, " "), space = 0;
        if (at > col && at + 1 + (int)word > HELP_WIDTH) {
            fprintf(out, "\n%*s", col, "");
            at = col;
        } else if (at > col) {
            fputc(' ', out);
            at++;
        }
        fprintf(out, "%.*s", (int)word, text);
        at += (int)word;
        text += word;
        while (text[space] == ' ')
            space++;
        text += space;
    }
    fputc('\n', out);
}

/* What the help appends to an option's text: its bounds or choices. */
static void describe_values(const qat_cli_option *o, char *out, size_t cap)
{
    out[0] = '\0';
    if (o->type == QAT_CLI_INT || o->type == QAT_CLI_DOUBLE) {
        /* without spaces: the wrapper never splits them */
        if (o->hi >= (double)INT64_MAX || isinf(o->hi))
            snprintf(out, cap, " [>=%g]", o->lo);
        else
            snprintf(out, cap, " [%g..%g]", o->lo, o->hi);
    } else if (o->type == QAT_CLI_CHOICE && o->value_name) {
        size_t n = (size_t)snprintf(out, cap, " (");
        for (const qat_cli_choice *c = o->choices; c->name && n < cap; c++)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", c == o->choices ? "" : ", ", c->name);
        if (n < cap)
            snprintf(out + n, cap - n, ")");
    }
}

/* " (default X)" from the destination's value before parsing, so the help
 * cannot drift from what the command (or the library's _init) sets. A
 * value outside the bounds is a "not given" sentinel and is not shown. */
static void describe_default(const qat_cli_option *o, char *out, size_t cap)
{
    out[0] = '\0';
    switch (o->type) {
    case QAT_CLI_STRING:
        if (*o->to.str)
            snprintf(out, cap, " (default %s)", *o->to.str);
        break;
    case QAT_CLI_INT:
        if ((double)*o->to.i64 >= o->lo && (double)*o->to.i64 <= o->hi)
            snprintf(out, cap, " (default %lld)", (long long)*o->to.i64);
        break;
    case QAT_CLI_UINT:
        snprintf(out, cap, " (default %llu)", (unsigned long long)*o->to.u64);
        break;
    case QAT_CLI_DOUBLE:
        if (*o->to.f64 >= o->lo && *o->to.f64 <= o->hi)
            snprintf(out, cap, " (default %g)", *o->to.f64);
        break;
    case QAT_CLI_CHOICE:
        for (const qat_cli_choice *c = o->choices; c->name; c++)
            if (c->value == *o->to.choice) {
                snprintf(out, cap, " (default %s)", c->name);
                break;
            }
        break;
    default:
        break;
    }
}

/* "--isa auto|scalar|..." when a choice has no value name. */
static void option_label(const qat_cli_option *o, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "", o->name);
    if (!takes_value(o) || n >= cap)
        return;
    if (o->value_name) {
        snprintf(out + n, cap - n, " %s", o->value_name);
        return;
    }
    for (const qat_cli_choice *c = o->choices; c && c->name && n < cap; c++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", c == o->choices ? " " : "|", c->name);
}

void qat_cli_help(const qat_cli_spec *spec, FILE *out)
{
    const char *form = spec->synopsis;
    for (int k = 0; *form || k == 0; k++) {
        size_t n = strcspn(form, "\n");
        fprintf(out, "%s qat %s%s%.*s\n", k == 0 ? "usage:" : "      ", spec->command, n ? " " : "", (int)n, form);
        form += n + (form[n] == '\n');
    }
    if (spec->about)
        fprintf(out, "%s", spec->about);
    for (size_t i = 0; i < spec->n_options; i++) {
        const qat_cli_option *o = &spec->options[i];
        char label[160], values[256], fallback[320], text[1024];
        option_label(o, label, sizeof label);
        describe_values(o, values, sizeof values);
        describe_default(o, fallback, sizeof fallback);
        snprintf(text, sizeof text, "%s%s%s", o->help, values, fallback);
        int width = fprintf(out, "  %s", label);
        if (width + 1 > HELP_COLUMN) {
            fputc('\n', out);
            width = 0;
        }
        fprintf(out, "%*s", HELP_COLUMN - width, "");
        wrap(out, text, HELP_COLUMN);
    }
    fprintf(out, "  -h, --help%*sthis help\n", HELP_COLUMN - 12, "");
    if (spec->epilog)
        fprintf(out, "%s", spec->epilog);
}
