/* flipcheck sweep: robustness curves over an eps grid for every model,
 * attack and engine; one shard of it when a scheduler splits the work;
 * compared with last night's sweep when given --baseline (docs/nightly.md). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attacks/fc_attack.h"
#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "reports/fc_report.h"
#include "sweep/fc_sweep.h"

static const char usage[] =
    "usage: flipcheck sweep [--config F | --model M.onnx [--int8 Q.onnx] ... --data DIR|X.npy\n"
    "                       [--labels L.npy] [--calib DIR]] [--attacks fgsm,pgd,boundary]\n"
    "                       [--eps 0:0.1:0.005 | --eps 0.01,0.03] [--engines f32,q8]\n"
    "                       [--jobs N] [--shard K/N | --shard-count N] [--baseline OLD.json]\n"
    "                       [--tolerance PTS] [--flip-tolerance PTS] [--out DIR] [--quiet]\n"
    "\n"
    "Robust accuracy, flip rate and confidence drop against eps for every model x\n"
    "attack x engine, and each image's minimal eps, into DIR/sweep.json (default\n"
    "DIR flipcheck-sweep).  Engines: f32 (the fp32 model), q8 (its int8 twin,\n"
    "attacked through straight-through gradients); with both, also q8-transfer\n"
    "(the fp32 adversarials judged by the twin, with the fp32/int8 disagreement).\n"
    "\n"
    "  --config F        sweep the models of a run config (default: the bundled ones)\n"
    "  --model M.onnx    an fp32 model (repeat); --int8 Q.onnx its twin, in the same\n"
    "                    order (else calibrated, minmax, on --calib or the test data)\n"
    "  --data, --labels  test images (ImageFolder, PNG folder or .npy) and .npy labels\n"
    "  --eps A:B:S       A to B inclusive in steps of S, or a list (default 0:0.1:0.005)\n"
    "  --attacks LIST    fgsm, pgd, boundary (default fgsm,pgd)\n"
    "  --engines LIST    f32, q8 (default f32,q8)\n"
    "  --jobs N          threads (results do not depend on N; default 1)\n"
    "  --shard K/N       run shard K of N (0-based).  Without it: SLURM_ARRAY_TASK_ID\n"
    "                    (minus SLURM_ARRAY_TASK_MIN) of SLURM_ARRAY_TASK_COUNT, or\n"
    "                    JOB_COMPLETION_INDEX of --shard-count / FLIPCHECK_SHARD_COUNT\n"
    "  --baseline F      compare with a previous sweep.json: exit 1 on regressions\n"
    "  --tolerance PTS   robust-accuracy drop allowed, in points (default 2)\n"
    "  --flip-tolerance PTS  rise of the fp32/int8 disagreement allowed (default 2)\n"
    "  --block N         images per work unit (default 32); --max-images N per model\n"
    "  --pgd-steps N, --queries N (boundary, default 1000), --seed N\n"
    "  --quiet           no progress on stderr\n"
    "\n"
    "Rerunning with the same --out resumes from DIR/journal.jsonl.\n"
    "Exit: 0 ok, 1 regressions against the baseline or units that failed, 2 usage or\n"
    "input error.\n";

enum { O_CONFIG, O_MODEL, O_INT8, O_DATA, O_LABELS, O_CALIB, O_ATTACKS, O_EPS, O_ENGINES,
       O_JOBS, O_SHARD, O_SHARD_COUNT, O_BASELINE, O_TOL, O_FLIP_TOL, O_OUT, O_BLOCK, O_MAXIMG,
       O_STEPS, O_QUERIES, O_SEED, O_QUIET, O_COUNT };

#define MAX_MODELS 64

typedef struct args {
    const char *config, *data, *labels, *calib, *baseline, *out;
    const char *models[MAX_MODELS], *int8[MAX_MODELS];
    int n_models, n_int8;
    const char *shard, *shard_count;
    double tol, flip_tol;
    long seed;
    bool seed_set;
} args;

/* A number of an option, finite. */
static bool parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) {
        cli_usage_error("sweep", "%s: '%s' is not a number", opt, s);
        return false;
    }
    *out = v;
    return true;
}

