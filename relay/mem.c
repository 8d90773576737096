/* Allocation wrappers with failure injection for tests; see mem.h. */
#include "relay/mem.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifdef RELAY_TESTING
/* Countdown to the failing allocation; 0 = never fail. Shared by all threads. */
static _Atomic long fail_countdown = -1; /* -1: environment not read yet */

void relay_mem_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

static int should_fail(void)
{
    long n = atomic_load(&fail_countdown);
    if (n < 0) {
        const char *env = getenv("RELAY_TEST_FAIL_ALLOC");
        long want = env != NULL ? strtol(env, NULL, 10) : 0;
        long expected = -1;
        atomic_compare_exchange_strong(&fail_countdown, &expected, want > 0 ? want : 0);
        n = atomic_load(&fail_countdown);
    }
    if (n == 0) {
        return 0;
    }
    return atomic_fetch_sub(&fail_countdown, 1) == 1;
}
#else
static int should_fail(void)
{
    return 0;
}
#endif

void *relay_malloc(size_t size)
{
    return should_fail() ? NULL : malloc(size);
}

void *relay_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count, size);
}

void *relay_realloc(void *ptr, size_t size)
{
    return should_fail() ? NULL : realloc(ptr, size);
}

char *relay_strndup(const char *s, size_t n)
{
    char *copy = relay_malloc(n + 1);
    if (copy != NULL) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

char *relay_strdup(const char *s)
{
    return relay_strndup(s, strlen(s));
}

void relay_free(void *ptr)
{
    free(ptr);
}

void relay_mem_init(void)
{
    json_set_alloc_funcs(relay_malloc, relay_free);
}
