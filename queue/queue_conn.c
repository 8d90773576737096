/* The handle's Redis connection: connect (TCP or Unix socket), AUTH,
 * SELECT, SCRIPT LOAD, run commands and scripts, and drop a broken context.
 *
 * hiredis cannot reuse a context whose err is set, so it is freed and a
 * later call reconnects. Between failed connection attempts the handle
 * waits a capped, doubling backoff (QUEUE_BACKOFF_MIN_MS..MAX_MS); calls in
 * that window fail at once with RELAY_EIO, so a dead Redis is neither
 * hammered nor allowed to stall the caller. */
#include "queue/queue_internal.h"
#include "relay/mem.h"
#include "relay/metrics.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t queue_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t queue_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval ms_to_tv(unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (long)(ms % 1000) * 1000};
    return tv;
}

void queue_args_reset(struct queue *q)
{
    q->argc = 3; /* slots 0..2 are EVALSHA, sha, numkeys when a script runs */
}

int queue_args_add(struct queue *q, const char *s, size_t len, struct relay_error *err)
{
    if (q->argc == q->argcap) {
        size_t cap = q->argcap ? q->argcap * 2 : 64;
        const char **v = relay_realloc(q->argv, cap * sizeof(*v));
        if (v == NULL) {
            return relay_error_set(err, RELAY_ENOMEM, "queue: out of memory");
        }
        q->argv = v;
        size_t *l = relay_realloc(q->argvlen, cap * sizeof(*l));
        if (l == NULL) {
            return relay_error_set(err, RELAY_ENOMEM, "queue: out of memory");
        }
        q->argvlen = l;
        q->argcap = cap;
    }
    q->argv[q->argc] = s;
    q->argvlen[q->argc] = len;
    q->argc++;
    return 0;
}

int queue_args_adds(struct queue *q, const char *s, struct relay_error *err)
{
    return queue_args_add(q, s, strlen(s), err);
}

void queue_conn_drop(struct queue *q)
{
    redisFree(q->ctx);
    q->ctx = NULL;
}

/* Runs one command on a fresh context during setup; 0 when not an error. */
static int setup_command(redisContext *c, int argc, const char **argv, struct relay_error *err)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (r == NULL) {
        return relay_error_set(err, RELAY_EIO, "redis %s: %s", argv[0], c->errstr);
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        rc = relay_error_set(err, RELAY_EIO, "redis %s: %.120s", argv[0], r->str);
    }
    freeReplyObject(r);
    return rc;
}

/* Checks a SCRIPT LOAD answer: Redis names a script by the SHA-1 of its
 * source, which queue_script_sha already knows. */
static int check_loaded(enum queue_script s, const redisReply *r, struct relay_error *err)
{
    if (r->type == REDIS_REPLY_STRING && r->len == 40 && memcmp(r->str, queue_script_sha(s), 40) == 0) {
        return 0;
    }
    return relay_error_set(err, RELAY_EIO, "redis SCRIPT LOAD %s: %.120s", queue_script_name(s),
                           r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
}

/* SCRIPT LOAD of every script, pipelined: one round trip. */
static int load_scripts(redisContext *c, struct relay_error *err)
{
    for (int s = 0; s < QUEUE_SCRIPT_COUNT; s++) {
        const char *argv[] = {"SCRIPT", "LOAD", queue_script_source((enum queue_script)s)};
        if (redisAppendCommandArgv(c, 3, argv, NULL) != REDIS_OK) {
            return relay_error_set(err, RELAY_ENOMEM, "redis: out of memory");
        }
    }
    int rc = 0;
    for (int s = 0; s < QUEUE_SCRIPT_COUNT; s++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL) {
            return relay_error_set(err, RELAY_EIO, "redis SCRIPT LOAD: %s", c->errstr);
        }
        if (rc == 0) {
            rc = check_loaded((enum queue_script)s, r, err);
        }
        freeReplyObject(r);
    }
    return rc;
}

static redisContext *connect_context(const struct queue *q, struct relay_error *err)
{
    struct timeval tv = ms_to_tv(q->timeout_ms);
    redisContext *c = q->url.unix_path != NULL
                          ? redisConnectUnixWithTimeout(q->url.unix_path, tv)
                          : redisConnectWithTimeout(q->url.host, q->url.port, tv);
    if (c == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "redis connect: out of memory");
        return NULL;
    }
    if (c->err != 0) {
        relay_error_set(err, RELAY_EIO, "redis connect %s: %s",
                        q->url.unix_path ? q->url.unix_path : q->url.host, c->errstr);
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        relay_error_set(err, RELAY_EIO, "redis: cannot set the socket timeout");
        redisFree(c);
        return NULL;
    }
    return c;
}

static int open_connection(struct queue *q, struct relay_error *err)
{
    redisContext *c = connect_context(q, err);
    if (c == NULL) {
        return -1;
    }
    char db[16];
    snprintf(db, sizeof(db), "%d", q->url.db);
    const char *auth1[] = {"AUTH", q->url.password};
    const char *auth2[] = {"AUTH", q->url.username, q->url.password};
    const char *select[] = {"SELECT", db};
    if ((q->url.password != NULL && q->url.username == NULL &&
         setup_command(c, 2, auth1, err) != 0) ||
        (q->url.password != NULL && q->url.username != NULL &&
         setup_command(c, 3, auth2, err) != 0) ||
        (q->url.db != 0 && setup_command(c, 2, select, err) != 0) || load_scripts(c, err) != 0) {
        redisFree(c);
        return -1;
    }
    q->ctx = c;
    return 0;
}

