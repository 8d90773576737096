/* One push of one source (backfill_push.c): read the system page by page,
 * turn every contact into an upsert event from that source, and hand it to
 * the arbiter and queues (queue_accept) routed to every other enabled
 * sink; the checkpoint (backfill_checkpoint.h) is saved after every page
 * and deleted at the end. */
#ifndef RELAY_RELAY_BACKFILL_PUSH_H
#define RELAY_RELAY_BACKFILL_PUSH_H

#include "relay/backfill_checkpoint.h"
#include "relay/error.h"
#include "relay/event.h"

#include <signal.h>
#include <stdbool.h>

struct relay_config;
struct mapping;

struct backfill_push_opts {
    enum relay_source source;
    const char *contact_id; /* only this contact (no checkpoint); NULL: all */
    const char *since;      /* canonical timestamp or NULL */
    unsigned page_size;     /* 0: default */
    bool is_dry_run;        /* read and map only: nothing queued, no checkpoint */
    bool should_restart;    /* drop an existing checkpoint first */
    bool show_progress;
    bool is_tty; /* progress as a redrawn bar */
};

#define BACKFILL_PUSH_DONE 0
#define BACKFILL_PUSH_STOPPED 1 /* *stop was set: stopped after a page, checkpoint saved */

/* Runs the push. stop is polled after every page. *counts gets the totals
 * of the push (a resumed push includes the earlier runs). Returns
 * BACKFILL_PUSH_DONE, BACKFILL_PUSH_STOPPED or -1 with err (RELAY_EINVAL:
 * bad options or a checkpoint of another --since; RELAY_ENOTFOUND: the
 * contact of contact_id is not in the source; else the reader's or
 * Redis's error; the checkpoint of the last finished page stays). */
int backfill_push_run(const struct relay_config *conf, const struct mapping *m,
                      const struct backfill_push_opts *o, const volatile sig_atomic_t *stop,
                      struct backfill_counts *counts, struct relay_error *err);

#endif
