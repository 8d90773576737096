/* The Redis queue against a real redis-server (tests/with-redis.sh):
 * URL and key helpers, the arbiter and dedupe of queue_accept, take / ack /
 * retry / dead / promote / recover / depths, and connection failure and
 * recovery on a server this test starts, stops and freezes itself. */
#include "queue/queue_internal.h"
#include "test_queue_util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TS1 "2025-09-14T10:00:00.000000Z"
#define TS2 "2025-09-14T11:00:00.000000Z"
#define TS3 "2025-09-14T12:00:00.000000Z"
#define PG RELAY_SINK_BIT(RELAY_SINK_POSTGRES)
#define SQ RELAY_SINK_BIT(RELAY_SINK_SQLITE)
#define BQ RELAY_SINK_BIT(RELAY_SINK_BIGQUERY)
#define TW RELAY_SINK_BIT(RELAY_SINK_TWENTY)

static void url_forms(void **state)
{
    (void)state;
    struct queue_url u;
    struct relay_error err = {0};
    assert_int_equal(queue_url_parse("redis://:pw@10.0.0.1:6380/3", &u, &err), 0);
    assert_string_equal(u.host, "10.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_string_equal(u.password, "pw");
    assert_null(u.username);
    assert_int_equal(u.db, 3);
    queue_url_fini(&u);
    assert_int_equal(queue_url_parse("redis://localhost", &u, &err), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    queue_url_fini(&u);
    assert_int_equal(queue_url_parse("redis://app:s@c@[::1]:7000/", &u, &err), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.username, "app");
    assert_string_equal(u.password, "s@c");
    assert_int_equal(u.port, 7000);
    queue_url_fini(&u);
    assert_int_equal(queue_url_parse("unix:///run/redis.sock?db=2", &u, &err), 0);
    assert_string_equal(u.unix_path, "/run/redis.sock");
    assert_null(u.host);
    assert_int_equal(u.db, 2);
    queue_url_fini(&u);
    static const char *const bad[] = {
        "",
        "http://x",
        "redis://",
        "redis://h:0",
        "redis://h:70000",
        "redis://h:12x",
        "redis://h/abc",
        "redis://pw@h",
        "unix://relative",
        "unix:///s?database=1",
        "redis://[::1",
        "redis://h/-1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(queue_url_parse(bad[i], &u, &err), -1);
        assert_int_equal(err.code, RELAY_ECONFIG);
    }
    struct queue_conf conf = {.url = "ftp://x"};
    assert_null(queue_open(&conf, &err));
    assert_int_equal(err.code, RELAY_ECONFIG);
}

static void key_helpers(void **state)
{
    (void)state;
    char k[QUEUE_KEY_MAX];
    struct relay_error err = {0};
    assert_int_equal(queue_key(k, sizeof(k), "P", "inflight", "pg", "h:1:2", &err), 0);
    assert_string_equal(k, "P:inflight:pg:h:1:2");
    assert_int_equal(queue_key(k, sizeof(k), "P", "stats", NULL, NULL, &err), 0);
    assert_string_equal(k, "P:stats");
    assert_int_equal(queue_key(k, 8, "P", "q", "postgres", NULL, &err), -1);
    assert_int_equal(queue_key(k, sizeof(k), "P", "q", "", NULL, &err), -1);
    assert_int_equal(queue_key_glob_escape(k, sizeof(k), "a*b?[c]\\"), 0);
    assert_string_equal(k, "a\\*b\\?\\[c\\]\\\\");
    assert_int_equal(queue_key_glob_escape(k, 3, "a*"), -1);
    char sink[32];
    char cons[64];
    const char *key = "my:pfx:inflight:sqlite:host:42:7";
    assert_int_equal(queue_key_parse_inflight("my:pfx", key, strlen(key), sink, sizeof(sink), cons,
                                              sizeof(cons)),
                     0);
    assert_string_equal(sink, "sqlite");
    assert_string_equal(cons, "host:42:7");
    key = "my:pfx:inflight:sqlite";
    assert_int_equal(queue_key_parse_inflight("my:pfx", key, strlen(key), sink, sizeof(sink), cons,
                                              sizeof(cons)),
                     -1);
    key = "other:inflight:sqlite:c";
    assert_int_equal(queue_key_parse_inflight("my:pfx", key, strlen(key), sink, sizeof(sink), cons,
                                              sizeof(cons)),
                     -1);
    assert_int_equal(queue_ts_to_ms("1970-01-01T00:00:01.250000Z", RELAY_TS_LEN), 1250);
    assert_int_equal(queue_ts_to_ms("1970-01-01 00:00:01.250000Z", RELAY_TS_LEN), -1);
}

/* Decodes the element at index idx of list key. */
static struct relay_event *tq_list_event(struct tq *t, const char *key, long idx)
{
    redisReply *r = tq_cmd(t, "LINDEX %s %ld", key, idx);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    struct relay_event *ev = NULL;
    struct relay_error err = {0};
    assert_int_equal(relay_event_decode(r->str, r->len, &ev, &err), 0);
    freeReplyObject(r);
    return ev;
}

static void accept_new_and_duplicate(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    enum queue_verdict v;
    unsigned queued = 99;
    struct relay_event *ev =
        tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "C1", TS1, "d1", "job_title", "\"CTO\"",
                 "emails", "[\"a@x.io\"]", "updated_at", "\"" TS1 "\"", NULL);
    assert_int_equal(tq_accept(t, ev, PG | SQ, &v, &queued, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    assert_int_equal(queued, PG | SQ);
    char key[128];
    snprintf(key, sizeof(key), "%s:q:postgres", t->prefix);
    assert_int_equal(tq_int(t, "LLEN %s", key), 1);
    assert_int_equal(tq_int(t, "LLEN %s:q:sqlite", t->prefix), 1);
    assert_int_equal(tq_int(t, "LLEN %s:q:bigquery", t->prefix), 0);
    assert_int_equal(tq_int(t, "LLEN %s:q:twenty", t->prefix), 0);
    /* The stored element decodes to ev: re-encoding both gives the same bytes. */
    struct relay_buf enc;
    struct relay_buf back;
    relay_buf_init(&enc);
    relay_buf_init(&back);
    assert_int_equal(relay_event_encode(ev, &enc, &err), 0);
    struct relay_event *stored = tq_list_event(t, key, 0);
    assert_int_equal(relay_event_encode(stored, &back, &err), 0);
    assert_int_equal(back.len, enc.len);
    assert_memory_equal(back.data, enc.data, enc.len);
    relay_event_destroy(stored);
    relay_buf_fini(&enc);
    relay_buf_fini(&back);
    redisReply *r;
    r = tq_cmd(t, "HGET %s:contact:C1 job_title", t->prefix);
    char want[64];
    char dig[17];
    tq_digest(json_object_get(ev->fields, "job_title"), dig);
    snprintf(want, sizeof(want), "%s %s", TS1, dig);
    assert_string_equal(r->str, want);
    freeReplyObject(r);
    assert_true(tq_int(t, "TTL %s:seen:twenty:d1", t->prefix) > 500);
    assert_int_equal(tq_stat(t, "accepted"), 1);
    /* The same delivery again: duplicate, nothing queued. */
    assert_int_equal(tq_accept(t, ev, PG | SQ, &v, &queued, &err), 0);
    assert_int_equal(v, QUEUE_DUPLICATE);
    assert_int_equal(queued, 0);
    assert_int_equal(tq_int(t, "LLEN %s", key), 1);
    assert_int_equal(tq_stat(t, "duplicate"), 1);
    relay_event_destroy(ev);
    tq_close(t);
}

/* Accepts one event; returns its verdict and writes its narrowed changed. */
static enum queue_verdict run(struct tq *t, struct relay_event *ev, char *changed, size_t cap)
{
    enum queue_verdict v;
    unsigned queued;
    struct relay_error err = {0};
    assert_int_equal(tq_accept(t, ev, PG, &v, &queued, &err), 0);
    if (changed != NULL) {
        tq_changed(ev, changed, cap);
    }
    relay_event_destroy(ev);
    return v;
}

static void arbiter_rules(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    char changed[256];
    /* Base state at TS2. */
    assert_int_equal(
        run(t,
            tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "C", TS2, "a", "job_title", "\"CTO\"",
                     "company", "\"Acme\"", "updated_at", "\"" TS2 "\"", NULL),
            NULL, 0),
        QUEUE_ACCEPTED);
    /* Echo: our own write coming back, same values, newer version. */
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "C", TS3, "b",
                                  "job_title", "\"CTO\"", "updated_at", "\"" TS3 "\"", NULL),
                         NULL, 0),
                     QUEUE_ECHO);
    assert_int_equal(tq_stat(t, "echo"), 1);
    /* Stale: an older version with a different value. */
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "C", TS1, "c",
                                  "job_title", "\"CEO\"", NULL),
                         NULL, 0),
                     QUEUE_STALE);
    /* Tie: same version, different value: the stored value stands. */
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "C", TS2, "d",
                                  "job_title", "\"CEO\"", NULL),
                         NULL, 0),
                     QUEUE_STALE);
    assert_int_equal(tq_stat(t, "stale"), 2);
    /* A stale event is still recorded as seen: its redelivery is a duplicate. */
    assert_int_equal(tq_int(t, "EXISTS %s:seen:supabase:d", t->prefix), 1);
    /* Mixed: company newer wins, job_title echoes, phones stale-free new,
     * updated_at rides along; changed keeps order of the accepted ones. */
    assert_int_equal(
        run(t,
            tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "C", TS3, "e", "job_title", "\"CTO\"",
                     "updated_at", "\"" TS3 "\"", "company", "\"Beta\"", NULL),
            changed, sizeof(changed)),
        QUEUE_ACCEPTED);
    assert_string_equal(changed, "[\"updated_at\",\"company\"]");
    char key[128];
    snprintf(key, sizeof(key), "%s:q:postgres", t->prefix);
    struct relay_event *q0 = tq_list_event(t, key, 0);
    tq_changed(q0, changed, sizeof(changed));
    assert_string_equal(changed, "[\"updated_at\",\"company\"]");
    assert_string_equal(q0->version, TS3);
    relay_event_destroy(q0);
    /* updated_at alone never carries an event. */
    assert_int_equal(
        run(t,
            tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "C", "2025-09-14T13:00:00.000000Z",
                     "f", "updated_at", "\"2025-09-14T13:00:00.000000Z\"", NULL),
            NULL, 0),
        QUEUE_STALE);
    assert_int_equal(tq_stat(t, "accepted"), 2);
    assert_int_equal(tq_int(t, "LLEN %s", key), 2);
    tq_close(t);
}

