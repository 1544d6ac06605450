/* Timing an engine the way a deployment sees it: latency percentiles of
 * single images (batch 1) and throughput at a batch, on deterministic
 * uniform [0, 1) inputs of the model's input shape; and the process's peak
 * resident memory.  Shared by `flipcheck bench` and the performance suite.
 *
 * Ownership: the graph is borrowed; results are plain numbers. */
#ifndef FC_PERF_H
#define FC_PERF_H

#include <stdint.h>

#include "../core/fc_status.h"
#include "../onnx/fc_ir.h"

typedef struct fc_perf_opts {
    int latency_runs;       /* timed batch-1 runs (default 100) */
    int throughput_runs;    /* timed batch runs (default 10) */
    int warmup;             /* untimed runs before each (default 3) */
    int64_t batch;          /* throughput batch (default 64) */
} fc_perf_opts;

typedef struct fc_perf {
    double latency_p50_ms, latency_p90_ms, latency_p99_ms, latency_max_ms;
    double batch_median_s, batch_best_s;   /* per batch */
    double images_per_s;                   /* batch / batch_median_s */
    int64_t batch;
} fc_perf;

/* Creates `engine` on g and measures it.  latency_runs = 0 skips the
 * latency part (its fields stay NaN), throughput_runs = 0 the other. */
fc_status fc_perf_measure(const fc_graph *g, const char *engine, const fc_perf_opts *opts,
                          fc_perf *out, fc_err *err);

/* Peak resident set of this process in KB (VmHWM; -1 if unknown). */
long fc_peak_rss_kb(void);
/* Resets the peak to the current resident set (Linux clear_refs 5), so a
 * forked child measures its own peak; false when the kernel refuses. */
bool fc_peak_rss_reset(void);

/* The q-th percentile (0..100) of n ascending values, linear interpolation
 * (NumPy's default). */
double fc_perf_percentile(const double *sorted, int n, double q);

#endif