int queue_conn_ensure(struct queue *q, struct relay_error *err)
{
    if (q->ctx != NULL) {
        return 0;
    }
    int64_t now = queue_mono_ms();
    if (now < q->next_connect_ms) {
        return relay_error_set(err, RELAY_EIO, "%.200s (next attempt in %lld ms)", q->last_error,
                               (long long)(q->next_connect_ms - now));
    }
    struct relay_error local = {0};
    if (open_connection(q, &local) != 0) {
        snprintf(q->last_error, sizeof(q->last_error), "%s", local.msg);
        if (err != NULL) {
            *err = local;
        }
        unsigned b = q->backoff_ms ? q->backoff_ms * 2 : QUEUE_BACKOFF_MIN_MS;
        q->backoff_ms = b > QUEUE_BACKOFF_MAX_MS ? QUEUE_BACKOFF_MAX_MS : b;
        q->next_connect_ms = queue_mono_ms() + q->backoff_ms;
        return -1;
    }
    q->backoff_ms = 0;
    q->next_connect_ms = 0;
    if (q->connected_once) {
        metrics_reconnect(METRICS_CONN_REDIS);
    }
    q->connected_once = true;
    return 0;
}

void queue_conn_hold(struct queue *q, const char *why)
{
    snprintf(q->last_error, sizeof(q->last_error), "%s", why);
    q->backoff_ms = q->backoff_ms ? q->backoff_ms : QUEUE_BACKOFF_MIN_MS;
    q->next_connect_ms = queue_mono_ms() + q->backoff_ms;
}

/* Sends argv[first..argc) and classifies the answer. */
static redisReply *run_from(struct queue *q, size_t first, const char *what,
                            struct relay_error *err)
{
    if (queue_conn_ensure(q, err) != 0) {
        return NULL;
    }
    redisReply *r =
        redisCommandArgv(q->ctx, (int)(q->argc - first), q->argv + first, q->argvlen + first);
    if (r == NULL) {
        relay_error_set(err, RELAY_EIO, "redis %s: %s", what, q->ctx->errstr);
        queue_conn_drop(q); /* hiredis: a context with err set cannot be reused */
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        relay_error_set(err, RELAY_EIO, "redis %s: %.160s", what, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

redisReply *queue_conn_run(struct queue *q, struct relay_error *err)
{
    char what[32];
    snprintf(what, sizeof(what), "%.*s", q->argc > 3 ? (int)q->argvlen[3] : 0,
             q->argc > 3 ? q->argv[3] : "");
    return run_from(q, 3, what, err);
}

redisReply *queue_run_key(struct queue *q, const char *cmd, const char *key,
                          struct relay_error *err)
{
    queue_args_reset(q);
    if ((queue_args_adds(q, cmd, err) | (key != NULL ? queue_args_adds(q, key, err) : 0)) != 0) {
        return NULL;
    }
    return queue_conn_run(q, err);
}

int queue_run_key_done(struct queue *q, const char *cmd, const char *key, struct relay_error *err)
{
    redisReply *r = queue_run_key(q, cmd, key, err);
    if (r == NULL) {
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

redisReply *queue_conn_run_blocking(struct queue *q, unsigned extra_ms, struct relay_error *err)
{
    if (queue_conn_ensure(q, err) != 0) {
        return NULL;
    }
    redisSetTimeout(q->ctx, ms_to_tv(q->timeout_ms + extra_ms));
    redisReply *r = queue_conn_run(q, err);
    if (q->ctx != NULL) {
        redisSetTimeout(q->ctx, ms_to_tv(q->timeout_ms));
    }
    return r;
}

bool queue_conn_is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

int queue_conn_reload(struct queue *q, enum queue_script s, struct relay_error *err)
{
    const char *load[] = {"SCRIPT", "LOAD", queue_script_source(s)};
    redisReply *r = redisCommandArgv(q->ctx, 3, load, NULL);
    if (r == NULL) {
        relay_error_set(err, RELAY_EIO, "redis SCRIPT LOAD: %s", q->ctx->errstr);
        queue_conn_drop(q);
        return -1;
    }
    int rc = check_loaded(s, r, err);
    freeReplyObject(r);
    return rc;
}

/* A SCRIPT FLUSH, or a failover to a replica that never saw the script,
 * answers NOSCRIPT: the script is loaded again on this connection and run
 * once more. */
redisReply *queue_conn_script(struct queue *q, enum queue_script s, size_t nkeys,
                              struct relay_error *err)
{
    char numkeys[24];
    snprintf(numkeys, sizeof(numkeys), "%zu", nkeys);
    q->argv[0] = "EVALSHA";
    q->argvlen[0] = 7;
    q->argv[1] = queue_script_sha(s);
    q->argvlen[1] = 40;
    q->argv[2] = numkeys;
    q->argvlen[2] = strlen(numkeys);
    struct relay_error local = {0};
    for (int attempt = 0;; attempt++) {
        redisReply *r = run_from(q, 0, queue_script_name(s), &local);
        bool noscript = r == NULL && q->ctx != NULL && strstr(local.msg, "NOSCRIPT") != NULL;
        if (!noscript || attempt == 1) {
            if (r == NULL && err != NULL) {
                *err = local;
            }
            return r;
        }
        if (queue_conn_reload(q, s, err) != 0) {
            return NULL;
        }
    }
}
