/* The one allocator every flipcheck module uses.
 *
 * Why a wrapper: tests make the k-th allocation fail to prove every failure
 * path ends in a named error (FC_ERR_NOMEM) without leaks or crashes, and all
 * sizes computed from untrusted files go through the overflow-checked helpers
 * below before anything is allocated.
 *
 * Ownership: memory from fc_malloc/fc_calloc/fc_realloc/fc_strdup is freed
 * with fc_free by whoever holds the pointer (each header says who). */
#ifndef FC_ALLOC_H
#define FC_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *fc_malloc(size_t size);              /* NULL on failure or size 0 -> 1 byte */
void *fc_calloc(size_t count, size_t size); /* zeroed; NULL on failure/overflow */
void *fc_realloc(void *ptr, size_t size);
char *fc_strdup(const char *s);             /* NULL if s is NULL or on failure */
void fc_free(void *ptr);

/* Overflow-checked arithmetic: return false (and leave *out untouched) when
 * the result does not fit. */
bool fc_mul_size(size_t a, size_t b, size_t *out);
bool fc_add_size(size_t a, size_t b, size_t *out);
bool fc_mul_i64(int64_t a, int64_t b, int64_t *out);

/* Test hook: after `n` more successful allocations, every allocation fails
 * until fc_alloc_fail_reset().  n < 0 disables injection. */
void fc_alloc_fail_after(long n);
void fc_alloc_fail_reset(void);
/* Number of allocations attempted since process start (for sweeping k). */
unsigned long fc_alloc_count(void);
/* Test hook: called on every allocation attempt (before injection decides)
 * with the call site (the caller's return address), so a test can count the
 * distinct sites it exercised.  NULL removes it.  The counters and the hook
 * are atomic: engines allocate from worker threads. */
typedef void (*fc_alloc_site_hook)(const void *site);
void fc_alloc_set_site_hook(fc_alloc_site_hook hook);

#endif
