/* The most-flipped images of an attack test, kept for the report: per
 * example one .npy [3, C, H, W] holding the clean image, the adversarial
 * one, and where the attacked model looked (|input gradient| summed over
 * channels, scaled to [0, 1], repeated per channel), plus a metrics entry
 * {"index", "label", "clean_top1", "adv_top1", "confidence_drop", "file"}
 * with file relative to the run's output folder. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "core/fc_npy.h"
#include "suite_internal.h"

#define MAX_EXAMPLES 4

typedef struct pick {
    int64_t rec;
    double drop;
} pick;

static int by_drop(const void *a, const void *b)
{
    double x = ((const pick *)a)->drop, y = ((const pick *)b)->drop;
    return (x < y) - (x > y);
}

void suite_save_examples(const suite_ctx *ctx, const suite_case *c, fc_model *attacked,
                         const fc_attack_result *r, const fc_dataset *data, fc_case_out *o)
{
    pick p[MAX_EXAMPLES + 1];
    int n = 0;
    for (int64_t i = 0; i < r->n; i++) {
        const fc_attack_record *rec = &r->records[i];
        if (rec->adv_top1 == rec->clean_top1)
            continue;
        double d = (double)rec->clean_p_label - (double)rec->adv_p_label;
        p[n++] = (pick){i, isnan(d) ? 0 : d};
        qsort(p, (size_t)n, sizeof *p, by_drop);
        n = n > MAX_EXAMPLES ? MAX_EXAMPLES : n;
    }
    cJSON *arr = cJSON_AddArrayToObject(o->metrics, "examples");
    if (!n || !arr)
        return;
    char dir[SUITE_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/examples", ctx->case_dir);
    fc_err err = {0};
    if (fc_file_mkdirs(dir, &err))
        return;   /* the examples are for the report; the test's verdict stands without */
    int64_t chw = (int64_t)(data->images.numel / (size_t)data->n);
    int64_t dims[5] = {n, data->images.dims[1], data->images.dims[2], data->images.dims[3]};
    fc_tensor x = {0}, g = {0};
    int64_t *labels = fc_calloc((size_t)n, sizeof *labels);
    if (!labels || fc_tensor_alloc(&x, FC_DT_F32, 4, dims, &err)) {
        fc_free(labels);
        return;
    }
    for (int k = 0; k < n; k++) {
        const fc_attack_record *rec = &r->records[p[k].rec];
        memcpy((float *)x.data + k * chw, (const float *)data->images.data + rec->index * chw,
               (size_t)chw * sizeof(float));
        labels[k] = rec->label >= 0 ? rec->label : rec->clean_top1;
    }
    fc_loss loss = {FC_LOSS_CE, labels};
    bool have_grad = !fc_model_grad(attacked, &x, &loss, &g, NULL, NULL, &err);
    int64_t edims[4] = {3, dims[1], dims[2], dims[3]};
    int64_t hw = dims[2] * dims[3];
    for (int k = 0; k < n; k++) {
        const fc_attack_record *rec = &r->records[p[k].rec];
        fc_tensor e = {0};
        if (fc_tensor_alloc(&e, FC_DT_F32, 4, edims, &err))
            break;
        float *d = e.data;
        memcpy(d, (float *)x.data + k * chw, (size_t)chw * sizeof(float));
        memcpy(d + chw, (const float *)r->adv.data + rec->index * chw,
               (size_t)chw * sizeof(float));
        if (have_grad) {
            const float *gk = (const float *)g.data + k * chw;
            double mx = 0;
            for (int64_t q = 0; q < hw; q++) {
                double s = 0;
                for (int64_t ch = 0; ch < dims[1]; ch++)
                    s += fabs(gk[ch * hw + q]);
                d[2 * chw + q] = (float)s;
                mx = s > mx ? s : mx;
            }
            for (int64_t q = 0; q < hw; q++) {
                float v = mx > 0 ? (float)(d[2 * chw + q] / mx) : 0.0f;
                for (int64_t ch = 0; ch < dims[1]; ch++)
                    d[2 * chw + ch * hw + q] = v;
            }
        }
        char rel[SUITE_PATH_MAX], path[SUITE_PATH_MAX * 2];
        snprintf(rel, sizeof rel, "cases/%s/examples/%s_%d.npy", ctx->stem, c->name, k);
        snprintf(path, sizeof path, "%s/%s", ctx->out_dir, rel);
        if (!fc_npy_write(path, &e, &err)) {
            cJSON *ex = cJSON_CreateObject();
            if (ex) {
                cJSON_AddNumberToObject(ex, "index", (double)rec->index);
                cJSON_AddNumberToObject(ex, "label", (double)rec->label);
                cJSON_AddNumberToObject(ex, "clean_top1", (double)rec->clean_top1);
                cJSON_AddNumberToObject(ex, "adv_top1", (double)rec->adv_top1);
                cJSON_AddNumberToObject(ex, "confidence_drop", p[k].drop);
                cJSON_AddBoolToObject(ex, "saliency", have_grad);
                cJSON_AddStringToObject(ex, "file", rel);
                cJSON_AddItemToArray(arr, ex);
            }
        }
        fc_tensor_release(&e);
    }
    fc_tensor_release(&g);
    fc_tensor_release(&x);
    fc_free(labels);
}
