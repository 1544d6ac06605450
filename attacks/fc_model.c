#include "fc_model.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "onnx/fc_onnx.h"
#include "onnx/fc_plan.h"

struct fc_model {
    fc_graph *owned;          /* set when the model loaded the graph itself */
    const fc_graph *g;
    fc_engine *e;
    fc_preproc pre;
    fc_output_kind out_kind;
    int c;
    int64_t h, w, k, batch;
};

static fc_status check_classifier(fc_model *m, fc_err *err)
{
    const fc_graph *g = m->g;
    const char *path = g->path ? g->path : "model";
    if (g->n_inputs != 1)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: %d run-time inputs; image models take "
                          "exactly one", path, g->n_inputs);
    const fc_value *in = &g->values[g->inputs[0]];
    if (in->rank != 4 || (in->dtype != FC_DT_F32 && in->dtype != FC_DT_UNDEFINED))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: input '%s' is not a float [N,C,H,W] "
                          "image batch", path, in->name);
    if (in->dims[1] < 1 || in->dims[2] < 1 || in->dims[3] < 1)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: input '%s' must fix C, H and W", path,
                          in->name);
    if (in->dims[1] > FC_PREPROC_MAX_CHANNELS)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: input has %lld channels, at most %d "
                          "are supported", path, (long long)in->dims[1], FC_PREPROC_MAX_CHANNELS);
    m->c = (int)in->dims[1];
    m->h = in->dims[2];
    m->w = in->dims[3];
    fc_plan *p;
    fc_status st = fc_plan_create_probe(g, 1, &p, err);
    if (st)
        return st;
    const fc_vinfo *o = &p->vals[g->outputs[0]];
    if (o->dtype != FC_DT_F32 || o->rank != 2 || o->dims[0] != 1 || o->dims[1] < 1)
        st = fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: the first output is not float [N,K] "
                        "class scores", path);
    else
        m->k = o->dims[1];
    fc_plan_free(p);
    if (st)
        return st;
    m->out_kind = fc_graph_output_kind(g, NULL);
    return fc_preproc_check(&m->pre, m->c, err);
}

fc_status fc_model_from_graph(const fc_graph *g, const char *engine, const fc_preproc *pre,
                              fc_model **out, fc_err *err)
{
    *out = NULL;
    fc_model *m = fc_calloc(1, sizeof *m);
    if (!m)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    m->g = g;
    m->batch = 64;
    if (pre)
        m->pre = *pre;
    else
        fc_preproc_default(&m->pre);
    fc_status st = check_classifier(m, err);
    if (!st)
        st = fc_engine_create(g, engine, &m->e, err);
    if (st) {
        fc_model_free(m);
        return st;
    }
    *out = m;
    return FC_OK;
}

fc_status fc_model_open(const char *path, const char *engine, const fc_preproc *pre,
                        fc_model **out, fc_err *err)
{
    *out = NULL;
    fc_graph *g;
    fc_status st = fc_onnx_load(path, &g, err);
    if (st)
        return st;
    if ((st = fc_model_from_graph(g, engine, pre, out, err))) {
        fc_graph_free(g);
        return st;
    }
    (*out)->owned = g;
    return FC_OK;
}

void fc_model_free(fc_model *m)
{
    if (!m)
        return;
    fc_engine_free(m->e);
    fc_graph_free(m->owned);
    fc_free(m);
}

const fc_graph *fc_model_graph(const fc_model *m) { return m->g; }
const char *fc_model_engine(const fc_model *m) { return fc_engine_kind(m->e); }
const char *fc_model_path(const fc_model *m) { return m->g->path ? m->g->path : "model"; }
int fc_model_channels(const fc_model *m) { return m->c; }
int64_t fc_model_height(const fc_model *m) { return m->h; }
int64_t fc_model_width(const fc_model *m) { return m->w; }
int64_t fc_model_classes(const fc_model *m) { return m->k; }
fc_output_kind fc_model_output_kind(const fc_model *m) { return m->out_kind; }

void fc_model_set_batch(fc_model *m, int64_t batch)
{
    m->batch = batch > 0 ? batch : 1;
}

static fc_status check_pixels(const fc_model *m, const fc_tensor *px, fc_err *err)
{
    if (px->dtype != FC_DT_F32 || px->rank != 4 || px->dims[1] != m->c || px->dims[2] != m->h ||
        px->dims[3] != m->w) {
        char got[96];
        return fc_err_set(err, FC_ERR_SHAPE, "%s: images %s do not fit the model's "
                          "[N,%d,%lld,%lld]", fc_model_path(m),
                          fc_dims_str(px->rank, px->dims, got, sizeof got), m->c,
                          (long long)m->h, (long long)m->w);
    }
    return FC_OK;
}

/* A view of rows [from, from + n) of a [N, ...] tensor. */
static fc_tensor rows_view(const fc_tensor *t, int64_t from, int64_t n)
{
    fc_tensor v = *t;
    size_t per = t->dims[0] ? t->numel / (size_t)t->dims[0] : 0;
    v.dims[0] = n;
    v.numel = per * (size_t)n;
    v.owns_data = false;
    v.data = (char *)t->data + (size_t)from * per * fc_dtype_size(t->dtype);
    return v;
}

/* Softmax/LogSoftmax outputs become logits (see the header). */
static void to_logits(const fc_model *m, fc_tensor *y)
{
    if (m->out_kind != FC_OUT_SOFTMAX)
        return;
    float *d = y->data;
    for (size_t i = 0; i < y->numel; i++)
        d[i] = logf(d[i] > FLT_MIN ? d[i] : FLT_MIN);
}

