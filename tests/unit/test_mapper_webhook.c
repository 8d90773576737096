/* mapper_decode_webhook beyond the fixtures: every rejected shape with its
 * message, event names old and new, changed semantics, quarantine (the
 * field left out, the reason named, the raw value kept in extra), absent
 * versus null, bigints, and mapper_value_digest. */
#include "mappers/mapper.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_mapping_util.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct result {
    int rc;
    struct relay_event *ev;
    struct relay_error err;
};

static struct result decode(enum relay_source source, const char *body)
{
    struct result r = {0};
    r.rc = mapper_decode_webhook(mapping, source, body, strlen(body), &r.ev, &r.err);
    return r;
}

static void expect_error(enum relay_source source, const char *body, const char *message)
{
    struct result r = decode(source, body);
    assert_int_equal(r.rc, -1);
    assert_null(r.ev);
    assert_int_equal(r.err.code, RELAY_EINVAL);
    assert_string_equal(r.err.msg, message);
}

static json_t *parse(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    return v;
}

static void assert_json(const json_t *got, const char *expected)
{
    json_t *want = parse(expected);
    if (!json_equal((json_t *)got, want)) {
        char *g = got != NULL ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
        fail_msg("got %s, expected %s", g ? g : "(null)", expected);
    }
    json_decref(want);
}

/* A Twenty body around a record (JSON text) and an updatedFields suffix. */
static struct result twenty(const char *event, const char *record, const char *updated)
{
    char body[8192];
    snprintf(body, sizeof(body), "{\"eventName\":\"%s\",\"webhookId\":\"w1\",\"record\":%s%s%s}",
             event, record, updated != NULL ? ",\"updatedFields\":" : "",
             updated != NULL ? updated : "");
    return decode(RELAY_SOURCE_TWENTY, body);
}

#define REC(extra) "{\"id\":\"t-1\",\"updatedAt\":\"2025-06-02T14:02:10.964Z\"" extra "}"
#define VERSION "2025-06-02T14:02:10.964000Z"

static void rejects_bad_bodies(void **state)
{
    (void)state;
    expect_error(RELAY_SOURCE_TWENTY, "{\"eventName\": ",
                 "body is not JSON: unexpected token near end of file at line 1 column 14");
    expect_error(RELAY_SOURCE_TWENTY, "nope",
                 "body is not JSON: '[' or '{' expected near 'nope' at line 1 column 4");
    expect_error(RELAY_SOURCE_TWENTY, "[1]", "twenty: body must be a JSON object");
    expect_error(RELAY_SOURCE_SUPABASE, "{\"a\":1,\"a\":2}",
                 "body is not JSON: duplicate object key near '\"a\"' at line 1 column 10");
    expect_error(RELAY_SOURCE_TWENTY, "{\"record\":{}}",
                 "twenty: \"eventName\" must be a string like \"person.updated\"");
    expect_error(RELAY_SOURCE_TWENTY, "{\"eventName\":\"person.updated\",\"record\":[]}",
                 "twenty: \"record\" must be an object");
    expect_error(RELAY_SOURCE_TWENTY, "{\"eventName\":\"person.updated\"}",
                 "twenty: \"record\" must be an object");
    expect_error(RELAY_SOURCE_TWENTY,
                 "{\"eventName\":\"person.updated\",\"record\":{\"updatedAt\":\"x\"}}",
                 "twenty: record has no \"id\"");
    expect_error(RELAY_SOURCE_TWENTY, "{\"eventName\":\"person.updated\",\"record\":{\"id\":\"\"}}",
                 "twenty: record has no \"id\"");
    expect_error(RELAY_SOURCE_TWENTY,
                 "{\"eventName\":\"person.updated\",\"record\":{\"id\":\"t-1\"}}",
                 "twenty: record has no \"updatedAt\"");
    expect_error(RELAY_SOURCE_TWENTY,
                 "{\"eventName\":\"person.updated\",\"record\":" REC("") ",\"updatedFields\":1}",
                 "twenty: \"updatedFields\" must be an array");
    expect_error(RELAY_SOURCE_BIGQUERY, "{}", "bigquery sends no webhooks");
}

