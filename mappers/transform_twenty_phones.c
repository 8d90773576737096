/* Twenty's PHONES composite {primaryPhoneNumber, primaryPhoneCallingCode,
 * primaryPhoneCountryCode, additionalPhones[{number, callingCode,
 * countryCode}]} <-> the canonical E.164 list (primary first). Inbound,
 * a phone is callingCode + number with separators dropped (a number that
 * already starts with '+' stands alone); outbound, E.164 is split by the
 * ITU table. The country code (ISO "GB") is never written: one calling
 * code serves many countries, so the sink keeps what the record had.
 * Pure functions; thread-safe. */
#include "mappers/transform.h"
#include "mappers/transform_internal.h"
#include "relay/mem.h"

#include <stdbool.h>
#include <string.h>

/* Text or absent/null (as ""); anything else is an error naming key. */
static int optional_text(const json_t *v, const char *key, const char **s, size_t *len,
                         struct relay_error *err)
{
    *s = "";
    *len = 0;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v)) {
        return relay_error_set(err, RELAY_EINVAL, "%s: expected text, got %s", key,
                               transform_type_name(v));
    }
    *s = json_string_value(v);
    *len = json_string_length(v);
    return 0;
}

/* True when s holds nothing but the separators people type in numbers. */
static bool is_blank_number(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (strchr(" \t()-./", s[i]) == NULL || s[i] == '\0') {
            return false;
        }
    }
    return true;
}

static bool starts_with_plus(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t') {
            return s[i] == '+';
        }
    }
    return false;
}

/* Joins calling code and number into one E.164 phone and adds it to u;
 * a blank number adds nothing. */
static int add_joined_phone(struct transform_uniq *u, const json_t *calling_v,
                            const json_t *number_v, const char *number_key, const char *calling_key,
                            struct relay_error *err)
{
    const char *number;
    const char *calling;
    size_t number_len;
    size_t calling_len;
    if (optional_text(number_v, number_key, &number, &number_len, err) != 0 ||
        optional_text(calling_v, calling_key, &calling, &calling_len, err) != 0) {
        return -1;
    }
    if (is_blank_number(number, number_len)) {
        return 0;
    }
    if (starts_with_plus(number, number_len) || is_blank_number(calling, calling_len)) {
        calling_len = 0;
    }
    char *joined = relay_malloc(calling_len + number_len + 2);
    if (joined == NULL) {
        return transform_oom(err);
    }
    size_t n = 0;
    if (calling_len > 0 && !starts_with_plus(calling, calling_len)) {
        joined[n++] = '+';
    }
    memcpy(joined + n, calling, calling_len);
    memcpy(joined + n + calling_len, number, number_len);
    n += calling_len + number_len;
    char phone[17];
    struct relay_error phone_err;
    int rc = transform_phone_clean(joined, n, phone, &phone_err);
    relay_free(joined);
    if (rc != 0) {
        return relay_error_set(err, phone_err.code, "%s: %s", number_key, phone_err.msg);
    }
    return transform_uniq_add(u, phone, strlen(phone), err);
}

/* additionalPhones: null/absent adds nothing; an element is an object
 * {number, callingCode} or (older records) a full number as text. */
static int add_additional_phones(struct transform_uniq *u, const json_t *additional,
                                 struct relay_error *err)
{
    if (additional == NULL || json_is_null(additional)) {
        return 0;
    }
    if (!json_is_array(additional)) {
        return relay_error_set(err, RELAY_EINVAL, "additionalPhones: expected a list, got %s",
                               transform_type_name(additional));
    }
    size_t i;
    json_t *item;
    json_array_foreach(additional, i, item)
    {
        int rc;
        if (json_is_object(item)) {
            rc = add_joined_phone(u, json_object_get(item, "callingCode"),
                                  json_object_get(item, "number"), "additionalPhones.number",
                                  "additionalPhones.callingCode", err);
        } else if (json_is_string(item)) {
            rc = add_joined_phone(u, NULL, item, "additionalPhones", "", err);
        } else {
            rc = relay_error_set(err, RELAY_EINVAL, "additionalPhones: expected an object, got %s",
                                 transform_type_name(item));
        }
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

json_t *transform_twenty_phones_in(const json_t *composite, struct relay_error *err)
{
    if (json_is_null(composite)) {
        return json_array();
    }
    if (!json_is_object(composite)) {
        relay_error_set(err, RELAY_EINVAL, "expected a phones object, got %s",
                        transform_type_name(composite));
        return NULL;
    }
    struct transform_uniq u;
    if (transform_uniq_init(&u, err) != 0) {
        return NULL;
    }
    if (add_joined_phone(&u, json_object_get(composite, "primaryPhoneCallingCode"),
                         json_object_get(composite, "primaryPhoneNumber"), "primaryPhoneNumber",
                         "primaryPhoneCallingCode", err) != 0 ||
        add_additional_phones(&u, json_object_get(composite, "additionalPhones"), err) != 0) {
        transform_uniq_fini(&u);
        return NULL;
    }
    return transform_uniq_take(&u);
}

/* Sets number_key/calling_key of obj from the split of an E.164 phone. */
static int set_split(json_t *obj, const char *number_key, const char *calling_key,
                     const json_t *phone, struct relay_error *err)
{
    char calling[8];
    char national[17];
    if (transform_phone_split(json_string_value(phone), calling, national, err) != 0) {
        return -1;
    }
    if (json_object_set_new(obj, number_key, json_string_nocheck(national)) != 0 ||
        json_object_set_new(obj, calling_key, json_string_nocheck(calling)) != 0) {
        return transform_oom(err);
    }
    return 0;
}

/* The composite for a clean E.164 list; NULL with err. */
static json_t *build_phones_object(const json_t *clean, struct relay_error *err)
{
    json_t *obj = json_object();
    json_t *additional = json_array();
    json_t *res = NULL;
    if (obj == NULL || additional == NULL) {
        transform_oom(err);
        goto out;
    }
    json_t *first = json_array_get(clean, 0);
    if (first == NULL) {
        if (json_object_set_new(obj, "primaryPhoneNumber", json_string("")) != 0 ||
            json_object_set_new(obj, "primaryPhoneCallingCode", json_string("")) != 0) {
            transform_oom(err);
            goto out;
        }
    } else if (set_split(obj, "primaryPhoneNumber", "primaryPhoneCallingCode", first, err) != 0) {
        goto out;
    }
    for (size_t i = 1; i < json_array_size(clean); i++) {
        json_t *item = json_object();
        if (item == NULL || json_array_append_new(additional, item) != 0) {
            transform_oom(err);
            goto out;
        }
        if (set_split(item, "number", "callingCode", json_array_get(clean, i), err) != 0) {
            goto out;
        }
    }
    if (json_object_set(obj, "additionalPhones", additional) != 0) {
        transform_oom(err);
        goto out;
    }
    res = obj;
    obj = NULL;
out:
    json_decref(obj);
    json_decref(additional);
    return res;
}

json_t *transform_twenty_phones_out(const json_t *list, struct relay_error *err)
{
    json_t *clean = transform_phone_list(list, err);
    if (clean == NULL) {
        return NULL;
    }
    json_t *res = build_phones_object(clean, err);
    json_decref(clean);
    return res;
}
