/* config_render: the effective config as YAML that config_load reads back,
 * walking the schema tables. Secrets are masked: a whole secret becomes
 * "***", a URL or conninfo keeps everything but its password. */
#include "relay/config_internal.h"
#include "relay/mem.h"

#include <stdbool.h>
#include <string.h>

#define MASK "***"

/* Appends s as a YAML double-quoted scalar. */
static int append_quoted(struct relay_buf *out, const char *s)
{
    int rc = relay_buf_appends(out, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && rc == 0; p++) {
        if (*p == '"' || *p == '\\') {
            rc = relay_buf_printf(out, "\\%c", *p);
        } else if (*p < 0x20 || *p == 0x7f) {
            rc = relay_buf_printf(out, "\\x%02x", *p);
        } else {
            rc = relay_buf_append(out, p, 1);
        }
    }
    return rc != 0 ? -1 : relay_buf_appends(out, "\"");
}

/* Length of a password value starting at p: up to '&', space or the end;
 * a libpq conninfo value in single quotes runs to the closing quote. */
static size_t password_len(const char *p)
{
    if (*p == '\'') {
        const char *q = p + 1;
        while (*q != '\0' && *q != '\'') {
            q += (*q == '\\' && q[1] != '\0') ? 2 : 1;
        }
        return (size_t)(q - p) + (*q == '\'');
    }
    return strcspn(p, "& \t");
}

/* Appends url with the userinfo password and any password= value masked.
 * Handles redis://:pw@h, postgresql://u:pw@h/db?password=pw and
 * "host=h password=pw" conninfo. */
static int append_masked_url(struct relay_buf *out, const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *auth_end = NULL;
    const char *colon = NULL;
    if (scheme != NULL) {
        const char *auth = scheme + 3;
        auth_end = auth + strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *p = auth; p < auth_end; p++) {
            at = *p == '@' ? p : at;
        }
        colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        auth_end = at;
    }
    int rc = 0;
    const char *p = url;
    while (*p != '\0' && rc == 0) {
        if (colon != NULL && p == colon + 1) {
            rc = relay_buf_appends(out, MASK);
            p = auth_end;
        } else if (strncmp(p, "password=", 9) == 0 && (p == url || strchr("?& \t", p[-1]))) {
            rc = relay_buf_appends(out, "password=" MASK);
            p += 9;
            p += password_len(p);
        } else {
            rc = relay_buf_append(out, p, 1);
            p++;
        }
    }
    return rc;
}

static int append_value(struct relay_buf *out, const struct relay_config *conf, int s, int k)
{
    const cyaml_schema_field_t *field = &config_sections[s].value.mapping.fields[k];
    const void *slot = config_key_addr(conf, s, k);
    if (field->value.type == CYAML_UINT) {
        return relay_buf_printf(out, "%u", *(const unsigned *)slot);
    }
    if (field->value.type == CYAML_BOOL) {
        return relay_buf_appends(out, *(const bool *)slot ? "true" : "false");
    }
    const char *v = *(char *const *)slot;
    unsigned flags = config_rule_get(s, k)->flags;
    if ((flags & CONFIG_SECRET) != 0 && v[0] != '\0') {
        return append_quoted(out, MASK);
    }
    if ((flags & CONFIG_SECRET_URL) != 0) {
        struct relay_buf masked;
        relay_buf_init(&masked);
        int rc = append_masked_url(&masked, v);
        if (rc == 0) {
            rc = append_quoted(out, masked.data != NULL ? masked.data : "");
        }
        relay_buf_fini(&masked);
        return rc;
    }
    return append_quoted(out, v);
}

int config_render(const struct relay_config *conf, struct relay_buf *out)
{
    for (int s = 0; config_sections[s].key != NULL; s++) {
        const cyaml_schema_field_t *fields = config_sections[s].value.mapping.fields;
        if (relay_buf_printf(out, "%s:\n", config_sections[s].key) != 0) {
            return -1;
        }
        for (int k = 0; fields[k].key != NULL; k++) {
            if (relay_buf_printf(out, "  %s: ", fields[k].key) != 0 ||
                append_value(out, conf, s, k) != 0 || relay_buf_appends(out, "\n") != 0) {
                return -1;
            }
        }
    }
    return 0;
}
