/* The mapping file (deploy/mappings/contact.yaml) -> struct mapping.
 * libcyaml reads the YAML into the plain structs below through schema
 * tables (unknown keys are errors); mapping_check.c then validates names,
 * types, transforms and identifiers, and this file compiles the result.
 * The compiled mapping points into the libcyaml document, which it owns. */
#include "mappers/mapper_internal.h"
#include "mappers/mapping_internal.h"
#include "relay/mem.h"

#include <cyaml/cyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cyaml_schema_field_t column_fields[] = {
    CYAML_FIELD_STRING_PTR("column", CYAML_FLAG_POINTER, struct mapping_yaml_column, column, 1,
                           CYAML_UNLIMITED),
    CYAML_FIELD_STRING_PTR("transform", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct mapping_yaml_column, transform, 1, CYAML_UNLIMITED),
    CYAML_FIELD_BOOL("system_key", CYAML_FLAG_OPTIONAL, struct mapping_yaml_column, system_key),
    CYAML_FIELD_END};

#define COLUMN_FIELD(key, member)                                                                  \
    CYAML_FIELD_MAPPING_PTR(key, CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,                         \
                            struct mapping_yaml_field, member, column_fields)

static const cyaml_schema_field_t field_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct mapping_yaml_field, name, 1,
                           CYAML_UNLIMITED),
    CYAML_FIELD_STRING_PTR("type", CYAML_FLAG_POINTER, struct mapping_yaml_field, type, 1,
                           CYAML_UNLIMITED),
    CYAML_FIELD_STRING_PTR("normalize", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct mapping_yaml_field, normalize, 1, CYAML_UNLIMITED),
    CYAML_FIELD_BOOL("identity", CYAML_FLAG_OPTIONAL, struct mapping_yaml_field, identity),
    CYAML_FIELD_BOOL("owned", CYAML_FLAG_OPTIONAL, struct mapping_yaml_field, owned),
    COLUMN_FIELD("twenty", sys[MAPPER_SYS_TWENTY]),
    COLUMN_FIELD("postgres", sys[MAPPER_SYS_POSTGRES]),
    COLUMN_FIELD("sqlite", sys[MAPPER_SYS_SQLITE]),
    COLUMN_FIELD("bigquery", sys[MAPPER_SYS_BIGQUERY]),
    CYAML_FIELD_END};

static const cyaml_schema_value_t string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t system_fields[] = {
    CYAML_FIELD_STRING_PTR("extra_column", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct mapping_yaml_system, extra_column, 1, CYAML_UNLIMITED),
    CYAML_FIELD_STRING_PTR("extra_transform", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct mapping_yaml_system, extra_transform, 1, CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE("own_keys", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                         struct mapping_yaml_system, own_keys, &string_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END};

#define SYSTEM_FIELD(key, member)                                                                  \
    CYAML_FIELD_MAPPING_PTR(key, CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,                         \
                            struct mapping_yaml_systems, member, system_fields)

static const cyaml_schema_field_t systems_fields[] = {
    SYSTEM_FIELD("twenty", sys[MAPPER_SYS_TWENTY]),
    SYSTEM_FIELD("postgres", sys[MAPPER_SYS_POSTGRES]),
    SYSTEM_FIELD("sqlite", sys[MAPPER_SYS_SQLITE]),
    SYSTEM_FIELD("bigquery", sys[MAPPER_SYS_BIGQUERY]), CYAML_FIELD_END};

static const cyaml_schema_value_t field_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct mapping_yaml_field, field_fields),
};

static const cyaml_schema_field_t doc_fields[] = {
    CYAML_FIELD_MAPPING_PTR("systems", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                            struct mapping_yaml_doc, systems, systems_fields),
    CYAML_FIELD_SEQUENCE("fields", CYAML_FLAG_POINTER, struct mapping_yaml_doc, fields,
                         &field_entry, 1, CYAML_UNLIMITED),
    CYAML_FIELD_END};