static void rejects_bad_version(void **state)
{
    (void)state;
    struct result r =
        twenty("person.updated", "{\"id\":\"t-1\",\"updatedAt\":\"2025-06-02T14:02:10\"}", NULL);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.err.code, RELAY_EINVAL);
    assert_non_null(strstr(r.err.msg, "twenty: record \"updatedAt\": "));
    r = twenty("person.updated", "{\"id\":\"t-1\",\"updatedAt\":17}", NULL);
    assert_string_equal(r.err.msg, "twenty: record \"updatedAt\" must be a timestamp");
}

static void ignores_other_objects_and_actions(void **state)
{
    (void)state;
    struct result r = twenty("company.updated", REC(""), NULL);
    assert_int_equal(r.rc, MAPPER_IGNORED);
    assert_null(r.ev);
    assert_string_equal(r.err.msg, "twenty: object \"company\" is not synced");
    r = twenty("metadata.created", REC(""), NULL);
    assert_int_equal(r.rc, MAPPER_IGNORED);
    r = twenty("personal.updated", REC(""), NULL);
    assert_int_equal(r.rc, MAPPER_IGNORED);
    r = twenty("person.merged", REC(""), NULL);
    assert_int_equal(r.rc, MAPPER_IGNORED);
    assert_string_equal(r.err.msg, "twenty: event \"person.merged\" is not synced");
}

static void event_names_old_and_new(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum relay_op op;
        const char *changed;
    } cases[] = {
        {"person.created", RELAY_OP_UPSERT, "[\"twenty_id\",\"job_title\",\"updated_at\"]"},
        {"person.create", RELAY_OP_UPSERT, "[\"twenty_id\",\"job_title\",\"updated_at\"]"},
        {"person.updated", RELAY_OP_UPSERT, "[\"job_title\",\"updated_at\"]"},
        {"person.update", RELAY_OP_UPSERT, "[\"job_title\",\"updated_at\"]"},
        {"person.deleted", RELAY_OP_DELETE, "[\"deleted_at\"]"},
        {"person.delete", RELAY_OP_DELETE, "[\"deleted_at\"]"},
        {"person.destroyed", RELAY_OP_DESTROY, "[\"deleted_at\"]"},
        {"person.destroy", RELAY_OP_DESTROY, "[\"deleted_at\"]"},
        {"person.restored", RELAY_OP_UPSERT, "[\"job_title\",\"deleted_at\",\"updated_at\"]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* A create ignores updatedFields: every provided field changed. */
        struct result r = twenty(cases[i].name, REC(",\"jobTitle\":\"CDO\""), "[\"jobTitle\"]");
        assert_int_equal(r.rc, MAPPER_EVENT);
        assert_int_equal(r.ev->op, cases[i].op);
        assert_string_equal(r.ev->version, VERSION);
        assert_json(r.ev->changed, cases[i].changed);
        relay_event_destroy(r.ev);
    }
}

static void delete_uses_deleted_at_else_version(void **state)
{
    (void)state;
    struct result r =
        twenty("person.deleted", REC(",\"deletedAt\":\"2025-06-03T08:00:00Z\""), NULL);
    assert_json(json_object_get(r.ev->fields, "deleted_at"), "\"2025-06-03T08:00:00.000000Z\"");
    assert_json(r.ev->changed, "[\"deleted_at\"]");
    relay_event_destroy(r.ev);
    r = twenty("person.destroyed", REC(",\"deletedAt\":null"), NULL);
    assert_json(json_object_get(r.ev->fields, "deleted_at"), "\"" VERSION "\"");
    relay_event_destroy(r.ev);
}