static void delete_wins_tie(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "D", TS2, "a", "deleted_at",
                                  "null", "job_title", "\"x\"", NULL),
                         NULL, 0),
                     QUEUE_ACCEPTED);
    /* An upsert that ties with a different deleted_at loses the tie... */
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "D", TS2, "b",
                                  "deleted_at", "\"" TS1 "\"", NULL),
                         NULL, 0),
                     QUEUE_STALE);
    /* ...but a delete at the same version wins it. */
    char changed[128];
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_DELETE, "D", TS2, "c",
                                  "deleted_at", "\"" TS2 "\"", NULL),
                         changed, sizeof(changed)),
                     QUEUE_ACCEPTED);
    assert_string_equal(changed, "[\"deleted_at\"]");
    /* A late update cannot resurrect: older version is stale. */
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "D", TS1, "d", "deleted_at",
                                  "null", NULL),
                         NULL, 0),
                     QUEUE_STALE);
    tq_close(t);
}

/* created_at and deleted_at are set once: another non-null instant with a
 * newer version (Twenty's own clock on the echo of our create or soft
 * delete) is an echo; null <-> set is a change. */
static void instants_are_set_once(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    char changed[128];
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "I", TS1, "a",
                                  "created_at", "\"" TS1 "\"", "deleted_at", "null", NULL),
                         NULL, 0),
                     QUEUE_ACCEPTED);
    /* Twenty's create echo: its own createdAt, a new twenty_id. */
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "I", TS2, "b",
                                  "created_at", "\"" TS2 "\"", "twenty_id", "\"t-1\"", NULL),
                         changed, sizeof(changed)),
                     QUEUE_ACCEPTED);
    assert_string_equal(changed, "[\"twenty_id\"]");
    /* A delete sets deleted_at (null -> set is a change). */
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_DELETE, "I", TS2, "c",
                                  "deleted_at", "\"" TS2 "\"", NULL),
                         NULL, 0),
                     QUEUE_ACCEPTED);
    /* Twenty's soft delete echo, its own deletedAt and a newer version. */
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_DELETE, "I", TS3, "d",
                                  "deleted_at", "\"" TS3 "\"", NULL),
                         NULL, 0),
                     QUEUE_ECHO);
    /* A restore (set -> null) is a change again. */
    assert_int_equal(run(t,
                         tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "I", TS3, "e",
                                  "deleted_at", "null", NULL),
                         changed, sizeof(changed)),
                     QUEUE_ACCEPTED);
    assert_string_equal(changed, "[\"deleted_at\"]");
    assert_int_equal(tq_stat(t, "echo"), 1);
    tq_close(t);
}

