/* config_conninfo: postgres.url as libpq reads it. config_load checks that
 * libpq parses it; config_render hides the password libpq would send. The
 * masking keeps the user's text and replaces only the password values
 * (found with libpq's own conninfo and URI rules), then checks the result
 * with PQconninfoParse: when anything but the password would change (say a
 * percent-encoded "pass%77ord" key), the conninfo is instead rendered from
 * libpq's parse, key='value' by key, which is right by construction. */
#include "relay/config_internal.h"

#include <libpq-fe.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MASK "***"

/* libpq messages that quote a piece of the value mid-line: the text from
 * the prefix to the line's last '"' is the value's. The others end with
 * ': "<value or piece of it>"', cut off. (Messages are English: syncrelay
 * never calls setlocale.) */
static const char *const quoting_prefixes[] = {"missing \"=\" after \"",
                                               "invalid connection option \""};

/* Copies the first line of libpq's message msg into reason without any
 * piece of the value. */
static void redact_message(const char *msg, char *reason, size_t size)
{
    int line_len = (int)strcspn(msg, "\n");
    const char *last = NULL;
    for (const char *p = msg; p < msg + line_len; p++) {
        last = *p == '"' ? p : last;
    }
    for (size_t i = 0; i < sizeof(quoting_prefixes) / sizeof(quoting_prefixes[0]); i++) {
        size_t n = strlen(quoting_prefixes[i]);
        if (strncmp(msg, quoting_prefixes[i], n) == 0 && last != NULL && last >= msg + n) {
            snprintf(reason, size, "%.*s%s%.*s", (int)n, msg, MASK,
                     (int)(msg + line_len - last), last);
            return;
        }
    }
    const char *quote = strstr(msg, ": \"");
    if (quote != NULL && quote < msg + line_len) {
        line_len = (int)(quote - msg);
    }
    snprintf(reason, size, "%.*s", line_len, msg);
}

int config_conninfo_check(const char *value, char *reason, size_t size)
{
    if (value[0] == '\0') {
        return 0; /* the sink is off */
    }
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(value, &msg);
    if (opts != NULL) {
        PQconninfoFree(opts);
        return 0;
    }
    if (msg == NULL) {
        return -1; /* out of memory */
    }
    redact_message(msg, reason, size);
    PQfreemem(msg);
    return 1;
}

static bool is_space(char c)
{
    return isspace((unsigned char)c) != 0;
}

/* Appends text from *copied up to from, then MASK; *copied becomes to. */
static int mask_span(struct relay_buf *out, const char **copied, const char *from, const char *to)
{
    int rc = relay_buf_append(out, *copied, (size_t)(from - *copied));
    *copied = to;
    return rc != 0 ? -1 : relay_buf_appends(out, MASK);
}

/* The end of the conninfo value at p: quoted to the closing quote, else to
 * the first unescaped space (libpq's conninfo_parse). */
static const char *value_end(const char *p)
{
    bool quoted = *p == '\'';
    p += quoted;
    while (*p != '\0' && !(quoted ? *p == '\'' : is_space(*p))) {
        p += (*p == '\\' && p[1] != '\0') ? 2 : 1;
    }
    return p + (quoted && *p == '\'');
}

/* key = value pairs, as libpq's conninfo_parse splits them; every
 * "password" value masked. */
static int mask_conninfo(const char *s, struct relay_buf *out)
{
    const char *copied = s;
    const char *p = s;
    int rc = 0;
    while (*p != '\0' && rc == 0) {
        if (is_space(*p)) {
            p++;
            continue;
        }
        const char *name = p;
        while (*p != '\0' && *p != '=' && !is_space(*p)) {
            p++;
        }
        size_t name_len = (size_t)(p - name);
        while (is_space(*p)) {
            p++;
        }
        if (*p != '=') {
            break; /* libpq refuses this; the check after masking notices */
        }
        for (p++; is_space(*p); p++) {
        }
        const char *value = p;
        p = value_end(value);
        if (name_len == 8 && memcmp(name, "password", 8) == 0) {
            rc = mask_span(out, &copied, value, p);
        }
    }
    return rc != 0 ? -1 : relay_buf_appends(out, copied);
}

