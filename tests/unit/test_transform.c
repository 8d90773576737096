/* Unit tests for mappers/transform*.c: every transform of transform.h with
 * its accepted forms, every error, round trips, the calling-code table's
 * invariants, and an allocation-failure walk (no leak, no crash, ENOMEM). */
#include "mappers/transform.h"
#include "mappers/transform_internal.h"
#include "relay/mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* ---- helpers ---------------------------------------------------------- */

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (v == NULL) {
        fail_msg("test JSON does not parse: %s: %s", text, jerr.text);
    }
    return v;
}

/* Compact text with key order kept: checks exact shapes. */
static void assert_dump(const json_t *got, const char *expected)
{
    assert_non_null(got);
    char *text = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(text);
    if (strcmp(text, expected) != 0) {
        fprintf(stderr, "got      %s\nexpected %s\n", text, expected);
    }
    assert_string_equal(text, expected);
    free(text);
}

typedef json_t *(*transform_fn)(const json_t *, struct relay_error *);

/* Runs fn on the JSON text in and compares the compact result with out. */
static void check_ok(transform_fn fn, const char *in, const char *out)
{
    json_t *v = parse(in);
    struct relay_error err = {0};
    json_t *got = fn(v, &err);
    if (got == NULL) {
        fail_msg("%s: unexpected error: %s", in, err.msg);
    }
    assert_dump(got, out);
    json_decref(got);
    json_decref(v);
}

/* Runs fn on the JSON text in and expects EINVAL with reason in the message. */
static void check_err(transform_fn fn, const char *in, const char *reason)
{
    json_t *v = parse(in);
    struct relay_error err = {0};
    json_t *got = fn(v, &err);
    if (got != NULL) {
        char *text = json_dumps(got, JSON_ENCODE_ANY);
        fail_msg("%s: expected error '%s', got %s", in, reason, text);
    }
    assert_int_equal(err.code, RELAY_EINVAL);
    if (strstr(err.msg, reason) == NULL) {
        fail_msg("%s: expected '%s' in '%s'", in, reason, err.msg);
    }
    json_decref(v);
}

/* ---- timestamps ------------------------------------------------------- */

static const char *const ts_good[][2] = {
    {"2024-11-12T08:41:19.27+00:00", "2024-11-12T08:41:19.270000Z"},
    {"2024-11-12 08:41:19.27+00", "2024-11-12T08:41:19.270000Z"},
    {"2025-06-02T09:15:30.118Z", "2025-06-02T09:15:30.118000Z"},
    {"2024-03-18T09:12:44.518203+00:00", "2024-03-18T09:12:44.518203Z"},
    {"2024-01-01T01:30:00.123456789+02:00", "2023-12-31T23:30:00.123456Z"},
    {"2024-11-12t08:41:19z", "2024-11-12T08:41:19.000000Z"},
    {"2024-11-12T08:41:19Z", "2024-11-12T08:41:19.000000Z"},
    {"2024-11-12T08:41:19.9Z", "2024-11-12T08:41:19.900000Z"},
    {"2024-11-12T08:41:19.999999999Z", "2024-11-12T08:41:19.999999Z"},
    {"2024-11-12T08:41:19.1234567-00:00", "2024-11-12T08:41:19.123456Z"},
    {"2024-11-12T08:41:19+0530", "2024-11-12T03:11:19.000000Z"},
    {"2024-11-12T20:41:19-08:00", "2024-11-13T04:41:19.000000Z"},
    {"2024-11-12T20:41:19-08", "2024-11-13T04:41:19.000000Z"},
    {"2023-12-31T23:30:00-01:00", "2024-01-01T00:30:00.000000Z"},
    {"2024-02-29T23:30:00-01:00", "2024-03-01T00:30:00.000000Z"},
    {"2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00.000000Z"},
    {"2023-03-01T00:30:00+01:00", "2023-02-28T23:30:00.000000Z"},
    {"2000-02-29T12:00:00Z", "2000-02-29T12:00:00.000000Z"},
    {"1970-01-01T00:00:00+23:59", "1969-12-31T00:01:00.000000Z"},
    {"1969-12-31T23:59:59.5-00:01", "1970-01-01T00:00:59.500000Z"},
    {"0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000000Z"},
    {"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"},
    {"1600-03-01T00:00:00+00:01", "1600-02-29T23:59:00.000000Z"},
};

static const char *const ts_bad[][2] = {
    {"2024-11-12T08:41:19.27", "timestamp without offset"},
    {"2024-11-12T08:41:19", "timestamp without offset"},
    {"2024-11-12 08:41:19", "timestamp without offset"},
    {"infinity", "timestamp is infinite"},
    {"-infinity", "timestamp is infinite"},
    {"Infinity", "timestamp is infinite"},
    {"2024-13-01T00:00:00Z", "month out of range"},
    {"2024-00-01T00:00:00Z", "month out of range"},
    {"2024-02-30T00:00:00Z", "day out of range"},
    {"2023-02-29T00:00:00Z", "day out of range"},
    {"1900-02-29T00:00:00Z", "day out of range"},
    {"2024-04-31T00:00:00Z", "day out of range"},
    {"2024-04-00T00:00:00Z", "day out of range"},
    {"2024-01-01T24:00:00Z", "time out of range"},
    {"2024-01-01T23:60:00Z", "time out of range"},
    {"2016-12-31T23:59:60Z", "time out of range"},
    {"garbage", "without a YYYY-MM-DD date"},
    {"", "without a YYYY-MM-DD date"},
    {" 2024-01-01T00:00:00Z", "without a YYYY-MM-DD date"},
    {"2024-1-01T00:00:00Z", "without a YYYY-MM-DD date"},
    {"20240101T000000Z", "without a YYYY-MM-DD date"},
    {"2024-01-01", "timestamp without a time"},
    {"2024-01-01_00:00:00Z", "timestamp without a time"},
    {"2024-01-01T00:00Z", "without an HH:MM:SS time"},
    {"2024-01-01T0:00:00Z", "without an HH:MM:SS time"},
    {"2024-01-01T00:00:00Zjunk", "trailing text"},
    {"2024-01-01T00:00:00Z ", "trailing text"},
    {"2024-01-01T00:00:00+00:00:00", "trailing text"},
    {"2024-01-01T00:00:00.Z", "empty fraction"},
    {"2024-01-01T00:00:00.1234567890Z", "longer than 9 digits"},
    {"2024-01-01T00:00:00,5Z", "bad offset"},
    {"2024-01-01T00:00:00 UTC", "bad offset"},
    {"2024-01-01T00:00:00+1", "bad offset"},
    {"2024-01-01T00:00:00+01:", "bad offset"},
    {"2024-01-01T00:00:00+01:0", "bad offset"},
    {"2024-01-01T00:00:00+24:00", "offset out of range"},
    {"2024-01-01T00:00:00+01:60", "offset out of range"},
    {"0000-01-01T00:00:00+01:00", "out of range after UTC conversion"},
    {"9999-12-31T23:59:59-00:01", "out of range after UTC conversion"},
};