static void restored_clears_deleted_at(void **state)
{
    (void)state;
    struct result r = twenty("person.restored", REC(",\"deletedAt\":\"2025-06-03T08:00:00Z\""),
                             "[\"deletedAt\"]");
    assert_int_equal(r.ev->op, RELAY_OP_UPSERT);
    assert_true(json_is_null(json_object_get(r.ev->fields, "deleted_at")));
    assert_json(r.ev->changed, "[\"deleted_at\",\"updated_at\"]");
    relay_event_destroy(r.ev);
}

static void updated_fields_are_top_level_names(void **state)
{
    (void)state;
    /* "name" is first_name and last_name; updatedBy is not a contact field;
     * syncMetadata is syncrelay's own, never a change. */
    struct result r =
        twenty("person.updated",
               REC(",\"name\":{\"firstName\":\"A\",\"lastName\":\"B\"},\"jobTitle\":\"x\","
                   "\"syncMetadata\":{},\"updatedBy\":{}"),
               "[\"name\",\"updatedBy\",\"syncMetadata\",\"unknownThing\"]");
    assert_json(r.ev->changed, "[\"first_name\",\"last_name\",\"updated_at\"]");
    assert_json(json_object_get(r.ev->fields, "sync_metadata"), "{}");
    relay_event_destroy(r.ev);
    /* No updatedFields: every provided field. */
    r = twenty("person.updated", REC(",\"jobTitle\":\"x\",\"syncMetadata\":{}"), NULL);
    assert_json(r.ev->changed, "[\"twenty_id\",\"job_title\",\"updated_at\"]");
    relay_event_destroy(r.ev);
    /* updatedFields null is the same as absent. */
    r = twenty("person.updated", REC(",\"jobTitle\":\"x\""), "null");
    assert_json(r.ev->changed, "[\"twenty_id\",\"job_title\",\"updated_at\"]");
    relay_event_destroy(r.ev);
}

static void absent_is_not_null(void **state)
{
    (void)state;
    struct result r = twenty("person.updated", REC(",\"supabaseId\":null"), NULL);
    assert_json(r.ev->fields, "{\"twenty_id\":\"t-1\",\"supabase_id\":null,"
                              "\"updated_at\":\"" VERSION "\"}");
    /* A null id never clears a known one: not a change. */
    assert_json(r.ev->changed, "[\"twenty_id\",\"updated_at\"]");
    assert_null(r.ev->extra);
    assert_null(r.ev->quarantined);
    relay_event_destroy(r.ev);
}

static void contact_id_from_record_or_id(void **state)
{
    (void)state;
    struct result r = twenty("person.updated", REC(",\"contactId\":\"CNT-1\""), NULL);
    assert_string_equal(r.ev->contact_id, "CNT-1");
    assert_string_equal(r.ev->record_id, "t-1");
    relay_event_destroy(r.ev);
    r = twenty("person.updated", REC(",\"contactId\":\"\""), NULL);
    assert_string_equal(r.ev->contact_id, "t-1");
    relay_event_destroy(r.ev);
}

