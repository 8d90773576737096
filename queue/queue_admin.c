/* Dead-letter tooling behind `syncrelay dead` and `syncrelay replay`:
 * list, filter, purge and replay P:dead:SINK.
 *
 * Lists are read in pages with LRANGE. Read-only walks go newest first
 * from the head. Purge and replay walk oldest first from the tail with
 * negative indexes, which new dead letters (LPUSHed at the head) do not
 * shift; the walk adds back the elements it removed itself. Every removal
 * is an LREM of the exact bytes (from the tail), so a letter a concurrent
 * replay or purge took first is simply skipped (LREM answers 0). */
#include "queue/queue_internal.h"
#include "relay/mem.h"

#include <stdio.h>
#include <string.h>

#define DEAD_PAGE 200

enum walk_mode { WALK_EACH, WALK_PURGE, WALK_REPLAY };

struct walk {
    enum walk_mode mode;
    const struct queue_dead_filter *filter;
    int dry_run;
    size_t count;
    int (*visit)(void *ctx, const char *sink, const struct queue_item *item,
                 const struct relay_event *ev, struct relay_error *err);
    void *ctx;
    const char *sink;
    char dkey[QUEUE_KEY_MAX];
    char qkey[QUEUE_KEY_MAX];
    char skey[QUEUE_KEY_MAX];
};

static int str_match(const char *want, const char *have)
{
    return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

/* The time a dead letter is filtered on: error.at, else first_error_at. */
static const char *error_time(const struct relay_event *ev)
{
    const char *at = json_string_value(json_object_get(ev->error, "at"));
    if (at != NULL) {
        return at;
    }
    return ev->first_error_at[0] != '\0' ? ev->first_error_at : NULL;
}

int queue_dead_matches(const struct queue_dead_filter *f, const struct relay_event *ev)
{
    if (f == NULL) {
        return 1;
    }
    int names_event = f->id || f->source || f->contact_id || f->error_code || f->since || f->until;
    if (ev == NULL) {
        return !names_event;
    }
    if (!str_match(f->id, ev->id) || !str_match(f->source, relay_source_name(ev->source)) ||
        !str_match(f->contact_id, ev->contact_id) ||
        !str_match(f->error_code, json_string_value(json_object_get(ev->error, "code")))) {
        return 0;
    }
    const char *t = error_time(ev);
    if ((f->since != NULL || f->until != NULL) && t == NULL) {
        return 0;
    }
    if (f->since != NULL && strcmp(t, f->since) < 0) {
        return 0;
    }
    /* Inclusive: "2025-09-14" as until keeps every letter of that day. */
    if (f->until != NULL && strncmp(t, f->until, strlen(f->until)) > 0) {
        return 0;
    }
    return 1;
}

/* The replayed form of a dead letter: attempts 0, error moved to history. */
static int replayed(struct relay_event *ev, struct relay_buf *out, struct relay_error *err)
{
    if (ev->error != NULL) {
        json_t *h = json_copy(ev->error);
        if (h == NULL || (ev->history == NULL && (ev->history = json_array()) == NULL) ||
            json_object_set_new(h, "attempts", json_integer(ev->attempts)) != 0 ||
            (ev->first_error_at[0] != '\0' &&
             json_object_set_new(h, "first_error_at", json_string(ev->first_error_at)) != 0) ||
            json_array_append_new(ev->history, h) != 0) {
            return relay_error_set(err, RELAY_ENOMEM, "replay: out of memory");
        }
        json_decref(ev->error);
        ev->error = NULL;
    }
    ev->attempts = 0;
    ev->first_error_at[0] = '\0';
    relay_buf_reset(out);
    return relay_event_encode(ev, out, err);
}

/* Applies the walk's action to one matching letter; *removed = 1 when it
 * left the dead list. */
static int act(struct queue *q, struct walk *w, const redisReply *e, struct relay_event *ev,
               int *removed, struct relay_error *err)
{
    struct queue_item item = {.raw = e->str, .len = e->len};
    *removed = 0;
    if (w->mode == WALK_EACH) {
        return w->visit(w->ctx, w->sink, &item, ev, err);
    }
    if (w->mode == WALK_REPLAY && ev == NULL) {
        return 0; /* cannot replay what does not decode: it stays dead */
    }
    if (w->dry_run) {
        w->count++;
        return 0;
    }
    queue_args_reset(q);
    redisReply *r = NULL;
    if (w->mode == WALK_PURGE) {
        if ((queue_args_adds(q, "LREM", err) | queue_args_adds(q, w->dkey, err) |
             queue_args_adds(q, "-1", err) | queue_args_add(q, e->str, e->len, err)) != 0) {
            return -1;
        }
        r = queue_conn_run(q, err);
    } else {
        char counter[160];
        snprintf(counter, sizeof(counter), "replayed:%s", w->sink);
        if (replayed(ev, &q->scratch, err) != 0 ||
            (queue_args_adds(q, w->dkey, err) | queue_args_adds(q, w->qkey, err) |
             queue_args_adds(q, w->skey, err) | queue_args_add(q, e->str, e->len, err) |
             queue_args_add(q, q->scratch.data, q->scratch.len, err) |
             queue_args_adds(q, counter, err)) != 0) {
            return -1;
        }
        r = queue_conn_script(q, QUEUE_SCRIPT_REPLAY, 3, err);
    }
    if (r == NULL) {
        return -1;
    }
    *removed = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    w->count += (size_t)*removed;
    freeReplyObject(r);
    return 0;
}

/* Decodes, filters and acts on one element. 1 means stop (visit said so). */
static int handle(struct queue *q, struct walk *w, const redisReply *e, int *removed,
                  struct relay_error *err)
{
    struct relay_event *ev = NULL;
    *removed = 0;
    if (e->type != REDIS_REPLY_STRING) {
        return 0;
    }
    if (relay_event_decode(e->str, e->len, &ev, NULL) != 0) {
        ev = NULL;
    }
    int rc = queue_dead_matches(w->filter, ev) ? act(q, w, e, ev, removed, err) : 0;
    relay_event_destroy(ev);
    return rc;
}

static redisReply *lrange(struct queue *q, const char *key, long long start, long long stop,
                          struct relay_error *err)
{
    char a[24];
    char b[24];
    snprintf(a, sizeof(a), "%lld", start);
    snprintf(b, sizeof(b), "%lld", stop);
    queue_args_reset(q);
    if ((queue_args_adds(q, "LRANGE", err) | queue_args_adds(q, key, err) |
         queue_args_adds(q, a, err) | queue_args_adds(q, b, err)) != 0) {
        return NULL;
    }
    redisReply *r = queue_conn_run(q, err);
    if (r != NULL && r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        relay_error_set(err, RELAY_EIO, "redis LRANGE: unexpected reply");
        return NULL;
    }
    return r;
}

/* One sink's dead list, one page at a time. */
static int walk_sink(struct queue *q, struct walk *w, struct relay_error *err)
{
    long long done = 0; /* newest first: next index; oldest first: kept tail length */
    for (;;) {
        int oldest_first = w->mode != WALK_EACH;
        redisReply *r = oldest_first ? lrange(q, w->dkey, -(done + DEAD_PAGE), -(done + 1), err)
                                     : lrange(q, w->dkey, done, done + DEAD_PAGE - 1, err);
        if (r == NULL) {
            return -1;
        }
        size_t n = r->elements;
        long long removed_here = 0;
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            int removed = 0;
            rc = handle(q, w, r->element[oldest_first ? n - 1 - i : i], &removed, err);
            removed_here += removed;
        }
        freeReplyObject(r);
        if (rc != 0) {
            return rc;
        }
        done += (long long)n - removed_here;
        if (n < DEAD_PAGE) {
            return 0;
        }
    }
}

