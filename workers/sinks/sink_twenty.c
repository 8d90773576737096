/* The Twenty CRM sink: writes canonical contacts into Twenty's `person`
 * object over REST (twenty_client.c), paced by the process's shared rate
 * bucket (twenty_rate.c).
 *
 * Per event: find the person (by id when twenty_id is known, else by
 * contactId, then among soft-deleted ones, then by id = contact_id for a
 * contact first seen in Twenty); then
 * - upsert, not found: queue a create (POST /rest/batch/people, <= 60 per
 *   call, flushed before another event of the same contact is handled);
 * - upsert, found: read-before-write (contact.md): a changed field whose
 *   value in Twenty differs while Twenty's updatedAt is newer than the
 *   event's version is skipped (Twenty's own webhook carries that edit);
 *   the rest is PATCHed with whole composites; deleted_at -> null restores;
 * - delete: soft delete; destroy: hard delete when twenty.hard_delete.
 *
 * Twenty's updatedAt moves on syncrelay's own writes too, so on its own it
 * would make every later change of an older version look stale (a lost
 * update). The sink therefore keeps, in the person's syncMetadata (the
 * sync_metadata column, syncrelay's own), per field the version it last
 * wrote and the digest of the value: `{"versions": {f: v}, "digests":
 * {f: d}}`. A field whose value in Twenty still has our digest was not
 * edited in Twenty: it is written when the event is not older than our
 * version. Only a field edited in Twenty (digest differs or unknown) is
 * judged by updatedAt. deleted_at is not judged here: the arbiter orders
 * deletes and restores, and Twenty cannot tell who deleted a person.
 * contactId is always written, so Twenty's echo webhook carries it and the
 * arbiter drops the echo instead of minting a second contact.
 *
 * Events that could not be tried because the rate bucket ran dry come back
 * SINK_DEFER (not an attempt); the worker asks throttle_ms how long to wait. */
#define LOG_COMPONENT "sink.twenty"
#include "mappers/mapper.h"
#include "mappers/transform.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "workers/sink.h"
#include "workers/sinks/twenty_client.h"
#include "workers/sinks/twenty_rate.h"

#include <string.h>

#define TWENTY_TIMEOUT_MS 10000u
/* Requests one event usually needs (find, find among the deleted, write):
 * an event is started only when the bucket holds that many, so a tight
 * limit cannot livelock on events that each get one token and stop. */
#define TWENTY_EVENT_TOKENS 3u

struct twenty_sink {
    const struct sink_env *env; /* borrowed; outlives the sink */
    struct twenty_client *client;
};

/* A create waiting for the next batch call. */
struct pending {
    json_t *bodies;   /* array of request bodies */
    size_t index[TWENTY_BATCH_MAX]; /* event index of each body */
};

static bool twenty_is_enabled(const struct relay_config *conf)
{
    return conf->twenty.url != NULL && conf->twenty.url[0] != '\0';
}

static unsigned twenty_worker_count(const struct relay_config *conf)
{
    return conf->twenty.workers > 0 ? conf->twenty.workers : 1;
}

static void *twenty_open(const struct sink_env *env, struct relay_error *err)
{
    const struct config_twenty *tc = &env->conf->twenty;
    struct twenty_rate *rate = twenty_rate_shared(tc->rate_limit_per_min);
    if (rate == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "twenty: out of memory");
        return NULL;
    }
    struct twenty_sink *s = relay_calloc(1, sizeof(*s));
    if (s == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "twenty: out of memory");
        return NULL;
    }
    s->env = env;
    s->client = twenty_client_create(tc->url, tc->api_key != NULL ? tc->api_key : "",
                                     TWENTY_TIMEOUT_MS, rate, err);
    if (s->client == NULL) {
        relay_free(s);
        return NULL;
    }
    return s;
}

static void twenty_close(void *state)
{
    struct twenty_sink *s = state;
    if (s == NULL) {
        return;
    }
    twenty_client_destroy(s->client);
    relay_free(s);
}

