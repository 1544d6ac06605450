/* Output of `flipcheck infer`: JSON for machines, one line per image for
 * people.  top1/confidence are defined for a first output of shape [N,C]. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_common.h"
#include "cli_infer.h"

static bool first_is_nc(const cli_infer_result *r)
{
    if (r->n_outputs < 1)
        return false;
    const fc_tensor *t = &r->outputs[0];
    return t->rank == 2 && t->dims[1] >= 1 && (t->dtype == FC_DT_F32 || t->dtype == FC_DT_F64);
}

/* A graph output written directly by Softmax already holds probabilities;
 * applying softmax again would squash them towards uniform. */
static bool output_is_softmax(const fc_graph *g, int out_index)
{
    int p = g->values[g->outputs[out_index]].producer;
    return p >= 0 && !strcmp(g->nodes[p].op_type, "Softmax") &&
           (!g->nodes[p].domain[0] || !strcmp(g->nodes[p].domain, "ai.onnx"));
}

/* Arg-max of row `row` (NaNs never win; -1 if all are NaN) and its
 * probability (NaN when undefined: a NaN or infinite score in the row). */
static void top1_row(const fc_tensor *t, size_t row, bool is_prob, long *top, double *conf)
{
    size_t c = (size_t)t->dims[1], base = row * c;
    long best = -1;
    double bv = 0;
    bool has_nan = false;
    for (size_t j = 0; j < c; j++) {
        double x = fc_tensor_get_f64(t, base + j);
        if (isnan(x)) {
            has_nan = true;
            continue;
        }
        if (best < 0 || x > bv) {
            best = (long)j;
            bv = x;
        }
    }
    *top = best;
    if (best < 0 || has_nan || !isfinite(bv)) {
        *conf = NAN;
        return;
    }
    if (is_prob) {
        *conf = bv;
        return;
    }
    /* Softmax of the top score, stable: exp(x - max) <= 1. */
    double sum = 0;
    for (size_t j = 0; j < c; j++)
        sum += exp(fc_tensor_get_f64(t, base + j) - bv);
    *conf = 1.0 / sum;
}

static cJSON *number_or_null(double d)
{
    return isfinite(d) ? cJSON_CreateNumber(d) : cJSON_CreateNull();
}

static cJSON *element(const fc_tensor *t, size_t i)
{
    switch (t->dtype) {
    case FC_DT_F32:
    case FC_DT_F64:
        return number_or_null(fc_tensor_get_f64(t, i));
    case FC_DT_I64: {
        /* Written as text: a double would round values past 2^53. */
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)fc_tensor_get_i64(t, i));
        return cJSON_CreateRaw(buf);
    }
    default:
        return cJSON_CreateNumber(fc_tensor_get_f64(t, i));
    }
}

