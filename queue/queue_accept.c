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
 * The work is split in two halves around the round trip: prepare builds
 * the keys and arguments and formats the EVALSHA command into a reusable
 * struct queue_accept_call (its buffers hold the envelope, then each
 * field's stored value "<version> <digest>", built here so the script
 * builds no strings); finish reads the answer. queue_accept runs the two
 * on one handle; the group commit thread (queue_group.c) sends many
 * callers' prepared commands in one round trip. */
#include "queue/queue_internal.h"
#include "relay/mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define QUEUE_DEFAULT_DEDUPE_TTL_S 86400u
#define QUEUE_DIGEST_LEN 16
#define QUEUE_CHANGED_MAX 256

/* The record ids an accepted event links to its contact_id: P:xref:SYSTEM:ID
 * for the field's non-empty string value (contact.md, Identity). */
static const struct {
    enum relay_source system;
    const char *field;
} xref_ids[QUEUE_XREF_MAX] = {
    {RELAY_SOURCE_TWENTY, "twenty_id"},
    {RELAY_SOURCE_SUPABASE, "supabase_id"},
};

struct queue_accept_call *queue_accept_call_new(void)
{
    struct queue_accept_call *c = relay_calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    relay_buf_init(&c->scratch);
    if (sem_init(&c->done, 0, 0) != 0) {
        relay_free(c);
        return NULL;
    }
    return c;
}

void queue_accept_call_free(struct queue_accept_call *c)
{
    if (c == NULL) {
        return;
    }
    sem_destroy(&c->done);
    relay_buf_fini(&c->scratch);
    redisFreeCommand(c->cmd);
    relay_free(c->argv);
    relay_free(c->argvlen);
    relay_free(c);
}

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
    if (n > QUEUE_CHANGED_MAX) {
        return relay_error_set(err, RELAY_EINVAL, "accept: more than %d changed fields",
                               QUEUE_CHANGED_MAX);
    }
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

static int build_keys(struct queue_accept_call *c, const char *prefix, const struct relay_event *ev,
                      unsigned route_mask, struct relay_error *err)
{
    const char *delivery = ev->delivery[0] != '\0' ? ev->delivery : ev->id;
    if (queue_key(c->seen, sizeof(c->seen), prefix, "seen", relay_source_name(ev->source), delivery,
                  err) != 0 ||
        queue_key(c->contact, sizeof(c->contact), prefix, "contact", ev->contact_id, NULL, err) !=
            0 ||
        queue_key(c->stats, sizeof(c->stats), prefix, "stats", NULL, NULL, err) != 0) {
        return -1;
    }
    c->xref_count = 0;
    for (size_t i = 0; i < QUEUE_XREF_MAX; i++) {
        const char *id = json_string_value(json_object_get(ev->fields, xref_ids[i].field));
        if (id == NULL || id[0] == '\0') {
            continue;
        }
        if (queue_key(c->xref[c->xref_count], sizeof(c->xref[0]), prefix, "xref",
                      relay_source_name(xref_ids[i].system), id, err) != 0) {
            return -1;
        }
        c->xref_count++;
    }
    c->mask = 0;
    for (int s = 0; s < RELAY_SINK_COUNT; s++) {
        if ((route_mask & RELAY_SINK_BIT(s)) == 0) {
            continue;
        }
        if (queue_key(c->queue[s], sizeof(c->queue[s]), prefix, "q",
                      relay_sink_name((enum relay_sink)s), NULL, err) != 0) {
            return -1;
        }
        c->mask |= RELAY_SINK_BIT(s);
    }
    return 0;
}

/* Encodes ev without "changed" into c->scratch (see DESIGN). */
static int encode_envelope(struct queue_accept_call *c, const struct relay_event *ev,
                           struct relay_error *err)
{
    relay_buf_reset(&c->scratch);
    struct relay_event bare = *ev;
    bare.changed = NULL;
    if (relay_event_encode(&bare, &c->scratch, err) != 0) {
        return -1;
    }
    if (c->scratch.len < 2 || c->scratch.data[c->scratch.len - 1] != '}') {
        return relay_error_set(err, RELAY_EINVAL, "accept: envelope is not an object");
    }
    return 0;
}

/* True when name is a plain [A-Za-z0-9_] word: its JSON form is the name
 * in quotes, so the script needs no cjson for it. */
static bool is_plain_name(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_')) {
            return false;
        }
    }
    return true;
}

/* Appends "<version> <digest>" for every changed name to c->scratch, after
 * the envelope; each is `stride` bytes. */
