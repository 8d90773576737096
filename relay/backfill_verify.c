/* `syncrelay verify` (backfill_verify.h). */
#include "relay/backfill_verify.h"
#include "relay/backfill_compare.h"
#include "relay/backfill_reader.h"
#include "relay/mem.h"

#include <string.h>

#define VERIFY_VALUE_WIDTH 34
#define VERIFY_FIELD_WIDTH 22
#define VERIFY_EXAMPLES_MAX 10
#define VERIFY_SCAN_PAGE 1000

/* The systems compared, in the order they are printed. */
static const enum relay_source verify_order[] = {RELAY_SOURCE_SUPABASE, RELAY_SOURCE_SQLITE,
                                                 RELAY_SOURCE_BIGQUERY, RELAY_SOURCE_TWENTY};
#define VERIFY_SYSTEMS_MAX (sizeof(verify_order) / sizeof(verify_order[0]))

struct verify_systems {
    size_t n;
    enum relay_source source[VERIFY_SYSTEMS_MAX];
    struct backfill_reader *reader[VERIFY_SYSTEMS_MAX];
};

static void close_systems(struct verify_systems *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        backfill_reader_close(vs->reader[i]);
    }
    vs->n = 0;
}

static int open_systems(const struct relay_config *conf, const struct mapping *m,
                        struct verify_systems *vs, struct relay_error *err)
{
    vs->n = 0;
    for (size_t i = 0; i < VERIFY_SYSTEMS_MAX; i++) {
        if (!backfill_source_is_enabled(conf, verify_order[i])) {
            continue;
        }
        vs->source[vs->n] = verify_order[i];
        vs->reader[vs->n] = backfill_reader_open(verify_order[i], conf, m, err);
        if (vs->reader[vs->n] == NULL) {
            close_systems(vs);
            return -1;
        }
        vs->n++;
    }
    if (vs->n == 0) {
        return relay_error_set(err, RELAY_ECONFIG, "no system is enabled in the config");
    }
    return 0;
}

static json_t *labels_of(const struct verify_systems *vs)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < vs->n; i++) {
        json_array_append_new(a, json_string(backfill_system_label(vs->source[i])));
    }
    return a;
}

/* A value as compact JSON, cut to width with "..." when longer. */
static void format_value(char *out, size_t len, const json_t *v)
{
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    const char *shown = v == NULL ? "-" : text != NULL ? text : "?";
    if (strlen(shown) >= len) {
        snprintf(out, len, "%.*s...", (int)len - 4, shown);
    } else {
        snprintf(out, len, "%s", shown);
    }
    relay_free(text);
}

static void print_table(FILE *out, const struct verify_systems *vs, const json_t *diffs)
{
    char cell[VERIFY_VALUE_WIDTH];
    fprintf(out, "%-*s", VERIFY_FIELD_WIDTH, "FIELD");
    for (size_t i = 0; i < vs->n; i++) {
        fprintf(out, i + 1 < vs->n ? "  %-*s" : "  %.*s", VERIFY_VALUE_WIDTH,
                backfill_system_label(vs->source[i]));
    }
    fputc('\n', out);
    size_t k;
    json_t *d;
    json_array_foreach(diffs, k, d)
    {
        const json_t *values = json_object_get(d, "values");
        fprintf(out, "%-*s", VERIFY_FIELD_WIDTH, json_string_value(json_object_get(d, "field")));
        for (size_t i = 0; i < vs->n; i++) {
            format_value(cell, sizeof(cell),
                         json_object_get(values, backfill_system_label(vs->source[i])));
            fprintf(out, i + 1 < vs->n ? "  %-*s" : "  %.*s", VERIFY_VALUE_WIDTH, cell);
        }
        fputc('\n', out);
    }
}

static void print_one_text(FILE *out, const char *contact_id, const struct verify_systems *vs,
                           const json_t *missing, const json_t *diffs)
{
    size_t held = vs->n - json_array_size(missing);
    if (held == 0) {
        fprintf(out, "contact %s: not found in any system\n", contact_id);
        return;
    }
    size_t k;
    json_t *name;
    json_array_foreach(missing, k, name)
    {
        fprintf(out, "contact %s: missing in %s\n", contact_id, json_string_value(name));
    }
    if (json_array_size(diffs) == 0 && json_array_size(missing) == 0) {
        fprintf(out, "contact %s: the %zu systems agree\n", contact_id, vs->n);
        return;
    }
    fprintf(out, "contact %s: %zu field(s) differ\n", contact_id, json_array_size(diffs));
    if (json_array_size(diffs) > 0) {
        print_table(out, vs, diffs);
    }
}

