/* The Twenty sink end to end against tests/fakes/fake_twenty.py on
 * loopback (started per test): create and batch create, PATCH with whole
 * composites, the read-before-write rule, soft delete and restore, lookup
 * by twenty_id and by a Twenty-born contact_id, and the error classes
 * (429, the older 400 rate-limit answer, 401, 5xx, a permanent 400), plus
 * pacing: an empty bucket defers events without sending anything. */
#include "mappers/mapper.h"
#include "relay/config.h"
#include "relay/event.h"
#include "workers/sink.h"
#include "workers/sinks/http_client.h"
#include "workers/sinks/twenty_rate.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

extern const struct sink_kind sink_twenty_kind;

#define LATE "2999-01-01T00:00:00.000000Z"  /* newer than anything Twenty holds */
#define EARLY "2020-01-01T00:00:00.000000Z" /* older than anything Twenty holds */

struct fixture {
    pid_t fake;
    char dir[64];
    char base[64];
    struct relay_config conf;
    struct mapping *mapping;
    struct sink_env env;
    void *sink;
    struct http_client *http;
};

static int start_fake(struct fixture *f)
{
    char port_file[128];
    snprintf(f->dir, sizeof(f->dir), "/tmp/twenty-test.XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    snprintf(port_file, sizeof(port_file), "%s/port", f->dir);
    f->fake = fork();
    if (f->fake == 0) {
        execl("/usr/bin/python3", "python3", RELAY_SOURCE_DIR "/tests/fakes/fake_twenty.py",
              "--port-file", port_file, "--api-key", "test-key", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *fp = fopen(port_file, "r");
        int port = 0;
        if (fp != NULL) {
            int n = fscanf(fp, "%d", &port);
            fclose(fp);
            if (n == 1 && port > 0) {
                snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", port);
                return 0;
            }
        }
        usleep(50000);
    }
    return -1;
}

static int setup(void **state)
{
    static char key[] = "test-key";
    struct fixture *f = calloc(1, sizeof(*f));
    struct relay_error err = {0};
    if (f == NULL || start_fake(f) != 0) {
        return -1;
    }
    f->conf.twenty.url = f->base;
    f->conf.twenty.api_key = key;
    f->conf.twenty.rate_limit_per_min = 600000;
    twenty_rate_shared_reset(600000); /* plenty: pacing has its own test */
    f->mapping = mapping_load(NULL, &err);
    if (f->mapping == NULL) {
        fprintf(stderr, "mapping: %s\n", err.msg);
        return -1;
    }
    f->env.conf = &f->conf;
    f->env.mapping = f->mapping;
    f->sink = sink_twenty_kind.open(&f->env, &err);
    f->http = http_client_create(5000, &err);
    *state = f;
    return f->sink != NULL && f->http != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    sink_twenty_kind.close(f->sink);
    http_client_destroy(f->http);
    mapping_destroy(f->mapping);
    kill(f->fake, SIGTERM);
    waitpid(f->fake, NULL, 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", f->dir);
    }
    free(f);
    return 0;
}

/* A control call to the fake; returns the parsed answer (owned). */
static json_t *control(struct fixture *f, const char *method, const char *path, const char *body)
{
    char url[256];
    struct http_response resp;
    http_response_init(&resp);
    snprintf(url, sizeof(url), "%s%s", f->base, path);
    const char *headers[] = {"Content-Type: application/json", NULL};
    assert_int_equal(http_client_request(f->http, method, url, headers, body,
                                         body != NULL ? strlen(body) : 0, &resp, NULL),
                     0);
    json_t *answer = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    http_response_fini(&resp);
    assert_non_null(answer);
    return answer;
}

/* Every record the fake holds (soft-deleted included). */
static json_t *records(struct fixture *f)
{
    json_t *a = control(f, "GET", "/_control/records", NULL);
    json_t *list = json_incref(json_object_get(a, "records"));
    json_decref(a);
    return list;
}

static json_t *record_by_contact(json_t *list, const char *contact_id)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        const char *c = json_string_value(json_object_get(r, "contactId"));
        if (c != NULL && strcmp(c, contact_id) == 0) {
            return r;
        }
    }
    return NULL;
}

