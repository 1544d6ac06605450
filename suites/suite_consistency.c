/* TCase "consistency": another runtime's outputs (TensorRT, ONNX Runtime,
 * a device) on known data against ours, per configured reference_outputs
 * entry: max abs and relative error, relative L2, cosine, top-1 agreement,
 * and the rows over the entry's max_abs (default 1e-4).  Present only for
 * models that list reference outputs. */
#include <stdio.h>
#include <string.h>

#include "core/fc_compare.h"
#include "core/fc_npy.h"
#include "onnx/fc_onnx.h"
#include "suite_internal.h"

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static void case_reference(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    const fc_reference_output *ref = &ctx->mc->refs[c->index];
    fc_model *m = ref->int8 ? case_open_int8(ctx, ref->engine, o)
                            : case_open_fp32(ctx, ref->engine, o);
    if (!m)
        return;
    fc_dataset data = {0};
    fc_dataset_opts dopts;
    memset(&dopts, 0, sizeof dopts);
    dopts.channels = fc_model_channels(m);
    dopts.height = fc_model_height(m);
    dopts.width = fc_model_width(m);
    dopts.labels_path = ref->labels;
    fc_tensor want = {0}, ours = {0};
    fc_err err = {0};
    fc_status st = has_suffix(ref->file, ".pb") ? fc_onnx_read_tensor_pb(ref->file, &want, &err)
                                                : fc_npy_read(ref->file, &want, &err);
    const char *src = ref->data;
    if (!st)
        st = fc_dataset_load(&src, 1, &dopts, &data, &err);
    if (!st)
        st = fc_model_logits(m, &data.images, &ours, &err);
    fc_diff d;
    if (!st)
        st = fc_diff_outputs(&ours, &want, ref->max_abs, &d, &err);
    if (st) {
        case_fail(o, "%s: reference_outputs[%d]: %s", ctx->mc->name, c->index, err.msg);
    } else {
        case_metric_str(o, "reference", ref->file);
        case_metric_str(o, "model", ref->int8 ? "int8" : "fp32");
        case_metric(o, "rows", (double)d.rows);
        case_metric(o, "max_abs_error", d.max_abs);
        case_metric(o, "max_rel_error", d.max_rel);
        case_metric(o, "rel_l2", d.rel_l2);
        case_metric(o, "cosine", d.cosine);
        case_metric(o, "top1_agreement", d.top1_agreement);
        case_metric(o, "rows_over_threshold", (double)d.rows_over);
        cJSON *rows = cJSON_AddArrayToObject(o->metrics, "rows_shown");
        for (int i = 0; rows && i < d.n_shown; i++)
            cJSON_AddItemToArray(rows, cJSON_CreateNumber((double)d.shown[i].row));
        char th[64];
        snprintf(th, sizeof th, "reference_outputs[%d].max_abs", c->index);
        if (d.rows_over)
            case_fail(o, "%s: threshold %s = %g not met: %lld of %lld rows over it, first row "
                      "%lld (abs error %.3g at column %lld)", ctx->mc->name, th, ref->max_abs,
                      (long long)d.rows_over, (long long)d.rows, (long long)d.shown[0].row,
                      d.shown[0].err, (long long)d.shown[0].col);
        case_summary(o, "max abs %.2g over %lld rows, top-1 agreement %.4f", d.max_abs,
                     (long long)d.rows, d.top1_agreement);
    }
    fc_tensor_release(&ours);
    fc_tensor_release(&want);
    fc_dataset_free(&data);
    fc_model_free(m);
}

fc_status suite_consistency_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err)
{
    for (int i = 0; i < ctx->mc->n_refs; i++) {
        char name[64];
        snprintf(name, sizeof name, "reference_%d_%s", i, ctx->mc->refs[i].engine);
        suite_case *c = suite_cases_add(cs, 8, name, ctx->mc->refs[i].engine, case_reference);
        if (!c)
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
        c->index = i;
    }
    return FC_OK;
}