static void fan_out_by_mask(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    enum queue_verdict v;
    unsigned queued;
    struct relay_event *ev =
        tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "F", TS1, "a", "nickname", "\"Bo\"", NULL);
    assert_int_equal(tq_accept(t, ev, SQ | BQ | TW | (1u << 9), &v, &queued, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    assert_int_equal(queued, SQ | BQ | TW);
    assert_int_equal(tq_int(t, "LLEN %s:q:postgres", t->prefix), 0);
    assert_int_equal(tq_int(t, "LLEN %s:q:sqlite", t->prefix), 1);
    assert_int_equal(tq_int(t, "LLEN %s:q:bigquery", t->prefix), 1);
    assert_int_equal(tq_int(t, "LLEN %s:q:twenty", t->prefix), 1);
    relay_event_destroy(ev);
    /* No sink routed: accepted (and recorded) but queued nowhere. */
    ev = tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "F", TS2, "b", "nickname", "\"B\"", NULL);
    assert_int_equal(tq_accept(t, ev, 0, &v, &queued, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    assert_int_equal(queued, 0);
    assert_int_equal(tq_int(t, "LLEN %s:q:sqlite", t->prefix), 1);
    relay_event_destroy(ev);
    tq_close(t);
}

static void accept_bad_input(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    enum queue_verdict v;
    unsigned queued;
    struct relay_event *ev =
        tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "B", TS1, "a", "nickname", "\"x\"", NULL);
    const char *short_digest[] = {"abc"};
    assert_int_equal(queue_accept(t->q, ev, short_digest, PG, &v, &queued, &err), -1);
    assert_int_equal(err.code, RELAY_EINVAL);
    assert_int_equal(queue_accept(t->q, ev, NULL, PG, &v, &queued, &err), -1);
    assert_int_equal(err.code, RELAY_EINVAL);
    relay_free(ev->contact_id);
    ev->contact_id = NULL;
    assert_int_equal(tq_accept(t, ev, PG, &v, &queued, &err), -1);
    assert_int_equal(err.code, RELAY_EINVAL);
    assert_int_equal(tq_int(t, "EXISTS %s:seen:twenty:a", t->prefix), 0);
    relay_event_destroy(ev);
    tq_close(t);
}

/* Queues n events for postgres with nickname "n<i>" (distinct contacts). */
static void queue_n(struct tq *t, int n)
{
    for (int i = 0; i < n; i++) {
        char contact[16];
        char nick[16];
        char delivery[16];
        snprintf(contact, sizeof(contact), "N%d", i);
        snprintf(nick, sizeof(nick), "\"n%d\"", i);
        snprintf(delivery, sizeof(delivery), "del%d", i);
        assert_int_equal(run(t,
                             tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, contact, TS1, delivery,
                                      "nickname", nick, NULL),
                             NULL, 0),
                         QUEUE_ACCEPTED);
    }
}

