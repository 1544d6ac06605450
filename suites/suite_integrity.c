/* TCase "integrity": the fp32 model loads, its weights are finite, its
 * shapes hold together; the int8 twin exists (from its file, or calibrated
 * here into OUT/int8/), loads, and has the fp32 model's interface.
 *
 * int8_twin runs even when the integrity suite is not selected: every int8
 * test after it reads the twin it writes. */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/fc_alloc.h"
#include "io/fc_preproc.h"
#include "onnx/fc_onnx.h"
#include "onnx/fc_onnx_write.h"
#include "quant/fc_quantize.h"
#include "suite_internal.h"
#include "suites/fc_suites.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Float initializers holding NaN or Inf, and the parameter count. */
static void scan_weights(const fc_graph *g, int64_t *params, int64_t *nonfinite,
                         const char **first_bad)
{
    *params = *nonfinite = 0;
    *first_bad = NULL;
    for (int v = 0; v < g->n_values; v++) {
        const fc_tensor *t = g->values[v].init;
        if (!t)
            continue;
        *params += (int64_t)t->numel;
        if (t->dtype != FC_DT_F32)
            continue;
        const float *d = t->data;
        for (size_t i = 0; i < t->numel; i++)
            if (!isfinite(d[i])) {
                if (!*first_bad)
                    *first_bad = g->values[v].name;
                (*nonfinite)++;
            }
    }
}

/* Runs one all-zero image and checks the output is [1, K]. */
static void probe_shapes(fc_model *m, fc_case_out *o, const char *which)
{
    int64_t dims[4] = {1, fc_model_channels(m), fc_model_height(m), fc_model_width(m)};
    fc_tensor x = {0}, y = {0};
    fc_err err = {0};
    if (fc_tensor_alloc(&x, FC_DT_F32, 4, dims, &err)) {
        case_fail(o, "%s", err.msg);
        return;
    }
    if (!case_logits(m, &x, &y, o)) {
        if (y.rank != 2 || y.dims[0] != 1 || y.dims[1] != fc_model_classes(m))
            case_fail(o, "%s model: one image gave an output of rank %d, expected [1, %lld]", which,
                      y.rank, (long long)fc_model_classes(m));
        fc_tensor_release(&y);
    }
    fc_tensor_release(&x);
}

static void case_load_fp32(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    (void)c;
    suite_check_sha256(ctx, ctx->mc->fp32, ctx->mc->sha256, "fp32", o);
    fc_model *m = case_open_fp32(ctx, "f32", o);
    if (!m)
        return;
    const fc_graph *g = fc_model_graph(m);
    suite_check_interface(ctx, g, o);
    int64_t params, nonfinite;
    const char *bad;
    scan_weights(g, &params, &nonfinite, &bad);
    case_metric(o, "nodes", g->n_nodes);
    case_metric(o, "parameters", (double)params);
    case_metric(o, "nonfinite_weights", (double)nonfinite);
    case_metric(o, "opset", (double)g->opset);
    case_metric(o, "channels", fc_model_channels(m));
    case_metric(o, "height", (double)fc_model_height(m));
    case_metric(o, "width", (double)fc_model_width(m));
    case_metric(o, "classes", (double)fc_model_classes(m));
    if (nonfinite)
        case_fail(o, "%s: %lld weights are NaN or Inf (first in '%s')", ctx->mc->name,
                  (long long)nonfinite, bad);
    probe_shapes(m, o, "fp32");
    case_summary(o, "%d nodes, %lld params", g->n_nodes, (long long)params);
    fc_model_free(m);
}

