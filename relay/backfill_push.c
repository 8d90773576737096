/* One push of one source (backfill_push.h). The order of work per page is
 * what makes a push resumable without loss or doubling: every contact of
 * the page goes through queue_accept first, then the checkpoint moves past
 * the page. A crash between the two repeats that page on resume, and the
 * repeated events carry the same ids (source, record, op, version), so the
 * arbiter's dedupe answers "duplicate" and nothing is queued twice. */
#define LOG_COMPONENT "push"
#include "relay/backfill_push.h"
#include "queue/queue.h"
#include "relay/backfill_event.h"
#include "relay/backfill_reader.h"
#include "relay/config.h"
#include "relay/http_server.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "relay/progress.h"

#include <stdio.h>
#include <string.h>

struct push_run {
    const struct relay_config *conf;
    const struct mapping *m;
    const struct backfill_push_opts *o;
    struct backfill_reader *reader;
    struct queue *queue;            /* NULL on a dry run */
    struct backfill_checkpoint *cp; /* NULL on a dry run or for one contact */
    struct backfill_checkpoint_state state;
    struct progress *progress; /* NULL when not shown */
    unsigned route;
    char (*digests)[RELAY_EVENT_ID_LEN + 1]; /* scratch, grown once */
    const char **digest_ptrs;                /* digest_ptrs[i] = digests[i] */
    size_t digest_cap;
};

static int ensure_digests(struct push_run *run, size_t n, struct relay_error *err)
{
    if (n <= run->digest_cap) {
        return 0;
    }
    relay_free(run->digests);
    relay_free(run->digest_ptrs);
    run->digests = relay_calloc(n, sizeof(*run->digests));
    run->digest_ptrs = relay_calloc(n, sizeof(*run->digest_ptrs));
    run->digest_cap = run->digests != NULL && run->digest_ptrs != NULL ? n : 0;
    for (size_t i = 0; i < run->digest_cap; i++) {
        run->digest_ptrs[i] = run->digests[i];
    }
    return run->digest_cap > 0 ? 0 : relay_error_set(err, RELAY_ENOMEM, "out of memory");
}

/* A record that had no contact_id takes the contact its id is linked to
 * (queue_xref_resolve: one GET, retried once like queue_accept below). */
static int resolve_contact(struct push_run *run, struct relay_event *ev, struct relay_error *err)
{
    int rc = -1;
    for (int attempt = 0; attempt < 2 && rc != 0; attempt++) {
        rc = queue_xref_resolve(run->queue, ev, err);
        if (rc != 0 && err->code != RELAY_EIO) {
            break;
        }
    }
    return rc;
}

/* queue_accept, retried once at once when the connection had broken (the
 * handle reconnects; the script is atomic and dedupes, so a retry of a
 * call that did run answers duplicate). The identity link is resolved
 * first: it may change fields.contact_id, so it comes before the digests. */
static int accept_event(struct push_run *run, struct relay_event *ev, enum queue_verdict *verdict,
                        struct relay_error *err)
{
    if (ev->is_contact_id_derived && resolve_contact(run, ev, err) != 0) {
        return -1;
    }
    size_t n = json_array_size(ev->changed);
    if (ensure_digests(run, n > 0 ? n : 1, err) != 0) {
        return -1;
    }
    backfill_event_digests(ev, run->digests);
    unsigned queued = 0;
    int rc = -1;
    for (int attempt = 0; attempt < 2 && rc != 0; attempt++) {
        rc = queue_accept(run->queue, ev, run->digest_ptrs, run->route, verdict, &queued, err);
        if (rc != 0 && err->code != RELAY_EIO) {
            break;
        }
    }
    return rc;
}

static void warn_quarantined(const struct relay_event *ev)
{
    const char *name;
    json_t *reason;
    json_object_foreach(ev->quarantined, name, reason)
    {
        log_warn("contact=%s field=%s not mappable, left out: %s", ev->contact_id, name,
                 json_string_value(reason) != NULL ? json_string_value(reason) : "?");
    }
}