static void assert_nick(const struct queue_item *it, const char *nick)
{
    struct relay_event *ev = NULL;
    struct relay_error err = {0};
    assert_int_equal(relay_event_decode(it->raw, it->len, &ev, &err), 0);
    assert_string_equal(json_string_value(json_object_get(ev->fields, "nickname")), nick);
    relay_event_destroy(ev);
}

static void take_fifo_batches(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    struct queue_batch b;
    queue_batch_init(&b);
    queue_n(t, 5);
    assert_int_equal(queue_take(t->q, "postgres", "h:1:0", 2, 0, &b, &err), 0);
    assert_int_equal(b.count, 2);
    assert_nick(&b.items[0], "n0");
    assert_nick(&b.items[1], "n1");
    assert_int_equal(tq_int(t, "LLEN %s:inflight:postgres:h:1:0", t->prefix), 2);
    assert_int_equal(tq_int(t, "LLEN %s:q:postgres", t->prefix), 3);
    assert_int_equal(queue_take(t->q, "postgres", "h:1:0", 10, 0, &b, &err), 0);
    assert_int_equal(b.count, 3);
    assert_nick(&b.items[0], "n2");
    assert_nick(&b.items[2], "n4");
    assert_int_equal(tq_int(t, "LLEN %s:inflight:postgres:h:1:0", t->prefix), 5);
    /* Empty queue, short wait: nothing, no error. */
    assert_int_equal(queue_take(t->q, "postgres", "h:1:0", 10, 100, &b, &err), 0);
    assert_int_equal(b.count, 0);
    queue_batch_fini(&b);
    tq_close(t);
}

struct late_push {
    int port;
    char key[128];
    char value[256];
};

static void *push_later(void *arg)
{
    struct late_push *p = arg;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 300 * 1000000L};
    nanosleep(&ts, NULL);
    redisContext *c = redisConnect("127.0.0.1", p->port);
    for (int i = 0; i < 3; i++) {
        redisReply *r = redisCommand(c, "LPUSH %s %s", p->key, p->value);
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static void take_blocks_until_an_event_arrives(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    struct queue_batch b;
    queue_batch_init(&b);
    struct late_push p = {.port = tq_parse_port(tq_url())};
    snprintf(p.key, sizeof(p.key), "%s:q:sqlite", t->prefix);
    snprintf(p.value, sizeof(p.value), "{\"late\":1}");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, push_later, &p), 0);
    /* Waits (up to 10 s) for the first element, then takes what else is there. */
    assert_int_equal(queue_take(t->q, "sqlite", "h:2:0", 10, 10000, &b, &err), 0);
    pthread_join(th, NULL);
    assert_true(b.count >= 1);
    assert_string_equal(b.items[0].raw, "{\"late\":1}");
    assert_int_equal(tq_int(t, "LLEN %s:inflight:sqlite:h:2:0", t->prefix), (long long)b.count);
    /* The socket timeout went back to normal: a plain call still works. */
    assert_int_equal(queue_ping(t->q, &err), 0);
    queue_batch_fini(&b);
    tq_close(t);
}

