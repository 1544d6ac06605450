/* flipcheck bench: images per second of one engine on one model (median of
 * timed runs after a warm-up, CLOCK_MONOTONIC) and the process's peak RSS.
 * With --attack fgsm a run is one FGSM batch instead of one forward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/fc_model.h"
#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "engines/fc_engine.h"
#include "engines/fc_perf.h"

static const char usage[] =
    "usage: flipcheck bench --model MODEL.onnx [--engine E] [--batch B] [--runs R]\n"
    "                       [--warmup W] [--attack fgsm] [--json]\n"
    "\n"
    "Times the engine on random input (uniform [0,1) for float inputs, zeros for\n"
    "integer ones) of the model's input shape with batch B, and prints images/s\n"
    "(B / median seconds of R timed runs, after W untimed ones), the latency of\n"
    "single images (P50, P90, P99 of batch-1 runs) and peak RSS (VmHWM, else\n"
    "getrusage ru_maxrss).\n"
    "\n"
    "With --attack fgsm one run is a whole FGSM batch in pixel space: the input\n"
    "gradient of the cross-entropy (fc_model_grad) on uniform [0,1) images with\n"
    "seeded labels, the step clip(x + eps*sign(g), 0, 1) with eps 8/255, and the\n"
    "forward pass that judges the adversarial batch.\n"
    "\n"
    "options:\n"
    "  --model FILE   the ONNX model (required)\n"
    "  --engine E     f32 (default) or f32-ref\n"
    "  --batch B      images per run (default 64)\n"
    "  --runs R       timed runs (default 20)\n"
    "  --warmup W     untimed runs first (default 3)\n"
    "  --attack fgsm  time FGSM (gradient + step + eval) instead of a forward\n"
    "  --latency-runs N  batch-1 runs for the latency percentiles P50/P90/P99\n"
    "                 (default 100; 0 skips them; not with --attack)\n"
    "  --json         {\"images_per_s\", \"batch\", \"engine\", \"peak_rss_kb\", ...}\n";

enum { O_MODEL, O_ENGINE, O_BATCH, O_RUNS, O_WARMUP, O_JSON, O_ATTACK, O_LATENCY, O_COUNT };

typedef struct bench_args {
    const char *model, *engine;
    long batch, runs, warmup, latency_runs;
    bool json, fgsm;
} bench_args;

static int parse_args(int argc, char **argv, bench_args *a)
{
    static const cli_opt opts[O_COUNT] = {
        [O_MODEL] = {"--model", true}, [O_ENGINE] = {"--engine", true},
        [O_BATCH] = {"--batch", true}, [O_RUNS] = {"--runs", true},
        [O_WARMUP] = {"--warmup", true}, [O_JSON] = {"--json", false},
        [O_ATTACK] = {"--attack", true}, [O_LATENCY] = {"--latency-runs", true},
    };
    a->engine = "f32";
    a->batch = 64;
    a->runs = 20;
    a->warmup = 3;
    a->latency_runs = 100;
    cli_parser p;
    cli_parser_init(&p, "bench", argc, argv, opts, O_COUNT);
    const char *v;
    for (int k; (k = cli_next(&p, &v)) != CLI_ARG_END;) {
        bool ok = true;
        switch (k) {
        case CLI_ARG_ERR: return CLI_EXIT_USAGE;
        case CLI_ARG_HELP: fputs(usage, stdout); return CLI_EXIT_OK;
        case CLI_ARG_POS: return cli_usage_error("bench", "unexpected argument '%s'", v);
        case O_MODEL: a->model = v; break;
        case O_ENGINE: a->engine = v; break;
        case O_JSON: a->json = true; break;
        case O_ATTACK:
            if (strcmp(v, "fgsm") != 0)
                return cli_usage_error("bench", "option --attack: only 'fgsm' can be timed, "
                                       "not '%s'", v);
            a->fgsm = true;
            break;
        case O_BATCH: ok = cli_parse_int("bench", "--batch", v, 1, 65536, &a->batch); break;
        case O_RUNS: ok = cli_parse_int("bench", "--runs", v, 1, 100000, &a->runs); break;
        case O_WARMUP: ok = cli_parse_int("bench", "--warmup", v, 0, 100000, &a->warmup); break;
        case O_LATENCY:
            ok = cli_parse_int("bench", "--latency-runs", v, 0, 1000000, &a->latency_runs);
            break;
        default: break;
        }
        if (!ok)
            return CLI_EXIT_USAGE;
    }
    if (!a->model)
        return cli_usage_error("bench", "missing --model MODEL.onnx");
    bool known = false;
    for (const char *const *e = fc_engine_kinds(); *e; e++)
        known = known || !strcmp(*e, a->engine);
    if (!known)
        return cli_usage_error("bench", "option --engine: unknown engine '%s' (f32, f32-ref)",
                               a->engine);
    return -1;
}

/* Deterministic input, so two benches of one model do the same work. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* FGSM runs: the timed unit is what one FGSM batch costs an attack run,
 * gradient + signed step + the forward that judges the result. */