static bool append(cJSON *arr, cJSON *item)
{
    if (item && cJSON_AddItemToArray(arr, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static bool add(cJSON *obj, const char *key, cJSON *item)
{
    if (item && cJSON_AddItemToObject(obj, key, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static cJSON *output_json(const cli_infer_result *r, int k)
{
    const fc_tensor *t = &r->outputs[k];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (!cJSON_AddStringToObject(o, "name", r->g->values[r->g->outputs[k]].name) ||
        !cJSON_AddStringToObject(o, "dtype", fc_dtype_name(t->dtype)))
        goto nomem;
    cJSON *shape = cJSON_CreateArray();
    if (!add(o, "shape", shape))
        goto nomem;
    cJSON *data = cJSON_CreateArray();
    if (!add(o, "data", data))
        goto nomem;
    for (int i = 0; i < t->rank; i++)
        if (!append(shape, cJSON_CreateNumber((double)t->dims[i])))
            goto nomem;
    for (size_t i = 0; i < t->numel; i++)
        if (!append(data, element(t, i)))
            goto nomem;
    return o;
nomem:
    cJSON_Delete(o);
    return NULL;
}

/* Fraction of images whose top-1 is their label; -1 without labels. */
static double accuracy(const cli_infer_result *r, int64_t *correct)
{
    *correct = 0;
    if (!r->data || !r->data->labels || !first_is_nc(r))
        return -1.0;
    const fc_tensor *t = &r->outputs[0];
    bool is_prob = output_is_softmax(r->g, 0);
    for (int64_t i = 0; i < r->data->n; i++) {
        long c;
        double p;
        top1_row(t, (size_t)i, is_prob, &c, &p);
        *correct += c == r->data->labels[i];
    }
    return r->data->n ? (double)*correct / (double)r->data->n : 0.0;
}

static bool data_json(cJSON *root, const cli_infer_result *r)
{
    cJSON *files = cJSON_AddArrayToObject(root, "files");
    if (!files)
        return false;
    for (int64_t i = 0; i < r->data->n; i++)
        if (!append(files, cJSON_CreateString(r->data->files[i])))
            return false;
    if (!r->data->labels)
        return true;
    cJSON *labels = cJSON_AddArrayToObject(root, "labels");
    if (!labels)
        return false;
    for (int64_t i = 0; i < r->data->n; i++)
        if (!append(labels, cJSON_CreateNumber((double)r->data->labels[i])))
            return false;
    int64_t correct;
    double acc = accuracy(r, &correct);
    return acc < 0 || cJSON_AddNumberToObject(root, "accuracy", acc);
}

bool cli_infer_print_json(const cli_infer_result *r)
{
    cJSON *root = cJSON_CreateObject();
    if (!root || !cJSON_AddStringToObject(root, "engine", r->engine))
        goto nomem;
    cJSON *outs = cJSON_AddArrayToObject(root, "outputs");
    if (!outs)
        goto nomem;
    for (int k = 0; k < r->n_outputs; k++)
        if (!append(outs, output_json(r, k)))
            goto nomem;
    if (r->data && !data_json(root, r))
        goto nomem;
    if (first_is_nc(r)) {
        const fc_tensor *t = &r->outputs[0];
        bool is_prob = output_is_softmax(r->g, 0);
        cJSON *top = cJSON_AddArrayToObject(root, "top1");
        cJSON *conf = cJSON_AddArrayToObject(root, "confidence");
        if (!top || !conf)
            goto nomem;
        for (size_t i = 0; i < (size_t)t->dims[0]; i++) {
            long c;
            double p;
            top1_row(t, i, is_prob, &c, &p);
            if (!append(top, cJSON_CreateNumber((double)c)) || !append(conf, number_or_null(p)))
                goto nomem;
        }
    }
    bool ok = cli_print_json(root);
    cJSON_Delete(root);
    return ok;
nomem:
    cJSON_Delete(root);
    return false;
}

void cli_infer_print_text(const cli_infer_result *r)
{
    if (first_is_nc(r)) {
        const fc_tensor *t = &r->outputs[0];
        bool is_prob = output_is_softmax(r->g, 0);
        for (size_t i = 0; i < (size_t)t->dims[0]; i++) {
            long c;
            double p;
            top1_row(t, i, is_prob, &c, &p);
            printf("%zu %ld %.6f", i, c, p);
            if (r->data && r->data->labels)
                printf(" label %lld", (long long)r->data->labels[i]);
            if (r->data)
                printf(" %s", cli_tty(r->data->files[i]));
            printf("\n");
        }
        int64_t correct;
        double acc = accuracy(r, &correct);
        if (acc >= 0)
            printf("accuracy %.4f (%lld of %lld)\n", acc, (long long)correct,
                   (long long)r->data->n);
        return;
    }
    for (int k = 0; k < r->n_outputs; k++) {
        const fc_tensor *t = &r->outputs[k];
        char dims[128];
        printf("%s %s %s\n", cli_tty(r->g->values[r->g->outputs[k]].name), fc_dtype_name(t->dtype),
               fc_dims_str(t->rank, t->dims, dims, sizeof dims));
        size_t rows = t->rank >= 1 ? (size_t)t->dims[0] : 1;
        size_t per = rows ? t->numel / rows : 0;
        for (size_t i = 0; i < rows; i++) {
            for (size_t j = 0; j < per; j++) {
                double x = fc_tensor_get_f64(t, i * per + j);
                if (t->dtype == FC_DT_I64)
                    printf("%s%lld", j ? " " : "", (long long)fc_tensor_get_i64(t, i * per + j));
                else
                    printf("%s%.9g", j ? " " : "", x);
            }
            printf("\n");
        }
    }
}