static void timestamp_accepts_rfc3339_forms(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ts_good) / sizeof(ts_good[0]); i++) {
        char out[28];
        struct relay_error err = {0};
        if (transform_timestamp_normalize(ts_good[i][0], out, &err) != 0) {
            fail_msg("%s: %s", ts_good[i][0], err.msg);
        }
        assert_string_equal(out, ts_good[i][1]);
    }
}

static void timestamp_rejects_bad_forms(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ts_bad) / sizeof(ts_bad[0]); i++) {
        char out[28] = "unchanged";
        struct relay_error err = {0};
        if (transform_timestamp_normalize(ts_bad[i][0], out, &err) == 0) {
            fail_msg("%s: accepted as %s", ts_bad[i][0], out);
        }
        assert_int_equal(err.code, RELAY_EINVAL);
        if (strstr(err.msg, ts_bad[i][1]) == NULL) {
            fail_msg("%s: expected '%s' in '%s'", ts_bad[i][0], ts_bad[i][1], err.msg);
        }
        assert_string_equal(out, "");
    }
    char out[28];
    struct relay_error err = {0};
    assert_int_equal(transform_timestamp_normalize(NULL, out, &err), -1);
    assert_string_equal(err.msg, "timestamp is missing");
    /* err may be NULL. */
    assert_int_equal(transform_timestamp_normalize("nope", out, NULL), -1);
}

static void timestamp_is_idempotent_and_ordered(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ts_good) / sizeof(ts_good[0]); i++) {
        char again[28];
        assert_int_equal(transform_timestamp_normalize(ts_good[i][1], again, NULL), 0);
        assert_string_equal(again, ts_good[i][1]);
    }
    /* The same instant in three spellings is one string; order is time order. */
    char a[28], b[28], c[28];
    assert_int_equal(transform_timestamp_normalize("2024-06-01T12:00:00+02:00", a, NULL), 0);
    assert_int_equal(transform_timestamp_normalize("2024-06-01 10:00:00.000+00", b, NULL), 0);
    assert_int_equal(transform_timestamp_normalize("2024-06-01T05:00:00-05", c, NULL), 0);
    assert_string_equal(a, b);
    assert_string_equal(b, c);
    char later[28];
    assert_int_equal(transform_timestamp_normalize("2024-06-01T11:00:00.000001+01:00", later, NULL),
                     0);
    assert_true(strcmp(a, later) < 0);
}

static void timestamp_json_values(void **state)
{
    (void)state;
    check_ok(transform_timestamp, "\"2024-11-12 08:41:19.27+00\"",
             "\"2024-11-12T08:41:19.270000Z\"");
    check_ok(transform_timestamp, "null", "null");
    check_err(transform_timestamp, "1731400879", "expected text, got number");
    check_err(transform_timestamp, "1.5", "expected text, got number");
    check_err(transform_timestamp, "true", "expected text, got boolean");
    check_err(transform_timestamp, "{}", "expected text, got object");
    check_err(transform_timestamp, "[]", "expected text, got array");
    check_err(transform_timestamp, "\"2024-11-12T08:41:19\"", "timestamp without offset");
    check_err(transform_timestamp, "\"infinity\"", "timestamp is infinite");
    /* A NUL inside the JSON text is not the end of the timestamp. */
    check_err(transform_timestamp, "\"2024-11-12T08:41:19Z\\u0000x\"", "trailing text");
    struct relay_error err = {0};
    assert_null(transform_timestamp(NULL, &err));
    assert_string_equal(err.msg, "expected text, got nothing");
}

/* ---- emails ----------------------------------------------------------- */

static void email_list_normalises(void **state)
{
    (void)state;
    check_ok(transform_email_list, "[\" Ann@Example.COM \", \"bob@x.org\"]",
             "[\"Ann@example.com\",\"bob@x.org\"]");
    /* Local part byte for byte (case and UTF-8 kept); domain ASCII-lowered. */
    check_ok(transform_email_list, "[\"J\\u00fcrgen.M\\u00fcller@Example.DE\"]",
             "[\"J\xc3\xbcrgen.M\xc3\xbcller@example.de\"]");
    check_ok(transform_email_list, "[\"\\u7528\\u6237@\\u4F8B\\u5B50.CN\"]",
             "[\"\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.cn\"]");
    check_ok(transform_email_list, "[\"a@B\\u00dcCHER.Example\"]",
             "[\"a@b\xc3\x9c"
             "cher.example\"]");
    /* The domain is after the LAST '@'. */
    check_ok(transform_email_list, "[\"\\\"A@B\\\"@C.COM\"]", "[\"\\\"A@B\\\"@c.com\"]");
    /* No '@': kept as typed (trimmed). */
    check_ok(transform_email_list, "[\"\\tNot An Email\\r\\n\"]", "[\"Not An Email\"]");
    check_ok(transform_email_list, "[\"x@\"]", "[\"x@\"]");
}

static void email_list_drops_empties_and_duplicates(void **state)
{
    (void)state;
    check_ok(transform_email_list, "[\"\", \"  \", \"\\t\\n\"]", "[]");
    check_ok(transform_email_list,
             "[\"A@X.COM\", \" A@x.com\", \"a@x.com\", \"A@x.com\\n\", \"\", \"b@x.com\"]",
             "[\"A@x.com\",\"a@x.com\",\"b@x.com\"]");
    check_ok(transform_email_list, "null", "[]");
    check_ok(transform_email_list, "[]", "[]");
    /* Embedded NUL bytes are kept and compared by length. */
    check_ok(transform_email_list, "[\"a\\u0000b@X\", \"a\\u0000b@x\", \"a\"]",
             "[\"a\\u0000b@x\",\"a\"]");
}

static void email_list_errors(void **state)
{
    (void)state;
    check_err(transform_email_list, "\"a@x.com\"", "expected a list of emails, got text");
    check_err(transform_email_list, "{}", "expected a list of emails, got object");
    check_err(transform_email_list, "[\"a@x.com\", 7]", "expected text, got number");
    check_err(transform_email_list, "[\"a@x.com\", null]", "expected text, got null");
    check_err(transform_email_list, "[[\"a@x.com\"]]", "expected text, got array");
}