fc_status fc_model_logits(fc_model *m, const fc_tensor *pixels, fc_tensor *logits, fc_err *err)
{
    memset(logits, 0, sizeof *logits);
    fc_status st = check_pixels(m, pixels, err);
    if (st)
        return st;
    const int64_t n = pixels->dims[0];
    int64_t dims[2] = {n, m->k};
    if ((st = fc_tensor_alloc(logits, FC_DT_F32, 2, dims, err)))
        return st;
    for (int64_t b = 0; b < n && !st; b += m->batch) {
        int64_t nb = n - b < m->batch ? n - b : m->batch;
        fc_tensor view = rows_view(pixels, b, nb), x = {0}, y = {0};
        st = fc_preproc_apply(&m->pre, &view, &x, err);
        if (!st)
            st = fc_engine_run(m->e, &x, 1, &y, 1, err);
        if (!st && (y.rank != 2 || y.dims[0] != nb || y.dims[1] != m->k))
            st = fc_err_set(err, FC_ERR_SHAPE, "%s: output shape changed with the batch",
                            fc_model_path(m));
        if (!st) {
            to_logits(m, &y);
            memcpy((float *)logits->data + b * m->k, y.data, fc_tensor_bytes(&y));
        }
        fc_tensor_release(&x);
        fc_tensor_release(&y);
    }
    if (st)
        fc_tensor_release(logits);
    return st;
}

/* dLoss/dpixel = dLoss/dx * dx/dp, dx/dp = 255 * scale / std (channel swap
 * for BGR models). */
static void chain_preproc(const fc_preproc *p, const fc_tensor *gx, float *gp)
{
    const int64_t n = gx->dims[0], ch = gx->dims[1];
    const size_t plane = gx->numel / (size_t)(n * ch);
    const float *src = gx->data;
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < ch; c++) {
            int64_t to = p->bgr ? ch - 1 - c : c;   /* input channel c reads pixel channel to */
            int k = p->n_channels == 1 ? 0 : (int)c;
            float gain = 255.0f * p->scale / (p->n_channels ? p->std[k] : 1.0f);
            const float *s = src + (size_t)(i * ch + c) * plane;
            float *d = gp + (size_t)(i * ch + to) * plane;
            for (size_t j = 0; j < plane; j++)
                d[j] = s[j] * gain;
        }
}

fc_status fc_model_grad(fc_model *m, const fc_tensor *pixels, const fc_loss *loss,
                        fc_tensor *grad, fc_tensor *logits, double *loss_sum, fc_err *err)
{
    memset(grad, 0, sizeof *grad);
    if (logits)
        memset(logits, 0, sizeof *logits);
    fc_status st = check_pixels(m, pixels, err);
    if (st)
        return st;
    const int64_t n = pixels->dims[0];
    int64_t ldims[2] = {n, m->k};
    if ((st = fc_tensor_alloc(grad, FC_DT_F32, 4, pixels->dims, err)))
        return st;
    if (logits && (st = fc_tensor_alloc(logits, FC_DT_F32, 2, ldims, err))) {
        fc_tensor_release(grad);
        return st;
    }
    double total = 0.0;
    for (int64_t b = 0; b < n && !st; b += m->batch) {
        int64_t nb = n - b < m->batch ? n - b : m->batch;
        fc_tensor view = rows_view(pixels, b, nb), x = {0}, gx = {0}, z = {0};
        fc_loss part = {loss->kind, loss->labels + b};
        double ls = 0.0;
        st = fc_preproc_apply(&m->pre, &view, &x, err);
        if (!st)
            st = fc_engine_grad(m->e, &x, &part, &gx, logits ? &z : NULL, &ls, err);
        if (!st) {
            fc_tensor gview = rows_view(grad, b, nb);
            chain_preproc(&m->pre, &gx, gview.data);
            total += ls;
            if (logits)
                memcpy((float *)logits->data + b * m->k, z.data, fc_tensor_bytes(&z));
        }
        fc_tensor_release(&x);
        fc_tensor_release(&gx);
        fc_tensor_release(&z);
    }
    if (st) {
        fc_tensor_release(grad);
        if (logits)
            fc_tensor_release(logits);
        return st;
    }
    if (loss_sum)
        *loss_sum = total;
    return FC_OK;
}

void fc_logits_top1(const fc_tensor *logits, int64_t *top1, float *confidence)
{
    const int64_t n = logits->dims[0], k = logits->dims[1];
    const float *z = logits->data;
    for (int64_t i = 0; i < n; i++) {
        const float *row = z + i * k;
        int64_t best = 0;
        for (int64_t j = 1; j < k; j++)
            if (row[j] > row[best] || (isnan(row[best]) && !isnan(row[j])))
                best = j;
        if (top1)
            top1[i] = best;
        if (confidence)
            confidence[i] = fc_logits_prob(logits, i, best);
    }
}

float fc_logits_prob(const fc_tensor *logits, int64_t i, int64_t k)
{
    const int64_t c = logits->dims[1];
    const float *row = (const float *)logits->data + i * c;
    double mx = -INFINITY;
    for (int64_t j = 0; j < c; j++)
        mx = row[j] > mx ? row[j] : mx;
    if (!isfinite(mx))
        return NAN;
    double sum = 0.0;
    for (int64_t j = 0; j < c; j++)
        sum += exp((double)row[j] - mx);
    return (float)(exp((double)row[k] - mx) / sum);
}
