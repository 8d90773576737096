/* fuzz_mapper.h: the default mapping and the through-every-system check. */
#include "tests/fuzz/fuzz_mapper.h"

#include "tests/fuzz/fuzz_util.h"

const struct mapping *fuzz_default_mapping(void)
{
    static struct mapping *mapping;
    if (mapping == NULL) {
        struct relay_error err = {0};
        mapping = mapping_load(NULL, &err);
        FUZZ_CHECK(mapping != NULL, "mapping_load(NULL) failed");
    }
    return mapping;
}

void fuzz_through_systems(const struct mapping *m, const struct relay_event *ev)
{
    for (int sys = 0; sys < MAPPER_SYS_COUNT; sys++) {
        struct relay_error err = {0};
        unsigned flags = sys == MAPPER_SYS_TWENTY ? MAPPER_WITH_SYSTEM_KEYS : 0;
        json_t *row =
            mapper_to_system(m, (enum mapper_system)sys, ev->fields, ev->extra, flags, &err);
        if (row == NULL) {
            FUZZ_CHECK(err.code == RELAY_EINVAL || err.code == RELAY_ENOMEM,
                       "mapper_to_system: unexpected error code");
            continue;
        }
        FUZZ_CHECK(json_is_object(row), "mapper_to_system: not an object");
        json_t *extra = json_object();
        json_t *quarantine = json_object();
        json_t *back = mapper_from_system(m, (enum mapper_system)sys, row, extra, quarantine, &err);
        FUZZ_CHECK(back != NULL || err.code == RELAY_ENOMEM,
                   "mapper_from_system refused what mapper_to_system wrote");
        json_decref(back);
        json_decref(extra);
        json_decref(quarantine);
        json_decref(row);
    }
}
