/* Validation of a parsed mapping file: everything libcyaml's schema cannot
 * say. Each error names the file, the line of the offending entry (found
 * by searching the source text, since libcyaml keeps no positions), the
 * field and the reason. */
#include "mappers/mapping_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[] = {"text", "number",      "timestamp",
                                         "json", "json_object", "text[]"};

int mapping_type_parse(const char *s)
{
    for (int i = 0; i < (int)(sizeof(type_names) / sizeof(type_names[0])); i++) {
        if (strcmp(s, type_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static bool is_token_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '[' || c == ']';
}

unsigned mapping_line_of(const char *text, const char *needle, unsigned from, unsigned nth)
{
    size_t n = strlen(needle);
    unsigned line = 1;
    for (const char *p = text; *p != '\0' && n > 0; p++) {
        if (line >= from && strncmp(p, needle, n) == 0 && !is_token_char(p[n]) &&
            (p == text || !is_token_char(p[-1]))) {
            if (nth == 0) {
                return line;
            }
            nth--;
        }
        if (*p == '\n') {
            line++;
        }
    }
    return 0;
}

/* Fills err with "name:line: reason" (line 0: "name: reason"); returns -1. */
static int fail(const struct mapping_check_ctx *ctx, struct relay_error *err, unsigned line,
                const char *fmt, ...) RELAY_PRINTF(4, 5);

static int fail(const struct mapping_check_ctx *ctx, struct relay_error *err, unsigned line,
                const char *fmt, ...)
{
    char reason[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (line == 0) {
        return relay_error_set(err, RELAY_ECONFIG, "%s: %s", ctx->name, reason);
    }
    return relay_error_set(err, RELAY_ECONFIG, "%s:%u: %s", ctx->name, line, reason);
}

/* [a-z_][a-z0-9_]*: canonical names and SQL columns (no quoting needed). */
static bool is_sql_identifier(const char *s)
{
    if (s[0] == '\0' || isdigit((unsigned char)s[0])) {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_') ||
            !isascii((unsigned char)*p)) {
            return false;
        }
    }
    return strlen(s) <= 63; /* PostgreSQL's NAMEDATALEN - 1 */
}

/* A Twenty API name path: one or two [A-Za-z_][A-Za-z0-9_]* parts. */
static bool is_twenty_path(const char *s)
{
    size_t parts = 0;
    const char *p = s;
    while (true) {
        size_t n = 0;
        if (!isalpha((unsigned char)p[0]) && p[0] != '_') {
            return false;
        }
        while (isalnum((unsigned char)p[n]) || p[n] == '_') {
            n++;
        }
        parts++;
        if (p[n] == '\0') {
            return parts <= MAPPER_PATH_MAX_DEPTH;
        }
        if (p[n] != '.') {
            return false;
        }
        p += n + 1;
    }
}

/* The line of field i's `name:` entry (the nth entry with that name). */
static unsigned field_line(const struct mapping_check_ctx *ctx, size_t i)
{
    unsigned nth = 0;
    const char *name = ctx->doc->fields[i].name;
    for (size_t j = 0; j < i; j++) {
        nth += strcmp(ctx->doc->fields[j].name, name) == 0;
    }
    char needle[160];
    snprintf(needle, sizeof(needle), "name: %s", name);
    return mapping_line_of(ctx->text, needle, 1, nth);
}

static const char *const sys_keys[MAPPER_SYS_COUNT] = {NULL, "twenty", "postgres", "sqlite",
                                                       "bigquery"};

/* The line of "key: value" at or after field i's line, or after its
 * "<system>:" line when sys > 0 (falls back to that line). */
static unsigned value_line_in(const struct mapping_check_ctx *ctx, size_t i, int sys,
                              const char *key, const char *value)
{
    static const char *const quotes[] = {"", "\"", "'"};
    char needle[160];
    unsigned from = field_line(ctx, i);
    if (sys > 0) {
        snprintf(needle, sizeof(needle), "%s:", sys_keys[sys]);
        unsigned at = mapping_line_of(ctx->text, needle, from, 0);
        from = at != 0 ? at : from;
    }
    for (size_t q = 0; q < sizeof(quotes) / sizeof(quotes[0]); q++) {
        snprintf(needle, sizeof(needle), "%s: %s%.120s%s", key, quotes[q], value, quotes[q]);
        unsigned line = mapping_line_of(ctx->text, needle, from, 0);
        if (line != 0) {
            return line;
        }
    }
    return from;
}

static unsigned value_line(const struct mapping_check_ctx *ctx, size_t i, const char *key,
                           const char *value)
{
    return value_line_in(ctx, i, 0, key, value);
}

static int check_column(const struct mapping_check_ctx *ctx, size_t i, int s,
                        struct relay_error *err)
{
    const struct mapping_yaml_field *f = &ctx->doc->fields[i];
    const struct mapping_yaml_column *c = f->sys[s];
    if (s == MAPPER_SYS_TWENTY ? !is_twenty_path(c->column) : !is_sql_identifier(c->column)) {
        return fail(ctx, err, value_line_in(ctx, i, s, "column", c->column),
                    "field %s: %s column \"%s\" is not %s", f->name, sys_keys[s], c->column,
                    s == MAPPER_SYS_TWENTY ? "a name or a name.part path"
                                           : "an identifier [a-z_][a-z0-9_]*");
    }
    if (c->transform != NULL && mapper_transform_find(c->transform) == NULL) {
        return fail(ctx, err, value_line_in(ctx, i, s, "transform", c->transform),
                    "field %s: %s: unknown transform \"%s\"", f->name, sys_keys[s], c->transform);
    }
    if (c->system_key && s != MAPPER_SYS_TWENTY) {
        return fail(ctx, err, value_line_in(ctx, i, s, "system_key", "true"),
                    "field %s: system_key is only for twenty", f->name);
    }
    const struct mapping_yaml_system *sc =
        ctx->doc->systems != NULL ? ctx->doc->systems->sys[s] : NULL;
    if (sc != NULL && sc->extra_column != NULL && strcmp(sc->extra_column, c->column) == 0) {
        return fail(ctx, err, value_line_in(ctx, i, s, "column", c->column),
                    "field %s: %s column \"%s\" is the extra column", f->name, sys_keys[s],
                    c->column);
    }
    for (unsigned k = 0; sc != NULL && k < sc->own_keys_count; k++) {
        if (strcmp(sc->own_keys[k], c->column) == 0) {
            return fail(ctx, err, value_line_in(ctx, i, s, "column", c->column),
                        "field %s: %s column \"%s\" is one of syncrelay's own keys", f->name,
                        sys_keys[s], c->column);
        }
    }
    return 0;
}

/* Two fields on one column, or "name" next to "name.firstName". */
static bool columns_clash(const char *a, const char *b)
{
    size_t la = strcspn(a, "."), lb = strcspn(b, ".");
    if (strcmp(a, b) == 0) {
        return true;
    }
    bool same_top = la == lb && strncmp(a, b, la) == 0;
    return same_top && (a[la] == '\0' || b[lb] == '\0');
}

static int check_duplicates(const struct mapping_check_ctx *ctx, size_t i, struct relay_error *err)
{
    const struct mapping_yaml_field *f = &ctx->doc->fields[i];
    for (size_t j = 0; j < i; j++) {
        const struct mapping_yaml_field *g = &ctx->doc->fields[j];
        if (strcmp(f->name, g->name) == 0) {
            return fail(ctx, err, field_line(ctx, i), "duplicate field name \"%s\"", f->name);
        }
        for (int s = 1; s < MAPPER_SYS_COUNT; s++) {
            if (f->sys[s] != NULL && g->sys[s] != NULL &&
                columns_clash(f->sys[s]->column, g->sys[s]->column)) {
                return fail(ctx, err, value_line_in(ctx, i, s, "column", f->sys[s]->column),
                            "field %s: %s column \"%s\" is already used by field %s", f->name,
                            sys_keys[s], f->sys[s]->column, g->name);
            }
        }
    }
    return 0;
}

static int check_field(const struct mapping_check_ctx *ctx, size_t i, struct relay_error *err)
{
    const struct mapping_yaml_field *f = &ctx->doc->fields[i];
    if (!is_sql_identifier(f->name)) {
        return fail(ctx, err, field_line(ctx, i),
                    "field name \"%s\" is not an identifier [a-z_][a-z0-9_]*", f->name);
    }
    if (mapping_type_parse(f->type) < 0) {
        return fail(ctx, err, value_line(ctx, i, "type", f->type),
                    "field %s: unknown type \"%s\" (text, number, timestamp, json, json_object, "
                    "text[])",
                    f->name, f->type);
    }
    if (f->normalize != NULL && mapper_normalizer_find(f->normalize) == NULL) {
        return fail(ctx, err, value_line(ctx, i, "normalize", f->normalize),
                    "field %s: unknown normalizer \"%s\" (timestamp, email_list, phone_list, "
                    "lower_snake)",
                    f->name, f->normalize);
    }
    for (int s = 1; s < MAPPER_SYS_COUNT; s++) {
        if (f->sys[s] != NULL && check_column(ctx, i, s, err) != 0) {
            return -1;
        }
    }
    return check_duplicates(ctx, i, err);
}

static int check_systems(const struct mapping_check_ctx *ctx, struct relay_error *err)
{
    for (int s = 1; s < MAPPER_SYS_COUNT && ctx->doc->systems != NULL; s++) {
        const struct mapping_yaml_system *sc = ctx->doc->systems->sys[s];
        if (sc == NULL) {
            continue;
        }
        if (sc->extra_column != NULL && !is_sql_identifier(sc->extra_column)) {
            return fail(ctx, err, mapping_line_of(ctx->text, sc->extra_column, 1, 0),
                        "%s: extra_column \"%s\" is not an identifier [a-z_][a-z0-9_]*",
                        sys_keys[s], sc->extra_column);
        }
        if (sc->extra_transform != NULL && mapper_transform_find(sc->extra_transform) == NULL) {
            return fail(ctx, err, mapping_line_of(ctx->text, sc->extra_transform, 1, 0),
                        "%s: unknown extra_transform \"%s\"", sys_keys[s], sc->extra_transform);
        }
        for (unsigned k = 0; k < sc->own_keys_count; k++) {
            if (sc->own_keys[k][0] == '\0') {
                return fail(ctx, err, 0, "%s: own_keys holds an empty name", sys_keys[s]);
            }
        }
    }
    return 0;
}

int mapping_check(const struct mapping_check_ctx *ctx, struct relay_error *err)
{
    if (check_systems(ctx, err) != 0) {
        return -1;
    }
    for (size_t i = 0; i < ctx->doc->fields_count; i++) {
        if (check_field(ctx, i, err) != 0) {
            return -1;
        }
    }
    return 0;
}
