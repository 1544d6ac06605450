/* Backward of the f32-ref pooling kernels: MaxPool, AveragePool,
 * GlobalAveragePool, GlobalMaxPool (float32 only; integer pools carry no
 * gradient).
 *
 * Windows are re-derived exactly as the forward derives them (the same
 * fc_window_decode geometry, the same tap arithmetic, the same "first
 * maximum in window order wins" rule), so a max window routes its gradient
 * to the element the forward picked, as PyTorch does.  Overlapping windows
 * add into the same input element, so sums are in double. */
#include <math.h>

#include "ref_internal.h"

/* Checks the slots, decodes the window of in[0] and checks it against
 * out[0]; *go is false when there is nothing to do. */
static fc_status pool_begin(const fc_grad_ctx *k, fc_window *w, bool *go, fc_err *err)
{
    *go = false;
    fc_status st = fc_ref_grad_check(k, err);
    if (st || !fc_ref_gout(k, 0) || !fc_ref_gin(k, 0))
        return st;
    const fc_tensor *x = k->in[0], *y = k->out[0];
    if (x->dtype != FC_DT_F32 || y->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no gradient for dtype %s in f32-ref",
                          k->node->op_type, fc_dtype_name(x->dtype));
    int nsp = x->rank - 2;
    if (nsp < 1 || nsp > FC_MAX_SPATIAL || y->rank != x->rank)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: rank %d input (1 to 3 spatial axes)",
                          k->node->op_type, x->rank);
    if ((st = fc_window_decode(k->node, nsp, x->dims + 2, NULL, true, w, err)))
        return st;
    if (y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1])
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output N, C do not match", k->node->op_type);
    for (int i = 0; i < nsp; i++)
        if (y->dims[2 + i] != w->out[i])
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: output spatial dims do not match",
                              k->node->op_type);
    fc_ref_window_3d(w);
    *go = true;
    return FC_OK;
}

/* Input coordinate of tap r of output position o on axis a. */
static int64_t tap(const fc_window *w, int a, int64_t o, int64_t r)
{
    return o * w->stride[a] - w->pad_begin[a] + r * w->dilation[a];
}

/* The forward's comparison: a beats the best so far (j < 0: none yet) if
 * larger, or if it is NaN and the best is not. */
static bool beats(const float *x, size_t i, int64_t j)
{
    if (j < 0)
        return true;
    float a = x[i], b = x[j];
    return a > b || (isnan(a) && !isnan(b));
}

/* Each output's gradient goes whole to the first maximum of its window
 * (ties: the first in window order, r0 outermost); a window entirely in
 * the padding picked nothing and passes nothing. */
fc_status fc_ref_maxpool_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_window w;
    bool go;
    fc_status st = pool_begin(k, &w, &go, err);
    if (st || !go)
        return st;
    double *acc[1];
    if ((st = fc_ref_acc_alloc(k, 1, acc, err)))
        return st;
    const float *xs = k->in[0]->data, *gy = k->gout[0]->data;
    int64_t planes = k->in[0]->dims[0] * k->in[0]->dims[1];
    int64_t vol = w.in[0] * w.in[1] * w.in[2];
    size_t yi = 0;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t o0 = 0; o0 < w.out[0]; o0++)
            for (int64_t o1 = 0; o1 < w.out[1]; o1++)
                for (int64_t o2 = 0; o2 < w.out[2]; o2++, yi++) {
                    int64_t best = -1;
                    for (int64_t r0 = 0; r0 < w.kernel[0]; r0++) {
                        int64_t i0 = tap(&w, 0, o0, r0);
                        if (i0 < 0 || i0 >= w.in[0])
                            continue;
                        for (int64_t r1 = 0; r1 < w.kernel[1]; r1++) {
                            int64_t i1 = tap(&w, 1, o1, r1);
                            if (i1 < 0 || i1 >= w.in[1])
                                continue;
                            for (int64_t r2 = 0; r2 < w.kernel[2]; r2++) {
                                int64_t i2 = tap(&w, 2, o2, r2);
                                if (i2 < 0 || i2 >= w.in[2])
                                    continue;
                                int64_t xi = p * vol + (i0 * w.in[1] + i1) * w.in[2] + i2;
                                if (beats(xs, (size_t)xi, best))
                                    best = xi;
                            }
                        }
                    }
                    if (best >= 0)
                        acc[0][best] += gy[yi];
                }
    fc_ref_acc_flush(k, 1, acc);
    return FC_OK;
}

/* Where tap (r0, r1, r2) of the window at output position o falls: its
 * input coordinates c, whether they are inside the input, and whether they
 * are inside the padded input [-pad_begin, in + pad_end). */
