/* `syncrelay transform`: runs the mapper offline on one input, so an
 * operator (or a test) sees exactly what a webhook becomes and what every
 * system would get. Input: a Twenty or Supabase webhook body, or a JSON
 * object of canonical fields (plus optional "extra"). Output: the canonical
 * event, or the row / request body of one system, as indented JSON in
 * mapping order. Exit 0 ok (quarantined fields are warned about on
 * stderr), 2 bad usage or bad input (or quarantine with --strict), 1 a
 * runtime failure. */
#include "mappers/mapper.h"
#include "relay/buf.h"
#include "relay/cli.h"
#include "relay/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TRANSFORM_INPUT_MAX_BYTES (64u * 1024 * 1024)
#define TRANSFORM_DUMP_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER)

struct transform_opts {
    const char *from; /* "twenty", "supabase" or "canonical" */
    int to;           /* enum mapper_system */
    bool is_strict;
    const char *file; /* NULL: stdin */
};

static int usage_to(FILE *out, int status)
{
    fprintf(out, "usage: syncrelay transform --from twenty|supabase|canonical "
                 "--to canonical|postgres|sqlite|bigquery|twenty [--strict] [FILE]\n");
    return status;
}

static int usage(void)
{
    return usage_to(stderr, 2);
}

static int parse_args(int argc, char **argv, struct transform_opts *o)
{
    o->to = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            o->from = argv[++i];
        } else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            o->to = mapper_system_parse(argv[++i]);
            if (o->to < 0) {
                fprintf(stderr, "transform: unknown --to \"%s\"\n", argv[i]);
                return usage();
            }
        } else if (strcmp(argv[i], "--strict") == 0) {
            o->is_strict = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "transform: unknown option %s\n", argv[i]);
            return usage();
        } else if (o->file == NULL) {
            o->file = strcmp(argv[i], "-") == 0 ? NULL : argv[i];
        } else {
            return usage();
        }
    }
    if (o->from == NULL || o->to < 0) {
        return usage();
    }
    if (strcmp(o->from, "twenty") != 0 && strcmp(o->from, "supabase") != 0 &&
        strcmp(o->from, "canonical") != 0) {
        fprintf(stderr, "transform: unknown --from \"%s\"\n", o->from);
        return usage();
    }
    return 0;
}

/* Reads FILE (or stdin) whole. 0, or an exit status after a message. */
static int read_input(const char *path, struct relay_buf *in)
{
    FILE *f = path != NULL ? fopen(path, "rb") : stdin;
    char chunk[65536];
    if (f == NULL) {
        fprintf(stderr, "transform: %s: %s\n", path, strerror(errno));
        return 2;
    }
    int status = 0;
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (in->len + n > TRANSFORM_INPUT_MAX_BYTES) {
            fprintf(stderr, "transform: input larger than %u bytes\n", TRANSFORM_INPUT_MAX_BYTES);
            status = 2;
            break;
        }
        if (relay_buf_append(in, chunk, n) != 0) {
            fprintf(stderr, "transform: out of memory\n");
            status = 1;
            break;
        }
    }
    if (status == 0 && ferror(f)) {
        fprintf(stderr, "transform: %s: read error\n", path != NULL ? path : "stdin");
        status = 2;
    }
    if (f != stdin) {
        fclose(f);
    }
    return status;
}

/* jansson writes reals with 17 digits (0.72 as 0.71999999999999997); the
 * first precision from 15 up that reads back equal is the shortest
 * faithful text for every real in the document. */
static char *dump_shortest(const json_t *value)
{
    for (int precision = 15; precision <= 17; precision++) {
        char *text = json_dumps(value, TRANSFORM_DUMP_FLAGS | JSON_REAL_PRECISION(precision));
        if (text == NULL || precision == 17) {
            return text;
        }
        json_t *back = json_loads(text, 0, NULL);
        bool is_exact = back != NULL && json_equal(back, (json_t *)value);
        json_decref(back);
        if (is_exact) {
            return text;
        }
        relay_free(text);
    }
    return NULL;
}

/* Prints value as indented JSON and a newline. 0 or 1. */
static int print_json(const json_t *value)
{
    char *text = dump_shortest(value);
    if (text == NULL) {
        fprintf(stderr, "transform: out of memory\n");
        return 1;
    }
    int rc = printf("%s\n", text) < 0 || fflush(stdout) != 0 ? 1 : 0;
    relay_free(text);
    return rc;
}

/* One warning line per quarantined field; with --strict that is bad input. */
static int warn_quarantined(const json_t *quarantined, bool is_strict)
{
    const char *name;
    json_t *reason;
    json_object_foreach((json_t *)quarantined, name, reason)
    {
        fprintf(stderr, "transform: warning: %s: %s\n", name, json_string_value(reason));
    }
    if (is_strict && json_object_size(quarantined) > 0) {
        fprintf(stderr, "transform: %zu field(s) quarantined (--strict)\n",
                json_object_size(quarantined));
        return 2;
    }
    return 0;
}

/* Canonical fields -> the target's row or body (or the fields themselves
 * plus "extra" for --to canonical), printed. */
static int print_target(const struct cli_ctx *ctx, int to, const json_t *fields,
                        const json_t *extra)
{
    struct relay_error err = {0};
    json_t *out = mapper_to_system(ctx->mapping, (enum mapper_system)to, fields, extra, 0, &err);
    if (out == NULL) {
        fprintf(stderr, "transform: %s\n", err.msg);
        return err.code == RELAY_ENOMEM ? 1 : 2;
    }
    if (to == MAPPER_SYS_CANONICAL && extra != NULL && json_object_size(extra) > 0) {
        json_object_set(out, "extra", (json_t *)extra);
    }
    int status = print_json(out);
    json_decref(out);
    return status;
}