/* The nearest double to v's 12-digit decimal: 0.015, not 0.015000000000000001. */
static double tidy(double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.12g", v);
    return strtod(buf, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool parse_eps(const char *s, fc_sweep_options *o)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    if (strchr(buf, ':')) {
        char *b = strchr(buf, ':'), *c = b ? strchr(b + 1, ':') : NULL;
        if (!c)
            return cli_usage_error("sweep", "--eps: want FROM:TO:STEP, got '%s'", s), false;
        *b = *c = '\0';
        double from, to, step;
        if (!parse_double("--eps", buf, &from) || !parse_double("--eps", b + 1, &to) ||
            !parse_double("--eps", c + 1, &step))
            return false;
        if (!(step > 0) || to < from)
            return cli_usage_error("sweep", "--eps %s: want STEP > 0 and TO >= FROM", s), false;
        double count = floor((to - from) / step + 1e-9) + 1;
        if (count > FC_SWEEP_MAX_EPS)
            return cli_usage_error("sweep", "--eps %s: more than %d values", s, FC_SWEEP_MAX_EPS),
                   false;
        for (int k = 0; k < (int)count; k++)
            o->eps[n++] = tidy(from + k * step);
    } else {
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            if (n == FC_SWEEP_MAX_EPS)
                return cli_usage_error("sweep", "--eps: more than %d values", FC_SWEEP_MAX_EPS),
                       false;
            if (!parse_double("--eps", tok, &o->eps[n]))
                return false;
            n++;
        }
    }
    qsort(o->eps, (size_t)n, sizeof o->eps[0], cmp_double);
    int m = 0;
    for (int k = 0; k < n; k++) {
        if (!(o->eps[k] >= 0 && o->eps[k] <= 1))
            return cli_usage_error("sweep", "--eps: %g is outside [0, 1]", o->eps[k]), false;
        if (m == 0 || o->eps[k] != o->eps[m - 1])
            o->eps[m++] = o->eps[k];
    }
    if (!m)
        return cli_usage_error("sweep", "--eps: no values"), false;
    o->n_eps = m;
    return true;
}

static bool parse_lists(const char *attacks, const char *engines, fc_sweep_options *o)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", attacks);
    o->attacks = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        int k = fc_attack_kind_parse(t);
        if (k != FC_ATTACK_FGSM && k != FC_ATTACK_PGD && k != FC_ATTACK_BOUNDARY)
            return cli_usage_error("sweep", "--attacks: unknown attack '%s' (fgsm, pgd, boundary)",
                                   t), false;
        o->attacks |= 1u << k;
    }
    snprintf(buf, sizeof buf, "%s", engines);
    o->f32 = o->q8 = false;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        if (!strcmp(t, "f32"))
            o->f32 = true;
        else if (!strcmp(t, "q8"))
            o->q8 = true;
        else
            return cli_usage_error("sweep", "--engines: unknown engine '%s' (f32, q8)", t), false;
    }
    if (!o->attacks || !(o->f32 || o->q8))
        return cli_usage_error("sweep", "no attack or no engine"), false;
    return true;
}

/* K and N: --shard, else the scheduler's environment, else 0/1. */
static bool resolve_shard(const args *a, fc_sweep_options *o)
{
    long k = 0, n = 1;
    const char *id = getenv("SLURM_ARRAY_TASK_ID"), *kidx = getenv("JOB_COMPLETION_INDEX");
    if (a->shard) {
        char *end;
        k = strtol(a->shard, &end, 10);
        if (end == a->shard || *end != '/' || (n = strtol(end + 1, &end, 10), *end))
            return cli_usage_error("sweep", "--shard: want K/N, got '%s'", a->shard), false;
    } else if (id && id[0]) {
        const char *cnt = getenv("SLURM_ARRAY_TASK_COUNT"), *min = getenv("SLURM_ARRAY_TASK_MIN");
        if (!cnt || !cnt[0])
            return cli_usage_error("sweep", "SLURM_ARRAY_TASK_ID is set but not "
                                            "SLURM_ARRAY_TASK_COUNT; give --shard K/N"), false;
        if (!cli_parse_int("sweep", "SLURM_ARRAY_TASK_ID", id, 0, 1000000, &k) ||
            !cli_parse_int("sweep", "SLURM_ARRAY_TASK_COUNT", cnt, 1, 1000000, &n))
            return false;
        long lo = 0;
        if (min && min[0] && !cli_parse_int("sweep", "SLURM_ARRAY_TASK_MIN", min, 0, 1000000, &lo))
            return false;
        k -= lo;
    } else if (kidx && kidx[0]) {
        const char *cnt = a->shard_count ? a->shard_count : getenv("FLIPCHECK_SHARD_COUNT");
        if (!cnt || !cnt[0])
            return cli_usage_error("sweep", "JOB_COMPLETION_INDEX is set: give the shard count "
                                            "with --shard-count or FLIPCHECK_SHARD_COUNT"), false;
        if (!cli_parse_int("sweep", "JOB_COMPLETION_INDEX", kidx, 0, 1000000, &k) ||
            !cli_parse_int("sweep", "--shard-count", cnt, 1, 1000000, &n))
            return false;
    }
    if (n < 1 || k < 0 || k >= n || n > 1000000)
        return cli_usage_error("sweep", "shard %ld/%ld: want 0 <= K < N", k, n), false;
    o->shard_index = (int)k;
    o->shard_count = (int)n;
    return true;
}

