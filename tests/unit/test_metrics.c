/* Unit tests for relay/metrics.c: counters move and render in Prometheus
 * text format. */
#include "relay/metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static char *render(struct relay_buf *b)
{
    relay_buf_reset(b);
    assert_int_equal(metrics_render(b), 0);
    return b->data;
}

static void requests_count_by_route_and_status(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    metrics_http_request(METRICS_ROUTE_TWENTY, 202);
    metrics_http_request(METRICS_ROUTE_TWENTY, 202);
    metrics_http_request(METRICS_ROUTE_SUPABASE, 401);
    metrics_http_request(METRICS_ROUTE_OTHER, 418); /* not in the table: "other" */
    char *text = render(&b);
    assert_non_null(strstr(text, "# TYPE syncrelay_http_requests_total counter\n"));
    assert_non_null(
        strstr(text, "syncrelay_http_requests_total{route=\"/v1/webhooks/twenty\",status=\"202\"} 2\n"));
    assert_non_null(
        strstr(text, "syncrelay_http_requests_total{route=\"/v1/webhooks/supabase\",status=\"401\"} 1\n"));
    assert_non_null(strstr(text, "syncrelay_http_requests_total{route=\"other\",status=\"other\"} 1\n"));
    relay_buf_fini(&b);
}

static void events_and_sinks_count(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    metrics_event(RELAY_SOURCE_SUPABASE, METRICS_ECHO);
    metrics_sink_written(RELAY_SINK_SQLITE, 200);
    metrics_sink_retried(RELAY_SINK_POSTGRES, 3);
    metrics_sink_dead(RELAY_SINK_BIGQUERY, 1);
    metrics_reconnect(METRICS_CONN_REDIS);
    metrics_event(RELAY_SOURCE_COUNT, METRICS_ECHO); /* out of range: ignored */
    char *text = render(&b);
    assert_non_null(strstr(text, "syncrelay_events_total{source=\"supabase\",outcome=\"echo\"} 1\n"));
    assert_non_null(strstr(text, "syncrelay_sink_written_total{sink=\"sqlite\"} 200\n"));
    assert_non_null(strstr(text, "syncrelay_sink_retried_total{sink=\"postgres\"} 3\n"));
    assert_non_null(strstr(text, "syncrelay_sink_dead_total{sink=\"bigquery\"} 1\n"));
    assert_non_null(strstr(text, "syncrelay_reconnects_total{target=\"redis\"} 1\n"));
    relay_buf_fini(&b);
}

static void batch_histogram_is_cumulative(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    metrics_batch_seconds(RELAY_SINK_TWENTY, 0.0005); /* <= 1 ms */
    metrics_batch_seconds(RELAY_SINK_TWENTY, 0.2);    /* <= 250 ms */
    metrics_batch_seconds(RELAY_SINK_TWENTY, 60);     /* +Inf */
    char *text = render(&b);
    assert_non_null(strstr(text, "syncrelay_batch_seconds_bucket{sink=\"twenty\",le=\"0.001\"} 1\n"));
    assert_non_null(strstr(text, "syncrelay_batch_seconds_bucket{sink=\"twenty\",le=\"0.1\"} 1\n"));
    assert_non_null(strstr(text, "syncrelay_batch_seconds_bucket{sink=\"twenty\",le=\"0.25\"} 2\n"));
    assert_non_null(strstr(text, "syncrelay_batch_seconds_bucket{sink=\"twenty\",le=\"10\"} 2\n"));
    assert_non_null(strstr(text, "syncrelay_batch_seconds_bucket{sink=\"twenty\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "syncrelay_batch_seconds_count{sink=\"twenty\"} 3\n"));
    assert_non_null(strstr(text, "syncrelay_batch_seconds_sum{sink=\"twenty\"} 60.200500\n"));
    relay_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(requests_count_by_route_and_status),
        cmocka_unit_test(events_and_sinks_count),
        cmocka_unit_test(batch_histogram_is_cumulative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
