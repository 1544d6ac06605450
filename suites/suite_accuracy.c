/* TCases "accuracy" (fp32 and int8 accuracy, the drop) and "agreement"
 * (where fp32 and int8 disagree; engines against their oracles; batch
 * dependence of dynamically quantized twins).
 *
 * The fp32 model runs on f32 and the twin on q8, the engines a deployment
 * would use; the oracles (f32-ref, q8-ref) are compared on a prefix of the
 * data because they are slow by design. */
#include <math.h>
#include <string.h>

#include "attacks/fc_metrics.h"
#include "core/fc_alloc.h"
#include "suite_internal.h"
#include "suites/fc_suites.h"

#define REF_F32_IMAGES 16     /* f32 vs f32-ref (the oracle is slow by design) */
#define REF_Q8_IMAGES 64      /* q8 vs q8-ref */
#define BATCH_DEP_IMAGES 64   /* alone vs in one batch */
#define ENGINE_TOLERANCE 1e-4 /* f32 vs f32-ref, max abs logit difference */

static bool has_engine(const suite_ctx *ctx, const char *e)
{
    for (int i = 0; i < ctx->mc->n_engines; i++)
        if (!strcmp(ctx->mc->engines[i], e))
            return true;
    return false;
}

static bool need_data(const suite_ctx *ctx, fc_case_out *o, bool labels)
{
    if (!ctx->test.n) {
        case_fail(o, "%s: no test data: %s", ctx->mc->name,
                  ctx->data_error[0] ? ctx->data_error : "none configured");
        return false;
    }
    if (labels && !ctx->test.labels) {
        case_fail(o, "%s: the test data has no labels", ctx->mc->name);
        return false;
    }
    return true;
}

static double accuracy(const fc_tensor *logits, const int64_t *labels)
{
    int64_t n = logits->dims[0], hit = 0;
    int64_t *top1 = fc_malloc((size_t)n * sizeof *top1);
    if (!top1)
        return NAN;
    fc_logits_top1(logits, top1, NULL);
    for (int64_t i = 0; i < n; i++)
        hit += top1[i] == labels[i];
    fc_free(top1);
    return (double)hit / (double)n;
}

/* Logits of the first n test images (n <= 0: all) on the fp32 model or the
 * twin; 0 on success. */
static fc_status run_on(const suite_ctx *ctx, bool int8, const char *engine, int64_t n,
                        fc_tensor *logits, fc_case_out *o)
{
    fc_model *m = int8 ? case_open_int8(ctx, engine, o) : case_open_fp32(ctx, engine, o);
    if (!m)
        return FC_ERR_INVALID_ARG;
    fc_dataset v = case_test_view(ctx, n);
    fc_status st = case_logits(m, &v.images, logits, o);
    fc_model_free(m);
    return st;
}

static void case_accuracy(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    (void)c;
    if (!need_data(ctx, o, true))
        return;
    fc_tensor lf = {0}, lq = {0};
    if (!run_on(ctx, false, "f32", 0, &lf, o) && !run_on(ctx, true, "q8", 0, &lq, o)) {
        double af = accuracy(&lf, ctx->test.labels), aq = accuracy(&lq, ctx->test.labels);
        case_metric(o, "images", (double)ctx->test.n);
        case_metric(o, "fp32_accuracy", af);
        case_metric(o, "int8_accuracy", aq);
        case_metric(o, "int8_accuracy_drop", af - aq);
        case_check_max(o, ctx, "max_int8_accuracy_drop", ctx->mc->th.max_int8_accuracy_drop,
                       af - aq, "fp32 accuracy - int8 accuracy");
        case_summary(o, "fp32 %.3f int8 %.3f drop %+.3f", af, aq, af - aq);
    }
    fc_tensor_release(&lf);
    fc_tensor_release(&lq);
}

static void softmax_row(const float *z, int64_t k, double *p)
{
    double mx = z[0], s = 0;
    for (int64_t j = 1; j < k; j++)
        mx = z[j] > mx ? z[j] : mx;
    for (int64_t j = 0; j < k; j++)
        s += p[j] = exp((double)z[j] - mx);
    for (int64_t j = 0; j < k; j++)
        p[j] /= s;
}

