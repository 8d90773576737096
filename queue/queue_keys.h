/* Key naming of shared/spec/queue.md: P:q:SINK, P:inflight:SINK:CONSUMER,
 * P:retry:SINK, P:dead:SINK, P:consumer:CONSUMER, P:seen:SOURCE:DELIVERY,
 * P:contact:ID, P:stats. Pure functions; thread-safe. */
#ifndef RELAY_QUEUE_QUEUE_KEYS_H
#define RELAY_QUEUE_QUEUE_KEYS_H

#include "relay/error.h"

#include <stddef.h>

#define QUEUE_KEY_MAX 512

/* Writes "prefix:kind[:a[:b]]" (a, b may be NULL) into out[cap].
 * -1 with RELAY_EINVAL when it does not fit or a part is empty. */
int queue_key(char *out, size_t cap, const char *prefix, const char *kind, const char *a,
              const char *b, struct relay_error *err) RELAY_MUST_CHECK;

/* Writes prefix with the glob characters *?[]\ escaped, for SCAN MATCH.
 * -1 when it does not fit. */
int queue_key_glob_escape(char *out, size_t cap, const char *prefix) RELAY_MUST_CHECK;

/* Splits "prefix:inflight:SINK:CONSUMER" (len bytes) into sink and
 * consumer (CONSUMER may itself hold ':'). 0, or -1 when key is not one. */
int queue_key_parse_inflight(const char *prefix, const char *key, size_t len, char *sink,
                             size_t sink_cap, char *consumer, size_t consumer_cap);

#endif