static int append_values(struct queue_accept_call *c, const struct relay_event *ev,
                         const char *const *digests, size_t n, size_t *stride,
                         struct relay_error *err)
{
    size_t vlen = strlen(ev->version);
    *stride = vlen + 1 + QUEUE_DIGEST_LEN;
    for (size_t i = 0; i < n; i++) {
        if (relay_buf_append(&c->scratch, ev->version, vlen) != 0 ||
            relay_buf_append(&c->scratch, " ", 1) != 0 ||
            relay_buf_append(&c->scratch, digests[i], QUEUE_DIGEST_LEN) != 0) {
            return relay_error_set(err, RELAY_ENOMEM, "accept: out of memory");
        }
    }
    return 0;
}

/* Makes room for want arguments; the count is known before any is added. */
static int reserve_args(struct queue_accept_call *c, size_t want, struct relay_error *err)
{
    c->argc = 0;
    if (want <= c->argcap) {
        return 0;
    }
    const char **v = relay_realloc(c->argv, want * sizeof(*v));
    if (v != NULL) {
        c->argv = v;
    }
    size_t *l = v != NULL ? relay_realloc(c->argvlen, want * sizeof(*l)) : NULL;
    if (l == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "accept: out of memory");
    }
    c->argvlen = l;
    c->argcap = want;
    return 0;
}

static void add(struct queue_accept_call *c, const char *s, size_t len)
{
    c->argv[c->argc] = s;
    c->argvlen[c->argc] = len;
    c->argc++;
}

static void adds(struct queue_accept_call *c, const char *s)
{
    add(c, s, strlen(s));
}

/* EVALSHA, the script's KEYS and ARGV (see accept_lua). c->scratch holds
 * the envelope (env_len bytes, its closing brace left out of the argument),
 * then the stored values, so no pointer is taken before it stops growing. */
static int fill_args(struct queue_accept_call *c, const struct relay_event *ev,
                     const char *const *digests, struct relay_error *err)
{
    size_t env_len = c->scratch.len, stride = 0, n = json_array_size(ev->changed);
    size_t nkeys = 3 + c->xref_count + (size_t)__builtin_popcount(c->mask);
    if (append_values(c, ev, digests, n, &stride, err) != 0 ||
        reserve_args(c, 3 + nkeys + 8 + 2 * n, err) != 0) {
        return -1;
    }
    bool plain = true;
    for (size_t i = 0; i < n; i++) {
        json_t *name = json_array_get(ev->changed, i);
        plain = plain && is_plain_name(json_string_value(name), json_string_length(name));
    }
    static const char *const counts[QUEUE_XREF_MAX + 1] = {"0", "1", "2"};
    snprintf(c->numkeys, sizeof(c->numkeys), "%zu", nkeys);
    adds(c, "EVALSHA");
    add(c, queue_script_sha(QUEUE_SCRIPT_ACCEPT), 40);
    adds(c, c->numkeys);
    adds(c, c->seen);
    adds(c, c->contact);
    adds(c, c->stats);
    for (size_t i = 0; i < c->xref_count; i++) {
        adds(c, c->xref[i]);
    }
    for (int s = 0; s < RELAY_SINK_COUNT; s++) {
        if (c->mask & RELAY_SINK_BIT(s)) {
            adds(c, c->queue[s]);
        }
    }
    adds(c, c->ttl);
    adds(c, ev->version);
    adds(c, ev->op == RELAY_OP_UPSERT ? "0" : "1");
    adds(c, ev->id);
    add(c, c->scratch.data, env_len - 1);
    adds(c, plain ? "1" : "0");
    adds(c, counts[c->xref_count]);
    adds(c, ev->contact_id);
    for (size_t i = 0; i < n; i++) {
        json_t *name = json_array_get(ev->changed, i);
        add(c, json_string_value(name), json_string_length(name));
        add(c, c->scratch.data + env_len + i * stride, stride);
    }
    return 0;
}

int queue_accept_prepare(struct queue_accept_call *c, const struct queue *q,
                         const struct relay_event *ev, const char *const *digests,
                         unsigned route_mask, struct relay_error *err)
{
    if (check_event(ev, digests, err) != 0 || build_keys(c, q->prefix, ev, route_mask, err) != 0 ||
        encode_envelope(c, ev, err) != 0) {
        return -1;
    }
    snprintf(c->ttl, sizeof(c->ttl), "%u",
             q->dedupe_ttl_s ? q->dedupe_ttl_s : QUEUE_DEFAULT_DEDUPE_TTL_S);
    if (fill_args(c, ev, digests, err) != 0) {
        return -1;
    }
    redisFreeCommand(c->cmd);
    c->cmd = NULL;
    long long len = redisFormatCommandArgv(&c->cmd, (int)c->argc, c->argv, c->argvlen);
    if (len < 0) {
        c->cmd = NULL;
        return relay_error_set(err, RELAY_ENOMEM, "accept: out of memory");
    }
    c->cmd_len = (size_t)len;
    c->reply = NULL;
    c->next = NULL;
    return 0;
}