/* The canonical event as JSON; received_at and delivery are left out so
 * the output is stable. NULL on ENOMEM. */
static json_t *event_json(const struct relay_event *ev)
{
    json_t *o = json_object();
    int bad = o == NULL;
    bad = bad || json_object_set_new(o, "id", json_string(ev->id)) != 0;
    bad = bad || json_object_set_new(o, "source", json_string(relay_source_name(ev->source))) != 0;
    bad = bad || json_object_set_new(o, "op", json_string(relay_op_name(ev->op))) != 0;
    bad = bad || json_object_set_new(o, "contact_id", json_string(ev->contact_id)) != 0;
    bad = bad || json_object_set_new(o, "record_id", json_string(ev->record_id)) != 0;
    bad = bad || json_object_set_new(o, "version", json_string(ev->version)) != 0;
    bad = bad || json_object_set(o, "fields", ev->fields) != 0;
    bad = bad || json_object_set(o, "changed", ev->changed) != 0;
    bad = bad || json_object_set_new(
                     o, "extra", ev->extra != NULL ? json_incref(ev->extra) : json_object()) != 0;
    if (!bad && ev->quarantined != NULL) {
        bad = json_object_set(o, "quarantined", ev->quarantined) != 0;
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int run_webhook(const struct cli_ctx *ctx, const struct transform_opts *o,
                       const struct relay_buf *in)
{
    struct relay_error err = {0};
    struct relay_event *ev = NULL;
    enum relay_source source =
        strcmp(o->from, "twenty") == 0 ? RELAY_SOURCE_TWENTY : RELAY_SOURCE_SUPABASE;
    int rc = mapper_decode_webhook(ctx->mapping, source, in->data != NULL ? in->data : "", in->len,
                                   &ev, &err);
    if (rc == MAPPER_IGNORED) {
        fprintf(stderr, "transform: ignored: %s\n", err.msg);
        json_t *answer = json_pack("{s:s}", "ignored", err.msg);
        int status = answer != NULL ? print_json(answer) : 1;
        json_decref(answer);
        return status;
    }
    if (rc != MAPPER_EVENT) {
        fprintf(stderr, "transform: %s\n", err.msg);
        return err.code == RELAY_ENOMEM ? 1 : 2;
    }
    int status = ev->quarantined != NULL ? warn_quarantined(ev->quarantined, o->is_strict) : 0;
    if (status == 0 && o->to == MAPPER_SYS_CANONICAL) {
        json_t *out = event_json(ev);
        status = out != NULL ? print_json(out) : 1;
        json_decref(out);
    } else if (status == 0) {
        status = print_target(ctx, o->to, ev->fields, ev->extra);
    }
    relay_event_destroy(ev);
    return status;
}

/* Keys of the input that are neither canonical fields nor quarantined
 * ones: a typo must not be silently kept as extra. */
static int check_unknown(const json_t *extra_out, const json_t *quarantine)
{
    const char *key;
    json_t *value;
    json_object_foreach(json_object_get(extra_out, "canonical"), key, value)
    {
        if (json_object_get(quarantine, key) == NULL) {
            fprintf(stderr, "transform: unknown canonical field \"%s\"\n", key);
            return 2;
        }
    }
    return 0;
}

static int run_canonical(const struct cli_ctx *ctx, const struct transform_opts *o,
                         const struct relay_buf *in)
{
    json_error_t jerr;
    struct relay_error err = {0};
    json_t *fields = NULL;
    int status = 2;
    json_t *doc =
        json_loadb(in->data != NULL ? in->data : "", in->len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *extra = json_object(), *quarantine = json_object();
    if (doc == NULL) {
        fprintf(stderr, "transform: input is not JSON: %s at line %d column %d\n", jerr.text,
                jerr.line, jerr.column);
        goto out;
    }
    json_t *given_extra = json_object_get(doc, "extra");
    if (!json_is_object(doc) || (given_extra != NULL && !json_is_object(given_extra))) {
        fprintf(stderr, "transform: canonical input must be an object (\"extra\": an object)\n");
        goto out;
    }
    if (given_extra != NULL) {
        json_object_update(extra, given_extra);
        json_object_del(doc, "extra");
    }
    fields = mapper_from_system(ctx->mapping, MAPPER_SYS_CANONICAL, doc, extra, quarantine, &err);
    if (fields == NULL) {
        fprintf(stderr, "transform: %s\n", err.msg);
        goto out;
    }
    status = check_unknown(extra, quarantine);
    if (status == 0) {
        status = warn_quarantined(quarantine, o->is_strict);
    }
    if (status == 0) {
        status = print_target(ctx, o->to, fields, extra);
    }
out:
    json_decref(doc);
    json_decref(fields);
    json_decref(extra);
    json_decref(quarantine);
    return status;
}

int cmd_transform(const struct cli_ctx *ctx, int argc, char **argv)
{
    struct transform_opts o = {0};
    struct relay_buf in;
    if (cli_is_help(argc, argv)) {
        return usage_to(stdout, 0);
    }
    int status = parse_args(argc, argv, &o);
    if (status != 0) {
        return status;
    }
    relay_buf_init(&in);
    status = read_input(o.file, &in);
    if (status == 0) {
        status = strcmp(o.from, "canonical") == 0 ? run_canonical(ctx, &o, &in)
                                                  : run_webhook(ctx, &o, &in);
    }
    relay_buf_fini(&in);
    return status;
}
