/* Fuzz target: what BigQuery answers. The input is an HTTP body read as
 * (1) an insertAll answer, classified for several statuses and request
 * sizes (bigquery_payload_classify), (2) a jobs.query/getQueryResults
 * answer whose rows are decoded against its schema
 * (bigquery_query_decode_row) and then read as BigQuery contacts
 * (mapper_from_system), and (3) its first bytes as a TIMESTAMP cell
 * (bigquery_query_timestamp). */
#include "mappers/mapper.h"
#include "relay/mem.h"
#include "tests/fuzz/fuzz_mapper.h"
#include "tests/fuzz/fuzz_util.h"
#include "workers/sinks/bigquery_payload.h"
#include "workers/sinks/bigquery_query.h"

#include <stdbool.h>
#include <string.h>

static const struct mapping *mapping;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_setup();
    mapping = fuzz_default_mapping();
    return 0;
}

static void check_classify(const uint8_t *data, size_t size, long status, size_t n)
{
    struct relay_error err = {0};
    enum bigquery_row *rows = relay_calloc(n, sizeof(*rows)); /* exactly n: ASan sees overruns */
    if (rows == NULL) {
        return;
    }
    enum bigquery_outcome out =
        bigquery_payload_classify(status, (const char *)data, size, n, rows, &err);
    FUZZ_CHECK(out >= BIGQUERY_ROWS && out <= BIGQUERY_AUTH, "classify: outcome out of range");
    if (status < 200 || status >= 300) {
        FUZZ_CHECK(out != BIGQUERY_ROWS, "classify: rows for an error status");
    }
    if (out == BIGQUERY_ROWS) {
        json_t *answer = json_loadb((const char *)data, size, 0, NULL);
        bool none_failed = json_array_size(json_object_get(answer, "insertErrors")) == 0;
        json_decref(answer);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(rows[i] >= BIGQUERY_ROW_OK && rows[i] <= BIGQUERY_ROW_STOPPED,
                       "classify: row status out of range");
            FUZZ_CHECK(!none_failed || rows[i] == BIGQUERY_ROW_OK,
                       "classify: a row failed with no insertErrors");
        }
    } else {
        FUZZ_CHECK(err.code != RELAY_OK && err.msg[0] != '\0', "classify: failure without error");
    }
    relay_free(rows);
}

static void check_rows(const uint8_t *data, size_t size)
{
    json_t *answer = json_loadb((const char *)data, size, 0, NULL);
    const json_t *schema = json_object_get(answer, "schema");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(answer, "rows"), i, row)
    {
        struct relay_error err = {0};
        json_t *contact = bigquery_query_decode_row(schema, row, &err);
        if (contact == NULL) {
            FUZZ_CHECK(err.code == RELAY_EINVAL || err.code == RELAY_ENOMEM,
                       "decode_row: unexpected error code");
            continue;
        }
        FUZZ_CHECK(json_is_object(contact), "decode_row: not an object");
        json_t *extra = json_object();
        json_t *quarantine = json_object();
        json_t *fields =
            mapper_from_system(mapping, MAPPER_SYS_BIGQUERY, contact, extra, quarantine, &err);
        FUZZ_CHECK(fields != NULL || err.code == RELAY_ENOMEM, "from_system refused a row");
        json_decref(fields);
        json_decref(extra);
        json_decref(quarantine);
        json_decref(contact);
    }
    json_decref(answer);
}

static void check_timestamp(const uint8_t *data, size_t size)
{
    struct relay_error err = {0};
    char ts[RELAY_TS_LEN + 1];
    char *text = fuzz_strndup(data, size < 64 ? size : 64);
    if (text == NULL) {
        return;
    }
    if (bigquery_query_timestamp(text, ts, &err) == 0) {
        FUZZ_CHECK(fuzz_is_canonical_ts(ts), "TIMESTAMP decoded to a non-canonical text");
    } else {
        FUZZ_CHECK(err.code == RELAY_EINVAL, "TIMESTAMP: unexpected error code");
    }
    relay_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 400, 403, 404, 429, 503};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        check_classify(data, size, statuses[i], 1);
    }
    check_classify(data, size, 200, 3);
    check_classify(data, size, 200, 500);
    check_rows(data, size);
    check_timestamp(data, size);
    return 0;
}
