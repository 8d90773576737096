/* Emails: trimmed, the domain (after the last '@') lower-cased in ASCII,
 * empties dropped, duplicates removed keeping the first. The local part is
 * kept byte for byte (it may be case-sensitive and may be UTF-8, RFC 6531).
 * No further validation: an address is whatever the source's user typed.
 * Pure functions; thread-safe. */
#include "mappers/transform.h"
#include "mappers/transform_internal.h"
#include "relay/mem.h"

#include <string.h>

void transform_email_clean(const char *in, size_t len, char *out, size_t *out_len)
{
    size_t start = 0;
    while (start < len && transform_is_ascii_space(in[start])) {
        start++;
    }
    while (len > start && transform_is_ascii_space(in[len - 1])) {
        len--;
    }
    size_t n = len - start;
    memcpy(out, in + start, n);
    char *at = NULL;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '@') {
            at = out + i;
        }
    }
    for (char *p = at != NULL ? at + 1 : out + n; p < out + n; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    out[n] = '\0';
    *out_len = n;
}

/* Normalises one list element and adds it to u. */
static int add_email(struct transform_uniq *u, const json_t *item, struct relay_error *err)
{
    if (transform_expect_text(item, err) != 0) {
        return -1;
    }
    size_t len = json_string_length(item);
    char *buf = relay_malloc(len + 1);
    if (buf == NULL) {
        return transform_oom(err);
    }
    size_t n = 0;
    transform_email_clean(json_string_value(item), len, buf, &n);
    int rc = transform_uniq_add(u, buf, n, err);
    relay_free(buf);
    return rc;
}

json_t *transform_email_list(const json_t *in, struct relay_error *err)
{
    return transform_uniq_list(in, "emails", add_email, err);
}