static void ack_removes_and_counts(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    struct queue_batch b;
    queue_batch_init(&b);
    queue_n(t, 3);
    assert_int_equal(queue_take(t->q, "postgres", "c1", 3, 0, &b, &err), 0);
    assert_int_equal(b.count, 3);
    assert_int_equal(queue_ack(t->q, "postgres", "c1", b.items, 2, &err), 0);
    assert_int_equal(tq_int(t, "LLEN %s:inflight:postgres:c1", t->prefix), 1);
    assert_int_equal(tq_stat(t, "delivered:postgres"), 2);
    /* Acking an element that is no longer in flight counts nothing. */
    assert_int_equal(queue_ack(t->q, "postgres", "c1", b.items, 1, &err), 0);
    assert_int_equal(tq_stat(t, "delivered:postgres"), 2);
    assert_int_equal(queue_ack(t->q, "postgres", "c1", b.items + 2, 1, &err), 0);
    assert_int_equal(tq_int(t, "EXISTS %s:inflight:postgres:c1", t->prefix), 0);
    assert_int_equal(tq_stat(t, "delivered:postgres"), 3);
    assert_int_equal(queue_ack(t->q, "postgres", "c1", b.items, 0, &err), 0);
    queue_batch_fini(&b);
    tq_close(t);
}

static void ack_whole_list(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    struct queue_batch b;
    queue_batch_init(&b);
    queue_n(t, 4);
    assert_int_equal(queue_take(t->q, "postgres", "c2", 4, 0, &b, &err), 0);
    assert_int_equal(queue_ack(t->q, "postgres", "c2", b.items, b.count, &err), 0);
    assert_int_equal(tq_int(t, "EXISTS %s:inflight:postgres:c2", t->prefix), 0);
    assert_int_equal(tq_stat(t, "delivered:postgres"), 4);
    queue_batch_fini(&b);
    tq_close(t);
}

static void retry_then_promote(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    struct queue_batch b;
    queue_batch_init(&b);
    queue_n(t, 3);
    assert_int_equal(queue_take(t->q, "postgres", "c", 2, 0, &b, &err), 0);
    struct relay_buf u0;
    struct relay_buf u1;
    relay_buf_init(&u0);
    relay_buf_init(&u1);
    assert_int_equal(relay_buf_appends(&u0, "{\"retry\":0}"), 0);
    assert_int_equal(relay_buf_appends(&u1, "{\"retry\":1}"), 0);
    assert_int_equal(queue_retry(t->q, "postgres", "c", &b.items[0], &u0, 2000, &err), 0);
    assert_int_equal(queue_retry(t->q, "postgres", "c", &b.items[1], &u1, 1000, &err), 0);
    assert_int_equal(tq_int(t, "LLEN %s:inflight:postgres:c", t->prefix), 0);
    assert_int_equal(tq_int(t, "ZCARD %s:retry:postgres", t->prefix), 2);
    assert_int_equal(tq_int(t, "ZSCORE %s:retry:postgres {\"retry\":1}", t->prefix), 1000);
    assert_int_equal(tq_stat(t, "retried:postgres"), 2);
    /* Not in flight any more: nothing is added. */
    assert_int_equal(queue_retry(t->q, "postgres", "c", &b.items[0], &u1, 5, &err), 0);
    assert_int_equal(tq_int(t, "ZCARD %s:retry:postgres", t->prefix), 2);
    size_t moved = 99;
    assert_int_equal(queue_promote_due(t->q, "postgres", 999, 10, &moved, &err), 0);
    assert_int_equal(moved, 0);
    assert_int_equal(queue_promote_due(t->q, "postgres", 5000, 10, &moved, &err), 0);
    assert_int_equal(moved, 2);
    assert_int_equal(tq_int(t, "ZCARD %s:retry:postgres", t->prefix), 0);
    /* Due retries are taken next, earliest due first, before the queued n2. */
    assert_int_equal(queue_take(t->q, "postgres", "c", 3, 0, &b, &err), 0);
    assert_int_equal(b.count, 3);
    assert_string_equal(b.items[0].raw, "{\"retry\":1}");
    assert_string_equal(b.items[1].raw, "{\"retry\":0}");
    assert_nick(&b.items[2], "n2");
    relay_buf_fini(&u0);
    relay_buf_fini(&u1);
    queue_batch_fini(&b);
    tq_close(t);
}

static void promote_respects_max(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    for (int i = 0; i < 5; i++) {
        freeReplyObject(tq_cmd(t, "ZADD %s:retry:twenty %d e%d", t->prefix, 100 + i, i));
    }
    size_t moved = 0;
    assert_int_equal(queue_promote_due(t->q, "twenty", 1000, 3, &moved, &err), 0);
    assert_int_equal(moved, 3);
    assert_int_equal(tq_int(t, "ZCARD %s:retry:twenty", t->prefix), 2);
    redisReply *r = tq_cmd(t, "LINDEX %s:q:twenty -1", t->prefix);
    assert_string_equal(r->str, "e0");
    freeReplyObject(r);
    tq_close(t);
}

