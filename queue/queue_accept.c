/* queue_accept: dedupe, arbiter, identity links, fan-out and counters in
 * ONE atomic script (the accept script in queue_scripts.c), in one round
 * trip.
 *
 * DESIGN: the queued event must carry changed = the accepted fields only,
 * but which fields win is known only inside the script. Rather than
 * decode and re-encode the whole envelope in Lua (cjson would re-order keys
 * and re-format numbers, so the bytes would differ from relay_event_encode),
 * C encodes the envelope once WITHOUT "changed" (jansson keeps insertion
 * order and relay_event_encode skips a NULL changed), and the script splices
 * `,"changed":[...]` in front of its closing brace. Only the field names
 * pass through cjson.encode, and canonical names are plain [a-z0-9_] words,
 * so the result is relay_event_encode's output for the narrowed event with
 * "changed" moved to the end: relay_event_decode reads back the same event
 * (test_queue checks decode + encode round-trips to the same bytes). The
 * script answers the positions of the accepted names, and C narrows
 * ev->changed in place from them, so the caller sees what was queued.
 *
 * Identity links ride along: an accepted event sets P:xref:twenty:<twenty_id>
 * and P:xref:supabase:<supabase_id> (from ev->fields, when non-empty
 * strings) to its contact_id in the same script, so a link never exists
 * without the accepted event that made it. queue_xref.c reads them back.
 *
 * Per call the only allocations are hiredis's reply and jansson's dump of
 * the envelope; keys live on the stack, arguments in the handle's scratch
 * vector and buffer (the envelope, then each field's stored value
 * "<version> <digest>", built here so the script builds no strings). */
#include "queue/queue_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define QUEUE_DEFAULT_DEDUPE_TTL_S 86400u
#define QUEUE_DIGEST_LEN 16

/* The record ids an accepted event links to its contact_id: P:xref:SYSTEM:ID
 * for the field's non-empty string value (contact.md, Identity). */
static const struct {
    enum relay_source system;
    const char *field;
} xref_ids[] = {
    {RELAY_SOURCE_TWENTY, "twenty_id"},
    {RELAY_SOURCE_SUPABASE, "supabase_id"},
};
#define XREF_MAX (sizeof(xref_ids) / sizeof(xref_ids[0]))

struct accept_keys {
    char seen[QUEUE_KEY_MAX];
    char contact[QUEUE_KEY_MAX];
    char stats[QUEUE_KEY_MAX];
    char xref[XREF_MAX][QUEUE_KEY_MAX];
    size_t xref_count; /* the first xref_count entries are set */
    char queue[RELAY_SINK_COUNT][QUEUE_KEY_MAX];
    unsigned mask; /* the sinks with a queue key */
};

static int check_event(const struct relay_event *ev, const char *const *digests,
                       struct relay_error *err)
{
    if (ev->contact_id == NULL || ev->contact_id[0] == '\0') {
        return relay_error_set(err, RELAY_EINVAL, "accept: event has no contact_id");
    }
    if (!json_is_array(ev->changed)) {
        return relay_error_set(err, RELAY_EINVAL, "accept: changed is not an array");
    }
    size_t n = json_array_size(ev->changed);
    if (n > 0 && digests == NULL) {
        return relay_error_set(err, RELAY_EINVAL, "accept: no digests");
    }
    for (size_t i = 0; i < n; i++) {
        if (!json_is_string(json_array_get(ev->changed, i))) {
            return relay_error_set(err, RELAY_EINVAL, "accept: changed[%zu] is not a string", i);
        }
        if (digests[i] == NULL || strlen(digests[i]) != QUEUE_DIGEST_LEN ||
            strchr(digests[i], ' ') != NULL) {
            return relay_error_set(err, RELAY_EINVAL, "accept: bad digest for changed[%zu]", i);
        }
    }
    return 0;
}

