/* The push checkpoint in Redis (backfill_checkpoint.h). queue/ keeps its
 * connection private, so this file holds its own small hiredis connection
 * and parses the same URL forms as queue_open (redis:// and unix://). */
#include "relay/backfill_checkpoint.h"
#include "relay/event.h"
#include "relay/mem.h"

#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct backfill_checkpoint {
    redisContext *ctx;
    char key[512];
};

/* What a URL names. Strings point into buf. */
struct checkpoint_url {
    char buf[1024];
    const char *host;
    const char *unix_path;
    const char *user;
    const char *password;
    int port;
    int db;
};

void backfill_checkpoint_state_fini(struct backfill_checkpoint_state *s)
{
    relay_free(s->cursor);
    relay_free(s->since);
    relay_free(s->started_at);
    memset(s, 0, sizeof(*s));
}

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_unix(struct checkpoint_url *u, char *rest, struct relay_error *err)
{
    char *q = strchr(rest, '?');
    if (q != NULL) {
        *q++ = '\0';
        if (strncmp(q, "db=", 3) != 0 || parse_int(q + 3, 0, 1 << 20, &u->db) != 0) {
            return relay_error_set(err, RELAY_ECONFIG, "redis url: bad ?db=");
        }
    }
    u->unix_path = rest;
    return rest[0] == '/' ? 0 : relay_error_set(err, RELAY_ECONFIG, "redis url: bad socket path");
}

static int parse_tcp(struct checkpoint_url *u, char *rest, struct relay_error *err)
{
    char *at = strrchr(rest, '@');
    if (at != NULL) {
        *at = '\0';
        char *colon = strchr(rest, ':');
        if (colon != NULL) {
            *colon = '\0';
            u->password = colon + 1;
        }
        u->user = rest[0] != '\0' ? rest : NULL;
        rest = at + 1;
    }
    char *slash = strchr(rest, '/');
    if (slash != NULL) {
        *slash = '\0';
        if (slash[1] != '\0' && parse_int(slash + 1, 0, 1 << 20, &u->db) != 0) {
            return relay_error_set(err, RELAY_ECONFIG, "redis url: bad database number");
        }
    }
    char *colon = strrchr(rest, ':');
    if (colon != NULL) {
        *colon = '\0';
        if (parse_int(colon + 1, 1, 65535, &u->port) != 0) {
            return relay_error_set(err, RELAY_ECONFIG, "redis url: bad port");
        }
    }
    u->host = rest[0] != '\0' ? rest : "127.0.0.1";
    return 0;
}

static int parse_url(const char *url, struct checkpoint_url *u, struct relay_error *err)
{
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (url == NULL || strlen(url) >= sizeof(u->buf)) {
        return relay_error_set(err, RELAY_ECONFIG, "redis url: missing or too long");
    }
    memcpy(u->buf, url, strlen(url) + 1);
    if (strncmp(u->buf, "unix://", 7) == 0) {
        return parse_unix(u, u->buf + 7, err);
    }
    if (strncmp(u->buf, "redis://", 8) == 0) {
        return parse_tcp(u, u->buf + 8, err);
    }
    return relay_error_set(err, RELAY_ECONFIG, "redis url: must start with redis:// or unix://");
}