static void dead_with_cap(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    struct queue_batch b;
    queue_batch_init(&b);
    queue_n(t, 3);
    assert_int_equal(queue_take(t->q, "postgres", "c", 3, 0, &b, &err), 0);
    struct relay_buf u;
    relay_buf_init(&u);
    size_t dropped = 99;
    for (int i = 0; i < 3; i++) {
        relay_buf_reset(&u);
        assert_int_equal(relay_buf_printf(&u, "{\"dead\":%d}", i), 0);
        assert_int_equal(queue_dead(t->q, "postgres", "c", &b.items[i], &u, 2, &dropped, &err), 0);
        assert_int_equal(dropped, i == 2 ? 1 : 0);
    }
    assert_int_equal(tq_int(t, "LLEN %s:dead:postgres", t->prefix), 2);
    redisReply *r = tq_cmd(t, "LINDEX %s:dead:postgres 0", t->prefix);
    assert_string_equal(r->str, "{\"dead\":2}"); /* newest first */
    freeReplyObject(r);
    assert_int_equal(tq_stat(t, "dead:postgres"), 3);
    assert_int_equal(tq_stat(t, "dead_dropped:postgres"), 1);
    assert_int_equal(tq_int(t, "LLEN %s:inflight:postgres:c", t->prefix), 0);
    relay_buf_fini(&u);
    queue_batch_fini(&b);
    tq_close(t);
}

static void recover_dead_consumers_only(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    struct queue_batch b;
    queue_batch_init(&b);
    queue_n(t, 5);
    assert_int_equal(queue_heartbeat(t->q, "live:1:0", 60, "host=live pid=1", &err), 0);
    assert_true(tq_int(t, "TTL %s:consumer:live:1:0", t->prefix) > 50);
    assert_int_equal(queue_take(t->q, "postgres", "dead:2:0", 3, 0, &b, &err), 0);
    assert_int_equal(queue_take(t->q, "postgres", "live:1:0", 1, 0, &b, &err), 0);
    size_t moved = 0;
    assert_int_equal(queue_recover(t->q, &moved, &err), 0);
    assert_int_equal(moved, 3);
    assert_int_equal(tq_int(t, "EXISTS %s:inflight:postgres:dead:2:0", t->prefix), 0);
    assert_int_equal(tq_int(t, "LLEN %s:inflight:postgres:live:1:0", t->prefix), 1);
    assert_int_equal(tq_int(t, "LLEN %s:q:postgres", t->prefix), 4);
    /* They are taken first, in their original order. */
    assert_int_equal(queue_take(t->q, "postgres", "x", 4, 0, &b, &err), 0);
    assert_nick(&b.items[0], "n0");
    assert_nick(&b.items[1], "n1");
    assert_nick(&b.items[2], "n2");
    assert_nick(&b.items[3], "n4");
    /* A clean stop clears the heartbeat; the next recovery takes its list. */
    assert_int_equal(queue_heartbeat_clear(t->q, "live:1:0", &err), 0);
    assert_int_equal(queue_recover(t->q, &moved, &err), 0);
    assert_int_equal(moved, 5); /* live's n3 and x's four (x never had a heartbeat) */
    queue_batch_fini(&b);
    tq_close(t);
}

/* A prefix holding glob characters matches only its own keys in SCAN. */
static void recover_escapes_the_prefix(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    struct queue_conf conf = {.url = tq_url(), .prefix = "g*", .timeout_ms = 2000};
    struct queue *q = queue_open(&conf, &err);
    assert_non_null(q);
    freeReplyObject(tq_cmd(t, "DEL gX:inflight:postgres:c g*:inflight:postgres:c"));
    freeReplyObject(tq_cmd(t, "LPUSH gX:inflight:postgres:c other"));
    freeReplyObject(tq_cmd(t, "LPUSH g*:inflight:postgres:c mine"));
    size_t moved = 0;
    assert_int_equal(queue_recover(q, &moved, &err), 0);
    assert_int_equal(moved, 1);
    assert_int_equal(tq_int(t, "LLEN gX:inflight:postgres:c"), 1);
    assert_int_equal(tq_int(t, "LLEN g*:q:postgres"), 1);
    freeReplyObject(tq_cmd(t, "DEL gX:inflight:postgres:c g*:q:postgres"));
    queue_close(q);
    tq_close(t);
}