/* One contact through the arbiter; counts it. -1 only when the push must
 * stop (Redis unreachable, out of memory). */
static int push_contact(struct push_run *run, const struct backfill_contact *c,
                        struct relay_error *err)
{
    struct backfill_counts *n = &run->state.counts;
    struct relay_event *ev = backfill_event_from_contact(run->m, run->o->source, c, err);
    if (ev == NULL) {
        if (err->code != RELAY_EINVAL) {
            return -1;
        }
        n->failed++;
        log_warn("record skipped: %s", err->msg);
        return 0;
    }
    warn_quarantined(ev);
    int rc = 0;
    enum queue_verdict verdict = QUEUE_ACCEPTED;
    if (run->queue == NULL) {
        goto out; /* dry run */
    }
    if (accept_event(run, ev, &verdict, err) != 0) {
        if (err->code == RELAY_EINVAL) {
            n->failed++;
            log_warn("contact=%s rejected: %s", ev->contact_id, err->msg);
        } else {
            rc = -1;
        }
        goto out;
    }
    if (verdict == QUEUE_ACCEPTED) {
        n->queued++;
    } else if (verdict == QUEUE_STALE) {
        n->stale++;
    } else {
        n->unchanged++;
    }
out:
    relay_event_destroy(ev);
    return rc;
}

static int push_page(struct push_run *run, const struct backfill_page *page,
                     struct relay_error *err)
{
    for (size_t i = 0; i < page->count; i++) {
        if (push_contact(run, &page->items[i], err) != 0) {
            return -1;
        }
    }
    if (page->failed > 0) {
        log_warn("%s: %zu record(s) without contact_id skipped",
                 backfill_system_label(run->o->source), page->failed);
    }
    run->state.counts.read += page->count + page->failed;
    run->state.counts.failed += page->failed;
    return 0;
}

static int push_single(struct push_run *run, struct relay_error *err)
{
    json_t *fields = NULL;
    if (backfill_reader_get(run->reader, run->o->contact_id, &fields, err) != 0) {
        return -1;
    }
    if (fields == NULL) {
        return relay_error_set(err, RELAY_ENOTFOUND, "contact %s is not in %s", run->o->contact_id,
                               backfill_system_label(run->o->source));
    }
    struct backfill_page page;
    backfill_page_init(&page);
    struct backfill_contact c = {.fields = fields};
    page.items = &c;
    page.count = 1;
    int rc = push_page(run, &page, err);
    json_decref(fields);
    return rc;
}

