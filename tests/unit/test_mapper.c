/* mapper_decode_webhook on every shared fixture, asserting the whole
 * result: op, ids, version, every field value, changed exactly, extra,
 * quarantine, event id and delivery id. Then mapper_to_system for every
 * system on person.updated.mapped, field by field. */
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


static char *read_fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", RELAY_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        fail_msg("bad expected JSON: %s: %s", jerr.text, text);
    }
    return v;
}

/* Every key of expected equals the same key of actual, and no more keys. */
static void assert_object_is(const json_t *actual, const char *expected_text, const char *what)
{
    json_t *expected = parse(expected_text);
    const char *key;
    json_t *value;
    assert_true(json_is_object(actual));
    json_object_foreach(expected, key, value)
    {
        json_t *got = json_object_get(actual, key);
        if (got == NULL || !json_equal(got, value)) {
            char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
            char *e = json_dumps(value, JSON_ENCODE_ANY);
            fail_msg("%s.%s: got %s, expected %s", what, key, g ? g : "(absent)", e);
        }
    }
    json_object_foreach((json_t *)actual, key, value)
    {
        if (json_object_get(expected, key) == NULL) {
            fail_msg("%s: unexpected key %s", what, key);
        }
    }
    json_decref(expected);
}

static void assert_json_is(const json_t *actual, const char *expected_text, const char *what)
{
    json_t *expected = parse(expected_text);
    if (!json_equal((json_t *)actual, expected)) {
        char *g = json_dumps(actual, JSON_ENCODE_ANY);
        fail_msg("%s: got %s, expected %s", what, g, expected_text);
    }
    json_decref(expected);
}

