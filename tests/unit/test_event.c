/* Unit tests for relay/event.c: the queue envelope round trip, every decode
 * error, the routing table of contact.md, and the name tables.
 * `test_event --torture` makes each allocation of a decode/encode fail in
 * turn (label torture). */
#include "relay/event.h"
#include "relay/mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const char envelope[] =
    "{\"v\":1,\"id\":\"0f6c1d3e9a7b4c2d\",\"source\":\"twenty\",\"object\":\"contact\","
    "\"op\":\"upsert\",\"contact_id\":\"CNT-004711\",\"version\":\"2025-09-14T10:20:31.377000Z\","
    "\"received_at\":\"2025-09-14T10:20:31.702113Z\",\"fields\":{\"job_title\":\"CTO\","
    "\"tags\":[\"a\"],\"updated_at\":\"2025-09-14T10:20:31.377000Z\"},"
    "\"changed\":[\"job_title\",\"updated_at\"],\"extra\":{\"twenty\":{\"city\":\"London\"}},"
    "\"attempts\":2,\"record_id\":\"8f3c\",\"first_error_at\":\"2025-09-14T10:21:00.000000Z\","
    "\"error\":{\"class\":\"transient\",\"code\":\"io\",\"message\":\"down\"},"
    "\"history\":[{\"class\":\"permanent\",\"code\":\"x\",\"message\":\"y\"}]}";

static struct relay_event *decode_ok(const char *text)
{
    struct relay_event *ev = NULL;
    struct relay_error err = {0};
    if (relay_event_decode(text, strlen(text), &ev, &err) != 0) {
        fail_msg("decode: %s", err.msg);
    }
    return ev;
}

static char *encode_ok(const struct relay_event *ev, struct relay_buf *b)
{
    struct relay_error err = {0};
    relay_buf_reset(b);
    assert_int_equal(relay_event_encode(ev, b, &err), 0);
    return b->data;
}

static void decode_reads_every_member(void **state)
{
    (void)state;
    struct relay_event *ev = decode_ok(envelope);
    assert_string_equal(ev->id, "0f6c1d3e9a7b4c2d");
    assert_int_equal(ev->source, RELAY_SOURCE_TWENTY);
    assert_int_equal(ev->op, RELAY_OP_UPSERT);
    assert_string_equal(ev->contact_id, "CNT-004711");
    assert_string_equal(ev->record_id, "8f3c");
    assert_string_equal(ev->version, "2025-09-14T10:20:31.377000Z");
    assert_string_equal(ev->received_at, "2025-09-14T10:20:31.702113Z");
    assert_string_equal(ev->first_error_at, "2025-09-14T10:21:00.000000Z");
    assert_int_equal(ev->attempts, 2);
    assert_string_equal(json_string_value(json_object_get(ev->fields, "job_title")), "CTO");
    assert_int_equal(json_array_size(ev->changed), 2);
    assert_non_null(json_object_get(json_object_get(ev->extra, "twenty"), "city"));
    assert_string_equal(json_string_value(json_object_get(ev->error, "code")), "io");
    assert_int_equal(json_array_size(ev->history), 1);
    assert_null(ev->quarantined);
    relay_event_destroy(ev);
}

/* encode(decode(x)) == x as JSON, and decode(encode(ev)) == ev. */
static void round_trip(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    struct relay_event *ev = decode_ok(envelope);
    char *text = encode_ok(ev, &b);
    json_t *want = json_loads(envelope, 0, NULL);
    json_t *got = json_loads(text, 0, NULL);
    assert_true(json_equal(want, got));
    json_decref(want);
    json_decref(got);
    struct relay_event *again = decode_ok(text);
    struct relay_buf b2;
    relay_buf_init(&b2);
    assert_string_equal(encode_ok(again, &b2), text);
    relay_event_destroy(ev);
    relay_event_destroy(again);
    relay_buf_fini(&b);
    relay_buf_fini(&b2);
}

/* A minimal event: no record_id, extra, error, history or first_error_at. */
static void round_trip_minimal(void **state)
{
    (void)state;
    struct relay_event *ev = relay_event_create();
    assert_non_null(ev);
    ev->source = RELAY_SOURCE_SUPABASE;
    ev->op = RELAY_OP_DESTROY;
    ev->contact_id = relay_strdup("c1");
    memcpy(ev->version, "2024-11-12T08:41:19.270000Z", RELAY_TS_LEN + 1);
    relay_now_ts(ev->received_at);
    relay_event_set_id(ev);
    struct relay_buf b;
    relay_buf_init(&b);
    char *text = encode_ok(ev, &b);
    assert_null(strstr(text, "record_id"));
    assert_null(strstr(text, "first_error_at"));
    assert_null(strstr(text, "\"extra\""));
    struct relay_event *back = decode_ok(text);
    assert_string_equal(back->id, ev->id);
    assert_int_equal(back->source, RELAY_SOURCE_SUPABASE);
    assert_int_equal(back->op, RELAY_OP_DESTROY);
    assert_null(back->record_id);
    assert_null(back->extra);
    assert_string_equal(back->first_error_at, "");
    assert_string_equal(back->received_at, ev->received_at);
    relay_event_destroy(back);
    relay_event_destroy(ev);
    relay_buf_fini(&b);
}

