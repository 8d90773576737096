/* bigquery_payload: changelog rows and insertAll bodies byte for byte,
 * batch splitting by rows and bytes, and insertAll answer classification. */
#include "relay/mem.h"
#include "workers/sinks/bigquery_payload.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static struct relay_event *make_event(const char *fields_json)
{
    struct relay_event *ev = relay_event_create();
    assert_non_null(ev);
    memcpy(ev->id, "0123456789abcdef", 17);
    ev->source = RELAY_SOURCE_TWENTY;
    ev->op = RELAY_OP_UPSERT;
    ev->contact_id = relay_strdup("CNT-1");
    memcpy(ev->version, "2024-11-12T08:41:19.270000Z", RELAY_TS_LEN + 1);
    memcpy(ev->received_at, "2024-11-12T08:41:20.000001Z", RELAY_TS_LEN + 1);
    json_decref(ev->fields);
    ev->fields = json_loads(fields_json, 0, NULL);
    assert_non_null(ev->fields);
    json_decref(ev->changed);
    ev->changed = json_pack("[s,s,s]", "full_name", "tags", "updated_at");
    return ev;
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT);
}

static void row_has_header_then_fields_in_schema_order(void **state)
{
    (void)state;
    struct relay_event *ev =
        make_event("{\"tags\":null,\"full_name\":\"Ada \\u00e9\",\"sync_metadata\":{\"x\":1},"
                   "\"social_network\":{\"b\":1,\"a\":[true]},\"relationship_strength\":0.5,"
                   "\"updated_at\":\"2024-11-12T08:41:19.270000Z\",\"deleted_at\":null,"
                   "\"llm_context\":\"{\\\"k\\\":2}\",\"emails\":[\"a@x.org\"]}");
    ev->extra = json_pack("{s:{s:s}}", "twenty", "city", "London");
    struct relay_error err = {0};
    json_t *row = bigquery_payload_row(ev, ev->fields, &err);
    assert_non_null(row);
    char *text = dump(row);
    assert_string_equal(
        text,
        "{\"event_id\":\"0123456789abcdef\",\"op\":\"upsert\",\"source\":\"twenty\","
        "\"version\":\"2024-11-12T08:41:19.270000Z\",\"changed\":[\"full_name\",\"tags\","
        "\"updated_at\"],\"received_at\":\"2024-11-12T08:41:20.000001Z\",\"contact_id\":\"CNT-1\","
        "\"full_name\":\"Ada \xc3\xa9\",\"relationship_strength\":0.5,"
        "\"social_network\":\"{\\\"b\\\":1,\\\"a\\\":[true]}\",\"tags\":[],"
        "\"updated_at\":\"2024-11-12T08:41:19.270000Z\",\"deleted_at\":null,"
        "\"llm_context\":\"{\\\"k\\\":2}\",\"emails\":[\"a@x.org\"],"
        "\"extra\":\"{\\\"twenty\\\":{\\\"city\\\":\\\"London\\\"}}\"}");
    relay_free(text);
    json_decref(row);
    relay_event_destroy(ev);
}

static void row_without_contact_id_is_refused(void **state)
{
    (void)state;
    struct relay_event *ev = make_event("{}");
    relay_free(ev->contact_id);
    ev->contact_id = NULL;
    struct relay_error err = {0};
    assert_null(bigquery_payload_row(ev, ev->fields, &err));
    assert_int_equal(err.code, RELAY_EINVAL);
    relay_event_destroy(ev);
}

static void delete_row_carries_only_deleted_at(void **state)
{
    (void)state;
    struct relay_event *ev = make_event("{\"deleted_at\":\"2024-11-13T00:00:00.000000Z\"}");
    ev->op = RELAY_OP_DELETE;
    json_decref(ev->changed);
    ev->changed = json_pack("[s]", "deleted_at");
    json_t *row = bigquery_payload_row(ev, ev->fields, NULL);
    char *text = dump(row);
    assert_string_equal(text,
                        "{\"event_id\":\"0123456789abcdef\",\"op\":\"delete\",\"source\":"
                        "\"twenty\",\"version\":\"2024-11-12T08:41:19.270000Z\",\"changed\":"
                        "[\"deleted_at\"],\"received_at\":\"2024-11-12T08:41:20.000001Z\","
                        "\"contact_id\":\"CNT-1\",\"deleted_at\":\"2024-11-13T00:00:00.000000Z\"}");
    relay_free(text);
    json_decref(row);
    relay_event_destroy(ev);
}

