/* TCase "performance": per engine, the latency of single images (P50, P90,
 * P99 of batch-1 runs), throughput at batch 64 and the test process's peak
 * resident memory; thresholds max_latency_p99_ms and max_peak_rss_mb.
 * fp32 engines time the fp32 model, int8 engines the twin.  The oracles
 * (f32-ref, q8-ref) are slow by design and get fewer runs. */
#include <math.h>
#include <string.h>

#include "engines/fc_perf.h"
#include "suite_internal.h"
#include "suites/fc_suites.h"

static void case_perf(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    bool int8 = !strncmp(c->engine, "q8", 2), oracle = strstr(c->engine, "-ref") != NULL;
    /* The parent's pages count toward a forked child's peak until reset. */
    bool reset = fc_peak_rss_reset();
    fc_model *m = int8 ? case_open_int8(ctx, c->engine, o) : case_open_fp32(ctx, c->engine, o);
    if (!m)
        return;
    fc_perf_opts po = {.latency_runs = oracle ? 10 : 100,
                       .throughput_runs = oracle ? 1 : 5,
                       .warmup = oracle ? 1 : 3,
                       .batch = oracle ? 8 : 64};
    fc_perf p;
    fc_err err = {0};
    /* Engine names other than the model's own kind time what the model
     * opened with (test-faulty runs the fp32 model like f32). */
    if (fc_perf_measure(fc_model_graph(m), c->engine, &po, &p, &err)) {
        case_fail(o, "%s: %s", ctx->mc->name, err.msg);
        fc_model_free(m);
        return;
    }
    fc_model_free(m);
    long kb = fc_peak_rss_kb();
    double mb = kb < 0 ? NAN : (double)kb / 1024.0;
    case_metric_str(o, "model", int8 ? "int8" : "fp32");
    case_metric(o, "latency_runs", po.latency_runs);
    case_metric(o, "latency_p50_ms", p.latency_p50_ms);
    case_metric(o, "latency_p90_ms", p.latency_p90_ms);
    case_metric(o, "latency_p99_ms", p.latency_p99_ms);
    case_metric(o, "latency_max_ms", p.latency_max_ms);
    case_metric(o, "batch", (double)p.batch);
    case_metric(o, "images_per_s", p.images_per_s);
    case_metric(o, "peak_rss_mb", mb);
    cJSON_AddBoolToObject(o->metrics, "peak_rss_own", reset);
    case_check_max(o, ctx, "max_latency_p99_ms", ctx->mc->th.max_latency_p99_ms,
                   p.latency_p99_ms, "batch-1 latency P99 in ms");
    case_check_max(o, ctx, "max_peak_rss_mb", ctx->mc->th.max_peak_rss_mb, mb,
                   "peak resident memory in MB");
    case_summary(o, "P99 %.2f ms, %.0f img/s, %.0f MB", p.latency_p99_ms, p.images_per_s, mb);
}

fc_status suite_performance_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err)
{
    for (int e = 0; e < ctx->mc->n_engines; e++) {
        char name[64];
        snprintf(name, sizeof name, "perf_%s", ctx->mc->engines[e]);
        if (!suite_cases_add(cs, 6, name, ctx->mc->engines[e], case_perf))
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
    }
    return FC_OK;
}
