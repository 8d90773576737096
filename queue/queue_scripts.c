/* Lua sources of the queue's atomic moves. Each script's header says its
 * KEYS and ARGV; queue_redis.c, queue_accept.c and queue_admin.c build the
 * matching argument vectors. Keys are always passed in KEYS, never built in
 * Lua, so the scripts stay valid for a future Redis Cluster hash tag. */
#include "queue/queue_scripts.h"
#include "queue/queue.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The arbiter of contact.md plus dedupe, identity links, fan-out and
 * counters, as one atomic step. KEYS: 1 P:seen:SOURCE:DELIVERY,
 * 2 P:contact:ID, 3 P:stats, 4 .. 3+X P:xref:SYSTEM:ID for the event's
 * twenty_id and supabase_id (X = ARGV[7], 0 to 2), then P:q:SINK for each
 * routed sink. ARGV: 1 dedupe TTL (s), 2 version, 3 "1" when op is a
 * delete, 4 event id (value of P:seen), 5 the encoded envelope WITHOUT
 * "changed" and without its closing '}', 6 "1" when every changed name is
 * a plain [A-Za-z0-9_] word (its JSON form is the name in quotes; else
 * cjson encodes it), 7 X, 8 the contact id (value of the P:xref keys),
 * 9.. name, "<version> <digest>" pairs in ev->changed order (the pair's
 * value is what P:contact stores). Only an accepted event sets its links
 * (a duplicate, echo or stale one leaves P:xref as it was). Answer:
 * {verdict} or {0, i...} with the 1-based positions of the accepted names.
 * Versions are canonical timestamps, so string order is time order.
 * created_at and deleted_at are instants that are set once: a set value
 * stands against another non-null one, whatever its version (the create
 * echoed by Twenty carries Twenty's own createdAt, a soft delete echoed
 * carries Twenty's own deletedAt); only null <-> set is a change of them.
 * QUEUE_NULL_DIGEST is the digest of null, so the script knows a null.
 * Cost (the ingest hot path, ~25 names): one HMGET for all the stored
 * values, one HSET, and no string built per name. */
static const char accept_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  redis.call('HINCRBY', KEYS[3], 'duplicate', 1)\n"
    "  return {1}\n"
    "end\n"
    "local NULL = '" QUEUE_NULL_DIGEST "'\n"
    "local instant = {created_at = true, deleted_at = true}\n"
    "local version, is_delete, plain = ARGV[2], ARGV[3] == '1', ARGV[6] == '1'\n"
    "local names, n = {}, 0\n"
    "for i = 9, #ARGV, 2 do\n"
    "  n = n + 1\n"
    "  names[n] = ARGV[i]\n"
    "end\n"
    "local cur = n > 0 and redis.call('HMGET', KEYS[2], unpack(names)) or {}\n"
    "local ok, echo, ride, any = {}, false, nil, false\n"
    "for j = 1, n do\n"
    "  local name, c = names[j], cur[j]\n"
    "  if name == 'updated_at' then\n"
    "    ride = j\n"
    "  else\n"
    "    local take = true\n"
    "    local sp = c and string.find(c, ' ', 1, true)\n"
    "    if sp then\n"
    "      local sv, sd = string.sub(c, 1, sp - 1), string.sub(c, sp + 1)\n"
    "      local d = string.sub(ARGV[8 + 2 * j], #version + 2)\n"
    "      if sv > version then take = false\n"
    "      elseif sd == d or (instant[name] and sd ~= NULL and d ~= NULL) then\n"
    "        take = false; echo = true\n"
    "      elseif sv == version and not (is_delete and name == 'deleted_at') then\n"
    "        take = false\n"
    "      end\n"
    "    end\n"
    "    if take then ok[j] = true; any = true end\n"
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
    "local out, quoted, hset = {0}, {}, {}\n"
    "for j = 1, n do\n"
    "  if ok[j] then\n"
    "    local name = names[j]\n"
    "    out[#out + 1] = j\n"
    "    quoted[#quoted + 1] = plain and name or cjson.encode(name)\n"
    "    local c = j == ride and cur[j]\n"
    "    if not c or string.sub(c, 1, #version) <= version then\n"
    "      hset[#hset + 1] = name\n"
    "      hset[#hset + 1] = ARGV[8 + 2 * j]\n"
    "    end\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[2], unpack(hset))\n"
    "local q = plain and '\"' or ''\n"
    "local list = table.concat(quoted, q .. ',' .. q)\n"
    "local env = ARGV[5] .. ',\"changed\":[' .. q .. list .. q .. ']}'\n"
    "local x = tonumber(ARGV[7])\n"
    "for k = 4, 3 + x do\n"
    "  redis.call('SET', KEYS[k], ARGV[8])\n"
    "end\n"
    "for k = 4 + x, #KEYS do\n"
    "  redis.call('LPUSH', KEYS[k], env)\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[3], 'accepted', 1)\n"
    "return out\n";

/* KEYS: 1 P:q:SINK, 2 P:inflight:SINK:CONSUMER. ARGV: 1 max. Answer: the
 * moved elements, oldest first. */
static const char take_lua[] =
    "local out = {}\n"
    "for i = 1, tonumber(ARGV[1]) do\n"
    "  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')\n"
    "  if not v then break end\n"
    "  out[#out + 1] = v\n"
    "end\n"
    "return out\n";

/* KEYS: 1 inflight, 2 P:stats. ARGV: 1 counter (delivered:SINK), 2.. the
 * settled elements. When they are the whole in-flight list, one DEL; else
 * one LREM each. Answer: how many were removed. */
static const char ack_lua[] =
    "local n, done = #ARGV - 1, 0\n"
    "if redis.call('LLEN', KEYS[1]) == n then\n"
    "  local want, same = {}, true\n"
    "  for i = 2, #ARGV do want[ARGV[i]] = (want[ARGV[i]] or 0) + 1 end\n"
    "  for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do\n"
    "    local c = want[v]\n"
    "    if not c or c == 0 then same = false; break end\n"
    "    want[v] = c - 1\n"
    "  end\n"
    "  if same then redis.call('DEL', KEYS[1]); done = n end\n"
    "end\n"
    "if done == 0 then\n"
    "  for i = 2, #ARGV do done = done + redis.call('LREM', KEYS[1], 1, ARGV[i]) end\n"
    "end\n"
    "if done > 0 then redis.call('HINCRBY', KEYS[2], ARGV[1], done) end\n"
    "return done\n";

/* KEYS: 1 inflight, 2 P:stats. ARGV: 1 counter (delivered:SINK), 2 count.
 * Answer: 1 deleted, 0 the list does not hold exactly count elements
 * (then nothing changed and the caller acknowledges with ack). */
static const char ack_all_lua[] =
    "if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[2]) then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])\n"
    "return 1\n";

/* KEYS: 1 inflight, 2 P:retry:SINK, 3 P:stats. ARGV: 1 raw, 2 updated,
 * 3 due (Unix ms), 4 counter (retried:SINK). Answer: 1 moved, 0 not in flight. */
static const char retry_lua[] =
    "if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[3], ARGV[4], 1)\n"
    "return 1\n";

/* KEYS: 1 inflight, 2 P:dead:SINK, 3 P:stats. ARGV: 1 raw, 2 updated,
 * 3 cap (0: none), 4 counter dead:SINK, 5 counter dead_dropped:SINK.
 * Answer: {moved, dropped}. */
static const char dead_lua[] =
    "if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return {0, 0} end\n"
    "redis.call('LPUSH', KEYS[2], ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[3], ARGV[4], 1)\n"
    "local cap, dropped = tonumber(ARGV[3]), 0\n"
    "if cap > 0 then\n"
    "  local len = redis.call('LLEN', KEYS[2])\n"
    "  if len > cap then\n"
    "    redis.call('LTRIM', KEYS[2], 0, cap - 1)\n"
    "    dropped = len - cap\n"
    "    redis.call('HINCRBY', KEYS[3], ARGV[5], dropped)\n"
    "  end\n"
    "end\n"
    "return {1, dropped}\n";

/* KEYS: 1 P:retry:SINK, 2 P:q:SINK. ARGV: 1 now (Unix ms), 2 max. Due
 * retries go to the consumer end, earliest due rightmost (taken first).
 * Answer: how many moved. */
static const char promote_lua[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "for i = #due, 1, -1 do\n"
    "  redis.call('ZREM', KEYS[1], due[i])\n"
    "  redis.call('RPUSH', KEYS[2], due[i])\n"
    "end\n"
    "return #due\n";

/* KEYS: 1 inflight, 2 P:consumer:CONSUMER, 3 P:q:SINK. Moves the whole
 * in-flight list back to the consumer end of the queue unless the consumer
 * has a heartbeat. The list's left end is the newest taken, so pushing
 * left to right with RPUSH leaves the oldest rightmost (taken first).
 * Answer: how many moved. */
static const char recover_lua[] =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end\n"
    "local items = redis.call('LRANGE', KEYS[1], 0, -1)\n"
    "for i = 1, #items, 1000 do\n"
    "  redis.call('RPUSH', KEYS[3], unpack(items, i, math.min(i + 999, #items)))\n"
    "end\n"
    "if #items > 0 then redis.call('DEL', KEYS[1]) end\n"
    "return #items\n";

/* KEYS: 1 P:dead:SINK, 2 P:q:SINK, 3 P:stats. ARGV: 1 raw dead letter,
 * 2 the replayed envelope, 3 counter (replayed:SINK). Answer: 1 moved,
 * 0 gone (another replay or purge took it). LREM from the tail: replay
 * walks oldest first, so an identical copy nearer the head stays put. */
static const char replay_lua[] =
    "if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end\n"
    "redis.call('LPUSH', KEYS[2], ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[3], ARGV[3], 1)\n"
    "return 1\n";

static const char *const sources[QUEUE_SCRIPT_COUNT] = {
    accept_lua, take_lua,    ack_lua,     ack_all_lua, retry_lua,
    dead_lua,   promote_lua, recover_lua, replay_lua,
};

static const char *const names[QUEUE_SCRIPT_COUNT] = {
    "accept", "take", "ack", "ack_all", "retry", "dead", "promote", "recover", "replay",
};

const char *queue_script_source(enum queue_script s)
{
    return (unsigned)s < QUEUE_SCRIPT_COUNT ? sources[s] : "";
}

const char *queue_script_name(enum queue_script s)
{
    return (unsigned)s < QUEUE_SCRIPT_COUNT ? names[s] : "unknown";
}

static char shas[QUEUE_SCRIPT_COUNT][41];

/* SHA-1 of every source, as Redis names a loaded script. */
static void compute_shas(void)
{
    for (int s = 0; s < QUEUE_SCRIPT_COUNT; s++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (EVP_Digest(sources[s], strlen(sources[s]), md, &len, EVP_sha1(), NULL) != 1 ||
            len != 20) {
            continue; /* left empty: SCRIPT LOAD's answer then fails every connection, naming s */
        }
        for (unsigned i = 0; i < len; i++) {
            snprintf(shas[s] + 2 * i, 3, "%02x", md[i]);
        }
    }
}

const char *queue_script_sha(enum queue_script s)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, compute_shas);
    return (unsigned)s < QUEUE_SCRIPT_COUNT ? shas[s] : "";
}
