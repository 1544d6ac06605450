#include "fc_alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Atomic because the f32 engine allocates from worker threads: a test that
 * sweeps "fail the k-th allocation" must count every allocation exactly
 * once and fail exactly one of them when it comes due, whatever thread
 * makes it.  Relaxed order is enough: the counters guard no other data. */
static atomic_long fail_countdown = -1;
static atomic_ulong alloc_count;
static _Atomic(fc_alloc_site_hook) site_hook;

static bool should_fail(const void *site)
{
    atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
    fc_alloc_site_hook hook = atomic_load_explicit(&site_hook, memory_order_relaxed);
    if (hook)
        hook(site);
    long c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    /* Decrement only while positive, so two threads cannot both take the
     * last success or drive the countdown below zero (disabled). */
    while (c > 0) {
        if (atomic_compare_exchange_weak_explicit(&fail_countdown, &c, c - 1,
                                                  memory_order_relaxed, memory_order_relaxed))
            return false;
    }
    return c == 0;
}

void fc_alloc_fail_after(long n)
{
    atomic_store_explicit(&fail_countdown, n < 0 ? -1 : n, memory_order_relaxed);
}
void fc_alloc_fail_reset(void) { atomic_store_explicit(&fail_countdown, -1, memory_order_relaxed); }
void fc_alloc_set_site_hook(fc_alloc_site_hook hook)
{
    atomic_store_explicit(&site_hook, hook, memory_order_relaxed);
}
unsigned long fc_alloc_count(void)
{
    return atomic_load_explicit(&alloc_count, memory_order_relaxed);
}

/* The site is the return address of the public function, i.e. the call
 * site in the caller (fc_strdup passes its own caller's). */
static void *alloc_at(size_t size, const void *site)
{
    if (should_fail(site))
        return NULL;
    return malloc(size ? size : 1);
}

void *fc_malloc(size_t size) { return alloc_at(size, __builtin_return_address(0)); }

void *fc_calloc(size_t count, size_t size)
{
    size_t total;
    if (!fc_mul_size(count, size, &total))
        return NULL;
    if (should_fail(__builtin_return_address(0)))
        return NULL;
    return calloc(total ? total : 1, 1);
}

void *fc_realloc(void *ptr, size_t size)
{
    if (should_fail(__builtin_return_address(0)))
        return NULL;
    return realloc(ptr, size ? size : 1);
}

char *fc_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = alloc_at(n, __builtin_return_address(0));
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
