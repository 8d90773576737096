/* Twenty CRM webhook body -> canonical event (shared/spec/webhooks.md).
 * One record per request, the full record after the change, no
 * before-state: `updatedFields` (top-level API names) says what changed.
 * Old (person.update) and new (person.updated) event names are accepted. */
#include "mappers/mapper_internal.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

struct twenty_action {
    const char *name;
    enum relay_op op;
    bool is_create;  /* every provided field changed */
    bool is_restore; /* an upsert that clears deleted_at */
};

static const struct twenty_action actions[] = {
    {"created", RELAY_OP_UPSERT, true, false},   {"create", RELAY_OP_UPSERT, true, false},
    {"updated", RELAY_OP_UPSERT, false, false},  {"update", RELAY_OP_UPSERT, false, false},
    {"deleted", RELAY_OP_DELETE, false, false},  {"delete", RELAY_OP_DELETE, false, false},
    {"restored", RELAY_OP_UPSERT, false, true},  {"destroyed", RELAY_OP_DESTROY, false, false},
    {"destroy", RELAY_OP_DESTROY, false, false},
};

/* The action of a person event; NULL + err (MAPPER_IGNORED's reason, or
 * the shape error) otherwise. *ignored tells which. */
static const struct twenty_action *parse_event_name(const json_t *body, bool *ignored,
                                                    struct relay_error *err)
{
    const char *name = json_string_value(json_object_get(body, "eventName"));
    const char *dot = name != NULL ? strchr(name, '.') : NULL;
    *ignored = false;
    if (dot == NULL) {
        relay_error_set(err, RELAY_EINVAL,
                        "twenty: \"eventName\" must be a string like \"person.updated\"");
        return NULL;
    }
    *ignored = true;
    if ((size_t)(dot - name) != strlen("person") || strncmp(name, "person", 6) != 0) {
        relay_error_set(err, RELAY_OK, "twenty: object \"%.*s\" is not synced",
                        (int)(dot - name) > 64 ? 64 : (int)(dot - name), name);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        if (strcmp(dot + 1, actions[i].name) == 0) {
            *ignored = false;
            return &actions[i];
        }
    }
    relay_error_set(err, RELAY_OK, "twenty: event \"%.64s\" is not synced", name);
    return NULL;
}

/* 16 hex of sha256(webhookId, record.id, eventName, record.updatedAt),
 * NUL-separated: Twenty sends no event id and never retries, so this names
 * one delivery. */
static void set_delivery(struct relay_event *ev, const json_t *body, const json_t *record)
{
    const char *parts[4] = {
        json_string_value(json_object_get(body, "webhookId")),
        json_string_value(json_object_get(record, "id")),
        json_string_value(json_object_get(body, "eventName")),
        json_string_value(json_object_get(record, "updatedAt")),
    };
    static const char hex[] = "0123456789abcdef";
    char input[1024];
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        const char *p = parts[i] != NULL ? parts[i] : "";
        size_t len = strnlen(p, 250); /* at most 250 bytes of each part */
        memcpy(input + n, p, len);
        input[n + len] = '\0';
        n += len + 1;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)input, n, md);
    for (int i = 0; i < RELAY_EVENT_ID_LEN / 2; i++) {
        ev->delivery[2 * i] = hex[md[i] >> 4];
        ev->delivery[2 * i + 1] = hex[md[i] & 0xF];
    }
    ev->delivery[RELAY_EVENT_ID_LEN] = '\0';
}

static bool lists(const json_t *updated, const char *key)
{
    size_t i;
    json_t *item;
    json_array_foreach(updated, i, item)
    {
        if (json_is_string(item) && strcmp(json_string_value(item), key) == 0) {
            return true;
        }
    }
    return false;
}

/* updatedFields names top-level keys: "name" is first_name and last_name,
 * "phones" the whole composite; keys the mapping lacks (updatedBy) are not
 * changes of the contact. Marked in mapping order. */
static int mark_changed(const struct mapping *m, struct relay_event *ev,
                        const struct twenty_action *a, const json_t *updated)
{
    if (a->is_restore && json_object_set_new(ev->fields, "deleted_at", json_null()) != 0) {
        return -1;
    }
    if (a->is_create || updated == NULL) {
        return mapper_event_mark_all(m, ev);
    }
    for (size_t i = 0; i < m->count; i++) {
        const struct mapper_column *c = &m->entries[i].col[MAPPER_SYS_TWENTY];
        bool hit = c->path != NULL && lists(updated, c->part[0]);
        hit = hit || (a->is_restore && strcmp(m->entries[i].pub.name, "deleted_at") == 0);
        if (hit && mapper_event_mark(ev, &m->entries[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Checks the body's shape; on success *record and *updated are borrowed. */
static int check_shape(const json_t *body, const json_t **record, const json_t **updated,
                       struct relay_error *err)
{
    *record = json_object_get(body, "record");
    if (!json_is_object(*record)) {
        return relay_error_set(err, RELAY_EINVAL, "twenty: \"record\" must be an object");
    }
    const char *id = json_string_value(json_object_get(*record, "id"));
    if (id == NULL || id[0] == '\0') {
        return relay_error_set(err, RELAY_EINVAL, "twenty: record has no \"id\"");
    }
    *updated = json_object_get(body, "updatedFields");
    if (json_is_null(*updated)) {
        *updated = NULL;
    }
    if (*updated != NULL && !json_is_array(*updated)) {
        return relay_error_set(err, RELAY_EINVAL, "twenty: \"updatedFields\" must be an array");
    }
    if (json_object_get(*record, "updatedAt") == NULL) {
        return relay_error_set(err, RELAY_EINVAL, "twenty: record has no \"updatedAt\"");
    }
    return 0;
}

static int fill_event(const struct mapping *m, struct relay_event *ev,
                      const struct twenty_action *a, const json_t *record, const json_t *updated,
                      struct relay_error *err)
{
    ev->source = RELAY_SOURCE_TWENTY;
    ev->op = a->op;
    if (mapper_event_version(ev, json_object_get(record, "updatedAt"),
                             "twenty: record \"updatedAt\"", err) != 0) {
        return -1;
    }
    if (mapper_event_read(m, ev, MAPPER_SYS_TWENTY, record, err) != 0) {
        return -1;
    }
    if (mark_changed(m, ev, a, updated) != 0) {
        return mapper_oom(err);
    }
    return mapper_event_finish(ev, err);
}

int mapper_decode_twenty(const struct mapping *m, const json_t *body, struct relay_event **out,
                         struct relay_error *err)
{
    bool ignored = false;
    const json_t *record = NULL, *updated = NULL;
    const struct twenty_action *a = parse_event_name(body, &ignored, err);
    if (a == NULL) {
        return ignored ? MAPPER_IGNORED : -1;
    }
    if (check_shape(body, &record, &updated, err) != 0) {
        return -1;
    }
    struct relay_event *ev = relay_event_create();
    if (ev == NULL) {
        return mapper_oom(err);
    }
    if (fill_event(m, ev, a, record, updated, err) != 0) {
        relay_event_destroy(ev);
        return -1;
    }
    set_delivery(ev, body, record);
    *out = ev;
    return MAPPER_EVENT;
}
