/* flipcheck bench: images per second of one engine on one model (median of
 * timed runs after a warm-up, CLOCK_MONOTONIC) and the process's peak RSS.
 * With --attack fgsm a run is one FGSM batch instead of one forward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "attacks/fc_model.h"
#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "engines/fc_engine.h"

static const char usage[] =
    "usage: flipcheck bench --model MODEL.onnx [--engine E] [--batch B] [--runs R]\n"
    "                       [--warmup W] [--attack fgsm] [--json]\n"
    "\n"
    "Times the engine on random input (uniform [0,1) for float inputs, zeros for\n"
    "integer ones) of the model's input shape with batch B, and prints images/s\n"
    "(B / median seconds of R timed runs, after W untimed ones) and peak RSS\n"
    "(VmHWM, else getrusage ru_maxrss).\n"
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
    "  --json         {\"images_per_s\", \"batch\", \"engine\", \"peak_rss_kb\", ...}\n";

enum { O_MODEL, O_ENGINE, O_BATCH, O_RUNS, O_WARMUP, O_JSON, O_ATTACK, O_COUNT };

typedef struct bench_args {
    const char *model, *engine;
    long batch, runs, warmup;
    bool json, fgsm;
} bench_args;

static int parse_args(int argc, char **argv, bench_args *a)
{
    static const cli_opt opts[O_COUNT] = {
        [O_MODEL] = {"--model", true}, [O_ENGINE] = {"--engine", true},
        [O_BATCH] = {"--batch", true}, [O_RUNS] = {"--runs", true},
        [O_WARMUP] = {"--warmup", true}, [O_JSON] = {"--json", false},
        [O_ATTACK] = {"--attack", true},
    };
    a->engine = "f32";
    a->batch = 64;
    a->runs = 20;
    a->warmup = 3;
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

/* One tensor per graph input: the declared shape with axis 0 set to the
 * batch (when it is symbolic or 1, a batch-1 model the engine runs image by
 * image); any other unknown dim is an error. */
static fc_status make_inputs(const fc_graph *g, long batch, fc_tensor *ins, fc_err *err)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < g->n_inputs; i++) {
        const fc_value *v = &g->values[g->inputs[i]];
        if (v->rank < 1)
            return fc_err_set(err, FC_ERR_UNSUPPORTED,
                              "input '%s' has no declared batched shape to bench with", v->name);
        int64_t dims[FC_MAX_RANK];
        memcpy(dims, v->dims, sizeof dims);
        if (dims[0] < 0 || dims[0] == 1)
            dims[0] = batch;
        else if (dims[0] != batch)
            return fc_err_set(err, FC_ERR_SHAPE,
                              "input '%s' has a fixed batch of %lld; use --batch %lld", v->name,
                              (long long)dims[0], (long long)dims[0]);
        for (int d = 1; d < v->rank; d++)
            if (dims[d] < 0)
                return fc_err_set(err, FC_ERR_UNSUPPORTED,
                                  "input '%s' has an unknown dimension at axis %d; bench needs "
                                  "fixed image dims", v->name, d);
        fc_dtype dt = v->dtype == FC_DT_UNDEFINED ? FC_DT_F32 : v->dtype;
        fc_status st = fc_tensor_alloc(&ins[i], dt, v->rank, dims, err);
        if (st) {
            fc_err_prefix(err, "input '%s': ", v->name);
            return st;
        }
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

static fc_status time_runs(fc_engine *e, const fc_graph *g, const fc_tensor *ins,
                           const bench_args *a, double *times, fc_err *err)
{
    fc_tensor *outs = fc_calloc(g->n_outputs ? (size_t)g->n_outputs : 1, sizeof *outs);
    if (!outs)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    fc_status st = FC_OK;
    for (long r = 0; r < a->warmup + a->runs && !st; r++) {
        double t0 = cli_now();
        st = fc_engine_run(e, ins, g->n_inputs, outs, g->n_outputs, err);
        double t1 = cli_now();
        if (st)
            break;
        for (int k = 0; k < g->n_outputs; k++)
            fc_tensor_release(&outs[k]);
        if (r >= a->warmup)
            times[r - a->warmup] = t1 - t0;
    }
    fc_free(outs);
    return st;
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

/* Peak resident memory of this process in KB.  Linux's ru_maxrss survives
 * exec, so a bench started from a big parent (Python with torch loaded)
 * would report the parent's peak; VmHWM is this program's own. */
static long peak_rss_kb(void)
{
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
        kb = (long)ru.ru_maxrss;   /* KB on Linux */
    return kb;
}

static int report(const bench_args *a, double median, double best)
{
    long rss_kb = peak_rss_kb();
    double ips = median > 0 ? (double)a->batch / median : 0;
    if (!a->json) {
        printf("%s: engine %s, batch %ld: %.1f %simages/s (median of %ld runs, %.3f ms per "
               "batch, best %.3f ms), peak RSS %ld KB\n", a->model, a->engine, a->batch, ips,
               a->fgsm ? "FGSM " : "", a->runs, median * 1e3, best * 1e3, rss_kb);
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
    fc_engine *e = NULL;
    fc_tensor *ins = fc_calloc(g->n_inputs ? (size_t)g->n_inputs : 1, sizeof *ins);
    double *times = fc_calloc((size_t)a.runs, sizeof *times);
    fc_status st = FC_OK;
    if (!ins || !times)
        st = fc_err_set(&err, FC_ERR_NOMEM, "out of memory");
    if (!st && a.fgsm)
        st = time_fgsm(&a, times, &err);
    if (!st && !a.fgsm)
        st = fc_engine_create(g, a.engine, &e, &err);
    if (!st && !a.fgsm)
        st = make_inputs(g, a.batch, ins, &err);
    if (!st && !a.fgsm)
        st = time_runs(e, g, ins, &a, times, &err);
    if (st) {
        err.status = st;
        rc = cli_report(a.model, &err);
    } else {
        qsort(times, (size_t)a.runs, sizeof *times, cmp_double);
        size_t m = (size_t)a.runs;
        double median = m % 2 ? times[m / 2] : (times[m / 2 - 1] + times[m / 2]) / 2;
        rc = report(&a, median, times[0]);
    }
    for (int i = 0; ins && i < g->n_inputs; i++)
        fc_tensor_release(&ins[i]);
    fc_free(ins);
    fc_free(times);
    fc_engine_free(e);
    fc_graph_free(g);
    return rc;
}