static long long stat_count(struct fixture *f, const char *group, const char *name)
{
    json_t *a = control(f, "GET", "/_control/stats", NULL);
    json_t *v = group != NULL ? json_object_get(json_object_get(a, group), name)
                              : json_object_get(a, name);
    long long n = json_integer_value(v);
    json_decref(a);
    return n;
}

/* An event from Supabase: fields as JSON text; changed = every field key
 * unless changed_json is given. */
static struct relay_event *event(enum relay_op op, const char *contact_id, const char *version,
                                 const char *fields_json, const char *changed_json)
{
    struct relay_event *ev = relay_event_create();
    assert_non_null(ev);
    ev->source = RELAY_SOURCE_SUPABASE;
    ev->op = op;
    ev->contact_id = strdup(contact_id);
    snprintf(ev->version, sizeof(ev->version), "%s", version);
    json_decref(ev->fields);
    ev->fields = json_loads(fields_json, 0, NULL);
    assert_non_null(ev->fields);
    json_object_set_new(ev->fields, "updated_at", json_string(version));
    json_decref(ev->changed);
    if (changed_json != NULL) {
        ev->changed = json_loads(changed_json, 0, NULL);
    } else {
        ev->changed = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(ev->fields, k, v)
        {
            json_array_append_new(ev->changed, json_string(k));
        }
    }
    assert_non_null(ev->changed);
    relay_event_set_id(ev);
    return ev;
}

/* Writes evs through the sink; returns the overall status. */
static enum sink_status write_events(struct fixture *f, struct relay_event **evs, size_t n,
                                     enum sink_status *status, struct relay_error *err)
{
    return sink_twenty_kind.write(f->sink, evs, n, status, err);
}

static enum sink_status write_one(struct fixture *f, struct relay_event *ev,
                                  struct relay_error *err)
{
    enum sink_status one = SINK_OK;
    enum sink_status st = write_events(f, &ev, 1, &one, err);
    relay_event_destroy(ev);
    return st;
}

#define ADA                                                                                        \
    "{\"contact_id\":\"CNT-1\",\"first_name\":\"Ada\",\"last_name\":\"Lovelace\","                 \
    "\"emails\":[\"ada@example.org\",\"ada@analytical.example\"],"                                 \
    "\"phones\":[\"+447700900456\"],\"job_title\":\"Analyst\",\"tags\":[\"a\"],"                   \
    "\"relationship_type\":\"board_member\",\"llm_context\":{\"k\":1},"                            \
    "\"sync_metadata\":{\"versions\":{}},\"twenty_id\":null}"

static void new_contact_is_created_with_contact_id(void **state)
{
    struct fixture *f = *state;
    struct relay_error err = {0};
    assert_int_equal(write_one(f, event(RELAY_OP_UPSERT, "CNT-1", LATE, ADA, NULL), &err), SINK_OK);
    json_t *list = records(f);
    assert_int_equal(json_array_size(list), 1);
    json_t *r = record_by_contact(list, "CNT-1");
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "name"), "lastName")),
                        "Lovelace");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "name"), "firstName")),
                        "Ada");
    json_t *phones = json_object_get(r, "phones");
    assert_string_equal(json_string_value(json_object_get(phones, "primaryPhoneCallingCode")),
                        "+44");
    assert_string_equal(json_string_value(json_object_get(phones, "primaryPhoneNumber")),
                        "7700900456");
    assert_string_equal(json_string_value(json_object_get(r, "relationshipType")), "BOARD_MEMBER");
    assert_string_equal(json_string_value(json_object_get(r, "llmContext")), "{\"k\":1}");
    /* syncMetadata is the sink's own (versions and digests of what it
     * wrote), never the event's sync_metadata. */
    json_t *meta = json_object_get(r, "syncMetadata");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(meta, "versions"), "job_title")), LATE);
    assert_non_null(json_object_get(json_object_get(meta, "digests"), "job_title"));
    assert_null(json_object_get(json_object_get(meta, "versions"), "sync_metadata"));
    assert_int_equal(stat_count(f, "writes", "create"), 1);
    json_decref(list);
    /* The same event again (at-least-once) finds the person: no second create. */
    assert_int_equal(write_one(f, event(RELAY_OP_UPSERT, "CNT-1", LATE, ADA, NULL), &err), SINK_OK);
    list = records(f);
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(stat_count(f, "writes", "create"), 1);
    assert_int_equal(stat_count(f, "writes", "update"), 0); /* nothing differs */
    json_decref(list);
}

