/* One webhook request, start to answer (see http_ingress.h).
 *
 * DESIGN: checks run cheapest first and nothing touches Redis before the
 * request is authenticated and mapped, so every rejection leaves Redis
 * unchanged. The only Redis write is queue_accept, one atomic script: it
 * either runs whole or not at all, so a Redis failure answers 503 with
 * nothing half-written. The script goes through the group commit thread
 * (queue_group.c), which sends many requests' scripts per round trip. A
 * record that came without contact_id first reads its identity link
 * (queue_xref_resolve, one GET); records that carry contact_id, the usual
 * case, pay no extra round trip. Buffers live in the
 * per-thread state, not on civetweb's small thread stacks. Bodies and
 * secrets are never logged. */
#define LOG_COMPONENT "http"
#include "relay/http_ingress.h"

#include "mappers/mapper.h"
#include "queue/queue.h"
#include "relay/http_answer.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "relay/metrics.h"
#include "relay/webhook_auth.h"

#include <civetweb.h>

#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BODY_CHUNK_BYTES (16 * 1024)
#define BODY_KEEP_BYTES (256 * 1024) /* larger buffers are freed after the request */

struct http_ingress_thread *http_ingress_thread_create(void)
{
    struct http_ingress_thread *t = relay_calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->call = queue_accept_call_new();
    if (t->call == NULL) {
        relay_free(t);
        return NULL;
    }
    relay_buf_init(&t->body);
    relay_buf_init(&t->out);
    return t;
}

void http_ingress_thread_destroy(struct http_ingress_thread *t)
{
    if (t == NULL) {
        return;
    }
    queue_close(t->queue);
    queue_accept_call_free(t->call);
    relay_buf_fini(&t->body);
    relay_buf_fini(&t->out);
    relay_free(t->digests);
    relay_free(t->digest_ptrs);
    relay_free(t);
}

struct queue *http_ingress_queue_get(const struct http_ingress *ing, struct http_ingress_thread *t,
                                     struct relay_error *err)
{
    if (t->queue == NULL) {
        t->queue = queue_open(ing->qconf, err);
    }
    return t->queue;
}

static int64_t now_ms(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double since_ms(const struct timespec *start)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)(ts.tv_sec - start->tv_sec) * 1e3 + (double)(ts.tv_nsec - start->tv_nsec) / 1e6;
}

