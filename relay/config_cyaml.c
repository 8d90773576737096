/* The libcyaml pass of the file step: loads the YAML through the schema
 * tables and turns libcyaml's error backtrace into "file:line: key: reason".
 * libcyaml reports errors only through its log callback, as a first line
 * "Load: <what>" and then "in mapping field '<key>' (line: N, ...)" lines,
 * innermost first; capture_log collects them into a fixed buffer (no
 * allocation, so the torture test's failures stay on the path under test). */
#include "relay/config_internal.h"
#include "relay/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct log_capture {
    char text[2048];
    size_t len;
};

RELAY_PRINTF(3, 0)
static void capture_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    struct log_capture *c = ctx;
    if (level < CYAML_LOG_ERROR || c->len + 1 >= sizeof(c->text)) {
        return;
    }
    int n = vsnprintf(c->text + c->len, sizeof(c->text) - c->len, fmt, args);
    if (n > 0) {
        c->len += (size_t)n;
        if (c->len >= sizeof(c->text)) {
            c->len = sizeof(c->text) - 1;
        }
    }
}

/* libcyaml's allocator contract: realloc semantics, size 0 frees. */
static void *cyaml_mem_relay(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size == 0) {
        relay_free(ptr);
        return NULL;
    }
    return relay_realloc(ptr, size);
}

static const cyaml_config_t free_config = {
    .log_fn = NULL,
    .mem_fn = cyaml_mem_relay,
    .log_level = CYAML_LOG_ERROR,
};

void config_cyaml_free(struct relay_config *loaded)
{
    if (loaded != NULL) {
        cyaml_free(&free_config, &config_schema, loaded, 0);
    }
}

struct backtrace_field {
    char name[CONFIG_NAME_MAX];
    int line;
};

/* Reads the nth "in mapping field 'NAME' (line: N" of the backtrace. */
static int backtrace_field(const char *text, int nth, struct backtrace_field *out)
{
    static const char marker[] = "in mapping field '";
    const char *p = text;
    for (int i = 0; i <= nth; i++) {
        p = strstr(p, marker);
        if (p == NULL) {
            return -1;
        }
        p += sizeof(marker) - 1;
    }
    const char *quote = strchr(p, '\'');
    if (quote == NULL || (size_t)(quote - p) >= sizeof(out->name)) {
        return -1;
    }
    memcpy(out->name, p, (size_t)(quote - p));
    out->name[quote - p] = '\0';
    const char *line = strstr(quote, "(line: ");
    out->line = line != NULL ? (int)strtol(line + 7, NULL, 10) : 0;
    return 0;
}

/* What a value of this schema type must be, in the words of our messages. */
static const char *type_reason(enum cyaml_type type)
{
    switch (type) {
    case CYAML_UINT:
        return "must be a number";
    case CYAML_BOOL:
        return "must be true or false";
    case CYAML_STRING:
        return "must be a string";
    case CYAML_MAPPING:
        return "must be a mapping";
    default:
        return "has the wrong type";
    }
}

/* The first line of the capture, after "Load: ", as the fallback reason. */
static void first_line(const struct log_capture *c, char *buf, size_t size)
{
    const char *p = strstr(c->text, "Load: ");
    p = p != NULL ? p + 6 : c->text;
    size_t n = strcspn(p, "\n");
    snprintf(buf, size, "%.*s", (int)n, p);
}

static int translate_error(const struct config_ctx *ctx, const struct log_capture *c,
                           cyaml_err_t rc, struct relay_error *err)
{
    if (rc == CYAML_ERR_OOM) {
        return relay_error_set(err, RELAY_ENOMEM, "config: out of memory");
    }
    char fallback[160];
    first_line(c, fallback, sizeof(fallback));
    if (fallback[0] == '\0') {
        snprintf(fallback, sizeof(fallback), "%s", cyaml_strerror(rc));
    }
    struct backtrace_field inner, outer;
    if (backtrace_field(c->text, 0, &inner) != 0) {
        return relay_error_set(err, RELAY_ECONFIG, "%s: %s", ctx->path, fallback);
    }
    if (backtrace_field(c->text, 1, &outer) != 0) {
        int s = config_section_find(inner.name);
        return relay_error_set(err, RELAY_ECONFIG, "%s:%d: %s: %s", ctx->path, inner.line,
                               inner.name, s >= 0 ? type_reason(CYAML_MAPPING) : fallback);
    }
    int s = config_section_find(outer.name);
    int k = s >= 0 ? config_key_find(s, inner.name) : -1;
    const char *reason =
        k >= 0 ? type_reason(config_sections[s].value.mapping.fields[k].value.type) : fallback;
    return relay_error_set(err, RELAY_ECONFIG, "%s:%d: %s.%s: %s", ctx->path, inner.line,
                           outer.name, inner.name, reason);
}

int config_cyaml_load(const struct config_ctx *ctx, const char *data, size_t len,
                      struct relay_config **out, struct relay_error *err)
{
    struct log_capture capture = {.len = 0};
    /* K_file keys are not in the schema; the index pass already refused
     * every other unknown key with its line, so libcyaml may ignore them. */
    const cyaml_config_t cfg = {
        .log_fn = capture_log,
        .log_ctx = &capture,
        .mem_fn = cyaml_mem_relay,
        .log_level = CYAML_LOG_ERROR,
        .flags = CYAML_CFG_IGNORE_UNKNOWN_KEYS | CYAML_CFG_NO_ALIAS,
    };
    *out = NULL;
    cyaml_err_t rc = cyaml_load_data((const uint8_t *)data, len, &cfg, &config_schema,
                                     (cyaml_data_t **)out, NULL);
    if (rc != CYAML_OK) {
        *out = NULL;
        return translate_error(ctx, &capture, rc, err);
    }
    return 0;
}