/* n small rows {"i":k} with ids "idK". */
struct rows {
    json_t *rows[1200];
    char idbuf[1200][32];
    const char *ids[1200];
};

static void fill_rows(struct rows *r, size_t n, size_t pad)
{
    char *padding = relay_calloc(pad + 1, 1);
    memset(padding, 'x', pad);
    for (size_t i = 0; i < n; i++) {
        r->rows[i] = json_pack("{s:i,s:s}", "i", (int)i, "p", padding);
        snprintf(r->idbuf[i], sizeof(r->idbuf[i]), "id%zu", i);
        r->ids[i] = r->idbuf[i];
    }
    relay_free(padding);
}

static void free_rows(struct rows *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(r->rows[i]);
    }
}

static void body_bytes_exact(void **state)
{
    (void)state;
    static struct rows r;
    fill_rows(&r, 2, 0);
    struct relay_buf out;
    relay_buf_init(&out);
    size_t taken = 0;
    assert_int_equal(
        bigquery_payload_body(r.rows, r.ids, 2, 500, BIGQUERY_MAX_BYTES, &out, &taken, NULL), 0);
    assert_int_equal(taken, 2);
    assert_string_equal(out.data, "{\"skipInvalidRows\":false,\"ignoreUnknownValues\":false,"
                                  "\"rows\":[{\"insertId\":\"id0\",\"json\":{\"i\":0,\"p\":\"\"}},"
                                  "{\"insertId\":\"id1\",\"json\":{\"i\":1,\"p\":\"\"}}]}");
    relay_buf_fini(&out);
    free_rows(&r, 2);
}

static void body_splits_at_500_rows(void **state)
{
    (void)state;
    static struct rows r;
    fill_rows(&r, 1200, 0);
    size_t sizes[4] = {0};
    size_t at = 0, calls = 0;
    while (at < 1200) {
        struct relay_buf out;
        relay_buf_init(&out);
        size_t taken = 0;
        assert_int_equal(bigquery_payload_body(r.rows + at, r.ids + at, 1200 - at,
                                               BIGQUERY_MAX_ROWS, BIGQUERY_MAX_BYTES, &out, &taken,
                                               NULL),
                         0);
        json_t *parsed = json_loadb(out.data, out.len, 0, NULL);
        assert_int_equal(json_array_size(json_object_get(parsed, "rows")), taken);
        json_decref(parsed);
        relay_buf_fini(&out);
        sizes[calls++] = taken;
        at += taken;
    }
    assert_int_equal(calls, 3);
    assert_int_equal(sizes[0], 500);
    assert_int_equal(sizes[1], 500);
    assert_int_equal(sizes[2], 200);
    free_rows(&r, 1200);
}

static void body_splits_at_byte_limit(void **state)
{
    (void)state;
    static struct rows r;
    /* 5 rows of ~1 KiB with a 2.5 KiB limit: 2 + 2 + 1, each body within the limit. */
    fill_rows(&r, 5, 1000);
    size_t at = 0, calls = 0;
    size_t expect[] = {2, 2, 1};
    while (at < 5) {
        struct relay_buf out;
        relay_buf_init(&out);
        size_t taken = 0;
        assert_int_equal(
            bigquery_payload_body(r.rows + at, r.ids + at, 5 - at, 500, 2560, &out, &taken, NULL),
            0);
        assert_true(out.len <= 2560);
        assert_int_equal(taken, expect[calls]);
        relay_buf_fini(&out);
        calls++;
        at += taken;
    }
    free_rows(&r, 5);
}

static void body_refuses_a_row_larger_than_the_limit(void **state)
{
    (void)state;
    static struct rows r;
    fill_rows(&r, 2, 3000);
    struct relay_buf out;
    relay_buf_init(&out);
    size_t taken = 7;
    struct relay_error err = {0};
    assert_int_equal(bigquery_payload_body(r.rows, r.ids, 2, 500, 2560, &out, &taken, &err), -1);
    assert_int_equal(taken, 0);
    assert_int_equal(err.code, RELAY_ETOOBIG);
    assert_int_equal(out.len, 0);
    relay_buf_fini(&out);
    free_rows(&r, 2);
}

