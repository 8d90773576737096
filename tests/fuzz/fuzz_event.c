/* Fuzz target: the queue envelope codec (relay/event.h). Whatever
 * relay_event_decode accepts must encode, decode back to the same event,
 * and encode again to the same bytes. */
#include "relay/event.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct relay_error err = {0};
    struct relay_event *ev = NULL;
    int rc = relay_event_decode((const char *)data, size, &ev, &err);
    fuzz_note("decode: %s", rc == 0 ? "event" : err.msg);
    if (rc != 0) {
        FUZZ_CHECK(ev == NULL, "failed decode left an event");
        FUZZ_CHECK(err.code == RELAY_EINVAL || err.code == RELAY_ENOMEM,
                   "decode: unexpected error code");
        return 0;
    }
    FUZZ_CHECK(ev != 0 && ev->contact_id != NULL, "decoded event without contact_id");
    fuzz_event_roundtrip(ev);
    relay_event_destroy(ev);
    return 0;
}
