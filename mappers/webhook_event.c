/* What every webhook decoder does once the record is read: the version,
 * the ids, which fields changed, and the op's semantics (contact.md,
 * "Changes, versions, echoes and conflicts"; the team brief's decisions). */
#include "mappers/mapper_internal.h"
#include "mappers/transform.h"
#include "relay/mem.h"

#include <string.h>

int mapper_oom(struct relay_error *err)
{
    return relay_error_set(err, RELAY_ENOMEM, "mapper: out of memory");
}

int mapper_event_version(struct relay_event *ev, const json_t *value, const char *what,
                         struct relay_error *err)
{
    struct relay_error why = {0};
    char ts[28];
    if (!json_is_string(value)) {
        return relay_error_set(err, RELAY_EINVAL, "%s must be a timestamp", what);
    }
    if (transform_timestamp_normalize(json_string_value(value), ts, &why) != 0) {
        return relay_error_set(err, RELAY_EINVAL, "%s: %s", what, why.msg);
    }
    memcpy(ev->version, ts, sizeof(ev->version));
    ev->version[RELAY_TS_LEN] = '\0';
    return 0;
}

int mapper_event_ids(struct relay_event *ev, const char *record_id, struct relay_error *err)
{
    const char *contact = json_string_value(json_object_get(ev->fields, "contact_id"));
    ev->is_contact_id_derived = contact == NULL || contact[0] == '\0';
    if (ev->is_contact_id_derived) {
        contact = record_id; /* first seen here: the source's id (until xref lookup) */
    }
    ev->record_id = relay_strdup(record_id);
    ev->contact_id = relay_strdup(contact);
    if (ev->record_id == NULL || ev->contact_id == NULL) {
        return mapper_oom(err);
    }
    return 0;
}

int mapper_event_read(const struct mapping *m, struct relay_event *ev, enum mapper_system sys,
                      const json_t *row, struct relay_error *err)
{
    ev->extra = json_object();
    ev->quarantined = json_object();
    if (ev->extra == NULL || ev->quarantined == NULL) {
        return mapper_oom(err);
    }
    json_decref(ev->fields);
    ev->fields = mapper_read_row(m, sys, row, relay_source_name(ev->source), ev->extra,
                                 ev->quarantined, err);
    if (ev->fields == NULL) {
        return -1;
    }
    return mapper_event_ids(ev, json_string_value(json_object_get(row, "id")), err);
}

static bool is_changed(const struct relay_event *ev, const char *name)
{
    size_t i;
    json_t *item;
    json_array_foreach(ev->changed, i, item)
    {
        if (strcmp(json_string_value(item), name) == 0) {
            return true;
        }
    }
    return false;
}

/* A change of syncrelay's own fields is not a change of the contact, and
 * a null id never clears a known one (contact.md, Identity). check_dup:
 * scan changed for the name first. Canonical names are checked
 * identifiers (mapping_check), so json_string_nocheck is safe. */
static int mark(struct relay_event *ev, const struct mapper_entry *e, bool check_dup)
{
    const json_t *v = json_object_get(ev->fields, e->pub.name);
    if (v == NULL || e->pub.is_syncrelay_owned || (e->pub.is_identity && json_is_null(v)) ||
        (check_dup && is_changed(ev, e->pub.name))) {
        return 0;
    }
    return json_array_append_new(ev->changed, json_string_nocheck(e->pub.name));
}

int mapper_event_mark(struct relay_event *ev, const struct mapper_entry *e)
{
    return mark(ev, e, true);
}

int mapper_event_mark_all(const struct mapping *m, struct relay_event *ev)
{
    /* Field names are unique (mapping_check's duplicate rule), so when
     * changed starts empty no name can come twice: no scan (it made this
     * loop quadratic in the number of fields, on the ingest hot path). */
    bool check_dup = json_array_size(ev->changed) > 0;
    for (size_t i = 0; i < m->count; i++) {
        if (mark(ev, &m->entries[i], check_dup) != 0) {
            return -1;
        }
    }
    return 0;
}

/* A delete changes deleted_at (the record's when set, else the version)
 * and nothing else. */
static int finish_delete(struct relay_event *ev)
{
    const json_t *when = json_object_get(ev->fields, "deleted_at");
    json_t *value = json_is_string(when) ? json_incref((json_t *)when) : json_string(ev->version);
    json_t *changed = json_array();
    if (value == NULL || changed == NULL ||
        json_array_append_new(changed, json_string("deleted_at")) != 0) {
        json_decref(value);
        json_decref(changed);
        return -1;
    }
    json_decref(ev->changed);
    ev->changed = changed;
    return json_object_set_new(ev->fields, "deleted_at", value);
}

/* Every upsert also sets updated_at to its version. */
static int finish_upsert(struct relay_event *ev)
{
    if (json_object_set_new(ev->fields, "updated_at", json_string(ev->version)) != 0) {
        return -1;
    }
    if (is_changed(ev, "updated_at")) {
        return 0;
    }
    return json_array_append_new(ev->changed, json_string("updated_at"));
}

int mapper_event_finish(struct relay_event *ev, struct relay_error *err)
{
    int rc = ev->op == RELAY_OP_UPSERT ? finish_upsert(ev) : finish_delete(ev);
    if (rc != 0) {
        return mapper_oom(err);
    }
    if (ev->extra != NULL && json_object_size(ev->extra) == 0) {
        json_decref(ev->extra);
        ev->extra = NULL;
    }
    if (ev->quarantined != NULL && json_object_size(ev->quarantined) == 0) {
        json_decref(ev->quarantined);
        ev->quarantined = NULL;
    }
    relay_event_set_id(ev);
    relay_now_ts(ev->received_at);
    return 0;
}
