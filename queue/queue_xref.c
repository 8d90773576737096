/* Reading identity links (contact.md, Identity). P:xref:SYSTEM:ID maps a
 * Twenty or Supabase record id to its contact_id; the accept script writes
 * them (queue_accept.c). A record that arrives without contact_id would get
 * its own id as contact_id (first seen here); when its id is already
 * linked, it takes the linked contact_id instead and so joins that contact
 * rather than starting a duplicate. One GET, and only for such records. */
#include "queue/queue_internal.h"
#include "relay/mem.h"

#include <string.h>

/* ev takes contact (len bytes) as its contact_id, in fields too when they
 * carry one (a push puts the derived id there). */
static int adopt_contact(struct relay_event *ev, const char *contact, size_t len,
                         struct relay_error *err)
{
    char *copy = relay_strndup(contact, len);
    if (copy == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "xref: out of memory");
    }
    if (json_object_get(ev->fields, "contact_id") != NULL &&
        json_object_set_new(ev->fields, "contact_id", json_string(copy)) != 0) {
        relay_free(copy);
        return relay_error_set(err, RELAY_ENOMEM, "xref: out of memory");
    }
    relay_free(ev->contact_id);
    ev->contact_id = copy;
    return 0;
}

int queue_xref_resolve(struct queue *q, struct relay_event *ev, struct relay_error *err)
{
    char key[QUEUE_KEY_MAX];
    if (!ev->is_contact_id_derived || ev->record_id == NULL || ev->record_id[0] == '\0') {
        return 0;
    }
    if (queue_key(key, sizeof(key), q->prefix, "xref", relay_source_name(ev->source), ev->record_id,
                  err) != 0) {
        return -1;
    }
    redisReply *r = queue_run_key(q, "GET", key, err);
    if (r == NULL) {
        return -1;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_STRING && r->len > 0 && strcmp(r->str, ev->contact_id) != 0) {
        rc = adopt_contact(ev, r->str, r->len, err);
    }
    freeReplyObject(r);
    return rc;
}
