/* The pure half of twenty_client.h: building filters and URL parts, and
 * reading Twenty's answers: classifying a status (with the older 400
 * "rate limit" wording), taking `data.<key>` out of a body, and making a
 * PATCH body's composites whole. Twenty's answers look like
 * {"data":{"createPerson":{...}}}, {"data":{"people":[...]},"totalCount":N,
 * "pageInfo":{...}}, and errors {"statusCode":..,"error":..,"messages":[..]}.
 * No I/O; thread-safe. The requests themselves are in twenty_requests.c. */
#include "workers/sinks/twenty_client.h"
#include "workers/sinks/http_client.h"

#include <ctype.h>
#include <string.h>

int twenty_url_escape(struct relay_buf *out, const char *s)
{
    return http_client_escape(out, s);
}

int twenty_filter_eq(struct relay_buf *out, const char *field, const char *value,
                     bool is_deleted, struct relay_error *err)
{
    /* Twenty's filter grammar has no escape for a quote inside a value. */
    if (strpbrk(value, "\"\\") != NULL) {
        return relay_error_set(err, RELAY_EINVAL, "twenty: %s holds a quote or backslash",
                               field);
    }
    if (relay_buf_printf(out, "%s[eq]:\"%s\"", field, value) != 0 ||
        (is_deleted && relay_buf_appends(out, ",deletedAt[is]:NOT_NULL") != 0)) {
        return relay_error_set(err, RELAY_ENOMEM, "twenty: out of memory");
    }
    return 0;
}

/* True when an error answer says "rate limit" in any of the ways Twenty
 * servers have worded it (older servers answer 400 instead of 429). */
static bool mentions_rate_limit(const char *body, size_t len)
{
    static const char *const words[] = {"rate limit", "too many requests", "limit reached",
                                        "throttl", NULL};
    if (body == NULL) {
        return false;
    }
    char low[1024];
    size_t n = len < sizeof(low) - 1 ? len : sizeof(low) - 1;
    for (size_t i = 0; i < n; i++) {
        low[i] = (char)tolower((unsigned char)body[i]);
    }
    low[n] = '\0';
    for (size_t i = 0; words[i] != NULL; i++) {
        if (strstr(low, words[i]) != NULL) {
            return true;
        }
    }
    return false;
}

/* Twenty's `error` name from an error body ("BadRequestException"), or "". */
static void error_name(const char *body, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    json_t *root = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
    const char *name = json_string_value(json_object_get(root, "error"));
    if (name != NULL) {
        size_t i = 0;
        for (; name[i] != '\0' && i + 1 < cap; i++) {
            out[i] = isprint((unsigned char)name[i]) ? name[i] : '?';
        }
        out[i] = '\0';
    }
    json_decref(root);
}

int twenty_classify(long status, const char *body, size_t len, const char *what,
                    struct relay_error *err)
{
    if (status >= 200 && status < 300) {
        return 0;
    }
    char name[64];
    error_name(body, len, name, sizeof(name));
    enum relay_error_code code = RELAY_EINVAL;
    if (status == 429 || status >= 500 || status == 408 ||
        (status == 400 && mentions_rate_limit(body, len))) {
        code = RELAY_EIO;
    } else if (status == 401 || status == 403) {
        code = RELAY_ECONFIG;
    } else if (status == 404) {
        code = RELAY_ENOTFOUND;
    }
    return relay_error_set(err, code, "twenty %s: HTTP %ld%s%s%s", what, status,
                           code == RELAY_EIO && status == 400 ? " (rate limited)" : "",
                           name[0] != '\0' ? " " : "", name);
}

json_t *twenty_answer_data(const char *body, size_t len, const char *key,
                           struct relay_error *err)
{
    json_t *root = json_loadb(body != NULL ? body : "", len, 0, NULL);
    json_t *value = json_object_get(json_object_get(root, "data"), key);
    if (value == NULL) {
        json_decref(root);
        relay_error_set(err, RELAY_EIO, "twenty: answer has no data.%s", key);
        return NULL;
    }
    json_incref(value);
    json_decref(root);
    return value;
}

/* The countryCode Twenty held for calling code `calling` (additional phones
 * first matched on number too), or NULL. */
static json_t *country_for(const json_t *old_phones, const char *calling, const char *number)
{
    const json_t *extra = json_object_get(old_phones, "additionalPhones");
    size_t i;
    const json_t *p;
    json_t *by_code = NULL;
    json_array_foreach(extra, i, p)
    {
        const char *cc = json_string_value(json_object_get(p, "callingCode"));
        const char *num = json_string_value(json_object_get(p, "number"));
        if (cc == NULL || strcmp(cc, calling) != 0) {
            continue;
        }
        if (number != NULL && num != NULL && strcmp(num, number) == 0) {
            return json_object_get(p, "countryCode");
        }
        if (by_code == NULL) {
            by_code = json_object_get(p, "countryCode");
        }
    }
    const char *pcc = json_string_value(json_object_get(old_phones, "primaryPhoneCallingCode"));
    if (by_code == NULL && pcc != NULL && strcmp(pcc, calling) == 0) {
        by_code = json_object_get(old_phones, "primaryPhoneCountryCode");
    }
    return by_code;
}

static void merge_phones(json_t *phones, const json_t *old)
{
    if (!json_is_object(phones) || !json_is_object(old)) {
        return;
    }
    const char *calling = json_string_value(json_object_get(phones, "primaryPhoneCallingCode"));
    const char *old_calling = json_string_value(json_object_get(old, "primaryPhoneCallingCode"));
    json_t *old_country = json_object_get(old, "primaryPhoneCountryCode");
    if (json_object_get(phones, "primaryPhoneCountryCode") == NULL && calling != NULL &&
        old_calling != NULL && strcmp(calling, old_calling) == 0 && old_country != NULL) {
        json_object_set(phones, "primaryPhoneCountryCode", old_country);
    }
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(phones, "additionalPhones"), i, p)
    {
        const char *cc = json_string_value(json_object_get(p, "callingCode"));
        if (json_object_get(p, "countryCode") != NULL || cc == NULL) {
            continue;
        }
        json_t *country =
            country_for(old, cc, json_string_value(json_object_get(p, "number")));
        if (country != NULL) {
            json_object_set(p, "countryCode", country);
        }
    }
}

void twenty_merge_composites(json_t *body, const json_t *record)
{
    json_t *name = json_object_get(body, "name");
    const json_t *old_name = json_object_get(record, "name");
    if (json_is_object(name) && json_is_object(old_name)) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)old_name, key, value)
        {
            if (json_object_get(name, key) == NULL) {
                json_object_set(name, key, value);
            }
        }
    }
    merge_phones(json_object_get(body, "phones"), json_object_get(record, "phones"));
}