/* Replaces the first occurrence of from in envelope with to. */
static void mutate(char *out, size_t size, const char *from, const char *to)
{
    const char *at = strstr(envelope, from);
    assert_non_null(at);
    snprintf(out, size, "%.*s%s%s", (int)(at - envelope), envelope, to, at + strlen(from));
}

static void every_decode_error(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {"\"v\":1", "\"v\":2", "event: unsupported envelope version"},
        {"\"v\":1", "\"v\":\"1\"", "event: unsupported envelope version"},
        {"\"v\":1,", "", "event: unsupported envelope version"},
        {"\"source\":\"twenty\"", "\"source\":\"hubspot\"", "event: unknown source or op"},
        {"\"source\":\"twenty\"", "\"source\":1", "event: unknown source or op"},
        {"\"op\":\"upsert\"", "\"op\":\"merge\"", "event: unknown source or op"},
        {"\"id\":\"0f6c1d3e9a7b4c2d\"", "\"id\":\"0f6c\"", "event: \"id\" must be 16 characters"},
        {"\"id\":\"0f6c1d3e9a7b4c2d\"", "\"id\":7", "event: \"id\" must be 16 characters"},
        {"\"contact_id\":\"CNT-004711\"", "\"contact_id\":\"\"", "event: missing \"contact_id\""},
        {"\"contact_id\":\"CNT-004711\"", "\"contact_id\":null", "event: missing \"contact_id\""},
        {"\"version\":\"2025-09-14T10:20:31.377000Z\"", "\"version\":5",
         "event: \"version\" must be a timestamp string"},
        {"\"version\":\"2025-09-14T10:20:31.377000Z\"",
         "\"version\":\"2025-09-14T10:20:31.3770000Z\"",
         "event: \"version\" must be a timestamp string"},
        {"\"received_at\":\"2025-09-14T10:20:31.702113Z\",", "",
         "event: \"received_at\" must be a timestamp string"},
        {"\"first_error_at\":\"2025-09-14T10:21:00.000000Z\"", "\"first_error_at\":false",
         "event: \"first_error_at\" must be a timestamp string"},
        {"\"fields\":{", "\"fields\":[],\"x\":{", "event: \"fields\" and \"changed\" required"},
        {"\"changed\":[\"job_title\",\"updated_at\"]", "\"changed\":{}",
         "event: \"fields\" and \"changed\" required"},
    };
    char text[2048];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mutate(text, sizeof(text), cases[i][0], cases[i][1]);
        struct relay_event *ev = (struct relay_event *)1;
        struct relay_error err = {0};
        assert_int_equal(relay_event_decode(text, strlen(text), &ev, &err), -1);
        assert_null(ev);
        assert_int_equal(err.code, RELAY_EINVAL);
        if (strcmp(err.msg, cases[i][2]) != 0) {
            fail_msg("case %zu: got %s, want %s", i, err.msg, cases[i][2]);
        }
    }
}

static void decode_rejects_non_objects(void **state)
{
    (void)state;
    static const char *const texts[] = {"", "[]", "\"x\"", "{", "{\"v\":1,\"v\":1}", "nul"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct relay_event *ev = NULL;
        struct relay_error err = {0};
        assert_int_equal(relay_event_decode(texts[i], strlen(texts[i]), &ev, &err), -1);
        assert_null(ev);
        assert_int_equal(err.code, RELAY_EINVAL);
        assert_memory_equal(err.msg, "event: not a JSON object", 24);
    }
}

static void ids_are_deterministic(void **state)
{
    (void)state;
    struct relay_event *a = relay_event_create();
    struct relay_event *b = relay_event_create();
    a->record_id = relay_strdup("r1");
    b->record_id = relay_strdup("r1");
    memcpy(a->version, "2024-11-12T08:41:19.270000Z", RELAY_TS_LEN + 1);
    memcpy(b->version, a->version, RELAY_TS_LEN + 1);
    relay_event_set_id(a);
    relay_event_set_id(b);
    assert_int_equal(strlen(a->id), RELAY_EVENT_ID_LEN);
    assert_string_equal(a->id, b->id);
    b->op = RELAY_OP_DELETE;
    relay_event_set_id(b);
    assert_string_not_equal(a->id, b->id);
    b->op = RELAY_OP_UPSERT;
    b->source = RELAY_SOURCE_SUPABASE;
    relay_event_set_id(b);
    assert_string_not_equal(a->id, b->id);
    relay_event_destroy(a);
    relay_event_destroy(b);
}

static void now_is_canonical(void **state)
{
    (void)state;
    char ts[RELAY_TS_LEN + 1];
    relay_now_ts(ts);
    assert_int_equal(strlen(ts), RELAY_TS_LEN);
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[26], 'Z');
}