static fc_status time_fgsm(const bench_args *a, double *times, fc_err *err)
{
    fc_model *m = NULL;
    fc_status st = fc_model_open(a->model, a->engine, NULL, &m, err);
    if (st)
        return st;
    fc_model_set_batch(m, a->batch);
    int64_t dims[4] = {a->batch, fc_model_channels(m), fc_model_height(m), fc_model_width(m)};
    int64_t *labels = fc_calloc((size_t)a->batch, sizeof *labels);
    fc_tensor x = {0}, adv = {0};
    if (!labels)
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    if (!st)
        st = fc_tensor_alloc(&x, FC_DT_F32, 4, dims, err);
    if (!st)
        st = fc_tensor_alloc(&adv, FC_DT_F32, 4, dims, err);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    float *px = st ? NULL : x.data;
    for (size_t j = 0; px && j < x.numel; j++)
        px[j] = (float)(next_rand(&seed) >> 40) / (float)(1u << 24);
    for (long i = 0; labels && i < a->batch; i++)
        labels[i] = (int64_t)(next_rand(&seed) % (uint64_t)fc_model_classes(m));
    const float eps = 8.0f / 255.0f;
    fc_loss loss = {FC_LOSS_CE, labels};
    for (long r = 0; r < a->warmup + a->runs && !st; r++) {
        fc_tensor g, z;
        double t0 = cli_now();
        if ((st = fc_model_grad(m, &x, &loss, &g, NULL, NULL, err)))
            break;
        const float *pg = g.data;
        float *pa = adv.data;
        for (size_t j = 0; j < x.numel; j++) {
            float v = px[j] + (pg[j] > 0.0f ? eps : pg[j] < 0.0f ? -eps : 0.0f);
            pa[j] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        }
        fc_tensor_release(&g);
        if ((st = fc_model_logits(m, &adv, &z, err)))
            break;
        double t1 = cli_now();
        fc_tensor_release(&z);
        if (r >= a->warmup)
            times[r - a->warmup] = t1 - t0;
    }
    fc_tensor_release(&x);
    fc_tensor_release(&adv);
    fc_free(labels);
    fc_model_free(m);
    return st;
}

