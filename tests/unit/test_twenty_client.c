/* Pure parts of the Twenty REST client: filters, URL escaping, answer
 * classification (429, the older 400 rate-limit answer, 401/403, 5xx),
 * data extraction and whole-composite merging. */
#include "relay/buf.h"
#include "workers/sinks/twenty_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static void filter_is_twenty_syntax(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    assert_int_equal(twenty_filter_eq(&b, "contactId", "CNT-1", false, NULL), 0);
    assert_string_equal(b.data, "contactId[eq]:\"CNT-1\"");
    relay_buf_reset(&b);
    assert_int_equal(twenty_filter_eq(&b, "id", "a1", true, NULL), 0);
    assert_string_equal(b.data, "id[eq]:\"a1\",deletedAt[is]:NOT_NULL");
    struct relay_error err = {0};
    assert_int_equal(twenty_filter_eq(&b, "contactId", "a\"b", false, &err), -1);
    assert_int_equal(err.code, RELAY_EINVAL);
    relay_buf_fini(&b);
}

static void url_escape_keeps_unreserved(void **state)
{
    (void)state;
    struct relay_buf b;
    relay_buf_init(&b);
    assert_int_equal(twenty_url_escape(&b, "contactId[eq]:\"CNT 1\",x~_.-é"), 0);
    assert_string_equal(b.data, "contactId%5Beq%5D%3A%22CNT%201%22%2Cx~_.-%C3%A9");
    relay_buf_fini(&b);
}

static void classify(long status, const char *body, enum relay_error_code want)
{
    struct relay_error err = {0};
    int rc = twenty_classify(status, body, body != NULL ? strlen(body) : 0, "find", &err);
    if (want == RELAY_OK) {
        assert_int_equal(rc, 0);
        return;
    }
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, want);
}

static void classification_of_answers(void **state)
{
    (void)state;
    classify(200, "{}", RELAY_OK);
    classify(201, NULL, RELAY_OK);
    classify(429, "{\"statusCode\":429,\"error\":\"TooManyRequests\",\"messages\":[\"x\"]}",
             RELAY_EIO);
    classify(400, "{\"statusCode\":400,\"error\":\"BadRequestException\","
                  "\"messages\":[\"API rate limit exceeded\"]}",
             RELAY_EIO);
    classify(400, "{\"statusCode\":400,\"error\":\"BadRequestException\","
                  "\"messages\":[\"Limit reached (100 tokens per 60000 ms)\"]}",
             RELAY_EIO);
    classify(400, "{\"statusCode\":400,\"error\":\"BadRequestException\","
                  "\"messages\":[\"field fooBar not found\"]}",
             RELAY_EINVAL);
    classify(401, "{\"statusCode\":401,\"error\":\"Unauthorized\",\"messages\":[]}",
             RELAY_ECONFIG);
    classify(403, NULL, RELAY_ECONFIG);
    classify(404, NULL, RELAY_ENOTFOUND);
    classify(500, "not json", RELAY_EIO);
    classify(503, NULL, RELAY_EIO);
    classify(422, NULL, RELAY_EINVAL);
}

static void error_message_names_status_not_body(void **state)
{
    (void)state;
    struct relay_error err = {0};
    const char *body = "{\"statusCode\":400,\"error\":\"BadRequestException\","
                       "\"messages\":[\"secret-value x@y.z\"]}";
    assert_int_equal(twenty_classify(400, body, strlen(body), "create", &err), -1);
    assert_string_equal(err.msg, "twenty create: HTTP 400 BadRequestException");
}

static void answer_data_extraction(void **state)
{
    (void)state;
    const char *body = "{\"data\":{\"createPerson\":{\"id\":\"x\"}}}";
    json_t *v = twenty_answer_data(body, strlen(body), "createPerson", NULL);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "id")), "x");
    json_decref(v);
    struct relay_error err = {0};
    assert_null(twenty_answer_data(body, strlen(body), "updatePerson", &err));
    assert_int_equal(err.code, RELAY_EIO);
    assert_null(twenty_answer_data("garbage", 7, "x", NULL));
}

