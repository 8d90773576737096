/* Unit tests for relay/http_answer.c: the JSON bodies of every answer of
 * shared/spec/webhooks.md's table, escaping, and the reason phrases. */
#include "relay/http_answer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void expect_body(const struct http_answer *a, const char *want)
{
    struct relay_buf b;
    relay_buf_init(&b);
    assert_int_equal(http_answer_render(a, &b), 0);
    assert_string_equal(b.data, want);
    relay_buf_fini(&b);
}

static void accepted_lists_sinks_and_quarantine(void **state)
{
    (void)state;
    struct relay_event *ev = relay_event_create();
    assert_non_null(ev);
    memcpy(ev->id, "0f6c1d3e9a7b4c2d", 17);
    struct http_answer a = {.status = 202,
                            .state = "accepted",
                            .ev = ev,
                            .queued_mask = RELAY_SINK_BIT(RELAY_SINK_SQLITE) |
                                           RELAY_SINK_BIT(RELAY_SINK_BIGQUERY)};
    expect_body(&a, "{\"status\":\"accepted\",\"id\":\"0f6c1d3e9a7b4c2d\","
                    "\"queued\":[\"sqlite\",\"bigquery\"],\"quarantined\":[]}");
    ev->quarantined = json_object();
    json_object_set_new(ev->quarantined, "phones", json_string("letters in a phone"));
    json_object_set_new(ev->quarantined, "tags", json_string("not a string"));
    a.queued_mask = 0;
    expect_body(&a, "{\"status\":\"accepted\",\"id\":\"0f6c1d3e9a7b4c2d\","
                    "\"queued\":[],\"quarantined\":[\"phones\",\"tags\"]}");
    relay_event_destroy(ev);
}

static void dropped_and_errors_carry_a_reason(void **state)
{
    (void)state;
    struct http_answer a = {
        .status = 200, .state = "duplicate", .reason = "delivery already accepted"};
    expect_body(&a, "{\"status\":\"duplicate\",\"reason\":\"delivery already accepted\"}");
    a = (struct http_answer){.status = 400, .state = "error", .reason = "record.id: \"x\"\\\n\x01"};
    expect_body(&a, "{\"status\":\"error\",\"reason\":\"record.id: \\\"x\\\"\\\\\\u000a\\u0001\"}");
    a = (struct http_answer){.status = 200, .state = "ok"};
    expect_body(&a, "{\"status\":\"ok\"}");
}

static void phrases(void **state)
{
    (void)state;
    assert_string_equal(http_answer_phrase(202), "Accepted");
    assert_string_equal(http_answer_phrase(413), "Payload Too Large");
    assert_string_equal(http_answer_phrase(415), "Unsupported Media Type");
    assert_string_equal(http_answer_phrase(503), "Service Unavailable");
    assert_string_equal(http_answer_phrase(299), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepted_lists_sinks_and_quarantine),
        cmocka_unit_test(dropped_and_errors_carry_a_reason),
        cmocka_unit_test(phrases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
