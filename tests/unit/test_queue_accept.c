/* The accept script was rewritten for speed (one HMGET, stored values
 * built in C, no cjson for plain names). Its arbiter must not drift from
 * the plain one: this test runs the PREVIOUS script (kept below, with the
 * later set-once rule for created_at and deleted_at added) and queue_accept
 * side by side on the same random event sequences, under two key
 * prefixes, and compares every verdict, every narrowed changed list, the
 * P:contact hashes, the queued envelopes and the counters. Sequences mix
 * contacts, version ties, repeated values (echo), older versions (stale),
 * deletes, duplicate deliveries, updated_at riding along, no changed
 * fields at all and names that are not plain words (cjson path). */
#include "test_queue_util.h"

#include <stdbool.h>

static const char old_accept_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  redis.call('HINCRBY', KEYS[3], 'duplicate', 1)\n"
    "  return {1}\n"
    "end\n"
    "local version, is_delete = ARGV[2], ARGV[3] == '1'\n"
    "local ok, echo, ride, any, n = {}, false, nil, false, 0\n"
    "for i = 6, #ARGV, 2 do\n"
    "  n = n + 1\n"
    "  local name, digest = ARGV[i], ARGV[i + 1]\n"
    "  if name == 'updated_at' then\n"
    "    ride = n\n"
    "  else\n"
    "    local take = true\n"
    "    local cur = redis.call('HGET', KEYS[2], name)\n"
    "    local sp = cur and string.find(cur, ' ', 1, true)\n"
    "    if sp then\n"
    "      local sv, sd = string.sub(cur, 1, sp - 1), string.sub(cur, sp + 1)\n"
    "      local instant = name == 'created_at' or name == 'deleted_at'\n"
    "      if sv > version then take = false\n"
    "      elseif sd == digest then take = false; echo = true\n"
    "      elseif instant and sd ~= '" QUEUE_NULL_DIGEST "' and digest ~= '" QUEUE_NULL_DIGEST
    "' then\n"
    "        take = false; echo = true\n"
    "      elseif sv == version and not (is_delete and name == 'deleted_at') then\n"
    "        take = false\n"
    "      end\n"
    "    end\n"
    "    if take then ok[n] = true; any = true end\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[1])\n"
    "if not any then\n"
    "  redis.call('HINCRBY', KEYS[3], echo and 'echo' or 'stale', 1)\n"
    "  return {echo and 2 or 3}\n"
    "end\n"
    "if ride then\n"
    "  ok[ride] = true\n"
    "end\n"
    "local out, names, hset = {0}, {}, {}\n"
    "for j = 1, n do\n"
    "  if ok[j] then\n"
    "    local name = ARGV[4 + 2 * j]\n"
    "    out[#out + 1] = j\n"
    "    names[#names + 1] = cjson.encode(name)\n"
    "    local keep = true\n"
    "    if j == ride then\n"
    "      local cur = redis.call('HGET', KEYS[2], name)\n"
    "      keep = not cur or string.sub(cur, 1, #version) <= version\n"
    "    end\n"
    "    if keep then\n"
    "      hset[#hset + 1] = name\n"
    "      hset[#hset + 1] = version .. ' ' .. ARGV[5 + 2 * j]\n"
    "    end\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[2], unpack(hset))\n"
    "local env = string.sub(ARGV[5], 1, -2) .. ',\"changed\":[' .. table.concat(names, ',') .. "
    "']}'\n"
    "for k = 4, #KEYS do\n"
    "  redis.call('LPUSH', KEYS[k], env)\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[3], 'accepted', 1)\n"
    "return out\n";

#define MAX_ARGS 64
#define MASK (RELAY_SINK_BIT(RELAY_SINK_POSTGRES) | RELAY_SINK_BIT(RELAY_SINK_SQLITE))

/* Runs the old script under prefix for ev (all sinks but Twenty). Returns
 * the verdict; *answer gets the script's array as text "0,1,3". */
