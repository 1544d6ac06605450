/* TCase "adversarial": FGSM and PGD at every configured eps, three ways:
 *   <attack>_f32_eps<e>           on the fp32 model, judged by it (direct);
 *   <attack>_transfer_q8_eps<e>   made on fp32, judged by the int8 twin;
 *   <attack>_q8_eps<e>            on the int8 twin directly, through its
 *                                 straight-through gradients.
 * Robust accuracy at the threshold's eps must reach min_robust_accuracy in
 * each; which twin is weaker is worked out when the results are merged
 * (suite_results.c), from the direct runs. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attacks/fc_attack.h"
#include "suite_internal.h"
#include "suites/fc_suites.h"

enum { MODE_FP32 = 0, MODE_TRANSFER = 1, MODE_INT8 = 2 };

static const char *const mode_tag[] = {"f32", "transfer_q8", "q8"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void case_attack(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    if (!ctx->test.n || !ctx->test.labels) {
        case_fail(o, "%s: attacks need labelled test data: %s", ctx->mc->name,
                  ctx->data_error[0] ? ctx->data_error : "the data has no labels");
        return;
    }
    fc_model *src = c->mode == MODE_INT8 ? case_open_int8(ctx, "q8", o)
                                         : case_open_fp32(ctx, "f32", o);
    fc_model *eval = src && c->mode == MODE_TRANSFER ? case_open_int8(ctx, "q8", o) : NULL;
    if (!src || (c->mode == MODE_TRANSFER && !eval)) {
        fc_model_free(src);
        return;
    }
    fc_attack_config ac;
    fc_attack_config_default(&ac, (fc_attack_kind)c->attack);
    ac.eps = c->eps;
    ac.steps = ctx->mc->pgd_steps;
    ac.seed = ctx->mc->seed;
    fc_dataset v = case_test_view(ctx, ctx->mc->attack_images);
    fc_attack_result r = {0};
    fc_err err = {0};
    double t0 = now_s();
    if (fc_attack_run(src, eval, &v, &ac, &r, &err)) {
        case_fail(o, "%s: %s", ctx->mc->name, err.msg);
    } else {
        double secs = now_s() - t0;
        case_metric_str(o, "attack", fc_attack_kind_name(ac.kind));
        case_metric_str(o, "mode", c->mode == MODE_TRANSFER ? "transfer" : "direct");
        case_metric_str(o, "attacked_model", c->mode == MODE_INT8 ? "int8" : "fp32");
        case_metric_str(o, "judged_by", c->mode == MODE_FP32 ? "fp32" : "int8");
        case_metric(o, "eps", ac.eps);
        if (ac.kind == FC_ATTACK_PGD)
            case_metric(o, "steps", ac.steps);
        case_metric(o, "images", (double)r.n);
        case_metric(o, "clean_accuracy", r.clean_accuracy);
        case_metric(o, "robust_accuracy", r.robust_accuracy);
        case_metric(o, "flip_rate", r.flip_rate);
        case_metric(o, "confidence_drop_mean", r.confidence_drop.mean);
        case_metric(o, "confidence_drop_p95", r.confidence_drop.p95);
        case_metric(o, "attack_success_rate", r.attack_success_rate);
        if (c->mode == MODE_TRANSFER)
            case_metric(o, "source_robust_accuracy", r.source_robust_accuracy);
        case_metric(o, "seconds", secs);
        case_metric(o, "images_per_s", secs > 0 ? (double)r.n / secs : NAN);
        bool fgsm = ac.kind == FC_ATTACK_FGSM;
        double th_eps = fgsm ? ctx->mc->th.fgsm_eps : ctx->mc->th.pgd_eps;
        double th_min = fgsm ? ctx->mc->th.fgsm_min_robust_accuracy
                             : ctx->mc->th.pgd_min_robust_accuracy;
        if (fc_threshold_set(th_eps) && fabs(th_eps - ac.eps) < 1e-12) {
            char what[96];
            snprintf(what, sizeof what, "robust accuracy (%s, eps %g, %s)",
                     fc_attack_kind_name(ac.kind), ac.eps, mode_tag[c->mode]);
            case_check_min(o, ctx, fgsm ? "fgsm.min_robust_accuracy" : "pgd.min_robust_accuracy",
                           th_min, r.robust_accuracy, what);
        }
        case_summary(o, "robust %.3f (clean %.3f), flips %.3f", r.robust_accuracy,
                     r.clean_accuracy, r.flip_rate);
        suite_save_examples(ctx, c, src, &r, &v, o);
        fc_attack_result_free(&r);
    }
    fc_model_free(eval);
    fc_model_free(src);
}

#define MINEPS_IMAGES 64
#define MINEPS_MAX 0.1

/* Per image, the smallest FGSM eps (bisection up to MINEPS_MAX) that flips
 * the prediction, on fp32 or directly on the twin. */
