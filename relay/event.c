/* Event lifecycle and the queue envelope codec; see event.h. */
#include "relay/event.h"
#include "relay/mem.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *const source_names[RELAY_SOURCE_COUNT] = {"twenty", "supabase", "bigquery",
                                                             "sqlite"};
static const char *const op_names[] = {"upsert", "delete", "destroy"};

const char *relay_source_name(enum relay_source s)
{
    return (unsigned)s < RELAY_SOURCE_COUNT ? source_names[s] : "unknown";
}

int relay_source_parse(const char *name)
{
    for (int i = 0; i < RELAY_SOURCE_COUNT; i++) {
        if (strcmp(name, source_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static const char *const sink_names[RELAY_SINK_COUNT] = {"postgres", "sqlite", "bigquery",
                                                         "twenty"};

const char *relay_sink_name(enum relay_sink s)
{
    return (unsigned)s < RELAY_SINK_COUNT ? sink_names[s] : "unknown";
}

int relay_sink_parse(const char *name)
{
    for (int i = 0; i < RELAY_SINK_COUNT; i++) {
        if (strcmp(name, sink_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

unsigned relay_route(enum relay_source source, unsigned enabled_mask)
{
    unsigned own = 0;
    if (source == RELAY_SOURCE_TWENTY) {
        own = RELAY_SINK_BIT(RELAY_SINK_TWENTY);
    } else if (source == RELAY_SOURCE_SUPABASE) {
        own = RELAY_SINK_BIT(RELAY_SINK_POSTGRES);
    } else if (source == RELAY_SOURCE_BIGQUERY) {
        own = RELAY_SINK_BIT(RELAY_SINK_BIGQUERY);
    } else if (source == RELAY_SOURCE_SQLITE) {
        own = RELAY_SINK_BIT(RELAY_SINK_SQLITE);
    }
    return enabled_mask & ~own;
}

const char *relay_op_name(enum relay_op op)
{
    return (unsigned)op <= RELAY_OP_DESTROY ? op_names[op] : "unknown";
}

int relay_op_parse(const char *name)
{
    for (int i = 0; i <= RELAY_OP_DESTROY; i++) {
        if (strcmp(name, op_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void relay_now_ts(char *out)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, RELAY_TS_LEN + 1, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, RELAY_TS_LEN + 1 - n, ".%06ldZ", (long)tv.tv_usec);
}

struct relay_event *relay_event_create(void)
{
    struct relay_event *ev = relay_calloc(1, sizeof(*ev));
    if (ev == NULL) {
        return NULL;
    }
    ev->fields = json_object();
    ev->changed = json_array();
    if (ev->fields == NULL || ev->changed == NULL) {
        relay_event_destroy(ev);
        return NULL;
    }
    return ev;
}

void relay_event_destroy(struct relay_event *ev)
{
    if (ev == NULL) {
        return;
    }
    relay_free(ev->contact_id);
    relay_free(ev->record_id);
    json_decref(ev->fields);
    json_decref(ev->changed);
    json_decref(ev->extra);
    json_decref(ev->quarantined);
    json_decref(ev->error);
    json_decref(ev->history);
    relay_free(ev);
}

void relay_event_set_id(struct relay_event *ev)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char input[512];
    /* A NUL separates the parts, so "a"+"bc" and "ab"+"c" differ. */
    int n = snprintf(input, sizeof(input), "%s%c%.300s%c%s%c%s", relay_source_name(ev->source),
                     0, ev->record_id ? ev->record_id : "", 0, relay_op_name(ev->op), 0,
                     ev->version);
    SHA256((const unsigned char *)input, (size_t)n, md);
    for (int i = 0; i < RELAY_EVENT_ID_LEN / 2; i++) {
        snprintf(ev->id + 2 * i, 3, "%02x", md[i]);
    }
}

/* Adds key -> value to obj when value is non-NULL; steals value. */
static int put(json_t *obj, const char *key, json_t *value)
{
    return value != NULL ? json_object_set_new(obj, key, value) : -1;
}

static int put_ref(json_t *obj, const char *key, json_t *value)
{
    return value != NULL ? json_object_set(obj, key, value) : 0;
}

int relay_event_encode(const struct relay_event *ev, struct relay_buf *out, struct relay_error *err)
{
    json_t *o = json_object();
    int rc = -1;
    if (o == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "event encode: out of memory");
    }
    int bad = put(o, "v", json_integer(RELAY_EVENT_VERSION)) | put(o, "id", json_string(ev->id)) |
              put(o, "source", json_string(relay_source_name(ev->source))) |
              put(o, "object", json_string("contact")) |
              put(o, "op", json_string(relay_op_name(ev->op))) |
              put(o, "contact_id", json_string(ev->contact_id ? ev->contact_id : "")) |
              put(o, "version", json_string(ev->version)) |
              put(o, "received_at", json_string(ev->received_at)) |
              put_ref(o, "fields", ev->fields) | put_ref(o, "changed", ev->changed) |
              put_ref(o, "extra", ev->extra) | put(o, "attempts", json_integer(ev->attempts));
    if (ev->record_id != NULL) {
        bad |= put(o, "record_id", json_string(ev->record_id));
    }
    if (ev->first_error_at[0] != '\0') {
        bad |= put(o, "first_error_at", json_string(ev->first_error_at));
    }
    bad |= put_ref(o, "error", ev->error) | put_ref(o, "history", ev->history);
    if (bad) {
        relay_error_set(err, RELAY_ENOMEM, "event encode: out of memory");
        goto out;
    }
    char *text = json_dumps(o, JSON_COMPACT);
    if (text == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "event encode: out of memory");
        goto out;
    }
    rc = relay_buf_appends(out, text);
    if (rc != 0) {
        relay_error_set(err, RELAY_ENOMEM, "event encode: out of memory");
    }
    relay_free(text);
out:
    json_decref(o);
    return rc;
}

/* Copies a string member into a fixed buffer; missing is allowed when optional. */
static int copy_ts(json_t *o, const char *key, char *dst, int optional, struct relay_error *err)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL && optional) {
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) > RELAY_TS_LEN) {
        return relay_error_set(err, RELAY_EINVAL, "event: \"%s\" must be a timestamp string", key);
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int decode_enums(json_t *o, struct relay_event *ev, struct relay_error *err)
{
    json_t *v = json_object_get(o, "v");
    if (!json_is_integer(v) || json_integer_value(v) != RELAY_EVENT_VERSION) {
        return relay_error_set(err, RELAY_EINVAL, "event: unsupported envelope version");
    }
    int source = relay_source_parse(json_string_value(json_object_get(o, "source")) ?: "");
    int op = relay_op_parse(json_string_value(json_object_get(o, "op")) ?: "");
    if (source < 0 || op < 0) {
        return relay_error_set(err, RELAY_EINVAL, "event: unknown source or op");
    }
    ev->source = (enum relay_source)source;
    ev->op = (enum relay_op)op;
    json_t *id = json_object_get(o, "id");
    if (!json_is_string(id) || json_string_length(id) != RELAY_EVENT_ID_LEN) {
        return relay_error_set(err, RELAY_EINVAL, "event: \"id\" must be %d characters",
                               RELAY_EVENT_ID_LEN);
    }
    memcpy(ev->id, json_string_value(id), RELAY_EVENT_ID_LEN + 1);
    json_t *attempts = json_object_get(o, "attempts");
    ev->attempts = json_is_integer(attempts) ? (int)json_integer_value(attempts) : 0;
    return 0;
}

static int decode_strings(json_t *o, struct relay_event *ev, struct relay_error *err)
{
    const char *contact = json_string_value(json_object_get(o, "contact_id"));
    if (contact == NULL || contact[0] == '\0') {
        return relay_error_set(err, RELAY_EINVAL, "event: missing \"contact_id\"");
    }
    const char *record = json_string_value(json_object_get(o, "record_id"));
    ev->contact_id = relay_strdup(contact);
    ev->record_id = record ? relay_strdup(record) : NULL;
    if (ev->contact_id == NULL || (record != NULL && ev->record_id == NULL)) {
        return relay_error_set(err, RELAY_ENOMEM, "event decode: out of memory");
    }
    if (copy_ts(o, "version", ev->version, 0, err) != 0 ||
        copy_ts(o, "received_at", ev->received_at, 0, err) != 0 ||
        copy_ts(o, "first_error_at", ev->first_error_at, 1, err) != 0) {
        return -1;
    }
    return 0;
}

static int decode_json(json_t *o, struct relay_event *ev, struct relay_error *err)
{
    json_t *fields = json_object_get(o, "fields");
    json_t *changed = json_object_get(o, "changed");
    if (!json_is_object(fields) || !json_is_array(changed)) {
        return relay_error_set(err, RELAY_EINVAL, "event: \"fields\" and \"changed\" required");
    }
    json_decref(ev->fields);
    json_decref(ev->changed);
    ev->fields = json_incref(fields);
    ev->changed = json_incref(changed);
    json_t *extra = json_object_get(o, "extra");
    ev->extra = json_is_object(extra) ? json_incref(extra) : NULL;
    json_t *error = json_object_get(o, "error");
    ev->error = json_is_object(error) ? json_incref(error) : NULL;
    json_t *history = json_object_get(o, "history");
    ev->history = json_is_array(history) ? json_incref(history) : NULL;
    return 0;
}

int relay_event_decode(const char *data, size_t len, struct relay_event **out,
                       struct relay_error *err)
{
    json_error_t jerr;
    struct relay_event *ev = NULL;
    int rc = -1;
    *out = NULL;
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    /* jansson returns NULL with no error text when an allocation fails
     * before parsing starts; that is not the sender's fault. */
    if (o == NULL &&
        (jerr.text[0] == '\0' || json_error_code(&jerr) == json_error_out_of_memory)) {
        relay_error_set(err, RELAY_ENOMEM, "event decode: out of memory");
        goto out;
    }
    if (!json_is_object(o)) {
        relay_error_set(err, RELAY_EINVAL, "event: not a JSON object: %s", jerr.text);
        goto out;
    }
    ev = relay_event_create();
    if (ev == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "event decode: out of memory");
        goto out;
    }
    if (decode_enums(o, ev, err) != 0 || decode_strings(o, ev, err) != 0 ||
        decode_json(o, ev, err) != 0) {
        goto out;
    }
    *out = ev;
    ev = NULL;
    rc = 0;
out:
    relay_event_destroy(ev);
    json_decref(o);
    return rc;
}