/* A config for --model files, through the config parser so every default
 * and check is the one `flipcheck run` uses. */
static fc_status config_from_models(const args *a, fc_config *cfg, fc_err *err)
{
    cJSON *root = cJSON_CreateObject(), *ms = cJSON_AddArrayToObject(root, "models");
    fc_status st = ms ? FC_OK : fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    for (int i = 0; !st && i < a->n_models; i++) {
        const char *base = strrchr(a->models[i], '/');
        base = base ? base + 1 : a->models[i];
        char name[128];
        snprintf(name, sizeof name, "%s", base);
        char *dot = strstr(name, ".onnx");
        if (dot)
            *dot = '\0';
        for (int j = 0; j < i; j++)   /* same stem twice: keep them apart */
            if (!strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(ms, j), "name")->valuestring, name)) {
                size_t l = strlen(name);
                snprintf(name + (l < 100 ? l : 100), sizeof name - (l < 100 ? l : 100), "-%d", i);
            }
        cJSON *m = cJSON_CreateObject(), *i8 = NULL, *d = NULL;
        bool ok = m && cJSON_AddItemToArray(ms, m) && cJSON_AddStringToObject(m, "name", name) &&
                  cJSON_AddStringToObject(m, "fp32", a->models[i]) &&
                  (i8 = cJSON_AddObjectToObject(m, "int8")) &&
                  (i < a->n_int8 ? cJSON_AddStringToObject(i8, "file", a->int8[i]) != NULL
                                 : cJSON_AddStringToObject(i8, "calibrate", "minmax") != NULL) &&
                  (d = cJSON_AddObjectToObject(m, "data")) &&
                  cJSON_AddStringToObject(d, "test", a->data) &&
                  (!a->labels || cJSON_AddStringToObject(d, "labels", a->labels)) &&
                  cJSON_AddStringToObject(d, "calib", a->calib ? a->calib : a->data) &&
                  (!a->labels || a->calib || cJSON_AddStringToObject(d, "calib_labels", a->labels));
        if (!ok)
            st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    }
    char *text = st ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!st && !text)
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    if (!st)
        st = fc_config_parse(text, "command line", ".", cfg, err);
    fc_free(text);
    return st;
}

static const char *data_root(void)
{
    const char *env = getenv("FLIPCHECK_DATA_ROOT");
    return env && env[0] ? env : FLIPCHECK_SOURCE_DIR;
}

/* Fields of documents that may come from other files: never NULL. */
static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

static double num_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int print_regressions(const cJSON *doc)
{
    const cJSON *r;
    int n = 0;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "regressions")) {
        const char *kind = str_of(r, "kind");
        const char *m = str_of(r, "model");
        const char *at = str_of(r, "attack");
        if (!strcmp(kind, "crash"))
            printf("REGRESSION crash: %s %s block %g: %s\n", m, at,
                   num_of(r, "block"),
                   str_of(r, "error"));
        else
            printf("REGRESSION %s: %s %s %s eps %g: %.4f -> %.4f\n", kind, m, at,
                   str_of(r, "engine"),
                   num_of(r, "eps"),
                   num_of(r, "baseline"),
                   num_of(r, "now"));
        n++;
    }
    return n;
}

