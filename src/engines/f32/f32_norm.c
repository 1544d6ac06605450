/* Normalisation-style kernels of the f32 engine: Softmax, LogSoftmax,
 * BatchNormalization (inference), ReduceMean.
 *
 * Softmax over a vector v (length n, element stride `inner`):
 *   m = max(v);  s = sum exp(v - m);  softmax = exp(v - m) / s,
 *   logsoftmax = v - m - log(s).
 * Subtracting the max keeps exp() <= 1, so huge logits do not overflow; s is
 * accumulated in double.  Opset < 13 coerces the input to 2-D at `axis`
 * (default 1): each row [prod(dims[axis:])] is one vector.  Opset >= 13
 * normalises the single axis `axis` (default -1): vectors of dims[axis]
 * elements with stride prod(dims[axis+1:]). */
#include <math.h>
#include <string.h>

#include "f32_internal.h"

/* One vector of n elements at stride st; writes y the same way. */
static void softmax_vec(const float *x, float *y, size_t n, size_t st, bool log_form)
{
    float m = -__builtin_inff();
    for (size_t i = 0; i < n; i++)
        m = x[i * st] > m ? x[i * st] : m;
    if (isinf(m) && m < 0)
        m = 0.0f;   /* all -inf: exp(-inf - 0) = 0 everywhere, s = 0 -> NaN, as the maths */
    double s = 0.0;
    if (log_form) {
        for (size_t i = 0; i < n; i++)
            s += exp((double)(x[i * st] - m));
        const float ls = (float)log(s);
        for (size_t i = 0; i < n; i++)
            y[i * st] = x[i * st] - m - ls;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float e = expf(x[i * st] - m);
        y[i * st] = e;
        s += e;
    }
    const float inv = (float)(1.0 / s);
    for (size_t i = 0; i < n; i++)
        y[i * st] *= inv;
}

static fc_status softmax_common(const fc_kernel_ctx *k, bool log_form, fc_err *err)
{
    fc_status st = fc_f32_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_F32)
        return fc_f32_unsupported(k, x->dtype, err);
    if (x->rank < 1 || y->numel != x->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: bad shapes", k->node->op_type);
    const bool coerce = k->node->opset < 13;
    int64_t axis_attr;
    int axis;
    if ((st = fc_attr_get_int(k->node, "axis", coerce ? 1 : -1, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, x->rank, &axis, err)))
        return st;
    if (x->numel == 0)
        return FC_OK;
    size_t outer = fc_f32_prod(x->dims, 0, axis), n, inner;
    if (coerce) {
        n = fc_f32_prod(x->dims, axis, x->rank);
        inner = 1;
    } else {
        n = (size_t)x->dims[axis];
        inner = fc_f32_prod(x->dims, axis + 1, x->rank);
    }
    const float *xd = x->data;
    float *yd = y->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t base = o * n * inner + i;
            softmax_vec(xd + base, yd + base, n, inner, log_form);
        }
    return FC_OK;
}

fc_status fc_f32_softmax(const fc_kernel_ctx *k, fc_err *err)
{
    return softmax_common(k, false, err);
}

fc_status fc_f32_logsoftmax(const fc_kernel_ctx *k, fc_err *err)
{
    return softmax_common(k, true, err);
}

/* BatchNormalization (inference): per channel c (axis 1)
 *   y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + B[c]
 *     = x * a[c] + b[c],  a = scale / sqrt(var + eps),  b = B - mean * a,
 * with a and b computed in double once per channel. */
