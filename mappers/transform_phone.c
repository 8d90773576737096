/* Phones: free-form text -> E.164 ("+447700900456"), lists of them, and the
 * split of an E.164 number into calling code and national number by the
 * ITU table in transform_calling_codes.c. Pure functions; thread-safe. */
#include "mappers/transform.h"
#include "mappers/transform_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PHONE_DIGITS_MAX 15

/* Separators people type inside numbers; they carry no meaning. */
static bool is_phone_separator(char c)
{
    return c == ' ' || c == '\t' || c == '(' || c == ')' || c == '-' || c == '.' || c == '/';
}

static bool is_ascii_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Drops separators, keeps one leading '+' and the digits; out ends up
 * "" for blank input. Checks characters and length, not the E.164 shape. */
static int copy_phone_chars(const char *in, size_t len, char out[17], struct relay_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (is_phone_separator(c)) {
            continue;
        }
        if (is_ascii_letter(c)) {
            return relay_error_set(err, RELAY_EINVAL, "phone with letters");
        }
        bool is_plus = c == '+' && n == 0;
        if (!is_plus && (c < '0' || c > '9')) {
            return relay_error_set(err, RELAY_EINVAL, "bad phone: unexpected character");
        }
        if (n == PHONE_DIGITS_MAX + 1) {
            return relay_error_set(err, RELAY_EINVAL, "phone longer than 15 digits");
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

int transform_phone_clean(const char *in, size_t len, char out[17], struct relay_error *err)
{
    out[0] = '\0';
    if (copy_phone_chars(in, len, out, err) != 0) {
        out[0] = '\0';
        return -1;
    }
    if (out[0] == '\0') {
        return 0;
    }
    const char *why = NULL;
    if (out[0] != '+') {
        why = "phone without '+' and country code";
    } else if (out[1] == '\0') {
        why = "bad phone: no digits";
    } else if (out[1] == '0') {
        why = "bad phone: country code starts with 0";
    }
    if (why != NULL) {
        out[0] = '\0';
        return relay_error_set(err, RELAY_EINVAL, "%s", why);
    }
    return 0;
}

int transform_phone_normalize(const char *in, char out[17], struct relay_error *err)
{
    if (in == NULL) {
        out[0] = '\0';
        return relay_error_set(err, RELAY_EINVAL, "phone is missing");
    }
    if (transform_phone_clean(in, strlen(in), out, err) != 0) {
        return -1;
    }
    if (out[0] == '\0') {
        return relay_error_set(err, RELAY_EINVAL, "phone is empty");
    }
    return 0;
}

/* Normalises one list element to E.164 and adds it to u. */
static int add_phone(struct transform_uniq *u, const json_t *item, struct relay_error *err)
{
    char phone[17];
    if (transform_expect_text(item, err) != 0 ||
        transform_phone_clean(json_string_value(item), json_string_length(item), phone, err) !=
            0) {
        return -1;
    }
    return transform_uniq_add(u, phone, strlen(phone), err);
}

json_t *transform_phone_list(const json_t *in, struct relay_error *err)
{
    return transform_uniq_list(in, "phones", add_phone, err);
}

static int compare_code(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

static bool is_calling_code(const char *digits)
{
    return bsearch(digits, transform_calling_codes, transform_calling_codes_count,
                   sizeof(transform_calling_codes[0]), compare_code) != NULL;
}

int transform_phone_split(const char *e164, char calling[8], char national[17],
                          struct relay_error *err)
{
    calling[0] = '\0';
    national[0] = '\0';
    char phone[17];
    if (transform_phone_normalize(e164, phone, err) != 0) {
        return -1;
    }
    if (strcmp(phone, e164) != 0) {
        return relay_error_set(err, RELAY_EINVAL, "bad phone: not in E.164 form");
    }
    /* E.164 codes are 1 to 3 digits and prefix-free: at most one matches. */
    for (size_t n = 1; n <= 3 && phone[n] != '\0'; n++) {
        char code[4];
        memcpy(code, phone + 1, n);
        code[n] = '\0';
        if (is_calling_code(code)) {
            calling[0] = '+';
            memcpy(calling + 1, code, n + 1);
            memcpy(national, phone + 1 + n, strlen(phone + 1 + n) + 1);
            return 0;
        }
    }
    memcpy(national, phone, strlen(phone) + 1);
    return 0;
}
