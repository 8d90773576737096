/* Shared by the unit tests that map with the compiled-in mapping: a cmocka
 * group setup and teardown that load it into `mapping`, and contact.md's 30
 * canonical names in its table order. Include after cmocka.h. */
#ifndef RELAY_TESTS_TEST_MAPPING_UTIL_H
#define RELAY_TESTS_TEST_MAPPING_UTIL_H

#include "mappers/mapper.h"

#include <stdio.h>

static struct mapping *mapping __attribute__((unused)); /* the loaded default */

static inline int mapping_setup(void **state)
{
    (void)state;
    struct relay_error err = {0};
    mapping = mapping_load(NULL, &err);
    if (mapping == NULL) {
        fprintf(stderr, "mapping_load: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static inline int mapping_teardown(void **state)
{
    (void)state;
    mapping_destroy(mapping);
    return 0;
}

/* contact.md's 30 canonical names, in its table order. */
static inline const char *contact_field_name(size_t i)
{
    static const char *const names[30] = {"contact_id",
                                          "twenty_id",
                                          "supabase_id",
                                          "full_name",
                                          "display_name",
                                          "name_prefix",
                                          "first_name",
                                          "middle_name",
                                          "last_name",
                                          "name_suffix",
                                          "nickname",
                                          "phonetic_name",
                                          "company",
                                          "job_title",
                                          "department",
                                          "relationship_type",
                                          "relationship_strength",
                                          "social_network",
                                          "tags",
                                          "created_at",
                                          "updated_at",
                                          "deleted_at",
                                          "llm_summary",
                                          "llm_context",
                                          "ai_insights",
                                          "communication_stats",
                                          "llm_updated_at",
                                          "sync_metadata",
                                          "emails",
                                          "phones"};
    return i < 30 ? names[i] : NULL;
}

#endif