/* contact.md, Routing: every enabled sink except the source system itself. */
static void routing_table(void **state)
{
    (void)state;
    const unsigned all = (1u << RELAY_SINK_COUNT) - 1;
    const unsigned pg = RELAY_SINK_BIT(RELAY_SINK_POSTGRES), sq = RELAY_SINK_BIT(RELAY_SINK_SQLITE);
    const unsigned bq = RELAY_SINK_BIT(RELAY_SINK_BIGQUERY), tw = RELAY_SINK_BIT(RELAY_SINK_TWENTY);
    assert_int_equal(relay_route(RELAY_SOURCE_TWENTY, all), pg | sq | bq);
    assert_int_equal(relay_route(RELAY_SOURCE_SUPABASE, all), sq | bq | tw);
    assert_int_equal(relay_route(RELAY_SOURCE_BIGQUERY, all), pg | sq | tw);
    assert_int_equal(relay_route(RELAY_SOURCE_SQLITE, all), pg | bq | tw);
    assert_int_equal(relay_route(RELAY_SOURCE_TWENTY, sq), sq);
    assert_int_equal(relay_route(RELAY_SOURCE_TWENTY, tw), 0);
    assert_int_equal(relay_route(RELAY_SOURCE_SUPABASE, pg | tw), tw);
    assert_int_equal(relay_route(RELAY_SOURCE_SUPABASE, 0), 0);
}

static void name_tables(void **state)
{
    (void)state;
    static const char *const sources[] = {"twenty", "supabase", "bigquery", "sqlite"};
    for (int i = 0; i < RELAY_SOURCE_COUNT; i++) {
        assert_string_equal(relay_source_name((enum relay_source)i), sources[i]);
        assert_int_equal(relay_source_parse(sources[i]), i);
    }
    static const char *const sinks[] = {"postgres", "sqlite", "bigquery", "twenty"};
    for (int i = 0; i < RELAY_SINK_COUNT; i++) {
        assert_string_equal(relay_sink_name((enum relay_sink)i), sinks[i]);
        assert_int_equal(relay_sink_parse(sinks[i]), i);
    }
    static const char *const ops[] = {"upsert", "delete", "destroy"};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(relay_op_name((enum relay_op)i), ops[i]);
        assert_int_equal(relay_op_parse(ops[i]), i);
    }
    assert_int_equal(relay_source_parse("Twenty"), -1);
    assert_int_equal(relay_source_parse(""), -1);
    assert_int_equal(relay_sink_parse("supabase"), -1);
    assert_int_equal(relay_op_parse("UPSERT"), -1);
    assert_string_equal(relay_source_name(RELAY_SOURCE_COUNT), "unknown");
    assert_string_equal(relay_sink_name(RELAY_SINK_COUNT), "unknown");
    assert_string_equal(relay_op_name((enum relay_op)7), "unknown");
    relay_event_destroy(NULL);
}

/* Torture: each allocation of decode and encode fails in turn. */
static void torture_decode_encode(void **state)
{
    (void)state;
    relay_mem_init(); /* jansson allocates through relay_malloc too */
    /* The very first allocation is jansson's lexer buffer: no error text,
     * so decode must say ENOMEM, not blame the input (event.c fix). */
    struct relay_event *none = NULL;
    struct relay_error first = {0};
    relay_mem_fail_after(1);
    assert_int_equal(relay_event_decode(envelope, strlen(envelope), &none, &first), -1);
    relay_mem_fail_after(0);
    assert_int_equal(first.code, RELAY_ENOMEM);
    assert_string_equal(first.msg, "event decode: out of memory");
    for (long n = 1;; n++) {
        struct relay_event *ev = NULL;
        struct relay_error err = {0};
        relay_mem_fail_after(n);
        int rc = relay_event_decode(envelope, strlen(envelope), &ev, &err);
        relay_mem_fail_after(0);
        if (rc != 0) {
            assert_null(ev);
            /* jansson reports an allocation failure inside its lexer as a
             * syntax error, so EINVAL is possible here; the rest is ENOMEM. */
            if (err.code != RELAY_ENOMEM && err.code != RELAY_EINVAL) {
                fail_msg("n=%ld: %s", n, err.msg);
            }
            assert_true(err.msg[0] != '\0');
            continue;
        }
        assert_non_null(ev);
        struct relay_buf b;
        relay_buf_init(&b);
        relay_mem_fail_after(n);
        rc = relay_event_encode(ev, &b, &err);
        relay_mem_fail_after(0);
        relay_buf_fini(&b);
        relay_event_destroy(ev);
        if (rc == 0) {
            assert_true(n > 5);
            return;
        }
        assert_int_equal(err.code, RELAY_ENOMEM);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_reads_every_member),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(round_trip_minimal),
        cmocka_unit_test(every_decode_error),
        cmocka_unit_test(decode_rejects_non_objects),
        cmocka_unit_test(ids_are_deterministic),
        cmocka_unit_test(now_is_canonical),
        cmocka_unit_test(routing_table),
        cmocka_unit_test(name_tables),
    };
    const struct CMUnitTest torture[] = {
        cmocka_unit_test(torture_decode_encode),
    };
    if (argc > 1 && strcmp(argv[1], "--torture") == 0) {
        return cmocka_run_group_tests_name("event_torture", torture, NULL, NULL);
    }
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
