/* Dead-letter tooling (queue_admin.c) against a real redis-server
 * (tests/with-redis.sh): filters, list, each, purge, replay with history,
 * dry runs, undecodable letters and paging over long lists. */
#include "test_queue_util.h"

#include <signal.h>

/* LPUSHes a dead letter for sink: source, contact, error code, error time. */
static void put_dead(struct tq *t, const char *sink, enum relay_source src, const char *contact,
                     const char *code, const char *first_error_at, int with_history)
{
    static int n;
    char delivery[32];
    char version[32];
    snprintf(delivery, sizeof(delivery), "dl%d", ++n);
    snprintf(version, sizeof(version), "2025-09-14T10:00:%02d.000000Z", n % 60);
    struct relay_event *ev =
        tq_event(src, RELAY_OP_UPSERT, contact, version, delivery, "nickname", "\"x\"", NULL);
    ev->attempts = 5;
    snprintf(ev->first_error_at, sizeof(ev->first_error_at), "%s", first_error_at);
    ev->error = json_pack("{s:s, s:s, s:s}", "class", "permanent", "code", code, "message", "no");
    if (with_history) {
        ev->history = json_pack("[{s:s}]", "code", "older");
    }
    struct relay_buf b;
    relay_buf_init(&b);
    struct relay_error err = {0};
    assert_int_equal(relay_event_encode(ev, &b, &err), 0);
    redisReply *r = redisCommand(t->raw, "LPUSH %s:dead:%s %b", t->prefix, sink, b.data, b.len);
    assert_non_null(r);
    freeReplyObject(r);
    relay_buf_fini(&b);
    relay_event_destroy(ev);
}

static void filter_matches(void **state)
{
    (void)state;
    struct relay_event *ev =
        tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "C9", "2025-09-14T10:00:00.000000Z", "d",
                 "nickname", "\"x\"", NULL);
    snprintf(ev->first_error_at, sizeof(ev->first_error_at), "2025-09-14T12:00:00.000000Z");
    ev->error = json_pack("{s:s}", "code", "http_400");
    struct queue_dead_filter f = {0};
    assert_true(queue_dead_matches(&f, ev));
    assert_true(queue_dead_matches(NULL, ev));
    assert_true(queue_dead_matches(&f, NULL));
    f.sink = "postgres";
    assert_true(queue_dead_matches(&f, NULL)); /* the sink is not the letter's business */
    f.source = "twenty";
    assert_true(queue_dead_matches(&f, ev));
    assert_false(queue_dead_matches(&f, NULL));
    f.source = "supabase";
    assert_false(queue_dead_matches(&f, ev));
    f.source = NULL;
    f.contact_id = "C9";
    f.error_code = "http_400";
    f.id = ev->id;
    assert_true(queue_dead_matches(&f, ev));
    f.error_code = "http_500";
    assert_false(queue_dead_matches(&f, ev));
    f.error_code = NULL;
    f.since = "2025-09-14T12:00:00.000000Z"; /* inclusive */
    assert_true(queue_dead_matches(&f, ev));
    f.since = "2025-09-14T12:00:00.000001Z";
    assert_false(queue_dead_matches(&f, ev));
    f.since = NULL;
    f.until = "2025-09-14"; /* a day prefix keeps the whole day */
    assert_true(queue_dead_matches(&f, ev));
    f.until = "2025-09-14T11:59:59.999999Z";
    assert_false(queue_dead_matches(&f, ev));
    /* error.at wins over first_error_at. */
    json_object_set_new(ev->error, "at", json_string("2025-09-14T11:00:00.000000Z"));
    assert_true(queue_dead_matches(&f, ev));
    /* No time at all never matches a time filter. */
    json_object_del(ev->error, "at");
    ev->first_error_at[0] = '\0';
    f.until = "2030";
    assert_false(queue_dead_matches(&f, ev));
    relay_event_destroy(ev);
}

struct seen {
    int count;
    char last_sink[32];
};

static int count_visit(void *ctx, const char *sink, const struct queue_item *item,
                       const struct relay_event *ev, struct relay_error *err)
{
    (void)item;
    (void)ev;
    (void)err;
    struct seen *s = ctx;
    s->count++;
    snprintf(s->last_sink, sizeof(s->last_sink), "%s", sink);
    return 0;
}

static int stop_visit(void *ctx, const char *sink, const struct queue_item *item,
                      const struct relay_event *ev, struct relay_error *err)
{
    count_visit(ctx, sink, item, ev, err);
    return 1;
}