/* Shared with `flipcheck merge`: baseline, sweep.json, exit code. */
int cli_sweep_finish(cJSON *doc, const char *out, const char *baseline, double tol,
                     double flip_tol)
{
    fc_err err;
    fc_err_clear(&err);
    int regressions = 0;
    if (baseline) {
        cJSON *old = NULL;
        fc_status st = fc_sweep_load(baseline, &old, &err);
        if (!st)
            st = fc_sweep_compare(doc, old, tol / 100.0, flip_tol / 100.0, &regressions, &err);
        cJSON_Delete(old);
        if (st) {
            cJSON_Delete(doc);
            return cli_report(baseline, &err);
        }
    }
    fc_status st = fc_sweep_write(doc, out, &err);
    /* report.json, report.html (curves, regressions, failures), junit.xml */
    if (!st)
        st = fc_report_write_all(doc, out, &err);
    int failures = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "failures"));
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(doc, "failures"))
        printf("FAILED %s %s block %g: %s\n", str_of(f, "model"),
               str_of(f, "attack"),
               num_of(f, "block"),
               str_of(f, "error"));
    print_regressions(doc);
    printf("%d curves, %d failed units", cJSON_GetArraySize(cJSON_GetObjectItem(doc, "curves")),
           failures);
    if (baseline)
        printf(", %d regressions against %s", regressions, baseline);
    printf("; results in %s/sweep.json, report.html, junit.xml\n", out);
    cJSON_Delete(doc);
    if (st)
        return cli_report(out, &err);
    return regressions || failures ? CLI_EXIT_CHECK_FAILED : CLI_EXIT_OK;
}