static void new_contacts_share_one_batch_call(void **state)
{
    struct fixture *f = *state;
    struct relay_event *evs[3];
    enum sink_status status[3];
    char fields[128];
    for (int i = 0; i < 3; i++) {
        char cid[16];
        snprintf(cid, sizeof(cid), "CNT-B%d", i);
        snprintf(fields, sizeof(fields), "{\"contact_id\":\"%s\",\"first_name\":\"N%d\"}", cid, i);
        evs[i] = event(RELAY_OP_UPSERT, cid, LATE, fields, NULL);
    }
    assert_int_equal(write_events(f, evs, 3, status, NULL), SINK_OK);
    assert_int_equal(stat_count(f, "writes", "batch_create"), 1);
    assert_int_equal(stat_count(f, "writes", "created_records"), 3);
    for (int i = 0; i < 3; i++) {
        relay_event_destroy(evs[i]);
    }
}

static void two_events_of_one_new_contact_make_one_person(void **state)
{
    struct fixture *f = *state;
    struct relay_event *evs[2] = {
        event(RELAY_OP_UPSERT, "CNT-D", LATE, "{\"first_name\":\"One\"}", NULL),
        event(RELAY_OP_UPSERT, "CNT-D", LATE, "{\"job_title\":\"Two\"}", NULL),
    };
    enum sink_status status[2];
    assert_int_equal(write_events(f, evs, 2, status, NULL), SINK_OK);
    json_t *list = records(f);
    assert_int_equal(json_array_size(list), 1);
    json_t *r = record_by_contact(list, "CNT-D");
    assert_string_equal(json_string_value(json_object_get(r, "jobTitle")), "Two");
    json_decref(list);
    relay_event_destroy(evs[0]);
    relay_event_destroy(evs[1]);
}

/* A person created in Twenty by a user, with contactId set. */
static json_t *user_person(struct fixture *f, const char *contact_id)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"contactId\":\"%s\",\"name\":{\"firstName\":\"Ada\",\"lastName\":\"Lovelace\"},"
             "\"jobTitle\":\"Analyst\",\"phones\":{\"primaryPhoneNumber\":\"7700900456\","
             "\"primaryPhoneCountryCode\":\"GB\",\"primaryPhoneCallingCode\":\"+44\","
             "\"additionalPhones\":[]}}",
             contact_id);
    json_t *a = control(f, "POST", "/_control/create", body);
    json_t *r = json_incref(json_object_get(a, "record"));
    json_decref(a);
    return r;
}

static void update_sends_whole_composites(void **state)
{
    struct fixture *f = *state;
    json_t *before = user_person(f, "CNT-2");
    assert_int_equal(write_one(f,
                               event(RELAY_OP_UPSERT, "CNT-2", LATE,
                                     "{\"first_name\":\"Augusta\",\"phones\":[\"+447700900999\"]}",
                                     NULL),
                               NULL),
                     SINK_OK);
    json_t *list = records(f);
    json_t *r = record_by_contact(list, "CNT-2");
    json_t *name = json_object_get(r, "name");
    assert_string_equal(json_string_value(json_object_get(name, "firstName")), "Augusta");
    assert_string_equal(json_string_value(json_object_get(name, "lastName")), "Lovelace");
    json_t *phones = json_object_get(r, "phones");
    assert_string_equal(json_string_value(json_object_get(phones, "primaryPhoneNumber")),
                        "7700900999");
    assert_string_equal(json_string_value(json_object_get(phones, "primaryPhoneCountryCode")), "GB");
    assert_int_equal(stat_count(f, "writes", "update"), 1);
    assert_int_equal(stat_count(f, "writes", "create"), 0);
    json_decref(list);
    json_decref(before);
}

