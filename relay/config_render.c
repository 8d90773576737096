/* config_render: the effective config as YAML that config_load reads back
 * to the same values, walking the schema tables. Secrets are masked: a
 * whole secret becomes "***", a URL or conninfo keeps everything but the
 * password its client would send (redis.url: relay/redis_url.h's rule;
 * postgres.url: libpq's, config_conninfo.c). */
#include "relay/config_internal.h"
#include "relay/mem.h"
#include "relay/redis_url.h"

#include <stdbool.h>
#include <string.h>

#define MASK "***"

/* Decodes the UTF-8 sequence at p into *cp; returns its length, or 0 when
 * p does not start a well-formed one (overlong, surrogate, cut short). */
static size_t utf8_decode(const unsigned char *p, unsigned *cp)
{
    size_t len = 1;
    unsigned min = 0;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2, min = 0x80, *cp = p[0] & 0x1fu;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, *cp = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4, min = 0x10000, *cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0; /* also stops at the terminating NUL */
        }
        *cp = (*cp << 6) | (p[i] & 0x3fu);
    }
    return *cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff) ? 0 : len;
}

/* Characters libyaml reads raw inside double quotes as themselves: its
 * printable set without tab (shown as \x09), NEL (a line break) and the
 * BOM. The line breaks LS and PS are in this set: append_quoted escapes
 * them before asking. */
static bool is_plain_char(unsigned cp)
{
    return (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) ||
           (cp >= 0xe000 && cp <= 0xfffd && cp != 0xfeff) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/* Appends s as a YAML double-quoted scalar that libyaml reads back as the
 * same bytes: '"' and '\' escaped, the line breaks NEL, LS and PS as \N, \L
 * and \P, every other character libyaml refuses or changes as \xNN or
 * \uXXXX. A byte that is not UTF-8 (only the environment can hold one)
 * becomes \xNN, which reads back as U+00NN: the rendering still loads. */
static int append_quoted(struct relay_buf *out, const char *s)
{
    int rc = relay_buf_appends(out, "\"");
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0' && rc == 0) {
        unsigned cp = 0;
        size_t len = utf8_decode(p, &cp);
        if (len == 0) {
            rc = relay_buf_printf(out, "\\x%02x", *p);
            len = 1;
        } else if (cp == '"' || cp == '\\') {
            rc = relay_buf_printf(out, "\\%c", (char)cp);
        } else if (cp == 0x85 || cp == 0x2028 || cp == 0x2029) {
            rc = relay_buf_appends(out, cp == 0x85 ? "\\N" : cp == 0x2028 ? "\\L" : "\\P");
        } else if (is_plain_char(cp)) {
            rc = relay_buf_append(out, p, len);
        } else {
            rc = relay_buf_printf(out, cp <= 0xff ? "\\x%02x" : "\\u%04x", cp);
        }
        p += len;
    }
    return rc != 0 ? -1 : relay_buf_appends(out, "\"");
}

/* Appends a redis.url with the password queue/queue_url.c would send
 * replaced by MASK (the split is relay/redis_url.h's, the client's own).
 * A userinfo without ':' is refused by the client; it is hidden whole. */
static int append_masked_redis_url(struct relay_buf *out, const char *url)
{
    if (strncmp(url, "redis://", 8) != 0) {
        return relay_buf_appends(out, url); /* unix:// holds no password */
    }
    struct redis_url_parts parts;
    redis_url_split(url + 8, &parts);
    const char *from = parts.password;
    size_t len = parts.password_len;
    if (parts.userinfo != NULL && parts.password == NULL) {
        from = parts.userinfo;
        len = parts.userinfo_len;
    }
    if (from == NULL || len == 0) {
        return relay_buf_appends(out, url);
    }
    if (relay_buf_append(out, url, (size_t)(from - url)) != 0 ||
        relay_buf_appends(out, MASK) != 0) {
        return -1;
    }
    return relay_buf_appends(out, from + len);
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
        int rc = (flags & CONFIG_CONNINFO) != 0 ? config_conninfo_mask(v, &masked)
                                                : append_masked_redis_url(&masked, v);
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
