/* The mapping file: the compiled-in default (30 fields in contact.md's
 * order, with their types, flags and columns), every validation error with
 * its file:line, and a user's custom field mapped in and out of every
 * system. */
#include "mappers/mapper.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_mapping_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Writes text to a fresh temporary file; the caller unlinks path. */
static void write_temp(char path[64], const char *text)
{
    snprintf(path, 64, "/tmp/test_mapper_mapping.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static struct mapping *load_text(const char *text, struct relay_error *err, char path[64])
{
    write_temp(path, text);
    struct mapping *m = mapping_load(path, err);
    unlink(path);
    return m;
}

/* The default file with `replace` substituted once for `find`. */
static char *default_with(const char *find, const char *replace)
{
    char *text = read_text(RELAY_SOURCE_DIR "/deploy/mappings/contact.yaml");
    char *at = strstr(text, find);
    assert_non_null(at);
    size_t out_len = strlen(text) + strlen(replace) + 1;
    char *out = malloc(out_len);
    assert_non_null(out);
    snprintf(out, out_len, "%.*s%s%s", (int)(at - text), text, replace, at + strlen(find));
    free(text);
    return out;
}

/* The error message mapping_load gives for the default with one edit. */
static void expect_load_error(const char *find, const char *replace, const char *tail)
{
    char path[64];
    struct relay_error err = {0};
    char *text = default_with(find, replace);
    struct mapping *m = load_text(text, &err, path);
    free(text);
    if (m != NULL) {
        mapping_destroy(m);
        fail_msg("loaded despite %s", replace);
    }
    assert_int_equal(err.code, RELAY_ECONFIG);
    /* "path:line: reason": check the prefix is the file, and the rest. */
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    if (strcmp(err.msg + strlen(path), tail) != 0) {
        fail_msg("got \"%s\", expected \"%s%s\"", err.msg, path, tail);
    }
}

static void default_has_the_30_fields(void **state)
{
    (void)state;
    struct relay_error err = {0};
    struct mapping *m = mapping_load(NULL, &err);
    assert_non_null(m);
    struct mapping *again = mapping_load("", &err);
    assert_non_null(again);
    mapping_destroy(again);
    assert_int_equal(mapping_field_count(m), 30);
    for (size_t i = 0; i < 30; i++) {
        const struct mapping_field *f = mapping_field_at(m, i);
        assert_string_equal(f->name, contact_field_name(i));
        assert_string_equal(f->column[MAPPER_SYS_CANONICAL], f->name);
        assert_true(f == mapping_field_find(m, contact_field_name(i)));
        bool is_id = i < 3;
        assert_int_equal(f->is_identity, is_id);
        assert_int_equal(f->is_syncrelay_owned, strcmp(f->name, "sync_metadata") == 0);
        for (int s = 1; s < MAPPER_SYS_COUNT; s++) {
            assert_non_null(f->column[s]);
        }
    }
    assert_null(mapping_field_at(m, 30));
    assert_null(mapping_field_find(m, "extra"));
    const struct mapping_field *f = mapping_field_find(m, "supabase_id");
    assert_string_equal(f->column[MAPPER_SYS_POSTGRES], "id");
    assert_string_equal(f->column[MAPPER_SYS_TWENTY], "supabaseId");
    f = mapping_field_find(m, "first_name");
    assert_string_equal(f->column[MAPPER_SYS_TWENTY], "name.firstName");
    assert_int_equal(mapping_field_find(m, "tags")->type, MAPPING_TEXT_ARRAY);
    assert_int_equal(mapping_field_find(m, "created_at")->type, MAPPING_TIMESTAMP);
    assert_int_equal(mapping_field_find(m, "relationship_strength")->type, MAPPING_NUMBER);
    assert_int_equal(mapping_field_find(m, "social_network")->type, MAPPING_JSON_OBJECT);
    assert_int_equal(mapping_field_find(m, "llm_context")->type, MAPPING_JSON);
    mapping_destroy(m);
}

static void system_names(void **state)
{
    (void)state;
    static const char *const names[] = {"canonical", "twenty", "postgres", "sqlite", "bigquery"};
    for (int s = 0; s < MAPPER_SYS_COUNT; s++) {
        assert_string_equal(mapper_system_name((enum mapper_system)s), names[s]);
        assert_int_equal(mapper_system_parse(names[s]), s);
    }
    assert_int_equal(mapper_system_parse("supabase"), -1);
    assert_string_equal(mapper_system_name(MAPPER_SYS_COUNT), "unknown");
}

static void the_file_is_the_default(void **state)
{
    (void)state;
    /* Loading the file from disk gives the same map as the built-in copy. */
    struct relay_error err = {0};
    struct mapping *a = mapping_load(NULL, &err);
    struct mapping *b = mapping_load(RELAY_SOURCE_DIR "/deploy/mappings/contact.yaml", &err);
    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < 30; i++) {
        for (int s = 0; s < MAPPER_SYS_COUNT; s++) {
            assert_string_equal(mapping_field_at(a, i)->column[s],
                                mapping_field_at(b, i)->column[s]);
        }
    }
    mapping_destroy(a);
    mapping_destroy(b);
}

/* The 1-based line where find starts in the default file. */
static unsigned line_of(const char *find)
{
    char *text = read_text(RELAY_SOURCE_DIR "/deploy/mappings/contact.yaml");
    char *at = strstr(text, find);
    assert_non_null(at);
    unsigned line = 1;
    for (char *p = text; p < at; p++) {
        line += *p == '\n';
    }
    free(text);
    return line + (find[0] == '\n');
}

/* expect_load_error with the line of find put in front of reason. */
static void expect_line_error(const char *find, const char *replace, const char *reason)
{
    char tail[512];
    snprintf(tail, sizeof(tail), ":%u: %s", line_of(find), reason);
    expect_load_error(find, replace, tail);
}

static void rejects_bad_files(void **state)
{
    (void)state;
    expect_line_error("{column: relationshipType, transform: upper}",
                      "{column: relationshipType, transform: shout}",
                      "field relationship_type: twenty: unknown transform \"shout\"");
    expect_line_error("postgres: {column: nickname}", "postgres: {column: Nick Name}",
                      "field nickname: postgres column \"Nick Name\" is not an identifier "
                      "[a-z_][a-z0-9_]*");
    expect_line_error("bigquery: {column: nickname}", "bigquery: {column: 1nick}",
                      "field nickname: bigquery column \"1nick\" is not an identifier "
                      "[a-z_][a-z0-9_]*");
    expect_line_error("sqlite:   {column: nickname}", "sqlite:   {column: \"nick;drop\"}",
                      "field nickname: sqlite column \"nick;drop\" is not an identifier "
                      "[a-z_][a-z0-9_]*");
    expect_line_error("\n  - name: phones", "\n  - name: tags", "duplicate field name \"tags\"");
    expect_line_error("type: text[]", "type: strings",
                      "field tags: unknown type \"strings\" (text, number, timestamp, json, "
                      "json_object, text[])");
    expect_line_error("sqlite:   {column: nickname}", "sqlite:   {column: full_name}",
                      "field nickname: sqlite column \"full_name\" is already used by field "
                      "full_name");
    expect_line_error("twenty:   {column: nickname}", "twenty:   {column: name}",
                      "field nickname: twenty column \"name\" is already used by field "
                      "first_name");
    expect_line_error("twenty:   {column: nickname}", "twenty:   {column: a.b.c}",
                      "field nickname: twenty column \"a.b.c\" is not a name or a name.part path");
    expect_line_error("postgres: {column: nickname}", "postgres: {column: extra}",
                      "field nickname: postgres column \"extra\" is the extra column");
    expect_line_error("normalize: lower_snake", "normalize: shout",
                      "field relationship_type: unknown normalizer \"shout\" (timestamp, "
                      "email_list, phone_list, lower_snake)");
    expect_line_error("postgres: {column: nickname}",
                      "postgres: {column: nickname, system_key: true}",
                      "field nickname: system_key is only for twenty");
    expect_line_error("{extra_column: extra}", "{extra_column: Extra}",
                      "postgres: extra_column \"Extra\" is not an identifier [a-z_][a-z0-9_]*");
    char tail[256];
    snprintf(tail, sizeof(tail),
             ":%u: field nickname: postgres column \"nickname\" is one of syncrelay's own keys",
             line_of("postgres: {column: nickname}"));
    expect_load_error("{extra_column: extra}", "{extra_column: extra, own_keys: [nickname]}", tail);
    expect_line_error("extra_transform: json_encode}", "extra_transform: zip}",
                      "sqlite: unknown extra_transform \"zip\"");
}

static void rejects_bad_yaml(void **state)
{
    (void)state;
    char tail[256];
    /* libcyaml's own errors keep its reason and the line it reports. */
    snprintf(tail, sizeof(tail), ":%u: Unexpected key: colour",
             line_of("twenty:   {column: nickname}"));
    expect_load_error("twenty:   {column: nickname}", "twenty:   {column: nickname, colour: red}",
                      tail);
    char path[64];
    struct relay_error err = {0};
    assert_null(load_text("fields: []\n", &err, path));
    assert_int_equal(err.code, RELAY_ECONFIG);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    assert_null(load_text("fields: [\n", &err, path));
    assert_int_equal(err.code, RELAY_ECONFIG);
    assert_null(load_text("", &err, path));
    assert_int_equal(err.code, RELAY_ECONFIG);
    assert_null(mapping_load("/nonexistent/contact.yaml", &err));
    assert_int_equal(err.code, RELAY_ECONFIG);
    assert_non_null(strstr(err.msg, "/nonexistent/contact.yaml"));
}

#define CUSTOM_FIELDS                                                                              \
    "  - name: lead_score\n"                                                                       \
    "    type: number\n"                                                                           \
    "    twenty:   {column: leadScore}\n"                                                          \
    "    postgres: {column: lead_score}\n"                                                         \
    "    sqlite:   {column: lead_score}\n"                                                         \
    "    bigquery: {column: lead_score}\n"                                                         \
    "  - name: interests\n"                                                                        \
    "    type: text[]\n"                                                                           \
    "    twenty:   {column: interests}\n"                                                          \
    "    postgres: {column: interests}\n"                                                          \
    "    sqlite:   {column: interests, transform: json_encode}\n"                                  \
    "    bigquery: {column: interests}\n"

static struct mapping *custom_mapping(void)
{
    char *text = read_text(RELAY_SOURCE_DIR "/deploy/mappings/contact.yaml");
    size_t len = strlen(text) + sizeof(CUSTOM_FIELDS);
    char *all = malloc(len);
    assert_non_null(all);
    snprintf(all, len, "%s%s", text, CUSTOM_FIELDS);
    char path[64];
    struct relay_error err = {0};
    struct mapping *m = load_text(all, &err, path);
    free(text);
    free(all);
    if (m == NULL) {
        fail_msg("custom mapping: %s", err.msg);
    }
    return m;
}

static void custom_field_from_twenty_webhook(void **state)
{
    (void)state;
    struct mapping *m = custom_mapping();
    assert_int_equal(mapping_field_count(m), 32);
    char *body = read_text(RELAY_FIXTURES "/twenty/person.updated.custom-fields.json");
    struct relay_event *ev = NULL;
    struct relay_error err = {0};
    assert_int_equal(mapper_decode_webhook(m, RELAY_SOURCE_TWENTY, body, strlen(body), &ev, &err),
                     MAPPER_EVENT);
    free(body);
    json_t *want = json_loads("[\"lead_score\",\"interests\",\"updated_at\"]", 0, NULL);
    assert_true(json_equal(ev->changed, want));
    json_decref(want);
    assert_true(json_real_value(json_object_get(ev->fields, "lead_score")) == 87.5);
    json_t *twenty = json_object_get(ev->extra, "twenty");
    assert_null(json_object_get(twenty, "leadScore"));
    assert_null(json_object_get(twenty, "interests"));
    assert_non_null(json_object_get(twenty, "externalProfile")); /* still unmapped */
    relay_event_destroy(ev);
    mapping_destroy(m);
}

static void custom_field_in_and_out_of_every_system(void **state)
{
    (void)state;
    static const char *const lead_col[MAPPER_SYS_COUNT] = {"lead_score", "leadScore", "lead_score",
                                                           "lead_score", "lead_score"};
    struct mapping *m = custom_mapping();
    json_t *fields = json_loads("{\"lead_score\":87.5,\"interests\":[\"a\",\"ü\"]}", 0, NULL);
    for (int s = 0; s < MAPPER_SYS_COUNT; s++) {
        struct relay_error err = {0};
        json_t *row = mapper_to_system(m, (enum mapper_system)s, fields, NULL, 0, &err);
        assert_non_null(row);
        assert_true(json_real_value(json_object_get(row, lead_col[s])) == 87.5);
        json_t *interests = json_object_get(row, "interests");
        if (s == MAPPER_SYS_SQLITE) {
            assert_string_equal(json_string_value(interests), "[\"a\",\"ü\"]");
        } else {
            assert_true(json_equal(interests, json_object_get(fields, "interests")));
        }
        json_t *extra = json_object();
        json_t *back = mapper_from_system(m, (enum mapper_system)s, row, extra, NULL, &err);
        assert_true(json_equal(back, fields));
        assert_int_equal(json_object_size(extra), 0);
        json_decref(extra);
        json_decref(back);
        json_decref(row);
    }
    json_decref(fields);
    mapping_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_has_the_30_fields),
        cmocka_unit_test(system_names),
        cmocka_unit_test(the_file_is_the_default),
        cmocka_unit_test(rejects_bad_files),
        cmocka_unit_test(rejects_bad_yaml),
        cmocka_unit_test(custom_field_from_twenty_webhook),
        cmocka_unit_test(custom_field_in_and_out_of_every_system),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
