/* Helpers shared by the fuzz targets (tests/fuzz/fuzz_<target>.c): quiet
 * start-up, a checked-invariant macro that aborts (libFuzzer saves the
 * input; replay.c fails the CTest entry), and the event checks that every
 * target producing a struct relay_event runs.
 *
 * The targets are built two ways: with clang's libFuzzer
 * (tests/fuzz/CMakeLists.txt, RELAY_FUZZ=ON) and with any compiler against
 * replay.c (tests/cmake/fuzz.cmake), which replays corpus/ and regress/. */
#ifndef RELAY_TESTS_FUZZ_FUZZ_UTIL_H
#define RELAY_TESTS_FUZZ_FUZZ_UTIL_H

#include "relay/event.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry points every target defines (replay.c calls them). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with file:line and what when cond is false: a found bug. */
#define FUZZ_CHECK(cond, what)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fuzz_fail(__FILE__, __LINE__, (what));                                                 \
        }                                                                                          \
    } while (0)

void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* With FUZZ_VERBOSE set in the environment, prints one line per outcome
 * (to see what a corpus reaches: tests/fuzz/run-fuzzers.sh does not). */
void fuzz_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Once per process: jansson through relay_malloc, logging off (the targets
 * feed garbage on purpose; every failure is an expected answer). */
void fuzz_setup(void);

/* A NUL-terminated copy of data (caller frees with relay_free); NULL only
 * on ENOMEM, which the caller treats as "nothing to do". */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* encode(ev) -> decode -> the same event (every wire key), and a second
 * encode gives the same bytes. Aborts on a difference. */
void fuzz_event_roundtrip(const struct relay_event *ev);

/* The invariants of an event that a mapper produced (team brief,
 * "Decisions"): contact_id set, canonical version and received_at, changed
 * names fields it holds, never sync_metadata, upserts carry updated_at. */
void fuzz_event_check_mapped(const struct relay_event *ev);

/* True for "YYYY-MM-DDTHH:MM:SS.ffffffZ" (by shape). */
bool fuzz_is_canonical_ts(const char *s);

/* Writes data to a private scratch file (created once per process, rewritten
 * each call) and returns its path; NULL when the write fails. */
const char *fuzz_scratch_file(const uint8_t *data, size_t size);

#endif