static void quarantine_keeps_raw_value(void **state)
{
    (void)state;
    struct result r = twenty(
        "person.updated",
        REC(",\"jobTitle\":5,\"relationshipStrength\":\"0.5\",\"phones\":{\"primaryPhoneNumber\":"
            "\"7700 CALL ME\",\"primaryPhoneCallingCode\":\"+44\"},\"llmUpdatedAt\":"
            "\"2025-09-13T22:10:05\",\"tags\":[\"a\",1],\"nickname\":\"Jo\",\"city\":\"Bath\""),
        "[\"jobTitle\",\"relationshipStrength\",\"phones\",\"llmUpdatedAt\",\"tags\","
        "\"nickname\"]");
    assert_int_equal(r.rc, MAPPER_EVENT);
    /* Left out of fields and changed; the good field still goes through. */
    assert_json(r.ev->fields, "{\"twenty_id\":\"t-1\",\"nickname\":\"Jo\","
                              "\"updated_at\":\"" VERSION "\"}");
    assert_json(r.ev->changed, "[\"nickname\",\"updated_at\"]");
    assert_non_null(r.ev->quarantined);
    assert_int_equal(json_object_size(r.ev->quarantined), 5);
    assert_string_equal(json_string_value(json_object_get(r.ev->quarantined, "job_title")),
                        "expected text, got number");
    assert_string_equal(
        json_string_value(json_object_get(r.ev->quarantined, "relationship_strength")),
        "expected number, got text");
    assert_string_equal(json_string_value(json_object_get(r.ev->quarantined, "tags")),
                        "expected an array of text, got a non-text item");
    assert_non_null(json_object_get(r.ev->quarantined, "phones"));
    assert_non_null(json_object_get(r.ev->quarantined, "llm_updated_at"));
    /* Raw values under their Twenty keys, next to the unmapped ones. */
    assert_json(r.ev->extra,
                "{\"twenty\":{\"jobTitle\":5,\"relationshipStrength\":\"0.5\",\"phones\":"
                "{\"primaryPhoneNumber\":\"7700 CALL ME\",\"primaryPhoneCallingCode\":\"+44\"},"
                "\"llmUpdatedAt\":\"2025-09-13T22:10:05\",\"tags\":[\"a\",1],\"city\":\"Bath\"}}");
    relay_event_destroy(r.ev);
}

static void quarantine_composite_not_object(void **state)
{
    (void)state;
    struct result r = twenty("person.updated", REC(",\"name\":\"Ada Lovelace\""), "[\"name\"]");
    assert_json(r.ev->quarantined, "{\"first_name\":\"\\\"name\\\" is not an object\","
                                   "\"last_name\":\"\\\"name\\\" is not an object\"}");
    assert_json(r.ev->extra, "{\"twenty\":{\"name\":\"Ada Lovelace\"}}");
    assert_json(r.ev->changed, "[\"updated_at\"]");
    relay_event_destroy(r.ev);
    /* A null composite: each of its parts is null. */
    r = twenty("person.updated", REC(",\"name\":null"), "[\"name\"]");
    assert_json(r.ev->fields, "{\"twenty_id\":\"t-1\",\"first_name\":null,\"last_name\":null,"
                              "\"updated_at\":\"" VERSION "\"}");
    relay_event_destroy(r.ev);
}

static void twenty_json_text_fields(void **state)
{
    (void)state;
    /* Serialized JSON is parsed; "" is null; text that is not JSON stays text. */
    struct result r = twenty("person.updated",
                             REC(",\"llmContext\":\"{\\\"a\\\":[1,2]}\",\"aiInsights\":\"\","
                                 "\"relationshipType\":\"Board Member\""),
                             NULL);
    assert_json(json_object_get(r.ev->fields, "llm_context"), "{\"a\":[1,2]}");
    assert_true(json_is_null(json_object_get(r.ev->fields, "ai_insights")));
    assert_json(json_object_get(r.ev->fields, "relationship_type"), "\"board_member\"");
    relay_event_destroy(r.ev);
    r = twenty("person.updated", REC(",\"llmContext\":\"not json {\""), NULL);
    assert_json(json_object_get(r.ev->fields, "llm_context"), "\"not json {\"");
    assert_null(r.ev->quarantined);
    relay_event_destroy(r.ev);
}

/* A Supabase body; record/old_record are JSON texts (or "null"). */
static struct result supabase(const char *type, const char *table, const char *record,
                              const char *old)
{
    char body[8192];
    snprintf(body, sizeof(body),
             "{\"type\": \"%s\", \"table\": \"%s\", \"schema\": \"public\", \"record\": %s, "
             "\"old_record\": %s}",
             type, table, record, old);
    return decode(RELAY_SOURCE_SUPABASE, body);
}

#define ROW(extra) "{\"id\":\"s-1\",\"updated_at\":\"2024-11-12 08:41:19.27+00\"" extra "}"
#define SB_VERSION "2024-11-12T08:41:19.270000Z"