static void email_list_long_is_deduplicated(void **state)
{
    (void)state;
    json_t *in = json_array();
    for (int i = 0; i < 20000; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "u%d@X.ORG", i % 5000);
        json_array_append_new(in, json_string(addr));
    }
    json_t *out = transform_email_list(in, NULL);
    assert_non_null(out);
    assert_int_equal(json_array_size(out), 5000);
    assert_string_equal(json_string_value(json_array_get(out, 4999)), "u4999@x.org");
    json_decref(out);
    json_decref(in);
}

/* ---- phones ----------------------------------------------------------- */

static const char *const phone_good[][2] = {
    {"+44 7700 900456", "+447700900456"},     {"+1 (415) 555-0142", "+14155550142"},
    {"+49/30.901820", "+4930901820"},         {"\t+33 1 23 45 67 89 ", "+33123456789"},
    {"+123456789012345", "+123456789012345"}, {"+1", "+1"},
    {"(+44) 20 7946 0000", "+442079460000"},
};

static const char *const phone_bad[][2] = {
    {"+44 7700 ABC", "phone with letters"},
    {"+44 7700 900456 ext 12", "phone with letters"},
    {"tel:+447700900456", "phone with letters"},
    {"07700 900456", "phone without '+' and country code"},
    {"447700900456", "phone without '+' and country code"},
    {"0044 7700 900456", "phone without '+' and country code"},
    {"+0447700900456", "country code starts with 0"},
    {"+", "bad phone: no digits"},
    {" + ", "bad phone: no digits"},
    {"++447700900456", "bad phone: unexpected character"},
    {"+44+7700900456", "bad phone: unexpected character"},
    {"+44\xc2\xa0"
     "7700900456",
     "bad phone: unexpected character"},
    {"+44_7700", "bad phone: unexpected character"},
    {"\xef\xbc\x8b\xef\xbc\x94\xef\xbc\x94", "bad phone: unexpected character"},
    {"+1234567890123456", "phone longer than 15 digits"},
    {"+12345678901234567890", "phone longer than 15 digits"},
    {"12345678901234567", "phone longer than 15 digits"},
    {"", "phone is empty"},
    {" - ", "phone is empty"},
};

static void phone_normalize_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(phone_good) / sizeof(phone_good[0]); i++) {
        char out[17];
        struct relay_error err = {0};
        if (transform_phone_normalize(phone_good[i][0], out, &err) != 0) {
            fail_msg("%s: %s", phone_good[i][0], err.msg);
        }
        assert_string_equal(out, phone_good[i][1]);
    }
    for (size_t i = 0; i < sizeof(phone_bad) / sizeof(phone_bad[0]); i++) {
        char out[17] = "unchanged";
        struct relay_error err = {0};
        if (transform_phone_normalize(phone_bad[i][0], out, &err) == 0) {
            fail_msg("%s: accepted as %s", phone_bad[i][0], out);
        }
        assert_int_equal(err.code, RELAY_EINVAL);
        if (strstr(err.msg, phone_bad[i][1]) == NULL) {
            fail_msg("%s: expected '%s' in '%s'", phone_bad[i][0], phone_bad[i][1], err.msg);
        }
        assert_string_equal(out, "");
    }
    char out[17];
    struct relay_error err = {0};
    assert_int_equal(transform_phone_normalize(NULL, out, &err), -1);
    assert_string_equal(err.msg, "phone is missing");
}

static void phone_list_cases(void **state)
{
    (void)state;
    check_ok(transform_phone_list,
             "[\"+44 7700 900456\", \"+447700900456\", \"\", \" \", "
             "\"+1 415 555 0142\"]",
             "[\"+447700900456\",\"+14155550142\"]");
    check_ok(transform_phone_list, "null", "[]");
    check_ok(transform_phone_list, "[]", "[]");
    check_err(transform_phone_list, "\"+447700900456\"", "expected a list of phones, got text");
    check_err(transform_phone_list, "[447700900456]", "expected text, got number");
    check_err(transform_phone_list, "[\"+447700900456\", null]", "expected text, got null");
    check_err(transform_phone_list, "[\"+447700900456\", \"call me\"]", "phone with letters");
    check_err(transform_phone_list, "[\"7700900456\"]", "phone without '+'");
    check_err(transform_phone_list, "[\"+44 7700 900456 12345\"]", "longer than 15 digits");
    check_err(transform_phone_list, "[\"+447700\\u0000900456\"]", "unexpected character");
}

static void calling_code_table_is_sorted_and_prefix_free(void **state)
{
    (void)state;
    size_t n = transform_calling_codes_count;
    assert_true(n > 200);
    for (size_t i = 0; i < n; i++) {
        const char *code = transform_calling_codes[i];
        size_t len = strlen(code);
        assert_true(len >= 1 && len <= 3);
        assert_true(code[0] >= '1' && code[0] <= '9');
        assert_int_equal(strspn(code, "0123456789"), len);
        if (i > 0) {
            assert_true(strcmp(transform_calling_codes[i - 1], code) < 0);
        }
        for (size_t j = 0; j < n; j++) {
            const char *other = transform_calling_codes[j];
            if (i != j && strncmp(other, code, len) == 0) {
                fail_msg("%s is a prefix of %s", code, other);
            }
        }
    }
}

static void calling_code_table_holds_the_listed_codes(void **state)
{
    (void)state;
    static const char *const expected[] = {
        "1",   "7",   "20",  "27",  "30",  "31",  "32",  "33",  "34",  "36",  "39",  "40",  "41",
        "43",  "44",  "45",  "46",  "47",  "48",  "49",  "51",  "52",  "53",  "54",  "55",  "56",
        "57",  "58",  "60",  "61",  "62",  "63",  "64",  "65",  "66",  "81",  "82",  "84",  "86",
        "90",  "91",  "92",  "93",  "94",  "95",  "98",  "211", "212", "213", "216", "218", "220",
        "229", "230", "249", "250", "258", "260", "269", "290", "291", "297", "298", "299", "350",
        "359", "370", "379", "380", "381", "382", "383", "385", "386", "387", "389", "420", "421",
        "423", "500", "509", "590", "599", "670", "672", "679", "680", "689", "690", "691", "692",
        "800", "808", "850", "852", "853", "855", "856", "870", "880", "881", "882", "883", "886",
        "888", "960", "968", "970", "977", "979", "992", "993", "994", "995", "996", "998",
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        size_t j = 0;
        while (j < transform_calling_codes_count &&
               strcmp(transform_calling_codes[j], expected[i]) != 0) {
            j++;
        }
        if (j == transform_calling_codes_count) {
            fail_msg("calling code %s missing", expected[i]);
        }
    }
}