static int build_keys(const struct queue *q, const struct relay_event *ev, unsigned route_mask,
                      struct accept_keys *k, struct relay_error *err)
{
    const char *delivery = ev->delivery[0] != '\0' ? ev->delivery : ev->id;
    if (queue_key(k->seen, sizeof(k->seen), q->prefix, "seen", relay_source_name(ev->source),
                  delivery, err) != 0 ||
        queue_key(k->contact, sizeof(k->contact), q->prefix, "contact", ev->contact_id, NULL,
                  err) != 0 ||
        queue_key(k->stats, sizeof(k->stats), q->prefix, "stats", NULL, NULL, err) != 0) {
        return -1;
    }
    k->xref_count = 0;
    for (size_t i = 0; i < XREF_MAX; i++) {
        const char *id = json_string_value(json_object_get(ev->fields, xref_ids[i].field));
        if (id == NULL || id[0] == '\0') {
            continue;
        }
        if (queue_key(k->xref[k->xref_count], sizeof(k->xref[0]), q->prefix, "xref",
                      relay_source_name(xref_ids[i].system), id, err) != 0) {
            return -1;
        }
        k->xref_count++;
    }
    k->mask = 0;
    for (int s = 0; s < RELAY_SINK_COUNT; s++) {
        if ((route_mask & RELAY_SINK_BIT(s)) == 0) {
            continue;
        }
        if (queue_key(k->queue[s], sizeof(k->queue[s]), q->prefix, "q",
                      relay_sink_name((enum relay_sink)s), NULL, err) != 0) {
            return -1;
        }
        k->mask |= RELAY_SINK_BIT(s);
    }
    return 0;
}

/* Encodes ev without "changed" into q->scratch (see DESIGN). */
static int encode_envelope(struct queue *q, struct relay_event *ev, struct relay_error *err)
{
    relay_buf_reset(&q->scratch);
    json_t *changed = ev->changed;
    ev->changed = NULL;
    int rc = relay_event_encode(ev, &q->scratch, err);
    ev->changed = changed;
    if (rc != 0) {
        return -1;
    }
    if (q->scratch.len < 2 || q->scratch.data[q->scratch.len - 1] != '}') {
        return relay_error_set(err, RELAY_EINVAL, "accept: envelope is not an object");
    }
    return 0;
}

/* True when name is a plain [A-Za-z0-9_] word: its JSON form is the name
 * in quotes, so the script needs no cjson for it. */
static bool is_plain_name(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return false;
        }
    }
    return true;
}

/* Appends "<version> <digest>" for every changed name to q->scratch, after
 * the envelope; each is `stride` bytes. */
static int append_values(struct queue *q, const struct relay_event *ev,
                         const char *const *digests, size_t n, size_t *stride,
                         struct relay_error *err)
{
    size_t vlen = strlen(ev->version);
    *stride = vlen + 1 + QUEUE_DIGEST_LEN;
    for (size_t i = 0; i < n; i++) {
        if (relay_buf_append(&q->scratch, ev->version, vlen) != 0 ||
            relay_buf_append(&q->scratch, " ", 1) != 0 ||
            relay_buf_append(&q->scratch, digests[i], QUEUE_DIGEST_LEN) != 0) {
            return relay_error_set(err, RELAY_ENOMEM, "accept: out of memory");
        }
    }
    return 0;
}

/* The script's KEYS and ARGV (see accept_lua). q->scratch holds the
 * envelope (env_len bytes, its closing brace left out of the argument),
 * then the stored values, so no pointer is taken before it stops growing. */
