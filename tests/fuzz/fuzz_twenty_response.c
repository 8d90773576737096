/* Fuzz target: what the Twenty REST API answers. The input is an HTTP
 * body: classified for several statuses (twenty_classify), its data.<key>
 * taken for every key the client reads (twenty_answer_data), read as a
 * list page (data.people, pageInfo) like twenty_list, and every person in
 * it read as a Twenty record (mapper_from_system) and merged into PATCH
 * bodies (twenty_merge_composites), as the sink does before an update. */
#include "mappers/mapper.h"
#include "tests/fuzz/fuzz_mapper.h"
#include "tests/fuzz/fuzz_util.h"
#include "workers/sinks/twenty_client.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

static const struct mapping *mapping;

/* A PATCH body with both composites the merge completes. */
static const char patch_body[] =
    "{\"name\":{\"firstName\":\"Ada\"},\"phones\":{\"primaryPhoneNumber\":\"791234567\","
    "\"primaryPhoneCallingCode\":\"+41\",\"additionalPhones\":[{\"number\":\"1\","
    "\"callingCode\":\"+1\"},{\"number\":\"2\",\"callingCode\":\"+44\",\"countryCode\":\"GB\"},"
    "7,{\"callingCode\":null}]}}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_setup();
    mapping = fuzz_default_mapping();
    return 0;
}

static void check_classify(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 201, 400, 401, 403, 404, 408, 429, 500};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        struct relay_error err = {0};
        long st = statuses[i];
        int rc = twenty_classify(st, (const char *)data, size, "fuzz", &err);
        if (st < 300) {
            FUZZ_CHECK(rc == 0, "classify: 2xx is not a success");
            continue;
        }
        FUZZ_CHECK(rc == -1 && err.msg[0] != '\0', "classify: failure without error");
        if (st == 429 || st >= 500 || st == 408) {
            FUZZ_CHECK(err.code == RELAY_EIO, "classify: 429/5xx must be transient");
        } else if (st == 401 || st == 403) {
            FUZZ_CHECK(err.code == RELAY_ECONFIG, "classify: 401/403 must be a config error");
        } else if (st == 400) {
            FUZZ_CHECK(err.code == RELAY_EIO || err.code == RELAY_EINVAL, "classify: 400");
        }
    }
}

/* One record Twenty sent back: read it as the sink does, then merge it
 * into a fixed PATCH body and into the body written from its own fields. */
static void check_record(const json_t *record)
{
    struct relay_error err = {0};
    json_t *fields = mapper_from_system(mapping, MAPPER_SYS_TWENTY, record, NULL, NULL, &err);
    if (!json_is_object(record)) {
        FUZZ_CHECK(fields == NULL, "from_system accepted a non-object record");
        return;
    }
    FUZZ_CHECK(fields != NULL || err.code == RELAY_ENOMEM, "from_system refused a record");
    json_t *body = json_loads(patch_body, 0, NULL);
    FUZZ_CHECK(body != NULL, "patch_body does not parse");
    twenty_merge_composites(body, record);
    json_decref(body);
    if (fields != NULL) {
        json_t *own = mapper_to_system(mapping, MAPPER_SYS_TWENTY, fields, NULL, 0, &err);
        if (own != NULL) {
            twenty_merge_composites(own, record);
        }
        json_decref(own);
    }
    json_decref(fields);
}

static void check_data(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"people",       "person",       "createPerson",
                                       "createPeople", "updatePerson", "deletePerson",
                                       "restorePerson"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct relay_error err = {0};
        json_t *value = twenty_answer_data((const char *)data, size, keys[i], &err);
        if (value == NULL) {
            FUZZ_CHECK(err.code != RELAY_OK && err.msg[0] != '\0', "answer_data: no error");
            continue;
        }
        if (json_is_array(value)) {
            size_t j;
            json_t *record;
            json_array_foreach(value, j, record)
            {
                check_record(record);
            }
        } else {
            check_record(value);
        }
        json_decref(value);
    }
}

/* The list page as twenty_list reads it. */
static void check_page(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    const json_t *page = json_object_get(root, "pageInfo");
    const char *cursor = json_string_value(json_object_get(page, "endCursor"));
    if (cursor != NULL) {
        struct relay_buf url;
        relay_buf_init(&url);
        FUZZ_CHECK(twenty_url_escape(&url, cursor) == 0, "url_escape failed");
        for (size_t i = 0; i < url.len; i++) {
            char c = url.data[i];
            bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      (c != '\0' && strchr("-._~", c) != NULL) ||
                      (c == '%' && i + 2 < url.len && isxdigit((unsigned char)url.data[i + 1]) &&
                       isxdigit((unsigned char)url.data[i + 2]));
            FUZZ_CHECK(ok, "url_escape left a reserved character");
        }
        relay_buf_fini(&url);
    }
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_classify(data, size);
    check_data(data, size);
    check_page(data, size);
    return 0;
}