/* application/json, optionally followed by parameters (charset=...). */
static bool is_json_content_type(const char *ct)
{
    static const char want[] = "application/json";
    if (ct == NULL || strncasecmp(ct, want, sizeof(want) - 1) != 0) {
        return false;
    }
    char next = ct[sizeof(want) - 1];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* Grows b so that at least room bytes follow len. */
static int reserve(struct relay_buf *b, size_t room)
{
    if (b->cap - b->len > room) {
        return 0;
    }
    size_t cap = b->len + room + 1;
    char *data = relay_realloc(b->data, cap);
    if (data == NULL) {
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static bool expects_continue(struct mg_connection *conn)
{
    const char *expect = mg_get_header(conn, "Expect");
    return expect != NULL && strcasecmp(expect, "100-continue") == 0;
}

/* Reads the whole body into t->body (NUL-terminated) within the limit.
 * On failure fills a (413, 400, 503) and returns -1. */
static int read_body(struct mg_connection *conn, const struct http_ingress *ing,
                     struct http_ingress_thread *t, struct http_answer *a)
{
    long long declared = mg_get_request_info(conn)->content_length;
    size_t limit = ing->body_limit_bytes;
    *a = (struct http_answer){
        .status = 413, .state = "error", .should_close = true, .reason = "body over the limit"};
    if (declared > (long long)limit) {
        return -1;
    }
    if (expects_continue(conn)) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (mg_write(conn, cont, sizeof(cont) - 1) <= 0) {
            a->status = 400;
            a->reason = "client went away";
            return -1;
        }
    }
    relay_buf_reset(&t->body);
    size_t want = declared >= 0 ? (size_t)declared : BODY_CHUNK_BYTES;
    if (reserve(&t->body, 0) != 0) {
        *a = (struct http_answer){
            .status = 503, .state = "error", .reason = "out of memory", .should_close = true};
        return -1;
    }
    while (want > 0) {
        /* Read at most one byte past the limit: enough to know it is over. */
        size_t room = limit + 1 - t->body.len;
        room = room < want ? room : want;
        if (reserve(&t->body, room) != 0) {
            *a = (struct http_answer){
                .status = 503, .state = "error", .reason = "out of memory", .should_close = true};
            return -1;
        }
        int n = mg_read(conn, t->body.data + t->body.len, room);
        if (n < 0) {
            a->status = 400;
            a->reason = "could not read the body";
            return -1;
        }
        if (n == 0) {
            break;
        }
        t->body.len += (size_t)n;
        if (t->body.len > limit) {
            return -1;
        }
        want = declared >= 0 ? (size_t)declared - t->body.len : BODY_CHUNK_BYTES;
    }
    t->body.data[t->body.len] = '\0';
    if (declared >= 0 && t->body.len != (size_t)declared) {
        a->status = 400;
        a->reason = "body shorter than Content-Length";
        return -1;
    }
    return 0;
}

static const char *header_of(void *ctx, const char *name)
{
    return mg_get_header((const struct mg_connection *)ctx, name);
}

static int authenticate(struct mg_connection *conn, const struct http_ingress *ing,
                        const struct http_ingress_thread *t, enum relay_source source,
                        struct relay_error *err)
{
    int64_t now = now_ms(CLOCK_REALTIME);
    if (source == RELAY_SOURCE_TWENTY) {
        return webhook_auth_twenty(ing->auth, header_of, conn, t->body.data, t->body.len, now, err);
    }
    return webhook_auth_supabase(ing->auth, header_of, conn, t->body.data, t->body.len, now, err);
}

/* Fills t->digest_ptrs with mapper_value_digest of every changed field. */
static int compute_digests(struct http_ingress_thread *t, const struct relay_event *ev)
{
    size_t n = json_array_size(ev->changed);
    if (n > t->digest_cap) {
        relay_free(t->digests);
        relay_free(t->digest_ptrs);
        t->digests = relay_calloc(n, sizeof(*t->digests));
        t->digest_ptrs = relay_calloc(n, sizeof(*t->digest_ptrs));
        t->digest_cap = (t->digests && t->digest_ptrs) ? n : 0;
        if (t->digest_cap == 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_array_get(ev->changed, i));
        json_t *value = name != NULL ? json_object_get(ev->fields, name) : NULL;
        json_t *null_value = json_null();
        mapper_value_digest(value != NULL ? value : null_value, t->digests[i]);
        t->digest_ptrs[i] = t->digests[i];
    }
    return 0;
}

static void answer_verdict(enum queue_verdict verdict, struct http_answer *a)
{
    static const struct {
        const char *state;
        const char *reason;
    } dropped[] = {
        [QUEUE_DUPLICATE] = {"duplicate", "delivery already accepted"},
        [QUEUE_ECHO] = {"echo", "every changed field equals the stored value"},
        [QUEUE_STALE] = {"stale", "every changed field is older than the stored one"},
    };
    if (verdict == QUEUE_ACCEPTED) {
        a->status = 202;
        a->state = "accepted";
        return;
    }
    a->status = 200;
    a->ev = NULL;
    a->state = dropped[verdict].state;
    a->reason = dropped[verdict].reason;
}

static enum metrics_outcome outcome_of(const struct http_answer *a)
{
    if (a->status == 202) {
        return METRICS_ACCEPTED;
    }
    if (a->status != 200) {
        return METRICS_REJECTED;
    }
    if (strcmp(a->state, "duplicate") == 0) {
        return METRICS_DUPLICATE;
    }
    if (strcmp(a->state, "echo") == 0) {
        return METRICS_ECHO;
    }
    return strcmp(a->state, "stale") == 0 ? METRICS_STALE : METRICS_IGNORED;
}

/* A connection that was idle while Redis restarted or failed over fails
 * at once ("server closed the connection"); the handle reconnects on the
 * next call, so one quick retry saves the webhook (Twenty never retries).
 * A slow failure (a timeout) is not retried, so the 503 still comes within
 * one redis.timeout_ms. True when the call that started at start_ms
 * failed that quickly. */
static bool is_quick_failure(const struct http_ingress *ing, int64_t start_ms,
                             const struct relay_error *err)
{
    int64_t quick_ms = ing->qconf->timeout_ms > 0 ? ing->qconf->timeout_ms / 4 : 250;
    return err->code == RELAY_EIO && now_ms(CLOCK_MONOTONIC) - start_ms <= quick_ms;
}

/* queue_xref_resolve on the thread's connection, retried once as above
 * (a GET is safe to repeat). */
static int resolve_contact(const struct http_ingress *ing, struct http_ingress_thread *t,
                           struct relay_event *ev, struct relay_error *err)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int64_t start = now_ms(CLOCK_MONOTONIC);
        struct queue *q = http_ingress_queue_get(ing, t, err);
        if (q != NULL && queue_xref_resolve(q, ev, err) == 0) {
            return 0;
        }
        if (!is_quick_failure(ing, start, err)) {
            break;
        }
    }
    return -1;
}

