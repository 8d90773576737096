/* Twenty's EMAILS composite {primaryEmail, additionalEmails[]} <-> the
 * canonical email list (primary first). An empty primaryEmail with
 * additional emails makes the first additional one the primary, which
 * falls out of dropping empties. Pure functions; thread-safe. */
#include "mappers/transform.h"
#include "mappers/transform_internal.h"

/* [primaryEmail, ...additionalEmails] before normalisation. */
static json_t *gather_emails(const json_t *composite, struct relay_error *err)
{
    json_t *primary = json_object_get(composite, "primaryEmail");
    json_t *additional = json_object_get(composite, "additionalEmails");
    if (primary != NULL && !json_is_null(primary) && !json_is_string(primary)) {
        relay_error_set(err, RELAY_EINVAL, "primaryEmail: expected text, got %s",
                        transform_type_name(primary));
        return NULL;
    }
    if (additional != NULL && !json_is_null(additional) && !json_is_array(additional)) {
        relay_error_set(err, RELAY_EINVAL, "additionalEmails: expected a list, got %s",
                        transform_type_name(additional));
        return NULL;
    }
    json_t *all = json_array();
    if (all == NULL) {
        transform_oom(err);
        return NULL;
    }
    if ((json_is_string(primary) && json_array_append(all, primary) != 0) ||
        (json_is_array(additional) && json_array_extend(all, additional) != 0)) {
        json_decref(all);
        transform_oom(err);
        return NULL;
    }
    return all;
}

json_t *transform_twenty_emails_in(const json_t *composite, struct relay_error *err)
{
    if (json_is_null(composite)) {
        return json_array();
    }
    if (!json_is_object(composite)) {
        relay_error_set(err, RELAY_EINVAL, "expected an emails object, got %s",
                        transform_type_name(composite));
        return NULL;
    }
    json_t *all = gather_emails(composite, err);
    if (all == NULL) {
        return NULL;
    }
    json_t *list = transform_email_list(all, err);
    json_decref(all);
    return list;
}

/* {"primaryEmail": first or "", "additionalEmails": [rest]}; NULL on ENOMEM. */
static json_t *build_emails_object(const json_t *clean)
{
    json_t *first = json_array_get(clean, 0);
    json_t *obj = json_object();
    json_t *additional = json_array();
    json_t *res = NULL;
    if (obj == NULL || additional == NULL ||
        json_object_set_new(obj, "primaryEmail",
                            first != NULL ? json_incref(first) : json_string("")) != 0) {
        goto out;
    }
    for (size_t i = 1; i < json_array_size(clean); i++) {
        if (json_array_append(additional, json_array_get(clean, i)) != 0) {
            goto out;
        }
    }
    if (json_object_set(obj, "additionalEmails", additional) != 0) {
        goto out;
    }
    res = obj;
    obj = NULL;
out:
    json_decref(obj);
    json_decref(additional);
    return res;
}

json_t *transform_twenty_emails_out(const json_t *list, struct relay_error *err)
{
    json_t *clean = transform_email_list(list, err);
    if (clean == NULL) {
        return NULL;
    }
    json_t *res = build_emails_object(clean);
    if (res == NULL) {
        transform_oom(err);
    }
    json_decref(clean);
    return res;
}
