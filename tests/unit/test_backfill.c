/* Unit tests of the pure parts of push and verify: backfill_compare's
 * rules (numbers by value, null text[] == [], "" != null, ids compared
 * only where set, Twenty's own times), backfill_event_from_contact
 * (version, changed, record id, errors) and progress_format. */
#include "mappers/mapper.h"
#include "relay/backfill_compare.h"
#include "relay/backfill_event.h"
#include "relay/mem.h"
#include "relay/progress.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_mapping_util.h"

#include <string.h>


static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        fail_msg("bad JSON: %s: %s", jerr.text, text);
    }
    return v;
}

static bool equal_text(const char *a, const char *b, bool is_text_array)
{
    json_t *ja = parse(a);
    json_t *jb = parse(b);
    bool eq = backfill_values_equal(ja, jb, is_text_array);
    json_decref(ja);
    json_decref(jb);
    return eq;
}

static void test_values_equal(void **state)
{
    (void)state;
    assert_true(equal_text("1", "1.0", false));
    assert_false(equal_text("1", "1.5", false));
    assert_true(equal_text("{\"a\":1,\"b\":[2.0]}", "{\"b\":[2],\"a\":1.0}", false));
    assert_false(equal_text("{\"a\":1}", "{\"a\":1,\"b\":null}", false));
    assert_true(equal_text("null", "[]", true));
    assert_false(equal_text("null", "[]", false));
    assert_false(equal_text("\"\"", "null", false));
    assert_false(equal_text("[\"a\",\"b\"]", "[\"b\",\"a\"]", true));
    assert_false(equal_text("\"1\"", "1", false));
}

/* Compares pg/sqlite/twenty copies given as JSON texts (NULL: missing). */
static json_t *compare3(const char *pg, const char *lite, const char *twenty)
{
    json_t *f[3] = {pg ? parse(pg) : NULL, lite ? parse(lite) : NULL,
                    twenty ? parse(twenty) : NULL};
    struct backfill_copy copies[3] = {
        {.label = "postgres", .system = MAPPER_SYS_POSTGRES, .fields = f[0]},
        {.label = "sqlite", .system = MAPPER_SYS_SQLITE, .fields = f[1]},
        {.label = "twenty", .system = MAPPER_SYS_TWENTY, .fields = f[2]},
    };
    struct relay_error err = {0};
    json_t *diffs = backfill_compare(mapping, copies, 3, &err);
    assert_non_null(diffs);
    for (int i = 0; i < 3; i++) {
        json_decref(f[i]);
    }
    return diffs;
}

