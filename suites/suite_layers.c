/* Agreement test "per_layer": where the int8 twin loses the signal.  Both
 * models run on the first images of the test set and every 8-bit
 * activation is compared with the fp32 one it stands for (fc_layers.h);
 * the worst layer (lowest SQNR) is the headline, all layers are kept for
 * the report.  Dynamic twins have no 8-bit activation with a constant
 * scale: the test says so and passes. */
#include <math.h>
#include <string.h>

#include "io/fc_preproc.h"
#include "quant/fc_layers.h"
#include "suite_internal.h"
#include "suites/fc_suites.h"

#define LAYER_IMAGES 64

static void case_per_layer(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    (void)c;
    if (!ctx->test.n) {
        case_fail(o, "%s: no test data: %s", ctx->mc->name, ctx->data_error);
        return;
    }
    fc_model *fp = case_open_fp32(ctx, "f32", o);
    fc_model *q = fp ? case_open_int8(ctx, "q8", o) : NULL;
    fc_dataset v = case_test_view(ctx, LAYER_IMAGES);
    fc_tensor x = {0};
    fc_layer_report r = {0};
    fc_err err = {0};
    fc_layer_opts lo = {.batch = 64, .f32_engine = "f32", .q8_engine = "q8"};
    if (!q)
        goto done;
    if (fc_preproc_apply(&ctx->mc->pre, &v.images, &x, &err)) {
        case_fail(o, "%s", err.msg);
        goto done;
    }
    fc_status st = fc_layer_compare(fc_model_graph(fp), fc_model_graph(q), &x, &lo, &r, &err);
    if (st == FC_ERR_UNSUPPORTED) {
        case_metric_str(o, "not_compared", err.msg);
        case_summary(o, "no per-layer comparison: %s", err.msg);
        goto done;
    }
    if (st) {
        case_fail(o, "%s: %s", ctx->mc->name, err.msg);
        goto done;
    }
    case_metric(o, "images", (double)r.n_images);
    case_metric(o, "layers", r.n_layers);
    case_metric(o, "unpaired", r.n_unpaired);
    if (r.n_layers) {
        const fc_layer_stat *w = &r.layers[0];
        case_metric_str(o, "worst_layer", w->layer);
        case_metric_str(o, "worst_layer_op", w->op);
        case_metric(o, "worst_sqnr_db", w->sqnr_db);
        case_metric(o, "worst_saturated", w->saturated);
        case_summary(o, "worst layer %s (%s): SQNR %.1f dB, %.2f%% saturated", w->layer, w->op,
                     w->sqnr_db, 100 * w->saturated);
    }
    cJSON *arr = cJSON_AddArrayToObject(o->metrics, "per_layer");
    for (int i = 0; arr && i < r.n_layers; i++) {
        const fc_layer_stat *s = &r.layers[i];
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        cJSON_AddStringToObject(e, "layer", s->layer);
        cJSON_AddStringToObject(e, "op", s->op);
        if (isfinite(s->sqnr_db))
            cJSON_AddNumberToObject(e, "sqnr_db", s->sqnr_db);
        else
            cJSON_AddNullToObject(e, "sqnr_db");   /* exact: +inf */
        cJSON_AddNumberToObject(e, "max_abs", s->max_abs);
        cJSON_AddNumberToObject(e, "cosine", s->cosine);
        cJSON_AddNumberToObject(e, "saturated", s->saturated);
        cJSON_AddItemToArray(arr, e);
    }
done:
    fc_layer_report_free(&r);
    fc_tensor_release(&x);
    fc_model_free(q);
    fc_model_free(fp);
}

fc_status suite_layer_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err)
{
    (void)ctx;
    if (!suite_cases_add(cs, 2, "per_layer", "f32,q8", case_per_layer))
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
    return FC_OK;
}