static void phone_split_cases(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {"+447700900456", "+44", "7700900456"},
        {"+14155550142", "+1", "4155550142"},
        {"+79161234567", "+7", "9161234567"},
        {"+4930901820", "+49", "30901820"},
        {"+41441234567", "+41", "441234567"},
        {"+352123456", "+352", "123456"},
        {"+8613800138000", "+86", "13800138000"},
        {"+971501234567", "+971", "501234567"},
        {"+212612345678", "+212", "612345678"},
        {"+88212345678", "+882", "12345678"},
        {"+1", "+1", ""},
        {"+354", "+354", ""},
        /* Unassigned codes: no split, the join still gives the number back. */
        {"+2801234567", "", "+2801234567"},
        {"+35", "", "+35"},
        {"+999123", "", "+999123"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char calling[8];
        char national[17];
        struct relay_error err = {0};
        if (transform_phone_split(cases[i][0], calling, national, &err) != 0) {
            fail_msg("%s: %s", cases[i][0], err.msg);
        }
        assert_string_equal(calling, cases[i][1]);
        assert_string_equal(national, cases[i][2]);
    }
    static const char *const bad[][2] = {
        {"447700900456", "phone without '+'"},
        {"+44 7700 900456", "not in E.164 form"},
        {"+44abc", "phone with letters"},
        {"", "phone is empty"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char calling[8] = "x";
        char national[17] = "x";
        struct relay_error err = {0};
        assert_int_equal(transform_phone_split(bad[i][0], calling, national, &err), -1);
        assert_non_null(strstr(err.msg, bad[i][1]));
        assert_string_equal(calling, "");
        assert_string_equal(national, "");
    }
}

/* ---- Twenty composites ------------------------------------------------ */

static void twenty_emails_in_cases(void **state)
{
    (void)state;
    check_ok(transform_twenty_emails_in,
             "{\"primaryEmail\":\"Ann@Example.COM\",\"additionalEmails\":[\"ann@work.io\","
             "\"Ann@EXAMPLE.com\"]}",
             "[\"Ann@example.com\",\"ann@work.io\"]");
    check_ok(transform_twenty_emails_in,
             "{\"primaryEmail\":\"\",\"additionalEmails\":[\"b@x.io\",\"c@x.io\"]}",
             "[\"b@x.io\",\"c@x.io\"]");
    check_ok(transform_twenty_emails_in,
             "{\"primaryEmail\":null,\"additionalEmails\":[\"b@x.io\"]}", "[\"b@x.io\"]");
    check_ok(transform_twenty_emails_in, "{\"primaryEmail\":\"a@x.io\",\"additionalEmails\":null}",
             "[\"a@x.io\"]");
    check_ok(transform_twenty_emails_in, "{\"primaryEmail\":\"\",\"additionalEmails\":[]}", "[]");
    check_ok(transform_twenty_emails_in, "{\"primaryEmail\":\"\",\"additionalEmails\":null}", "[]");
    check_ok(transform_twenty_emails_in, "{}", "[]");
    check_ok(transform_twenty_emails_in, "null", "[]");
    check_err(transform_twenty_emails_in, "[\"a@x.io\"]", "expected an emails object, got array");
    check_err(transform_twenty_emails_in, "{\"primaryEmail\":5}",
              "primaryEmail: expected text, got number");
    check_err(transform_twenty_emails_in, "{\"additionalEmails\":\"a@x.io\"}",
              "additionalEmails: expected a list, got text");
    check_err(transform_twenty_emails_in, "{\"additionalEmails\":[true]}",
              "expected text, got boolean");
}

static void twenty_emails_out_cases(void **state)
{
    (void)state;
    check_ok(transform_twenty_emails_out, "[]", "{\"primaryEmail\":\"\",\"additionalEmails\":[]}");
    check_ok(transform_twenty_emails_out, "null",
             "{\"primaryEmail\":\"\",\"additionalEmails\":[]}");
    check_ok(transform_twenty_emails_out, "[\"a@x.io\"]",
             "{\"primaryEmail\":\"a@x.io\",\"additionalEmails\":[]}");
    check_ok(transform_twenty_emails_out, "[\"a@x.io\",\"b@X.IO\",\"c@x.io\"]",
             "{\"primaryEmail\":\"a@x.io\",\"additionalEmails\":[\"b@x.io\",\"c@x.io\"]}");
    check_err(transform_twenty_emails_out, "{}", "expected a list of emails, got object");
    check_err(transform_twenty_emails_out, "[1]", "expected text, got number");
}

static void twenty_emails_round_trip(void **state)
{
    (void)state;
    static const char *const lists[] = {
        "[]",
        "[\"a@x.io\"]",
        "[\"J\\u00fcrgen@bank.de\",\"b@x.io\",\"c@x.io\"]",
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        json_t *list = parse(lists[i]);
        json_t *composite = transform_twenty_emails_out(list, NULL);
        json_t *back = transform_twenty_emails_in(composite, NULL);
        assert_non_null(back);
        assert_true(json_equal(back, list));
        json_decref(back);
        json_decref(composite);
        json_decref(list);
    }
}

static void twenty_phones_in_cases(void **state)
{
    (void)state;
    check_ok(transform_twenty_phones_in,
             "{\"primaryPhoneNumber\":\"30 901820\",\"primaryPhoneCountryCode\":\"DE\","
             "\"primaryPhoneCallingCode\":\"+49\",\"additionalPhones\":[{\"number\":\"151 2345 "
             "6789\",\"countryCode\":\"DE\",\"callingCode\":\"+49\"}]}",
             "[\"+4930901820\",\"+4915123456789\"]");
    check_ok(transform_twenty_phones_in,
             "{\"primaryPhoneNumber\":\"441234567\",\"primaryPhoneCountryCode\":\"CH\","
             "\"primaryPhoneCallingCode\":\"+41\",\"additionalPhones\":null}",
             "[\"+41441234567\"]");
    /* A number that already carries '+' stands alone. */
    check_ok(transform_twenty_phones_in,
             "{\"primaryPhoneNumber\":\" +44 7700 900456\",\"primaryPhoneCallingCode\":\"+49\"}",
             "[\"+447700900456\"]");
    /* A calling code without '+' gets one. */
    check_ok(transform_twenty_phones_in,
             "{\"primaryPhoneNumber\":\"7700 900456\",\"primaryPhoneCallingCode\":\"44\"}",
             "[\"+447700900456\"]");
    /* Empty primary: the first additional phone becomes the first. */
    check_ok(transform_twenty_phones_in,
             "{\"primaryPhoneNumber\":\"\",\"primaryPhoneCallingCode\":\"+44\","
             "\"additionalPhones\":[{\"number\":\"2079460000\",\"callingCode\":\"+44\"},"
             "{\"number\":\"\",\"callingCode\":\"+1\"},"
             "{\"number\":\"(20) 7946-0000\",\"callingCode\":\"+44\"},\"+1 415 555 0142\"]}",
             "[\"+442079460000\",\"+14155550142\"]");
    check_ok(transform_twenty_phones_in,
             "{\"primaryPhoneNumber\":\"\",\"primaryPhoneCallingCode\":\"\","
             "\"primaryPhoneCountryCode\":\"\",\"additionalPhones\":[]}",
             "[]");
    check_ok(transform_twenty_phones_in, "{\"primaryPhoneNumber\":null}", "[]");
    check_ok(transform_twenty_phones_in, "{}", "[]");
    check_ok(transform_twenty_phones_in, "null", "[]");
}

static void twenty_phones_in_errors(void **state)
{
    (void)state;
    check_err(transform_twenty_phones_in, "[]", "expected a phones object, got array");
    check_err(transform_twenty_phones_in, "{\"primaryPhoneNumber\":7700900456}",
              "primaryPhoneNumber: expected text, got number");
    check_err(transform_twenty_phones_in,
              "{\"primaryPhoneNumber\":\"7700\",\"primaryPhoneCallingCode\":44}",
              "primaryPhoneCallingCode: expected text, got number");
    check_err(transform_twenty_phones_in,
              "{\"primaryPhoneNumber\":\"7700 CALL\",\"primaryPhoneCallingCode\":\"+44\"}",
              "primaryPhoneNumber: phone with letters");
    check_err(transform_twenty_phones_in, "{\"primaryPhoneNumber\":\"7700900456\"}",
              "primaryPhoneNumber: phone without '+'");
    check_err(transform_twenty_phones_in,
              "{\"primaryPhoneNumber\":\"7700900456\",\"primaryPhoneCallingCode\":\"  \"}",
              "primaryPhoneNumber: phone without '+'");
    check_err(transform_twenty_phones_in,
              "{\"primaryPhoneNumber\":\"7700900456\",\"primaryPhoneCallingCode\":\"GB\"}",
              "phone with letters");
    check_err(transform_twenty_phones_in,
              "{\"primaryPhoneNumber\":\"1234567890123\",\"primaryPhoneCallingCode\":\"+441\"}",
              "longer than 15 digits");
    check_err(transform_twenty_phones_in, "{\"additionalPhones\":{}}",
              "additionalPhones: expected a list, got object");
    check_err(transform_twenty_phones_in, "{\"additionalPhones\":[5]}",
              "additionalPhones: expected an object, got number");
    check_err(transform_twenty_phones_in, "{\"additionalPhones\":[{\"number\":[]}]}",
              "additionalPhones.number: expected text, got array");
    check_err(transform_twenty_phones_in,
              "{\"additionalPhones\":[{\"number\":\"1\",\"callingCode\":false}]}",
              "additionalPhones.callingCode: expected text, got boolean");
    check_err(transform_twenty_phones_in,
              "{\"additionalPhones\":[{\"number\":\"x\",\"callingCode\":\"+1\"}]}",
              "additionalPhones.number: phone with letters");
    check_err(transform_twenty_phones_in, "{\"additionalPhones\":[\"0800 123\"]}",
              "additionalPhones: phone without '+'");
}

static void twenty_phones_out_cases(void **state)
{
    (void)state;
    check_ok(transform_twenty_phones_out, "[]",
             "{\"primaryPhoneNumber\":\"\",\"primaryPhoneCallingCode\":\"\","
             "\"additionalPhones\":[]}");
    check_ok(transform_twenty_phones_out, "null",
             "{\"primaryPhoneNumber\":\"\",\"primaryPhoneCallingCode\":\"\","
             "\"additionalPhones\":[]}");
    check_ok(transform_twenty_phones_out, "[\"+4930901820\",\"+4915123456789\",\"+2801234\"]",
             "{\"primaryPhoneNumber\":\"30901820\",\"primaryPhoneCallingCode\":\"+49\","
             "\"additionalPhones\":[{\"number\":\"15123456789\",\"callingCode\":\"+49\"},"
             "{\"number\":\"+2801234\",\"callingCode\":\"\"}]}");
    /* Input is normalised first (a canonical list should already be). */
    check_ok(transform_twenty_phones_out, "[\"+1 415 555 0142\", \"+14155550142\"]",
             "{\"primaryPhoneNumber\":\"4155550142\",\"primaryPhoneCallingCode\":\"+1\","
             "\"additionalPhones\":[]}");
    check_err(transform_twenty_phones_out, "[\"+44 ABC\"]", "phone with letters");
    check_err(transform_twenty_phones_out, "[\"4930901820\"]", "phone without '+'");
    check_err(transform_twenty_phones_out, "{}", "expected a list of phones, got object");
}

static void twenty_phones_round_trip(void **state)
{
    (void)state;
    static const char *const lists[] = {
        "[]",
        "[\"+447700900456\"]",
        "[\"+4930901820\",\"+4915123456789\",\"+14155550142\",\"+2801234\",\"+88212345678\"]",
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        json_t *list = parse(lists[i]);
        json_t *composite = transform_twenty_phones_out(list, NULL);
        assert_non_null(composite);
        json_t *back = transform_twenty_phones_in(composite, NULL);
        assert_non_null(back);
        assert_true(json_equal(back, list));
        json_decref(back);
        json_decref(composite);
        json_decref(list);
    }
}

/* ---- text ------------------------------------------------------------- */

static void lower_snake_and_upper(void **state)
{
    (void)state;
    check_ok(transform_lower_snake, "\"Board Member\"", "\"board_member\"");
    check_ok(transform_lower_snake, "\"BOARD_MEMBER\"", "\"board_member\"");
    check_ok(transform_lower_snake, "\"board-member\"", "\"board_member\"");
    check_ok(transform_lower_snake, "\"  Board \\t - _ Member \\n\"", "\"board_member\"");
    check_ok(transform_lower_snake, "\"-Investor_\"", "\"_investor_\"");
    check_ok(transform_lower_snake, "\"Gr\\u00dcNDER Team\"", "\"gr\xc3\x9cnder_team\"");
    check_ok(transform_lower_snake, "\"\"", "\"\"");
    check_ok(transform_lower_snake, "\"   \"", "\"\"");
    check_ok(transform_lower_snake, "null", "null");
    check_err(transform_lower_snake, "3", "expected text, got number");
    check_err(transform_lower_snake, "[\"a\"]", "expected text, got array");
    check_ok(transform_upper, "\"board_member\"", "\"BOARD_MEMBER\"");
    check_ok(transform_upper, "\"gr\\u00fcnder\"", "\"GR\xc3\xbcNDER\"");
    check_ok(transform_upper, "\"\"", "\"\"");
    check_ok(transform_upper, "null", "null");
    check_err(transform_upper, "false", "expected text, got boolean");
    check_err(transform_upper, "{}", "expected text, got object");
}

/* ---- JSON in text ----------------------------------------------------- */

static void json_text_in_cases(void **state)
{
    (void)state;
    check_ok(transform_json_text_in, "\"\"", "null");
    check_ok(transform_json_text_in, "null", "null");
    check_ok(transform_json_text_in, "\"{\\\"b\\\": 1, \\\"a\\\": [true, null]}\"",
             "{\"b\":1,\"a\":[true,null]}");
    check_ok(transform_json_text_in, "\"[1,2]\"", "[1,2]");
    check_ok(transform_json_text_in, "\"42\"", "42");
    check_ok(transform_json_text_in, "\" 0.5 \"", "0.5");
    check_ok(transform_json_text_in, "\"\\\"quoted\\\"\"", "\"quoted\"");
    check_ok(transform_json_text_in, "\"null\"", "null");
    /* Not JSON: kept as the text, never dropped. */
    check_ok(transform_json_text_in, "\"plain words\"", "\"plain words\"");
    check_ok(transform_json_text_in, "\"{broken\"", "\"{broken\"");
    check_ok(transform_json_text_in, "\"   \"", "\"   \"");
    check_ok(transform_json_text_in, "\"J\\u00fcrgen\"", "\"J\xc3\xbcrgen\"");
    check_err(transform_json_text_in, "{\"a\":1}", "expected text, got object");
    check_err(transform_json_text_in, "12", "expected text, got number");
}

static void json_text_out_cases(void **state)
{
    (void)state;
    check_ok(transform_json_text_out, "null", "null");
    check_ok(transform_json_text_out, "{\"b\": 1, \"a\": [1, 2, {\"z\": null, \"y\": \"\"}]}",
             "\"{\\\"b\\\":1,\\\"a\\\":[1,2,{\\\"z\\\":null,\\\"y\\\":\\\"\\\"}]}\"");
    check_ok(transform_json_text_out, "\"s\"", "\"\\\"s\\\"\"");
    check_ok(transform_json_text_out, "\"\"", "\"\\\"\\\"\"");
    check_ok(transform_json_text_out, "true", "\"true\"");
    check_ok(transform_json_text_out, "{\"x\": 0.35}", "\"{\\\"x\\\":0.35}\"");
    check_ok(transform_json_text_out, "[0.1, 1e300, -2.5]", "\"[0.1,1e300,-2.5]\"");
    check_ok(transform_json_text_out, "{\"u\": \"J\\u00fcrgen\\u0000\"}",
             "\"{\\\"u\\\":\\\"J\xc3\xbcrgen\\\\u0000\\\"}\"");
}

static void json_text_keeps_every_real_exactly(void **state)
{
    (void)state;
    const double values[] = {
        0.35, 0.1 + 0.2, 1.0 / 3.0, 5e-324, 1.7976931348623157e308, 123456789.123456789, -0.0};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        json_t *obj = json_pack("{s:f, s:f}", "fixed", 0.5, "v", values[i]);
        json_t *text = transform_json_text_out(obj, NULL);
        assert_non_null(text);
        json_t *back = transform_json_text_in(text, NULL);
        assert_non_null(back);
        assert_true(json_equal(back, obj));
        json_decref(back);
        json_decref(text);
        json_decref(obj);
    }
}

