/* A backfilled contact as a change event (backfill_event.c): what `push`
 * hands to the arbiter, exactly as if its system had sent a webhook with
 * every field it holds. */
#ifndef RELAY_RELAY_BACKFILL_EVENT_H
#define RELAY_RELAY_BACKFILL_EVENT_H

#include "relay/backfill_reader.h"
#include "relay/error.h"
#include "relay/event.h"

struct mapping;

/* The version of a contact that carries no updated_at nor created_at:
 * older than anything, so it never overwrites a dated value. */
#define BACKFILL_VERSION_UNKNOWN "1970-01-01T00:00:00.000000Z"

/* An upsert event from source for contact c (borrowed): contact_id from the
 * fields, version = updated_at (else created_at, else
 * BACKFILL_VERSION_UNKNOWN), fields = every field read except syncrelay's
 * own (sync_metadata) with updated_at set to the version, changed = every
 * field in fields in mapping order except a null id (a null id never
 * clears a known one), extra and quarantined copied, record_id = the
 * system's own id (twenty_id, supabase_id, else contact_id), id set,
 * delivery empty (the arbiter dedupes on the id), is_contact_id_derived
 * copied from c. Caller owns the event.
 * NULL + err (RELAY_EINVAL: no contact_id; RELAY_ENOMEM). */
struct relay_event *backfill_event_from_contact(const struct mapping *m, enum relay_source source,
                                                const struct backfill_contact *c,
                                                struct relay_error *err);

/* digests[i] = mapper_value_digest of fields[changed[i]] for every changed
 * field (out must hold json_array_size(ev->changed) entries). */
void backfill_event_digests(const struct relay_event *ev, char (*out)[RELAY_EVENT_ID_LEN + 1]);

#endif