/* Runs a command; NULL + err (RELAY_EIO) on a broken connection or an error reply. */
static redisReply *run(struct backfill_checkpoint *cp, int argc, const char **argv,
                       struct relay_error *err)
{
    redisReply *reply = redisCommandArgv(cp->ctx, argc, argv, NULL);
    if (reply == NULL) {
        relay_error_set(err, RELAY_EIO, "redis: %s", cp->ctx->errstr);
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        relay_error_set(err, RELAY_EIO, "redis: %.200s", reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

static int connect_to(struct backfill_checkpoint *cp, const struct checkpoint_url *u,
                      unsigned timeout_ms, struct relay_error *err)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    cp->ctx = u->unix_path != NULL ? redisConnectUnixWithTimeout(u->unix_path, tv)
                                   : redisConnectWithTimeout(u->host, u->port, tv);
    if (cp->ctx == NULL || cp->ctx->err) {
        return relay_error_set(err, RELAY_EIO, "redis connect: %s",
                               cp->ctx != NULL ? cp->ctx->errstr : "out of memory");
    }
    redisSetTimeout(cp->ctx, tv);
    char db[16];
    snprintf(db, sizeof(db), "%d", u->db);
    const char *auth[3] = {"AUTH", u->user != NULL ? u->user : u->password, u->password};
    const char *select[2] = {"SELECT", db};
    redisReply *reply = NULL;
    if (u->password != NULL) {
        reply = run(cp, u->user != NULL ? 3 : 2, auth, err);
        if (reply == NULL) {
            return -1;
        }
        freeReplyObject(reply);
    }
    if (u->db != 0) {
        reply = run(cp, 2, select, err);
        if (reply == NULL) {
            return -1;
        }
        freeReplyObject(reply);
    }
    return 0;
}

struct backfill_checkpoint *backfill_checkpoint_open(const char *url, const char *prefix,
                                                     const char *source, unsigned timeout_ms,
                                                     struct relay_error *err)
{
    struct checkpoint_url u;
    if (parse_url(url, &u, err) != 0) {
        return NULL;
    }
    struct backfill_checkpoint *cp = relay_calloc(1, sizeof(*cp));
    if (cp == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(cp->key, sizeof(cp->key), "%s:push:%s", prefix, source);
    if (connect_to(cp, &u, timeout_ms == 0 ? 1000 : timeout_ms, err) != 0) {
        backfill_checkpoint_close(cp);
        return NULL;
    }
    return cp;
}

void backfill_checkpoint_close(struct backfill_checkpoint *cp)
{
    if (cp == NULL) {
        return;
    }
    if (cp->ctx != NULL) {
        redisFree(cp->ctx);
    }
    relay_free(cp);
}

const char *backfill_checkpoint_key(const struct backfill_checkpoint *cp)
{
    return cp->key;
}

static int take_string(char **dst, const char *value, struct relay_error *err)
{
    relay_free(*dst);
    *dst = relay_strdup(value);
    return *dst != NULL ? 0 : relay_error_set(err, RELAY_ENOMEM, "out of memory");
}

/* Stores one HGETALL member into s. Unknown members are ignored. */
static int take_member(struct backfill_checkpoint_state *s, const char *name, const char *value,
                       struct relay_error *err)
{
    struct {
        const char *name;
        unsigned long long *counter;
    } counters[] = {
        {"read", &s->counts.read},           {"queued", &s->counts.queued},
        {"unchanged", &s->counts.unchanged}, {"stale", &s->counts.stale},
        {"failed", &s->counts.failed},
    };
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        if (strcmp(name, counters[i].name) == 0) {
            *counters[i].counter = strtoull(value, NULL, 10);
            return 0;
        }
    }
    if (strcmp(name, "cursor") == 0) {
        return take_string(&s->cursor, value, err);
    }
    if (strcmp(name, "since") == 0) {
        return take_string(&s->since, value, err);
    }
    if (strcmp(name, "started_at") == 0) {
        return take_string(&s->started_at, value, err);
    }
    return 0;
}

int backfill_checkpoint_load(struct backfill_checkpoint *cp, struct backfill_checkpoint_state *out,
                             bool *found, struct relay_error *err)
{
    const char *argv[2] = {"HGETALL", cp->key};
    memset(out, 0, sizeof(*out));
    *found = false;
    redisReply *reply = run(cp, 2, argv, err);
    if (reply == NULL) {
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i + 1 < reply->elements; i += 2) {
        rc = take_member(out, reply->element[i]->str, reply->element[i + 1]->str, err);
    }
    *found = rc == 0 && reply->elements > 0;
    freeReplyObject(reply);
    if (rc == 0 && *found && out->cursor == NULL) {
        rc = take_string(&out->cursor, "", err);
    }
    if (rc != 0) {
        backfill_checkpoint_state_fini(out);
    }
    return rc;
}

int backfill_checkpoint_save(struct backfill_checkpoint *cp,
                             const struct backfill_checkpoint_state *s, struct relay_error *err)
{
    char nums[5][24];
    char now[RELAY_TS_LEN + 1];
    const unsigned long long values[5] = {s->counts.read, s->counts.queued, s->counts.unchanged,
                                          s->counts.stale, s->counts.failed};
    for (int i = 0; i < 5; i++) {
        snprintf(nums[i], sizeof(nums[i]), "%llu", values[i]);
    }
    relay_now_ts(now);
    const char *argv[] = {
        "HSET",       cp->key,
        "cursor",     s->cursor != NULL ? s->cursor : "",
        "since",      s->since != NULL ? s->since : "",
        "started_at", s->started_at != NULL ? s->started_at : now,
        "updated_at", now,
        "read",       nums[0],
        "queued",     nums[1],
        "unchanged",  nums[2],
        "stale",      nums[3],
        "failed",     nums[4],
    };
    redisReply *reply = run(cp, (int)(sizeof(argv) / sizeof(argv[0])), argv, err);
    if (reply == NULL) {
        return -1;
    }
    freeReplyObject(reply);
    return 0;
}

int backfill_checkpoint_clear(struct backfill_checkpoint *cp, struct relay_error *err)
{
    const char *argv[2] = {"DEL", cp->key};
    redisReply *reply = run(cp, 2, argv, err);
    if (reply == NULL) {
        return -1;
    }
    freeReplyObject(reply);
    return 0;
}