static void json_text_round_trips(void **state)
{
    (void)state;
    static const char *const values[] = {
        "{\"b\":1,\"a\":[1,2]}",
        "[]",
        "{}",
        "\"text\"",
        "\"\"",
        "0",
        "-7",
        "2.5",
        "true",
        "{\"nested\":{\"deep\":[{\"x\":\"\\u00e9\"}]}}",
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        json_t *v = parse(values[i]);
        json_t *text = transform_json_text_out(v, NULL);
        json_t *back = transform_json_text_in(text, NULL);
        assert_non_null(back);
        assert_true(json_equal(back, v));
        json_t *enc = transform_json_encode(v, NULL);
        json_t *dec = transform_json_decode(enc, NULL);
        assert_non_null(dec);
        assert_true(json_equal(dec, v));
        json_decref(dec);
        json_decref(enc);
        json_decref(back);
        json_decref(text);
        json_decref(v);
    }
}

static void json_encode_decode_cases(void **state)
{
    (void)state;
    check_ok(transform_json_encode, "null", "null");
    check_ok(transform_json_encode, "{\"b\":[1,\"x\"],\"a\":{}}",
             "\"{\\\"b\\\":[1,\\\"x\\\"],\\\"a\\\":{}}\"");
    check_ok(transform_json_encode, "[\"vip\",\"beta\"]", "\"[\\\"vip\\\",\\\"beta\\\"]\"");
    check_ok(transform_json_decode, "null", "null");
    check_ok(transform_json_decode, "\"{\\\"b\\\":[1,\\\"x\\\"],\\\"a\\\":{}}\"",
             "{\"b\":[1,\"x\"],\"a\":{}}");
    check_ok(transform_json_decode, "\"\\\"s\\\"\"", "\"s\"");
    check_ok(transform_json_decode, "\"null\"", "null");
    check_err(transform_json_decode, "\"not json\"", "text is not JSON (line 1 column");
    check_err(transform_json_decode, "\"\"", "text is not JSON");
    check_err(transform_json_decode, "\"{\\\"a\\\":1} x\"", "text is not JSON");
    check_err(transform_json_decode, "5", "expected text, got number");
    check_err(transform_json_decode, "[\"[]\"]", "expected text, got array");
}

