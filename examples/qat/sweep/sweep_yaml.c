/* YAML grids through libyaml, converted to the json-c tree a JSON grid
 * gives, so that one validator serves both formats (and they stay
 * equivalent by construction). Built without libyaml, it says how to get
 * YAML support instead. Also the one reader of such documents from a file
 * (grids, qat train --config). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_grid.h"

#ifdef QAT_CLI_HAVE_YAML
#include <yaml.h>

/* A plain (unquoted) scalar is typed as YAML 1.2's core schema would;
 * anything quoted stays a string ("0.1" in quotes is a string). */
static json_object *scalar(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_object_new_string(s);
    if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return NULL;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_object_new_boolean(1);
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_object_new_boolean(0);
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (*end == '\0' && errno == 0)
        return json_object_new_int64(i);
    double d = strtod(s, &end);
    if (*end == '\0' && isfinite(d))
        return json_object_new_double(d);
    return json_object_new_string(s);
}

/* Aliases make the document a graph; converting it to a tree copies every
 * node an alias reaches, so nested aliases grow exponentially ("billion
 * laughs": 843 bytes reached 13 GB). The tree may hold at most this many
 * values (a study grid has a few hundred). */
#define YAML_MAX_VALUES 100000

typedef struct conversion {
    yaml_document_t *doc;
    size_t values;
    char *err;
    size_t errcap;
    int failed;
} conversion;

static json_object *convert(conversion *c, yaml_node_t *n, int depth)
{
    if (depth > 64) {
        snprintf(c->err, c->errcap, "nesting deeper than 64 levels");
        c->failed = 1;
        return NULL;
    }
    if (++c->values > YAML_MAX_VALUES) {
        snprintf(c->err, c->errcap, "line %lu: the document expands to more than %d values (aliases of aliases?); "
                 "a settings file or grid holds a few hundred", (unsigned long)n->start_mark.line + 1,
                 YAML_MAX_VALUES);
        c->failed = 1;
        return NULL;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return scalar(n);
    case YAML_SEQUENCE_NODE: {
        json_object *a = json_object_new_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            json_object *v = convert(c, yaml_document_get_node(c->doc, *it), depth + 1);
            if (c->failed) {
                json_object_put(a);
                return NULL;
            }
            json_object_array_add(a, v);
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_object *o = json_object_new_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                snprintf(c->err, c->errcap, "line %lu: mapping keys must be plain strings",
                         k ? (unsigned long)k->start_mark.line + 1 : 0UL);
                c->failed = 1;
                json_object_put(o);
                return NULL;
            }
            const char *key = (const char *)k->data.scalar.value;
            if (json_object_object_get_ex(o, key, NULL)) {
                snprintf(c->err, c->errcap, "line %lu: key '%s' given twice", (unsigned long)k->start_mark.line + 1,
                         key);
                c->failed = 1;
                json_object_put(o);
                return NULL;
            }
            json_object *v = convert(c, yaml_document_get_node(c->doc, p->value), depth + 1);
            if (c->failed) {
                json_object_put(o);
                return NULL;
            }
            json_object_object_add(o, key, v);
        }
        return o;
    }
    default:
        return NULL;
    }
}

json_object *sweep_yaml_parse(const char *text, size_t len, char *err, size_t errcap)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errcap, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errcap, "YAML syntax error at line %lu, column %lu: %s",
                 (unsigned long)parser.problem_mark.line + 1, (unsigned long)parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "unknown problem");
        yaml_parser_delete(&parser);
        return NULL;
    }
    json_object *tree = NULL;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    conversion c = {&doc, 0, err, errcap, 0};
    if (!root)
        snprintf(err, errcap, "the YAML document is empty");
    else
        tree = convert(&c, root, 0);
    if (root && !c.failed && !tree)
        snprintf(err, errcap, "the YAML document holds no mapping");
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return tree;
}

#else

json_object *sweep_yaml_parse(const char *text, size_t len, char *err, size_t errcap)
{
    (void)text;
    (void)len;
    snprintf(err, errcap, "this qat was built without libyaml: install libyaml-dev and rebuild, or write the grid "
                          "as JSON (same keys)");
    return NULL;
}

#endif

/* Whole file into a NUL-terminated buffer; documents are small (16 MiB at most). */
static char *read_text(const char *path, size_t *len, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 < cap)
            continue;
        char *bigger = cap <= (size_t)16 << 20 ? realloc(buf, cap * 2) : NULL;
        if (!bigger) {
            snprintf(err, errcap, "%s: larger than 16 MiB, not a settings file", path);
            free(buf);
            fclose(f);
            return NULL;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    if (!buf) {
        snprintf(err, errcap, "%s: out of memory", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

json_object *sweep_document_read(const char *path, char *err, size_t errcap)
{
    int json = ends_with(path, ".json"), yaml = ends_with(path, ".yaml") || ends_with(path, ".yml");
    if (!json && !yaml) {
        snprintf(err, errcap, "%s: unknown format (name it .yaml, .yml or .json)", path);
        return NULL;
    }
    size_t len = 0;
    char *text = read_text(path, &len, err, errcap);
    if (!text)
        return NULL;
    json_object *tree = NULL;
    char why[512] = "";
    if (json) {
        enum json_tokener_error jerr;
        tree = json_tokener_parse_verbose(text, &jerr);
        if (!tree)
            snprintf(why, sizeof why, "JSON syntax error: %s", json_tokener_error_desc(jerr));
    } else {
        tree = sweep_yaml_parse(text, len, why, sizeof why);
    }
    free(text);
    if (!tree)
        snprintf(err, errcap, "%s: %s", path, why);
    return tree;
}