static void supabase_rejects_bad_bodies(void **state)
{
    (void)state;
    expect_error(RELAY_SOURCE_SUPABASE, "{\"type\":\"TRUNCATE\",\"table\":\"contacts\"}",
                 "supabase: \"type\" must be INSERT, UPDATE or DELETE");
    expect_error(RELAY_SOURCE_SUPABASE, "{\"table\":\"contacts\"}",
                 "supabase: \"type\" must be INSERT, UPDATE or DELETE");
    expect_error(RELAY_SOURCE_SUPABASE, "{\"type\":\"INSERT\",\"record\":{}}",
                 "supabase: \"table\" must be a string");
    struct result r = supabase("INSERT", "contacts", "[]", "null");
    assert_string_equal(r.err.msg, "supabase: \"record\" must be an object");
    r = supabase("INSERT", "contacts", "null", "null");
    assert_string_equal(r.err.msg, "supabase: \"record\" must be an object");
    r = supabase("DELETE", "contacts", "null", "null");
    assert_string_equal(r.err.msg, "supabase: a DELETE needs \"old_record\" as an object");
    r = supabase("UPDATE", "contacts", ROW(""), "7");
    assert_string_equal(r.err.msg, "supabase: \"old_record\" must be an object or null");
    r = supabase("INSERT", "contacts", "{\"updated_at\":\"2024-11-12T08:41:19Z\"}", "null");
    assert_string_equal(r.err.msg, "supabase: record has no \"id\"");
    r = supabase("DELETE", "contacts", "null", "{\"id\":5}");
    assert_string_equal(r.err.msg, "supabase: old_record has no \"id\"");
    r = supabase("INSERT", "contacts", "{\"id\":\"s-1\"}", "null");
    assert_string_equal(r.err.msg, "supabase: record has no \"updated_at\"");
    r = supabase("INSERT", "contacts", "{\"id\":\"s-1\",\"updated_at\":\"infinity\"}", "null");
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err.msg, "supabase: record \"updated_at\": "));
}

static void supabase_ignores_other_tables(void **state)
{
    (void)state;
    struct result r = supabase("INSERT", "companies", ROW(""), "null");
    assert_int_equal(r.rc, MAPPER_IGNORED);
    assert_null(r.ev);
    assert_string_equal(r.err.msg, "supabase: table \"companies\" is not synced");
}

static void supabase_update_diff(void **state)
{
    (void)state;
    /* Changed: values that differ, and a column on one side only. */
    struct result r = supabase(
        "UPDATE", "contacts",
        ROW(",\"company\":\"A\",\"nickname\":\"x\",\"tags\":[\"b\"],\"sync_metadata\":{\"v\":2}"),
        "{\"id\":\"s-1\",\"updated_at\":\"2024-11-01T00:00:00Z\",\"company\":\"A\","
        "\"tags\":[\"a\"],\"sync_metadata\":{\"v\":1}}");
    assert_int_equal(r.rc, MAPPER_EVENT);
    assert_json(r.ev->changed, "[\"nickname\",\"tags\",\"updated_at\"]");
    assert_string_equal(r.ev->version, SB_VERSION);
    assert_string_equal(r.ev->contact_id, "s-1");
    relay_event_destroy(r.ev);
    /* No old_record: every provided field. */
    r = supabase("UPDATE", "contacts", ROW(",\"company\":\"A\""), "null");
    assert_json(r.ev->changed, "[\"supabase_id\",\"company\",\"updated_at\"]");
    relay_event_destroy(r.ev);
}

