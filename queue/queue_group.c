/* Group commit for the accept script (see queue.h).
 *
 * DESIGN: every webhook needs one EVALSHA of the accept script. With a
 * connection per HTTP thread, each costs Redis a read, a write and an
 * event-loop turn (and an AOF write) of its own. Here callers prepare
 * their command on their own thread (queue_accept_prepare: keys, envelope,
 * RESP) and queue it; one thread takes every queued call, writes them all
 * in one go, reads the answers in order and posts each caller's
 * semaphore. While a batch is in flight the next one gathers, so the
 * batch grows with the load and an idle relay still answers in one round
 * trip. Redis runs the scripts one after another, each atomic, exactly as
 * if they had come one per connection.
 *
 * Failures: when the connection breaks, every call of the batch without
 * an answer fails with RELAY_EIO (Redis discards the unread commands of a
 * closed connection, and a script it did run is found by the caller's
 * next try as a duplicate). A break that came quickly (an idle connection
 * Redis closed on restart) is retried once on a new connection, as
 * queue_accept's callers do; a slow one (the timeout) is not, and the
 * calls that queued up behind it fail at once (the handle holds off
 * reconnecting for the first backoff step), so no call waits much more
 * than one redis.timeout_ms.
 * NOSCRIPT (the script cache was flushed) loads the script and sends
 * those calls once more (queue_accept_send, which queue_accept uses too). */
#include "queue/queue_internal.h"
#include "relay/mem.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

struct queue_group {
    struct queue *q; /* the group's thread's; callers read only its prefix and TTL */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct queue_accept_call *head; /* queued calls, oldest first */
    struct queue_accept_call **tail;
    bool stopping;
};

/* Runs one batch: every call ends with a reply or an err. */
static void run_batch(struct queue_group *g, struct queue_accept_call *batch)
{
    struct relay_error err = {0};
    unsigned quick_ms = g->q->timeout_ms / 4;
    for (int attempt = 0; attempt < 2; attempt++) {
        int64_t start = queue_mono_ms();
        if (queue_accept_send(g->q, batch, &err) == 0) {
            return;
        }
        if (err.code != RELAY_EIO) {
            break;
        }
        if (queue_mono_ms() - start > (int64_t)quick_ms) {
            /* The calls queued meanwhile have waited this long already:
             * they fail at once rather than wait a new connection too. */
            queue_conn_hold(g->q, err.msg);
            break;
        }
    }
    for (struct queue_accept_call *c = batch; c != NULL; c = c->next) {
        if (c->reply == NULL) {
            c->err = err;
        }
    }
}

static void *group_main(void *arg)
{
    struct queue_group *g = arg;
    pthread_mutex_lock(&g->lock);
    for (;;) {
        while (g->head == NULL && !g->stopping) {
            pthread_cond_wait(&g->work, &g->lock);
        }
        if (g->head == NULL) {
            break;
        }
        struct queue_accept_call *batch = g->head;
        g->head = NULL;
        g->tail = &g->head;
        pthread_mutex_unlock(&g->lock);
        run_batch(g, batch);
        while (batch != NULL) {
            struct queue_accept_call *next = batch->next; /* posted calls are the caller's again */
            sem_post(&batch->done);
            batch = next;
        }
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

struct queue_group *queue_group_start(const struct queue_conf *conf, struct relay_error *err)
{
    struct queue_group *g = relay_calloc(1, sizeof(*g));
    if (g == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "queue: out of memory");
        return NULL;
    }
    g->q = queue_open(conf, err);
    if (g->q == NULL) {
        relay_free(g);
        return NULL;
    }
    g->tail = &g->head;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->work, NULL);
    int rc = pthread_create(&g->thread, NULL, group_main, g);
    if (rc != 0) {
        relay_error_set(err, RELAY_EIO, "queue: cannot start the enqueue thread: %s", strerror(rc));
        pthread_cond_destroy(&g->work);
        pthread_mutex_destroy(&g->lock);
        queue_close(g->q);
        relay_free(g);
        return NULL;
    }
    return g;
}

void queue_group_stop(struct queue_group *g)
{
    if (g == NULL) {
        return;
    }
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_cond_signal(&g->work);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->work);
    pthread_mutex_destroy(&g->lock);
    queue_close(g->q);
    relay_free(g);
}

int queue_group_accept(struct queue_group *g, struct queue_accept_call *c, struct relay_event *ev,
                       const char *const *digests, unsigned route_mask, enum queue_verdict *verdict,
                       unsigned *queued_mask, struct relay_error *err)
{
    *queued_mask = 0;
    if (queue_accept_prepare(c, g->q, ev, digests, route_mask, err) != 0) {
        return -1;
    }
    c->err = (struct relay_error){0};
    pthread_mutex_lock(&g->lock);
    *g->tail = c;
    g->tail = &c->next;
    pthread_cond_signal(&g->work);
    pthread_mutex_unlock(&g->lock);
    while (sem_wait(&c->done) != 0 && errno == EINTR) {
    }
    if (c->reply == NULL) {
        if (err != NULL) {
            *err = c->err;
        }
        return -1;
    }
    return queue_accept_finish(c, ev, verdict, queued_mask, err);
}
