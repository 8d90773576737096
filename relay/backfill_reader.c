/* The system-independent half of the backfill readers (backfill_reader.h):
 * dispatch to the system's operations, and mapping of its records to
 * canonical contacts with mapper_from_system. */
#include "relay/backfill_reader.h"
#include "mappers/mapper.h"
#include "relay/backfill_reader_internal.h"
#include "relay/config.h"
#include "relay/mem.h"

#include <string.h>

struct backfill_reader {
    const struct backfill_reader_ops *ops;
    void *state;
    const struct mapping *mapping;
    enum mapper_system sys;
    unsigned page_size;
    char *since; /* canonical or NULL */
};

void backfill_page_init(struct backfill_page *p)
{
    memset(p, 0, sizeof(*p));
}

void backfill_page_fini(struct backfill_page *p)
{
    for (size_t i = 0; i < p->count; i++) {
        json_decref(p->items[i].fields);
        json_decref(p->items[i].extra);
        json_decref(p->items[i].quarantined);
    }
    relay_free(p->items);
    relay_free(p->next_cursor);
    backfill_page_init(p);
}

int backfill_source_parse(const char *name)
{
    if (strcmp(name, "postgres") == 0) {
        return RELAY_SOURCE_SUPABASE;
    }
    return relay_source_parse(name);
}

int backfill_source_system(enum relay_source source)
{
    switch (source) {
    case RELAY_SOURCE_TWENTY:
        return MAPPER_SYS_TWENTY;
    case RELAY_SOURCE_SUPABASE:
        return MAPPER_SYS_POSTGRES;
    case RELAY_SOURCE_SQLITE:
        return MAPPER_SYS_SQLITE;
    case RELAY_SOURCE_BIGQUERY:
        /* bigquery_query already decodes the view's rows to canonical names */
        return MAPPER_SYS_CANONICAL;
    default:
        return -1;
    }
}

static const struct backfill_reader_ops *ops_of(enum relay_source source)
{
    switch (source) {
    case RELAY_SOURCE_TWENTY:
        return &backfill_twenty_ops;
    case RELAY_SOURCE_SUPABASE:
        return &backfill_pgsql_ops;
    case RELAY_SOURCE_SQLITE:
        return &backfill_sqlite_ops;
    case RELAY_SOURCE_BIGQUERY:
        return &backfill_bigquery_ops;
    default:
        return NULL;
    }
}

const char *backfill_system_label(enum relay_source source)
{
    const struct backfill_reader_ops *ops = ops_of(source);
    return ops != NULL ? ops->name : "unknown";
}

static bool is_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

bool backfill_source_is_enabled(const struct relay_config *conf, enum relay_source source)
{
    switch (source) {
    case RELAY_SOURCE_TWENTY:
        return is_set(conf->twenty.url);
    case RELAY_SOURCE_SUPABASE:
        return is_set(conf->postgres.url);
    case RELAY_SOURCE_SQLITE:
        return is_set(conf->sqlite.path) && strcmp(conf->sqlite.path, "off") != 0;
    case RELAY_SOURCE_BIGQUERY:
        return is_set(conf->bigquery.project);
    default:
        return false;
    }
}

struct backfill_reader *backfill_reader_open(enum relay_source source,
                                             const struct relay_config *conf,
                                             const struct mapping *m, struct relay_error *err)
{
    const struct backfill_reader_ops *ops = ops_of(source);
    if (ops == NULL) {
        relay_error_set(err, RELAY_EINVAL, "unknown source");
        return NULL;
    }
    if (!backfill_source_is_enabled(conf, source)) {
        relay_error_set(err, RELAY_ECONFIG, "%s is not configured", ops->name);
        return NULL;
    }
    struct backfill_reader *r = relay_calloc(1, sizeof(*r));
    if (r == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        return NULL;
    }
    r->ops = ops;
    r->mapping = m;
    r->sys = (enum mapper_system)backfill_source_system(source);
    r->page_size = BACKFILL_PAGE_DEFAULT;
    r->state = ops->open(conf, err);
    if (r->state == NULL) {
        relay_free(r);
        return NULL;
    }
    return r;
}

void backfill_reader_close(struct backfill_reader *r)
{
    if (r == NULL) {
        return;
    }
    r->ops->close(r->state);
    relay_free(r->since);
    relay_free(r);
}

void backfill_reader_set_page_size(struct backfill_reader *r, unsigned rows)
{
    r->page_size = rows == 0                  ? BACKFILL_PAGE_DEFAULT
                   : rows > BACKFILL_PAGE_MAX ? BACKFILL_PAGE_MAX
                                              : rows;
}

int backfill_reader_set_since(struct backfill_reader *r, const char *since, struct relay_error *err)
{
    relay_free(r->since);
    r->since = NULL;
    if (since == NULL) {
        return 0;
    }
    r->since = relay_strdup(since);
    return r->since != NULL ? 0 : relay_error_set(err, RELAY_ENOMEM, "out of memory");
}

/* A record without contact_id gets the id of the system it was first seen
 * in (contact.md, Identity): the Twenty id for Twenty, the Supabase id for
 * Supabase (*derived then set; push looks up P:xref for it). Other systems
 * always store contact_id. */