static void case_fp32_vs_int8(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    (void)c;
    if (!need_data(ctx, o, false))
        return;
    fc_tensor lf = {0}, lq = {0};
    int64_t n = ctx->test.n, k = 0;
    double *drop = NULL, *pf = NULL, *pq = NULL;
    if (run_on(ctx, false, "f32", 0, &lf, o) || run_on(ctx, true, "q8", 0, &lq, o))
        goto done;
    k = lf.dims[1];
    drop = fc_malloc((size_t)n * sizeof *drop);
    pf = fc_malloc((size_t)k * sizeof *pf);
    pq = fc_malloc((size_t)k * sizeof *pq);
    if (!drop || !pf || !pq) {
        case_fail(o, "out of memory");
        goto done;
    }
    int64_t flips = 0;
    double kl = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *zf = (const float *)lf.data + i * k, *zq = (const float *)lq.data + i * k;
        softmax_row(zf, k, pf);
        softmax_row(zq, k, pq);
        int64_t tf = 0, tq = 0;
        for (int64_t j = 1; j < k; j++) {
            tf = zf[j] > zf[tf] ? j : tf;
            tq = zq[j] > zq[tq] ? j : tq;
        }
        flips += tf != tq;
        /* The class that matters: the true one, or fp32's answer without labels. */
        int64_t cls = ctx->test.labels ? ctx->test.labels[i] : tf;
        drop[i] = pf[cls] - pq[cls];
        for (int64_t j = 0; j < k; j++)
            if (pf[j] > 0)
                kl += pf[j] * (log(pf[j]) - log(pq[j] > 1e-300 ? pq[j] : 1e-300));
    }
    fc_stats st;
    fc_err err = {0};
    if (fc_stats_compute(drop, (size_t)n, &st, &err)) {
        case_fail(o, "%s", err.msg);
        goto done;
    }
    double flip_rate = (double)flips / (double)n;
    case_metric(o, "images", (double)n);
    case_metric(o, "flip_rate", flip_rate);
    case_metric(o, "flips", (double)flips);
    case_metric(o, "confidence_drop_mean", st.mean);
    case_metric(o, "confidence_drop_p95", st.p95);
    case_metric(o, "confidence_drop_max", st.max);
    case_metric(o, "kl_divergence_mean", kl / (double)n);
    /* The distribution for the report: 20 bins over [-1, 1]. */
    cJSON *hist = cJSON_AddObjectToObject(o->metrics, "confidence_drop_hist");
    cJSON *edges = hist ? cJSON_AddArrayToObject(hist, "edges") : NULL;
    cJSON *counts = hist ? cJSON_AddArrayToObject(hist, "counts") : NULL;
    int64_t bins[20] = {0};
    for (int64_t i = 0; i < n; i++) {
        int b = (int)floor((drop[i] + 1.0) / 0.1);
        bins[b < 0 ? 0 : b > 19 ? 19 : b]++;
    }
    for (int b = 0; edges && counts && b <= 20; b++) {
        cJSON_AddItemToArray(edges, cJSON_CreateNumber(-1.0 + 0.1 * b));
        if (b < 20)
            cJSON_AddItemToArray(counts, cJSON_CreateNumber((double)bins[b]));
    }
    case_check_max(o, ctx, "max_flip_rate", ctx->mc->th.max_flip_rate, flip_rate,
                   "fp32 vs int8 top-1 disagreement");
    case_check_max(o, ctx, "max_confidence_drop", ctx->mc->th.max_confidence_drop, st.p95,
                   "p95 confidence drop");
    case_summary(o, "flip %.3f, conf drop p95 %.3f, KL %.4f", flip_rate, st.p95, kl / (double)n);
done:
    fc_free(drop);
    fc_free(pf);
    fc_free(pq);
    fc_tensor_release(&lf);
    fc_tensor_release(&lq);
}

/* An engine against its oracle on a prefix of the data: f32 within
 * ENGINE_TOLERANCE of f32-ref, q8 bit-exact with q8-ref. */
static void case_oracle(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    bool int8 = c->mode == 1;
    if (!need_data(ctx, o, false))
        return;
    int64_t n = int8 ? REF_Q8_IMAGES : REF_F32_IMAGES;
    n = n < ctx->test.n ? n : ctx->test.n;
    const char *fast = int8 ? "q8" : "f32", *ref = int8 ? "q8-ref" : "f32-ref";
    fc_tensor a = {0}, b = {0};
    if (!run_on(ctx, int8, fast, n, &a, o) && !run_on(ctx, int8, ref, n, &b, o)) {
        const float *x = a.data, *y = b.data;
        double max_abs = 0;
        int64_t differ = 0;
        for (size_t i = 0; i < a.numel; i++) {
            double d = fabs((double)x[i] - (double)y[i]);
            differ += memcmp(&x[i], &y[i], sizeof x[i]) != 0;
            max_abs = d > max_abs || isnan(d) ? d : max_abs;
        }
        case_metric(o, "images", (double)n);
        case_metric(o, "max_abs_diff", max_abs);
        case_metric(o, "values_not_bit_exact", (double)differ);
        if (int8 && differ)
            case_fail(o, "%s: q8 differs from q8-ref in %lld of %zu logits (max %g): the int8 "
                      "kernels must be bit-exact", ctx->mc->name, (long long)differ, a.numel,
                      max_abs);
        if (!int8 && !(max_abs <= ENGINE_TOLERANCE))
            case_fail(o, "%s: f32 differs from f32-ref by %g (> %g)", ctx->mc->name, max_abs,
                      ENGINE_TOLERANCE);
        if (int8)
            case_summary(o, "%lld images, %lld logits differ", (long long)n, (long long)differ);
        else
            case_summary(o, "%lld images, max |f32 - f32-ref| %.2g", (long long)n, max_abs);
    }
    fc_tensor_release(&a);
    fc_tensor_release(&b);
}

