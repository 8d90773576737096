/* Backfilled contact -> change event (backfill_event.h). */
#include "relay/backfill_event.h"
#include "mappers/mapper.h"
#include "relay/mem.h"

#include <stdio.h>
#include <string.h>

static const char *string_of(const json_t *fields, const char *name)
{
    const char *s = json_string_value(json_object_get(fields, name));
    return s != NULL && s[0] != '\0' ? s : NULL;
}

static const char *version_of(const json_t *fields)
{
    const char *v = string_of(fields, "updated_at");
    if (v == NULL) {
        v = string_of(fields, "created_at");
    }
    return v != NULL && strlen(v) == RELAY_TS_LEN ? v : BACKFILL_VERSION_UNKNOWN;
}

static const char *record_id_of(enum relay_source source, const json_t *fields)
{
    const char *own = source == RELAY_SOURCE_TWENTY     ? string_of(fields, "twenty_id")
                      : source == RELAY_SOURCE_SUPABASE ? string_of(fields, "supabase_id")
                                                        : NULL;
    return own != NULL ? own : string_of(fields, "contact_id");
}

/* fields minus syncrelay's own, updated_at = version; changed in mapping order. */
static int fill_fields(const struct mapping *m, struct relay_event *ev, const json_t *fields)
{
    json_t *copy = json_deep_copy(fields);
    if (copy == NULL) {
        return -1;
    }
    json_decref(ev->fields);
    ev->fields = copy;
    if (json_object_set_new(copy, "updated_at", json_string(ev->version)) != 0) {
        return -1;
    }
    for (size_t i = 0; i < mapping_field_count(m); i++) {
        const struct mapping_field *f = mapping_field_at(m, i);
        const json_t *v = json_object_get(copy, f->name);
        if (f->is_syncrelay_owned) {
            json_object_del(copy, f->name);
            continue;
        }
        if (v == NULL || (f->is_identity && json_is_null(v))) {
            continue;
        }
        if (json_array_append_new(ev->changed, json_string(f->name)) != 0) {
            return -1;
        }
    }
    return 0;
}

struct relay_event *backfill_event_from_contact(const struct mapping *m, enum relay_source source,
                                                const struct backfill_contact *c,
                                                struct relay_error *err)
{
    const char *contact_id = string_of(c->fields, "contact_id");
    if (contact_id == NULL) {
        relay_error_set(err, RELAY_EINVAL, "a contact without contact_id");
        return NULL;
    }
    struct relay_event *ev = relay_event_create();
    if (ev == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        return NULL;
    }
    ev->source = source;
    ev->op = RELAY_OP_UPSERT;
    snprintf(ev->version, sizeof(ev->version), "%s", version_of(c->fields));
    relay_now_ts(ev->received_at);
    ev->contact_id = relay_strdup(contact_id);
    ev->is_contact_id_derived = c->is_contact_id_derived;
    ev->record_id = relay_strdup(record_id_of(source, c->fields));
    ev->extra = json_incref(c->extra);
    ev->quarantined = json_incref(c->quarantined);
    if (ev->contact_id == NULL || ev->record_id == NULL || fill_fields(m, ev, c->fields) != 0) {
        relay_event_destroy(ev);
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        return NULL;
    }
    relay_event_set_id(ev);
    return ev;
}

void backfill_event_digests(const struct relay_event *ev, char (*out)[RELAY_EVENT_ID_LEN + 1])
{
    size_t i;
    json_t *name;
    json_array_foreach(ev->changed, i, name)
    {
        const json_t *v = json_object_get(ev->fields, json_string_value(name));
        json_t *null_value = json_null();
        mapper_value_digest(v != NULL ? v : null_value, out[i]);
    }
}
