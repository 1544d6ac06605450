#include "fc_alloc.h"

#include <stdlib.h>
#include <string.h>

/* Not thread-safe by design: the injection hook is for single-threaded tests;
 * the counters are only read by those tests. */
static long fail_countdown = -1;
static unsigned long alloc_count;

static bool should_fail(void)
{
    alloc_count++;
    if (fail_countdown < 0)
        return false;
    if (fail_countdown == 0)
        return true;
    fail_countdown--;
    return false;
}

void fc_alloc_fail_after(long n) { fail_countdown = n; }
void fc_alloc_fail_reset(void) { fail_countdown = -1; }
unsigned long fc_alloc_count(void) { return alloc_count; }

void *fc_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *fc_calloc(size_t count, size_t size)
{
    size_t total;
    if (!fc_mul_size(count, size, &total))
        return NULL;
    if (should_fail())
        return NULL;
    return calloc(total ? total : 1, 1);
}

void *fc_realloc(void *ptr, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

char *fc_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = fc_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void fc_free(void *ptr) { free(ptr); }

bool fc_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

bool fc_add_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

bool fc_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}