/* The allocation-free syntax check agrees with jansson on every text here
 * (jansson is the reference; numbers are in range). */
static const char *const json_texts[] = {
    "{}",
    "[]",
    "0",
    "-0",
    "-0.5e-3",
    "1E+2",
    "12",
    "true",
    "false",
    "null",
    "\"\"",
    " {\"a\" : [1, 2.5, \"x\", {\"b\": null}], \"c\": {}} ",
    "\"\\u00e9\\ud83d\\ude00\\n\\\"\\/\\b\\f\\r\\t\\u0000\"",
    "[[[[[]]]]]",
    "[{}, [], \"\"]",
    /* invalid */
    "",
    " ",
    "{",
    "}",
    "[",
    "]",
    "[1,]",
    "[,1]",
    "{\"a\"}",
    "{\"a\":}",
    "{\"a\":1,}",
    "{a:1}",
    "{1:1}",
    "01",
    "1.",
    ".5",
    "-",
    "+1",
    "1e",
    "1e+",
    "0x10",
    "tru",
    "nul",
    "True",
    "\"abc",
    "\"a\\x\"",
    "\"\\u12\"",
    "\"\\u12g4\"",
    "\"\\ud83d\"",
    "\"\\ude00\"",
    "\"\\ud83d\\u0041\"",
    "\"\\ud83d\\ue000\"",
    "\"\\udbff\\udfff\"",
    "\"tab\there\"",
    "1 2",
    "[1] x",
    "{} {}",
    "\"\\\"",
    "[\"a\" \"b\"]",
    "{\"a\":1 \"b\":2}",
    "nan",
    "Infinity",
};

