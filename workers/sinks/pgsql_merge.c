/* Merging a batch by contact_id before it becomes one INSERT: Postgres
 * refuses to touch one row twice in a statement ("ON CONFLICT DO UPDATE
 * command cannot affect row a second time"). Per column the merged row
 * keeps the value a field-level last-writer-wins would keep: a changed
 * value beats a merely provided one, and between equals the newer version
 * wins (the later event on a tie). The database then applies the same
 * rule against what it stores (pgsql_render.c). */
#include "workers/sinks/pgsql_batch.h"

#include "mappers/mapper.h"
#include "relay/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

static int batch_alloc(struct pgsql_batch *b, const struct pgsql_table *t, size_t n)
{
    size_t cells = (n ? n : 1) * (t->ncols ? t->ncols : 1);
    memset(b, 0, sizeof(*b));
    b->t = t;
    b->nslots = 4;
    while (b->nslots < 2 * n) {
        b->nslots *= 2;
    }
    b->rows = relay_calloc(n ? n : 1, sizeof(*b->rows));
    b->slots = relay_calloc(b->nslots, sizeof(*b->slots));
    b->val_block = relay_calloc(cells, sizeof(*b->val_block));
    b->vver_block = relay_calloc(cells, sizeof(*b->vver_block));
    b->chg_block = relay_calloc(cells, sizeof(*b->chg_block));
    b->scratch = relay_calloc(t->ncols ? t->ncols : 1, sizeof(*b->scratch));
    return (b->rows && b->slots && b->val_block && b->vver_block && b->chg_block && b->scratch)
               ? 0
               : -1;
}

static struct pgsql_row *row_for(struct pgsql_batch *b, const char *contact_id)
{
    size_t mask = b->nslots - 1;
    for (size_t s = hash_str(contact_id) & mask;; s = (s + 1) & mask) {
        if (b->slots[s] == 0) {
            struct pgsql_row *r = &b->rows[b->nrows];
            size_t off = b->nrows * b->t->ncols;
            r->contact_id = contact_id;
            r->val = b->val_block + off;
            r->vver = b->vver_block + off;
            r->chg = b->chg_block + off;
            b->slots[s] = ++b->nrows;
            return r;
        }
        struct pgsql_row *r = &b->rows[b->slots[s] - 1];
        if (strcmp(r->contact_id, contact_id) == 0) {
            return r;
        }
    }
}

static bool keeps_new(const struct pgsql_row *r, size_t c, bool changed, const char *version)
{
    if (r->val[c] == NULL) {
        return true;
    }
    if (changed != r->chg[c]) {
        return changed;
    }
    return strcmp(r->vver[c], version) <= 0;
}

/* Per source key, the newer event's extra replaces the older one's. */
static int merge_extra(struct pgsql_row *r, const struct relay_event *ev)
{
    const char *source;
    json_t *value;
    if (!json_is_object(ev->extra)) {
        return 0;
    }
    if (r->extra == NULL) {
        r->extra = json_object();
        r->extra_ver = json_object();
        if (r->extra == NULL || r->extra_ver == NULL) {
            return -1;
        }
    }
    json_object_foreach(ev->extra, source, value)
    {
        const char *held = json_string_value(json_object_get(r->extra_ver, source));
        if (held != NULL && strcmp(held, ev->version) > 0) {
            continue;
        }
        if (json_object_set(r->extra, source, value) != 0 ||
            json_object_set_new(r->extra_ver, source, json_string(ev->version)) != 0) {
            return -1;
        }
    }
    return 0;
}

static int merge_event(struct pgsql_batch *b, struct pgsql_row *r, const struct relay_event *ev,
                       json_t *mapped, bool hard_delete)
{
    const struct pgsql_table *t = b->t;
    bool *chg_now = b->scratch;
    memset(chg_now, 0, t->ncols * sizeof(*chg_now));
    size_t i;
    json_t *name;
    json_array_foreach(ev->changed, i, name)
    {
        long c = json_is_string(name) ? sql_fields_find(&t->fields, json_string_value(name)) : -1;
        if (c >= 0) {
            chg_now[c] = true;
        }
    }
    for (size_t c = 0; c < t->ncols; c++) {
        json_t *v = json_object_get(mapped, t->cols[c].column);
        if (v == NULL || !keeps_new(r, c, chg_now[c], ev->version)) {
            continue;
        }
        json_decref(r->val[c]);
        r->val[c] = json_incref(v);
        r->vver[c] = ev->version;
        r->chg[c] = chg_now[c];
    }
    if (ev->op == RELAY_OP_DESTROY && hard_delete &&
        (r->destroy_version == NULL || strcmp(r->destroy_version, ev->version) < 0)) {
        r->destroy_version = ev->version;
    }
    return merge_extra(r, ev);
}

static int row_cmp(const void *a, const void *b)
{
    const struct pgsql_row *x = a, *y = b;
    return strcmp(x->contact_id, y->contact_id);
}

long pgsql_batch_build(struct pgsql_batch *b, const struct pgsql_table *t, const struct mapping *m,
                       struct relay_event *const *evs, size_t n, bool hard_delete,
                       enum sink_status *status, struct relay_error *err)
{
    long rejected = 0;
    if (batch_alloc(b, t, n) != 0) {
        pgsql_batch_fini(b);
        relay_error_set(err, RELAY_ENOMEM, "postgres: out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct relay_error why = {0};
        status[i] = SINK_OK;
        json_t *mapped = mapper_to_system(m, MAPPER_SYS_POSTGRES, evs[i]->fields, NULL, 0, &why);
        if (mapped == NULL) {
            if (why.code == RELAY_ENOMEM) {
                pgsql_batch_fini(b);
                relay_error_set(err, RELAY_ENOMEM, "postgres: out of memory");
                return -1;
            }
            if (rejected++ == 0) {
                relay_error_set(err, RELAY_EINVAL, "ev %s: %s", evs[i]->id, why.msg);
            }
            status[i] = SINK_REJECT;
            continue;
        }
        struct pgsql_row *r = row_for(b, evs[i]->contact_id);
        int rc = merge_event(b, r, evs[i], mapped, hard_delete);
        json_decref(mapped);
        if (rc != 0) {
            pgsql_batch_fini(b);
            relay_error_set(err, RELAY_ENOMEM, "postgres: out of memory");
            return -1;
        }
    }
    /* One lock order for every worker: concurrent batches that touch the
     * same contacts wait for each other instead of deadlocking. */
    qsort(b->rows, b->nrows, sizeof(*b->rows), row_cmp);
    return rejected;
}

void pgsql_batch_fini(struct pgsql_batch *b)
{
    if (b->rows != NULL) {
        for (size_t r = 0; r < b->nrows; r++) {
            for (size_t c = 0; c < b->t->ncols; c++) {
                json_decref(b->rows[r].val[c]);
            }
            json_decref(b->rows[r].extra);
            json_decref(b->rows[r].extra_ver);
        }
    }
    relay_free(b->rows);
    relay_free(b->slots);
    relay_free(b->val_block);
    relay_free(b->vver_block);
    relay_free(b->chg_block);
    relay_free(b->scratch);
    memset(b, 0, sizeof(*b));
}
