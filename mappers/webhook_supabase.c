/* Supabase database webhook body -> canonical event (webhooks.md). The
 * records use the Postgres column names (MAPPER_SYS_POSTGRES); an UPDATE's
 * changes are the columns whose JSON value differs from old_record. The
 * `extra` column is syncrelay's own and never read as a contact's key. */
#include "mappers/mapper_internal.h"

#include <string.h>

/* Type and table; 0 to go on, MAPPER_IGNORED, or -1 with err. */
static int parse_type(const json_t *body, enum relay_op *op, bool *is_update,
                      struct relay_error *err)
{
    const char *type = json_string_value(json_object_get(body, "type"));
    if (type == NULL || (strcmp(type, "INSERT") != 0 && strcmp(type, "UPDATE") != 0 &&
                         strcmp(type, "DELETE") != 0)) {
        return relay_error_set(err, RELAY_EINVAL,
                               "supabase: \"type\" must be INSERT, UPDATE or DELETE");
    }
    *op = strcmp(type, "DELETE") == 0 ? RELAY_OP_DELETE : RELAY_OP_UPSERT;
    *is_update = strcmp(type, "UPDATE") == 0;
    const char *table = json_string_value(json_object_get(body, "table"));
    if (table == NULL) {
        return relay_error_set(err, RELAY_EINVAL, "supabase: \"table\" must be a string");
    }
    if (strcmp(table, "contacts") != 0) {
        relay_error_set(err, RELAY_OK, "supabase: table \"%.64s\" is not synced", table);
        return MAPPER_IGNORED;
    }
    return 0;
}

/* The record to read (old_record for a DELETE) and the before-state. */
static int pick_records(const json_t *body, enum relay_op op, const json_t **row,
                        const json_t **old, struct relay_error *err)
{
    *old = json_object_get(body, "old_record");
    if (*old != NULL && !json_is_null(*old) && !json_is_object(*old)) {
        return relay_error_set(err, RELAY_EINVAL,
                               "supabase: \"old_record\" must be an object or null");
    }
    *old = json_is_object(*old) ? *old : NULL;
    if (op == RELAY_OP_DELETE) {
        *row = *old;
        if (*row == NULL) {
            return relay_error_set(err, RELAY_EINVAL,
                                   "supabase: a DELETE needs \"old_record\" as an object");
        }
    } else {
        *row = json_object_get(body, "record");
        if (!json_is_object(*row)) {
            return relay_error_set(err, RELAY_EINVAL, "supabase: \"record\" must be an object");
        }
    }
    const char *id = json_string_value(json_object_get(*row, "id"));
    if (id == NULL || id[0] == '\0') {
        return relay_error_set(err, RELAY_EINVAL, "supabase: %s has no \"id\"",
                               op == RELAY_OP_DELETE ? "old_record" : "record");
    }
    if (json_object_get(*row, "updated_at") == NULL) {
        return relay_error_set(err, RELAY_EINVAL, "supabase: %s has no \"updated_at\"",
                               op == RELAY_OP_DELETE ? "old_record" : "record");
    }
    return 0;
}

/* UPDATE: the mapped columns whose value differs between record and
 * old_record (a column on one side only differs too). */
static int mark_diff(const struct mapping *m, struct relay_event *ev, const json_t *row,
                     const json_t *old)
{
    for (size_t i = 0; i < m->count; i++) {
        const struct mapper_column *c = &m->entries[i].col[MAPPER_SYS_POSTGRES];
        if (c->path == NULL) {
            continue;
        }
        const json_t *now = json_object_get(row, c->part[0]);
        const json_t *before = json_object_get(old, c->part[0]);
        bool differs = (now == NULL) != (before == NULL) ||
                       (now != NULL && !json_equal((json_t *)now, (json_t *)before));
        if (differs && mapper_event_mark(ev, &m->entries[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

static int fill_event(const struct mapping *m, struct relay_event *ev, const json_t *row,
                      const json_t *old, bool is_update, struct relay_error *err)
{
    ev->source = RELAY_SOURCE_SUPABASE;
    const char *what = ev->op == RELAY_OP_DELETE ? "supabase: old_record \"updated_at\""
                                                 : "supabase: record \"updated_at\"";
    if (mapper_event_version(ev, json_object_get(row, "updated_at"), what, err) != 0) {
        return -1;
    }
    if (mapper_event_read(m, ev, MAPPER_SYS_POSTGRES, row, err) != 0) {
        return -1;
    }
    int rc = is_update && old != NULL ? mark_diff(m, ev, row, old) : mapper_event_mark_all(m, ev);
    if (rc != 0) {
        return mapper_oom(err);
    }
    if (mapper_event_finish(ev, err) != 0) {
        return -1;
    }
    memcpy(ev->delivery, ev->id, sizeof(ev->delivery)); /* Supabase sends no delivery id */
    return 0;
}

int mapper_decode_supabase(const struct mapping *m, const json_t *body, struct relay_event **out,
                           struct relay_error *err)
{
    enum relay_op op = RELAY_OP_UPSERT;
    bool is_update = false;
    const json_t *row = NULL, *old = NULL;
    int rc = parse_type(body, &op, &is_update, err);
    if (rc != 0) {
        return rc;
    }
    if (pick_records(body, op, &row, &old, err) != 0) {
        return -1;
    }
    struct relay_event *ev = relay_event_create();
    if (ev == NULL) {
        return mapper_oom(err);
    }
    ev->op = op;
    if (fill_event(m, ev, row, old, is_update, err) != 0) {
        relay_event_destroy(ev);
        return -1;
    }
    *out = ev;
    return MAPPER_EVENT;
}