static void older_change_skips_field_edited_in_twenty(void **state)
{
    struct fixture *f = *state;
    json_t *rec = user_person(f, "CNT-3");
    /* job_title differs in Twenty, which is newer: skipped. nickname is
     * new to Twenty but Twenty is still newer: skipped too. */
    assert_int_equal(write_one(f,
                               event(RELAY_OP_UPSERT, "CNT-3", EARLY,
                                     "{\"job_title\":\"Old title\",\"nickname\":\"Addy\"}", NULL),
                               NULL),
                     SINK_OK);
    json_t *list = records(f);
    json_t *r = record_by_contact(list, "CNT-3");
    assert_string_equal(json_string_value(json_object_get(r, "jobTitle")), "Analyst");
    assert_int_equal(stat_count(f, "writes", "update"), 0);
    json_decref(list);
    /* The same change with a newer version goes through. */
    assert_int_equal(write_one(f,
                               event(RELAY_OP_UPSERT, "CNT-3", LATE,
                                     "{\"job_title\":\"New title\"}", NULL),
                               NULL),
                     SINK_OK);
    list = records(f);
    r = record_by_contact(list, "CNT-3");
    assert_string_equal(json_string_value(json_object_get(r, "jobTitle")), "New title");
    json_decref(list);
    json_decref(rec);
}

static void own_write_does_not_make_a_later_change_stale(void **state)
{
    struct fixture *f = *state;
    /* Created now (Twenty's updatedAt = now) from a change of 2021; a
     * change of 2022 is older than updatedAt but newer than what syncrelay
     * wrote, and nobody edited Twenty: it must be written. */
    assert_int_equal(write_one(f,
                               event(RELAY_OP_UPSERT, "CNT-L", "2021-01-01T00:00:00.000000Z",
                                     "{\"job_title\":\"First\",\"first_name\":\"A\"}", NULL),
                               NULL),
                     SINK_OK);
    assert_int_equal(write_one(f,
                               event(RELAY_OP_UPSERT, "CNT-L", "2022-01-01T00:00:00.000000Z",
                                     "{\"job_title\":\"Second\"}", NULL),
                               NULL),
                     SINK_OK);
    json_t *list = records(f);
    json_t *r = record_by_contact(list, "CNT-L");
    assert_string_equal(json_string_value(json_object_get(r, "jobTitle")), "Second");
    json_decref(list);
    /* An even older change (2021-06) of the same field is stale now. */
    assert_int_equal(write_one(f,
                               event(RELAY_OP_UPSERT, "CNT-L", "2021-06-01T00:00:00.000000Z",
                                     "{\"job_title\":\"Stale\"}", NULL),
                               NULL),
                     SINK_OK);
    list = records(f);
    r = record_by_contact(list, "CNT-L");
    assert_string_equal(json_string_value(json_object_get(r, "jobTitle")), "Second");
    json_decref(list);
    /* A user edit in Twenty makes the field Twenty's: an older change
     * (2023, before the edit) is skipped, another field goes through. */
    const char *id = NULL;
    list = records(f);
    id = json_string_value(json_object_get(record_by_contact(list, "CNT-L"), "id"));
    char path[96];
    snprintf(path, sizeof(path), "/_control/edit/%s", id);
    json_decref(control(f, "POST", path, "{\"jobTitle\":\"By a user\"}"));
    json_decref(list);
    assert_int_equal(write_one(f,
                               event(RELAY_OP_UPSERT, "CNT-L", "2023-01-01T00:00:00.000000Z",
                                     "{\"job_title\":\"Third\",\"first_name\":\"B\"}", NULL),
                               NULL),
                     SINK_OK);
    list = records(f);
    r = record_by_contact(list, "CNT-L");
    assert_string_equal(json_string_value(json_object_get(r, "jobTitle")), "By a user");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "name"), "firstName")), "B");
    json_decref(list);
}

