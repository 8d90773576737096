/* The mapping file as libcyaml reads it, and the check/compile steps
 * between it and struct mapping (mapping_parse.c, mapping_check.c,
 * mapping_compile.c). mappers/ only. */
#ifndef RELAY_MAPPERS_MAPPING_INTERNAL_H
#define RELAY_MAPPERS_MAPPING_INTERNAL_H

#include "mappers/mapper_internal.h"

#include <stdbool.h>
#include <stddef.h>

/* `twenty: {column: name.firstName, transform: ..., system_key: true}` */
struct mapping_yaml_column {
    char *column;
    char *transform; /* NULL when absent */
    bool system_key;
};

/* One `fields:` entry. sys[MAPPER_SYS_CANONICAL] stays NULL. */
struct mapping_yaml_field {
    char *name;
    char *type;
    char *normalize; /* NULL when absent */
    bool identity;
    bool owned;
    struct mapping_yaml_column *sys[MAPPER_SYS_COUNT];
};

/* One `systems:` entry. */
struct mapping_yaml_system {
    char *extra_column;    /* NULL when absent */
    char *extra_transform; /* NULL when absent */
    char **own_keys;
    unsigned own_keys_count;
};

struct mapping_yaml_systems {
    struct mapping_yaml_system *sys[MAPPER_SYS_COUNT];
};

struct mapping_yaml_doc {
    struct mapping_yaml_systems *systems; /* NULL when absent */
    struct mapping_yaml_field *fields;
    unsigned fields_count;
};

/* What the checker needs to point at lines of the source text. */
struct mapping_check_ctx {
    const char *text;
    size_t len;
    const char *name; /* file name for messages */
    const struct mapping_yaml_doc *doc;
};

/* Validates the document: names, types, normalisers, transforms, column
 * identifiers, duplicates. 0, or -1 with err "name:line: reason"
 * (RELAY_ECONFIG). */
int mapping_check(const struct mapping_check_ctx *ctx, struct relay_error *err);

/* Parses a `type:` string; -1 when unknown. */
int mapping_type_parse(const char *s);

/* Builds the compiled mapping from a checked document; on success the
 * mapping owns doc. NULL + err (ENOMEM). */
struct mapping *mapping_compile(struct mapping_yaml_doc *doc, struct relay_error *err);

#endif