/* One pipelined round trip of every call without a reply; *noscript is set
 * when some answered NOSCRIPT (they stay without a reply). */
static int pipeline(struct queue *q, struct queue_accept_call *calls, bool *noscript,
                    struct relay_error *err)
{
    if (queue_conn_ensure(q, err) != 0) {
        return -1;
    }
    for (struct queue_accept_call *c = calls; c != NULL; c = c->next) {
        if (c->reply == NULL &&
            redisAppendFormattedCommand(q->ctx, c->cmd, c->cmd_len) != REDIS_OK) {
            relay_error_set(err, RELAY_ENOMEM, "redis accept: out of memory");
            queue_conn_drop(q);
            return -1;
        }
    }
    for (struct queue_accept_call *c = calls; c != NULL; c = c->next) {
        redisReply *r = NULL;
        if (c->reply != NULL) {
            continue;
        }
        if (redisGetReply(q->ctx, (void **)&r) != REDIS_OK || r == NULL) {
            relay_error_set(err, RELAY_EIO, "redis accept: %s", q->ctx->errstr);
            queue_conn_drop(q);
            return -1;
        }
        if (queue_conn_is_noscript(r)) {
            freeReplyObject(r);
            *noscript = true;
        } else {
            c->reply = r;
        }
    }
    return 0;
}

int queue_accept_send(struct queue *q, struct queue_accept_call *calls, struct relay_error *err)
{
    for (int attempt = 0;; attempt++) {
        bool noscript = false;
        if (pipeline(q, calls, &noscript, err) != 0) {
            return -1;
        }
        if (!noscript) {
            return 0;
        }
        if (attempt == 1) {
            return relay_error_set(err, RELAY_EIO,
                                   "redis accept: the script is missing (NOSCRIPT)");
        }
        if (queue_conn_reload(q, QUEUE_SCRIPT_ACCEPT, err) != 0) {
            return -1;
        }
    }
}

/* Keeps only the changed names at the 1-based positions the script named. */
static int narrow_changed(struct relay_event *ev, const redisReply *r, struct relay_error *err)
{
    size_t n = json_array_size(ev->changed);
    unsigned char keep[QUEUE_CHANGED_MAX] = {0};
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

/* The verdict in r, the script's answer to c. */
static int read_answer(const struct queue_accept_call *c, struct relay_event *ev,
                       const redisReply *r, enum queue_verdict *verdict, unsigned *queued_mask,
                       struct relay_error *err)
{
    if (r->type == REDIS_REPLY_ERROR) {
        return relay_error_set(err, RELAY_EIO, "redis accept: %.160s", r->str);
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer < QUEUE_LUA_ACCEPTED ||
        r->element[0]->integer > QUEUE_LUA_STALE) {
        return relay_error_set(err, RELAY_EIO, "accept: unexpected script answer");
    }
    static const enum queue_verdict verdicts[] = {QUEUE_ACCEPTED, QUEUE_DUPLICATE, QUEUE_ECHO,
                                                  QUEUE_STALE};
    *verdict = verdicts[r->element[0]->integer];
    if (*verdict != QUEUE_ACCEPTED) {
        return 0;
    }
    /* The events are queued whatever happens below: report the mask. */
    *queued_mask = c->mask;
    return narrow_changed(ev, r, err);
}

int queue_accept_finish(struct queue_accept_call *c, struct relay_event *ev,
                        enum queue_verdict *verdict, unsigned *queued_mask, struct relay_error *err)
{
    *queued_mask = 0;
    int rc = read_answer(c, ev, c->reply, verdict, queued_mask, err);
    freeReplyObject(c->reply);
    c->reply = NULL;
    return rc;
}

int queue_accept(struct queue *q, struct relay_event *ev, const char *const *digests,
                 unsigned route_mask, enum queue_verdict *verdict, unsigned *queued_mask,
                 struct relay_error *err)
{
    *queued_mask = 0;
    if (q->accept == NULL && (q->accept = queue_accept_call_new()) == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "accept: out of memory");
    }
    struct queue_accept_call *c = q->accept;
    if (queue_accept_prepare(c, q, ev, digests, route_mask, err) != 0 ||
        queue_accept_send(q, c, err) != 0) {
        return -1;
    }
    return queue_accept_finish(c, ev, verdict, queued_mask, err);
}
