/* Writing JSON text straight into a reused relay_buf, for the parameters
 * the SQL sinks bind (sync_metadata versions, extra, JSON columns): no
 * jansson object is built and nothing is allocated per value once the
 * buffer has grown. */
#ifndef RELAY_WORKERS_SINKS_SQL_JSON_H
#define RELAY_WORKERS_SINKS_SQL_JSON_H

#include "relay/buf.h"

#include <jansson.h>
#include <stddef.h>

/* Appends s as a JSON string: quotes, backslashes and control characters
 * escaped, other bytes (UTF-8) as they are, the way jansson writes them.
 * 0, or -1 when out of memory. */
int sql_json_append_string(struct relay_buf *b, const char *s);

/* Appends json_dumps(v, flags)'s text without the intermediate copy.
 * 0, or -1 when out of memory. */
int sql_json_append_dump(struct relay_buf *b, const json_t *v, size_t flags);

#endif