static int failing_visit(void *ctx, const char *sink, const struct queue_item *item,
                         const struct relay_event *ev, struct relay_error *err)
{
    (void)ctx;
    (void)sink;
    (void)item;
    (void)ev;
    return relay_error_set(err, RELAY_EINVAL, "visitor failed");
}

static void list_and_each(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    put_dead(t, "postgres", RELAY_SOURCE_TWENTY, "A", "http_400", "2025-09-14T10:00:00.000000Z", 0);
    put_dead(t, "postgres", RELAY_SOURCE_TWENTY, "B", "http_500", "2025-09-15T10:00:00.000000Z", 0);
    put_dead(t, "twenty", RELAY_SOURCE_SUPABASE, "A", "http_400", "2025-09-16T10:00:00.000000Z", 0);
    struct queue_batch b;
    queue_batch_init(&b);
    assert_int_equal(queue_dead_list(t->q, "postgres", 0, 10, &b, &err), 0);
    assert_int_equal(b.count, 2);
    assert_int_equal(queue_dead_list(t->q, "postgres", 1, 10, &b, &err), 0);
    assert_int_equal(b.count, 1);
    assert_non_null(strstr(b.items[0].raw, "\"A\""));
    assert_int_equal(queue_dead_list(t->q, "postgres", 0, 0, &b, &err), 0);
    assert_int_equal(b.count, 0);
    queue_batch_fini(&b);
    struct queue_dead_filter f = {0};
    struct seen s = {0};
    assert_int_equal(queue_dead_each(t->q, &f, count_visit, &s, &err), 0);
    assert_int_equal(s.count, 3);
    f.contact_id = "A";
    s.count = 0;
    assert_int_equal(queue_dead_each(t->q, &f, count_visit, &s, &err), 0);
    assert_int_equal(s.count, 2);
    f.sink = "twenty";
    s.count = 0;
    assert_int_equal(queue_dead_each(t->q, &f, count_visit, &s, &err), 0);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.last_sink, "twenty");
    f = (struct queue_dead_filter){.since = "2025-09-15"};
    s.count = 0;
    assert_int_equal(queue_dead_each(t->q, &f, count_visit, &s, &err), 0);
    assert_int_equal(s.count, 2);
    s.count = 0;
    assert_int_equal(queue_dead_each(t->q, NULL, stop_visit, &s, &err), 0);
    assert_int_equal(s.count, 1);
    assert_int_equal(queue_dead_each(t->q, NULL, failing_visit, &s, &err), -1);
    assert_string_equal(err.msg, "visitor failed");
    tq_close(t);
}

