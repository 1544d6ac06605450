/* QuantizeLinear, DequantizeLinear (per tensor or per axis) and
 * DynamicQuantizeLinear of the int8 engines: element-wise loops over the
 * rules of q8_internal.h. */
#include <math.h>

#include "q8_internal.h"

/* Index into a per-axis parameter for element i: (i / inner) % n, where
 * inner is the product of the dims after `axis`; per tensor always 0. */
typedef struct axis_walk {
    bool per_axis;
    size_t inner, n;
} axis_walk;

static size_t axis_index(const axis_walk *w, size_t i)
{
    return w->per_axis ? (i / w->inner) % w->n : 0;
}

/* The per-axis layout of scale against x (validated by the plan). */
static fc_status walk_of(const fc_kernel_ctx *k, const fc_tensor *x, const fc_tensor *scale,
                         axis_walk *w, fc_err *err)
{
    w->per_axis = scale->numel > 1;
    w->inner = 1;
    w->n = scale->numel;
    if (!w->per_axis)
        return FC_OK;
    int64_t axis_attr;
    int axis;
    fc_status st = fc_attr_get_int(k->node, "axis", 1, &axis_attr, err);
    if (st || (st = fc_axis_normalize(axis_attr, x->rank, &axis, err)))
        return st;
    if ((size_t)x->dims[axis] != scale->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: scale does not match axis %d",
                          k->node->op_type, axis);
    for (int d = axis + 1; d < x->rank; d++)
        w->inner *= (size_t)x->dims[d];
    return FC_OK;
}

fc_status fc_q8_quantizelinear(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    (void)gemm;
    fc_status st = fc_q8_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *scale = k->in[1], *zp = fc_q8_in(k, 2);
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_F32 || scale->dtype != FC_DT_F32)
        return fc_q8_unsupported(k, x->dtype != FC_DT_F32 ? x->dtype : scale->dtype, err);
    if (y->dtype != FC_DT_U8 && y->dtype != FC_DT_I8)
        return fc_q8_unsupported(k, y->dtype, err);
    axis_walk w;
    if ((st = walk_of(k, x, scale, &w, err)))
        return st;
    int32_t qmin, qmax;
    fc_q8_range(y->dtype, &qmin, &qmax);
    const float *xs = x->data;
    for (size_t i = 0; i < x->numel; i++) {
        size_t a = axis_index(&w, i);
        int32_t q = fc_q8_quantize(xs[i], fc_q8_scale_at(scale, a), fc_q8_zp_at(zp, a), qmin, qmax);
        fc_q8_store(y->data, y->dtype, i, q);
    }
    return FC_OK;
}

fc_status fc_q8_dequantizelinear(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    (void)gemm;
    fc_status st = fc_q8_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *scale = k->in[1], *zp = fc_q8_in(k, 2);
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_U8 && x->dtype != FC_DT_I8 && x->dtype != FC_DT_I32)
        return fc_q8_unsupported(k, x->dtype, err);
    if (scale->dtype != FC_DT_F32 || y->dtype != FC_DT_F32)
        return fc_q8_unsupported(k, scale->dtype, err);
    axis_walk w;
    if ((st = walk_of(k, x, scale, &w, err)))
        return st;
    float *ys = y->data;
    for (size_t i = 0; i < x->numel; i++) {
        size_t a = axis_index(&w, i);
        /* In int64: an int32 x minus its zero point may leave int32. */
        int64_t d = (int64_t)fc_q8_load(x, i) - fc_q8_zp_at(zp, a);
        ys[i] = (float)d * fc_q8_scale_at(scale, a);
    }
    return FC_OK;
}

/* DynamicQuantizeLinear (uint8): the range [min(0, min x), max(0, max x)]
 * (NaN elements ignored) gives scale = (max - min) / 255 (1 when the range
 * is empty, as ONNX Runtime does instead of dividing by zero) and zero point
 * = round_half_even(clamp(0 - min / scale, 0, 255)), where a NaN (infinite
 * range) clamps to 255 as ONNX Runtime's min/max order gives; then y is
 * QuantizeLinear with those. */
fc_status fc_q8_dynamicquantizelinear(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    (void)gemm;
    fc_status st = fc_q8_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0], *ys = fc_q8_out(k, 1), *yzp = fc_q8_out(k, 2);
    if (x->dtype != FC_DT_F32 || y->dtype != FC_DT_U8)
        return fc_q8_unsupported(k, x->dtype, err);
    if ((ys && (ys->dtype != FC_DT_F32 || ys->numel != 1)) ||
        (yzp && (yzp->dtype != FC_DT_U8 || yzp->numel != 1)))
        return fc_err_set(err, FC_ERR_INTERNAL, "DynamicQuantizeLinear: bad scale/zero point outputs");
    const float *xs = x->data;
    float lo = 0.0f, hi = 0.0f;
    for (size_t i = 0; i < x->numel; i++) {
        if (xs[i] < lo)
            lo = xs[i];
        if (xs[i] > hi)
            hi = xs[i];
    }
    float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
    float z = 0.0f - lo / scale;
    z = z < 255.0f ? z : 255.0f;   /* NaN -> 255 */
    z = z > 0.0f ? z : 0.0f;
    int32_t zp = (int32_t)fc_q8_round_half_even(z);
    for (size_t i = 0; i < x->numel; i++)
        fc_q8_store(y->data, FC_DT_U8, i, fc_q8_quantize(xs[i], scale, zp, 0, 255));
    if (ys)
        ((float *)ys->data)[0] = scale;
    if (yzp)
        ((uint8_t *)yzp->data)[0] = (uint8_t)zp;
    return FC_OK;
}