/* queue_accept through the group commit thread, which retries a quick
 * failure once itself (see queue_group.c). */
static int enqueue(const struct http_ingress *ing, struct http_ingress_thread *t,
                   struct relay_event *ev, enum queue_verdict *verdict, unsigned *queued,
                   struct relay_error *err)
{
    unsigned route = relay_route(ev->source, ing->enabled_mask);
    return queue_group_accept(ing->group, t->call, ev, t->digest_ptrs, route, verdict, queued, err);
}

/* Authenticated body -> event -> queue_accept; fills a. ev_out keeps the
 * event for the log line (caller destroys). */
static void process(struct mg_connection *conn, const struct http_ingress *ing,
                    struct http_ingress_thread *t, enum relay_source source,
                    struct relay_event **ev_out, struct http_answer *a, struct relay_error *err)
{
    *a = (struct http_answer){.status = 401, .state = "error"};
    if (authenticate(conn, ing, t, source, err) != 0) {
        a->reason = err->msg;
        return;
    }
    int rc = mapper_decode_webhook(ing->mapping, source, t->body.data, t->body.len, ev_out, err);
    if (rc == MAPPER_IGNORED) {
        *a = (struct http_answer){.status = 200, .state = "ignored", .reason = err->msg};
        return;
    }
    if (rc != MAPPER_EVENT) {
        bool bad = err->code == RELAY_EINVAL;
        *a = (struct http_answer){.status = bad ? 400 : 503, .state = "error", .reason = err->msg};
        return;
    }
    struct relay_event *ev = *ev_out;
    log_add_context("event", ev->id); /* cleared by http_server.c after the request */
    if (ev->is_contact_id_derived && resolve_contact(ing, t, ev, err) != 0) {
        bool bad = err->code == RELAY_EINVAL; /* an id too long for a key */
        *a = (struct http_answer){.status = bad ? 400 : 503, .state = "error", .reason = err->msg};
        return;
    }
    *a = (struct http_answer){.status = 503, .state = "error", .reason = "out of memory"};
    if (compute_digests(t, ev) != 0) {
        return;
    }
    enum queue_verdict verdict = QUEUE_ACCEPTED;
    unsigned queued = 0;
    if (enqueue(ing, t, ev, &verdict, &queued, err) != 0) {
        a->status = err->code == RELAY_EINVAL ? 400 : 503;
        a->reason = err->msg;
        return;
    }
    *a = (struct http_answer){.ev = ev, .queued_mask = queued};
    answer_verdict(verdict, a);
}

static void log_request(const struct http_answer *a, enum relay_source source,
                        const struct relay_event *ev, double ms)
{
    const char *contact = ev != NULL && ev->contact_id != NULL ? ev->contact_id : "-";
    const char *id = ev != NULL && ev->id[0] != '\0' ? ev->id : "-";
    const char *reason = a->reason != NULL ? a->reason : a->state;
    /* Every answer at info, rejections included: a 4xx is the sender's
     * problem, not the operator's; /metrics counts them. */
    log_info("request status=%d reason=\"%s\" source=%s contact=%s event=%s ms=%.3f", a->status,
             reason, relay_source_name(source), contact, id, ms);
}

int http_ingress_handle(struct mg_connection *conn, const struct http_ingress *ing,
                        struct http_ingress_thread *t, enum relay_source source)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct relay_error err = {0};
    struct relay_event *ev = NULL;
    struct http_answer a = {.status = 415,
                            .state = "error",
                            .should_close = true,
                            .reason = "Content-Type must be application/json"};
    if (is_json_content_type(mg_get_header(conn, "Content-Type")) &&
        read_body(conn, ing, t, &a) == 0) {
        process(conn, ing, t, source, &ev, &a, &err);
    }
    (void)http_answer_send(conn, &a, &t->out);
    log_request(&a, source, ev, since_ms(&start));
    metrics_http_request(
        source == RELAY_SOURCE_TWENTY ? METRICS_ROUTE_TWENTY : METRICS_ROUTE_SUPABASE, a.status);
    metrics_event(source, outcome_of(&a));
    size_t quarantined = ev != NULL ? json_object_size(ev->quarantined) : 0;
    for (size_t i = 0; i < quarantined; i++) {
        metrics_event(source, METRICS_QUARANTINED);
    }
    relay_event_destroy(ev);
    if (t->body.cap > BODY_KEEP_BYTES) {
        relay_buf_fini(&t->body);
        relay_buf_init(&t->body);
    }
    return a.status;
}
