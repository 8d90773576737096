/* Identity links against a real redis-server (tests/with-redis.sh): the
 * accept script sets P:xref:twenty:ID and P:xref:supabase:ID for an
 * accepted event only, and queue_xref_resolve gives a record that came
 * without contact_id the linked contact (and nothing else a round trip). */
#include "test_queue_util.h"

#define TS1 "2025-09-14T10:00:00.000000Z"
#define TS2 "2025-09-14T11:00:00.000000Z"
#define PG RELAY_SINK_BIT(RELAY_SINK_POSTGRES)

/* GET P:xref:SYSTEM:ID into out ("" when the key does not exist). */
static void xref_of(struct tq *t, const char *system, const char *id, char *out, size_t cap)
{
    redisReply *r = tq_cmd(t, "GET %s:xref:%s:%s", t->prefix, system, id);
    snprintf(out, cap, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

static long long xref_count(struct tq *t)
{
    redisReply *r = tq_cmd(t, "KEYS %s:xref:*", t->prefix);
    long long n = (long long)r->elements;
    freeReplyObject(r);
    return n;
}

/* An event of a record that came without contact_id, as the mappers make
 * it: contact_id = record_id, is_contact_id_derived set. */
static struct relay_event *derived_event(enum relay_source src, const char *record_id,
                                         const char *delivery)
{
    struct relay_event *ev =
        tq_event(src, RELAY_OP_UPSERT, record_id, TS2, delivery, "job_title", "\"COO\"", NULL);
    ev->is_contact_id_derived = true;
    return ev;
}

static void accept_links_both_ids(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    enum queue_verdict v;
    unsigned queued = 0;
    char got[64];
    struct relay_event *ev =
        tq_event(RELAY_SOURCE_SUPABASE, RELAY_OP_UPSERT, "C1", TS1, "d1", "job_title", "\"CTO\"",
                 "twenty_id", "\"T1\"", "supabase_id", "\"S1\"", NULL);
    assert_int_equal(tq_accept(t, ev, PG, &v, &queued, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    assert_int_equal(queued, PG);
    assert_int_equal(tq_int(t, "LLEN %s:q:postgres", t->prefix), 1);
    xref_of(t, "twenty", "T1", got, sizeof(got));
    assert_string_equal(got, "C1");
    xref_of(t, "supabase", "S1", got, sizeof(got));
    assert_string_equal(got, "C1");
    relay_event_destroy(ev);

    /* One id only; a null or empty id links nothing. */
    ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "C2", TS1, "d2", "twenty_id", "\"T2\"",
                  "supabase_id", "null", NULL);
    assert_int_equal(tq_accept(t, ev, PG, &v, &queued, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    relay_event_destroy(ev);
    ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "C3", TS1, "d3", "supabase_id", "\"\"",
                  NULL);
    assert_int_equal(tq_accept(t, ev, 0, &v, &queued, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    assert_int_equal(queued, 0);
    relay_event_destroy(ev);
    xref_of(t, "twenty", "T2", got, sizeof(got));
    assert_string_equal(got, "C2");
    assert_int_equal(xref_count(t), 3);
    /* The queued envelope is intact with the new argument layout. */
    struct relay_event *queued_ev = NULL;
    redisReply *r = tq_cmd(t, "LINDEX %s:q:postgres 0", t->prefix);
    assert_int_equal(relay_event_decode(r->str, r->len, &queued_ev, &err), 0);
    freeReplyObject(r);
    assert_string_equal(queued_ev->contact_id, "C2");
    assert_string_equal(json_string_value(json_object_get(queued_ev->fields, "twenty_id")), "T2");
    relay_event_destroy(queued_ev);
    tq_close(t);
}

static void no_link_unless_accepted(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    enum queue_verdict v;
    unsigned queued = 0;
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "C1", TS2, "d1",
                                      "job_title", "\"CTO\"", NULL);
    assert_int_equal(tq_accept(t, ev, PG, &v, &queued, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    relay_event_destroy(ev);
    assert_int_equal(xref_count(t), 0);

    /* The ids ride in fields, only job_title is a change. */
    static const struct {
        const char *delivery;
        const char *version;
        const char *job_title;
        enum queue_verdict want;
    } cases[] = {
        {"d1", TS2, "\"CEO\"", QUEUE_DUPLICATE}, /* a delivery seen before */
        {"d2", TS2, "\"CTO\"", QUEUE_ECHO},      /* the stored value again */
        {"d3", TS1, "\"CFO\"", QUEUE_STALE},     /* older than stored */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "C1", cases[i].version,
                      cases[i].delivery, "job_title", cases[i].job_title, NULL);
        json_object_set_new(ev->fields, "twenty_id", json_string("T9"));
        json_object_set_new(ev->fields, "supabase_id", json_string("S9"));
        assert_int_equal(tq_accept(t, ev, PG, &v, &queued, &err), 0);
        assert_int_equal(v, cases[i].want);
        assert_int_equal(queued, 0);
        relay_event_destroy(ev);
    }
    assert_int_equal(xref_count(t), 0);
    tq_close(t);
}

static void resolve_takes_the_linked_contact(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    freeReplyObject(tq_cmd(t, "SET %s:xref:supabase:S1 C1", t->prefix));
    freeReplyObject(tq_cmd(t, "SET %s:xref:twenty:T1 C1", t->prefix));

    /* A webhook record: contact_id only in ev, not in fields. */
    struct relay_event *ev = derived_event(RELAY_SOURCE_SUPABASE, "S1", "d1");
    char id[RELAY_EVENT_ID_LEN + 1];
    memcpy(id, ev->id, sizeof(id));
    assert_int_equal(queue_xref_resolve(t->q, ev, &err), 0);
    assert_string_equal(ev->contact_id, "C1");
    assert_string_equal(ev->record_id, "S1");
    assert_string_equal(ev->id, id);
    assert_string_equal(ev->delivery, "d1");
    assert_null(json_object_get(ev->fields, "contact_id"));
    relay_event_destroy(ev);

    /* A pushed record carries the derived id in fields too. */
    ev = derived_event(RELAY_SOURCE_TWENTY, "T1", "d2");
    json_object_set_new(ev->fields, "contact_id", json_string("T1"));
    assert_int_equal(queue_xref_resolve(t->q, ev, &err), 0);
    assert_string_equal(ev->contact_id, "C1");
    assert_string_equal(json_string_value(json_object_get(ev->fields, "contact_id")), "C1");
    relay_event_destroy(ev);

    /* Not linked, or linked under the other system: unchanged, no error. */
    ev = derived_event(RELAY_SOURCE_SUPABASE, "T1", "d3");
    assert_int_equal(queue_xref_resolve(t->q, ev, &err), 0);
    assert_string_equal(ev->contact_id, "T1");
    relay_event_destroy(ev);
    ev = derived_event(RELAY_SOURCE_TWENTY, "T404", "d4");
    assert_int_equal(queue_xref_resolve(t->q, ev, &err), 0);
    assert_string_equal(ev->contact_id, "T404");
    relay_event_destroy(ev);

    /* A record that carried its contact_id is never relinked. */
    ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "T1", TS2, "d5", "job_title", "\"COO\"",
                  NULL);
    assert_int_equal(queue_xref_resolve(t->q, ev, &err), 0);
    assert_string_equal(ev->contact_id, "T1");
    relay_event_destroy(ev);
    tq_close(t);
}

/* Only a derived contact id costs a round trip: with Redis unreachable the
 * others still succeed, a derived one fails with RELAY_EIO. */
static void resolve_round_trip_only_when_derived(void **state)
{
    (void)state;
    struct relay_error err = {0};
    struct queue_conf conf = {.url = "redis://127.0.0.1:1", .timeout_ms = 200};
    struct queue *q = queue_open(&conf, &err);
    assert_non_null(q);
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "C1", TS2, "d1",
                                      "job_title", "\"COO\"", NULL);
    assert_int_equal(queue_xref_resolve(q, ev, &err), 0);
    relay_event_destroy(ev);
    ev = derived_event(RELAY_SOURCE_TWENTY, "T1", "d2");
    assert_int_equal(queue_xref_resolve(q, ev, &err), -1);
    assert_int_equal(err.code, RELAY_EIO);
    assert_string_equal(ev->contact_id, "T1");
    relay_event_destroy(ev);
    queue_close(q);
}

/* The case: syncrelay's first write links the ids, and a later
 * record of that system without contact_id joins the contact instead of
 * starting a new one under its own id. */
static void echo_without_contact_id_joins_the_contact(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_error err = {0};
    enum queue_verdict v;
    unsigned queued = 0;
    /* The Twenty webhook for syncrelay's create: contactId C1, id T1. */
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "C1", TS1, "d1",
                                      "twenty_id", "\"T1\"", "job_title", "\"CTO\"", NULL);
    assert_int_equal(tq_accept(t, ev, PG, &v, &queued, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    relay_event_destroy(ev);
    /* A later Twenty update whose record lost contactId. */
    ev = derived_event(RELAY_SOURCE_TWENTY, "T1", "d2");
    assert_int_equal(queue_xref_resolve(t->q, ev, &err), 0);
    assert_int_equal(tq_accept(t, ev, PG, &v, &queued, &err), 0);
    assert_int_equal(v, QUEUE_ACCEPTED);
    relay_event_destroy(ev);
    assert_int_equal(tq_int(t, "EXISTS %s:contact:T1", t->prefix), 0);
    redisReply *r = tq_cmd(t, "HGET %s:contact:C1 job_title", t->prefix);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_memory_equal(r->str, TS2, RELAY_TS_LEN);
    freeReplyObject(r);
    struct relay_event *queued_ev = NULL;
    r = tq_cmd(t, "LINDEX %s:q:postgres 0", t->prefix);
    assert_int_equal(relay_event_decode(r->str, r->len, &queued_ev, &err), 0);
    freeReplyObject(r);
    assert_string_equal(queued_ev->contact_id, "C1");
    relay_event_destroy(queued_ev);
    tq_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_links_both_ids),
        cmocka_unit_test(no_link_unless_accepted),
        cmocka_unit_test(resolve_takes_the_linked_contact),
        cmocka_unit_test(resolve_round_trip_only_when_derived),
        cmocka_unit_test(echo_without_contact_id_joins_the_contact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