static int old_accept(struct tq *t, const char *prefix, const struct relay_event *ev,
                      char digests[][17], char *answer, size_t cap)
{
    char keys[6][128];
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    size_t argc = 0;
    snprintf(keys[0], 128, "%s:seen:%s:%s", prefix, relay_source_name(ev->source), ev->delivery);
    snprintf(keys[1], 128, "%s:contact:%s", prefix, ev->contact_id);
    snprintf(keys[2], 128, "%s:stats", prefix);
    snprintf(keys[3], 128, "%s:q:postgres", prefix);
    snprintf(keys[4], 128, "%s:q:sqlite", prefix);
    argv[argc++] = "EVAL";
    argv[argc++] = old_accept_lua;
    argv[argc++] = "5";
    for (int i = 0; i < 5; i++) {
        argv[argc++] = keys[i];
    }
    struct relay_event copy = *ev;
    copy.changed = NULL;
    struct relay_buf env;
    struct relay_error err = {0};
    relay_buf_init(&env);
    assert_int_equal(relay_event_encode(&copy, &env, &err), 0);
    argv[argc++] = "600";
    argv[argc++] = ev->version;
    argv[argc++] = ev->op == RELAY_OP_UPSERT ? "0" : "1";
    argv[argc++] = ev->id;
    for (size_t i = 0; i < argc; i++) {
        lens[i] = strlen(argv[i]);
    }
    argv[argc] = env.data;
    lens[argc++] = env.len;
    for (size_t i = 0; i < json_array_size(ev->changed); i++) {
        argv[argc] = json_string_value(json_array_get(ev->changed, i));
        lens[argc] = strlen(argv[argc]);
        argc++;
        argv[argc] = digests[i];
        lens[argc++] = 16;
    }
    redisReply *r = redisCommandArgv(t->raw, (int)argc, argv, lens);
    relay_buf_fini(&env);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    size_t pos = 0;
    answer[0] = '\0';
    for (size_t i = 0; i < r->elements; i++) {
        pos += (size_t)snprintf(answer + pos, cap - pos, "%s%lld", i ? "," : "",
                                r->element[i]->integer);
    }
    int verdict = (int)r->element[0]->integer;
    freeReplyObject(r);
    return verdict;
}

static const char *const versions[] = {"2025-01-01T00:00:00.000000Z",
                                       "2025-01-01T00:00:01.000000Z",
                                       "2025-01-02T00:00:00.000000Z"};
static const char *const names[] = {"job_title", "nickname", "deleted_at", "updated_at",
                                    "created_at", "x-y", "a/b"};

static unsigned long rng = 7;

static unsigned rnd(unsigned n)
{
    rng = rng * 6364136223846793005ul + 1442695040888963407ul;
    return (unsigned)((rng >> 33) % n);
}

/* A random event; digests[i] for its changed[i]. plain_only leaves out
 * the names that are not plain words. */
static struct relay_event *random_event(int seq, bool plain_only, char digests[][17])
{
    struct relay_event *ev = relay_event_create();
    assert_non_null(ev);
    ev->source = RELAY_SOURCE_TWENTY;
    ev->op = rnd(6) == 0 ? RELAY_OP_DELETE : RELAY_OP_UPSERT;
    ev->contact_id = relay_strdup(rnd(2) ? "A" : "B");
    ev->record_id = relay_strdup(ev->contact_id);
    snprintf(ev->version, sizeof(ev->version), "%s", versions[rnd(3)]);
    snprintf(ev->received_at, sizeof(ev->received_at), "%s", ev->version);
    snprintf(ev->delivery, sizeof(ev->delivery), "d%u", rnd(4) == 0 ? rnd(8) : 100u + (unsigned)seq);
    relay_event_set_id(ev);
    size_t count = ev->op == RELAY_OP_DELETE ? 1 : rnd(plain_only ? 6 : 8);
    for (size_t i = 0; i < count; i++) {
        const char *name = ev->op == RELAY_OP_DELETE ? "deleted_at" : names[rnd(plain_only ? 5 : 7)];
        json_object_set_new(ev->fields, name, json_string(ev->version));
        json_array_append_new(ev->changed, json_string(name));
        if (rnd(3) == 0) {
            snprintf(digests[i], 17, "%s", QUEUE_NULL_DIGEST);
        } else {
            snprintf(digests[i], 17, "%015x%u", 0u, rnd(2));
        }
    }
    return ev;
}