static void case_mineps(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    if (!ctx->test.n || !ctx->test.labels) {
        case_fail(o, "%s: the minimal-eps search needs labelled test data", ctx->mc->name);
        return;
    }
    fc_model *m = c->mode == MODE_INT8 ? case_open_int8(ctx, "q8", o)
                                       : case_open_fp32(ctx, "f32", o);
    if (!m)
        return;
    fc_attack_config ac;
    fc_attack_config_default(&ac, FC_ATTACK_MINEPS);
    ac.eps = MINEPS_MAX;
    ac.mineps_of = FC_MINEPS_FGSM;
    ac.search_steps = 7;
    ac.seed = ctx->mc->seed;
    int64_t n = ctx->mc->attack_images > 0 && ctx->mc->attack_images < MINEPS_IMAGES
                    ? ctx->mc->attack_images
                    : MINEPS_IMAGES;
    fc_dataset v = case_test_view(ctx, n);
    fc_attack_result r = {0};
    fc_err err = {0};
    if (fc_attack_run(m, NULL, &v, &ac, &r, &err)) {
        case_fail(o, "%s: %s", ctx->mc->name, err.msg);
        fc_model_free(m);
        return;
    }
    cJSON *arr = cJSON_AddArrayToObject(o->metrics, "min_eps");
    for (int64_t i = 0; arr && i < r.n; i++) {
        double e = r.records[i].min_eps_fgsm;
        cJSON_AddItemToArray(arr, e >= 0 && !isnan(e) ? cJSON_CreateNumber(e) : cJSON_CreateNull());
    }
    case_metric(o, "images", (double)r.n);
    case_metric(o, "eps_max", ac.eps);
    case_metric(o, "tolerance", r.tolerance);
    case_metric(o, "found", (double)r.found_fgsm);
    case_metric(o, "clean_wrong", (double)r.clean_wrong);
    case_metric(o, "min_eps_median", r.min_eps_fgsm.p50);
    case_metric(o, "min_eps_p10", r.min_eps_fgsm.p10);
    case_summary(o, "median min eps %.4f, %lld/%lld flipped by eps <= %g", r.min_eps_fgsm.p50,
                 (long long)r.found_fgsm, (long long)r.n, ac.eps);
    fc_attack_result_free(&r);
    fc_model_free(m);
}

/* The eps list of one attack plus the threshold's eps when it is missing. */
static int eps_list(const fc_model_config *mc, bool fgsm, double *eps)
{
    int n = fgsm ? mc->n_fgsm_eps : mc->n_pgd_eps;
    memcpy(eps, fgsm ? mc->fgsm_eps : mc->pgd_eps, (size_t)n * sizeof *eps);
    double th = fgsm ? mc->th.fgsm_eps : mc->th.pgd_eps;
    if (!fc_threshold_set(th))
        return n;
    for (int i = 0; i < n; i++)
        if (fabs(eps[i] - th) < 1e-12)
            return n;
    eps[n] = th;
    return n + 1;
}

fc_status suite_adversarial_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err)
{
    for (int a = 0; a < 2; a++) {
        double eps[FC_CONFIG_MAX_EPS + 1];
        int n = eps_list(ctx->mc, a == 0, eps);
        for (int i = 0; i < n; i++)
            for (int m = MODE_FP32; m <= MODE_INT8; m++) {
                char name[64];
                snprintf(name, sizeof name, "%s_%s_eps%g", a == 0 ? "fgsm" : "pgd", mode_tag[m],
                         eps[i]);
                suite_case *c = suite_cases_add(cs, 3, name, m == MODE_FP32 ? "f32" : "q8",
                                                case_attack);
                if (!c)
                    return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
                c->attack = a == 0 ? FC_ATTACK_FGSM : FC_ATTACK_PGD;
                c->eps = eps[i];
                c->mode = m;
            }
    }
    for (int m = MODE_FP32; m <= MODE_INT8; m += 2) {
        suite_case *c = suite_cases_add(cs, 3, m == MODE_FP32 ? "mineps_f32" : "mineps_q8",
                                        m == MODE_FP32 ? "f32" : "q8", case_mineps);
        if (!c)
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
        c->mode = m;
    }
    return FC_OK;
}