static int report(const bench_args *a, double median, double best, const fc_perf *lat)
{
    long rss_kb = fc_peak_rss_kb();
    double ips = median > 0 ? (double)a->batch / median : 0;
    bool has_lat = lat && a->latency_runs > 0;
    if (!a->json) {
        printf("%s: engine %s, batch %ld: %.1f %simages/s (median of %ld runs, %.3f ms per "
               "batch, best %.3f ms), peak RSS %ld KB\n", a->model, a->engine, a->batch, ips,
               a->fgsm ? "FGSM " : "", a->runs, median * 1e3, best * 1e3, rss_kb);
        if (has_lat)
            printf("%s: engine %s, batch 1 latency over %ld runs: P50 %.3f ms, P90 %.3f ms, "
                   "P99 %.3f ms, max %.3f ms\n", a->model, a->engine, a->latency_runs,
                   lat->latency_p50_ms, lat->latency_p90_ms, lat->latency_p99_ms,
                   lat->latency_max_ms);
        return CLI_EXIT_OK;
    }
    cJSON *root = cJSON_CreateObject();
    bool ok = root && cJSON_AddStringToObject(root, "model", a->model) &&
              cJSON_AddStringToObject(root, "engine", a->engine) &&
              (a->fgsm ? cJSON_AddStringToObject(root, "attack", "fgsm") != NULL
                       : cJSON_AddNullToObject(root, "attack") != NULL) &&
              cJSON_AddNumberToObject(root, "batch", (double)a->batch) &&
              cJSON_AddNumberToObject(root, "runs", (double)a->runs) &&
              cJSON_AddNumberToObject(root, "warmup", (double)a->warmup) &&
              cJSON_AddNumberToObject(root, "median_s_per_batch", median) &&
              cJSON_AddNumberToObject(root, "best_s_per_batch", best) &&
              cJSON_AddNumberToObject(root, "images_per_s", ips) &&
              cJSON_AddNumberToObject(root, "peak_rss_kb", (double)rss_kb) &&
              (!has_lat ||
               (cJSON_AddNumberToObject(root, "latency_runs", (double)a->latency_runs) &&
                cJSON_AddNumberToObject(root, "latency_p50_ms", lat->latency_p50_ms) &&
                cJSON_AddNumberToObject(root, "latency_p90_ms", lat->latency_p90_ms) &&
                cJSON_AddNumberToObject(root, "latency_p99_ms", lat->latency_p99_ms) &&
                cJSON_AddNumberToObject(root, "latency_max_ms", lat->latency_max_ms))) &&
              cli_print_json(root);
    cJSON_Delete(root);
    if (!ok) {
        fc_err err;
        fc_err_set(&err, FC_ERR_NOMEM, "out of memory printing JSON");
        return cli_report(a->model, &err);
    }
    return CLI_EXIT_OK;
}

int cli_bench_main(int argc, char **argv)
{
    bench_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    fc_graph *g = NULL;
    if (!cli_load_model(a.model, &g))
        return CLI_EXIT_USAGE;
    fc_err err;
    fc_err_clear(&err);
    double *times = fc_calloc((size_t)a.runs, sizeof *times);
    fc_perf perf, lat;
    fc_status st = FC_OK;
    if (!times)
        st = fc_err_set(&err, FC_ERR_NOMEM, "out of memory");
    double median = 0, best = 0;
    if (!st && a.fgsm) {
        st = time_fgsm(&a, times, &err);
        if (!st) {
            qsort(times, (size_t)a.runs, sizeof *times, cmp_double);
            median = fc_perf_percentile(times, (int)a.runs, 50);
            best = times[0];
        }
    }
    if (!st && !a.fgsm) {
        fc_perf_opts po = {.throughput_runs = (int)a.runs, .warmup = (int)a.warmup,
                           .batch = a.batch};
        st = fc_perf_measure(g, a.engine, &po, &perf, &err);
        median = perf.batch_median_s;
        best = perf.batch_best_s;
    }
    /* Latency after throughput, so the peak RSS reflects the batch run. */
    if (!st && !a.fgsm && a.latency_runs > 0) {
        fc_perf_opts po = {.latency_runs = (int)a.latency_runs, .warmup = (int)a.warmup};
        st = fc_perf_measure(g, a.engine, &po, &lat, &err);
    }
    if (st) {
        err.status = st;
        rc = cli_report(a.model, &err);
    } else {
        rc = report(&a, median, best, a.fgsm ? NULL : &lat);
    }
    fc_free(times);
    fc_graph_free(g);
    return rc;
}