static void depths_and_stats(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    struct queue_batch b;
    queue_batch_init(&b);
    queue_n(t, 6); /* received_at = TS1, long ago */
    assert_int_equal(queue_take(t->q, "postgres", "a:1:1", 2, 0, &b, &err), 0);
    assert_int_equal(queue_take(t->q, "postgres", "b:1:1", 1, 0, &b, &err), 0);
    freeReplyObject(tq_cmd(t, "ZADD %s:retry:postgres 5 r", t->prefix));
    freeReplyObject(tq_cmd(t, "LPUSH %s:dead:postgres d1 d2", t->prefix));
    /* Another sink's in-flight list must not be counted. */
    freeReplyObject(tq_cmd(t, "LPUSH %s:inflight:postgresx:a x", t->prefix));
    struct queue_depths d;
    assert_int_equal(queue_depths(t->q, "postgres", &d, &err), 0);
    assert_int_equal(d.queued, 3);
    assert_int_equal(d.in_flight, 3);
    assert_int_equal(d.retrying, 1);
    assert_int_equal(d.dead, 2);
    int64_t age = queue_wall_ms() - queue_ts_to_ms(TS1, RELAY_TS_LEN);
    assert_true(d.oldest_queued_ms > age - 60000 && d.oldest_queued_ms <= age + 60000);
    assert_int_equal(queue_depths(t->q, "twenty", &d, &err), 0);
    assert_int_equal(d.queued + d.in_flight + d.retrying + d.dead + d.oldest_queued_ms, 0);
    json_t *stats = NULL;
    assert_int_equal(queue_stats(t->q, &stats, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(stats, "accepted")), 6);
    assert_int_equal(json_object_size(stats), 1);
    json_decref(stats);
    queue_batch_fini(&b);
    tq_close(t);
}

static void noscript_reloads(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    freeReplyObject(tq_cmd(t, "SCRIPT FLUSH"));
    queue_n(t, 1);
    assert_int_equal(tq_int(t, "LLEN %s:q:postgres", t->prefix), 1);
    tq_close(t);
}

/* ---- a redis-server of our own, to stop, freeze and restart ---- */

