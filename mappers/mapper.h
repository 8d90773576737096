/* The translation of a contact between every system and the canonical form
 * (shared/spec/contact.md). A struct mapping is the compiled field map of
 * deploy/mappings/contact.yaml (or a user's file): built once at start-up,
 * then immutable and shared read-only by all threads. Every function here
 * is thread-safe and allocates only what it returns.
 *
 * Canonical values are jansson values: text = string, number = real or
 * integer, timestamp = canonical string (RFC 3339 UTC, 6 fractional digits),
 * json = any value, text[] = array of strings (null normalises to []). */
#ifndef RELAY_MAPPERS_MAPPER_H
#define RELAY_MAPPERS_MAPPER_H

#include "relay/error.h"
#include "relay/event.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum mapper_system {
    MAPPER_SYS_CANONICAL = 0, /* the canonical names themselves */
    MAPPER_SYS_TWENTY,        /* Twenty person record / REST body */
    MAPPER_SYS_POSTGRES,      /* Supabase contacts row; also Supabase webhook records */
    MAPPER_SYS_SQLITE,
    MAPPER_SYS_BIGQUERY,
    MAPPER_SYS_COUNT
};

enum mapping_type {
    MAPPING_TEXT = 0,
    MAPPING_NUMBER,
    MAPPING_TIMESTAMP,
    MAPPING_JSON,        /* any JSON value */
    MAPPING_JSON_OBJECT, /* a JSON object (or null) */
    MAPPING_TEXT_ARRAY,  /* array of strings */
};

/* One canonical field as the mapping file names it. Borrowed from the
 * mapping; valid until mapping_destroy. */
struct mapping_field {
    const char *name;                      /* canonical name */
    enum mapping_type type;
    const char *column[MAPPER_SYS_COUNT];  /* name/path in each system; NULL: not there */
    bool is_identity;                      /* contact_id, twenty_id, supabase_id */
    bool is_syncrelay_owned;               /* sync_metadata: never a change of the contact */
};

struct mapping;

/* path NULL or "": the compiled-in default. NULL + err ("file:line: reason"). */
struct mapping *mapping_load(const char *path, struct relay_error *err);
void mapping_destroy(struct mapping *m); /* NULL is a no-op */

size_t mapping_field_count(const struct mapping *m);
const struct mapping_field *mapping_field_at(const struct mapping *m, size_t i);
const struct mapping_field *mapping_field_find(const struct mapping *m, const char *name);

const char *mapper_system_name(enum mapper_system sys); /* "twenty", "postgres", ... */
int mapper_system_parse(const char *name);              /* -1 when unknown */

/* mapper_decode_webhook results besides -1. */
#define MAPPER_EVENT 0   /* *out holds the event */
#define MAPPER_IGNORED 1 /* an object that is not synced; *out NULL, err->msg says why */

/* Turns a Twenty or Supabase webhook body (raw bytes) into a canonical event:
 * op, contact_id, record_id, version, fields, changed, extra, id, delivery,
 * received_at. A record without contact_id gets its own id as contact_id
 * and is_contact_id_derived set: the caller resolves it through P:xref
 * (mappers do not reach Redis). Fields that cannot be mapped are
 * quarantined (ev->quarantined names them with the reason; raw values kept
 * in extra.<source>). Returns
 * MAPPER_EVENT, MAPPER_IGNORED, or -1 with err (RELAY_EINVAL: not JSON, not
 * the source's shape, no record id; the message names what is wrong). */
int mapper_decode_webhook(const struct mapping *m, enum relay_source source, const char *body,
                          size_t len, struct relay_event **out, struct relay_error *err);

/* Flags for mapper_to_system. */
#define MAPPER_WITH_SYSTEM_KEYS 1u /* Twenty: include id/createdAt/updatedAt/deletedAt */

/* Canonical fields (object; absent keys stay absent) -> the row or request
 * body the system gets, keyed by its column names / nested paths. extra
 * (may be NULL) is included where the system stores it. Caller owns the
 * result. NULL + err (RELAY_EINVAL) when a value cannot be written. */
json_t *mapper_to_system(const struct mapping *m, enum mapper_system sys, const json_t *fields,
                         const json_t *extra, unsigned flags, struct relay_error *err);

/* A system's row or record -> canonical fields (caller owns). Keys the
 * mapping does not name are added to extra_out (an object, may be NULL)
 * under the system's name. Fields that cannot be mapped are left out, named
 * in quarantine (object, may be NULL) with the reason, and their raw value
 * kept in extra_out. NULL + err only when row is not an object. */
json_t *mapper_from_system(const struct mapping *m, enum mapper_system sys, const json_t *row,
                           json_t *extra_out, json_t *quarantine, struct relay_error *err);

/* A short stable digest of a canonical value (for the arbiter): equal
 * values give equal digests whatever their key order. out: 17 bytes. */
void mapper_value_digest(const json_t *value, char out[RELAY_EVENT_ID_LEN + 1]);

#endif