static int fallback_contact_id(enum mapper_system sys, json_t *fields, bool *derived)
{
    const json_t *id = json_object_get(fields, "contact_id");
    const char *own = sys == MAPPER_SYS_TWENTY     ? "twenty_id"
                      : sys == MAPPER_SYS_POSTGRES ? "supabase_id"
                                                   : NULL;
    const json_t *own_id = own != NULL ? json_object_get(fields, own) : NULL;
    *derived = false;
    if ((json_is_string(id) && json_string_length(id) > 0) || !json_is_string(own_id)) {
        return 0;
    }
    *derived = true;
    return json_object_set_new(fields, "contact_id", json_string(json_string_value(own_id)));
}

/* Maps one record; 1 when it has no contact_id (counted as failed), 2
 * when it is filtered out by since. */
static int map_record(struct backfill_reader *r, json_t *row, struct backfill_contact *out,
                      struct relay_error *err)
{
    json_t *view_extra = NULL;
    if (r->sys == MAPPER_SYS_CANONICAL) {
        /* The BigQuery view's extra is already {"<source>": {...}}. */
        view_extra = json_incref(json_object_get(row, "extra"));
        json_object_del(row, "extra");
    }
    json_t *extra = json_object();
    json_t *quarantine = json_object();
    json_t *fields = extra && quarantine
                         ? mapper_from_system(r->mapping, r->sys, row, extra, quarantine, err)
                         : NULL;
    if (fields == NULL) {
        json_decref(view_extra);
        json_decref(extra);
        json_decref(quarantine);
        return err->code == RELAY_ENOMEM || extra == NULL || quarantine == NULL ? -1 : 1;
    }
    if (view_extra != NULL && json_is_object(view_extra)) {
        json_object_update(extra, view_extra);
    }
    json_decref(view_extra);
    if (fallback_contact_id(r->sys, fields, &out->is_contact_id_derived) != 0) {
        json_decref(fields);
        json_decref(extra);
        json_decref(quarantine);
        return relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    const json_t *id = json_object_get(fields, "contact_id");
    const json_t *updated = json_object_get(fields, "updated_at");
    int rc = 0;
    if (!json_is_string(id) || json_string_length(id) == 0) {
        rc = 1;
    } else if (r->since != NULL && !r->ops->filters_since &&
               (!json_is_string(updated) || strcmp(json_string_value(updated), r->since) < 0)) {
        rc = 2;
    }
    if (rc != 0) {
        json_decref(fields);
        json_decref(extra);
        json_decref(quarantine);
        return rc;
    }
    out->fields = fields;
    out->extra = json_object_size(extra) > 0 ? extra : (json_decref(extra), NULL);
    out->quarantined =
        json_object_size(quarantine) > 0 ? quarantine : (json_decref(quarantine), NULL);
    return 0;
}

static int map_rows(struct backfill_reader *r, json_t *rows, struct backfill_page *page,
                    struct relay_error *err)
{
    size_t n = json_array_size(rows);
    page->items = n > 0 ? relay_calloc(n, sizeof(*page->items)) : NULL;
    if (n > 0 && page->items == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    page->cap = n;
    for (size_t i = 0; i < n; i++) {
        int rc = map_record(r, json_array_get(rows, i), &page->items[page->count], err);
        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            page->count++;
        } else if (rc == 1) {
            page->failed++;
        } else {
            page->skipped++;
        }
    }
    return 0;
}

int backfill_reader_next(struct backfill_reader *r, const char *cursor, struct backfill_page *page,
                         struct relay_error *err)
{
    backfill_page_fini(page);
    json_t *rows = NULL;
    if (cursor != NULL && cursor[0] == '\0') {
        cursor = NULL;
    }
    if (r->ops->next(r->state, cursor, r->page_size, r->since, &rows, &page->next_cursor,
                     &page->is_last, err) != 0) {
        return -1;
    }
    int rc = map_rows(r, rows, page, err);
    json_decref(rows);
    return rc;
}

long long backfill_reader_remaining(struct backfill_reader *r, const char *cursor)
{
    if (cursor != NULL && cursor[0] == '\0') {
        cursor = NULL;
    }
    return r->ops->remaining(r->state, cursor, r->ops->filters_since ? r->since : NULL);
}

int backfill_reader_get(struct backfill_reader *r, const char *contact_id, json_t **out,
                        struct relay_error *err)
{
    json_t *row = NULL;
    *out = NULL;
    if (r->ops->get(r->state, contact_id, &row, err) != 0) {
        return -1;
    }
    if (row == NULL) {
        return 0;
    }
    struct backfill_contact c = {0};
    char *since = r->since;
    r->since = NULL; /* a lookup by id ignores --since */
    int rc = map_record(r, row, &c, err);
    r->since = since;
    json_decref(row);
    if (rc < 0) {
        return -1;
    }
    if (rc > 0) {
        return relay_error_set(err, RELAY_EINVAL, "%s: the record of %s cannot be mapped",
                               r->ops->name, contact_id);
    }
    json_decref(c.extra);
    json_decref(c.quarantined);
    *out = c.fields;
    return 0;
}
