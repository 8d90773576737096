/* Reading whole systems back for `syncrelay push` and `syncrelay verify`:
 * a backfill reader opens one system (Supabase/Postgres, SQLite, BigQuery
 * or Twenty), returns its contacts page by page as canonical contacts
 * (mapper_from_system), and resumes after an opaque cursor string:
 *   postgres, sqlite  keyset paging on contact_id (the cursor is the last
 *                     contact_id: WHERE contact_id > $1 ORDER BY contact_id)
 *   bigquery          jobs.query on the contacts view, ORDER BY contact_id
 *                     (the cursor is the last contact_id)
 *   twenty            GET /rest/people with starting_after (the cursor is
 *                     Twenty's endCursor)
 * One reader per thread (it owns a connection). The config and mapping are
 * borrowed and must outlive the reader. */
#ifndef RELAY_RELAY_BACKFILL_READER_H
#define RELAY_RELAY_BACKFILL_READER_H

#include "relay/error.h"
#include "relay/event.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct relay_config;
struct mapping;
struct backfill_reader;

#define BACKFILL_PAGE_DEFAULT 500u
#define BACKFILL_PAGE_MAX 10000u

/* One contact of a page. Every pointer is owned by the page. */
struct backfill_contact {
    json_t *fields;             /* canonical fields (object) */
    json_t *extra;              /* {"<system>": {unmapped keys}} or NULL */
    json_t *quarantined;        /* canonical name -> reason, or NULL */
    bool is_contact_id_derived; /* the record had no contact_id: fields.contact_id
                                 * is its own id (twenty_id or supabase_id) */
};

struct backfill_page {
    struct backfill_contact *items; /* owned */
    size_t count;
    size_t cap;
    size_t failed;     /* records that could not be read at all (no contact_id) */
    size_t skipped;    /* records filtered out by --since (readers that filter locally) */
    char *next_cursor; /* owned; where the next page starts (NULL: nothing read) */
    bool is_last;      /* no page follows */
};

void backfill_page_init(struct backfill_page *p);
void backfill_page_fini(struct backfill_page *p); /* frees everything; reusable after init */

/* The system a backfill source reads: supabase -> postgres etc. "postgres"
 * is accepted as a name of the supabase source. -1 when unknown. */
int backfill_source_parse(const char *name);

/* True when the config enables the system of source (the same rule as the
 * sinks: postgres.url set, sqlite.path not "off", ...). */
bool backfill_source_is_enabled(const struct relay_config *conf, enum relay_source source);

/* Opens a reader on source's system. NULL + err (RELAY_ECONFIG: the system
 * is not configured; RELAY_EIO: cannot connect). */
struct backfill_reader *backfill_reader_open(enum relay_source source,
                                             const struct relay_config *conf,
                                             const struct mapping *m, struct relay_error *err);
void backfill_reader_close(struct backfill_reader *r); /* NULL is a no-op */

/* Contacts per page (1..BACKFILL_PAGE_MAX; 0: the default). */
void backfill_reader_set_page_size(struct backfill_reader *r, unsigned rows);

/* Only contacts whose updated_at >= since (canonical timestamp, copied;
 * NULL: all). */
int backfill_reader_set_since(struct backfill_reader *r, const char *since,
                              struct relay_error *err) RELAY_MUST_CHECK;

/* Reads the page after cursor (NULL or "": from the start) into page
 * (finalised and re-initialised first). 0, or -1 with err. */
int backfill_reader_next(struct backfill_reader *r, const char *cursor, struct backfill_page *page,
                         struct relay_error *err) RELAY_MUST_CHECK;

/* How many contacts are left after cursor (honouring since), or -1 when the
 * system cannot tell cheaply (Twenty). Never fails: -1 on error too. */
long long backfill_reader_remaining(struct backfill_reader *r, const char *cursor);

/* One contact by contact_id: *out gets its canonical fields (owned) or
 * NULL when the system does not hold it. 0, or -1 with err. */
int backfill_reader_get(struct backfill_reader *r, const char *contact_id, json_t **out,
                        struct relay_error *err) RELAY_MUST_CHECK;

/* The mapper system of source (MAPPER_SYS_POSTGRES for supabase, ...). */
int backfill_source_system(enum relay_source source);

/* The name verify and push print for source's system: "postgres",
 * "sqlite", "bigquery", "twenty". */
const char *backfill_system_label(enum relay_source source);

#endif