struct own_redis {
    pid_t pid;
    int port;
    char dir[64];
    char sock[96];
};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void own_start(struct own_redis *r, const char *password)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", r->port);
    r->pid = fork();
    assert_true(r->pid >= 0);
    if (r->pid == 0) {
        /* Dies with the test, even when an assertion or a crash ends it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", r->dir, "--unixsocket", r->sock, "--requirepass",
               password ? password : "", NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) { /* up to 10 s */
        redisContext *c = redisConnect("127.0.0.1", r->port);
        int up = c != NULL && c->err == 0;
        redisFree(c);
        if (up) {
            return;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("own redis-server did not start on port %d", r->port);
}

/* The running own server, so a failed test's teardown can stop it. */
static struct own_redis *own_current;

static void own_stop(struct own_redis *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

static void own_init(struct own_redis *r)
{
    memset(r, 0, sizeof(*r));
    own_current = r;
    r->port = free_port();
    snprintf(r->dir, sizeof(r->dir), "/tmp/tq-redis-%d-%d", (int)getpid(), r->port);
    snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", r->dir);
    mkdir(r->dir, 0700);
}

static void own_fini(struct own_redis *r)
{
    own_stop(r);
    unlink(r->sock);
    rmdir(r->dir);
    own_current = NULL;
}

/* Teardown of the tests with an own server: cmocka jumps out of a failed
 * test, so own_fini may not have run. */
static int own_teardown(void **state)
{
    (void)state;
    if (own_current != NULL) {
        own_fini(own_current);
    }
    return 0;
}

static int64_t elapsed_since(int64_t start)
{
    return queue_mono_ms() - start;
}

static void redis_down_fails_fast_then_reconnects(void **state)
{
    (void)state;
    struct own_redis r;
    own_init(&r);
    own_start(&r, NULL);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", r.port);
    struct queue_conf conf = {.url = url, .prefix = "down", .timeout_ms = 300};
    struct relay_error err = {0};
    struct queue *q = queue_open(&conf, &err);
    assert_non_null(q);
    assert_int_equal(queue_ping(q, &err), 0);
    own_stop(&r);
    /* Broken connection, then refused connects, then the backoff window:
     * every call fails with RELAY_EIO, none hangs. */
    int64_t start = queue_mono_ms();
    for (int i = 0; i < 5; i++) {
        assert_int_equal(queue_ping(q, &err), -1);
        assert_int_equal(err.code, RELAY_EIO);
    }
    assert_true(elapsed_since(start) < 3000);
    assert_non_null(strstr(err.msg, "next attempt"));
    struct queue_batch b;
    queue_batch_init(&b);
    assert_int_equal(queue_take(q, "postgres", "c", 5, 1000, &b, &err), -1);
    assert_int_equal(err.code, RELAY_EIO);
    queue_batch_fini(&b);
    /* Back up: the handle reconnects by itself (after its backoff). */
    own_start(&r, NULL);
    int ok = -1;
    for (int i = 0; i < 200 && ok != 0; i++) {
        ok = queue_ping(q, &err);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(ok, 0);
    queue_close(q);
    own_fini(&r);
}

static void frozen_redis_times_out(void **state)
{
    (void)state;
    struct own_redis r;
    own_init(&r);
    own_start(&r, NULL);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", r.port);
    struct queue_conf conf = {.url = url, .prefix = "frozen", .timeout_ms = 200};
    struct relay_error err = {0};
    struct queue *q = queue_open(&conf, &err);
    assert_non_null(q);
    assert_int_equal(queue_ping(q, &err), 0);
    kill(r.pid, SIGSTOP);
    int64_t start = queue_mono_ms();
    assert_int_equal(queue_ping(q, &err), -1);
    assert_int_equal(err.code, RELAY_EIO);
    assert_int_equal(queue_ping(q, &err), -1); /* reconnect: AUTH/SCRIPT LOAD time out */
    assert_true(elapsed_since(start) < 3000);
    kill(r.pid, SIGCONT);
    int ok = -1;
    for (int i = 0; i < 200 && ok != 0; i++) {
        ok = queue_ping(q, &err);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(ok, 0);
    queue_close(q);
    own_fini(&r);
}

static void unix_socket_and_password(void **state)
{
    (void)state;
    struct own_redis r;
    own_init(&r);
    own_start(&r, "s3cret");
    struct relay_error err = {0};
    char url[160];
    snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%d/2", r.port);
    struct queue_conf conf = {.url = url, .prefix = "pw", .timeout_ms = 1000};
    struct queue *q = queue_open(&conf, &err);
    assert_non_null(q);
    assert_int_equal(queue_heartbeat(q, "me", 60, "x", &err), 0);
    queue_close(q);
    /* The key landed in db 2. */
    redisContext *c = redisConnect("127.0.0.1", r.port);
    freeReplyObject(redisCommand(c, "AUTH s3cret"));
    freeReplyObject(redisCommand(c, "SELECT 2"));
    redisReply *rep = redisCommand(c, "EXISTS pw:consumer:me");
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    redisFree(c);
    /* A wrong password fails with RELAY_EIO naming AUTH. */
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", r.port);
    q = queue_open(&conf, &err);
    assert_non_null(q);
    assert_int_equal(queue_ping(q, &err), -1);
    assert_int_equal(err.code, RELAY_EIO);
    assert_non_null(strstr(err.msg, "AUTH"));
    queue_close(q);
    /* The Unix socket, without a password: NOAUTH is an error too. */
    snprintf(url, sizeof(url), "unix://%s?db=1", r.sock);
    q = queue_open(&conf, &err);
    assert_non_null(q);
    assert_int_equal(queue_ping(q, &err), -1);
    queue_close(q);
    own_fini(&r);
}

static void unix_socket_works(void **state)
{
    (void)state;
    struct own_redis r;
    own_init(&r);
    own_start(&r, NULL);
    struct relay_error err = {0};
    char url[160];
    snprintf(url, sizeof(url), "unix://%s?db=1", r.sock);
    struct queue_conf conf = {.url = url, .prefix = "ux", .timeout_ms = 1000};
    struct queue *q = queue_open(&conf, &err);
    assert_non_null(q);
    assert_int_equal(queue_heartbeat(q, "me", 60, "x", &err), 0);
    queue_close(q);
    redisContext *c = redisConnect("127.0.0.1", r.port);
    freeReplyObject(redisCommand(c, "SELECT 1"));
    redisReply *rep = redisCommand(c, "EXISTS ux:consumer:me");
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    redisFree(c);
    own_fini(&r);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_forms),
        cmocka_unit_test(key_helpers),
        cmocka_unit_test(accept_new_and_duplicate),
        cmocka_unit_test(arbiter_rules),
        cmocka_unit_test(instants_are_set_once),
        cmocka_unit_test(delete_wins_tie),
        cmocka_unit_test(fan_out_by_mask),
        cmocka_unit_test(accept_bad_input),
        cmocka_unit_test(take_fifo_batches),
        cmocka_unit_test(take_blocks_until_an_event_arrives),
        cmocka_unit_test(ack_removes_and_counts),
        cmocka_unit_test(ack_whole_list),
        cmocka_unit_test(retry_then_promote),
        cmocka_unit_test(promote_respects_max),
        cmocka_unit_test(dead_with_cap),
        cmocka_unit_test(recover_dead_consumers_only),
        cmocka_unit_test(recover_escapes_the_prefix),
        cmocka_unit_test(depths_and_stats),
        cmocka_unit_test(noscript_reloads),
        cmocka_unit_test_teardown(redis_down_fails_fast_then_reconnects, own_teardown),
        cmocka_unit_test_teardown(frozen_redis_times_out, own_teardown),
        cmocka_unit_test_teardown(unix_socket_and_password, own_teardown),
        cmocka_unit_test_teardown(unix_socket_works, own_teardown),
    };
    (void)tq_url(); /* fail at once, and loudly, without a server */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