static unsigned twenty_throttle_ms(void *state)
{
    struct twenty_sink *s = state;
    (void)s;
    int64_t wait = twenty_rate_wait_n_ms(twenty_rate_shared(0), twenty_rate_now_ms(),
                                         TWENTY_EVENT_TOKENS);
    return wait > 0 ? (unsigned)wait : 0;
}

/* The status an error of the client maps to. */
static enum sink_status status_of(const struct twenty_client *c, const struct relay_error *e)
{
    if (twenty_client_throttled_ms(c) > 0) {
        return SINK_DEFER;
    }
    switch (e->code) {
    case RELAY_EIO:
    case RELAY_ENOMEM:
        return SINK_RETRY;
    case RELAY_ECONFIG:
        log_error("twenty refuses the API key (check twenty.api_key): %s", e->msg);
        return SINK_RETRY;
    default:
        return SINK_REJECT;
    }
}

static bool looks_like_uuid(const char *s)
{
    if (s == NULL || strlen(s) != 36) {
        return false;
    }
    for (size_t i = 0; i < 36; i++) {
        bool is_dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool is_hex = strchr("0123456789abcdefABCDEF", s[i]) != NULL && s[i] != '\0';
        if (is_dash ? s[i] != '-' : !is_hex) {
            return false;
        }
    }
    return true;
}

/* Finds the event's person, active or soft-deleted; *out NULL when none. */
static int find_person(struct twenty_sink *s, const struct relay_event *ev, json_t **out,
                       struct relay_error *err)
{
    const char *tid = json_string_value(json_object_get(ev->fields, "twenty_id"));
    *out = NULL;
    if (looks_like_uuid(tid)) {
        if (twenty_find(s->client, "id", tid, false, out, err) != 0 ||
            (*out == NULL && twenty_find(s->client, "id", tid, true, out, err) != 0)) {
            return -1;
        }
        if (*out != NULL) {
            return 0;
        }
    }
    if (twenty_find(s->client, "contactId", ev->contact_id, false, out, err) != 0 ||
        (*out == NULL && twenty_find(s->client, "contactId", ev->contact_id, true, out, err) != 0)) {
        return -1;
    }
    /* A contact first seen in Twenty has its Twenty id as contact_id. */
    if (*out == NULL && looks_like_uuid(ev->contact_id) &&
        (tid == NULL || strcmp(tid, ev->contact_id) != 0)) {
        return twenty_find(s->client, "id", ev->contact_id, false, out, err);
    }
    return 0;
}

/* Canonical fields the sink never writes into a Twenty body: system keys
 * (id in the URL, deletion through its own call) and syncrelay's own. */