/* For twins whose output depends on the batch: top-1 of each image run alone
 * against the same image run inside one batch. */
static void case_batch_dependence(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    (void)c;
    if (!need_data(ctx, o, false))
        return;
    fc_model *m = case_open_int8(ctx, "q8", o);
    if (!m)
        return;
    const char *why;
    bool dep = fc_graph_batch_dependent(fc_model_graph(m), &why);
    cJSON_AddBoolToObject(o->metrics, "batch_dependent", dep);
    int64_t n = BATCH_DEP_IMAGES < ctx->test.n ? BATCH_DEP_IMAGES : ctx->test.n;
    fc_dataset v = case_test_view(ctx, n);
    fc_tensor batch = {0}, one = {0};
    int64_t flips = 0, k;
    double max_abs = 0;
    fc_model_set_batch(m, n);
    if (case_logits(m, &v.images, &batch, o))
        goto done;
    k = batch.dims[1];
    fc_model_set_batch(m, 1);
    /* Model batch 1 runs every image alone: the same call, other batching. */
    if (case_logits(m, &v.images, &one, o))
        goto done;
    int64_t *tb = fc_malloc((size_t)n * sizeof *tb), *t1 = fc_malloc((size_t)n * sizeof *t1);
    if (!tb || !t1) {
        fc_free(tb);
        fc_free(t1);
        case_fail(o, "out of memory");
        goto done;
    }
    fc_logits_top1(&batch, tb, NULL);
    fc_logits_top1(&one, t1, NULL);
    for (int64_t i = 0; i < n; i++)
        flips += tb[i] != t1[i];
    for (int64_t i = 0; i < n * k; i++) {
        double d = fabs((double)((float *)batch.data)[i] - (double)((float *)one.data)[i]);
        max_abs = d > max_abs ? d : max_abs;
    }
    fc_free(tb);
    fc_free(t1);
    case_metric(o, "images", (double)n);
    case_metric(o, "alone_vs_batch_flip_rate", (double)flips / (double)n);
    case_metric(o, "alone_vs_batch_max_abs_diff", max_abs);
    /* A model that says it is batch independent must be: any difference is
     * an engine bug, not a finding about the model. */
    if (!dep && max_abs != 0)
        case_fail(o, "%s: int8 twin is not batch dependent but alone and batched logits differ by "
                  "%g", ctx->mc->name, max_abs);
    case_summary(o, dep ? "batch-dependent: flip rate alone vs batch %.3f"
                        : "batch-independent (alone == batched, flip rate %.0f)",
                 (double)flips / (double)n);
done:
    fc_tensor_release(&batch);
    fc_tensor_release(&one);
    fc_model_free(m);
}

fc_status suite_accuracy_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err)
{
    (void)ctx;
    if (!suite_cases_add(cs, 1, "accuracy", "f32,q8", case_accuracy))
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
    return FC_OK;
}

fc_status suite_agreement_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err)
{
    suite_case *c;
    if (!suite_cases_add(cs, 2, "fp32_vs_int8", "f32,q8", case_fp32_vs_int8))
        goto nomem;
    fc_status st = suite_layer_cases(ctx, cs, err);
    if (st)
        return st;
    if (has_engine(ctx, "f32") && has_engine(ctx, "f32-ref")) {
        if (!(c = suite_cases_add(cs, 2, "f32_vs_f32-ref", "f32,f32-ref", case_oracle)))
            goto nomem;
        c->mode = 0;
    }
    if (has_engine(ctx, "q8") && has_engine(ctx, "q8-ref")) {
        if (!(c = suite_cases_add(cs, 2, "q8_vs_q8-ref", "q8,q8-ref", case_oracle)))
            goto nomem;
        c->mode = 1;
    }
    if (!suite_cases_add(cs, 2, "batch_dependence", "q8", case_batch_dependence))
        goto nomem;
    return FC_OK;
nomem:
    return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
}
