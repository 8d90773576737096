/* The compiled mapping and helpers shared by the mapper_*.c, mapping_*.c
 * and webhook_*.c files (mappers/ only; other folders never include this).
 * The public contract is mappers/mapper.h. */
#ifndef RELAY_MAPPERS_MAPPER_INTERNAL_H
#define RELAY_MAPPERS_MAPPER_INTERNAL_H

#include "mappers/mapper.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A transform of mappers/transform.h; NULL in a pair means "as is". */
typedef json_t *(*mapper_transform_fn)(const json_t *in, struct relay_error *err);

/* A named transform the mapping file may use: `in` reads a system's value
 * into canonical form, `out` writes a canonical value for the system. */
struct mapper_transform {
    const char *name;
    mapper_transform_fn in;
    mapper_transform_fn out;
};

/* NULL when the name is not in the fixed library. */
const struct mapper_transform *mapper_transform_find(const char *name);
/* The canonical normalisers (`normalize:`): a subset of the library. */
const struct mapper_transform *mapper_normalizer_find(const char *name);

#define MAPPER_PATH_MAX_DEPTH 2 /* "name.firstName" */

/* How one field lives in one system. */
struct mapper_column {
    const char *path;                         /* NULL: the system lacks the field */
    const char *part[MAPPER_PATH_MAX_DEPTH];  /* path split at '.' (owned copies) */
    size_t depth;                             /* 1 or 2 */
    const struct mapper_transform *transform; /* NULL: value as is */
    bool is_system_key;                       /* read, never written in a body */
};

struct mapper_entry {
    struct mapping_field pub;                 /* pub.column[] points at col[].path */
    const struct mapper_transform *normalize; /* NULL: none */
    struct mapper_column col[MAPPER_SYS_COUNT];
};

struct mapper_system_conf {
    const char *extra_column;                       /* NULL: the system does not store extra */
    const struct mapper_transform *extra_transform; /* how extra is written; NULL: as is */
    const char **own_keys;                          /* syncrelay's own keys besides extra_column */
    size_t own_key_count;
};

struct mapping {
    struct mapper_entry *entries;
    size_t count;
    struct mapper_system_conf sys[MAPPER_SYS_COUNT];
    void *parsed; /* the libcyaml document the strings point into */
};

/* Frees the libcyaml document (mapping_parse.c). */
void mapping_parsed_free(void *parsed);

/* Compiles YAML text (len bytes) into a mapping; name is used in error
 * messages ("name:line: reason"). NULL + err (RELAY_ECONFIG). */
struct mapping *mapping_parse(const char *text, size_t len, const char *name,
                              struct relay_error *err);

/* The 1-based line of the nth (0-based) occurrence of needle in text at or
 * after line `from`, or 0 when absent. For error messages. */
unsigned mapping_line_of(const char *text, const char *needle, unsigned from, unsigned nth);

/* True when the entry's top-level key in sys is key (its first path part). */
bool mapper_column_has_top(const struct mapper_column *c, const char *key);

/* True when key is one of sys's own keys (extra_column or own_keys). */
bool mapper_is_own_key(const struct mapping *m, enum mapper_system sys, const char *key);

/* The entry whose first path part in sys is key, starting the search at
 * *pos (pass 0; advanced past the match), or NULL. A top-level key can
 * belong to several entries ("name" -> first_name, last_name). */
const struct mapper_entry *mapper_find_by_top(const struct mapping *m, enum mapper_system sys,
                                              const char *key, size_t *pos);

/* Reads one field's value from a system row (borrowed, NULL when absent).
 * -1 with err when a composite parent is not an object. */
int mapper_path_get(const struct mapper_column *c, const json_t *row, const json_t **out,
                    struct relay_error *err);
/* Sets one field's value in a row being built (steals value). 0 or -1. */
int mapper_path_set(const struct mapper_column *c, json_t *row, json_t *value);

/* System value -> canonical value (new reference): the column's in
 * transform, the type check, the normaliser. NULL + err (reason). */
json_t *mapper_value_in(const struct mapper_entry *e, enum mapper_system sys, const json_t *raw,
                        struct relay_error *err);
/* Canonical value -> system value (new reference): the type check, then
 * the column's out transform. NULL + err (reason). */
json_t *mapper_value_out(const struct mapper_entry *e, enum mapper_system sys, const json_t *value,
                         struct relay_error *err);

/* Reads a row into canonical fields like mapper_from_system, but puts
 * unmapped keys and quarantined raw values under extra_out[bucket]. */
json_t *mapper_read_row(const struct mapping *m, enum mapper_system sys, const json_t *row,
                        const char *bucket, json_t *extra_out, json_t *quarantine,
                        struct relay_error *err);

/* extra[bucket][key] = value (incref); creates the bucket. 0 or -1. */
int mapper_extra_put(json_t *extra, const char *bucket, const char *key, json_t *value);

/* Webhook decoders (webhook_twenty.c, webhook_supabase.c); same contract
 * as mapper_decode_webhook, body already parsed into an object. */
int mapper_decode_twenty(const struct mapping *m, const json_t *body, struct relay_event **out,
                         struct relay_error *err);
int mapper_decode_supabase(const struct mapping *m, const json_t *body, struct relay_event **out,
                           struct relay_error *err);

/* Shared event finishing (webhook_event.c). */

/* Sets ev->version from a source timestamp value; -1 + err naming what. */
int mapper_event_version(struct relay_event *ev, const json_t *value, const char *what,
                         struct relay_error *err);
/* contact_id from fields.contact_id (non-empty string), else record_id
 * with is_contact_id_derived set (the caller looks up P:xref); copies
 * record_id. -1 (ENOMEM). */
int mapper_event_ids(struct relay_event *ev, const char *record_id, struct relay_error *err);
/* ev->fields from row (mapper_read_row as system sys, the unmapped keys
 * and quarantined values under extra/quarantined.<ev->source>), then the
 * ids from row's "id" (mapper_event_ids). -1 + err. */
int mapper_event_read(const struct mapping *m, struct relay_event *ev, enum mapper_system sys,
                      const json_t *row, struct relay_error *err);
/* Appends name to ev->changed unless it is there, absent from fields,
 * syncrelay-owned, or a null identity. */
int mapper_event_mark(struct relay_event *ev, const struct mapper_entry *e);
/* Marks every provided field changed (mapping order). */
int mapper_event_mark_all(const struct mapping *m, struct relay_event *ev);
/* Applies op semantics: upsert adds updated_at = version to fields and
 * changed; delete/destroy sets changed = [deleted_at] and fields.deleted_at
 * (the record's when set, else the version). Sets id and received_at. */
int mapper_event_finish(struct relay_event *ev, struct relay_error *err);
/* Out of memory for a webhook decode. */
int mapper_oom(struct relay_error *err);

#endif
