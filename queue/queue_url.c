/* Redis URL parsing: redis://[[user]:password@]host[:port][/db] and
 * unix:///path[?db=N]. No percent-decoding: a password holding '@' or '/'
 * is not supported (say so in the README). */
#include "queue/queue_internal.h"
#include "relay/mem.h"
#include "relay/redis_url.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void queue_url_fini(struct queue_url *u)
{
    relay_free(u->host);
    relay_free(u->unix_path);
    relay_free(u->username);
    relay_free(u->password);
    memset(u, 0, sizeof(*u));
}

/* Parses a decimal in [min, max] from s[0..len). */
static int parse_number(const char *s, size_t len, long min, long max, int *out)
{
    char tmp[16];
    if (len == 0 || len >= sizeof(tmp)) {
        return -1;
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end = NULL;
    errno = 0;
    long v = strtol(tmp, &end, 10);
    if (errno != 0 || *end != '\0' || tmp[0] == '-' || tmp[0] == '+' || v < min || v > max) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_unix(const char *rest, struct queue_url *u, struct relay_error *err)
{
    const char *q = strchr(rest, '?');
    size_t path_len = q ? (size_t)(q - rest) : strlen(rest);
    if (path_len < 2 || rest[0] != '/') {
        return relay_error_set(err, RELAY_ECONFIG, "redis url: unix:// needs an absolute path");
    }
    if (q != NULL && (strncmp(q, "?db=", 4) != 0 ||
                      parse_number(q + 4, strlen(q + 4), 0, 1000000, &u->db) != 0)) {
        return relay_error_set(err, RELAY_ECONFIG, "redis url: bad query (only ?db=N)");
    }
    u->unix_path = relay_strndup(rest, path_len);
    if (u->unix_path == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "redis url: out of memory");
    }
    return 0;
}

/* userinfo is "[user]:password" (bytes before the last '@'); where each
 * part lies is relay/redis_url.h's rule, shared with check-config's mask. */
static int parse_userinfo(const struct redis_url_parts *parts, struct queue_url *u,
                          struct relay_error *err)
{
    if (parts->password == NULL) {
        return relay_error_set(err, RELAY_ECONFIG, "redis url: userinfo must be [user]:password");
    }
    size_t user_len = (size_t)(parts->password - 1 - parts->userinfo);
    if (user_len > 0 && (u->username = relay_strndup(parts->userinfo, user_len)) == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "redis url: out of memory");
    }
    u->password = relay_strndup(parts->password, parts->password_len);
    if (u->password == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "redis url: out of memory");
    }
    return 0;
}

static int parse_hostport(const char *s, size_t len, struct queue_url *u, struct relay_error *err)
{
    const char *host = s;
    size_t host_len = len;
    const char *port = NULL;
    if (len > 0 && s[0] == '[') { /* [::1]:6379 */
        const char *close = memchr(s, ']', len);
        if (close == NULL) {
            return relay_error_set(err, RELAY_ECONFIG, "redis url: unclosed '[' in host");
        }
        host = s + 1;
        host_len = (size_t)(close - s) - 1;
        port = close + 1 < s + len && close[1] == ':' ? close + 2 : NULL;
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon != NULL) {
            host_len = (size_t)(colon - s);
            port = colon + 1;
        }
    }
    if (host_len == 0) {
        return relay_error_set(err, RELAY_ECONFIG, "redis url: empty host");
    }
    if (port != NULL && parse_number(port, (size_t)(s + len - port), 1, 65535, &u->port) != 0) {
        return relay_error_set(err, RELAY_ECONFIG, "redis url: bad port");
    }
    u->host = relay_strndup(host, host_len);
    if (u->host == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "redis url: out of memory");
    }
    return 0;
}

static int parse_tcp(const char *rest, struct queue_url *u, struct relay_error *err)
{
    struct redis_url_parts parts;
    redis_url_split(rest, &parts);
    const char *slash = rest[parts.authority_len] == '/' ? rest + parts.authority_len : NULL;
    const char *hp = rest;
    if (parts.userinfo != NULL) {
        if (parse_userinfo(&parts, u, err) != 0) {
            return -1;
        }
        hp = rest + parts.userinfo_len + 1;
    }
    if (parse_hostport(hp, (size_t)(rest + parts.authority_len - hp), u, err) != 0) {
        return -1;
    }
    if (slash != NULL && slash[1] != '\0' &&
        parse_number(slash + 1, strlen(slash + 1), 0, 1000000, &u->db) != 0) {
        return relay_error_set(err, RELAY_ECONFIG, "redis url: bad database number");
    }
    return 0;
}

int queue_url_parse(const char *url, struct queue_url *out, struct relay_error *err)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    int rc;
    if (url == NULL || url[0] == '\0') {
        return relay_error_set(err, RELAY_ECONFIG, "redis url: empty");
    }
    if (strncmp(url, "unix://", 7) == 0) {
        rc = parse_unix(url + 7, out, err);
    } else if (strncmp(url, "redis://", 8) == 0) {
        rc = parse_tcp(url + 8, out, err);
    } else {
        rc = relay_error_set(err, RELAY_ECONFIG, "redis url: must start with redis:// or unix://");
    }
    if (rc != 0) {
        queue_url_fini(out);
    }
    return rc;
}
