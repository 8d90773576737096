/* Shared inside queue/ only: the handle's fields, the connection helpers
 * (queue_conn.c) and the reusable argument vector. Other folders include
 * queue/queue.h, never this file. */
#ifndef RELAY_QUEUE_QUEUE_INTERNAL_H
#define RELAY_QUEUE_QUEUE_INTERNAL_H

#include "queue/queue.h"
#include "queue/queue_keys.h"
#include "queue/queue_scripts.h"

#include <hiredis.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>

/* A parsed Redis URL; strings owned by the struct (queue_url_fini). */
struct queue_url {
    char *host;      /* NULL for a Unix socket */
    int port;        /* default 6379 */
    char *unix_path; /* NULL for TCP */
    char *username;  /* NULL: AUTH password only */
    char *password;  /* NULL: no AUTH */
    int db;          /* SELECT when non-zero */
};

/* redis://[:password@]host[:port][/db] or unix:///path[?db=N]. RELAY_ECONFIG
 * names what is wrong. Pure; out is reset first. */
int queue_url_parse(const char *url, struct queue_url *out, struct relay_error *err);
void queue_url_fini(struct queue_url *u);

/* Reconnect backoff: first retry after MIN, doubling up to MAX. */
#define QUEUE_BACKOFF_MIN_MS 50
#define QUEUE_BACKOFF_MAX_MS 2000

struct queue {
    struct queue_url url;
    char *prefix;
    unsigned timeout_ms;
    unsigned dedupe_ttl_s;
    redisContext *ctx;                    /* NULL while disconnected */
    int64_t next_connect_ms;              /* monotonic; no attempt before it */
    unsigned backoff_ms;                  /* 0 after a good connection */
    bool connected_once;                  /* a later connection counts as a reconnect */
    char last_error[RELAY_ERROR_MSG_MAX]; /* why the last connection attempt failed */
    const char **argv;                    /* scratch argument vector, grown once */
    size_t *argvlen;
    size_t argc;
    size_t argcap;
    struct relay_buf scratch; /* scratch bytes */
    struct queue_accept_call *accept; /* queue_accept's state, made on first use */
};

/* The record ids an accepted event links to its contact_id (P:xref). */
#define QUEUE_XREF_MAX 2

/* One accept script call: its keys, arguments and formatted command,
 * reused from call to call (queue_accept.c). The group commit thread
 * (queue_group.c) also carries the answer back in it. */
struct queue_accept_call {
    char seen[QUEUE_KEY_MAX];
    char contact[QUEUE_KEY_MAX];
    char stats[QUEUE_KEY_MAX];
    char xref[QUEUE_XREF_MAX][QUEUE_KEY_MAX];
    size_t xref_count; /* the first xref_count entries are set */
    char queue[RELAY_SINK_COUNT][QUEUE_KEY_MAX];
    unsigned mask; /* the sinks with a queue key */
    char ttl[24];
    char numkeys[24];
    const char **argv; /* argcap entries */
    size_t *argvlen;
    size_t argc;
    size_t argcap;
    struct relay_buf scratch; /* the envelope, then the stored values */
    char *cmd;                /* the EVALSHA command in RESP (hiredis-formatted) */
    size_t cmd_len;
    redisReply *reply;              /* the answer; NULL until it came */
    struct queue_accept_call *next; /* the next call of a batch */
    /* queue_group.c */
    struct relay_error err; /* why no reply came */
    sem_t done;             /* posted when reply or err is set */
};

/* queue_accept in three steps. prepare checks ev and formats the command
 * into c with q's prefix and dedupe TTL (fixed at queue_open, so any
 * thread may read them). send writes every call of the list calls (linked
 * by next) that has no reply yet in one go, connecting first when needed,
 * and reads their replies in order; a NOSCRIPT answer loads the script and
 * sends those calls once more. 0 when every call has its reply, else -1
 * with err (RELAY_EIO; the context is dropped when the connection broke).
 * finish reads and frees c->reply (an error reply is RELAY_EIO). Same
 * contract as queue_accept. */
int queue_accept_prepare(struct queue_accept_call *c, const struct queue *q,
                         const struct relay_event *ev, const char *const *digests,
                         unsigned route_mask, struct relay_error *err);
int queue_accept_send(struct queue *q, struct queue_accept_call *calls, struct relay_error *err);
int queue_accept_finish(struct queue_accept_call *c, struct relay_event *ev,
                        enum queue_verdict *verdict, unsigned *queued_mask,
                        struct relay_error *err);

int64_t queue_mono_ms(void);
int64_t queue_wall_ms(void);

/* The scratch argument vector: reset, then add. Pointers are borrowed and
 * must stay valid until the command ran. */
void queue_args_reset(struct queue *q);
int queue_args_add(struct queue *q, const char *s, size_t len, struct relay_error *err);
int queue_args_adds(struct queue *q, const char *s, struct relay_error *err);

/* Connects when needed (respecting the backoff). 0 or -1 with RELAY_EIO. */
int queue_conn_ensure(struct queue *q, struct relay_error *err);

/* After a slow failure: no new connection for one backoff step, so the
 * calls meanwhile fail at once with why (then the usual backoff). */
void queue_conn_hold(struct queue *q, const char *why);

/* Runs the command in the scratch argument vector. Returns the reply (the
 * caller frees it with freeReplyObject) or NULL with err: RELAY_EIO when
 * the connection broke (the context is dropped and reopened by a later
 * call) or Redis answered an error reply. */
redisReply *queue_conn_run(struct queue *q, struct relay_error *err);

/* The one-key commands ("CMD key", or "CMD" when key is NULL), run as
 * queue_conn_run; _done frees the reply: 0, or -1 with err. */
redisReply *queue_run_key(struct queue *q, const char *cmd, const char *key,
                          struct relay_error *err);
int queue_run_key_done(struct queue *q, const char *cmd, const char *key, struct relay_error *err);

/* Runs script s with EVALSHA; the scratch vector holds KEYS then ARGV
 * (nkeys of them are keys). Reloads the script on NOSCRIPT. Same result
 * as queue_conn_run. */
redisReply *queue_conn_script(struct queue *q, enum queue_script s, size_t nkeys,
                              struct relay_error *err);

/* True when r is Redis's NOSCRIPT error (the script cache lost s). */
bool queue_conn_is_noscript(const redisReply *r);

/* SCRIPT LOAD of s on the live connection; 0, or -1 with RELAY_EIO (the
 * context is dropped when the connection broke). */
int queue_conn_reload(struct queue *q, enum queue_script s, struct relay_error *err);

/* Frees a broken context (hiredis cannot reuse one with err set); the
 * next call reconnects. */
void queue_conn_drop(struct queue *q);

/* Same as queue_conn_run with a socket timeout of extra_ms more than
 * usual for this one command (blocking commands). */
redisReply *queue_conn_run_blocking(struct queue *q, unsigned extra_ms, struct relay_error *err);

/* Appends a copy of every string element of r (an array) to b. */
int queue_batch_append_reply(struct queue_batch *b, const redisReply *r, struct relay_error *err);

/* Canonical timestamp -> Unix ms; -1 when ts is not one. */
int64_t queue_ts_to_ms(const char *ts, size_t len);

#endif