static void hex16(const unsigned char *md, char out[17])
{
    for (int i = 0; i < 8; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

/* What the brief says a Twenty delivery id is, computed independently. */
static void twenty_delivery(const char *webhook, const char *id, const char *event,
                            const char *updated_at, char out[17])
{
    char buf[1024];
    size_t n = 0;
    const char *parts[] = {webhook, id, event, updated_at};
    for (int i = 0; i < 4; i++) {
        memcpy(buf + n, parts[i], strlen(parts[i]) + 1);
        n += strlen(parts[i]) + 1;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)buf, n, md);
    hex16(md, out);
}

struct expect {
    const char *file;
    enum relay_source source;
    enum relay_op op;
    const char *contact_id, *record_id, *version;
    const char *fields, *changed, *extra; /* extra NULL: none */
};

static struct relay_event *decode_ok(const struct expect *x)
{
    size_t len = 0;
    char *body = read_fixture(x->file, &len);
    struct relay_error err = {0};
    struct relay_event *ev = NULL;
    int rc = mapper_decode_webhook(mapping, x->source, body, len, &ev, &err);
    free(body);
    if (rc != MAPPER_EVENT) {
        fail_msg("%s: rc %d: %s", x->file, rc, err.msg);
    }
    assert_int_equal(ev->source, x->source);
    assert_int_equal(ev->op, x->op);
    assert_string_equal(ev->contact_id, x->contact_id);
    assert_string_equal(ev->record_id, x->record_id);
    /* The fixtures whose contact id is the record id are those whose
     * record carries no contact_id: ingress looks those up in P:xref. */
    assert_int_equal(ev->is_contact_id_derived, strcmp(x->contact_id, x->record_id) == 0);
    assert_string_equal(ev->version, x->version);
    assert_object_is(ev->fields, x->fields, "fields");
    assert_json_is(ev->changed, x->changed, "changed");
    if (x->extra == NULL) {
        assert_null(ev->extra);
    } else {
        assert_object_is(ev->extra, x->extra, "extra");
    }
    assert_null(ev->quarantined);
    /* The event id is the deterministic digest of source, record, op, version. */
    char id[17];
    memcpy(id, ev->id, sizeof(id));
    assert_int_equal(strlen(id), 16);
    relay_event_set_id(ev);
    assert_string_equal(id, ev->id);
    assert_int_equal(strlen(ev->received_at), 27);
    return ev;
}

#define ADA_ID "a1f3c5e7-2b4d-4f60-8a9c-1e3d5f7b9c02"
#define WEBHOOK_ID "c9f1a3e2-7b4d-4f0a-9e6c-2d5b8a1f4c70"
#define NO_LINK "{\"primaryLinkUrl\":\"\",\"primaryLinkLabel\":\"\",\"secondaryLinks\":null}"
#define ADA_LINK                                                                                   \
    "{\"primaryLinkUrl\":\"https://www.linkedin.com/in/ada-lovelace\",\"primaryLinkLabel\":\"\","  \
    "\"secondaryLinks\":[]}"
#define BY_DAEMON                                                                                  \
    "{\"source\":\"API\",\"workspaceMemberId\":null,\"name\":\"relay-daemon\",\"context\":{}}"
#define BY_GRACE                                                                                   \
    "{\"source\":\"MANUAL\",\"workspaceMemberId\":\"7d4c2b1a-3e5f-4a6b-8c9d-0e1f2a3b4c5d\","       \
    "\"name\":\"Grace Hopper\",\"context\":{}}"
#define ADA_EXTRA(updated_by)                                                                      \
    "{\"twenty\":{\"linkedinLink\":" ADA_LINK ",\"xLink\":" NO_LINK ",\"city\":\"London\","        \
    "\"avatarUrl\":\"\",\"position\":3,\"createdBy\":" BY_DAEMON ",\"updatedBy\":" updated_by      \
    ",\"companyId\":\"5d2e8f14-6a3b-4c7d-9e01-b2c3d4e5f607\"}}"
#define ADA_FIELDS(job, updated, deleted, phones)                                                  \
    "{\"twenty_id\":\"" ADA_ID "\",\"first_name\":\"Ada\",\"last_name\":\"Lovelace\","             \
    "\"job_title\":\"" job "\",\"created_at\":\"2025-06-02T09:15:30.118000Z\","                    \
    "\"updated_at\":\"" updated "\",\"deleted_at\":" deleted ","                                   \
    "\"emails\":[\"ada.lovelace@example.org\",\"ada@analytical.example\"],\"phones\":" phones "}"

static void twenty_person_created(void **state)
{
    (void)state;
    const struct expect x = {
        "twenty/person.created.json",
        RELAY_SOURCE_TWENTY,
        RELAY_OP_UPSERT,
        ADA_ID,
        ADA_ID,
        "2025-06-02T09:15:30.118000Z",
        ADA_FIELDS("Head of Analytics", "2025-06-02T09:15:30.118000Z", "null",
                   "[\"+447700900123\"]"),
        "[\"twenty_id\",\"first_name\",\"last_name\",\"job_title\",\"created_at\","
        "\"updated_at\",\"deleted_at\",\"emails\",\"phones\"]",
        ADA_EXTRA(BY_DAEMON)};
    struct relay_event *ev = decode_ok(&x);
    char want[17];
    twenty_delivery(WEBHOOK_ID, ADA_ID, "person.created", "2025-06-02T09:15:30.118Z", want);
    assert_string_equal(ev->delivery, want);
    relay_event_destroy(ev);
}

static void twenty_person_updated(void **state)
{
    (void)state;
    /* updatedFields ["jobTitle","phones","updatedBy"]: updatedBy is not a
     * contact field; updated_at rides along. */
    const struct expect x = {"twenty/person.updated.json",
                             RELAY_SOURCE_TWENTY,
                             RELAY_OP_UPSERT,
                             ADA_ID,
                             ADA_ID,
                             "2025-06-02T14:02:10.964000Z",
                             ADA_FIELDS("Chief Data Officer", "2025-06-02T14:02:10.964000Z", "null",
                                        "[\"+447700900456\",\"+442079460000\"]"),
                             "[\"job_title\",\"phones\",\"updated_at\"]",
                             ADA_EXTRA(BY_GRACE)};
    struct relay_event *ev = decode_ok(&x);
    char want[17];
    twenty_delivery(WEBHOOK_ID, ADA_ID, "person.updated", "2025-06-02T14:02:10.964Z", want);
    assert_string_equal(ev->delivery, want);
    relay_event_destroy(ev);
}

static void twenty_person_deleted(void **state)
{
    (void)state;
    const struct expect x = {"twenty/person.deleted.json",
                             RELAY_SOURCE_TWENTY,
                             RELAY_OP_DELETE,
                             ADA_ID,
                             ADA_ID,
                             "2025-06-03T08:44:52.210000Z",
                             ADA_FIELDS("Chief Data Officer", "2025-06-03T08:44:52.210000Z",
                                        "\"2025-06-03T08:44:52.210000Z\"",
                                        "[\"+447700900456\",\"+442079460000\"]"),
                             "[\"deleted_at\"]",
                             ADA_EXTRA(BY_GRACE)};
    struct relay_event *ev = decode_ok(&x);
    char want[17];
    twenty_delivery(WEBHOOK_ID, ADA_ID, "person.deleted", "2025-06-03T08:44:52.210Z", want);
    assert_string_equal(ev->delivery, want);
    relay_event_destroy(ev);
}

#define JURGEN_ID "b7e9d1c3-5f2a-4e8b-9d6c-3a1f5e7d9b24"

static void twenty_person_custom_fields(void **state)
{
    (void)state;
    /* The custom fields the map lacks go to extra.twenty and are no change. */
    const struct expect x = {
        "twenty/person.updated.custom-fields.json",
        RELAY_SOURCE_TWENTY,
        RELAY_OP_UPSERT,
        JURGEN_ID,
        JURGEN_ID,
        "2025-06-03T11:20:07.402000Z",
        "{\"twenty_id\":\"" JURGEN_ID "\",\"first_name\":\"Jürgen\",\"last_name\":\"Müller\","
        "\"job_title\":\"Procurement Lead\",\"created_at\":\"2025-05-28T07:01:44.503000Z\","
        "\"updated_at\":\"2025-06-03T11:20:07.402000Z\",\"deleted_at\":null,"
        "\"emails\":[\"j.mueller@example.ch\"],\"phones\":[\"+41441234567\"]}",
        "[\"updated_at\"]",
        "{\"twenty\":{\"linkedinLink\":" NO_LINK ",\"xLink\":" NO_LINK ",\"city\":\"Zürich\","
        "\"avatarUrl\":\"\",\"position\":7.5,\"createdBy\":" BY_DAEMON ",\"updatedBy\":" BY_DAEMON
        ",\"companyId\":null,"
        "\"externalProfile\":\"{\\\"crmId\\\":\\\"CUST-00917\\\",\\\"tags\\\":[\\\"vip\\\","
        "\\\"beta\\\"],\\\"score\\\":{\\\"value\\\":87.5,\\\"source\\\":\\\"model-v3\\\"},"
        "\\\"note\\\":\\\"line1\\\\nline2 \\\\\\\"quoted\\\\\\\"\\\"}\","
        "\"leadScore\":87.5,\"interests\":[\"PRODUCT_UPDATES\",\"WEBINARS\"],"
        "\"preferredChannel\":\"EMAIL\",\"isVip\":true}}"};
    struct relay_event *ev = decode_ok(&x);
    char want[17];
    twenty_delivery(WEBHOOK_ID, JURGEN_ID, "person.updated", "2025-06-03T11:20:07.402Z", want);
    assert_string_equal(ev->delivery, want);
    relay_event_destroy(ev);
}

#define MAPPED_ID "b7e2d4f6-1a3c-4e5f-9b8d-2c4e6f8a0b13"
#define MAPPED_FIELDS                                                                              \
    "{\"contact_id\":\"CNT-004711\",\"twenty_id\":\"" MAPPED_ID "\","                              \
    "\"supabase_id\":\"9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\","                                    \
    "\"full_name\":\"Prof. Dr. Jürgen Müller-Šimić\",\"display_name\":\"Jürgen Müller\","    \
    "\"name_prefix\":\"Prof. Dr.\",\"first_name\":\"Jürgen\",\"middle_name\":\"Karl\","           \
    "\"last_name\":\"Müller-Šimić\",\"name_suffix\":\"\",\"nickname\":\"Jü\","                 \
    "\"phonetic_name\":\"YUR-gen MUEL-ler\",\"company\":\"Example Bank AG\","                      \
    "\"job_title\":\"Head of Treasury\",\"department\":\"Treasury\","                              \
    "\"relationship_type\":\"board_member\",\"relationship_strength\":0.35,"                       \
    "\"social_network\":" SOCIAL ",\"tags\":[\"banking\",\"dach\",\"🏦 key-account\"],"          \
    "\"created_at\":\"2025-01-07T08:00:00.000000Z\",\"updated_at\":\"2025-09-14T10:20:31."         \
    "377000Z\","                                                                                   \
    "\"deleted_at\":null,\"llm_summary\":" SUMMARY ",\"llm_context\":" LLM_CONTEXT ","             \
    "\"ai_insights\":" AI_INSIGHTS ",\"communication_stats\":" STATS ","                           \
    "\"llm_updated_at\":\"2025-09-13T22:10:05.000000Z\",\"sync_metadata\":{\"origin\":\"twenty\"}" \
    ","                                                                                            \
    "\"emails\":[\"j.mueller@example-bank.de\",\"jm@private.example\"],"                           \
    "\"phones\":[\"+4930901820\",\"+4915123456789\"]}"
#define SOCIAL                                                                                     \
    "{\"linkedin\":\"https://www.linkedin.com/in/jmueller\",\"relationships\":[{\"contact_id\":"   \
    "\"CNT-000187\",\"type\":\"peer\"}]}"
#define SUMMARY                                                                                    \
    "\"Treasury head; cautious, prefers phone calls.\\nAsked for \\\"FX hedging\\\" deck.\""
#define LLM_CONTEXT "{\"last_thread\":\"fx hedging\",\"language\":\"de\"}"
#define AI_INSIGHTS                                                                                \
    "{\"intent\":\"evaluation\",\"churn_risk\":0.31,\"topics\":[\"fx\",\"hedging\"]}"
#define STATS "{\"emails_sent\":12,\"calls\":9,\"last_contacted_at\":\"2025-09-12T15:30:00Z\"}"
#define MAPPED_EXTRA                                                                               \
    "{\"twenty\":{\"linkedinLink\":{\"primaryLinkUrl\":\"https://www.linkedin.com/in/jmueller\","  \
    "\"primaryLinkLabel\":\"\",\"secondaryLinks\":[]},\"xLink\":" NO_LINK ",\"city\":\"Zürich\"," \
    "\"avatarUrl\":\"\",\"position\":7,\"createdBy\":{\"source\":\"IMPORT\","                      \
    "\"workspaceMemberId\":null,\"name\":\"CSV import\",\"context\":{}},\"updatedBy\":" BY_GRACE   \
    ",\"companyId\":null}}"

static struct relay_event *decode_mapped(void)
{
    /* updatedFields ["jobTitle","phones","tags","llmSummary","updatedBy"];
     * changed follows mapping order. */
    const struct expect x = {"twenty/person.updated.mapped.json",
                             RELAY_SOURCE_TWENTY,
                             RELAY_OP_UPSERT,
                             "CNT-004711",
                             MAPPED_ID,
                             "2025-09-14T10:20:31.377000Z",
                             MAPPED_FIELDS,
                             "[\"job_title\",\"tags\",\"llm_summary\",\"phones\",\"updated_at\"]",
                             MAPPED_EXTRA};
    return decode_ok(&x);
}

static void twenty_person_mapped(void **state)
{
    (void)state;
    struct relay_event *ev = decode_mapped();
    char want[17];
    twenty_delivery(WEBHOOK_ID, MAPPED_ID, "person.updated", "2025-09-14T10:20:31.377Z", want);
    assert_string_equal(ev->delivery, want);
    relay_event_destroy(ev);
}

static void twenty_company_ignored(void **state)
{
    (void)state;
    size_t len = 0;
    char *body = read_fixture("twenty/company.updated.json", &len);
    struct relay_error err = {0};
    struct relay_event *ev = (struct relay_event *)1;
    int rc = mapper_decode_webhook(mapping, RELAY_SOURCE_TWENTY, body, len, &ev, &err);
    free(body);
    assert_int_equal(rc, MAPPER_IGNORED);
    assert_null(ev);
    assert_string_equal(err.msg, "twenty: object \"company\" is not synced");
}

#define SB_ID "3f9c2a7e-8b41-4d2e-9a6f-1c5e7b0d4a92"
/* The Supabase fixtures' shared values; %s are job_title, middle_name,
 * tags, updated_at, deleted_at. */
static const char sb_fields_fmt[] =
    "{\"contact_id\":\"CNT-000187\",\"twenty_id\":null,\"supabase_id\":\"" SB_ID "\","
    "\"full_name\":\"Dr. María José Núñez-O'Connor\",\"display_name\":\"María José\","
    "\"name_prefix\":\"Dr.\",\"first_name\":\"María José\",\"middle_name\":%s,"
    "\"last_name\":\"Núñez-O'Connor\",\"name_suffix\":null,\"nickname\":\"Majo\","
    "\"phonetic_name\":\"ma-REE-ah ho-SEH\",\"company\":\"Northwind Logistics, Inc.\","
    "\"job_title\":\"%s\",\"department\":\"Procurement\",\"relationship_type\":\"client\","
    "\"relationship_strength\":0.72,\"social_network\":{\"linkedin\":"
    "\"https://www.linkedin.com/in/mjnunez\",\"relationships\":[{\"type\":\"reports_to\","
    "\"contact_id\":\"CNT-000042\"}]},\"tags\":%s,"
    "\"created_at\":\"2024-03-18T09:12:44.518203Z\",\"updated_at\":\"%s\",\"deleted_at\":%s,"
    "\"llm_summary\":\"Procurement lead evaluating a 3-year renewal — prefers email; asked "
    "about \\\"SSO + SCIM\\\" on 2024-11-04.\\nBudget owner.\","
    "\"llm_context\":{\"tone\":\"formal\",\"last_thread\":\"renewal pricing\"},"
    "\"ai_insights\":{\"intent\":\"renewal\",\"topics\":[\"pricing\",\"sso\",\"scim\"],"
    "\"sentiment\":{\"label\":\"positive\",\"score\":0.82},\"churn_risk\":0.14},"
    "\"communication_stats\":{\"meetings\":6,\"emails_sent\":41,\"emails_received\":37,"
    "\"last_contacted_at\":\"2024-11-04T16:02:00Z\"},"
    "\"llm_updated_at\":\"2024-11-05T14:22:58.431000Z\",\"sync_metadata\":{},"
    "\"emails\":[\"mj.nunez@northwind-logistics.com\",\"mariajose.n@example.org\"],"
    "\"phones\":[\"+14155550142\"]}";

static void sb_fields(char *out, size_t cap, const char *job, const char *middle, const char *tags,
                      const char *updated, const char *deleted)
{
    snprintf(out, cap, sb_fields_fmt, middle, job, tags, updated, deleted);
}

#define TAGS3 "[\"customer\",\"enterprise\",\"q4-renewal\"]"
#define TAGS4 "[\"customer\",\"enterprise\",\"q4-renewal\",\"champion\"]"

static void supabase_insert(void **state)
{
    (void)state;
    char fields[4096];
    sb_fields(fields, sizeof(fields), "Director of Procurement", "null", TAGS3,
              "2024-11-05T14:23:07.004917Z", "null");
    /* Every provided field except sync_metadata (syncrelay's own) and the
     * null twenty_id (a null id never clears a known one). */
    const struct expect x = {
        "supabase/contacts.insert.json",
        RELAY_SOURCE_SUPABASE,
        RELAY_OP_UPSERT,
        "CNT-000187",
        SB_ID,
        "2024-11-05T14:23:07.004917Z",
        fields,
        "[\"contact_id\",\"supabase_id\",\"full_name\",\"display_name\",\"name_prefix\","
        "\"first_name\",\"middle_name\",\"last_name\",\"name_suffix\",\"nickname\","
        "\"phonetic_name\",\"company\",\"job_title\",\"department\",\"relationship_type\","
        "\"relationship_strength\",\"social_network\",\"tags\",\"created_at\",\"updated_at\","
        "\"deleted_at\",\"llm_summary\",\"llm_context\",\"ai_insights\",\"communication_stats\","
        "\"llm_updated_at\",\"emails\",\"phones\"]",
        NULL};
    struct relay_event *ev = decode_ok(&x);
    assert_string_equal(ev->delivery, ev->id);
    relay_event_destroy(ev);
}

static void supabase_update(void **state)
{
    (void)state;
    char fields[4096];
    sb_fields(fields, sizeof(fields), "VP, Procurement", "\"Elena\"", TAGS4,
              "2024-11-12T08:41:19.270000Z", "null");
    const struct expect x = {"supabase/contacts.update.json",
                             RELAY_SOURCE_SUPABASE,
                             RELAY_OP_UPSERT,
                             "CNT-000187",
                             SB_ID,
                             "2024-11-12T08:41:19.270000Z",
                             fields,
                             "[\"middle_name\",\"job_title\",\"tags\",\"updated_at\"]",
                             NULL};
    struct relay_event *ev = decode_ok(&x);
    assert_string_equal(ev->delivery, ev->id);
    relay_event_destroy(ev);
}

static void supabase_delete(void **state)
{
    (void)state;
    char fields[4096];
    /* A hard DELETE: old_record is the row; deleted_at is the version. */
    sb_fields(fields, sizeof(fields), "VP, Procurement", "\"Elena\"", TAGS4,
              "2024-11-12T08:41:19.270000Z", "\"2024-11-12T08:41:19.270000Z\"");
    const struct expect x = {"supabase/contacts.delete.json",
                             RELAY_SOURCE_SUPABASE,
                             RELAY_OP_DELETE,
                             "CNT-000187",
                             SB_ID,
                             "2024-11-12T08:41:19.270000Z",
                             fields,
                             "[\"deleted_at\"]",
                             NULL};
    struct relay_event *ev = decode_ok(&x);
    assert_string_equal(ev->delivery, ev->id);
    relay_event_destroy(ev);
}

static bool in_list(const char *name, const char *const *list)
{
    for (; *list != NULL; list++) {
        if (strcmp(*list, name) == 0) {
            return true;
        }
    }
    return false;
}

/* row[column] is the canonical value, JSON-encoded as a string for the
 * names in `encoded`; extra sits in the `extra` column, encoded likewise
 * when is_extra_encoded. No other keys. */
static void assert_sql_row(const json_t *row, const char *sys, const char *const *encoded,
                           bool is_extra_encoded)
{
    json_t *want = parse(MAPPED_FIELDS);
    json_t *extra = parse(MAPPED_EXTRA);
    for (size_t i = 0; i < 30; i++) {
        const char *name = contact_field_name(i);
        const char *column = name;
        if (strcmp(name, "supabase_id") == 0 && strcmp(sys, "postgres") == 0) {
            column = "id"; /* the supabase_id is Postgres's own primary key */
        }
        json_t *got = json_object_get(row, column);
        json_t *expected = json_object_get(want, name);
        if (got == NULL) {
            fail_msg("%s: no column %s", sys, column);
        }
        if (in_list(name, encoded)) {
            if (!json_is_string(got)) {
                fail_msg("%s.%s: expected a JSON-encoded string", sys, column);
            }
            json_t *decoded = json_loads(json_string_value(got), JSON_DECODE_ANY, NULL);
            if (decoded == NULL || !json_equal(decoded, expected)) {
                fail_msg("%s.%s: encodes %s", sys, column, json_string_value(got));
            }
            json_decref(decoded);
        } else if (!json_equal(got, expected)) {
            fail_msg("%s.%s: wrong value", sys, column);
        }
    }
    json_t *got_extra = json_object_get(row, "extra");
    assert_non_null(got_extra);
    if (is_extra_encoded) {
        assert_true(json_is_string(got_extra));
        json_t *decoded = json_loads(json_string_value(got_extra), 0, NULL);
        assert_true(json_equal(decoded, extra));
        json_decref(decoded);
    } else {
        assert_true(json_equal(got_extra, extra));
    }
    assert_int_equal(json_object_size(row), 31);
    json_decref(want);
    json_decref(extra);
}

static json_t *mapped_row(enum mapper_system sys, unsigned flags)
{
    struct relay_event *ev = decode_mapped();
    struct relay_error err = {0};
    json_t *row = mapper_to_system(mapping, sys, ev->fields, ev->extra, flags, &err);
    if (row == NULL) {
        fail_msg("to_system %s: %s", mapper_system_name(sys), err.msg);
    }
    relay_event_destroy(ev);
    return row;
}

static void to_postgres(void **state)
{
    (void)state;
    static const char *const none[] = {NULL};
    json_t *row = mapped_row(MAPPER_SYS_POSTGRES, 0);
    assert_sql_row(row, "postgres", none, false);
    json_decref(row);
}

static void to_sqlite(void **state)
{
    (void)state;
    static const char *const encoded[] = {
        "social_network", "tags",   "llm_context", "ai_insights", "communication_stats",
        "sync_metadata",  "emails", "phones",      NULL};
    json_t *row = mapped_row(MAPPER_SYS_SQLITE, 0);
    assert_sql_row(row, "sqlite", encoded, true);
    /* Compact, key order kept, reals at their shortest: stored bytes. */
    assert_string_equal(json_string_value(json_object_get(row, "ai_insights")),
                        "{\"intent\":\"evaluation\",\"churn_risk\":0.31,\"topics\":[\"fx\","
                        "\"hedging\"]}");
    assert_string_equal(json_string_value(json_object_get(row, "tags")),
                        "[\"banking\",\"dach\",\"🏦 key-account\"]");
    json_decref(row);
}

static void to_bigquery(void **state)
{
    (void)state;
    static const char *const encoded[] = {"social_network",      "llm_context",   "ai_insights",
                                          "communication_stats", "sync_metadata", NULL};
    json_t *row = mapped_row(MAPPER_SYS_BIGQUERY, 0);
    assert_sql_row(row, "bigquery", encoded, true);
    assert_true(json_is_array(json_object_get(row, "tags")));
    json_decref(row);
}

#define TWENTY_BODY                                                                                \
    "{\"contactId\":\"CNT-004711\",\"supabaseId\":\"9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\","       \
    "\"fullName\":\"Prof. Dr. Jürgen Müller-Šimić\",\"displayName\":\"Jürgen Müller\","      \
    "\"namePrefix\":\"Prof. Dr.\",\"name\":{\"firstName\":\"Jürgen\","                            \
    "\"lastName\":\"Müller-Šimić\"},\"middleName\":\"Karl\",\"nameSuffix\":\"\","               \
    "\"nickname\":\"Jü\",\"phoneticName\":\"YUR-gen MUEL-ler\",\"companyName\":\"Example Bank "   \
    "AG\","                                                                                        \
    "\"jobTitle\":\"Head of Treasury\",\"department\":\"Treasury\","                               \
    "\"relationshipType\":\"BOARD_MEMBER\",\"relationshipStrength\":0.35,"                         \
    "\"socialNetwork\":" SOCIAL ",\"tags\":[\"banking\",\"dach\",\"🏦 key-account\"],"           \
    "\"llmSummary\":" SUMMARY ","                                                                  \
    "\"llmContext\":\"{\\\"last_thread\\\":\\\"fx hedging\\\",\\\"language\\\":\\\"de\\\"}\","     \
    "\"aiInsights\":\"{\\\"intent\\\":\\\"evaluation\\\",\\\"churn_risk\\\":0.31,"                 \
    "\\\"topics\\\":[\\\"fx\\\",\\\"hedging\\\"]}\","                                              \
    "\"communicationStats\":" STATS ",\"llmUpdatedAt\":\"2025-09-13T22:10:05.000000Z\","           \
    "\"syncMetadata\":{\"origin\":\"twenty\"},"                                                    \
    "\"emails\":{\"primaryEmail\":\"j.mueller@example-bank.de\","                                  \
    "\"additionalEmails\":[\"jm@private.example\"]},"                                              \
    "\"phones\":{\"primaryPhoneNumber\":\"30901820\",\"primaryPhoneCallingCode\":\"+49\","         \
    "\"additionalPhones\":[{\"number\":\"15123456789\",\"callingCode\":\"+49\"}]}}"

static void to_twenty(void **state)
{
    (void)state;
    /* No system keys (id, createdAt, updatedAt, deletedAt), no extra. */
    json_t *row = mapped_row(MAPPER_SYS_TWENTY, 0);
    assert_object_is(row, TWENTY_BODY, "twenty");
    json_decref(row);
    /* With MAPPER_WITH_SYSTEM_KEYS the four system keys are there too. */
    row = mapped_row(MAPPER_SYS_TWENTY, MAPPER_WITH_SYSTEM_KEYS);
    assert_string_equal(json_string_value(json_object_get(row, "id")), MAPPED_ID);
    assert_string_equal(json_string_value(json_object_get(row, "createdAt")),
                        "2025-01-07T08:00:00.000000Z");
    assert_string_equal(json_string_value(json_object_get(row, "updatedAt")),
                        "2025-09-14T10:20:31.377000Z");
    assert_true(json_is_null(json_object_get(row, "deletedAt")));
    assert_int_equal(json_object_size(row), 25 + 4);
    json_decref(row);
}

static void to_twenty_name_part(void **state)
{
    (void)state;
    /* Only first_name: the name composite carries just firstName (the
     * Twenty sink merges with the record it read). */
    json_t *fields = parse("{\"first_name\":\"Ada\"}");
    json_t *row = mapper_to_system(mapping, MAPPER_SYS_TWENTY, fields, NULL, 0, NULL);
    assert_object_is(row, "{\"name\":{\"firstName\":\"Ada\"}}", "twenty");
    json_decref(row);
    json_decref(fields);
}

static void to_canonical_is_identity(void **state)
{
    (void)state;
    json_t *want = parse(MAPPED_FIELDS);
    json_t *row = mapper_to_system(mapping, MAPPER_SYS_CANONICAL, want, NULL, 0, NULL);
    assert_true(json_equal(row, want));
    json_decref(row);
    json_decref(want);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(twenty_person_created),
        cmocka_unit_test(twenty_person_updated),
        cmocka_unit_test(twenty_person_deleted),
        cmocka_unit_test(twenty_person_custom_fields),
        cmocka_unit_test(twenty_person_mapped),
        cmocka_unit_test(twenty_company_ignored),
        cmocka_unit_test(supabase_insert),
        cmocka_unit_test(supabase_update),
        cmocka_unit_test(supabase_delete),
        cmocka_unit_test(to_postgres),
        cmocka_unit_test(to_sqlite),
        cmocka_unit_test(to_bigquery),
        cmocka_unit_test(to_twenty),
        cmocka_unit_test(to_twenty_name_part),
        cmocka_unit_test(to_canonical_is_identity),
    };
    return cmocka_run_group_tests(tests, mapping_setup, mapping_teardown);
}
