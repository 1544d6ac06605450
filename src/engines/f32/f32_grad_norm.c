/* Backward of the normalisation-style kernels of the f32 engine:
 * BatchNormalization (inference), Softmax, LogSoftmax, ReduceMean.
 *
 * Softmax over a vector (y = softmax(x)):     dx = y * (g - sum(g * y))
 * LogSoftmax (y = x - logsumexp(x)):         dx = g - exp(y) * sum(g)
 * Both use the forward's output, so nothing is recomputed; the sums are in
 * double.  The vectors are those of the forward pass: opset < 13 coerces to
 * 2-D at `axis` (rows of prod(dims[axis:]) elements), opset >= 13 takes the
 * single axis with stride prod(dims[axis+1:]).
 *
 * BatchNormalization, y = (x - mean) a + B with a = scale / sqrt(var + eps),
 * per channel c (axis 1):
 *   dx = g a      dB = sum g      dscale = sum g (x - mean) / sqrt(var + eps)
 *   dmean = -a sum g              dvar = -scale / 2 (var + eps)^-3/2 sum g (x - mean)
 * (parameters get gradients only when they depend on the model's input). */
#include <math.h>
#include <string.h>

#include "f32_grad.h"

/* ---- Softmax, LogSoftmax ---- */

static void softmax_vec_grad(const float *y, const float *g, float *d, size_t n, size_t st,
                             bool log_form)
{
    double s = 0.0;
    if (log_form) {
        for (size_t i = 0; i < n; i++)
            s += g[i * st];
        const float sf = (float)s;
        for (size_t i = 0; i < n; i++)
            d[i * st] += g[i * st] - expf(y[i * st]) * sf;
        return;
    }
    for (size_t i = 0; i < n; i++)
        s += (double)g[i * st] * (double)y[i * st];
    const float sf = (float)s;
    for (size_t i = 0; i < n; i++)
        d[i * st] += y[i * st] * (g[i * st] - sf);
}

static fc_status softmax_grad_common(const fc_grad_ctx *k, bool log_form, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    fc_tensor *gx = fc_f32g_gin(k, 0);
    if (st || !gy || !gx || (st = fc_f32g_check_gin(k, 0, err)))
        return st;
    const fc_tensor *x = k->in[0], *y = k->out[0];
    const bool coerce = k->node->opset < 13;
    int64_t axis_attr;
    int axis;
    if ((st = fc_attr_get_int(k->node, "axis", coerce ? 1 : -1, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, x->rank, &axis, err)))
        return st;
    if (x->numel == 0)
        return FC_OK;
    const size_t outer = fc_f32_prod(x->dims, 0, axis);
    size_t n, inner;
    if (coerce) {
        n = fc_f32_prod(x->dims, axis, x->rank);
        inner = 1;
    } else {
        n = (size_t)x->dims[axis];
        inner = fc_f32_prod(x->dims, axis + 1, x->rank);
    }
    const float *yd = y->data, *g = gy->data;
    float *d = gx->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            const size_t base = o * n * inner + i;
            softmax_vec_grad(yd + base, g + base, d + base, n, inner, log_form);
        }
    return FC_OK;
}

fc_status fc_f32_softmax_grad(const fc_grad_ctx *k, fc_err *err)
{
    return softmax_grad_common(k, false, err);
}

fc_status fc_f32_logsoftmax_grad(const fc_grad_ctx *k, fc_err *err)
{
    return softmax_grad_common(k, true, err);
}

/* ---- BatchNormalization ---- */

