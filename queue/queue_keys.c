/* Key naming for the Redis layout; see queue_keys.h and queue.md. */
#include "queue/queue_keys.h"

#include <stdio.h>
#include <string.h>

int queue_key(char *out, size_t cap, const char *prefix, const char *kind, const char *a,
              const char *b, struct relay_error *err)
{
    if ((a != NULL && a[0] == '\0') || (b != NULL && b[0] == '\0')) {
        return relay_error_set(err, RELAY_EINVAL, "queue key %s: empty part", kind);
    }
    int n;
    if (a == NULL) {
        n = snprintf(out, cap, "%s:%s", prefix, kind);
    } else if (b == NULL) {
        n = snprintf(out, cap, "%s:%s:%s", prefix, kind, a);
    } else {
        n = snprintf(out, cap, "%s:%s:%s:%s", prefix, kind, a, b);
    }
    if (n < 0 || (size_t)n >= cap) {
        return relay_error_set(err, RELAY_EINVAL, "queue key %s: longer than %zu bytes", kind,
                               cap - 1);
    }
    return 0;
}

int queue_key_glob_escape(char *out, size_t cap, const char *prefix)
{
    size_t n = 0;
    for (const char *p = prefix; *p != '\0'; p++) {
        int special = strchr("*?[]\\", *p) != NULL;
        if (n + (size_t)special + 2 > cap) {
            return -1;
        }
        if (special) {
            out[n++] = '\\';
        }
        out[n++] = *p;
    }
    if (n + 1 > cap) {
        return -1;
    }
    out[n] = '\0';
    return 0;
}

int queue_key_parse_inflight(const char *prefix, const char *key, size_t len, char *sink,
                             size_t sink_cap, char *consumer, size_t consumer_cap)
{
    static const char kind[] = ":inflight:";
    size_t plen = strlen(prefix);
    size_t klen = sizeof(kind) - 1;
    if (len < plen + klen || memcmp(key, prefix, plen) != 0 ||
        memcmp(key + plen, kind, klen) != 0) {
        return -1;
    }
    const char *rest = key + plen + klen;
    size_t rest_len = len - plen - klen;
    const char *colon = memchr(rest, ':', rest_len);
    if (colon == NULL) {
        return -1;
    }
    size_t sink_len = (size_t)(colon - rest);
    size_t cons_len = rest_len - sink_len - 1;
    if (sink_len == 0 || cons_len == 0 || sink_len >= sink_cap || cons_len >= consumer_cap) {
        return -1;
    }
    memcpy(sink, rest, sink_len);
    sink[sink_len] = '\0';
    memcpy(consumer, colon + 1, cons_len);
    consumer[cons_len] = '\0';
    return 0;
}
