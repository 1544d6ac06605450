/* flipcheck attack: one attack (fgsm, pgd, mineps, boundary) on a model,
 * judged by the same model or another one (--eval-model / --eval-engine),
 * summarized as text or JSON; --out writes the adversarial images as PNG
 * and every per-image record as JSON. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attacks/fc_attack.h"
#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "io/fc_dataset.h"
#include "io/fc_png.h"

static const char usage[] =
    "usage: flipcheck attack --model MODEL.onnx --attack fgsm|pgd|mineps|boundary\n"
    "                        [--eps E] [--steps K] [--step-size A] [--queries Q]\n"
    "                        [--engine E] [--eval-model FILE] [--eval-engine E]\n"
    "                        [--labels L.npy] [--seed S] [--out DIR] [--json] DATA...\n"
    "\n"
    "Attacks every image in pixel space [0,1] and reports clean accuracy, robust\n"
    "accuracy (adversarial top-1 = label), flip rate (adversarial top-1 != clean\n"
    "top-1) and the drop of the label's softmax probability (mean, p50, p95), all\n"
    "judged by the eval model (the attacked one unless --eval-model/--eval-engine).\n"
    "\n"
    "  fgsm      x + eps*sign(grad): untargeted on the labels, or --target\n"
    "  pgd       --steps signed steps of --step-size, projected to the eps ball and\n"
    "            [0,1], from a random point of the ball\n"
    "  mineps    per image the smallest eps (bisection up to --eps, default 0.3)\n"
    "            at which FGSM and PGD flip it; prints min, p10, median\n"
    "  boundary  decision-based (Brendel et al. 2018), top-1 only, --queries per\n"
    "            image; prints success rate and the L2 / Linf distances reached\n"
    "\n"
    "  DATA      .npy images (uint8 /255 or float32 [N,C,H,W]; labels from --labels),\n"
    "            PNG files, or folders (class subfolders give the labels)\n"
    "\n"
    "options:\n"
    "  --model FILE        the model to attack (required)\n"
    "  --attack A          fgsm, pgd, mineps or boundary (required)\n"
    "  --engine E          engine of the attacked model: f32 (default) or f32-ref\n"
    "  --eps E             Linf radius in pixels, e.g. 0.03 or 8/255 (default 8/255;\n"
    "                      mineps: the largest eps searched, default 0.3)\n"
    "  --steps K           pgd and mineps' PGD: iterations (default 10)\n"
    "  --step-size A       pgd: per step (default 2.5*eps/steps)\n"
    "  --no-random-start   pgd: start from the image itself\n"
    "  --target T          fgsm/pgd/mineps: aim at class T, or 'least' (least likely)\n"
    "  --search S          mineps: fgsm, pgd or both (default both)\n"
    "  --search-steps N    mineps: bisection steps (default 10)\n"
    "  --queries Q         boundary: budget per image, clean query included (5000)\n"
    "  --eval-model FILE   judge with this model (a transfer attack)\n"
    "  --eval-engine E     engine of the eval model (default: --engine)\n"
    "  --labels L.npy      labels (int64/int32 [N]) for .npy images\n"
    "  --seed S            random starts and boundary draws (default 0)\n"
    "  --batch N           images attacked together (default 64)\n"
    "  --mean L, --std L   preprocessing x = (p - mean) / std, per channel\n"
    "  --max-images N      attack only the first N images\n"
    "  --out DIR           write DIR/adv_NNNNN.png per image and DIR/records.json\n"
    "                      (PNGs are 8-bit: rounding can undo a perturbation that\n"
    "                      sits on the decision boundary; records are the floats')\n"
    "  --json              one JSON object: attack, eps, engine, eval_engine, n,\n"
    "                      clean_accuracy, robust_accuracy, flip_rate,\n"
    "                      confidence_drop {mean, p50, p95}, and per-attack fields\n";

enum {
    O_MODEL, O_ATTACK, O_ENGINE, O_EPS, O_STEPS, O_STEP_SIZE, O_NO_RS, O_TARGET, O_SEARCH,
    O_SEARCH_STEPS, O_QUERIES, O_EVAL_MODEL, O_EVAL_ENGINE, O_LABELS, O_SEED, O_BATCH, O_MEAN,
    O_STD, O_MAX_IMAGES, O_OUT, O_JSON, O_COUNT
};

typedef struct attack_args {
    const char *model, *engine, *eval_model, *eval_engine, *labels, *out, *mean, *std;
    fc_attack_config cfg;
    bool json, eps_given;
    long max_images;
    const char **data;
    int n_data;
} attack_args;

static bool known_engine(const char *kind)
{
    for (const char *const *e = fc_engine_kinds(); *e; e++)
        if (!strcmp(*e, kind))
            return true;
    return false;
}

/* A number, or a fraction "8/255". */
static bool parse_real(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s && *end == '/') {
        const char *d = end + 1;
        double den = strtod(d, &end);
        v = end != d && den != 0.0 ? v / den : NAN;
    }
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        cli_usage_error("attack", "option %s: '%s' is not a number in [%g, %g]", opt, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_u64(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        cli_usage_error("attack", "option %s: '%s' is not a non-negative integer", opt, s);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* One option's value into a; false after printing a usage error. */
static bool take_option(int k, const char *v, attack_args *a)
{
    fc_attack_config *c = &a->cfg;
    long l;
    switch (k) {
    case O_MODEL: a->model = v; return true;
    case O_ENGINE: a->engine = v; return true;
    case O_EVAL_MODEL: a->eval_model = v; return true;
    case O_EVAL_ENGINE: a->eval_engine = v; return true;
    case O_LABELS: a->labels = v; return true;
    case O_OUT: a->out = v; return true;
    case O_MEAN: a->mean = v; return true;
    case O_STD: a->std = v; return true;
    case O_JSON: a->json = true; return true;
    case O_NO_RS: c->random_start = false; return true;
    case O_ATTACK: {
        int kind = fc_attack_kind_parse(v);
        if (kind < 0) {
            cli_usage_error("attack", "option --attack: unknown attack '%s' (fgsm, pgd, mineps, "
                            "boundary)", v);
            return false;
        }
        c->kind = (fc_attack_kind)kind;
        return true;
    }
    case O_EPS: a->eps_given = true; return parse_real("--eps", v, 0.0, 1.0, &c->eps);
    case O_STEP_SIZE: return parse_real("--step-size", v, 0.0, 1.0, &c->step_size);
    case O_SEED: return parse_u64("--seed", v, &c->seed);
    case O_STEPS:
        if (!cli_parse_int("attack", "--steps", v, 1, 100000, &l))
            return false;
        c->steps = (int)l;
        return true;
    case O_SEARCH_STEPS:
        if (!cli_parse_int("attack", "--search-steps", v, 1, 50, &l))
            return false;
        c->search_steps = (int)l;
        return true;
    case O_QUERIES:
        if (!cli_parse_int("attack", "--queries", v, 1, 1000000000L, &l))
            return false;
        c->queries = l;
        return true;
    case O_BATCH:
        if (!cli_parse_int("attack", "--batch", v, 1, 65536, &l))
            return false;
        c->batch = l;
        return true;
    case O_MAX_IMAGES: return cli_parse_int("attack", "--max-images", v, 1, 1L << 40,
                                            &a->max_images);
    case O_TARGET:
        if (!strcmp(v, "least")) {
            c->target = FC_TARGET_LEAST_LIKELY;
            return true;
        }
        if (!cli_parse_int("attack", "--target", v, 0, 1L << 30, &l))
            return false;
        c->target = l;
        return true;
    case O_SEARCH:
        c->mineps_of = !strcmp(v, "fgsm") ? FC_MINEPS_FGSM : !strcmp(v, "pgd") ? FC_MINEPS_PGD
                       : !strcmp(v, "both") ? FC_MINEPS_FGSM | FC_MINEPS_PGD : 0;
        if (!c->mineps_of)
            cli_usage_error("attack", "option --search: '%s' is not fgsm, pgd or both", v);
        return c->mineps_of != 0;
    default: return true;
    }
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, attack_args *a)
{
    static const cli_opt opts[O_COUNT] = {
        [O_MODEL] = {"--model", true}, [O_ATTACK] = {"--attack", true},
        [O_ENGINE] = {"--engine", true}, [O_EPS] = {"--eps", true},
        [O_STEPS] = {"--steps", true}, [O_STEP_SIZE] = {"--step-size", true},
        [O_NO_RS] = {"--no-random-start", false}, [O_TARGET] = {"--target", true},
        [O_SEARCH] = {"--search", true}, [O_SEARCH_STEPS] = {"--search-steps", true},
        [O_QUERIES] = {"--queries", true}, [O_EVAL_MODEL] = {"--eval-model", true},
        [O_EVAL_ENGINE] = {"--eval-engine", true}, [O_LABELS] = {"--labels", true},
        [O_SEED] = {"--seed", true}, [O_BATCH] = {"--batch", true},
        [O_MEAN] = {"--mean", true}, [O_STD] = {"--std", true},
        [O_MAX_IMAGES] = {"--max-images", true}, [O_OUT] = {"--out", true},
        [O_JSON] = {"--json", false},
    };
    a->engine = "f32";
    fc_attack_config_default(&a->cfg, FC_ATTACK_FGSM);
    a->cfg.kind = (fc_attack_kind)-1;
    a->data = fc_calloc((size_t)argc + 1, sizeof *a->data);
    if (!a->data) {
        fprintf(stderr, "flipcheck attack: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    cli_parser p;
    cli_parser_init(&p, "attack", argc, argv, opts, O_COUNT);
    const char *v;
    for (int k; (k = cli_next(&p, &v)) != CLI_ARG_END;) {
        if (k == CLI_ARG_ERR)
            return CLI_EXIT_USAGE;
        if (k == CLI_ARG_HELP) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (k == CLI_ARG_POS)
            a->data[a->n_data++] = v;
        else if (!take_option(k, v, a))
            return CLI_EXIT_USAGE;
    }
    if (!a->model)
        return cli_usage_error("attack", "missing --model MODEL.onnx");
    if ((int)a->cfg.kind < 0)
        return cli_usage_error("attack", "missing --attack fgsm|pgd|mineps|boundary");
    if (a->cfg.kind == FC_ATTACK_MINEPS && !a->eps_given)
        a->cfg.eps = 0.3;
    if (a->cfg.kind == FC_ATTACK_MINEPS && a->cfg.eps <= 0.0)
        return cli_usage_error("attack", "option --eps: mineps needs a largest eps > 0");
    if (a->cfg.kind == FC_ATTACK_BOUNDARY && a->cfg.target != FC_TARGET_NONE)
        return cli_usage_error("attack", "option --target: the boundary attack is untargeted");
    if (!a->eval_engine)
        a->eval_engine = a->engine;
    const char *engines[2] = {a->engine, a->eval_engine};
    for (int i = 0; i < 2; i++)
        if (!known_engine(engines[i]))
            return cli_usage_error("attack", "option %s: unknown engine '%s' (f32, f32-ref)",
                                   i ? "--eval-engine" : "--engine", engines[i]);
    if (!a->n_data)
        return cli_usage_error("attack", "nothing to attack: give DATA (.npy, PNG or folders)");
    return -1;
}

/* --mean/--std into a preprocessing; a one-value list covers every channel. */
static fc_status make_preproc(const attack_args *a, fc_preproc *p, fc_err *err)
{
    fc_preproc_default(p);
    float mean[FC_PREPROC_MAX_CHANNELS] = {0}, std[FC_PREPROC_MAX_CHANNELS] = {1, 1, 1, 1};
    int nm = 1, ns = 1;
    fc_status st = FC_OK;
    if (a->mean)
        st = fc_preproc_parse_list(a->mean, "--mean", mean, &nm, err);
    if (!st && a->std)
        st = fc_preproc_parse_list(a->std, "--std", std, &ns, err);
    if (st || (!a->mean && !a->std))
        return st;
    if (nm != ns && nm != 1 && ns != 1)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "--mean has %d values and --std %d", nm, ns);
    int n = nm > ns ? nm : ns;
    for (int c = 0; c < n; c++) {
        p->mean[c] = mean[nm == 1 ? 0 : c];
        p->std[c] = std[ns == 1 ? 0 : c];
    }
    p->n_channels = n;
    return FC_OK;
}

/* ---- output ------------------------------------------------------------------ */

static bool add_num(cJSON *o, const char *key, double v)
{
    cJSON *n = isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
    return n && cJSON_AddItemToObject(o, key, n);
}

/* {"mean", "p50", "p95"} plus, with `more`, n, min, p10 and max. */
static bool add_stats(cJSON *o, const char *key, const fc_stats *s, bool more)
{
    cJSON *d = cJSON_AddObjectToObject(o, key);
    bool ok = d && add_num(d, "mean", s->mean) && add_num(d, "p50", s->p50) &&
              add_num(d, "p95", s->p95);
    if (ok && more)
        ok = add_num(d, "n", (double)s->n) && add_num(d, "min", s->min) &&
             add_num(d, "p10", s->p10) && add_num(d, "median", s->p50) &&
             add_num(d, "max", s->max);
    return ok;
}

static cJSON *summary_json(const attack_args *a, const fc_attack_result *r)
{
    const fc_attack_config *c = &r->config;
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "attack", fc_attack_kind_name(c->kind)) &&
              add_num(o, "eps", c->kind == FC_ATTACK_BOUNDARY ? NAN : c->eps) &&
              cJSON_AddStringToObject(o, "model", a->model) &&
              cJSON_AddStringToObject(o, "engine", a->engine) &&
              cJSON_AddStringToObject(o, "eval_model", a->eval_model ? a->eval_model : a->model) &&
              cJSON_AddStringToObject(o, "eval_engine", a->eval_engine) &&
              add_num(o, "n", (double)r->n) && add_num(o, "clean_accuracy", r->clean_accuracy) &&
              add_num(o, "robust_accuracy", r->robust_accuracy) &&
              add_num(o, "flip_rate", r->flip_rate) &&
              add_stats(o, "confidence_drop", &r->confidence_drop, false) &&
              add_num(o, "attack_success_rate", r->attack_success_rate) &&
              add_num(o, "source_robust_accuracy", r->source_robust_accuracy) &&
              add_num(o, "seed", (double)c->seed);
    if (ok && c->kind != FC_ATTACK_BOUNDARY)
        ok = (c->target == FC_TARGET_NONE ? cJSON_AddNullToObject(o, "target") != NULL
              : c->target == FC_TARGET_LEAST_LIKELY
                  ? cJSON_AddStringToObject(o, "target", "least_likely") != NULL
                  : add_num(o, "target", (double)c->target));
    if (ok && (c->kind == FC_ATTACK_PGD || c->kind == FC_ATTACK_MINEPS))
        ok = add_num(o, "steps", c->steps) && cJSON_AddBoolToObject(o, "random_start",
                                                                   c->random_start);
    if (ok && c->kind == FC_ATTACK_PGD)
        ok = add_num(o, "step_size", c->step_size);
    if (ok && c->kind == FC_ATTACK_MINEPS) {
        ok = add_num(o, "eps_max", c->eps) && add_num(o, "search_steps", c->search_steps) &&
             add_num(o, "tolerance", r->tolerance) && add_num(o, "clean_wrong", (double)r->clean_wrong);
        const char *names[2] = {"fgsm", "pgd"};
        for (int m = 0; ok && m < 2; m++) {
            if (!(c->mineps_of & (m ? FC_MINEPS_PGD : FC_MINEPS_FGSM)))
                continue;
            const fc_stats *s = m ? &r->min_eps_pgd : &r->min_eps_fgsm;
            int64_t found = m ? r->found_pgd : r->found_fgsm;
            cJSON *d = cJSON_AddObjectToObject(o, names[m]);
            ok = d && add_num(d, "found", (double)found) &&
                 add_num(d, "not_found", (double)(r->n - found)) && add_num(d, "min", s->min) &&
                 add_num(d, "p10", s->p10) && add_num(d, "median", s->p50) &&
                 add_num(d, "mean", s->mean);
        }
        if (ok && c->mineps_of == (FC_MINEPS_FGSM | FC_MINEPS_PGD))
            ok = add_num(o, "pgd_le_fgsm", r->pgd_le_fgsm);
    }
    if (ok && c->kind == FC_ATTACK_BOUNDARY)
        ok = add_num(o, "queries", (double)c->queries) &&
             add_num(o, "attacked", (double)r->attacked) &&
             add_num(o, "success_rate", r->boundary_success_rate) &&
             add_stats(o, "l2", &r->l2, true) && add_stats(o, "linf", &r->linf, true) &&
             add_stats(o, "queries_used", &r->queries, true);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void print_text(const attack_args *a, const fc_attack_result *r)
{
    const fc_attack_config *c = &r->config;
    printf("%s on %s (%s), judged by %s (%s): %lld images\n", fc_attack_kind_name(c->kind),
           cli_tty(a->model), cli_tty(a->engine), cli_tty(a->eval_model ? a->eval_model : a->model),
           cli_tty(a->eval_engine),
           (long long)r->n);
    if (c->kind == FC_ATTACK_FGSM || c->kind == FC_ATTACK_PGD)
        printf("eps %.6g%s", c->eps, c->kind == FC_ATTACK_PGD ? "" : "\n");
    if (c->kind == FC_ATTACK_PGD)
        printf(", %d steps of %.6g, %s start\n", c->steps, c->step_size,
               c->random_start ? "random" : "clean");
    if (r->has_labels) {
        printf("clean accuracy  %.4f\nrobust accuracy %.4f\n", r->clean_accuracy,
               r->robust_accuracy);
        printf("confidence drop of the label: mean %.4f, p50 %.4f, p95 %.4f\n",
               r->confidence_drop.mean, r->confidence_drop.p50, r->confidence_drop.p95);
    } else {
        printf("no labels: the attack model's clean top-1 stood in; accuracies undefined\n");
    }
    printf("flip rate       %.4f\n", r->flip_rate);
    if (c->target != FC_TARGET_NONE && c->kind != FC_ATTACK_BOUNDARY)
        printf("target %s: reached on the %s model for %.4f of images\n",
               c->target == FC_TARGET_LEAST_LIKELY ? "least likely class" : "class",
               c->kind == FC_ATTACK_MINEPS ? "eval" : "attack", r->attack_success_rate);
    if ((a->eval_model || strcmp(a->eval_engine, a->engine)) && r->has_labels)
        printf("robust accuracy on the attack model itself %.4f (transfer)\n",
               r->source_robust_accuracy);
    if (c->kind == FC_ATTACK_MINEPS) {
        printf("min eps up to %.4g (%d bisection steps, tolerance %.2g):\n", c->eps,
               c->search_steps, r->tolerance);
        for (int m = 0; m < 2; m++) {
            if (!(c->mineps_of & (m ? FC_MINEPS_PGD : FC_MINEPS_FGSM)))
                continue;
            const fc_stats *s = m ? &r->min_eps_pgd : &r->min_eps_fgsm;
            int64_t f = m ? r->found_pgd : r->found_fgsm;
            printf("  %-4s found %lld/%lld: min %.4f, p10 %.4f, median %.4f\n", m ? "pgd" : "fgsm",
                   (long long)f, (long long)r->n, s->min, s->p10, s->p50);
        }
        if (c->mineps_of == (FC_MINEPS_FGSM | FC_MINEPS_PGD))
            printf("  pgd <= fgsm for %.1f%% of images found by both\n", 100 * r->pgd_le_fgsm);
    }
    if (c->kind == FC_ATTACK_BOUNDARY)
        printf("boundary: %lld attacked, success %.4f within %lld queries; L2 median %.4f "
               "(p95 %.4f), Linf median %.4f; queries median %.0f\n", (long long)r->attacked,
               r->boundary_success_rate, (long long)c->queries, r->l2.p50, r->l2.p95,
               r->linf.p50, r->queries.p50);
}

static cJSON *record_json(const fc_attack_result *r, const fc_attack_record *k, const char *png)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && add_num(o, "index", (double)k->index) &&
              (k->file ? cJSON_AddStringToObject(o, "file", k->file)
                       : cJSON_AddNullToObject(o, "file")) &&
              (k->label >= 0 ? add_num(o, "label", (double)k->label)
                             : cJSON_AddNullToObject(o, "label") != NULL) &&
              add_num(o, "clean_top1", (double)k->clean_top1) &&
              add_num(o, "clean_conf", k->clean_conf) &&
              add_num(o, "adv_top1", (double)k->adv_top1) && add_num(o, "adv_conf", k->adv_conf) &&
              add_num(o, "clean_p_label", k->clean_p_label) &&
              add_num(o, "adv_p_label", k->adv_p_label) && add_num(o, "l2", k->l2) &&
              add_num(o, "linf", k->linf) && cJSON_AddBoolToObject(o, "success", k->success) &&
              cJSON_AddStringToObject(o, "png", png);
    if (ok && k->target >= 0)
        ok = add_num(o, "target", (double)k->target);
    if (ok && r->config.kind == FC_ATTACK_BOUNDARY)
        ok = add_num(o, "queries", (double)k->queries);
    /* -1 (not found up to eps_max) is written as null. */
    if (ok && r->config.kind == FC_ATTACK_MINEPS)
        ok = add_num(o, "min_eps_fgsm", k->min_eps_fgsm >= 0 ? k->min_eps_fgsm : NAN) &&
             add_num(o, "min_eps_pgd", k->min_eps_pgd >= 0 ? k->min_eps_pgd : NAN);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* DIR/adv_NNNNN.png for every image and DIR/records.json. */
static fc_status write_out(const attack_args *a, const fc_attack_result *r, cJSON *summary,
                           fc_err *err)
{
    struct stat sb;
    if (mkdir(a->out, 0777) != 0 && !(errno == EEXIST && stat(a->out, &sb) == 0 &&
                                       S_ISDIR(sb.st_mode)))
        return fc_err_set(err, FC_ERR_IO, "%s: cannot create the output folder: %s", a->out,
                          strerror(errno));
    const fc_tensor *t = &r->adv;
    const int ch = (int)t->dims[1];
    const uint32_t h = (uint32_t)t->dims[2], w = (uint32_t)t->dims[3];
    const size_t per = t->numel / (size_t)r->n;
    size_t plen = strlen(a->out) + 40;
    char *path = fc_malloc(plen);
    cJSON *root = cJSON_CreateObject(), *recs = root ? cJSON_AddArrayToObject(root, "records")
                                                     : NULL;
    fc_status st = FC_OK;
    if (!path || !recs || !cJSON_AddItemReferenceToObject(root, "summary", summary))
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory writing %s", a->out);
    for (int64_t i = 0; !st && i < r->n; i++) {
        char name[32];
        snprintf(name, sizeof name, "adv_%05lld.png", (long long)i);
        snprintf(path, plen, "%s/%s", a->out, name);
        st = fc_png_write_chw(path, (const float *)t->data + (size_t)i * per, ch, h, w, err);
        cJSON *rec = st ? NULL : record_json(r, &r->records[i], name);
        if (!st && (!rec || !cJSON_AddItemToArray(recs, rec))) {
            cJSON_Delete(rec);
            st = fc_err_set(err, FC_ERR_NOMEM, "out of memory writing records");
        }
    }
    char *text = st ? NULL : cJSON_Print(root);
    if (!st && !text)
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory writing records");
    if (!st) {
        snprintf(path, plen, "%s/records.json", a->out);
        FILE *f = fopen(path, "w");
        bool wrote = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
        if (f && fclose(f) != 0)
            wrote = false;
        if (!wrote)
            st = fc_err_set(err, FC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    cJSON_free(text);
    cJSON_Delete(root);
    fc_free(path);
    return st;
}

/* ---- running ----------------------------------------------------------------- */

static int run(const attack_args *a)
{
    fc_err err;
    fc_err_clear(&err);
    fc_preproc pre;
    fc_model *am = NULL, *em = NULL;
    fc_dataset data;
    memset(&data, 0, sizeof data);
    fc_attack_result r;
    memset(&r, 0, sizeof r);
    const char *blame = a->model;
    int rc = CLI_EXIT_OK;
    fc_status st = make_preproc(a, &pre, &err);
    if (st) {
        rc = cli_usage_error("attack", "%s", err.msg);
        goto done;
    }
    if (!(st = fc_model_open(a->model, a->engine, &pre, &am, &err)) &&
        (a->eval_model || strcmp(a->eval_engine, a->engine))) {
        blame = a->eval_model ? a->eval_model : a->model;
        st = fc_model_open(blame, a->eval_engine, &pre, &em, &err);
    }
    if (!st) {
        fc_dataset_opts o;
        memset(&o, 0, sizeof o);
        o.channels = fc_model_channels(am);
        o.height = fc_model_height(am);
        o.width = fc_model_width(am);
        o.labels_path = a->labels;
        o.max_images = a->max_images;
        blame = a->data[0];
        st = fc_dataset_load(a->data, a->n_data, &o, &data, &err);
    }
    if (!st) {
        blame = a->model;
        st = fc_attack_run(am, em, &data, &a->cfg, &r, &err);
    }
    cJSON *summary = NULL;
    if (!st && !(summary = summary_json(a, &r)))
        st = fc_err_set(&err, FC_ERR_NOMEM, "out of memory printing JSON");
    if (!st && a->out) {
        blame = a->out;
        st = write_out(a, &r, summary, &err);
    }
    if (!st) {
        if (a->json && !cli_print_json(summary))
            st = fc_err_set(&err, FC_ERR_NOMEM, "out of memory printing JSON");
        else if (!a->json)
            print_text(a, &r);
    }
    cJSON_Delete(summary);
    if (st) {
        err.status = st;
        rc = cli_report(blame, &err);
    }
done:
    fc_attack_result_free(&r);
    fc_dataset_free(&data);
    fc_model_free(em);
    fc_model_free(am);
    return rc;
}

int cli_attack_main(int argc, char **argv)
{
    attack_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0)
        rc = run(&a);
    fc_free(a.data);
    return rc;
}