static void name_composite_gets_missing_parts(void **state)
{
    (void)state;
    json_t *body = json_pack("{s:{s:s}}", "name", "firstName", "Ada");
    json_t *record = json_pack("{s:{s:s,s:s}}", "name", "firstName", "Old", "lastName",
                               "Lovelace");
    twenty_merge_composites(body, record);
    json_t *want = json_pack("{s:{s:s,s:s}}", "name", "firstName", "Ada", "lastName", "Lovelace");
    assert_true(json_equal(body, want));
    json_decref(want);
    json_decref(body);
    json_decref(record);
}

static void phones_keep_country_codes(void **state)
{
    (void)state;
    json_t *body = json_loads("{\"phones\":{\"primaryPhoneNumber\":\"7700900999\","
                              "\"primaryPhoneCallingCode\":\"+44\",\"additionalPhones\":["
                              "{\"number\":\"2079460000\",\"callingCode\":\"+44\"},"
                              "{\"number\":\"5550100\",\"callingCode\":\"+1\"}]}}",
                              0, NULL);
    json_t *record = json_loads("{\"phones\":{\"primaryPhoneNumber\":\"7700900456\","
                                "\"primaryPhoneCountryCode\":\"GB\","
                                "\"primaryPhoneCallingCode\":\"+44\",\"additionalPhones\":["
                                "{\"number\":\"2079460000\",\"countryCode\":\"GB\","
                                "\"callingCode\":\"+44\"}]}}",
                                0, NULL);
    twenty_merge_composites(body, record);
    json_t *phones = json_object_get(body, "phones");
    assert_string_equal(json_string_value(json_object_get(phones, "primaryPhoneCountryCode")),
                        "GB");
    json_t *extra = json_object_get(phones, "additionalPhones");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(extra, 0), "countryCode")), "GB");
    assert_null(json_object_get(json_array_get(extra, 1), "countryCode"));
    json_decref(body);
    json_decref(record);
}

static void phones_with_new_calling_code_get_no_stale_country(void **state)
{
    (void)state;
    json_t *body = json_loads("{\"phones\":{\"primaryPhoneNumber\":\"301234\","
                              "\"primaryPhoneCallingCode\":\"+49\",\"additionalPhones\":[]}}",
                              0, NULL);
    json_t *record = json_loads("{\"phones\":{\"primaryPhoneCountryCode\":\"GB\","
                                "\"primaryPhoneCallingCode\":\"+44\"}}",
                                0, NULL);
    twenty_merge_composites(body, record);
    assert_null(json_object_get(json_object_get(body, "phones"), "primaryPhoneCountryCode"));
    twenty_merge_composites(body, NULL); /* no record: nothing to merge */
    json_decref(body);
    json_decref(record);
}

static void raw_json_fields_are_not_merged(void **state)
{
    (void)state;
    json_t *body = json_pack("{s:{s:i}}", "socialNetwork", "a", 1);
    json_t *record = json_pack("{s:{s:i}}", "socialNetwork", "b", 2);
    twenty_merge_composites(body, record);
    assert_null(json_object_get(json_object_get(body, "socialNetwork"), "b"));
    json_decref(body);
    json_decref(record);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(filter_is_twenty_syntax),
        cmocka_unit_test(url_escape_keeps_unreserved),
        cmocka_unit_test(classification_of_answers),
        cmocka_unit_test(error_message_names_status_not_body),
        cmocka_unit_test(answer_data_extraction),
        cmocka_unit_test(name_composite_gets_missing_parts),
        cmocka_unit_test(phones_keep_country_codes),
        cmocka_unit_test(phones_with_new_calling_code_get_no_stale_country),
        cmocka_unit_test(raw_json_fields_are_not_merged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