static void delete_is_soft_then_restore(void **state)
{
    struct fixture *f = *state;
    json_t *rec = user_person(f, "CNT-4");
    assert_int_equal(write_one(f,
                               event(RELAY_OP_DELETE, "CNT-4", LATE,
                                     "{\"deleted_at\":\"" LATE "\"}", "[\"deleted_at\"]"),
                               NULL),
                     SINK_OK);
    json_t *list = records(f);
    json_t *r = record_by_contact(list, "CNT-4");
    assert_non_null(r); /* still there: soft */
    assert_true(json_is_string(json_object_get(r, "deletedAt")));
    assert_int_equal(stat_count(f, "writes", "soft_delete"), 1);
    json_decref(list);
    /* destroy without twenty.hard_delete is soft too, and already done. */
    assert_int_equal(write_one(f, event(RELAY_OP_DESTROY, "CNT-4", LATE, "{}", "[]"), NULL),
                     SINK_OK);
    assert_int_equal(stat_count(f, "writes", "destroy"), 0);
    /* deleted_at back to null restores (found among the soft-deleted). */
    assert_int_equal(write_one(f,
                               event(RELAY_OP_UPSERT, "CNT-4", LATE,
                                     "{\"deleted_at\":null,\"job_title\":\"Back\"}", NULL),
                               NULL),
                     SINK_OK);
    list = records(f);
    assert_int_equal(json_array_size(list), 1);
    r = record_by_contact(list, "CNT-4");
    assert_true(json_is_null(json_object_get(r, "deletedAt")));
    assert_string_equal(json_string_value(json_object_get(r, "jobTitle")), "Back");
    assert_int_equal(stat_count(f, "writes", "restore"), 1);
    json_decref(list);
    json_decref(rec);
}

static void destroy_is_hard_when_configured(void **state)
{
    struct fixture *f = *state;
    json_t *rec = user_person(f, "CNT-5");
    f->conf.twenty.hard_delete = true;
    assert_int_equal(write_one(f, event(RELAY_OP_DESTROY, "CNT-5", LATE, "{}", "[]"), NULL),
                     SINK_OK);
    json_t *list = records(f);
    assert_int_equal(json_array_size(list), 0);
    assert_int_equal(stat_count(f, "writes", "destroy"), 1);
    json_decref(list);
    json_decref(rec);
}

static void found_by_twenty_id_and_linked(void **state)
{
    struct fixture *f = *state;
    json_t *a = control(f, "POST", "/_control/create", "{\"jobTitle\":\"No contact id\"}");
    const char *id = json_string_value(json_object_get(json_object_get(a, "record"), "id"));
    char fields[160];
    snprintf(fields, sizeof(fields), "{\"twenty_id\":\"%s\",\"nickname\":\"Nick\"}", id);
    assert_int_equal(write_one(f, event(RELAY_OP_UPSERT, "CNT-6", LATE, fields, NULL), NULL),
                     SINK_OK);
    /* A contact first seen in Twenty: contact_id is the Twenty id. */
    assert_int_equal(write_one(f,
                               event(RELAY_OP_UPSERT, "CNT-6", LATE, "{\"department\":\"R&D\"}",
                                     NULL),
                               NULL),
                     SINK_OK);
    json_t *list = records(f);
    assert_int_equal(json_array_size(list), 1);
    json_t *r = record_by_contact(list, "CNT-6"); /* contactId written */
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "nickname")), "Nick");
    assert_string_equal(json_string_value(json_object_get(r, "department")), "R&D");
    json_decref(list);
    json_t *b = control(f, "POST", "/_control/create", "{\"jobTitle\":\"Born in Twenty\"}");
    const char *id2 = json_string_value(json_object_get(json_object_get(b, "record"), "id"));
    assert_int_equal(write_one(f, event(RELAY_OP_UPSERT, id2, LATE, "{\"nickname\":\"T\"}", NULL),
                               NULL),
                     SINK_OK);
    list = records(f);
    assert_int_equal(json_array_size(list), 2);
    assert_non_null(record_by_contact(list, id2));
    json_decref(list);
    json_decref(a);
    json_decref(b);
}

static void error_classes(void **state)
{
    struct fixture *f = *state;
    struct relay_error err = {0};
    json_decref(control(f, "POST", "/_control/fail", "{\"status\":503,\"count\":1}"));
    assert_int_equal(write_one(f, event(RELAY_OP_UPSERT, "CNT-7", LATE, "{}", NULL), &err),
                     SINK_RETRY);
    assert_int_equal(err.code, RELAY_EIO);
    /* A value Twenty refuses (SELECT option with a space) is permanent. */
    relay_error_clear(&err);
    assert_int_equal(write_one(f,
                               event(RELAY_OP_UPSERT, "CNT-7", LATE,
                                     "{\"relationship_type\":\"board member!\"}", NULL),
                               &err),
                     SINK_REJECT);
    assert_int_equal(err.code, RELAY_EINVAL);
    /* A bad key is retried (config error, logged). */
    static char bad[] = "wrong-key";
    void *other;
    f->conf.twenty.api_key = bad;
    other = sink_twenty_kind.open(&f->env, &err);
    assert_non_null(other);
    enum sink_status one;
    struct relay_event *ev = event(RELAY_OP_UPSERT, "CNT-7", LATE, "{}", NULL);
    relay_error_clear(&err);
    assert_int_equal(sink_twenty_kind.write(other, &ev, 1, &one, &err), SINK_RETRY);
    assert_int_equal(err.code, RELAY_ECONFIG);
    relay_event_destroy(ev);
    sink_twenty_kind.close(other);
}

