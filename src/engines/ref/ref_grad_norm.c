/* Backward of the f32-ref normalisation kernels: Softmax, LogSoftmax,
 * BatchNormalization (inference), ReduceMean.  Float32 only, sums in
 * double.
 *
 * Softmax and LogSoftmax recompute the probabilities from the input in
 * double rather than reading the float output: they are never fused, so
 * the input is the true one, and the oracle then carries no float rounding
 * of p into its gradient. */
#include <math.h>

#include "ref_internal.h"

static fc_status f32_only(const fc_grad_ctx *k, const fc_tensor *t, fc_err *err)
{
    if (t && t->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no gradient for dtype %s in f32-ref",
                          k->node->op_type, fc_dtype_name(t->dtype));
    return FC_OK;
}

/* The rows of a softmax as the forward lays them out: `outer * stride`
 * rows of `len` elements `stride` apart.  opset < 13 coerces the input to
 * 2-D at `axis` (default 1), so one row is everything from `axis` on;
 * opset >= 13 takes the single axis (default -1). */
static fc_status softmax_rows(const fc_grad_ctx *k, const fc_tensor *x, size_t *outer,
                              size_t *len, size_t *stride, fc_err *err)
{
    bool coerce = k->node->opset < 13;
    int64_t axis_attr;
    fc_status st = fc_attr_get_int(k->node, "axis", coerce ? 1 : -1, &axis_attr, err);
    if (st)
        return st;
    int axis = 0;
    if (x->rank == 0) {
        if (axis_attr != 0 && axis_attr != -1)
            return fc_err_set(err, FC_ERR_SHAPE, "%s: axis %lld of a scalar", k->node->op_type,
                              (long long)axis_attr);
    } else if (coerce && axis_attr == x->rank) {
        axis = x->rank;
    } else if ((st = fc_axis_normalize(axis_attr, x->rank, &axis, err))) {
        return st;
    }
    *outer = fc_ref_prod(x->dims, 0, axis);
    if (coerce) {
        *len = fc_ref_prod(x->dims, axis, x->rank);
        *stride = 1;
    } else {
        *len = x->rank ? (size_t)x->dims[axis] : 1;
        *stride = fc_ref_prod(x->dims, axis + 1, x->rank);
    }
    return FC_OK;
}

/* With p = softmax(x) of one row and g the output gradient:
 *   Softmax:    dx_i = p_i (g_i - sum_j g_j p_j)
 *   LogSoftmax: dx_i = g_i - p_i sum_j g_j */
static fc_status softmax_grad(const fc_grad_ctx *k, bool log_form, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    if (st || !fc_ref_gout(k, 0) || !fc_ref_gin(k, 0))
        return st;
    const fc_tensor *x = k->in[0];
    if ((st = f32_only(k, x, err)))
        return st;
    if (k->out[0]->numel != x->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output shape does not match",
                          k->node->op_type);
    if (x->numel == 0)
        return FC_OK;
    size_t outer = 0, len = 0, stride = 0;
    if ((st = softmax_rows(k, x, &outer, &len, &stride, err)))
        return st;
    const float *xs = x->data, *gy = k->gout[0]->data;
    float *gx = k->gin[0]->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t s = 0; s < stride; s++) {
            size_t base = o * len * stride + s;
            double m = -INFINITY;
            for (size_t i = 0; i < len; i++)
                m = xs[base + i * stride] > m ? xs[base + i * stride] : m;
            double sum = 0.0;
            for (size_t i = 0; i < len; i++)
                sum += exp((double)xs[base + i * stride] - m);
            double gsum = 0.0, gpsum = 0.0;
            for (size_t i = 0; i < len; i++) {
                size_t j = base + i * stride;
                gsum += gy[j];
                gpsum += gy[j] * (exp((double)xs[j] - m) / sum);
            }
            for (size_t i = 0; i < len; i++) {
                size_t j = base + i * stride;
                double p = exp((double)xs[j] - m) / sum;
                double d = log_form ? gy[j] - p * gsum : p * (gy[j] - gpsum);
                gx[j] = (float)((double)gx[j] + d);
            }
        }
    return FC_OK;
}

fc_status fc_ref_softmax_grad(const fc_grad_ctx *k, fc_err *err)
{
    return softmax_grad(k, false, err);
}

fc_status fc_ref_logsoftmax_grad(const fc_grad_ctx *k, fc_err *err)
{
    return softmax_grad(k, true, err);
}

/* Y = (X - mean) * inv * scale + B with inv = 1 / sqrt(var + eps), per
 * channel c of axis 1, so with G = dY:
 *   dX = G scale inv                    dB     = sum G
 *   dscale = sum G (X - mean) inv       dmean  = -sum G scale inv
 *   dvar   = -1/2 sum G (X - mean) scale inv^3
 * (sums over every element of channel c).  The extra outputs of opset < 14
 * are copies of mean and var and pass their gradients straight back. */