static void assert_diffs(json_t *diffs, const char *expected)
{
    json_t *want = parse(expected);
    if (!json_equal(diffs, want)) {
        char *got = json_dumps(diffs, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("differences: %s", got);
    }
    json_decref(want);
    json_decref(diffs);
}

static void test_compare_fields(void **state)
{
    (void)state;
    assert_diffs(compare3("{\"job_title\":\"A\",\"nickname\":null,\"sync_metadata\":{\"x\":1}}",
                          "{\"job_title\":\"A\",\"nickname\":null,\"sync_metadata\":{}}",
                          "{\"job_title\":\"A\"}"),
                 "[]");
    assert_diffs(
        compare3("{\"job_title\":\"A\",\"tags\":[]}", "{\"job_title\":\"B\",\"tags\":null}", NULL),
        "[{\"field\":\"job_title\",\"values\":{\"postgres\":\"A\",\"sqlite\":\"B\"}}]");
    /* an absent key is not compared; "" is not null */
    assert_diffs(compare3("{\"nickname\":\"\"}", "{\"nickname\":null}", "{}"),
                 "[{\"field\":\"nickname\",\"values\":{\"postgres\":\"\",\"sqlite\":null}}]");
}

static void test_compare_ids_and_twenty_times(void **state)
{
    (void)state;
    /* an id not learnt yet is no difference; two ids are */
    assert_diffs(
        compare3("{\"supabase_id\":\"S1\"}", "{\"supabase_id\":null}", "{\"supabase_id\":\"S1\"}"),
        "[]");
    assert_diffs(
        compare3("{\"supabase_id\":\"S1\"}", "{\"supabase_id\":\"S2\"}", NULL),
        "[{\"field\":\"supabase_id\",\"values\":{\"postgres\":\"S1\",\"sqlite\":\"S2\"}}]");
    /* Twenty's own times: updated_at ignored, deleted_at as deleted or not */
    const char *pg = "{\"updated_at\":\"2025-01-01T00:00:00.000000Z\","
                     "\"deleted_at\":\"2025-01-02T00:00:00.000000Z\"}";
    assert_diffs(compare3(pg, pg,
                          "{\"updated_at\":\"2026-01-01T00:00:00.000000Z\","
                          "\"deleted_at\":\"2026-01-02T00:00:00.000000Z\"}"),
                 "[]");
    assert_diffs(
        compare3(pg, pg, "{\"deleted_at\":null}"),
        "[{\"field\":\"deleted_at\",\"values\":{\"postgres\":\"2025-01-02T00:00:00.000000Z\","
        "\"sqlite\":\"2025-01-02T00:00:00.000000Z\",\"twenty\":null}}]");
}

static struct relay_event *event_of(enum relay_source source, const char *fields,
                                    struct relay_error *err)
{
    struct backfill_contact c = {.fields = parse(fields)};
    struct relay_event *ev = backfill_event_from_contact(mapping, source, &c, err);
    json_decref(c.fields);
    return ev;
}

static void test_event(void **state)
{
    (void)state;
    struct relay_error err = {0};
    struct relay_event *ev = event_of(
        RELAY_SOURCE_SUPABASE,
        "{\"contact_id\":\"C-1\",\"supabase_id\":\"S-1\",\"twenty_id\":null,\"job_title\":\"X\","
        "\"sync_metadata\":{\"versions\":{}},\"updated_at\":\"2025-01-01T00:00:00.000000Z\"}",
        &err);
    assert_non_null(ev);
    assert_string_equal(ev->contact_id, "C-1");
    assert_string_equal(ev->record_id, "S-1");
    assert_string_equal(ev->version, "2025-01-01T00:00:00.000000Z");
    assert_int_equal(ev->op, RELAY_OP_UPSERT);
    assert_int_equal(ev->source, RELAY_SOURCE_SUPABASE);
    assert_int_equal(strlen(ev->id), RELAY_EVENT_ID_LEN);
    json_t *want = parse("[\"contact_id\",\"supabase_id\",\"job_title\",\"updated_at\"]");
    assert_true(json_equal(ev->changed, want));
    json_decref(want);
    assert_null(json_object_get(ev->fields, "sync_metadata"));
    char digests[4][RELAY_EVENT_ID_LEN + 1];
    backfill_event_digests(ev, digests);
    char expect[RELAY_EVENT_ID_LEN + 1];
    json_t *x = json_string("X");
    mapper_value_digest(x, expect);
    json_decref(x);
    assert_string_equal(digests[2], expect);
    relay_event_destroy(ev);

    ev = event_of(RELAY_SOURCE_SQLITE,
                  "{\"contact_id\":\"C-2\",\"created_at\":\"2024-05-01T00:00:00.000000Z\"}", &err);
    assert_string_equal(ev->version, "2024-05-01T00:00:00.000000Z");
    assert_string_equal(ev->record_id, "C-2");
    assert_string_equal(json_string_value(json_object_get(ev->fields, "updated_at")),
                        "2024-05-01T00:00:00.000000Z");
    relay_event_destroy(ev);
    ev = event_of(RELAY_SOURCE_BIGQUERY, "{\"contact_id\":\"C-3\"}", &err);
    assert_string_equal(ev->version, BACKFILL_VERSION_UNKNOWN);
    assert_false(ev->is_contact_id_derived);
    relay_event_destroy(ev);
    /* A Twenty record read without contactId (the reader put its id in
     * contact_id): the event says so, for push's P:xref lookup. */
    struct backfill_contact c = {.fields = parse("{\"contact_id\":\"T-4\",\"twenty_id\":\"T-4\"}"),
                                 .is_contact_id_derived = true};
    ev = backfill_event_from_contact(mapping, RELAY_SOURCE_TWENTY, &c, &err);
    json_decref(c.fields);
    assert_non_null(ev);
    assert_true(ev->is_contact_id_derived);
    assert_string_equal(ev->record_id, "T-4");
    relay_event_destroy(ev);
    assert_null(event_of(RELAY_SOURCE_TWENTY, "{\"contact_id\":\"\"}", &err));
    assert_int_equal(err.code, RELAY_EINVAL);
}

static void test_progress_format(void **state)
{
    (void)state;
    char line[256];
    progress_format(line, sizeof(line), "sqlite", 2500, 5000, 1000, 2.0, true);
    assert_string_equal(line, "push sqlite: [##########..........] 2500/5000 (50%) 500/s ETA 5s");
    progress_format(line, sizeof(line), "twenty", 120, -1, 120, 1.0, true);
    assert_string_equal(line, "push twenty: 120 120/s");
    progress_format(line, sizeof(line), "postgres", 0, 0, 0, 0.0, false);
    assert_string_equal(line, "push postgres: 0/0 (100%) 0/s");
    progress_format(line, sizeof(line), "bigquery", 10, 400000, 10, 1.0, false);
    assert_string_equal(line, "push bigquery: 10/400000 (0%) 10/s ETA 11h06m");
}

static int setup(void **state)
{
    relay_mem_init();
    return mapping_setup(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_equal),
        cmocka_unit_test(test_compare_fields),
        cmocka_unit_test(test_compare_ids_and_twenty_times),
        cmocka_unit_test(test_event),
        cmocka_unit_test(test_progress_format),
    };
    return cmocka_run_group_tests(tests, setup, mapping_teardown);
}
