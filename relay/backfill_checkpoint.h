/* Where a running push stands, kept in Redis so that an interrupted push
 * continues where it stopped: the hash P:push:SOURCE holds
 *   cursor     the reader's cursor after the last finished page
 *   since      the --since of the run ("" for none)
 *   read queued unchanged stale failed   the counters so far
 *   started_at updated_at                canonical timestamps
 * It is written after every page and deleted when the push completes.
 * Operators may inspect it with redis-cli HGETALL or delete it to restart.
 * One handle per thread (it owns a hiredis connection). */
#ifndef RELAY_RELAY_BACKFILL_CHECKPOINT_H
#define RELAY_RELAY_BACKFILL_CHECKPOINT_H

#include "relay/error.h"

#include <stdbool.h>

struct backfill_counts {
    unsigned long long read;      /* contacts read and mapped */
    unsigned long long queued;    /* accepted by the arbiter, queued to sinks */
    unsigned long long unchanged; /* every field already known (echo or duplicate) */
    unsigned long long stale;     /* every field older than the known one */
    unsigned long long failed;    /* unreadable record or rejected event */
};

struct backfill_checkpoint_state {
    char *cursor;     /* owned; "" at the start */
    char *since;      /* owned; "" for none */
    char *started_at; /* owned */
    struct backfill_counts counts;
};

void backfill_checkpoint_state_fini(struct backfill_checkpoint_state *s);

struct backfill_checkpoint;

/* url: redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N].
 * The key is PREFIX:push:SOURCE. Connects at once. NULL + err
 * (RELAY_ECONFIG bad URL, RELAY_EIO unreachable). */
struct backfill_checkpoint *backfill_checkpoint_open(const char *url, const char *prefix,
                                                     const char *source, unsigned timeout_ms,
                                                     struct relay_error *err);
void backfill_checkpoint_close(struct backfill_checkpoint *cp); /* NULL is a no-op */

/* The key's name (borrowed, valid until close). */
const char *backfill_checkpoint_key(const struct backfill_checkpoint *cp);

/* *found false (and out zeroed) when there is none. */
int backfill_checkpoint_load(struct backfill_checkpoint *cp, struct backfill_checkpoint_state *out,
                             bool *found, struct relay_error *err) RELAY_MUST_CHECK;

/* Writes every member of s (one HSET). */
int backfill_checkpoint_save(struct backfill_checkpoint *cp,
                             const struct backfill_checkpoint_state *s,
                             struct relay_error *err) RELAY_MUST_CHECK;

/* Deletes the key. */
int backfill_checkpoint_clear(struct backfill_checkpoint *cp,
                              struct relay_error *err) RELAY_MUST_CHECK;

#endif