static void json_check_agrees_with_jansson(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(json_texts) / sizeof(json_texts[0]); i++) {
        json_t *v = json_loadb(json_texts[i], strlen(json_texts[i]),
                               JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        bool want = v != NULL;
        json_decref(v);
        if (transform_json_is_valid(json_texts[i], strlen(json_texts[i])) != want) {
            fail_msg("%s: check says %d, jansson %d", json_texts[i], !want, want);
        }
    }
    /* A raw control character and a NUL byte inside the text. */
    assert_false(transform_json_is_valid("\"a\nb\"", 5));
    assert_false(transform_json_is_valid("[1]\0", 4));
}

/* Depth: jansson allows 2048 nested values, scalars included. */
static void json_check_depth_limit_matches_jansson(void **state)
{
    (void)state;
    static const size_t depths[] = {2047, 2048, 2049};
    for (size_t i = 0; i < 3; i++) {
        for (int with_scalar = 0; with_scalar < 2; with_scalar++) {
            size_t n = depths[i];
            char deep[2 * 2049 + 2];
            memset(deep, '[', n);
            size_t len = n;
            if (with_scalar) {
                deep[len++] = '1';
            }
            memset(deep + len, ']', n);
            len += n;
            json_t *v = json_loadb(deep, len, JSON_DECODE_ANY, NULL);
            assert_int_equal(transform_json_is_valid(deep, len), v != NULL);
            json_decref(v);
        }
    }
}

/* Numbers jansson cannot hold are "not JSON" for it, whatever the grammar. */
static void json_out_of_range_numbers(void **state)
{
    (void)state;
    check_ok(transform_json_text_in, "\"123456789012345678901234567890\"",
             "\"123456789012345678901234567890\"");
    check_ok(transform_json_text_in, "\"[1e400]\"", "\"[1e400]\"");
    check_err(transform_json_decode, "\"1e400\"", "text is not JSON");
    check_err(transform_json_decode, "\"-99999999999999999999\"", "text is not JSON");
}

/* ---- randomised cross-checks (fixed seed: the same run every time) -------- */

static unsigned long long rng_state = 0x9E3779B97F4A7C15ULL;

static unsigned long long rng_next(void)
{
    /* xorshift64: deterministic, no libc state shared with anything else. */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static long long rng_range(long long lo, long long hi)
{
    return lo + (long long)(rng_next() % (unsigned long long)(hi - lo + 1));
}

/* The calendar arithmetic agrees with glibc's gmtime_r: an instant written
 * with a random offset in local time normalises to its UTC spelling. */
static void timestamp_matches_libc_calendar(void **state)
{
    (void)state;
    const long long first = -62135596800LL; /* 0001-01-01T00:00:00Z */
    const long long last = 253402300799LL;  /* 9999-12-31T23:59:59Z */
    for (int i = 0; i < 20000; i++) {
        long long t = rng_range(first + 86400, last - 86400);
        int offset_min = (int)rng_range(-(23 * 60 + 59), 23 * 60 + 59);
        time_t local_t = (time_t)(t + offset_min * 60LL);
        time_t utc_t = (time_t)t;
        struct tm local;
        struct tm utc;
        assert_non_null(gmtime_r(&local_t, &local));
        assert_non_null(gmtime_r(&utc_t, &utc));
        int abs_off = offset_min < 0 ? -offset_min : offset_min;
        char in[128];
        char want[96];
        snprintf(in, sizeof(in), "%04d-%02d-%02d%c%02d:%02d:%02d.%03d%c%02d%s%02d",
                 local.tm_year + 1900, local.tm_mon + 1, local.tm_mday, i % 2 ? 'T' : ' ',
                 local.tm_hour, local.tm_min, local.tm_sec, i % 1000, offset_min < 0 ? '-' : '+',
                 abs_off / 60, i % 3 ? ":" : "", abs_off % 60);
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03d000Z", utc.tm_year + 1900,
                 utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, i % 1000);
        char out[28];
        struct relay_error err = {0};
        if (transform_timestamp_normalize(in, out, &err) != 0) {
            fail_msg("%s: %s", in, err.msg);
        }
        if (strcmp(out, want) != 0) {
            fail_msg("%s: got %s, want %s", in, out, want);
        }
    }
}

static void random_text(char *buf, size_t cap, const char *alphabet)
{
    size_t n = (size_t)rng_range(0, (long long)cap - 1);
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < n; i++) {
        buf[i] = alphabet[rng_next() % k];
    }
    buf[n] = '\0';
}

/* The syntax check agrees with jansson on random texts over JSON's alphabet. */
static void json_check_agrees_on_random_texts(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]{}[]\"\"::,,  01-.eE+tfnrulasx\\u0dD8F";
    size_t agreed_valid = 0;
    for (int i = 0; i < 200000; i++) {
        char text[24];
        random_text(text, sizeof(text), alphabet);
        json_error_t jerr;
        json_t *v = json_loadb(text, strlen(text), JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        bool want = v != NULL;
        json_decref(v);
        if (!want && json_error_code(&jerr) == json_error_numeric_overflow) {
            continue;
        }
        if (transform_json_is_valid(text, strlen(text)) != want) {
            fail_msg("'%s': check says %d, jansson %d", text, !want, want);
        }
        agreed_valid += want;
    }
    assert_true(agreed_valid > 100); /* the alphabet does produce valid JSON */
}

