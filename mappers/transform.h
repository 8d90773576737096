/* The fixed library of value transforms that the mapping file names
 * (deploy/mappings/contact.yaml, key `transform:`). Pure functions over
 * jansson values: thread-safe, no global state. Each returns a new
 * reference the caller owns, or NULL with err (RELAY_EINVAL, message
 * naming the reason, e.g. "timestamp without offset") when the value
 * cannot be mapped; the caller quarantines the field. A JSON null input
 * gives a null output unless the transform says otherwise. */
#ifndef RELAY_MAPPERS_TRANSFORM_H
#define RELAY_MAPPERS_TRANSFORM_H

#include "relay/error.h"

#include <jansson.h>
#include <stddef.h>

/* RFC 3339 (any offset, 0-9 fractional digits, 'T' or ' ' separator,
 * Postgres "+00" offsets) -> "YYYY-MM-DDTHH:MM:SS.ffffffZ" UTC, extra
 * digits truncated. Rejects no offset, "infinity", out-of-range parts.
 * out must hold 28 bytes. 0 or -1 with err. */
int transform_timestamp_normalize(const char *in, char out[28], struct relay_error *err);
json_t *transform_timestamp(const json_t *in, struct relay_error *err);

/* Array of strings -> trimmed, domain lower-cased, empties dropped,
 * duplicates removed keeping the first. null -> []. */
json_t *transform_email_list(const json_t *in, struct relay_error *err);

/* Array of strings -> E.164 strings (spaces and punctuation dropped;
 * letters or a bad shape are an error), empties dropped, duplicates removed
 * keeping the first. null -> []. */
json_t *transform_phone_list(const json_t *in, struct relay_error *err);
/* One phone: cleans and validates; out holds up to 17 bytes ("+" 15 digits). */
int transform_phone_normalize(const char *in, char out[17], struct relay_error *err);

/* Splits E.164 by the ITU calling-code table (prefix-free): "+447700900456"
 * -> calling "+44", national "7700900456". An unknown code gives calling ""
 * and national = the whole string. 0 or -1 with err. */
int transform_phone_split(const char *e164, char calling[8], char national[17],
                          struct relay_error *err);

/* Twenty's {primaryEmail, additionalEmails} <-> canonical email list. */
json_t *transform_twenty_emails_in(const json_t *composite, struct relay_error *err);
json_t *transform_twenty_emails_out(const json_t *list, struct relay_error *err);

/* Twenty's {primaryPhoneNumber, primaryPhoneCallingCode, primaryPhoneCountryCode,
 * additionalPhones[{number, callingCode, countryCode}]} <-> canonical list. */
json_t *transform_twenty_phones_in(const json_t *composite, struct relay_error *err);
json_t *transform_twenty_phones_out(const json_t *list, struct relay_error *err);

/* Text -> lower case with words joined by '_' ("Board Member" -> "board_member"). */
json_t *transform_lower_snake(const json_t *in, struct relay_error *err);
/* Text -> upper case (canonical relationship_type -> Twenty SELECT value). */
json_t *transform_upper(const json_t *in, struct relay_error *err);

/* JSON-in-text: text -> parsed JSON ("" -> null; text that does not parse
 * is kept as a JSON string) and back (value -> compact serialized text,
 * null -> null). */
json_t *transform_json_text_in(const json_t *in, struct relay_error *err);
json_t *transform_json_text_out(const json_t *in, struct relay_error *err);

/* Value <-> JSON-encoded string (SQLite TEXT columns, BigQuery JSON columns). */
json_t *transform_json_encode(const json_t *in, struct relay_error *err);
json_t *transform_json_decode(const json_t *in, struct relay_error *err);

#endif