static int fill_args(struct queue *q, const struct relay_event *ev, const char *const *digests,
                     const struct accept_keys *k, const char *ttl, struct relay_error *err)
{
    size_t env_len = q->scratch.len, stride = 0, n = json_array_size(ev->changed);
    if (append_values(q, ev, digests, n, &stride, err) != 0) {
        return -1;
    }
    bool plain = true;
    for (size_t i = 0; i < n; i++) {
        json_t *name = json_array_get(ev->changed, i);
        plain = plain && is_plain_name(json_string_value(name), json_string_length(name));
    }
    static const char *const counts[XREF_MAX + 1] = {"0", "1", "2"};
    queue_args_reset(q);
    int bad = queue_args_adds(q, k->seen, err) | queue_args_adds(q, k->contact, err) |
              queue_args_adds(q, k->stats, err);
    for (size_t i = 0; i < k->xref_count; i++) {
        bad |= queue_args_adds(q, k->xref[i], err);
    }
    for (int s = 0; s < RELAY_SINK_COUNT; s++) {
        if (k->mask & RELAY_SINK_BIT(s)) {
            bad |= queue_args_adds(q, k->queue[s], err);
        }
    }
    bad |= queue_args_adds(q, ttl, err) | queue_args_adds(q, ev->version, err) |
           queue_args_adds(q, ev->op == RELAY_OP_UPSERT ? "0" : "1", err) |
           queue_args_adds(q, ev->id, err) | queue_args_add(q, q->scratch.data, env_len - 1, err) |
           queue_args_adds(q, plain ? "1" : "0", err) |
           queue_args_adds(q, counts[k->xref_count], err) | queue_args_adds(q, ev->contact_id, err);
    for (size_t i = 0; i < n && !bad; i++) {
        json_t *name = json_array_get(ev->changed, i);
        bad |= queue_args_add(q, json_string_value(name), json_string_length(name), err) |
               queue_args_add(q, q->scratch.data + env_len + i * stride, stride, err);
    }
    return bad ? -1 : 0;
}

/* Keeps only the changed names at the 1-based positions the script named. */
static int narrow_changed(struct relay_event *ev, const redisReply *r, struct relay_error *err)
{
    size_t n = json_array_size(ev->changed);
    unsigned char keep[256] = {0};
    if (n > sizeof(keep)) {
        return relay_error_set(err, RELAY_EINVAL, "accept: more than %zu changed fields",
                               sizeof(keep));
    }
    for (size_t i = 1; i < r->elements; i++) {
        long long pos = r->element[i]->integer;
        if (r->element[i]->type != REDIS_REPLY_INTEGER || pos < 1 || (size_t)pos > n) {
            return relay_error_set(err, RELAY_EIO, "accept: unexpected script answer");
        }
        keep[pos - 1] = 1;
    }
    for (size_t i = n; i-- > 0;) {
        if (!keep[i] && json_array_remove(ev->changed, i) != 0) {
            return relay_error_set(err, RELAY_ENOMEM, "accept: cannot narrow changed");
        }
    }
    return 0;
}

int queue_accept(struct queue *q, struct relay_event *ev, const char *const *digests,
                 unsigned route_mask, enum queue_verdict *verdict, unsigned *queued_mask,
                 struct relay_error *err)
{
    struct accept_keys k;
    char ttl[24];
    *queued_mask = 0;
    if (check_event(ev, digests, err) != 0 || build_keys(q, ev, route_mask, &k, err) != 0 ||
        encode_envelope(q, ev, err) != 0) {
        return -1;
    }
    if (json_array_size(ev->changed) > 256) {
        return relay_error_set(err, RELAY_EINVAL, "accept: more than 256 changed fields");
    }
    snprintf(ttl, sizeof(ttl), "%u",
             q->dedupe_ttl_s ? q->dedupe_ttl_s : QUEUE_DEFAULT_DEDUPE_TTL_S);
    if (fill_args(q, ev, digests, &k, ttl, err) != 0) {
        return -1;
    }
    size_t nkeys = 3 + k.xref_count + (size_t)__builtin_popcount(k.mask);
    redisReply *r = queue_conn_script(q, QUEUE_SCRIPT_ACCEPT, nkeys, err);
    if (r == NULL) {
        return -1;
    }
    int rc = -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer < QUEUE_LUA_ACCEPTED ||
        r->element[0]->integer > QUEUE_LUA_STALE) {
        relay_error_set(err, RELAY_EIO, "accept: unexpected script answer");
        goto out;
    }
    static const enum queue_verdict verdicts[] = {QUEUE_ACCEPTED, QUEUE_DUPLICATE, QUEUE_ECHO,
                                                  QUEUE_STALE};
    *verdict = verdicts[r->element[0]->integer];
    if (*verdict == QUEUE_ACCEPTED) {
        /* The events are queued whatever happens below: report the mask. */
        *queued_mask = k.mask;
        if (narrow_changed(ev, r, err) != 0) {
            goto out;
        }
    }
    rc = 0;
out:
    freeReplyObject(r);
    return rc;
}
