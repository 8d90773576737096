/* Settling failed deliveries: the retry-or-dead decision of queue.md
 * ("Settle", "Poison") in one place. Sinks report, this file decides. */
#define LOG_COMPONENT "worker"
#include "workers/worker.h"

#include "queue/queue.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "relay/metrics.h"

#include <jansson.h>
#include <string.h>

/* {class, code, message, at}: "at" is when this failure happened (the
 * replay filter's time range looks at it). */
static json_t *error_object(bool permanent, const struct relay_error *cause)
{
    char now[RELAY_TS_LEN + 1];
    relay_now_ts(now);
    return json_pack("{s:s, s:s, s:s, s:s}", "class", permanent ? "permanent" : "transient",
                     "code", relay_error_name(cause->code), "message", cause->msg, "at", now);
}

static uint32_t worker_random(struct worker *w)
{
    return w->rng.next(w->rng.ctx);
}

int worker_settle_failure(struct worker *w, struct queue *q, const char *consumer,
                          const struct queue_item *item, struct relay_event *ev, bool permanent,
                          const struct relay_error *cause)
{
    const struct pool_shared *sh = w->shared;
    struct relay_buf buf;
    struct relay_error qerr = {0};
    int rc = -1;

    relay_buf_init(&buf);
    ev->attempts = ev->attempts < 0 ? 1 : ev->attempts + 1;
    if (ev->first_error_at[0] == '\0') {
        relay_now_ts(ev->first_error_at);
    }
    json_t *error = error_object(permanent, cause);
    if (error == NULL) {
        goto out;
    }
    json_decref(ev->error);
    ev->error = error;
    if (relay_event_encode(ev, &buf, &qerr) != 0) {
        goto out;
    }
    const char *sink = w->kind->name;
    if (permanent || retry_should_give_up(&sh->policy, (unsigned)ev->attempts)) {
        size_t dropped = 0;
        rc = queue_dead(q, sink, consumer, item, &buf, sh->dead_cap, &dropped, &qerr);
        if (rc == 0 && dropped > 0) {
            log_warn("sink=%s: dead-letter cap %u reached, dropped %zu oldest", sink,
                     sh->dead_cap, dropped);
        }
        if (rc == 0) {
            metrics_sink_dead(w->kind->id, 1);
            log_warn("sink=%s ev=%s contact=%s: dead-lettered after %d attempt(s): %s", sink,
                     ev->id, ev->contact_id, ev->attempts, cause->msg);
        }
    } else {
        uint64_t delay = retry_jitter_ms(retry_delay_ms(&sh->policy, (unsigned)ev->attempts),
                                         worker_random(w));
        rc = queue_retry(q, sink, consumer, item, &buf, worker_now_ms() + (int64_t)delay, &qerr);
        if (rc == 0) {
            metrics_sink_retried(w->kind->id, 1);
            log_debug("sink=%s ev=%s: retry %d in %llu ms: %s", sink, ev->id, ev->attempts,
                      (unsigned long long)delay, cause->msg);
        }
    }
out:
    if (rc != 0) {
        log_error("sink=%s ev=%s: cannot settle a failed event (left in flight): %s",
                  w->kind->name, ev->id, qerr.msg[0] ? qerr.msg : "out of memory");
    }
    relay_buf_fini(&buf);
    return rc;
}

int worker_settle_defer(struct worker *w, struct queue *q, const char *consumer,
                        const struct queue_item *item, int64_t due_ms)
{
    struct relay_error qerr = {0};
    /* The element itself is the "updated" copy: attempts, error and
     * history stay exactly as they were. */
    const struct relay_buf same = {.data = item->raw, .len = item->len, .cap = item->len};
    if (queue_retry(q, w->kind->name, consumer, item, &same, due_ms, &qerr) != 0) {
        log_error("sink=%s: cannot put back a deferred event (left in flight): %s",
                  w->kind->name, qerr.msg);
        return -1;
    }
    return 0;
}

/* The dead letter for an element that is not an event: the element with
 * error fields added when it is a JSON object, else {"raw": text, ...}. */
static json_t *undecodable_letter(const struct queue_item *item, json_t *error)
{
    json_t *o = json_loadb(item->raw, item->len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
        if (o == NULL || json_object_set_new(o, "raw", json_stringn(item->raw, item->len)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    char now[RELAY_TS_LEN + 1];
    relay_now_ts(now);
    if (json_object_set(o, "error", error) != 0 ||
        json_object_set_new(o, "attempts", json_integer(1)) != 0 ||
        json_object_set_new(o, "first_error_at", json_string(now)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int worker_settle_undecodable(struct worker *w, struct queue *q, const char *consumer,
                              const struct queue_item *item, const struct relay_error *cause)
{
    struct relay_buf buf;
    struct relay_error qerr = {0};
    json_t *error = error_object(true, cause);
    json_t *letter = error ? undecodable_letter(item, error) : NULL;
    char *text = letter ? json_dumps(letter, JSON_COMPACT) : NULL;
    int rc = -1;

    relay_buf_init(&buf);
    if (text == NULL || relay_buf_appends(&buf, text) != 0) {
        relay_error_set(&qerr, RELAY_ENOMEM, "out of memory");
        goto out;
    }
    size_t dropped = 0;
    rc = queue_dead(q, w->kind->name, consumer, item, &buf, w->shared->dead_cap, &dropped, &qerr);
    if (rc == 0 && dropped > 0) {
        log_warn("sink=%s: dead-letter cap reached, dropped %zu oldest", w->kind->name, dropped);
    }
    if (rc == 0) {
        metrics_sink_dead(w->kind->id, 1);
        log_warn("sink=%s: dead-lettered an element that is not an event: %s", w->kind->name,
                 cause->msg);
    }
out:
    if (rc != 0) {
        log_error("sink=%s: cannot dead-letter a bad element (left in flight): %s",
                  w->kind->name, qerr.msg);
    }
    relay_free(text);
    json_decref(letter);
    json_decref(error);
    relay_buf_fini(&buf);
    return rc;
}
