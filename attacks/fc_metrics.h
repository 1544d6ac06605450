/* Summary statistics for attack runs: mean and percentiles of a set of
 * per-image numbers (confidence drops, minimal eps, distances, queries).
 *
 * Percentiles interpolate linearly between the two closest ranks, the
 * convention of NumPy's default (np.percentile, method "linear"), so a
 * number reported here can be checked against Python on the same values. */
#ifndef FC_METRICS_H
#define FC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/fc_status.h"

typedef struct fc_stats {
    int64_t n;                               /* values counted (NaN skipped) */
    double mean, min, p10, p50, p95, max;    /* NaN when n == 0 */
} fc_stats;

/* The q-th percentile (0 <= q <= 100) of n >= 1 ascending values. */
double fc_percentile_sorted(const double *sorted, size_t n, double q);

/* Statistics of v[0..n) skipping NaN; v is left as it was (a sorted copy
 * is made).  n may be 0 (all fields NaN, count 0). */
fc_status fc_stats_compute(const double *v, size_t n, fc_stats *out, fc_err *err);

/* An fc_stats with count 0 and every number NaN. */
void fc_stats_empty(fc_stats *s);

#endif