/* Preprocessed calibration images, in the model's input space. */
static void calibrate(const suite_ctx *ctx, fc_case_out *o)
{
    if (!ctx->calib.n) {
        case_fail(o, "%s: cannot calibrate the int8 twin: %s", ctx->mc->name,
                  ctx->calib_error[0] ? ctx->calib_error : "no calibration data configured");
        return;
    }
    fc_err err = {0};
    fc_graph *g = NULL, *q = NULL;
    fc_tensor x = {0};
    double t0 = now_s();
    fc_quant_options qo = {.method = ctx->mc->calibrate, .percentile = ctx->mc->percentile};
    if (fc_onnx_load(ctx->mc->fp32, &g, &err) ||
        fc_preproc_apply(&ctx->mc->pre, &ctx->calib.images, &x, &err) ||
        fc_quantize_graph(g, &x, &qo, &q, &err) || fc_onnx_save(q, ctx->int8_path, &err))
        case_fail(o, "%s: calibrating the int8 twin: %s", ctx->mc->name, err.msg);
    else
        case_metric(o, "calibration_s", now_s() - t0);
    case_metric(o, "calibration_images", (double)ctx->calib.n);
    fc_tensor_release(&x);
    fc_graph_free(q);
    fc_graph_free(g);
}

static void case_int8_twin(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    (void)c;
    static const char *const methods[] = {"none", "minmax", "percentile", "entropy"};
    case_metric_str(o, "source", ctx->int8_calibrated ? "calibrated" : "file");
    if (ctx->int8_calibrated) {
        case_metric_str(o, "calibration", methods[ctx->mc->calibrate]);
        calibrate(ctx, o);
        if (o->failure[0])
            return;
    }
    case_metric_str(o, "file", ctx->int8_path);
    suite_check_sha256(ctx, ctx->int8_path, ctx->int8_calibrated ? "" : ctx->mc->int8_sha256,
                       "int8", o);
    fc_model *fp = case_open_fp32(ctx, "f32", o);
    fc_model *q = fp ? case_open_int8(ctx, "q8", o) : NULL;
    if (!q) {
        fc_model_free(fp);
        return;
    }
    struct stat s32, s8;
    if (!stat(ctx->mc->fp32, &s32) && !stat(ctx->int8_path, &s8) && s32.st_size > 0)
        case_metric(o, "size_ratio", (double)s8.st_size / (double)s32.st_size);
    if (fc_model_channels(q) != fc_model_channels(fp) || fc_model_height(q) != fc_model_height(fp) ||
        fc_model_width(q) != fc_model_width(fp) || fc_model_classes(q) != fc_model_classes(fp))
        case_fail(o, "%s: the int8 twin takes [%d,%lld,%lld] -> %lld classes, the fp32 model "
                  "[%d,%lld,%lld] -> %lld", ctx->mc->name, fc_model_channels(q),
                  (long long)fc_model_height(q), (long long)fc_model_width(q),
                  (long long)fc_model_classes(q), fc_model_channels(fp),
                  (long long)fc_model_height(fp), (long long)fc_model_width(fp),
                  (long long)fc_model_classes(fp));
    fc_engine *e = NULL;
    fc_err err = {0};
    int fused = 0, islands = 0;
    char island_ops[256] = "";
    if (!fc_engine_create(fc_model_graph(q), "q8-ref", &e, &err)) {
        fused = fc_engine_qdq_fused(e);
        islands = fc_engine_float_islands(e, island_ops, sizeof island_ops);
        fc_engine_free(e);
    }
    const char *why;
    bool dep = fc_graph_batch_dependent(fc_model_graph(q), &why);
    case_metric(o, "qdq_groups_fused", fused);
    case_metric(o, "float_island_nodes", islands);
    case_metric_str(o, "float_island_ops", island_ops);
    cJSON_AddBoolToObject(o->metrics, "batch_dependent", dep);
    probe_shapes(q, o, "int8");
    case_summary(o, "%s, %d fused groups, %d float-island nodes%s",
                 ctx->int8_calibrated ? methods[ctx->mc->calibrate] : "file", fused, islands,
                 dep ? ", batch-dependent" : "");
    fc_model_free(q);
    fc_model_free(fp);
}

fc_status suite_integrity_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err)
{
    (void)ctx;
    if (!suite_cases_add(cs, 0, "load_fp32", "", case_load_fp32) ||
        !suite_cases_add(cs, 0, "int8_twin", "", case_int8_twin))
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
    return FC_OK;
}