static void supabase_extra_and_bigint(void **state)
{
    (void)state;
    /* Unmapped columns go to extra.supabase with every digit (bigint
     * beyond 2^53); the syncrelay-own extra column never does. */
    struct result r =
        supabase("INSERT", "contacts",
                 ROW(",\"crm_rank\":9007199254740993,\"extra\":{\"twenty\":{\"city\":\"x\"}},"
                     "\"full_name\":5,\"contact_id\":null"),
                 "null");
    assert_int_equal(r.rc, MAPPER_EVENT);
    json_t *rank = json_object_get(json_object_get(r.ev->extra, "supabase"), "crm_rank");
    assert_true(json_is_integer(rank));
    assert_true(json_integer_value(rank) == 9007199254740993LL);
    assert_json(r.ev->extra, "{\"supabase\":{\"full_name\":5,\"crm_rank\":9007199254740993}}");
    assert_json(r.ev->quarantined, "{\"full_name\":\"expected text, got number\"}");
    assert_string_equal(r.ev->contact_id, "s-1");
    assert_json(r.ev->fields, "{\"contact_id\":null,\"supabase_id\":\"s-1\","
                              "\"updated_at\":\"" SB_VERSION "\"}");
    relay_event_destroy(r.ev);
}

static void supabase_delete_soft(void **state)
{
    (void)state;
    struct result r = supabase("DELETE", "contacts", "null",
                               ROW(",\"deleted_at\":\"2024-11-12T09:00:00+01:00\""));
    assert_int_equal(r.ev->op, RELAY_OP_DELETE);
    assert_json(json_object_get(r.ev->fields, "deleted_at"), "\"2024-11-12T08:00:00.000000Z\"");
    assert_json(r.ev->changed, "[\"deleted_at\"]");
    relay_event_destroy(r.ev);
}

static void digest_is_order_independent(void **state)
{
    (void)state;
    char a[17], b[17], c[17];
    json_t *x = parse("{\"b\":[1,{\"y\":2,\"x\":1}],\"a\":\"é\"}");
    json_t *y = parse("{\"a\":\"é\",\"b\":[1,{\"x\":1,\"y\":2}]}");
    json_t *z = parse("{\"a\":\"é\",\"b\":[{\"x\":1,\"y\":2},1]}");
    mapper_value_digest(x, a);
    mapper_value_digest(y, b);
    mapper_value_digest(z, c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    /* The documented formula, computed independently. */
    const char *text = "{\"a\":\"é\",\"b\":[1,{\"x\":1,\"y\":2}]}";
    unsigned char md[SHA256_DIGEST_LENGTH];
    char want[17];
    SHA256((const unsigned char *)text, strlen(text), md);
    for (int i = 0; i < 8; i++) {
        snprintf(want + 2 * i, 3, "%02x", md[i]);
    }
    assert_string_equal(a, want);
    json_t *s = json_string("x");
    mapper_value_digest(s, c); /* a scalar digests too (JSON_ENCODE_ANY) */
    assert_int_equal(strlen(c), 16);
    json_decref(s);
    json_decref(x);
    json_decref(y);
    json_decref(z);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rejects_bad_bodies),
        cmocka_unit_test(rejects_bad_version),
        cmocka_unit_test(ignores_other_objects_and_actions),
        cmocka_unit_test(event_names_old_and_new),
        cmocka_unit_test(delete_uses_deleted_at_else_version),
        cmocka_unit_test(restored_clears_deleted_at),
        cmocka_unit_test(updated_fields_are_top_level_names),
        cmocka_unit_test(absent_is_not_null),
        cmocka_unit_test(contact_id_from_record_or_id),
        cmocka_unit_test(quarantine_keeps_raw_value),
        cmocka_unit_test(quarantine_composite_not_object),
        cmocka_unit_test(twenty_json_text_fields),
        cmocka_unit_test(supabase_rejects_bad_bodies),
        cmocka_unit_test(supabase_ignores_other_tables),
        cmocka_unit_test(supabase_update_diff),
        cmocka_unit_test(supabase_extra_and_bigint),
        cmocka_unit_test(supabase_delete_soft),
        cmocka_unit_test(digest_is_order_independent),
    };
    return cmocka_run_group_tests(tests, mapping_setup, mapping_teardown);
}
