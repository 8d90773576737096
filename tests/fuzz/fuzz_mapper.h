/* Mapper helpers of the fuzz targets that map contacts (the webhooks, the
 * mapping file, the BigQuery and Twenty answers); fuzz_mapper.c. */
#ifndef RELAY_TESTS_FUZZ_FUZZ_MAPPER_H
#define RELAY_TESTS_FUZZ_FUZZ_MAPPER_H

#include "mappers/mapper.h"
#include "relay/event.h"

/* The compiled-in mapping, loaded on the first call; aborts when it
 * cannot load (a build bug). */
const struct mapping *fuzz_default_mapping(void);

/* ev's fields into every system's form and back: mapper_to_system may
 * refuse them (EINVAL, ENOMEM), and mapper_from_system must accept what it
 * wrote. Twenty's form includes its system keys. */
void fuzz_through_systems(const struct mapping *m, const struct relay_event *ev);

#endif