fc_status fc_f32_batchnorm_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    if (st || !gy)
        return st;
    bool any = false;
    for (int i = 0; i < 5; i++) {
        if (!fc_f32g_in(k, i))
            return fc_err_set(err, FC_ERR_INTERNAL, "BatchNormalization: input %d missing", i);
        if ((st = fc_f32g_check_gin(k, i, err)))
            return st;
        any = any || fc_f32g_gin(k, i);
    }
    if (!any)
        return FC_OK;
    for (int i = 0; i < 5; i++)
        if (k->in[i]->dtype != FC_DT_F32)
            return fc_f32g_unsupported(k, "non-float32 inputs", err);
    const fc_tensor *x = k->in[0];
    float eps;
    if ((st = fc_attr_get_float(k->node, "epsilon", 1e-5f, &eps, err)))
        return st;
    if (x->rank < 2 || gy->numel != x->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "BatchNormalization: bad shapes");
    const size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1];
    const size_t sp = fc_f32_prod(x->dims, 2, x->rank);
    for (int i = 1; i < 5; i++)
        if (k->in[i]->numel != C)
            return fc_err_set(err, FC_ERR_INTERNAL, "BatchNormalization: parameter %d size", i);
    const float *scale = k->in[1]->data, *mean = k->in[3]->data, *var = k->in[4]->data;
    const float *xd = x->data, *g = gy->data;
    float *gp[5];
    for (int i = 0; i < 5; i++)
        gp[i] = fc_f32g_gin(k, i) ? fc_f32g_gin(k, i)->data : NULL;
    const bool params = gp[1] || gp[2] || gp[3] || gp[4];
    for (size_t c = 0; c < C; c++) {
        const double rs = 1.0 / sqrt((double)var[c] + (double)eps);
        const double a = (double)scale[c] * rs;
        const float af = (float)a;   /* the forward's multiplier */
        double sg = 0.0, sgx = 0.0;  /* sum g, sum g (x - mean) */
        for (size_t n = 0; n < N; n++) {
            const size_t off = (n * C + c) * sp;
            if (gp[0]) {
                float *d = gp[0] + off;
                for (size_t i = 0; i < sp; i++)
                    d[i] += g[off + i] * af;
            }
            if (params)
                for (size_t i = 0; i < sp; i++) {
                    sg += g[off + i];
                    sgx += (double)g[off + i] * ((double)xd[off + i] - (double)mean[c]);
                }
        }
        if (gp[1])
            gp[1][c] += (float)(sgx * rs);
        if (gp[2])
            gp[2][c] += (float)sg;
        if (gp[3])
            gp[3][c] += (float)(-a * sg);
        if (gp[4])
            gp[4][c] += (float)(-0.5 * (double)scale[c] * rs * rs * rs * sgx);
    }
    return FC_OK;
}

/* ---- ReduceMean ---- */

/* Every input element gets g[its output] / count, count = product of the
 * reduced dims.  Axes as the forward reads them (attribute; none = all). */
fc_status fc_f32_reducemean_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    fc_tensor *gx = fc_f32g_gin(k, 0);
    if (st || !gy || !gx || (st = fc_f32g_check_gin(k, 0, err)))
        return st;
    const fc_tensor *x = k->in[0];
    const int64_t *axes;
    size_t na;
    if ((st = fc_attr_get_ints(k->node, "axes", &axes, &na, err)))
        return st;
    unsigned mask = na == 0 ? (1u << x->rank) - 1u : 0u;
    for (size_t i = 0; i < na; i++) {
        int a;
        if ((st = fc_axis_normalize(axes[i], x->rank, &a, err)))
            return st;
        mask |= 1u << a;
    }
    size_t cnt = 1;
    for (int i = 0; i < x->rank; i++)
        if (mask & (1u << i))
            cnt *= (size_t)x->dims[i];
    if (x->numel == 0 || cnt == 0)
        return FC_OK;
    if (gy->numel * cnt != x->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "ReduceMean: gradient size mismatch");
    const float *g = gy->data;
    float *d = gx->data;
    const float inv = (float)(1.0 / (double)cnt);
    /* Trailing axes only: each output owns cnt consecutive inputs. */
    int first = x->rank;
    while (first > 0 && (mask & (1u << (first - 1))))
        first--;
    if ((mask >> first) << first == mask) {
        for (size_t o = 0; o < gy->numel; o++) {
            const float v = g[o] * inv;
            float *dp = d + o * cnt;
            for (size_t i = 0; i < cnt; i++)
                dp[i] += v;
        }
        return FC_OK;
    }
    /* Output strides per input axis (0 on reduced axes), odometer over x. */
    size_t ost[FC_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        ost[i] = (mask & (1u << i)) ? 0 : s;
        if (!(mask & (1u << i)))
            s *= (size_t)x->dims[i];
    }
    int64_t idx[FC_MAX_RANK] = {0};
    size_t off = 0;
    for (size_t i = 0; i < x->numel; i++) {
        d[i] += g[off] * inv;
        for (int a = x->rank - 1; a >= 0; a--) {
            off += ost[a];
            if (++idx[a] < x->dims[a])
                break;
            off -= ost[a] * (size_t)x->dims[a];
            idx[a] = 0;
        }
    }
    return FC_OK;
}
