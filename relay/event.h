/* A canonical change event: what a webhook (or a backfill read) becomes after
 * mapping, what the arbiter judges, and what queues carry to the sinks.
 * The wire form is the JSON envelope of shared/spec/queue.md; encode and
 * decode are exact inverses for every key this struct holds.
 * Ownership: a struct relay_event owns every pointer in it (json_t
 * references included); relay_event_destroy releases them. */
#ifndef RELAY_RELAY_EVENT_H
#define RELAY_RELAY_EVENT_H

#include "relay/buf.h"
#include "relay/error.h"

#include <jansson.h>
#include <stdbool.h>

#define RELAY_TS_LEN 27       /* "2024-11-12T08:41:19.270000Z" */
#define RELAY_EVENT_ID_LEN 16 /* hex digest */
#define RELAY_EVENT_VERSION 1

enum relay_source {
    RELAY_SOURCE_TWENTY = 0,
    RELAY_SOURCE_SUPABASE,
    RELAY_SOURCE_BIGQUERY, /* backfill */
    RELAY_SOURCE_SQLITE,   /* backfill */
    RELAY_SOURCE_COUNT
};

/* Destinations. A change goes to every enabled sink except its own source
 * system (contact.md, Routing). */
enum relay_sink {
    RELAY_SINK_POSTGRES = 0,
    RELAY_SINK_SQLITE,
    RELAY_SINK_BIGQUERY,
    RELAY_SINK_TWENTY,
    RELAY_SINK_COUNT
};
#define RELAY_SINK_BIT(s) (1u << (s))

const char *relay_sink_name(enum relay_sink s); /* "postgres", ... */
int relay_sink_parse(const char *name);         /* -1 when unknown */

/* The sinks a change from source goes to, out of the enabled ones (a mask
 * of RELAY_SINK_BIT). A source never gets its own changes back. */
unsigned relay_route(enum relay_source source, unsigned enabled_mask);

enum relay_op { RELAY_OP_UPSERT = 0, RELAY_OP_DELETE, RELAY_OP_DESTROY };

struct relay_event {
    char id[RELAY_EVENT_ID_LEN + 1]; /* digest of source, record id, op, version */
    enum relay_source source;
    enum relay_op op;
    char *contact_id;                    /* owned, never NULL once mapped */
    char *record_id;                     /* owned: the source's own id; may be NULL */
    char version[RELAY_TS_LEN + 1];      /* source updated_at, canonical */
    char received_at[RELAY_TS_LEN + 1];  /* when syncrelay accepted it */
    json_t *fields;                      /* object: canonical name -> value */
    json_t *changed;                     /* array of canonical names */
    json_t *extra;                       /* object {"<source>": {...}} or NULL */
    json_t *quarantined;                 /* object: canonical name -> reason, or NULL;
                                          * not on the wire */
    char delivery[RELAY_EVENT_ID_LEN + 1]; /* dedupe key of the delivery (P:seen);
                                            * not on the wire */
    bool is_contact_id_derived;            /* the record carried no contact_id:
                                            * contact_id is record_id until P:xref
                                            * names the linked one; not on the wire */
    int attempts;
    char first_error_at[RELAY_TS_LEN + 1]; /* "" until the first failure */
    json_t *error;                       /* {"class","code","message"} or NULL */
    json_t *history;                     /* array of earlier errors or NULL */
};

/* Zeroed event with empty objects for fields/changed; NULL on ENOMEM. */
struct relay_event *relay_event_create(void);
void relay_event_destroy(struct relay_event *ev); /* NULL is a no-op */

/* Appends the JSON envelope to out. Thread-safe. */
int relay_event_encode(const struct relay_event *ev, struct relay_buf *out,
                       struct relay_error *err) RELAY_MUST_CHECK;

/* Parses an envelope; *out is owned by the caller. EINVAL names what is wrong. */
int relay_event_decode(const char *data, size_t len, struct relay_event **out,
                       struct relay_error *err) RELAY_MUST_CHECK;

/* Sets ev->id from source, record id, op and version (deterministic). */
void relay_event_set_id(struct relay_event *ev);

const char *relay_source_name(enum relay_source s);
int relay_source_parse(const char *name); /* -1 when unknown */
const char *relay_op_name(enum relay_op op);
int relay_op_parse(const char *name); /* -1 when unknown */

/* Writes the current time in canonical form into out[RELAY_TS_LEN + 1]. */
void relay_now_ts(char *out);

#endif
