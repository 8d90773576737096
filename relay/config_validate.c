/* The validation step of config_load: every key against its rule in
 * config_rules (number ranges, string checks), then the rules that tie two
 * keys together. Messages say where the bad value came from (config_where). */
#include "relay/config_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define LISTEN_REASON "must be host:port or port, with an optional trailing s for TLS"

static bool is_port(const char *p, size_t len)
{
    if (len == 0 || len > 5) {
        return false;
    }
    unsigned port = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        port = port * 10 + (unsigned)(p[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

/* One civetweb listening_ports entry: [host:]port[s], host may be [v6]. */
static bool is_listen_item(const char *item, size_t len)
{
    if (len > 0 && item[len - 1] == 's') {
        len--;
    }
    const char *port = item;
    if (len > 0 && item[0] == '[') {
        const char *close = memchr(item, ']', len);
        if (close == NULL || close == item + 1 || (size_t)(close - item) + 1 >= len ||
            close[1] != ':') {
            return false;
        }
        port = close + 2;
    } else {
        const char *colon = memchr(item, ':', len);
        if (colon != NULL) {
            if (colon == item || memchr(colon + 1, ':', len - (size_t)(colon - item) - 1)) {
                return false;
            }
            port = colon + 1;
        }
    }
    return is_port(port, len - (size_t)(port - item));
}

const char *config_check_listen(const char *value)
{
    const char *p = value;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (!is_listen_item(p, len)) {
            return LISTEN_REASON;
        }
        if (p[len] == '\0') {
            return NULL;
        }
        p += len + 1;
    }
}

static bool has_tls_port(const char *listen)
{
    for (const char *p = listen;; p++) {
        if (*p == 's' && (p[1] == ',' || p[1] == '\0')) {
            return true;
        }
        if (*p == '\0') {
            return false;
        }
    }
}

static int fail(const struct config_ctx *ctx, int s, int k, const char *reason,
                struct relay_error *err)
{
    char where[CONFIG_NAME_MAX + 128];
    config_where(ctx, s, k, where, sizeof(where));
    return relay_error_set(err, RELAY_ECONFIG, "%s: %s", where, reason);
}

static int check_key(const struct config_ctx *ctx, int s, int k, struct relay_error *err)
{
    const cyaml_schema_field_t *field = &config_sections[s].value.mapping.fields[k];
    const struct config_rule *rule = config_rule_get(s, k);
    const void *slot = config_key_addr(ctx->conf, s, k);
    if (field->value.type == CYAML_UINT) {
        unsigned v = *(const unsigned *)slot;
        if (v < rule->min || v > rule->max) {
            char reason[80];
            snprintf(reason, sizeof(reason), "must be between %u and %u", rule->min, rule->max);
            return fail(ctx, s, k, reason, err);
        }
    } else if ((rule->flags & CONFIG_CONNINFO) != 0) {
        char reason[256];
        int rc = config_conninfo_check(*(char *const *)slot, reason, sizeof(reason));
        if (rc < 0) {
            return relay_error_set(err, RELAY_ENOMEM, "config: out of memory");
        }
        if (rc > 0) {
            return fail(ctx, s, k, reason, err);
        }
    } else if (field->value.type == CYAML_STRING && rule->check != NULL) {
        const char *reason = rule->check(*(char *const *)slot);
        if (reason != NULL) {
            return fail(ctx, s, k, reason, err);
        }
    }
    return 0;
}

/* Rules that involve two keys; reported at the key a reader would change. */
static int check_pairs(const struct config_ctx *ctx, struct relay_error *err)
{
    const struct relay_config *c = ctx->conf;
    if (has_tls_port(c->http.listen) && c->http.tls_cert[0] == '\0') {
        int s = config_section_find("http");
        return fail(ctx, s, config_key_find(s, "listen"), "a TLS port needs http.tls_cert", err);
    }
    if (c->retry.cap_ms < c->retry.base_ms) {
        int s = config_section_find("retry");
        return fail(ctx, s, config_key_find(s, "cap_ms"), "must not be below retry.base_ms", err);
    }
    return 0;
}

int config_validate(struct config_ctx *ctx, struct relay_error *err)
{
    for (int s = 0; config_sections[s].key != NULL; s++) {
        const cyaml_schema_field_t *fields = config_sections[s].value.mapping.fields;
        for (int k = 0; fields[k].key != NULL; k++) {
            if (check_key(ctx, s, k, err) != 0) {
                return -1;
            }
        }
    }
    return check_pairs(ctx, err);
}
