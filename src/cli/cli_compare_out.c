/* flipcheck compare --reference: another runtime's outputs on the same data
 * against ours.  The numbers: max abs and max relative error, relative L2,
 * cosine similarity, top-1 agreement, and every row whose error is over
 * the threshold (default 1e-4 absolute, the usual bar for TensorRT against
 * ONNX Runtime on float models). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_compare.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "core/fc_compare.h"
#include "core/fc_npy.h"
#include "onnx/fc_onnx.h"


static fc_status read_reference(const char *path, fc_tensor *t, fc_err *err)
{
    memset(t, 0, sizeof *t);
    fc_status st = cli_has_suffix(path, ".pb") ? fc_onnx_read_tensor_pb(path, t, err)
                                               : fc_npy_read(path, t, err);
    if (!st && t->dtype != FC_DT_F32) {
        st = fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: reference holds %s, expected float32", path,
                        fc_dtype_name(t->dtype));
        fc_tensor_release(t);
    }
    return st;
}

static double json_num(double v) { return isfinite(v) ? v : 1e308; }

int cli_compare_outputs(const fc_tensor *ours, const char *model, const char *ref_path,
                        double max_abs, bool json)
{
    fc_err err = {0};
    fc_tensor ref;
    if (read_reference(ref_path, &ref, &err))
        return cli_report(ref_path, &err);
    fc_diff d;
    fc_status st = fc_diff_outputs(ours, &ref, max_abs, &d, &err);
    fc_tensor_release(&ref);
    if (st) {
        fc_err_prefix(&err, "%s: ", model);
        return cli_report(ref_path, &err);
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON *arr = NULL;
        bool ok = root && cJSON_AddStringToObject(root, "model", model) &&
                  cJSON_AddStringToObject(root, "reference", ref_path) &&
                  cJSON_AddNumberToObject(root, "rows", (double)d.rows) &&
                  cJSON_AddNumberToObject(root, "threshold_max_abs", max_abs) &&
                  cJSON_AddNumberToObject(root, "max_abs_error", json_num(d.max_abs)) &&
                  cJSON_AddNumberToObject(root, "max_rel_error", json_num(d.max_rel)) &&
                  cJSON_AddNumberToObject(root, "rel_l2", json_num(d.rel_l2)) &&
                  cJSON_AddNumberToObject(root, "cosine", d.cosine) &&
                  cJSON_AddNumberToObject(root, "top1_agreement", d.top1_agreement) &&
                  cJSON_AddNumberToObject(root, "rows_over_threshold", (double)d.rows_over) &&
                  cJSON_AddBoolToObject(root, "pass", d.rows_over == 0) &&
                  (arr = cJSON_AddArrayToObject(root, "rows_shown"));
        for (int i = 0; ok && i < d.n_shown; i++) {
            cJSON *o = cJSON_CreateObject();
            ok = o && cJSON_AddNumberToObject(o, "row", (double)d.shown[i].row) &&
                 cJSON_AddNumberToObject(o, "column", (double)d.shown[i].col) &&
                 cJSON_AddNumberToObject(o, "abs_error", json_num(d.shown[i].err));
            if (o)
                cJSON_AddItemToArray(arr, o);
        }
        ok = ok && cli_print_json(root);
        cJSON_Delete(root);
        if (!ok) {
            fc_err_set(&err, FC_ERR_NOMEM, "out of memory printing JSON");
            return cli_report(model, &err);
        }
    } else {
        printf("%s vs %s: %lld rows, max abs error %.3g, max rel error %.3g, rel L2 %.3g, "
               "cosine %.9f, top-1 agreement %.4f\n", model, ref_path, (long long)d.rows,
               d.max_abs, d.max_rel, d.rel_l2, d.cosine, d.top1_agreement);
        for (int i = 0; i < d.n_shown; i++)
            printf("row %lld: abs error %.3g at column %lld (> %g)\n", (long long)d.shown[i].row,
                   d.shown[i].err, (long long)d.shown[i].col, max_abs);
        if (d.rows_over > d.n_shown)
            printf("... %lld more rows over the threshold\n", (long long)(d.rows_over - d.n_shown));
        printf("%s: %lld of %lld rows over max abs error %g\n", d.rows_over ? "FAIL" : "pass",
               (long long)d.rows_over, (long long)d.rows, max_abs);
    }
    return d.rows_over ? CLI_EXIT_CHECK_FAILED : CLI_EXIT_OK;
}