static void rate_limit_answers_are_transient_and_pause(void **state)
{
    struct fixture *f = *state;
    struct relay_error err = {0};
    twenty_rate_shared_reset(60); /* refill 53/min: a 429 pauses ~1.2 s */
    json_decref(control(f, "POST", "/_control/config", "{\"rate_limit\":1}"));
    /* find, find (429) -> RETRY */
    assert_int_equal(write_one(f, event(RELAY_OP_UPSERT, "CNT-8", LATE, "{}", NULL), &err),
                     SINK_RETRY);
    assert_int_equal(err.code, RELAY_EIO);
    assert_int_equal(stat_count(f, NULL, "rate_limited"), 1);
    long long sent = stat_count(f, NULL, "requests");
    /* The bucket is now paused: nothing is sent, the event is deferred. */
    assert_true(sink_twenty_kind.throttle_ms(f->sink) > 0);
    assert_int_equal(write_one(f, event(RELAY_OP_UPSERT, "CNT-8", LATE, "{}", NULL), &err),
                     SINK_DEFER);
    assert_int_equal(stat_count(f, NULL, "requests"), sent);
    /* Older servers answer 400 with a rate-limit message: transient too. */
    twenty_rate_shared_reset(600000);
    json_decref(control(f, "POST", "/_control/config",
                        "{\"rate_limit\":1,\"rate_limit_style\":\"400\"}"));
    relay_error_clear(&err);
    assert_int_equal(write_one(f, event(RELAY_OP_UPSERT, "CNT-8", LATE, "{}", NULL), &err),
                     SINK_RETRY);
    assert_int_equal(err.code, RELAY_EIO);
}

static void empty_bucket_defers_the_rest_without_sending(void **state)
{
    struct fixture *f = *state;
    twenty_rate_shared_reset(30); /* burst 3 */
    struct relay_event *evs[5];
    enum sink_status status[5];
    for (int i = 0; i < 5; i++) {
        char cid[16];
        snprintf(cid, sizeof(cid), "CNT-P%d", i);
        evs[i] = event(RELAY_OP_UPSERT, cid, LATE, "{\"first_name\":\"P\"}", NULL);
    }
    struct relay_error err = {0};
    /* e0 starts with 3 tokens: 2 finds; e1 would need 3 and finds 1: it and
     * the rest are deferred untried; e0's create takes the last token. */
    enum sink_status st = write_events(f, evs, 5, status, &err);
    assert_int_equal(st, SINK_PARTIAL);
    assert_int_equal(status[0], SINK_OK);
    for (int i = 1; i < 5; i++) {
        assert_int_equal(status[i], SINK_DEFER);
    }
    for (int i = 0; i < 5; i++) {
        relay_event_destroy(evs[i]);
    }
    assert_int_equal(stat_count(f, NULL, "requests"), 3);
    json_t *list = records(f);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    assert_true(sink_twenty_kind.throttle_ms(f->sink) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(new_contact_is_created_with_contact_id, setup, teardown),
        cmocka_unit_test_setup_teardown(new_contacts_share_one_batch_call, setup, teardown),
        cmocka_unit_test_setup_teardown(two_events_of_one_new_contact_make_one_person, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(update_sends_whole_composites, setup, teardown),
        cmocka_unit_test_setup_teardown(older_change_skips_field_edited_in_twenty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(own_write_does_not_make_a_later_change_stale, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(delete_is_soft_then_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(destroy_is_hard_when_configured, setup, teardown),
        cmocka_unit_test_setup_teardown(found_by_twenty_id_and_linked, setup, teardown),
        cmocka_unit_test_setup_teardown(error_classes, setup, teardown),
        cmocka_unit_test_setup_teardown(rate_limit_answers_are_transient_and_pause, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(empty_bucket_defers_the_rest_without_sending, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