static enum bigquery_outcome classify(long status, const char *body, size_t n,
                                      enum bigquery_row *rows)
{
    struct relay_error err = {0};
    enum bigquery_outcome o = bigquery_payload_classify(status, body, strlen(body), n, rows, &err);
    if (o != BIGQUERY_ROWS || n > 0) {
        assert_true(strlen(err.msg) > 0 || o == BIGQUERY_ROWS);
    }
    return o;
}

static void classify_ok_and_per_row_errors(void **state)
{
    (void)state;
    enum bigquery_row rows[4];
    assert_int_equal(classify(200, "{\"kind\":\"bigquery#tableDataInsertAllResponse\"}", 4, rows),
                     BIGQUERY_ROWS);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rows[i], BIGQUERY_ROW_OK);
    }
    const char *answer =
        "{\"insertErrors\":[{\"index\":0,\"errors\":[{\"reason\":\"stopped\",\"message\":\"\"}]},"
        "{\"index\":1,\"errors\":[{\"reason\":\"invalid\",\"location\":\"tags\","
        "\"message\":\"Array specified for non-repeated field\"}]},"
        "{\"index\":2,\"errors\":[{\"reason\":\"backendError\"}]},"
        "{\"index\":3,\"errors\":[{\"reason\":\"stopped\"}]}]}";
    struct relay_error err = {0};
    assert_int_equal(bigquery_payload_classify(200, answer, strlen(answer), 4, rows, &err),
                     BIGQUERY_ROWS);
    assert_int_equal(rows[0], BIGQUERY_ROW_STOPPED);
    assert_int_equal(rows[1], BIGQUERY_ROW_REJECT);
    assert_int_equal(rows[2], BIGQUERY_ROW_RETRY);
    assert_int_equal(rows[3], BIGQUERY_ROW_STOPPED);
    assert_non_null(strstr(err.msg, "row 1: invalid"));
}

static void classify_bad_index_retries_whole_request(void **state)
{
    (void)state;
    enum bigquery_row rows[2];
    assert_int_equal(
        classify(200, "{\"insertErrors\":[{\"index\":2,\"errors\":[{\"reason\":\"invalid\"}]}]}", 2,
                 rows),
        BIGQUERY_RETRY);
    assert_int_equal(classify(200, "not json", 2, rows), BIGQUERY_RETRY);
}

static void classify_http_statuses(void **state)
{
    (void)state;
    enum bigquery_row rows[1];
    const char *rate = "{\"error\":{\"code\":403,\"errors\":[{\"reason\":\"rateLimitExceeded\"}]}}";
    const char *denied = "{\"error\":{\"code\":403,\"errors\":[{\"reason\":\"accessDenied\"}]}}";
    const char *bad = "{\"error\":{\"code\":400,\"errors\":[{\"reason\":\"invalid\"}]}}";
    const char *backend = "{\"error\":{\"code\":400,\"errors\":[{\"reason\":\"backendError\"}]}}";
    assert_int_equal(classify(503, "", 1, rows), BIGQUERY_RETRY);
    assert_int_equal(classify(500, "{}", 1, rows), BIGQUERY_RETRY);
    assert_int_equal(classify(429, "", 1, rows), BIGQUERY_RETRY);
    assert_int_equal(classify(408, "", 1, rows), BIGQUERY_RETRY);
    assert_int_equal(classify(404, "", 1, rows), BIGQUERY_RETRY);
    assert_int_equal(classify(403, rate, 1, rows), BIGQUERY_RETRY);
    assert_int_equal(classify(403, denied, 1, rows), BIGQUERY_AUTH);
    assert_int_equal(classify(401, "", 1, rows), BIGQUERY_AUTH);
    assert_int_equal(classify(400, bad, 1, rows), BIGQUERY_REJECT);
    assert_int_equal(classify(400, backend, 1, rows), BIGQUERY_RETRY);
    assert_int_equal(classify(413, "", 1, rows), BIGQUERY_REJECT);
}

int main(void)
{
    relay_mem_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(row_has_header_then_fields_in_schema_order),
        cmocka_unit_test(row_without_contact_id_is_refused),
        cmocka_unit_test(delete_row_carries_only_deleted_at),
        cmocka_unit_test(body_bytes_exact),
        cmocka_unit_test(body_splits_at_500_rows),
        cmocka_unit_test(body_splits_at_byte_limit),
        cmocka_unit_test(body_refuses_a_row_larger_than_the_limit),
        cmocka_unit_test(classify_ok_and_per_row_errors),
        cmocka_unit_test(classify_bad_index_retries_whole_request),
        cmocka_unit_test(classify_http_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
