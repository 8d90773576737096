/* Fuzz target: the input as a mapping YAML file through mapping_load. A
 * mapping that loads must answer its accessors consistently, and must
 * decode the Twenty and Supabase sample webhooks (or refuse them cleanly)
 * and write/read every system with the event's fields. */
#include "mappers/mapper.h"
#include "tests/fuzz/fuzz_mapper.h"
#include "tests/fuzz/fuzz_util.h"

#include <string.h>

static const char twenty_body[] =
    "{\"eventName\":\"person.updated\",\"webhookId\":\"w1\",\"record\":{\"id\":\"t-1\","
    "\"contactId\":\"CNT-1\",\"updatedAt\":\"2024-11-12T08:41:19.270Z\",\"jobTitle\":\"CTO\","
    "\"name\":{\"firstName\":\"Ada\",\"lastName\":\"L\"},\"emails\":{\"primaryEmail\":"
    "\"a@b.c\",\"additionalEmails\":[\"d@e.f\"]},\"phones\":{\"primaryPhoneNumber\":\"123\","
    "\"primaryPhoneCountryCode\":\"CH\",\"primaryPhoneCallingCode\":\"+41\","
    "\"additionalPhones\":[]},\"city\":\"Bern\",\"tags\":[\"a\"],\"score\":3.5,"
    "\"custom\":{\"k\":1}},\"updatedFields\":[\"jobTitle\",\"name\",\"emails\",\"custom\"]}";

static const char supabase_body[] =
    "{\"type\":\"UPDATE\",\"table\":\"contacts\",\"schema\":\"public\",\"record\":{\"id\":"
    "\"9b0f\",\"contact_id\":\"CNT-1\",\"updated_at\":\"2024-11-12T08:41:19.27+00:00\","
    "\"first_name\":\"Ada\",\"emails\":[\"a@b.c\"],\"phones\":[\"+41 1\"],\"tags\":null,"
    "\"score\":1},\"old_record\":{\"id\":\"9b0f\",\"first_name\":\"A\"}}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_setup();
    return 0;
}

static void check_accessors(const struct mapping *m)
{
    size_t n = mapping_field_count(m);
    for (size_t i = 0; i < n; i++) {
        const struct mapping_field *f = mapping_field_at(m, i);
        FUZZ_CHECK(f != NULL && f->name != NULL, "mapping_field_at: no field");
        FUZZ_CHECK(mapping_field_find(m, f->name) != NULL, "mapping_field_find misses a field");
    }
}

static void decode_sample(const struct mapping *m, enum relay_source source, const char *body)
{
    struct relay_error err = {0};
    struct relay_event *ev = NULL;
    int rc = mapper_decode_webhook(m, source, body, strlen(body), &ev, &err);
    fuzz_note("sample %d: rc=%d %s", (int)source, rc, rc == MAPPER_EVENT ? "event" : err.msg);
    if (rc != MAPPER_EVENT) {
        FUZZ_CHECK(ev == NULL, "no event expected");
        return;
    }
    fuzz_event_check_mapped(ev);
    fuzz_event_roundtrip(ev);
    fuzz_through_systems(m, ev);
    relay_event_destroy(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct relay_error err = {0};
    const char *path = fuzz_scratch_file(data, size);
    FUZZ_CHECK(path != NULL, "cannot write the scratch file");
    struct mapping *m = mapping_load(path, &err);
    fuzz_note("mapping_load: %s", m != NULL ? "loaded" : err.msg);
    if (m == NULL) {
        FUZZ_CHECK(err.code != RELAY_OK, "mapping_load: failure without a code");
        FUZZ_CHECK(err.msg[0] != '\0', "mapping_load: error without a message");
        return 0;
    }
    check_accessors(m);
    decode_sample(m, RELAY_SOURCE_TWENTY, twenty_body);
    decode_sample(m, RELAY_SOURCE_SUPABASE, supabase_body);
    mapping_destroy(m);
    return 0;
}