fc_status fc_ref_batchnorm_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    if (st)
        return st;
    for (int i = 0; i < 5; i++) {
        if (!fc_ref_fwd_in(k, i))
            return fc_err_set(err, FC_ERR_INTERNAL, "BatchNormalization: input %d missing", i);
        if ((st = f32_only(k, k->in[i], err)))
            return st;
    }
    for (int o = 1; o <= 2; o++) {
        const fc_tensor *g = fc_ref_gout(k, o);
        fc_tensor *gin = fc_ref_gin(k, o + 2);
        if (g && gin && g->numel == gin->numel)
            for (size_t i = 0; i < g->numel; i++)
                ((float *)gin->data)[i] += ((const float *)g->data)[i];
    }
    const fc_tensor *gyt = fc_ref_gout(k, 0), *x = k->in[0];
    if (!gyt)
        return FC_OK;
    float eps;
    if ((st = fc_attr_get_float(k->node, "epsilon", 1e-5f, &eps, err)))
        return st;
    size_t channels = x->rank >= 2 ? (size_t)x->dims[1] : 1;
    for (int i = 1; i < 5; i++)
        if (k->in[i]->numel != channels)
            return fc_err_set(err, FC_ERR_INTERNAL, "BatchNormalization: input %d is not [C]", i);
    double *acc[5];
    if ((st = fc_ref_acc_alloc(k, 5, acc, err)))
        return st;
    const float *scale = k->in[1]->data, *mean = k->in[3]->data, *var = k->in[4]->data;
    const float *xs = x->data, *gy = gyt->data;
    size_t batch = x->rank >= 1 ? (size_t)x->dims[0] : 1;
    size_t inner = fc_ref_prod(x->dims, 2, x->rank);
    for (size_t n = 0; n < batch; n++)
        for (size_t c = 0; c < channels; c++) {
            double inv = 1.0 / sqrt((double)var[c] + (double)eps);
            for (size_t i = 0; i < inner; i++) {
                size_t j = (n * channels + c) * inner + i;
                double g = gy[j], centred = (double)xs[j] - mean[c];
                if (acc[0])
                    acc[0][j] += g * scale[c] * inv;
                if (acc[1])
                    acc[1][c] += g * centred * inv;
                if (acc[2])
                    acc[2][c] += g;
                if (acc[3])
                    acc[3][c] -= g * scale[c] * inv;
                if (acc[4])
                    acc[4][c] -= 0.5 * g * centred * scale[c] * inv * inv * inv;
            }
        }
    fc_ref_acc_flush(k, 5, acc);
    return FC_OK;
}

/* The reduced axes of a ReduceMean: the `axes` attribute, or (opset 18)
 * the optional int64 input 1; none means all axes, unless opset 18's
 * noop_with_empty_axes makes it none at all. */
static fc_status reduced_axes(const fc_grad_ctx *k, int rank, bool *reduced, fc_err *err)
{
    const int64_t *axes = NULL;
    size_t n_axes = 0;
    const fc_tensor *tin = fc_ref_fwd_in(k, 1);
    int64_t noop = 0;
    fc_status st = fc_attr_get_ints(k->node, "axes", &axes, &n_axes, err);
    if (!st && k->node->opset >= 18)
        st = fc_attr_get_int(k->node, "noop_with_empty_axes", 0, &noop, err);
    if (st)
        return st;
    if (tin) {
        if (tin->dtype != FC_DT_I64 || tin->rank > 1)
            return fc_err_set(err, FC_ERR_INTERNAL, "ReduceMean: axes input is not int64 [k]");
        axes = tin->data;
        n_axes = tin->numel;
    }
    for (int d = 0; d < rank; d++)
        reduced[d] = n_axes == 0 && !noop;
    for (size_t i = 0; i < n_axes; i++) {
        int a;
        if ((st = fc_axis_normalize(axes[i], rank, &a, err)))
            return st;
        reduced[a] = true;
    }
    return FC_OK;
}

/* Every input element was counted once, in the mean of the output element
 * it shares its kept coordinates with: dx = dy / (block size).  keepdims
 * only changes the output's dims, not its element order. */
fc_status fc_ref_reducemean_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    if (st || !fc_ref_gout(k, 0) || !fc_ref_gin(k, 0))
        return st;
    const fc_tensor *x = k->in[0];
    if ((st = f32_only(k, x, err)))
        return st;
    bool reduced[FC_MAX_RANK];
    if ((st = reduced_axes(k, x->rank, reduced, err)))
        return st;
    int64_t kept[FC_MAX_RANK];
    size_t count = 1, ks[FC_MAX_RANK];
    for (int d = 0; d < x->rank; d++) {
        kept[d] = reduced[d] ? 1 : x->dims[d];
        count *= reduced[d] ? (size_t)x->dims[d] : 1;
    }
    if (k->out[0]->numel != fc_ref_prod(kept, 0, x->rank))
        return fc_err_set(err, FC_ERR_INTERNAL, "ReduceMean: output shape does not match");
    if (x->numel == 0)
        return FC_OK;
    fc_ref_strides(x->rank, kept, ks);
    const float *gy = k->gout[0]->data;
    float *gx = k->gin[0]->data;
    int64_t idx[FC_MAX_RANK] = {0};
    size_t xi = 0;
    do {
        size_t yo = 0;
        for (int d = 0; d < x->rank; d++)
            yo += reduced[d] ? 0 : (size_t)idx[d] * ks[d];
        gx[xi] = (float)((double)gx[xi] + (double)gy[yo] / (double)count);
        xi++;
    } while (fc_ref_next_index(x->rank, x->dims, idx));
    return FC_OK;
}
