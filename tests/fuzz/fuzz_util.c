/* Shared helpers of the fuzz targets; see fuzz_util.h. */
#define _GNU_SOURCE /* memfd_create */
#include "tests/fuzz/fuzz_util.h"

#include "relay/buf.h"
#include "relay/log.h"
#include "relay/mem.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "FUZZ CHECK FAILED %s:%d: %s\n", file, line, what);
    abort();
}

static bool verbose;

void fuzz_note(const char *fmt, ...)
{
    if (!verbose) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void fuzz_setup(void)
{
    static bool done;
    if (done) {
        return;
    }
    done = true;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    relay_mem_init();
    /* Below LOG_ERROR: nothing is written. */
    atomic_store(&log_current_level, -1);
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = relay_malloc(size + 1);
    if (s != NULL) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

static bool same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

/* json_equal, with NULL equal only to NULL. */
static bool same_json(const json_t *a, const json_t *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return json_equal(a, b) != 0;
}

static void check_same_event(const struct relay_event *a, const struct relay_event *b)
{
    FUZZ_CHECK(strcmp(a->id, b->id) == 0, "round trip: id differs");
    FUZZ_CHECK(a->source == b->source, "round trip: source differs");
    FUZZ_CHECK(a->op == b->op, "round trip: op differs");
    FUZZ_CHECK(same_str(a->contact_id, b->contact_id), "round trip: contact_id differs");
    FUZZ_CHECK(same_str(a->record_id, b->record_id), "round trip: record_id differs");
    FUZZ_CHECK(strcmp(a->version, b->version) == 0, "round trip: version differs");
    FUZZ_CHECK(strcmp(a->received_at, b->received_at) == 0, "round trip: received_at differs");
    FUZZ_CHECK(same_json(a->fields, b->fields), "round trip: fields differ");
    FUZZ_CHECK(same_json(a->changed, b->changed), "round trip: changed differs");
    FUZZ_CHECK(same_json(a->extra, b->extra), "round trip: extra differs");
    FUZZ_CHECK(a->attempts == b->attempts, "round trip: attempts differs");
    FUZZ_CHECK(strcmp(a->first_error_at, b->first_error_at) == 0,
               "round trip: first_error_at differs");
    FUZZ_CHECK(same_json(a->error, b->error), "round trip: error differs");
    FUZZ_CHECK(same_json(a->history, b->history), "round trip: history differs");
}

void fuzz_event_roundtrip(const struct relay_event *ev)
{
    struct relay_buf first, second;
    struct relay_error err = {0};
    struct relay_event *back = NULL;
    relay_buf_init(&first);
    relay_buf_init(&second);
    if (relay_event_encode(ev, &first, &err) != 0) {
        FUZZ_CHECK(err.code == RELAY_ENOMEM, "encode failed on a valid event");
        goto out;
    }
    if (relay_event_decode(first.data, first.len, &back, &err) != 0) {
        fprintf(stderr, "decode of our own encoding failed: %s\n", err.msg);
        FUZZ_CHECK(err.code == RELAY_ENOMEM, "decode(encode(ev)) failed");
        goto out;
    }
    check_same_event(ev, back);
    if (relay_event_encode(back, &second, &err) == 0) {
        FUZZ_CHECK(first.len == second.len && memcmp(first.data, second.data, first.len) == 0,
                   "encode(decode(encode(ev))) != encode(ev)");
    }
out:
    relay_event_destroy(back);
    relay_buf_fini(&first);
    relay_buf_fini(&second);
}

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" by shape. */
bool fuzz_is_canonical_ts(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    if (strlen(s) != RELAY_TS_LEN) {
        return false;
    }
    for (size_t i = 0; i < RELAY_TS_LEN; i++) {
        bool ok = shape[i] == 'd' ? (s[i] >= '0' && s[i] <= '9') : s[i] == shape[i];
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool lists_name(const json_t *array, const char *name)
{
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        if (strcmp(json_string_value(item), name) == 0) {
            return true;
        }
    }
    return false;
}

void fuzz_event_check_mapped(const struct relay_event *ev)
{
    FUZZ_CHECK(ev->contact_id != NULL && ev->contact_id[0] != '\0', "mapped: no contact_id");
    FUZZ_CHECK(fuzz_is_canonical_ts(ev->version), "mapped: version is not canonical");
    FUZZ_CHECK(fuzz_is_canonical_ts(ev->received_at), "mapped: received_at is not canonical");
    FUZZ_CHECK(json_is_object(ev->fields), "mapped: fields is not an object");
    FUZZ_CHECK(json_is_array(ev->changed), "mapped: changed is not an array");
    FUZZ_CHECK(ev->extra == NULL || json_is_object(ev->extra), "mapped: extra not an object");
    size_t i;
    json_t *name;
    json_array_foreach(ev->changed, i, name)
    {
        FUZZ_CHECK(json_is_string(name), "mapped: changed holds a non-string");
        const char *n = json_string_value(name);
        FUZZ_CHECK(json_object_get(ev->fields, n) != NULL, "mapped: changed names a missing field");
        FUZZ_CHECK(strcmp(n, "sync_metadata") != 0, "mapped: sync_metadata in changed");
        for (size_t j = i + 1; j < json_array_size(ev->changed); j++) {
            const char *other = json_string_value(json_array_get(ev->changed, j));
            FUZZ_CHECK(other == NULL || strcmp(n, other) != 0,
                       "mapped: changed lists a name twice");
        }
    }
    if (ev->op == RELAY_OP_UPSERT) {
        const char *updated = json_string_value(json_object_get(ev->fields, "updated_at"));
        FUZZ_CHECK(updated != NULL && strcmp(updated, ev->version) == 0,
                   "mapped: upsert without updated_at = version");
        FUZZ_CHECK(lists_name(ev->changed, "updated_at"), "mapped: upsert without updated_at");
    } else if (ev->op == RELAY_OP_DELETE) {
        FUZZ_CHECK(json_array_size(ev->changed) == 1 && lists_name(ev->changed, "deleted_at"),
                   "mapped: delete must change exactly deleted_at");
    }
}

const char *fuzz_scratch_file(const uint8_t *data, size_t size)
{
    /* An anonymous memory file: nothing is left behind, and parallel runs
     * (ctest -j, libFuzzer -jobs) cannot collide. */
    static char path[64];
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create("relay-fuzz", MFD_CLOEXEC);
        if (fd < 0) {
            return NULL;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) {
        return NULL;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        if (n <= 0) {
            return NULL;
        }
        done += (size_t)n;
    }
    return path;
}