/* Random input never crashes a transform: a value or EINVAL, nothing else. */
static void random_inputs_give_value_or_einval(void **state)
{
    (void)state;
    static const transform_fn text_fns[] = {
        transform_timestamp,    transform_lower_snake, transform_upper,
        transform_json_text_in, transform_json_decode,
    };
    static const char alphabet[] = "0123456789+-:. TtZz()/@aA_\t\"{}[],e";
    for (int i = 0; i < 50000; i++) {
        char text[40];
        random_text(text, sizeof(text), alphabet);
        json_t *str = json_string(text);
        json_t *list = json_pack("[s, s]", text, "+447700900456");
        json_t *values[] = {str, list};
        for (size_t f = 0; f < sizeof(text_fns) / sizeof(text_fns[0]); f++) {
            for (size_t v = 0; v < 2; v++) {
                struct relay_error err = {0};
                json_t *got = text_fns[f](values[v], &err);
                assert_true(got != NULL || err.code == RELAY_EINVAL);
                json_decref(got);
            }
        }
        transform_fn list_fns[] = {transform_email_list, transform_phone_list,
                                   transform_twenty_phones_out, transform_twenty_emails_out};
        for (size_t f = 0; f < sizeof(list_fns) / sizeof(list_fns[0]); f++) {
            struct relay_error err = {0};
            json_t *got = list_fns[f](list, &err);
            assert_true(got != NULL || err.code == RELAY_EINVAL);
            json_decref(got);
        }
        json_t *composite = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "primaryPhoneNumber", text,
                                      "primaryPhoneCallingCode", i % 2 ? "+44" : "",
                                      "additionalPhones", "number", text, "callingCode", "+1");
        struct relay_error err = {0};
        json_t *got = transform_twenty_phones_in(composite, &err);
        assert_true(got != NULL || err.code == RELAY_EINVAL);
        json_decref(got);
        json_decref(composite);
        json_decref(list);
        json_decref(str);
    }
}

/* ---- allocation failures ---------------------------------------------- */

struct torture_case {
    transform_fn fn;
    const char *in;
};

static const struct torture_case torture_cases[] = {
    {transform_timestamp, "\"2024-11-12 08:41:19.27+00\""},
    {transform_email_list, "[\" A@X.COM\", \"a@x.com\", \"b@y.org\", \"A@x.com\"]"},
    {transform_phone_list, "[\"+44 7700 900456\", \"+447700900456\", \"+1 415 555 0142\"]"},
    {transform_twenty_emails_in, "{\"primaryEmail\":\"a@X.io\",\"additionalEmails\":[\"b@x.io\"]}"},
    {transform_twenty_emails_out, "[\"a@x.io\",\"b@x.io\",\"c@x.io\"]"},
    {transform_twenty_phones_in,
     "{\"primaryPhoneNumber\":\"30 901820\",\"primaryPhoneCallingCode\":\"+49\","
     "\"additionalPhones\":[{\"number\":\"151 2345 6789\",\"callingCode\":\"+49\"}]}"},
    {transform_twenty_phones_out, "[\"+4930901820\",\"+4915123456789\",\"+14155550142\"]"},
    {transform_lower_snake, "\"Board Member\""},
    {transform_upper, "\"board_member\""},
    {transform_json_text_in, "\"{\\\"a\\\":[1,2,{\\\"b\\\":0.35}],\\\"c\\\":\\\"d\\\"}\""},
    {transform_json_text_in, "\"not json at all\""},
    {transform_json_text_out, "{\"a\":[1,2,{\"b\":0.35}],\"c\":\"d\"}"},
    {transform_json_encode, "{\"a\":[1,0.1,{\"b\":1e300}]}"},
    {transform_json_decode, "\"{\\\"a\\\":[1,2,{\\\"b\\\":\\\"x\\\"}]}\""},
};

/* Makes the 1st, 2nd, ... allocation of each transform fail (every case
 * makes far fewer than TORTURE_MAX_ALLOCS): every run must either give the
 * normal result or fail with ENOMEM, and leak nothing (ASan's leak check
 * runs at exit). The first allocation failing must fail the call. */
#define TORTURE_MAX_ALLOCS 300

static void allocation_failures_are_clean(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(torture_cases) / sizeof(torture_cases[0]); c++) {
        json_t *in = parse(torture_cases[c].in);
        json_t *want = torture_cases[c].fn(in, NULL);
        assert_non_null(want);
        size_t failures = 0;
        for (long n = 1; n <= TORTURE_MAX_ALLOCS; n++) {
            struct relay_error err = {0};
            relay_mem_fail_after(n);
            json_t *got = torture_cases[c].fn(in, &err);
            relay_mem_fail_after(0);
            if (got == NULL) {
                if (err.code != RELAY_ENOMEM) {
                    fail_msg("%s, alloc %ld: code %d '%s'", torture_cases[c].in, n, err.code,
                             err.msg);
                }
                failures++;
                continue;
            }
            if (!json_equal(got, want)) {
                char *text = json_dumps(got, JSON_ENCODE_ANY);
                fail_msg("%s, alloc %ld: wrong result %s", torture_cases[c].in, n, text);
            }
            json_decref(got);
            assert_true(n > 1);
        }
        assert_true(failures > 0);
        json_decref(want);
        json_decref(in);
    }
}

int main(int argc, char **argv)
{
    relay_mem_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timestamp_accepts_rfc3339_forms),
        cmocka_unit_test(timestamp_rejects_bad_forms),
        cmocka_unit_test(timestamp_is_idempotent_and_ordered),
        cmocka_unit_test(timestamp_json_values),
        cmocka_unit_test(email_list_normalises),
        cmocka_unit_test(email_list_drops_empties_and_duplicates),
        cmocka_unit_test(email_list_errors),
        cmocka_unit_test(email_list_long_is_deduplicated),
        cmocka_unit_test(phone_normalize_cases),
        cmocka_unit_test(phone_list_cases),
        cmocka_unit_test(calling_code_table_is_sorted_and_prefix_free),
        cmocka_unit_test(calling_code_table_holds_the_listed_codes),
        cmocka_unit_test(phone_split_cases),
        cmocka_unit_test(twenty_emails_in_cases),
        cmocka_unit_test(twenty_emails_out_cases),
        cmocka_unit_test(twenty_emails_round_trip),
        cmocka_unit_test(twenty_phones_in_cases),
        cmocka_unit_test(twenty_phones_in_errors),
        cmocka_unit_test(twenty_phones_out_cases),
        cmocka_unit_test(twenty_phones_round_trip),
        cmocka_unit_test(lower_snake_and_upper),
        cmocka_unit_test(json_text_in_cases),
        cmocka_unit_test(json_text_out_cases),
        cmocka_unit_test(json_text_keeps_every_real_exactly),
        cmocka_unit_test(json_text_round_trips),
        cmocka_unit_test(json_encode_decode_cases),
        cmocka_unit_test(json_check_agrees_with_jansson),
        cmocka_unit_test(json_check_depth_limit_matches_jansson),
        cmocka_unit_test(json_out_of_range_numbers),
        cmocka_unit_test(timestamp_matches_libc_calendar),
        cmocka_unit_test(json_check_agrees_on_random_texts),
        cmocka_unit_test(random_inputs_give_value_or_einval),
        cmocka_unit_test(allocation_failures_are_clean),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