static int walk_all(struct queue *q, struct walk *w, struct relay_error *err)
{
    const struct queue_dead_filter *f = w->filter;
    for (int s = 0; s < RELAY_SINK_COUNT; s++) {
        const char *sink = relay_sink_name((enum relay_sink)s);
        if (f != NULL && f->sink != NULL && strcmp(f->sink, sink) != 0) {
            continue;
        }
        w->sink = sink;
        if (queue_key(w->dkey, sizeof(w->dkey), q->prefix, "dead", sink, NULL, err) != 0 ||
            queue_key(w->qkey, sizeof(w->qkey), q->prefix, "q", sink, NULL, err) != 0 ||
            queue_key(w->skey, sizeof(w->skey), q->prefix, "stats", NULL, NULL, err) != 0) {
            return -1;
        }
        int rc = walk_sink(q, w, err);
        if (rc != 0) {
            return rc < 0 ? -1 : 0; /* 1: the visitor asked to stop */
        }
    }
    return 0;
}

int queue_dead_list(struct queue *q, const char *sink, size_t offset, size_t count,
                    struct queue_batch *out, struct relay_error *err)
{
    char key[QUEUE_KEY_MAX];
    for (size_t i = 0; i < out->count; i++) {
        relay_free(out->items[i].raw);
    }
    out->count = 0;
    if (count == 0) {
        return 0;
    }
    if (queue_key(key, sizeof(key), q->prefix, "dead", sink, NULL, err) != 0) {
        return -1;
    }
    redisReply *r = lrange(q, key, (long long)offset, (long long)(offset + count - 1), err);
    if (r == NULL) {
        return -1;
    }
    int rc = queue_batch_append_reply(out, r, err);
    freeReplyObject(r);
    return rc;
}

int queue_dead_each(struct queue *q, const struct queue_dead_filter *f,
                    int (*visit)(void *ctx, const char *sink, const struct queue_item *item,
                                 const struct relay_event *ev, struct relay_error *err),
                    void *ctx, struct relay_error *err)
{
    struct walk w = {.mode = WALK_EACH, .filter = f, .visit = visit, .ctx = ctx};
    return walk_all(q, &w, err);
}

int queue_dead_purge(struct queue *q, const struct queue_dead_filter *f, int dry_run, size_t *count,
                     struct relay_error *err)
{
    struct walk w = {.mode = WALK_PURGE, .filter = f, .dry_run = dry_run};
    int rc = walk_all(q, &w, err);
    *count = w.count;
    return rc;
}

int queue_dead_replay(struct queue *q, const struct queue_dead_filter *f, int dry_run,
                      size_t *count, struct relay_error *err)
{
    struct walk w = {.mode = WALK_REPLAY, .filter = f, .dry_run = dry_run};
    int rc = walk_all(q, &w, err);
    *count = w.count;
    return rc;
}
