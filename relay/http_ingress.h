/* The webhook route: content type, size limit, body, authentication,
 * mapping, arbiter + enqueue (one queue_accept), answer and log line.
 * Sits between civetweb (http_server.c) and the queue.
 *
 * struct http_ingress is shared read-only by every civetweb thread; a
 * struct http_ingress_thread is one civetweb thread's own state (its Redis
 * connection for readyz and link lookups, and scratch buffers, on the
 * heap: civetweb threads have small stacks). */
#ifndef RELAY_RELAY_HTTP_INGRESS_H
#define RELAY_RELAY_HTTP_INGRESS_H

#include "relay/buf.h"
#include "relay/error.h"
#include "relay/event.h"

#include <stddef.h>

struct mg_connection;
struct mapping;
struct queue;
struct queue_accept_call;
struct queue_conf;
struct queue_group;
struct webhook_auth;

struct http_ingress {
    const struct mapping *mapping;   /* borrowed */
    const struct webhook_auth *auth; /* borrowed */
    const struct queue_conf *qconf;  /* borrowed */
    struct queue_group *group;       /* borrowed: runs every accept script */
    unsigned enabled_mask;           /* RELAY_SINK_BIT of every configured sink */
    size_t body_limit_bytes;
};

struct http_ingress_thread {
    struct queue *queue;                     /* owned; opened on first use (readyz, links) */
    struct queue_accept_call *call;          /* owned; this thread's accept buffers */
    struct relay_buf body;                   /* the request body being handled */
    struct relay_buf out;                    /* the answer being written */
    char (*digests)[RELAY_EVENT_ID_LEN + 1]; /* owned, digest_cap entries */
    const char **digest_ptrs;                /* owned, into digests */
    size_t digest_cap;
};

/* Allocates a thread's state; its own Redis handle is opened on first use.
 * NULL on ENOMEM. */
struct http_ingress_thread *http_ingress_thread_create(void);
void http_ingress_thread_destroy(struct http_ingress_thread *t); /* NULL is a no-op */

/* The thread's queue handle, connecting first when needed; NULL + err
 * (RELAY_EIO) when Redis cannot be reached. */
struct queue *http_ingress_queue_get(const struct http_ingress *ing, struct http_ingress_thread *t,
                                     struct relay_error *err);

/* Handles one POST to a webhook route of source. Returns the HTTP status
 * sent (civetweb's "request handled" value). Thread-safe given per-thread t. */
int http_ingress_handle(struct mg_connection *conn, const struct http_ingress *ing,
                        struct http_ingress_thread *t, enum relay_source source);

#endif
