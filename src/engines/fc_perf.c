#include "fc_perf.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../core/fc_alloc.h"
#include "fc_engine.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One tensor per graph input: the declared shape with axis 0 = batch. */
static fc_status make_inputs(const fc_graph *g, int64_t batch, fc_tensor *ins, fc_err *err)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < g->n_inputs; i++) {
        const fc_value *v = &g->values[g->inputs[i]];
        if (v->rank < 1)
            return fc_err_set(err, FC_ERR_UNSUPPORTED,
                              "%s: input '%s' has no declared batched shape to time", g->path,
                              v->name);
        int64_t dims[FC_MAX_RANK];
        memcpy(dims, v->dims, sizeof dims);
        if (dims[0] < 0 || dims[0] == 1)
            dims[0] = batch;
        else if (dims[0] != batch)
            return fc_err_set(err, FC_ERR_SHAPE,
                              "%s: input '%s' has a fixed batch of %lld, not %lld", g->path,
                              v->name, (long long)dims[0], (long long)batch);
        for (int d = 1; d < v->rank; d++)
            if (dims[d] < 0)
                return fc_err_set(err, FC_ERR_UNSUPPORTED,
                                  "%s: input '%s' has an unknown dimension at axis %d", g->path,
                                  v->name, d);
        fc_dtype dt = v->dtype == FC_DT_UNDEFINED ? FC_DT_F32 : v->dtype;
        fc_status st = fc_tensor_alloc(&ins[i], dt, v->rank, dims, err);
        if (st)
            return st;
        if (dt == FC_DT_F32) {
            float *x = ins[i].data;
            for (size_t j = 0; j < ins[i].numel; j++)
                x[j] = (float)(next_rand(&seed) >> 40) / (float)(1u << 24);
        }
    }
    return FC_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double fc_perf_percentile(const double *sorted, int n, double q)
{
    if (n <= 0)
        return NAN;
    double pos = q / 100.0 * (double)(n - 1);
    int lo = (int)floor(pos);
    int hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (pos - (double)lo) * (sorted[hi] - sorted[lo]);
}

/* Times `runs` runs after `warmup` untimed ones; times sorted ascending. */
static fc_status time_runs(fc_engine *e, const fc_graph *g, int64_t batch, int warmup, int runs,
                           double *times, fc_err *err)
{
    size_t ni = g->n_inputs ? (size_t)g->n_inputs : 1, no = g->n_outputs ? (size_t)g->n_outputs : 1;
    fc_tensor *ins = fc_calloc(ni, sizeof *ins), *outs = fc_calloc(no, sizeof *outs);
    fc_status st = !ins || !outs ? fc_err_set(err, FC_ERR_NOMEM, "out of memory") : FC_OK;
    if (!st)
        st = make_inputs(g, batch, ins, err);
    for (int r = 0; r < warmup + runs && !st; r++) {
        double t0 = now_s();
        st = fc_engine_run(e, ins, g->n_inputs, outs, g->n_outputs, err);
        double t1 = now_s();
        if (st)
            break;
        for (int k = 0; k < g->n_outputs; k++)
            fc_tensor_release(&outs[k]);
        if (r >= warmup)
            times[r - warmup] = t1 - t0;
    }
    for (int i = 0; ins && i < g->n_inputs; i++)
        fc_tensor_release(&ins[i]);
    fc_free(ins);
    fc_free(outs);
    if (!st)
        qsort(times, (size_t)runs, sizeof *times, cmp_double);
    return st;
}

fc_status fc_perf_measure(const fc_graph *g, const char *engine, const fc_perf_opts *opts,
                          fc_perf *out, fc_err *err)
{
    fc_perf_opts o = opts ? *opts : (fc_perf_opts){0};
    o.latency_runs = o.latency_runs < 0 ? 0 : o.latency_runs;
    o.throughput_runs = o.throughput_runs < 0 ? 0 : o.throughput_runs;
    o.batch = o.batch > 0 ? o.batch : 64;
    o.warmup = o.warmup > 0 ? o.warmup : 0;
    *out = (fc_perf){NAN, NAN, NAN, NAN, NAN, NAN, NAN, o.batch};
    fc_engine *e = NULL;
    fc_status st = fc_engine_create(g, engine, &e, err);
    if (st)
        return st;
    int most = o.latency_runs > o.throughput_runs ? o.latency_runs : o.throughput_runs;
    double *t = fc_calloc(most ? (size_t)most : 1, sizeof *t);
    if (!t)
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    if (!st && o.latency_runs) {
        st = time_runs(e, g, 1, o.warmup, o.latency_runs, t, err);
        if (!st) {
            out->latency_p50_ms = 1e3 * fc_perf_percentile(t, o.latency_runs, 50);
            out->latency_p90_ms = 1e3 * fc_perf_percentile(t, o.latency_runs, 90);
            out->latency_p99_ms = 1e3 * fc_perf_percentile(t, o.latency_runs, 99);
            out->latency_max_ms = 1e3 * t[o.latency_runs - 1];
        }
    }
    if (!st && o.throughput_runs) {
        st = time_runs(e, g, o.batch, o.warmup, o.throughput_runs, t, err);
        if (!st) {
            out->batch_median_s = fc_perf_percentile(t, o.throughput_runs, 50);
            out->batch_best_s = t[0];
            out->images_per_s = (double)o.batch / out->batch_median_s;
        }
    }
    fc_free(t);
    fc_engine_free(e);
    return st;
}

long fc_peak_rss_kb(void)
{
    /* VmHWM is this process's own peak; ru_maxrss survives exec and would
     * report a big parent's (Python with torch loaded). */
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    struct rusage ru;
    if (kb < 0 && getrusage(RUSAGE_SELF, &ru) == 0)
        kb = (long)ru.ru_maxrss;
    return kb;
}

bool fc_peak_rss_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}