int cli_sweep_main(int argc, char **argv)
{
    static const cli_opt opts[O_COUNT] = {
        [O_CONFIG] = {"--config", true},     [O_MODEL] = {"--model", true},
        [O_INT8] = {"--int8", true},         [O_DATA] = {"--data", true},
        [O_LABELS] = {"--labels", true},     [O_CALIB] = {"--calib", true},
        [O_ATTACKS] = {"--attacks", true},   [O_EPS] = {"--eps", true},
        [O_ENGINES] = {"--engines", true},   [O_JOBS] = {"--jobs", true},
        [O_SHARD] = {"--shard", true},       [O_SHARD_COUNT] = {"--shard-count", true},
        [O_BASELINE] = {"--baseline", true}, [O_TOL] = {"--tolerance", true},
        [O_FLIP_TOL] = {"--flip-tolerance", true}, [O_OUT] = {"--out", true},
        [O_BLOCK] = {"--block", true},       [O_MAXIMG] = {"--max-images", true},
        [O_STEPS] = {"--pgd-steps", true},   [O_QUERIES] = {"--queries", true},
        [O_SEED] = {"--seed", true},         [O_QUIET] = {"--quiet", false}};
    args a = {.out = "flipcheck-sweep", .tol = 2.0, .flip_tol = 2.0};
    fc_sweep_options o;
    memset(&o, 0, sizeof o);
    o.jobs = 1;
    const char *attacks = "fgsm,pgd", *engines = "f32,q8", *eps = "0:0.1:0.005";
    bool quiet = false;
    long v_l;
    cli_parser p;
    cli_parser_init(&p, "sweep", argc, argv, opts, O_COUNT);
    const char *v;
    for (int k; (k = cli_next(&p, &v)) != CLI_ARG_END;) {
        switch (k) {
        case CLI_ARG_ERR: return CLI_EXIT_USAGE;
        case CLI_ARG_HELP: fputs(usage, stdout); return CLI_EXIT_OK;
        case CLI_ARG_POS: return cli_usage_error("sweep", "unexpected argument '%s'", v);
        case O_CONFIG: a.config = v; break;
        case O_MODEL:
        case O_INT8:
            if ((k == O_MODEL ? a.n_models : a.n_int8) == MAX_MODELS)
                return cli_usage_error("sweep", "at most %d models", MAX_MODELS);
            if (k == O_MODEL)
                a.models[a.n_models++] = v;
            else
                a.int8[a.n_int8++] = v;
            break;
        case O_DATA: a.data = v; break;
        case O_LABELS: a.labels = v; break;
        case O_CALIB: a.calib = v; break;
        case O_ATTACKS: attacks = v; break;
        case O_EPS: eps = v; break;
        case O_ENGINES: engines = v; break;
        case O_JOBS:
            if (!cli_parse_int("sweep", "--jobs", v, 1, 64, &v_l))
                return CLI_EXIT_USAGE;
            o.jobs = (int)v_l;
            break;
        case O_SHARD: a.shard = v; break;
        case O_SHARD_COUNT: a.shard_count = v; break;
        case O_BASELINE: a.baseline = v; break;
        case O_TOL:
        case O_FLIP_TOL: {
            double t;
            if (!parse_double(k == O_TOL ? "--tolerance" : "--flip-tolerance", v, &t))
                return CLI_EXIT_USAGE;
            if (t < 0 || t > 100)
                return cli_usage_error("sweep", "tolerances are points in [0, 100]");
            *(k == O_TOL ? &a.tol : &a.flip_tol) = t;
            break;
        }
        case O_OUT: a.out = v; break;
        case O_BLOCK:
            if (!cli_parse_int("sweep", "--block", v, 1, 4096, &v_l))
                return CLI_EXIT_USAGE;
            o.block = v_l;
            break;
        case O_MAXIMG:
            if (!cli_parse_int("sweep", "--max-images", v, 1, 100000000, &v_l))
                return CLI_EXIT_USAGE;
            o.max_images = v_l;
            break;
        case O_STEPS:
            if (!cli_parse_int("sweep", "--pgd-steps", v, 1, 10000, &v_l))
                return CLI_EXIT_USAGE;
            o.pgd_steps = (int)v_l;
            break;
        case O_QUERIES:
            if (!cli_parse_int("sweep", "--queries", v, 2, 100000000, &v_l))
                return CLI_EXIT_USAGE;
            o.boundary_queries = v_l;
            break;
        case O_SEED:
            if (!cli_parse_int("sweep", "--seed", v, 0, 2147483647, &a.seed))
                return CLI_EXIT_USAGE;
            a.seed_set = true;
            break;
        case O_QUIET: quiet = true; break;
        default: break;
        }
    }
    if (a.config && a.n_models)
        return cli_usage_error("sweep", "give --config or --model, not both");
    if (a.n_models && !a.data)
        return cli_usage_error("sweep", "--model needs --data");
    if (!a.n_models && (a.data || a.labels || a.n_int8 || a.calib))
        return cli_usage_error("sweep", "--data, --labels, --int8 and --calib go with --model");
    if (a.n_int8 > a.n_models)
        return cli_usage_error("sweep", "more --int8 than --model");
    if (!parse_eps(eps, &o) || !parse_lists(attacks, engines, &o) || !resolve_shard(&a, &o))
        return CLI_EXIT_USAGE;
    fc_config cfg;
    fc_err err;
    fc_err_clear(&err);
    fc_status st = a.config ? fc_config_load(a.config, &cfg, &err)
                   : a.n_models ? config_from_models(&a, &cfg, &err)
                                : fc_config_default(data_root(), &cfg, &err);
    if (st)
        return cli_report(a.config ? a.config : "sweep", &err);
    if (a.seed_set)
        for (int i = 0; i < cfg.n_models; i++)
            cfg.models[i].seed = (uint64_t)a.seed;
    o.cfg = &cfg;
    o.out_dir = a.out;
    o.progress = quiet ? NULL : stderr;
    o.progress_tty = !quiet && isatty(STDERR_FILENO);
    cJSON *doc = NULL;
    fc_sweep_stats stats;
    st = fc_sweep_run(&o, &doc, &stats, &err);
    fc_config_free(&cfg);
    if (st)
        return cli_report(a.out, &err);
    /* An image here is one model's image through every attack, eps and engine. */
    int n_attacks = __builtin_popcount(o.attacks);
    double images = (double)stats.images / n_attacks;
    printf("shard %d/%d: %lld units (%lld from the journal), %.0f images in %.1f s (%.2f "
           "images/s)\n",
           o.shard_index, o.shard_count, (long long)stats.units, (long long)stats.units_skipped,
           images, stats.seconds, stats.seconds > 0 ? images / stats.seconds : 0.0);
    return cli_sweep_finish(doc, a.out, a.baseline, a.tol, a.flip_tol);
}
