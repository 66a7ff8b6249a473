/* YAML grids through libyaml, converted to the json-c tree a JSON grid
 * gives, so that one validator serves both formats (and they stay
 * equivalent by construction). Built without libyaml, it says how to get
 * YAML support instead. */
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

static json_object *convert(yaml_document_t *doc, yaml_node_t *n, int depth, char *err, size_t errcap, int *failed)
{
    if (depth > 64) {
        snprintf(err, errcap, "nesting deeper than 64 levels");
        *failed = 1;
        return NULL;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return scalar(n);
    case YAML_SEQUENCE_NODE: {
        json_object *a = json_object_new_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            json_object *v = convert(doc, yaml_document_get_node(doc, *it), depth + 1, err, errcap, failed);
            if (*failed) {
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
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                snprintf(err, errcap, "line %lu: mapping keys must be plain strings",
                         k ? (unsigned long)k->start_mark.line + 1 : 0UL);
                *failed = 1;
                json_object_put(o);
                return NULL;
            }
            const char *key = (const char *)k->data.scalar.value;
            if (json_object_object_get_ex(o, key, NULL)) {
                snprintf(err, errcap, "line %lu: key '%s' given twice", (unsigned long)k->start_mark.line + 1, key);
                *failed = 1;
                json_object_put(o);
                return NULL;
            }
            json_object *v = convert(doc, yaml_document_get_node(doc, p->value), depth + 1, err, errcap, failed);
            if (*failed) {
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
    int failed = 0;
    if (!root)
        snprintf(err, errcap, "the YAML document is empty");
    else
        tree = convert(&doc, root, 0, err, errcap, &failed);
    if (root && !failed && !tree)
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