static int print_json(FILE *out, json_t *result, struct relay_error *err)
{
    if (result == NULL || json_dumpf(result, out, JSON_COMPACT) != 0) {
        json_decref(result);
        return relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    fputc('\n', out);
    json_decref(result);
    return 0;
}

/* Reads contact_id from every system into fields[] (owned) and copies[]. */
static int read_copies(const struct verify_systems *vs, const char *contact_id, json_t **fields,
                       struct backfill_copy *copies, json_t *missing, struct relay_error *err)
{
    for (size_t i = 0; i < vs->n; i++) {
        if (backfill_reader_get(vs->reader[i], contact_id, &fields[i], err) != 0) {
            return -1;
        }
        const char *label = backfill_system_label(vs->source[i]);
        copies[i] = (struct backfill_copy){
            .label = label, .system = backfill_source_system(vs->source[i]), .fields = fields[i]};
        if (fields[i] == NULL && json_array_append_new(missing, json_string(label)) != 0) {
            return relay_error_set(err, RELAY_ENOMEM, "out of memory");
        }
    }
    return 0;
}

int backfill_verify_one(const struct relay_config *conf, const struct mapping *m,
                        const char *contact_id, bool is_json, FILE *out, struct relay_error *err)
{
    struct verify_systems vs = {0};
    json_t *fields[VERIFY_SYSTEMS_MAX] = {0};
    struct backfill_copy copies[VERIFY_SYSTEMS_MAX];
    json_t *missing = json_array();
    json_t *diffs = NULL;
    int rc = -1;
    if (missing == NULL || open_systems(conf, m, &vs, err) != 0 ||
        read_copies(&vs, contact_id, fields, copies, missing, err) != 0) {
        goto out;
    }
    diffs = backfill_compare(m, copies, vs.n, err);
    if (diffs == NULL) {
        goto out;
    }
    bool agree = json_array_size(diffs) == 0 && json_array_size(missing) == 0;
    rc = agree ? BACKFILL_VERIFY_AGREE : BACKFILL_VERIFY_DIFFER;
    if (is_json) {
        json_t *result =
            json_pack("{s:s, s:o, s:O, s:b, s:b, s:O}", "contact_id", contact_id, "systems",
                      labels_of(&vs), "missing", missing, "found", json_array_size(missing) < vs.n,
                      "agree", agree, "differences", diffs);
        if (print_json(out, result, err) != 0) {
            rc = -1;
        }
    } else {
        print_one_text(out, contact_id, &vs, missing, diffs);
    }
out:
    for (size_t i = 0; i < VERIFY_SYSTEMS_MAX; i++) {
        json_decref(fields[i]);
    }
    json_decref(missing);
    json_decref(diffs);
    close_systems(&vs);
    return rc;
}

/* ---- every contact ---- */

struct verify_scan {
    json_t *by_id[VERIFY_SYSTEMS_MAX]; /* contact_id -> canonical fields, per system */
    json_t *fields;                    /* field -> number of contacts where it differs */
    json_t *missing;                   /* system -> number of contacts it lacks */
    json_t *examples;                  /* a few differing contact ids */
    size_t contacts;
    size_t differing;
};

static int load_system(struct backfill_reader *r, json_t *by_id, struct relay_error *err)
{
    struct backfill_page page;
    char *cursor = NULL;
    int rc = -1;
    backfill_page_init(&page);
    backfill_reader_set_page_size(r, VERIFY_SCAN_PAGE);
    do {
        if (backfill_reader_next(r, cursor, &page, err) != 0) {
            goto out;
        }
        for (size_t i = 0; i < page.count; i++) {
            const char *id = json_string_value(json_object_get(page.items[i].fields, "contact_id"));
            if (json_object_set(by_id, id, page.items[i].fields) != 0) {
                relay_error_set(err, RELAY_ENOMEM, "out of memory");
                goto out;
            }
        }
        if (page.next_cursor != NULL) {
            relay_free(cursor);
            cursor = page.next_cursor;
            page.next_cursor = NULL;
        }
    } while (!page.is_last);
    rc = 0;
out:
    relay_free(cursor);
    backfill_page_fini(&page);
    return rc;
}

static int count_in(json_t *counts, const char *key)
{
    json_int_t n = json_integer_value(json_object_get(counts, key));
    return json_object_set_new(counts, key, json_integer(n + 1));
}

static int scan_contact(const struct verify_systems *vs, struct verify_scan *sc, const char *id,
                        const struct mapping *m, struct relay_error *err)
{
    struct backfill_copy copies[VERIFY_SYSTEMS_MAX];
    bool is_missing = false;
    int rc = 0;
    for (size_t i = 0; i < vs->n; i++) {
        const char *label = backfill_system_label(vs->source[i]);
        copies[i] = (struct backfill_copy){.label = label,
                                           .system = backfill_source_system(vs->source[i]),
                                           .fields = json_object_get(sc->by_id[i], id)};
        if (copies[i].fields == NULL) {
            is_missing = true;
            rc |= count_in(sc->missing, label);
        }
    }
    json_t *diffs = backfill_compare(m, copies, vs->n, err);
    if (diffs == NULL) {
        return -1;
    }
    size_t k;
    json_t *d;
    json_array_foreach(diffs, k, d)
    {
        rc |= count_in(sc->fields, json_string_value(json_object_get(d, "field")));
    }
    sc->contacts++;
    if (is_missing || json_array_size(diffs) > 0) {
        sc->differing++;
        if (json_array_size(sc->examples) < VERIFY_EXAMPLES_MAX) {
            rc |= json_array_append_new(sc->examples, json_string(id));
        }
    }
    json_decref(diffs);
    return rc == 0 ? 0 : relay_error_set(err, RELAY_ENOMEM, "out of memory");
}

/* Every contact id of the union, each compared once. */
static int scan_all(const struct verify_systems *vs, struct verify_scan *sc,
                    const struct mapping *m, struct relay_error *err)
{
    for (size_t i = 0; i < vs->n; i++) {
        const char *id;
        json_t *v;
        json_object_foreach(sc->by_id[i], id, v)
        {
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++) {
                seen = json_object_get(sc->by_id[j], id) != NULL;
            }
            if (!seen && scan_contact(vs, sc, id, m, err) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

static void print_scan_text(FILE *out, const struct verify_systems *vs,
                            const struct verify_scan *sc)
{
    fprintf(out, "verify: %zu contacts in", sc->contacts);
    for (size_t i = 0; i < vs->n; i++) {
        fprintf(out, "%s %s", i > 0 ? "," : "", backfill_system_label(vs->source[i]));
    }
    fprintf(out, "\ncontacts that differ: %zu\n", sc->differing);
    const char *key;
    json_t *n;
    if (json_object_size(sc->fields) + json_object_size(sc->missing) > 0) {
        fprintf(out, "%-*s  %s\n", VERIFY_FIELD_WIDTH, "FIELD", "CONTACTS");
    }
    json_object_foreach(sc->missing, key, n)
    {
        char label[64];
        snprintf(label, sizeof(label), "(missing in %s)", key);
        fprintf(out, "%-*s  %lld\n", VERIFY_FIELD_WIDTH, label, (long long)json_integer_value(n));
    }
    json_object_foreach(sc->fields, key, n)
    {
        fprintf(out, "%-*s  %lld\n", VERIFY_FIELD_WIDTH, key, (long long)json_integer_value(n));
    }
    size_t k;
    json_array_foreach(sc->examples, k, n)
    {
        fprintf(out, "%s%s", k == 0 ? "for example: " : ", ", json_string_value(n));
    }
    if (json_array_size(sc->examples) > 0) {
        fputc('\n', out);
    }
}

static void scan_fini(struct verify_scan *sc)
{
    for (size_t i = 0; i < VERIFY_SYSTEMS_MAX; i++) {
        json_decref(sc->by_id[i]);
    }
    json_decref(sc->fields);
    json_decref(sc->missing);
    json_decref(sc->examples);
}

int backfill_verify_all(const struct relay_config *conf, const struct mapping *m, bool is_json,
                        FILE *out, struct relay_error *err)
{
    struct verify_systems vs = {0};
    struct verify_scan sc = {
        .fields = json_object(), .missing = json_object(), .examples = json_array()};
    int rc = -1;
    if (sc.fields == NULL || sc.missing == NULL || sc.examples == NULL ||
        open_systems(conf, m, &vs, err) != 0) {
        goto out;
    }
    for (size_t i = 0; i < vs.n; i++) {
        sc.by_id[i] = json_object();
        if (sc.by_id[i] == NULL || load_system(vs.reader[i], sc.by_id[i], err) != 0) {
            goto out;
        }
    }
    if (scan_all(&vs, &sc, m, err) != 0) {
        goto out;
    }
    rc = sc.differing == 0 ? BACKFILL_VERIFY_AGREE : BACKFILL_VERIFY_DIFFER;
    if (!is_json) {
        print_scan_text(out, &vs, &sc);
    } else if (print_json(out,
                          json_pack("{s:o, s:I, s:I, s:b, s:O, s:O, s:O}", "systems",
                                    labels_of(&vs), "contacts", (json_int_t)sc.contacts,
                                    "differing", (json_int_t)sc.differing, "agree",
                                    sc.differing == 0, "missing", sc.missing, "fields", sc.fields,
                                    "examples", sc.examples),
                          err) != 0) {
        rc = -1;
    }
out:
    scan_fini(&sc);
    close_systems(&vs);
    return rc;
}
