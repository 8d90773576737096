/* The columns of a SQL sink by canonical field name. Both SQL sinks keep
 * their columns in mapping order and look one up by its field while they
 * merge a batch: a binary search over an index sorted by name (a few dozen
 * columns, sorted once at open). */
#ifndef RELAY_WORKERS_SINKS_SQL_FIELDS_H
#define RELAY_WORKERS_SINKS_SQL_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

struct sql_fields {
    const char **names; /* owned array: names[i] is column i's field (the mapping's string) */
    size_t *order;      /* owned: column indexes sorted by name */
    size_t n;
};

/* Room for cap columns. 0, or -1 when out of memory (f is then empty and
 * sql_fields_fini is still fine). */
int sql_fields_init(struct sql_fields *f, size_t cap);
void sql_fields_fini(struct sql_fields *f);
/* Column f->n is name (borrowed); at most cap of them. */
void sql_fields_add(struct sql_fields *f, const char *name);
/* Sorts the index; call once after the last add. */
void sql_fields_sort(struct sql_fields *f);
/* The column of field name, or -1. */
long sql_fields_find(const struct sql_fields *f, const char *name);

/* True for [a-z_][a-z0-9_]*: the names the sinks write into SQL text. */
bool sql_plain_name(const char *s);

#endif