fc_status fc_f32_batchnorm(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 5, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    for (int i = 0; i < 5; i++)
        if (k->in[i]->dtype != FC_DT_F32)
            return fc_f32_unsupported(k, k->in[i]->dtype, err);
    float eps;
    if ((st = fc_attr_get_float(k->node, "epsilon", 1e-5f, &eps, err)))
        return st;
    if (x->rank < 2 || y->numel != x->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "BatchNormalization: bad shapes");
    const size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1];
    const size_t sp = fc_f32_prod(x->dims, 2, x->rank);
    for (int i = 1; i < 5; i++)
        if (k->in[i]->numel != C)
            return fc_err_set(err, FC_ERR_INTERNAL, "BatchNormalization: parameter %d size", i);
    const float *scale = k->in[1]->data, *bias = k->in[2]->data, *mean = k->in[3]->data,
                *var = k->in[4]->data;
    const float *xd = x->data;
    float *yd = y->data;
    for (size_t c = 0; c < C; c++) {
        double a = (double)scale[c] / sqrt((double)var[c] + (double)eps);
        const float af = (float)a, bf = (float)((double)bias[c] - (double)mean[c] * a);
        for (size_t n = 0; n < N; n++) {
            const float *xs = xd + (n * C + c) * sp;
            float *ys = yd + (n * C + c) * sp;
            for (size_t i = 0; i < sp; i++)
                ys[i] = xs[i] * af + bf;
        }
    }
    return FC_OK;
}

/* ReduceMean over the attribute's axes (all when absent), keepdims or not
 * (the output's element order is the same either way).  Sums in double:
 * the output index of every input element is tracked with an odometer over
 * the input, the reduced axes contributing nothing to it.  Reducing only
 * trailing axes (the common "mean over H, W") takes a contiguous fast path. */
fc_status fc_f32_reducemean(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_F32)
        return fc_f32_unsupported(k, x->dtype, err);
    const int64_t *axes;
    size_t na;
    if ((st = fc_attr_get_ints(k->node, "axes", &axes, &na, err)))
        return st;
    unsigned mask = 0;
    if (na == 0)
        mask = (1u << x->rank) - 1u;
    for (size_t i = 0; i < na; i++) {
        int a;
        if ((st = fc_axis_normalize(axes[i], x->rank, &a, err)))
            return st;
        mask |= 1u << a;
    }
    const float *xd = x->data;
    float *yd = y->data;
    size_t cnt = 1;
    for (int i = 0; i < x->rank; i++)
        if (mask & (1u << i))
            cnt *= (size_t)x->dims[i];
    if (y->numel == 0)
        return FC_OK;
    if (cnt == 0) {   /* mean of nothing */
        for (size_t i = 0; i < y->numel; i++)
            yd[i] = __builtin_nanf("");
        return FC_OK;
    }
    /* Trailing-axes fast path: reduced axes are exactly [first, rank). */
    int first = x->rank;
    while (first > 0 && (mask & (1u << (first - 1))))
        first--;
    if ((mask >> first) << first == mask) {
        const size_t outer = y->numel;
        for (size_t o = 0; o < outer; o++) {
            double s = 0.0;
            const float *xs = xd + o * cnt;
            for (size_t i = 0; i < cnt; i++)
                s += xs[i];
            yd[o] = (float)(s / (double)cnt);
        }
        return FC_OK;
    }
    size_t bytes = y->numel * sizeof(double);
    double *acc = fc_workspace_get(k->ws, F32_WS_AUX, bytes);
    if (!acc)
        return fc_err_set(err, FC_ERR_NOMEM, "ReduceMean: out of memory (%zu bytes)", bytes);
    memset(acc, 0, bytes);
    /* Output strides per input axis (0 on reduced axes). */
    size_t ost[FC_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        ost[i] = (mask & (1u << i)) ? 0 : s;
        if (!(mask & (1u << i)))
            s *= (size_t)x->dims[i];
    }
    int64_t idx[FC_MAX_RANK] = {0};
    size_t off = 0;
    for (size_t i = 0; i < x->numel; i++) {
        acc[off] += xd[i];
        for (int a = x->rank - 1; a >= 0; a--) {
            off += ost[a];
            if (++idx[a] < x->dims[a])
                break;
            off -= ost[a] * (size_t)x->dims[a];
            idx[a] = 0;
        }
    }
    for (size_t o = 0; o < y->numel; o++)
        yd[o] = (float)(acc[o] / (double)cnt);
    return FC_OK;
}