static char *dump_reply(redisReply *r)
{
    json_t *a = json_array();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        json_array_append_new(a, json_stringn(r->element[i]->str, r->element[i]->len));
    }
    freeReplyObject(r);
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/* The same Redis state under both prefixes. */
static void compare_state(struct tq *t, const char *old_prefix)
{
    static const char *const lists[] = {"LRANGE %s:q:postgres 0 -1", "LRANGE %s:q:sqlite 0 -1"};
    static const char *const hashes[] = {"HGETALL %s:contact:A", "HGETALL %s:contact:B",
                                         "HGETALL %s:stats"};
    for (size_t i = 0; i < 5; i++) {
        const char *fmt = i < 2 ? lists[i] : hashes[i - 2];
        char *want = dump_reply(tq_cmd(t, fmt, old_prefix));
        char *got = dump_reply(tq_cmd(t, fmt, t->prefix));
        assert_string_equal(got, want);
        free(want);
        free(got);
    }
}

static void run_sequences(bool plain_only)
{
    struct tq *t = tq_open();
    char old_prefix[80];
    snprintf(old_prefix, sizeof(old_prefix), "%s-old", t->prefix);
    for (int seq = 0; seq < 400; seq++) {
        char digests[8][17];
        const char *ptrs[8];
        struct relay_event *ev = random_event(seq, plain_only, digests);
        for (int i = 0; i < 8; i++) {
            ptrs[i] = digests[i];
        }
        char want[64];
        int old_verdict = old_accept(t, old_prefix, ev, digests, want, sizeof(want));
        json_t *before = json_deep_copy(ev->changed);
        enum queue_verdict v;
        unsigned queued;
        struct relay_error err = {0};
        assert_int_equal(queue_accept(t->q, ev, ptrs, MASK, &v, &queued, &err), 0);
        static const int lua_of[] = {[QUEUE_ACCEPTED] = 0,
                                     [QUEUE_DUPLICATE] = 1,
                                     [QUEUE_ECHO] = 2,
                                     [QUEUE_STALE] = 3};
        assert_int_equal(lua_of[v], old_verdict);
        if (v == QUEUE_ACCEPTED) {
            /* The old answer's positions name the narrowed changed list. */
            json_t *expect = json_array();
            for (char *p = strchr(want, ','); p != NULL; p = strchr(p + 1, ',')) {
                long pos = strtol(p + 1, NULL, 10);
                json_array_append(expect, json_array_get(before, (size_t)pos - 1));
            }
            assert_true(json_equal(expect, ev->changed));
            json_decref(expect);
        }
        json_decref(before);
        relay_event_destroy(ev);
        if (seq % 50 == 49) {
            compare_state(t, old_prefix);
        }
    }
    compare_state(t, old_prefix);
    tq_close(t);
}

static void same_as_before_plain_names(void **state)
{
    (void)state;
    run_sequences(true);
}

static void same_as_before_any_names(void **state)
{
    (void)state;
    run_sequences(false);
}

/* No changed field: the seen key is set and the verdict is stale. */
static void nothing_changed_is_stale(void **state)
{
    (void)state;
    struct tq *t = tq_open();
    struct relay_event *ev = tq_event(RELAY_SOURCE_TWENTY, RELAY_OP_UPSERT, "E",
                                      "2025-01-01T00:00:00.000000Z", "e1", NULL);
    enum queue_verdict v;
    unsigned queued = 9;
    struct relay_error err = {0};
    assert_int_equal(tq_accept(t, ev, MASK, &v, &queued, &err), 0);
    assert_int_equal(v, QUEUE_STALE);
    assert_int_equal(queued, 0);
    assert_int_equal(tq_int(t, "EXISTS %s:seen:twenty:e1", t->prefix), 1);
    relay_event_destroy(ev);
    tq_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_as_before_plain_names),
        cmocka_unit_test(same_as_before_any_names),
        cmocka_unit_test(nothing_changed_is_stale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
