/* TCase "privacy": a loss-threshold membership inference attack (Yeom et
 * al., 2018).  Members are the calibration images (taken from the training
 * set), non-members as many test images; the attacker guesses "member"
 * when an image's cross-entropy loss is below a threshold.  Reported for
 * the fp32 model and its twin: the advantage (the best TPR - FPR over all
 * thresholds) and the AUC (the probability that a random member has a
 * lower loss than a random non-member, ties counting half). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "suite_internal.h"
#include "suites/fc_suites.h"

typedef struct scored {
    double loss;
    int member;
} scored;

static int cmp_loss(const void *a, const void *b)
{
    double x = ((const scored *)a)->loss, y = ((const scored *)b)->loss;
    return (x > y) - (x < y);
}

/* Advantage and AUC from losses sorted ascending (equal losses are one
 * threshold step, so a tie never splits). */
static void mia_stats(scored *s, int64_t n, int64_t n_mem, double *adv, double *auc)
{
    qsort(s, (size_t)n, sizeof *s, cmp_loss);
    int64_t n_non = n - n_mem, tp = 0, fp = 0;
    double best = 0, area = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, m = 0, k = 0;
        for (; j < n && s[j].loss == s[i].loss; j++)
            s[j].member ? m++ : k++;
        /* Members in this tie group beat every non-member above it, and
         * half of the non-members inside it. */
        area += (double)m * ((double)(n_non - fp - k) + 0.5 * (double)k);
        tp += m;
        fp += k;
        double d = (double)tp / (double)n_mem - (double)fp / (double)n_non;
        best = d > best ? d : best;
        i = j;
    }
    *adv = best;
    *auc = area / ((double)n_mem * (double)n_non);
}

/* Per-image cross-entropy of m on `images` with `labels`. */
static fc_status losses(fc_model *m, const fc_tensor *images, const int64_t *labels, int64_t n,
                        int member, scored *out, fc_case_out *o)
{
    fc_tensor z = {0};
    if (case_logits(m, images, &z, o))
        return FC_ERR_INVALID_ARG;
    int64_t k = z.dims[1];
    for (int64_t i = 0; i < n; i++) {
        const float *row = (const float *)z.data + i * k;
        fc_loss l = {FC_LOSS_CE, labels};
        out[i].loss = fc_loss_eval(&l, labels[i], row, k, NULL);
        out[i].member = member;
    }
    fc_tensor_release(&z);
    return FC_OK;
}

static void case_mia(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    bool int8 = c->mode == 1;
    if (!ctx->calib.n || !ctx->calib.labels) {
        case_fail(o, "%s: membership inference needs labelled training images (data.calib): %s",
                  ctx->mc->name, ctx->calib_error[0] ? ctx->calib_error : "they have no labels");
        return;
    }
    if (!ctx->test.n || !ctx->test.labels) {
        case_fail(o, "%s: membership inference needs labelled test images", ctx->mc->name);
        return;
    }
    int64_t n_mem = ctx->calib.n, n_non = ctx->test.n < n_mem ? ctx->test.n : n_mem;
    fc_model *m = int8 ? case_open_int8(ctx, "q8", o) : case_open_fp32(ctx, "f32", o);
    scored *s = fc_malloc((size_t)(n_mem + n_non) * sizeof *s);
    if (!m || !s) {
        if (m && !s)
            case_fail(o, "out of memory");
        fc_model_free(m);
        fc_free(s);
        return;
    }
    fc_dataset non = case_test_view(ctx, n_non);
    if (!losses(m, &ctx->calib.images, ctx->calib.labels, n_mem, 1, s, o) &&
        !losses(m, &non.images, non.labels, n_non, 0, s + n_mem, o)) {
        double mean_mem = 0, mean_non = 0;
        for (int64_t i = 0; i < n_mem; i++)
            mean_mem += s[i].loss / (double)n_mem;
        for (int64_t i = 0; i < n_non; i++)
            mean_non += s[n_mem + i].loss / (double)n_non;
        double adv, auc;
        mia_stats(s, n_mem + n_non, n_mem, &adv, &auc);
        case_metric_str(o, "model", int8 ? "int8" : "fp32");
        case_metric(o, "members", (double)n_mem);
        case_metric(o, "non_members", (double)n_non);
        case_metric(o, "member_loss_mean", mean_mem);
        case_metric(o, "non_member_loss_mean", mean_non);
        case_metric(o, "membership_advantage", adv);
        case_metric(o, "membership_auc", auc);
        case_check_max(o, ctx, "max_membership_advantage", ctx->mc->th.max_membership_advantage,
                       adv, int8 ? "membership advantage (int8)" : "membership advantage (fp32)");
        case_summary(o, "advantage %.3f, AUC %.3f", adv, auc);
    }
    fc_free(s);
    fc_model_free(m);
}

/* Only with training images configured: without members there is no
 * attack to run (the suite is then absent from the results, not passed). */
fc_status suite_privacy_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err)
{
    if (!ctx->mc->calib_data)
        return FC_OK;
    suite_case *a = suite_cases_add(cs, 7, "membership_fp32", "f32", case_mia);
    suite_case *b = a ? suite_cases_add(cs, 7, "membership_int8", "q8", case_mia) : NULL;
    if (!b)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
    b->mode = 1;
    return FC_OK;
}