static bool avg_tap(const fc_window *w, const int64_t *o, int64_t r0, int64_t r1, int64_t r2,
                    int64_t *c, bool *in_padded)
{
    const int64_t r[3] = {r0, r1, r2};
    bool inside = true;
    *in_padded = true;
    for (int a = 0; a < 3; a++) {
        c[a] = tap(w, a, o[a], r[a]);
        inside = inside && c[a] >= 0 && c[a] < w->in[a];
        *in_padded = *in_padded && c[a] >= -w->pad_begin[a] && c[a] < w->in[a] + w->pad_end[a];
    }
    return inside;
}

/* The forward's divisor of the window at o: taps inside the input
 * (count_include_pad = 0) or inside the padded input (= 1). */
static int64_t avg_count(const fc_window *w, const int64_t *o)
{
    int64_t count = 0, c[3];
    bool in_padded;
    for (int64_t r0 = 0; r0 < w->kernel[0]; r0++)
        for (int64_t r1 = 0; r1 < w->kernel[1]; r1++)
            for (int64_t r2 = 0; r2 < w->kernel[2]; r2++) {
                bool inside = avg_tap(w, o, r0, r1, r2, c, &in_padded);
                count += w->count_include_pad ? in_padded : inside;
            }
    return count;
}

/* Each output's gradient is shared equally by the taps inside the input,
 * divided by the forward's count, so with count_include_pad padding taps
 * take their share and pass it nowhere.  A window with count 0 output a
 * constant 0 and passes nothing. */
fc_status fc_ref_averagepool_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_window w;
    bool go;
    fc_status st = pool_begin(k, &w, &go, err);
    if (st || !go)
        return st;
    double *acc[1];
    if ((st = fc_ref_acc_alloc(k, 1, acc, err)))
        return st;
    const float *gy = k->gout[0]->data;
    int64_t planes = k->in[0]->dims[0] * k->in[0]->dims[1];
    int64_t vol = w.in[0] * w.in[1] * w.in[2];
    size_t yi = 0;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t o0 = 0; o0 < w.out[0]; o0++)
            for (int64_t o1 = 0; o1 < w.out[1]; o1++)
                for (int64_t o2 = 0; o2 < w.out[2]; o2++, yi++) {
                    const int64_t o[3] = {o0, o1, o2};
                    int64_t count = avg_count(&w, o), c[3];
                    if (count == 0)
                        continue;
                    double share = (double)gy[yi] / (double)count;
                    bool in_padded;
                    for (int64_t r0 = 0; r0 < w.kernel[0]; r0++)
                        for (int64_t r1 = 0; r1 < w.kernel[1]; r1++)
                            for (int64_t r2 = 0; r2 < w.kernel[2]; r2++)
                                if (avg_tap(&w, o, r0, r1, r2, c, &in_padded))
                                    acc[0][p * vol + (c[0] * w.in[1] + c[1]) * w.in[2] + c[2]] +=
                                        share;
                }
    fc_ref_acc_flush(k, 1, acc);
    return FC_OK;
}

/* Global pools: one window per [n, c] plane covering all of it. */
static fc_status global_grad(const fc_grad_ctx *k, bool is_max, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    if (st || !fc_ref_gout(k, 0) || !fc_ref_gin(k, 0))
        return st;
    const fc_tensor *x = k->in[0], *y = k->out[0];
    if (x->dtype != FC_DT_F32 || y->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no gradient for dtype %s in f32-ref",
                          k->node->op_type, fc_dtype_name(x->dtype));
    if (x->rank < 2 || y->numel != (size_t)(x->dims[0] * x->dims[1]))
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output shape does not match",
                          k->node->op_type);
    size_t planes = y->numel, vol = fc_ref_prod(x->dims, 2, x->rank);
    const float *xs = x->data, *gy = k->gout[0]->data;
    float *gx = k->gin[0]->data;
    /* Each input element gets at most one term, so no double buffer. */
    for (size_t p = 0; p < planes; p++) {
        if (is_max) {
            int64_t best = -1;
            for (size_t i = 0; i < vol; i++)
                if (beats(xs, p * vol + i, best))
                    best = (int64_t)(p * vol + i);
            if (best >= 0)
                gx[best] += gy[p];
        } else if (vol) {
            double share = (double)gy[p] / (double)vol;
            for (size_t i = 0; i < vol; i++)
                gx[p * vol + i] = (float)((double)gx[p * vol + i] + share);
        }
    }
    return FC_OK;
}

fc_status fc_ref_globalaveragepool_grad(const fc_grad_ctx *k, fc_err *err)
{
    return global_grad(k, false, err);
}

fc_status fc_ref_globalmaxpool_grad(const fc_grad_ctx *k, fc_err *err)
{
    return global_grad(k, true, err);
}
