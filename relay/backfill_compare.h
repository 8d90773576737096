/* Field-by-field comparison of one contact's canonical copies from several
 * systems, for `syncrelay verify` (backfill_compare.c). The rules:
 *  - sync_metadata (syncrelay's own bookkeeping) and extra are not compared;
 *  - a field a system does not have (no column in the mapping) or that its
 *    copy does not carry (absent key: e.g. a Twenty custom field the
 *    workspace lacks) is not compared for that system;
 *  - twenty_id and supabase_id are compared only where set: an id that one
 *    system has not learnt yet (null) is not a difference, since ids are
 *    merged, never cleared (contact.md, Identity); two different ids are;
 *  - a null text[] equals [] (BigQuery and Twenty cannot store a null
 *    array);
 *  - numbers compare by value (1 == 1.0), objects whatever their key order;
 *  - Twenty sets createdAt/updatedAt/deletedAt itself on every write, so
 *    for Twenty created_at and updated_at are not compared and deleted_at
 *    only as deleted or not.
 * Pure and thread-safe. */
#ifndef RELAY_RELAY_BACKFILL_COMPARE_H
#define RELAY_RELAY_BACKFILL_COMPARE_H

#include "relay/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct mapping;

struct backfill_copy {
    const char *label;    /* "postgres", "sqlite", "bigquery", "twenty" */
    int system;           /* enum mapper_system whose columns it has */
    const json_t *fields; /* canonical fields, borrowed; NULL: the system lacks the contact */
};

/* The differing fields, in mapping order:
 *   [{"field": NAME, "values": {LABEL: value, ...}}, ...]
 * (only the copies that take part in the field's comparison). Copies with
 * fields NULL are ignored here (the caller reports them as missing). The
 * caller owns the array; NULL on ENOMEM (err set). */
json_t *backfill_compare(const struct mapping *m, const struct backfill_copy *copies, size_t n,
                         struct relay_error *err);

/* Value equality under the rules above (is_text_array: null == []). */
bool backfill_values_equal(const json_t *a, const json_t *b, bool is_text_array);

#endif
