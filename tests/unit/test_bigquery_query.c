/* bigquery_query: BigQuery REST f/v rows -> canonical contacts, and the
 * exact epoch-seconds TIMESTAMP conversion. */
#include "relay/mem.h"
#include "workers/sinks/bigquery_query.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void ts_ok(const char *text, const char *want)
{
    char out[RELAY_TS_LEN + 1];
    struct relay_error err = {0};
    assert_int_equal(bigquery_query_timestamp(text, out, &err), 0);
    assert_string_equal(out, want);
}

static void timestamps_are_exact(void **state)
{
    (void)state;
    ts_ok("1.73140087927E9", "2024-11-12T08:41:19.270000Z");
    ts_ok("1.731400879270001E9", "2024-11-12T08:41:19.270001Z");
    ts_ok("1731400879.999999", "2024-11-12T08:41:19.999999Z");
    ts_ok("1.7314008799999999E9", "2024-11-12T08:41:19.999999Z"); /* truncated, not rounded */
    ts_ok("1731400879", "2024-11-12T08:41:19.000000Z");
    ts_ok("0.0E0", "1970-01-01T00:00:00.000000Z");
    ts_ok("5.0E-1", "1970-01-01T00:00:00.500000Z");
    ts_ok("-1.0E0", "1969-12-31T23:59:59.000000Z");
    ts_ok("-1.5E-6", "1969-12-31T23:59:59.999998Z");
    ts_ok("2.53402300799999999E11", "9999-12-31T23:59:59.999999Z");
}

static void bad_timestamps_fail(void **state)
{
    (void)state;
    char out[RELAY_TS_LEN + 1];
    const char *bad[] = {"", "abc", "1.2.3", "1E", "1E99999", "2024-11-12T08:41:19Z", "E5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct relay_error err = {0};
        assert_int_equal(bigquery_query_timestamp(bad[i], out, &err), -1);
        assert_int_equal(err.code, RELAY_EINVAL);
    }
}

static void rows_decode_typed(void **state)
{
    (void)state;
    json_t *schema = json_loads(
        "{\"fields\":[{\"name\":\"contact_id\",\"type\":\"STRING\",\"mode\":\"NULLABLE\"},"
        "{\"name\":\"relationship_strength\",\"type\":\"FLOAT\",\"mode\":\"NULLABLE\"},"
        "{\"name\":\"n\",\"type\":\"INTEGER\"},{\"name\":\"b\",\"type\":\"BOOLEAN\"},"
        "{\"name\":\"updated_at\",\"type\":\"TIMESTAMP\",\"mode\":\"NULLABLE\"},"
        "{\"name\":\"social_network\",\"type\":\"JSON\",\"mode\":\"NULLABLE\"},"
        "{\"name\":\"tags\",\"type\":\"STRING\",\"mode\":\"REPEATED\"},"
        "{\"name\":\"emails\",\"type\":\"STRING\",\"mode\":\"REPEATED\"},"
        "{\"name\":\"full_name\",\"type\":\"STRING\",\"mode\":\"NULLABLE\"},"
        "{\"name\":\"r\",\"type\":\"RECORD\",\"fields\":[{\"name\":\"x\",\"type\":\"INT64\"}]},"
        "{\"name\":\"extra\",\"type\":\"JSON\"}]}",
        0, NULL);
    json_t *row = json_loads(
        "{\"f\":[{\"v\":\"CNT-1\"},{\"v\":\"0.75\"},{\"v\":\"-42\"},{\"v\":\"true\"},"
        "{\"v\":\"1.73140087927E9\"},{\"v\":\"{\\\"x\\\":[1,\\\"\\u00e9\\\"]}\"},"
        "{\"v\":[{\"v\":\"vip\"},{\"v\":\"\"}]},{\"v\":[]},{\"v\":null},"
        "{\"v\":{\"f\":[{\"v\":\"7\"}]}},"
        "{\"v\":\"{\\\"twenty\\\":{\\\"city\\\":\\\"London\\\"},\\\"supabase\\\":null}\"}]}",
        0, NULL);
    assert_non_null(schema);
    assert_non_null(row);
    struct relay_error err = {0};
    json_t *contact = bigquery_query_decode_row(schema, row, &err);
    assert_non_null(contact);
    char *text = json_dumps(contact, JSON_COMPACT);
    assert_string_equal(text, "{\"contact_id\":\"CNT-1\",\"relationship_strength\":0.75,\"n\":-42,"
                              "\"b\":true,\"updated_at\":\"2024-11-12T08:41:19.270000Z\","
                              "\"social_network\":{\"x\":[1,\"\xc3\xa9\"]},\"tags\":[\"vip\",\"\"],"
                              "\"emails\":[],\"full_name\":null,\"r\":{\"x\":7},"
                              "\"extra\":{\"twenty\":{\"city\":\"London\"}}}");
    relay_free(text);
    json_decref(contact);
    json_decref(row);
    json_decref(schema);
}

static void bad_rows_fail(void **state)
{
    (void)state;
    json_t *schema = json_loads("[{\"name\":\"a\",\"type\":\"FLOAT\"},{\"name\":\"j\","
                                "\"type\":\"JSON\"}]",
                                0, NULL);
    const char *rows[] = {
        "{\"f\":[{\"v\":\"1\"}]}",                     /* too few cells */
        "{\"f\":[{\"v\":\"x\"},{\"v\":null}]}",        /* not a number */
        "{\"f\":[{\"v\":\"Infinity\"},{\"v\":null}]}", /* not canonical */
        "{\"f\":[{\"v\":\"1\"},{\"v\":\"{oops\"}]}",   /* JSON that does not parse */
        "{\"f\":[{\"v\":1},{\"v\":null}]}",            /* cell not a string */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *row = json_loads(rows[i], 0, NULL);
        struct relay_error err = {0};
        assert_null(bigquery_query_decode_row(schema, row, &err));
        assert_int_equal(err.code, RELAY_EINVAL);
        json_decref(row);
    }
    json_decref(schema);
}

int main(void)
{
    relay_mem_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timestamps_are_exact),
        cmocka_unit_test(bad_timestamps_fail),
        cmocka_unit_test(rows_decode_typed),
        cmocka_unit_test(bad_rows_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
