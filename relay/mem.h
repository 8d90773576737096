/* All allocation goes through here, so test builds can make the Nth
 * allocation fail (RELAY_TEST_FAIL_ALLOC=N, read once at first use) and the
 * torture tests can walk every failure path. Thread-safe. */
#ifndef RELAY_RELAY_MEM_H
#define RELAY_RELAY_MEM_H

#include <stddef.h>

void *relay_malloc(size_t size);
void *relay_calloc(size_t count, size_t size);
void *relay_realloc(void *ptr, size_t size);
char *relay_strdup(const char *s);
char *relay_strndup(const char *s, size_t n);
void relay_free(void *ptr);

/* Points jansson's allocator at relay_malloc/relay_free; call once at start,
 * before any thread exists. */
void relay_mem_init(void);

#ifdef RELAY_TESTING
/* Test hook: the nth allocation from now fails (0 turns failures off). */
void relay_mem_fail_after(long n);
#endif

#endif
