/* Scales, zero points and quantized initializers (see fc_quant_internal.h). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "fc_quant_internal.h"

void fc_qparams_u8(float lo, float hi, float *scale, uint8_t *zp)
{
    float rmin = lo < 0.0f ? lo : 0.0f, rmax = hi > 0.0f ? hi : 0.0f;
    /* numpy subtracts in float32; a range wider than FLT_MAX goes to double. */
    float span = rmax - rmin;
    double dr = isfinite(span) ? (double)span : (double)rmax - (double)rmin;
    double s = dr / 255.0;
    if (!(s >= FLT_MIN) || !((float)s <= FLT_MAX)) {
        *scale = 1.0f;
        *zp = 0;
        return;
    }
    double z = nearbyint(0.0 - (double)rmin / s);
    *scale = (float)s;
    *zp = (uint8_t)(z < 0.0 ? 0.0 : z > 255.0 ? 255.0 : z);
}

/* Symmetric int8 scale for max|w| = a: a / 127, 1 when a is (nearly) 0. */
static float weight_scale(double a)
{
    double s = 2.0 * a / 254.0;
    return s >= FLT_MIN ? (float)s : 1.0f;
}

fc_status fc_qparams_weight(const fc_tensor *w, int axis, fc_tensor *q, fc_tensor *scale,
                            fc_tensor *zp, fc_err *err)
{
    memset(q, 0, sizeof *q);
    memset(scale, 0, sizeof *scale);
    memset(zp, 0, sizeof *zp);
    if (w->dtype != FC_DT_F32 || (axis >= 0 && axis >= w->rank))
        return fc_err_set(err, FC_ERR_INTERNAL, "weight to quantize is not float32 or has no "
                          "axis %d", axis);
    size_t outer = 1, ch = 1, inner = w->numel;
    if (axis >= 0) {
        ch = (size_t)w->dims[axis];
        for (int d = 0; d < axis; d++)
            outer *= (size_t)w->dims[d];
        inner = ch && outer ? w->numel / outer / ch : 0;
    }
    int64_t cdim[1] = {(int64_t)ch};
    fc_status st = fc_tensor_alloc(q, FC_DT_I8, w->rank, w->dims, err);
    if (!st)
        st = fc_tensor_alloc(scale, FC_DT_F32, axis >= 0, cdim, err);
    if (!st)
        st = fc_tensor_alloc(zp, FC_DT_I8, axis >= 0, cdim, err);
    if (st) {
        fc_tensor_release(q);
        fc_tensor_release(scale);
        return st;
    }
    const float *x = w->data;
    float *s = scale->data;
    int8_t *out = q->data;
    for (size_t c = 0; c < ch; c++) {
        double a = 0.0;
        for (size_t o = 0; o < outer; o++)
            for (size_t i = 0; i < inner; i++) {
                double f = fabs((double)x[(o * ch + c) * inner + i]);
                a = f > a ? f : a;   /* a NaN never wins */
            }
        s[c] = weight_scale(a);
        for (size_t o = 0; o < outer; o++)
            for (size_t i = 0; i < inner; i++) {
                size_t k = (o * ch + c) * inner + i;
                float r = nearbyintf(x[k] / s[c]);
                out[k] = (int8_t)(r > 127.0f ? 127 : r < -127.0f ? -127 : isnan(r) ? 0 : (int)r);
            }
    }
    return FC_OK;   /* zero points: fc_tensor_alloc zeroed them */
}

fc_status fc_qparams_bias(const fc_tensor *b, float x_scale, const fc_tensor *w_scale,
                          fc_tensor *q, fc_tensor *scale, fc_tensor *zp, fc_err *err)
{
    memset(q, 0, sizeof *q);
    memset(scale, 0, sizeof *scale);
    memset(zp, 0, sizeof *zp);
    if (b->dtype != FC_DT_F32 || (w_scale->numel != 1 && w_scale->numel != b->numel))
        return fc_err_set(err, FC_ERR_INTERNAL, "bias of %zu values for %zu weight scales",
                          b->numel, w_scale->numel);
    int64_t n[1] = {(int64_t)b->numel};
    fc_status st = fc_tensor_alloc(q, FC_DT_I32, 1, n, err);
    if (!st)
        st = fc_tensor_alloc(scale, FC_DT_F32, w_scale->rank, w_scale->dims, err);
    if (!st)
        st = fc_tensor_alloc(zp, FC_DT_I32, w_scale->rank, w_scale->dims, err);
    if (st) {
        fc_tensor_release(q);
        fc_tensor_release(scale);
        return st;
    }
    float *s = scale->data;
    const float *ws = w_scale->data;
    for (size_t i = 0; i < w_scale->numel; i++)
        s[i] = x_scale * ws[i];
    const float *x = b->data;
    int32_t *out = q->data;
    for (size_t i = 0; i < b->numel; i++) {
        double r = nearbyint((double)(x[i] / s[w_scale->numel == 1 ? 0 : i]));
        out[i] = isnan(r) ? 0 : r > INT32_MAX ? INT32_MAX : r < INT32_MIN ? INT32_MIN : (int32_t)r;
    }
    return FC_OK;
}

fc_status fc_qparams_const_u8(const fc_tensor *c, fc_tensor *q, fc_tensor *scale, fc_tensor *zp,
                              fc_err *err)
{
    memset(q, 0, sizeof *q);
    memset(scale, 0, sizeof *scale);
    memset(zp, 0, sizeof *zp);
    if (c->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_INTERNAL, "constant to quantize is not float32");
    const float *x = c->data;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < c->numel; i++)
        if (isfinite(x[i])) {
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
    if (!(lo <= hi))
        lo = hi = 0.0f;
    float s;
    uint8_t z;
    fc_qparams_u8(lo, hi, &s, &z);
    fc_status st = fc_tensor_alloc(q, FC_DT_U8, c->rank, c->dims, err);
    if (!st)
        st = fc_tensor_alloc(scale, FC_DT_F32, 0, NULL, err);
    if (!st)
        st = fc_tensor_alloc(zp, FC_DT_U8, 0, NULL, err);
    if (st) {
        fc_tensor_release(q);
        fc_tensor_release(scale);
        return st;
    }
    *(float *)scale->data = s;
    *(uint8_t *)zp->data = z;
    uint8_t *out = q->data;
    for (size_t i = 0; i < c->numel; i++) {
        float r = nearbyintf(x[i] / s) + (float)z;
        out[i] = (uint8_t)(r > 255.0f ? 255 : r < 0.0f ? 0 : isnan(r) ? z : (int)r);
    }
    return FC_OK;
}