static void replay_moves_with_history(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    put_dead(t, "postgres", RELAY_SOURCE_TWENTY, "A", "http_400", "2025-09-14T10:00:00.000000Z", 1);
    put_dead(t, "postgres", RELAY_SOURCE_TWENTY, "B", "http_500", "2025-09-14T10:00:00.000000Z", 0);
    put_dead(t, "postgres", RELAY_SOURCE_TWENTY, "C", "http_400", "2025-09-14T10:00:00.000000Z", 0);
    struct queue_dead_filter f = {.error_code = "http_400"};
    size_t n = 0;
    assert_int_equal(queue_dead_replay(t->q, &f, 1, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(tq_int(t, "LLEN %s:dead:postgres", t->prefix), 3);
    assert_int_equal(tq_int(t, "LLEN %s:q:postgres", t->prefix), 0);
    assert_int_equal(queue_dead_replay(t->q, &f, 0, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(tq_int(t, "LLEN %s:dead:postgres", t->prefix), 1);
    assert_int_equal(tq_int(t, "LLEN %s:q:postgres", t->prefix), 2);
    assert_int_equal(tq_stat(t, "replayed:postgres"), 2);
    /* Oldest first: A (pushed first) is at the consumer end. */
    redisReply *r = tq_cmd(t, "LINDEX %s:q:postgres -1", t->prefix);
    struct relay_event *ev = NULL;
    assert_int_equal(relay_event_decode(r->str, r->len, &ev, &err), 0);
    freeReplyObject(r);
    assert_string_equal(ev->contact_id, "A");
    assert_int_equal(ev->attempts, 0);
    assert_null(ev->error);
    assert_string_equal(ev->first_error_at, "");
    assert_int_equal(json_array_size(ev->history), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev->history, 0), "code")),
                        "older");
    json_t *last = json_array_get(ev->history, 1);
    assert_string_equal(json_string_value(json_object_get(last, "code")), "http_400");
    assert_int_equal(json_integer_value(json_object_get(last, "attempts")), 5);
    assert_string_equal(json_string_value(json_object_get(last, "first_error_at")),
                        "2025-09-14T10:00:00.000000Z");
    relay_event_destroy(ev);
    /* A second replay finds nothing left to move. */
    assert_int_equal(queue_dead_replay(t->q, &f, 0, &n, &err), 0);
    assert_int_equal(n, 0);
    /* By id. */
    r = tq_cmd(t, "LINDEX %s:dead:postgres 0", t->prefix);
    assert_int_equal(relay_event_decode(r->str, r->len, &ev, &err), 0);
    freeReplyObject(r);
    f = (struct queue_dead_filter){.id = ev->id, .sink = "postgres"};
    assert_int_equal(queue_dead_replay(t->q, &f, 0, &n, &err), 0);
    assert_int_equal(n, 1);
    relay_event_destroy(ev);
    assert_int_equal(tq_int(t, "EXISTS %s:dead:postgres", t->prefix), 0);
    tq_close(t);
}

static void purge_and_undecodable(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    put_dead(t, "sqlite", RELAY_SOURCE_TWENTY, "A", "x", "2025-09-14T10:00:00.000000Z", 0);
    freeReplyObject(tq_cmd(t, "LPUSH %s:dead:sqlite not-json", t->prefix));
    put_dead(t, "bigquery", RELAY_SOURCE_SUPABASE, "A", "x", "2025-09-14T10:00:00.000000Z", 0);
    size_t n = 0;
    /* Replay never moves what does not decode, even without a filter. */
    struct queue_dead_filter f = {.sink = "sqlite"};
    assert_int_equal(queue_dead_replay(t->q, &f, 1, &n, &err), 0);
    assert_int_equal(n, 1);
    f.source = "twenty";
    assert_int_equal(queue_dead_purge(t->q, &f, 1, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(queue_dead_purge(t->q, &f, 0, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(tq_int(t, "LLEN %s:dead:sqlite", t->prefix), 1);
    /* Purge all of every sink takes the undecodable one too. */
    assert_int_equal(queue_dead_purge(t->q, NULL, 0, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(tq_int(t, "EXISTS %s:dead:sqlite", t->prefix), 0);
    assert_int_equal(tq_int(t, "EXISTS %s:dead:bigquery", t->prefix), 0);
    tq_close(t);
}

static void paging_over_long_lists(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    for (int i = 0; i < 450; i++) {
        put_dead(t, "twenty", RELAY_SOURCE_SUPABASE, i % 2 ? "odd" : "even", "x",
                 "2025-09-14T10:00:00.000000Z", 0);
    }
    struct queue_dead_filter f = {.contact_id = "odd"};
    size_t n = 0;
    assert_int_equal(queue_dead_replay(t->q, &f, 0, &n, &err), 0);
    assert_int_equal(n, 225);
    assert_int_equal(tq_int(t, "LLEN %s:dead:twenty", t->prefix), 225);
    f.contact_id = NULL;
    struct seen s = {0};
    assert_int_equal(queue_dead_each(t->q, &f, count_visit, &s, &err), 0);
    assert_int_equal(s.count, 225);
    assert_int_equal(queue_dead_purge(t->q, &f, 0, &n, &err), 0);
    assert_int_equal(n, 225);
    assert_int_equal(tq_int(t, "LLEN %s:q:twenty", t->prefix), 225);
    tq_close(t);
}

static void admin_on_dead_redis(void **state)
{
    (void)state;
    struct queue_conf conf = {.url = "redis://127.0.0.1:1", .timeout_ms = 200};
    struct relay_error err = {0};
    struct queue *q = queue_open(&conf, &err);
    assert_non_null(q);
    size_t n = 0;
    assert_int_equal(queue_dead_replay(q, NULL, 0, &n, &err), -1);
    assert_int_equal(err.code, RELAY_EIO);
    assert_int_equal(queue_dead_purge(q, NULL, 1, &n, &err), -1);
    struct queue_batch b;
    queue_batch_init(&b);
    assert_int_equal(queue_dead_list(q, "postgres", 0, 5, &b, &err), -1);
    queue_batch_fini(&b);
    queue_close(q);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(filter_matches),
        cmocka_unit_test(list_and_each),
        cmocka_unit_test(replay_moves_with_history),
        cmocka_unit_test(purge_and_undecodable),
        cmocka_unit_test(paging_over_long_lists),
        cmocka_unit_test(admin_on_dead_redis),
    };
    (void)tq_url();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