/* postgresql://[user[:password]@]netloc[/db][?k=v&...], as libpq's
 * conninfo_uri_parse_options splits it: the userinfo runs to the first
 * '@' (if one comes before the first '/'); "password" parameters of the
 * query are masked too. */
static int mask_uri(const char *s, size_t prefix_len, struct relay_buf *out)
{
    const char *copied = s;
    const char *start = s + prefix_len;
    const char *p = start + strcspn(start, "@/");
    int rc = 0;
    if (*p == '@') {
        const char *colon = memchr(start, ':', (size_t)(p - start));
        if (colon != NULL && colon + 1 < p) {
            rc = mask_span(out, &copied, colon + 1, p);
        }
        start = p + 1;
    }
    p = strchr(start, '?');
    while (p != NULL && rc == 0) {
        const char *param = p + 1;
        p = strchr(param, '&');
        if (strncmp(param, "password=", 9) == 0) {
            rc = mask_span(out, &copied, param + 9, p != NULL ? p : param + strlen(param));
        }
    }
    return rc != 0 ? -1 : relay_buf_appends(out, copied);
}

static size_t uri_prefix_len(const char *s)
{
    if (strncmp(s, "postgresql://", 13) == 0) {
        return 13;
    }
    return strncmp(s, "postgres://", 11) == 0 ? 11 : 0;
}

static bool same_value(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* True when libpq reads masked as opts with the password MASK, all else
 * equal. */
static bool masks_only_the_password(const PQconninfoOption *opts, const char *masked)
{
    PQconninfoOption *again = PQconninfoParse(masked, NULL);
    bool ok = again != NULL;
    for (size_t i = 0; ok && opts[i].keyword != NULL; i++) {
        const PQconninfoOption *b = &again[i];
        if (b->keyword == NULL || strcmp(opts[i].keyword, b->keyword) != 0) {
            ok = false;
        } else if (strcmp(b->keyword, "password") == 0) {
            ok = same_value(b->val, MASK);
        } else {
            ok = same_value(opts[i].val, b->val);
        }
    }
    PQconninfoFree(again);
    return ok;
}

/* Every set option as key='value' (quotes and backslashes escaped), the
 * password as MASK. */
static int render_options(const PQconninfoOption *opts, struct relay_buf *out)
{
    const char *sep = "";
    for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL) {
            continue;
        }
        bool is_password = strcmp(o->keyword, "password") == 0;
        int rc = relay_buf_printf(out, "%s%s='", sep, o->keyword);
        for (const char *v = is_password ? MASK : o->val; *v != '\0' && rc == 0; v++) {
            rc = (*v == '\'' || *v == '\\') ? relay_buf_printf(out, "\\%c", *v)
                                            : relay_buf_append(out, v, 1);
        }
        if (rc != 0 || relay_buf_appends(out, "'") != 0) {
            return -1;
        }
        sep = " ";
    }
    return 0;
}

/* Appends value with its password masked; opts is libpq's parse of it. */
static int mask_password(const char *value, const PQconninfoOption *opts, struct relay_buf *out)
{
    struct relay_buf masked;
    relay_buf_init(&masked);
    size_t prefix_len = uri_prefix_len(value);
    int rc = prefix_len > 0 ? mask_uri(value, prefix_len, &masked) : mask_conninfo(value, &masked);
    if (rc == 0 && masked.data != NULL && masks_only_the_password(opts, masked.data)) {
        rc = relay_buf_append(out, masked.data, masked.len);
    } else if (rc == 0) {
        rc = render_options(opts, out);
    }
    relay_buf_fini(&masked);
    return rc;
}

int config_conninfo_mask(const char *value, struct relay_buf *out)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(value, &msg);
    if (opts == NULL) {
        /* Never loaded this way (config_load checks); hide it all. */
        bool out_of_memory = msg == NULL;
        PQfreemem(msg);
        return out_of_memory ? -1 : relay_buf_appends(out, MASK);
    }
    const char *password = NULL;
    for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "password") == 0) {
            password = o->val;
        }
    }
    int rc = password == NULL || password[0] == '\0' ? relay_buf_appends(out, value)
                                                     : mask_password(value, opts, out);
    PQconninfoFree(opts);
    return rc;
}