/* Loads the checkpoint unless restarting; refuses one of another --since. */
static int resume_or_start(struct push_run *run, struct relay_error *err)
{
    bool found = false;
    const char *since = run->o->since != NULL ? run->o->since : "";
    if (run->o->should_restart && backfill_checkpoint_clear(run->cp, err) != 0) {
        return -1;
    }
    if (backfill_checkpoint_load(run->cp, &run->state, &found, err) != 0) {
        return -1;
    }
    if (found && strcmp(run->state.since != NULL ? run->state.since : "", since) != 0) {
        return relay_error_set(err, RELAY_EINVAL,
                               "an interrupted push of %s with --since '%s' is pending (%s); "
                               "run it again with the same --since, or use --restart",
                               backfill_system_label(run->o->source), run->state.since,
                               backfill_checkpoint_key(run->cp));
    }
    if (found) {
        fprintf(stderr, "push %s: resuming after %s (%llu contacts read before)\n",
                backfill_system_label(run->o->source), run->state.cursor, run->state.counts.read);
        return 0;
    }
    backfill_checkpoint_state_fini(&run->state);
    char now[RELAY_TS_LEN + 1];
    relay_now_ts(now);
    run->state.cursor = relay_strdup("");
    run->state.since = relay_strdup(since);
    run->state.started_at = relay_strdup(now);
    if (run->state.cursor == NULL || run->state.since == NULL || run->state.started_at == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    return 0;
}

static int move_cursor(struct push_run *run, const struct backfill_page *page,
                       struct relay_error *err)
{
    if (page->next_cursor == NULL) {
        return 0;
    }
    char *copy = relay_strdup(page->next_cursor);
    if (copy == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    relay_free(run->state.cursor);
    run->state.cursor = copy;
    return 0;
}

static int push_all(struct push_run *run, const volatile sig_atomic_t *stop,
                    struct relay_error *err)
{
    struct backfill_page page;
    backfill_page_init(&page);
    int rc = -1;
    if (run->progress != NULL) {
        long long left = backfill_reader_remaining(run->reader, run->state.cursor);
        progress_set_total(run->progress, left < 0 ? -1 : left + (long long)run->state.counts.read,
                           run->state.counts.read);
    }
    for (;;) {
        if (backfill_reader_next(run->reader, run->state.cursor, &page, err) != 0 ||
            push_page(run, &page, err) != 0 || move_cursor(run, &page, err) != 0) {
            goto out;
        }
        if (run->cp != NULL && backfill_checkpoint_save(run->cp, &run->state, err) != 0) {
            goto out;
        }
        if (run->progress != NULL) {
            progress_update(run->progress, run->state.counts.read);
        }
        if (page.is_last) {
            break;
        }
        if (*stop) {
            rc = BACKFILL_PUSH_STOPPED;
            goto out;
        }
    }
    if (run->cp != NULL && backfill_checkpoint_clear(run->cp, err) != 0) {
        goto out;
    }
    rc = BACKFILL_PUSH_DONE;
out:
    if (run->progress != NULL) {
        progress_finish(run->progress, run->state.counts.read);
    }
    backfill_page_fini(&page);
    return rc;
}

static int open_run(struct push_run *run, struct relay_error *err)
{
    const struct relay_config *conf = run->conf;
    const char *source = relay_source_name(run->o->source);
    run->route = relay_route(run->o->source, http_server_enabled_sinks(conf));
    run->reader = backfill_reader_open(run->o->source, conf, run->m, err);
    if (run->reader == NULL) {
        return -1;
    }
    backfill_reader_set_page_size(run->reader, run->o->page_size);
    if (backfill_reader_set_since(run->reader, run->o->since, err) != 0) {
        return -1;
    }
    if (run->o->is_dry_run) {
        return 0;
    }
    struct queue_conf qconf = {.url = conf->redis.url,
                               .prefix = conf->redis.prefix,
                               .timeout_ms = conf->redis.timeout_ms,
                               .dedupe_ttl_s = conf->redis.dedupe_ttl_s};
    run->queue = queue_open(&qconf, err);
    if (run->queue == NULL) {
        return -1;
    }
    if (run->o->contact_id == NULL) {
        run->cp = backfill_checkpoint_open(conf->redis.url, conf->redis.prefix, source,
                                           conf->redis.timeout_ms, err);
        if (run->cp == NULL) {
            return -1;
        }
    }
    return 0;
}

int backfill_push_run(const struct relay_config *conf, const struct mapping *m,
                      const struct backfill_push_opts *o, const volatile sig_atomic_t *stop,
                      struct backfill_counts *counts, struct relay_error *err)
{
    struct push_run run = {.conf = conf, .m = m, .o = o};
    int rc = -1;
    if (open_run(&run, err) != 0) {
        goto out;
    }
    if (o->contact_id != NULL) {
        rc = push_single(&run, err) == 0 ? BACKFILL_PUSH_DONE : -1;
        goto out;
    }
    if (run.cp != NULL && resume_or_start(&run, err) != 0) {
        goto out;
    }
    if (o->show_progress) {
        run.progress = progress_create(stderr, backfill_system_label(o->source), o->is_tty);
    }
    rc = push_all(&run, stop, err);
out:
    *counts = run.state.counts;
    progress_destroy(run.progress);
    backfill_checkpoint_state_fini(&run.state);
    backfill_checkpoint_close(run.cp);
    queue_close(run.queue);
    backfill_reader_close(run.reader);
    relay_free(run.digests);
    relay_free(run.digest_ptrs);
    return rc;
}
