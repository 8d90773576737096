/* The sink kinds compiled into this binary; adding a sink is one file in
 * sinks/ and one line here. */
#include "workers/sink.h"

#include <stddef.h>

extern const struct sink_kind sink_pgsql_kind;
extern const struct sink_kind sink_sqlite_kind;
extern const struct sink_kind sink_twenty_kind;
extern const struct sink_kind sink_bigquery_kind;

const struct sink_kind *const sink_kinds[] = {
    &sink_pgsql_kind,
    &sink_sqlite_kind,
    &sink_twenty_kind,
    &sink_bigquery_kind,
    NULL,
};

const struct sink_kind *sink_kind_get(enum relay_sink id)
{
    for (size_t i = 0; sink_kinds[i] != NULL; i++) {
        if (sink_kinds[i]->id == id) {
            return sink_kinds[i];
        }
    }
    return NULL;
}
