/* The names the mapping file may give to transforms, bound to the fixed C
 * library of mappers/transform.h. A pair reads a system's value in and
 * writes a canonical value out; NULL means "as is". */
#include "mappers/mapper_internal.h"
#include "mappers/transform.h"

#include <string.h>

static const struct mapper_transform library[] = {
    {"timestamp", transform_timestamp, transform_timestamp},
    {"email_list", transform_email_list, transform_email_list},
    {"phone_list", transform_phone_list, transform_phone_list},
    {"lower_snake", transform_lower_snake, transform_lower_snake},
    {"twenty_emails", transform_twenty_emails_in, transform_twenty_emails_out},
    {"twenty_phones", transform_twenty_phones_in, transform_twenty_phones_out},
    /* Twenty SELECT: "BOARD_MEMBER" reads as "board_member" and back. */
    {"upper", transform_lower_snake, transform_upper},
    {"json_text", transform_json_text_in, transform_json_text_out},
    {"json_encode", transform_json_decode, transform_json_encode},
};

#define LIBRARY_COUNT (sizeof(library) / sizeof(library[0]))
#define NORMALIZER_COUNT 4 /* the first four entries are also canonical normalisers */

const struct mapper_transform *mapper_transform_find(const char *name)
{
    for (size_t i = 0; i < LIBRARY_COUNT; i++) {
        if (strcmp(library[i].name, name) == 0) {
            return &library[i];
        }
    }
    return NULL;
}

const struct mapper_transform *mapper_normalizer_find(const char *name)
{
    for (size_t i = 0; i < NORMALIZER_COUNT; i++) {
        if (strcmp(library[i].name, name) == 0) {
            return &library[i];
        }
    }
    return NULL;
}