static const cyaml_schema_value_t doc_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct mapping_yaml_doc, doc_fields),
};

/* libcyaml's allocator hook: everything goes through relay/mem.h. */
static void *cyaml_relay_mem(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size == 0) {
        relay_free(ptr);
        return NULL;
    }
    return relay_realloc(ptr, size);
}

/* libcyaml reports a load error as several log lines: the reason first,
 * then a backtrace whose lines carry "(line: N, column: M)". We keep the
 * first reason and the first line number for a "file:line: reason". */
struct cyaml_capture {
    char reason[160];
    unsigned line;
};

static void capture_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
    RELAY_PRINTF(3, 0);

static void capture_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    struct cyaml_capture *cap = ctx;
    char msg[256];
    if (level < CYAML_LOG_ERROR) {
        return;
    }
    vsnprintf(msg, sizeof(msg), fmt, args);
    msg[strcspn(msg, "\n")] = '\0';
    const char *at = strstr(msg, "(line: ");
    if (at != NULL && cap->line == 0) {
        unsigned long line = strtoul(at + 7, NULL, 10);
        cap->line = line > 0 && line < 1000000 ? (unsigned)line : 0;
    } else if (at == NULL && cap->reason[0] == '\0') {
        const char *text = strncmp(msg, "Load: ", 6) == 0 ? msg + 6 : msg;
        snprintf(cap->reason, sizeof(cap->reason), "%.150s", text);
    }
}

static cyaml_config_t cyaml_conf(struct cyaml_capture *cap)
{
    cyaml_config_t c = {
        .log_fn = capture_log,
        .log_ctx = cap,
        .mem_fn = cyaml_relay_mem,
        .log_level = CYAML_LOG_ERROR,
        .flags = CYAML_CFG_DEFAULT,
    };
    return c;
}

void mapping_parsed_free(void *parsed)
{
    if (parsed == NULL) {
        return;
    }
    struct cyaml_capture cap = {{0}, 0};
    cyaml_config_t c = cyaml_conf(&cap);
    cyaml_free(&c, &doc_schema, parsed, 0);
}

void mapping_destroy(struct mapping *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->count; i++) {
        for (int s = 0; s < MAPPER_SYS_COUNT; s++) {
            for (size_t d = 0; d < MAPPER_PATH_MAX_DEPTH; d++) {
                relay_free((char *)m->entries[i].col[s].part[d]);
            }
        }
    }
    relay_free(m->entries);
    mapping_parsed_free(m->parsed);
    relay_free(m);
}

struct mapping *mapping_parse(const char *text, size_t len, const char *name,
                              struct relay_error *err)
{
    struct cyaml_capture cap = {{0}, 0};
    cyaml_config_t c = cyaml_conf(&cap);
    struct mapping_yaml_doc *doc = NULL;
    cyaml_err_t rc =
        cyaml_load_data((const uint8_t *)text, len, &c, &doc_schema, (cyaml_data_t **)&doc, NULL);
    if (rc != CYAML_OK) {
        const char *why = cap.reason[0] != '\0' ? cap.reason : cyaml_strerror(rc);
        if (rc == CYAML_ERR_OOM) {
            relay_error_set(err, RELAY_ENOMEM, "%s: out of memory", name);
        } else if (cap.line > 0) {
            relay_error_set(err, RELAY_ECONFIG, "%s:%u: %s", name, cap.line, why);
        } else {
            relay_error_set(err, RELAY_ECONFIG, "%s: %s", name, why);
        }
        return NULL;
    }
    if (doc == NULL) {
        relay_error_set(err, RELAY_ECONFIG, "%s: empty mapping (needs \"fields:\")", name);
        return NULL;
    }
    struct mapping_check_ctx ctx = {.text = text, .len = len, .name = name, .doc = doc};
    struct mapping *m = NULL;
    if (mapping_check(&ctx, err) == 0) {
        m = mapping_compile(doc, err);
    }
    if (m == NULL) {
        mapping_parsed_free(doc);
    }
    return m;
}
