/* mapper_decode_webhook: raw body bytes -> JSON -> the source's decoder.
 * Integers are parsed as json_int_t (long long): a bigint beyond 2^53 keeps
 * every digit (no JSON_DECODE_INT_AS_REAL). Duplicate keys are refused:
 * a signed body must mean one thing. */
#include "mappers/mapper_internal.h"

int mapper_decode_webhook(const struct mapping *m, enum relay_source source, const char *body,
                          size_t len, struct relay_event **out, struct relay_error *err)
{
    json_error_t jerr;
    *out = NULL;
    if (source != RELAY_SOURCE_TWENTY && source != RELAY_SOURCE_SUPABASE) {
        return relay_error_set(err, RELAY_EINVAL, "%s sends no webhooks",
                               relay_source_name(source));
    }
    const char *name = relay_source_name(source);
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        return relay_error_set(err, RELAY_EINVAL, "body is not JSON: %s at line %d column %d",
                               jerr.text, jerr.line, jerr.column);
    }
    int rc;
    if (!json_is_object(doc)) {
        rc = relay_error_set(err, RELAY_EINVAL, "%s: body must be a JSON object", name);
    } else if (source == RELAY_SOURCE_TWENTY) {
        rc = mapper_decode_twenty(m, doc, out, err);
    } else {
        rc = mapper_decode_supabase(m, doc, out, err);
    }
    json_decref(doc);
    return rc;
}