static bool is_never_written(const char *name)
{
    static const char *const names[] = {"twenty_id",  "created_at",    "updated_at",
                                        "deleted_at", "sync_metadata", NULL};
    for (size_t i = 0; names[i] != NULL; i++) {
        if (strcmp(names[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* Twenty's updatedAt of record in canonical form into out; "" if absent. */
static void record_version(const json_t *record, char out[28])
{
    const char *ts = json_string_value(json_object_get(record, "updatedAt"));
    out[0] = '\0';
    if (ts == NULL || transform_timestamp_normalize(ts, out, NULL) != 0) {
        out[0] = '\0';
    }
}

/* Records in meta (syncMetadata) that syncrelay wrote value into field at
 * version. */
static void note_written(json_t *meta, const char *field, const json_t *value,
                         const char *version)
{
    char digest[RELAY_EVENT_ID_LEN + 1];
    json_t *versions = json_object_get(meta, "versions");
    json_t *digests = json_object_get(meta, "digests");
    if (!json_is_object(versions)) {
        versions = json_object();
        json_object_set_new(meta, "versions", versions);
    }
    if (!json_is_object(digests)) {
        digests = json_object();
        json_object_set_new(meta, "digests", digests);
    }
    mapper_value_digest(value, digest);
    json_object_set_new(versions, field, json_string(version));
    json_object_set_new(digests, field, json_string(digest));
}

/* True when Twenty's current value of field is the one syncrelay wrote
 * last (per meta); *our_version gets that write's version. */
static bool is_ours(const json_t *meta, const char *field, const json_t *now,
                    const char **our_version)
{
    char digest[RELAY_EVENT_ID_LEN + 1];
    const char *stored = json_string_value(json_object_get(json_object_get(meta, "digests"), field));
    *our_version = json_string_value(json_object_get(json_object_get(meta, "versions"), field));
    if (stored == NULL || *our_version == NULL) {
        return false;
    }
    json_t *null_value = json_null();
    mapper_value_digest(now != NULL ? now : null_value, digest);
    return strcmp(digest, stored) == 0;
}

/* The body of a create: every provided field but the never-written ones,
 * plus contactId. Caller owns the result. */
static json_t *create_body(struct twenty_sink *s, const struct relay_event *ev,
                           struct relay_error *err)
{
    json_t *fields = json_object();
    const char *key;
    json_t *value;
    json_object_foreach(ev->fields, key, value)
    {
        if (!is_never_written(key)) {
            json_object_set(fields, key, value);
        }
    }
    json_object_set_new(fields, "contact_id", json_string(ev->contact_id));
    json_t *meta = json_object();
    json_object_foreach(fields, key, value)
    {
        note_written(meta, key, value, ev->version);
    }
    json_object_set_new(fields, "sync_metadata", meta);
    json_t *body = mapper_to_system(s->env->mapping, MAPPER_SYS_TWENTY, fields, NULL, 0, err);
    json_decref(fields);
    return body;
}

/* True when record holds contact_id in contactId already. */
static bool has_contact_id(const json_t *record, const char *contact_id)
{
    const char *cid = json_string_value(json_object_get(record, "contactId"));
    return cid != NULL && strcmp(cid, contact_id) == 0;
}

/* Whether field (changed by ev to value) is written onto Twenty's
 * current value now_value; see the file comment. */
static bool should_write(const struct relay_event *ev, const char *field, const json_t *value,
                         const json_t *now_value, const json_t *meta, bool is_twenty_newer)
{
    const char *our_version = NULL;
    if (now_value != NULL && json_equal(now_value, value)) {
        return false; /* nothing to change */
    }
    if (is_ours(meta, field, now_value, &our_version)) {
        return strcmp(our_version, ev->version) <= 0;
    }
    if (is_twenty_newer) {
        /* Edited in Twenty after this change was made: Twenty's value stands. */
        log_debug("contact=%s field=%s: edited in twenty later, skipped", ev->contact_id, field);
        return false;
    }
    return true;
}

/* The canonical fields of ev to PATCH onto record, after the
 * read-before-write rule, with sync_metadata noting them;
 * *should_restore when deleted_at goes to null. Caller owns the result. */
static json_t *update_fields(struct twenty_sink *s, const struct relay_event *ev,
                             const json_t *record, bool *should_restore, struct relay_error *err)
{
    json_t *current = mapper_from_system(s->env->mapping, MAPPER_SYS_TWENTY, record, NULL, NULL, err);
    json_t *out = current != NULL ? json_object() : NULL;
    const json_t *old_meta = json_object_get(current, "sync_metadata");
    json_t *meta = json_is_object(old_meta) ? json_deep_copy(old_meta) : json_object();
    char twenty_version[28];
    record_version(record, twenty_version);
    bool is_twenty_newer = twenty_version[0] != '\0' && strcmp(twenty_version, ev->version) > 0;
    size_t i;
    json_t *name;
    *should_restore = false;
    json_array_foreach(out != NULL ? ev->changed : NULL, i, name)
    {
        const char *key = json_string_value(name);
        json_t *value = key != NULL ? json_object_get(ev->fields, key) : NULL;
        if (value == NULL) {
            continue;
        }
        if (strcmp(key, "deleted_at") == 0) {
            *should_restore = json_is_null(value) &&
                              json_is_string(json_object_get(record, "deletedAt"));
        } else if (!is_never_written(key) &&
                   should_write(ev, key, value, json_object_get(current, key), meta,
                                is_twenty_newer)) {
            json_object_set(out, key, value);
            note_written(meta, key, value, ev->version);
        }
    }
    if (out != NULL && !has_contact_id(record, ev->contact_id)) {
        json_object_set_new(out, "contact_id", json_string(ev->contact_id));
    }
    if (out != NULL && json_object_size(out) > 0) {
        json_object_set(out, "sync_metadata", meta);
    }
    json_decref(meta);
    json_decref(current);
    return out;
}

/* Upsert onto an existing person: restore if asked, then PATCH. */
static enum sink_status update_person(struct twenty_sink *s, const struct relay_event *ev,
                                      const json_t *record, struct relay_error *err)
{
    const char *id = json_string_value(json_object_get(record, "id"));
    bool should_restore = false;
    json_t *body = NULL;
    enum sink_status st = SINK_REJECT;
    json_t *fields = update_fields(s, ev, record, &should_restore, err);
    if (fields == NULL || id == NULL) {
        if (id == NULL) {
            relay_error_set(err, RELAY_EIO, "twenty: found person has no id");
            st = SINK_RETRY;
        }
        goto out;
    }
    if (json_object_size(fields) > 0) {
        body = mapper_to_system(s->env->mapping, MAPPER_SYS_TWENTY, fields, NULL, 0, err);
        if (body == NULL) {
            goto out;
        }
        twenty_merge_composites(body, record);
    }
    st = SINK_OK;
    if (json_is_string(json_object_get(record, "deletedAt")) && !should_restore) {
        /* Twenty updates only live records; the delete stands (contact.md). */
        log_debug("contact=%s: soft-deleted in twenty, update not applied", ev->contact_id);
        goto out;
    }
    if (should_restore && twenty_restore(s->client, id, err) != 0) {
        st = status_of(s->client, err);
        goto out;
    }
    if (body != NULL && json_object_size(body) > 0 &&
        twenty_update(s->client, id, body, NULL, err) != 0) {
        st = status_of(s->client, err);
    }
out:
    json_decref(fields);
    json_decref(body);
    return st;
}

/* delete / destroy of an existing person (record may be NULL: nothing to do). */
static enum sink_status delete_person(struct twenty_sink *s, const struct relay_event *ev,
                                      const json_t *record, struct relay_error *err)
{
    const char *id = json_string_value(json_object_get(record, "id"));
    if (record == NULL || id == NULL) {
        return SINK_OK;
    }
    bool is_hard = ev->op == RELAY_OP_DESTROY && s->env->conf->twenty.hard_delete;
    bool is_deleted = json_is_string(json_object_get(record, "deletedAt"));
    if (!is_hard && is_deleted) {
        return SINK_OK; /* already soft-deleted */
    }
    if (twenty_delete(s->client, id, !is_hard, err) != 0) {
        return err->code == RELAY_ENOTFOUND ? SINK_OK : status_of(s->client, err);
    }
    return SINK_OK;
}

/* Creates the queued bodies: one call for one, a batch call for more; a
 * batch Twenty refuses (400) is retried one by one so one bad record
 * does not sink its neighbours. Sets status[] of the queued events. */
static void flush_creates(struct twenty_sink *s, struct pending *p, enum sink_status *status,
                          struct relay_error *first_err)
{
    size_t n = json_array_size(p->bodies);
    struct relay_error err = {0};
    if (n == 0) {
        return;
    }
    if (n > 1 && twenty_create_many(s->client, p->bodies, NULL, &err) == 0) {
        n = 0; /* all created */
    } else if (n > 1 && err.code != RELAY_EINVAL) {
        enum sink_status st = status_of(s->client, &err);
        for (size_t i = 0; i < n; i++) {
            status[p->index[i]] = st;
        }
        n = 0;
        if (first_err->code == RELAY_OK) {
            *first_err = err;
        }
    }
    for (size_t i = 0; i < n; i++) {
        relay_error_clear(&err);
        json_t *body = json_array_get(p->bodies, i);
        if (twenty_create(s->client, body, NULL, &err) != 0) {
            status[p->index[i]] = status_of(s->client, &err);
            if (first_err->code == RELAY_OK) {
                *first_err = err;
            }
        }
    }
    json_array_clear(p->bodies);
}

/* True when a create for contact_id is queued. */
static bool is_pending(const struct pending *p, struct relay_event *const *evs,
                       const char *contact_id)
{
    for (size_t i = 0; i < json_array_size(p->bodies); i++) {
        if (strcmp(evs[p->index[i]]->contact_id, contact_id) == 0) {
            return true;
        }
    }
    return false;
}

/* One event: find, then queue a create, update, or delete. */
static enum sink_status handle_event(struct twenty_sink *s, struct relay_event *const *evs,
                                     size_t i, struct pending *p, struct relay_error *err)
{
    const struct relay_event *ev = evs[i];
    json_t *record = NULL;
    enum sink_status st;
    if (ev->contact_id == NULL) {
        relay_error_set(err, RELAY_EINVAL, "twenty: event %s has no contact_id", ev->id);
        return SINK_REJECT;
    }
    if (find_person(s, ev, &record, err) != 0) {
        return status_of(s->client, err);
    }
    if (ev->op != RELAY_OP_UPSERT) {
        st = delete_person(s, ev, record, err);
    } else if (record != NULL) {
        st = update_person(s, ev, record, err);
    } else {
        json_t *body = create_body(s, ev, err);
        st = body != NULL ? SINK_OK : SINK_REJECT;
        if (body != NULL) {
            p->index[json_array_size(p->bodies)] = i;
            json_array_append_new(p->bodies, body);
        }
    }
    json_decref(record);
    return st;
}

/* SINK_OK when every status is OK, the common status when all agree,
 * else SINK_PARTIAL. */
static enum sink_status overall(const enum sink_status *status, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (status[i] != status[0]) {
            return SINK_PARTIAL;
        }
    }
    return n > 0 ? status[0] : SINK_OK;
}

static enum sink_status twenty_write(void *state, struct relay_event *const *evs, size_t n,
                                     enum sink_status *status, struct relay_error *err)
{
    struct twenty_sink *s = state;
    struct pending p = {.bodies = json_array()};
    struct relay_error first = {0};
    enum sink_status stop = SINK_OK; /* once the bucket or Twenty fails, try no more */
    if (p.bodies == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "twenty: out of memory");
        return SINK_RETRY;
    }
    for (size_t i = 0; i < n; i++) {
        struct relay_error e = {0};
        if (stop == SINK_OK && (json_array_size(p.bodies) == TWENTY_BATCH_MAX ||
                                is_pending(&p, evs, evs[i]->contact_id))) {
            flush_creates(s, &p, status, &first);
        }
        if (stop == SINK_OK && twenty_throttle_ms(s) > 0) {
            relay_error_set(&e, RELAY_EIO, "twenty: rate limit, event not started");
            stop = SINK_DEFER;
        }
        status[i] = stop != SINK_OK ? stop : handle_event(s, evs, i, &p, &e);
        if (stop == SINK_OK && (status[i] == SINK_DEFER || status[i] == SINK_RETRY)) {
            stop = status[i];
        }
        if (status[i] != SINK_OK && first.code == RELAY_OK && e.code != RELAY_OK) {
            first = e;
        }
    }
    flush_creates(s, &p, status, &first);
    json_decref(p.bodies);
    if (err != NULL && first.code != RELAY_OK) {
        *err = first;
    }
    return overall(status, n);
}

const struct sink_kind sink_twenty_kind = {
    .name = "twenty",
    .id = RELAY_SINK_TWENTY,
    .is_enabled = twenty_is_enabled,
    .worker_count = twenty_worker_count,
    .open = twenty_open,
    .write = twenty_write,
    .close = twenty_close,
    .throttle_ms = twenty_throttle_ms,
    .max_batch = TWENTY_BATCH_MAX,
};
