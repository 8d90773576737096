/* Helpers shared by the transform_*.c files (mappers/ only; other folders
 * never include this). The public contract is mappers/transform.h. */
#ifndef RELAY_MAPPERS_TRANSFORM_INTERNAL_H
#define RELAY_MAPPERS_TRANSFORM_INTERNAL_H

#include "relay/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A short name for a JSON value's type ("number", "object", ...). */
const char *transform_type_name(const json_t *v);

/* Fails with "expected text, got <type>" unless v is a JSON string. */
int transform_expect_text(const json_t *v, struct relay_error *err);

/* Sets err to RELAY_ENOMEM ("out of memory") and returns -1. */
int transform_oom(struct relay_error *err);

/* True for the ASCII white space that trimming removes (space, \t \n \v \f \r). */
bool transform_is_ascii_space(char c);

/* An ordered list of distinct strings: the canonical text[] result of the
 * email and phone transforms. `seen` is a jansson object used as a hash set
 * so that long lists stay linear. Owned by the caller's stack frame. */
struct transform_uniq {
    json_t *list;
    json_t *seen;
};

/* 0 or -1 (ENOMEM). On failure nothing needs releasing. */
int transform_uniq_init(struct transform_uniq *u, struct relay_error *err);
/* Appends s[0..len) unless an equal string is already in the list.
 * Empty strings are dropped. 0 or -1 (ENOMEM). */
int transform_uniq_add(struct transform_uniq *u, const char *s, size_t len,
                       struct relay_error *err);
/* Returns the list (caller owns it) and releases the rest. */
json_t *transform_uniq_take(struct transform_uniq *u);
/* Releases everything; safe after take. */
void transform_uniq_fini(struct transform_uniq *u);

/* A text[] transform (emails, phones): null is [], anything but an array
 * is an error naming what ("emails") and the type given, and add puts each
 * element, normalised, into the list. The list, or NULL + err. */
json_t *transform_uniq_list(const json_t *in, const char *what,
                            int (*add)(struct transform_uniq *u, const json_t *item,
                                       struct relay_error *err),
                            struct relay_error *err);

/* Email normalisation of one string into out (cap >= len + 1); writes
 * the new length to *out_len. Never fails. */
void transform_email_clean(const char *in, size_t len, char *out, size_t *out_len);

/* Phone cleaning without the "empty" check: out is "" when the input holds
 * only separators. 0 or -1 with err (letters, bad characters, bad shape). */
int transform_phone_clean(const char *in, size_t len, char out[17], struct relay_error *err);

/* The ITU-T E.164 country calling codes (digits only, no '+'), sorted by
 * strcmp; exported for the unit test that checks order and prefix-freedom. */
extern const char *const transform_calling_codes[];
extern const size_t transform_calling_codes_count;

/* True when s[0..len) is one JSON value by RFC 8259's grammar (numbers
 * not range-checked). Allocates nothing; see transform_json_check.c. */
bool transform_json_is_valid(const char *s, size_t len);

/* Compact serialisation (JSON_COMPACT | JSON_ENCODE_ANY, key order kept)
 * as a new JSON string value, using the shortest real-number precision that
 * still reads back equal, so 0.35 is written "0.35" and not
 * "0.34999999999999998". NULL with err (ENOMEM, or a value jansson cannot
 * encode such as NaN). */
json_t *transform_dump_text(const json_t *v, struct relay_error *err);

#endif
