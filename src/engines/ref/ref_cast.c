/* Cast, Constant and ConstantOfShape of f32-ref, and the one conversion
 * rule every f32-ref kernel uses to store a number into any dtype.
 *
 * Conversion rule (flipcheck's, since C leaves these cases undefined and
 * ONNX leaves them unspecified):
 *  - float -> integer: truncate toward zero (as C does), then saturate to
 *    the target's range; NaN -> 0; +-inf -> the target's max / min.
 *  - integer -> narrower integer: keep the low bits (two's-complement
 *    wraparound, as numpy's astype and ONNX Runtime do).
 *  - anything -> bool: nonzero (NaN included) -> 1, zero -> 0.
 *  - double -> float: IEEE round to nearest; beyond FLT_MAX rounds to
 *    +-FLT_MAX or +-inf exactly as the hardware would, written out so that
 *    no out-of-range conversion (UB in C) is performed.
 *  - integer -> float: nearest representable value. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ref_internal.h"

static bool is_float(fc_dtype dt) { return dt == FC_DT_F32 || dt == FC_DT_F64; }

static double load_double(const fc_tensor *t, size_t i)
{
    if (t->dtype == FC_DT_F32)
        return ((const float *)t->data)[i];
    if (t->dtype == FC_DT_F64)
        return ((const double *)t->data)[i];
    return (double)fc_ref_load_int(t, i);
}

/* trunc(v) saturated into [lo, hi]; NaN -> 0. */
static int64_t saturate(double v, int64_t lo, int64_t hi)
{
    if (isnan(v))
        return 0;
    double t = trunc(v);
    if (t <= (double)lo)
        return lo;
    /* (double)INT64_MAX rounds up to 2^63, so >= catches exactly the
     * values that do not fit; for narrower types the bound is exact. */
    if (t >= (double)hi)
        return hi;
    return (int64_t)t;
}

static float double_to_float(double v)
{
    if (isnan(v))
        return NAN;
    if (fabs(v) > FLT_MAX) {
        /* Halfway between FLT_MAX and 2^128 ties to even, i.e. to inf. */
        double midpoint = (double)FLT_MAX + ldexp(1.0, 103);
        float mag = fabs(v) >= midpoint ? INFINITY : FLT_MAX;
        return v < 0 ? -mag : mag;
    }
    return (float)v;
}

void fc_ref_store_double(fc_tensor *t, size_t i, double v)
{
    switch (t->dtype) {
    case FC_DT_F32: ((float *)t->data)[i] = double_to_float(v); break;
    case FC_DT_F64: ((double *)t->data)[i] = v; break;
    case FC_DT_BOOL: ((uint8_t *)t->data)[i] = v != 0.0; break;
    case FC_DT_U8: fc_ref_store_wrap(t, i, (uint64_t)saturate(v, 0, UINT8_MAX)); break;
    case FC_DT_I8: fc_ref_store_wrap(t, i, (uint64_t)saturate(v, INT8_MIN, INT8_MAX)); break;
    case FC_DT_I32: fc_ref_store_wrap(t, i, (uint64_t)saturate(v, INT32_MIN, INT32_MAX)); break;
    case FC_DT_I64: fc_ref_store_wrap(t, i, (uint64_t)saturate(v, INT64_MIN, INT64_MAX)); break;
    default: break;
    }
}

/* Element i of src converted into element j of dst by the rule above. */
static void convert(const fc_tensor *src, size_t i, fc_tensor *dst, size_t j)
{
    if (is_float(src->dtype)) {
        fc_ref_store_double(dst, j, load_double(src, i));
        return;
    }
    int64_t v = fc_ref_load_int(src, i);
    if (dst->dtype == FC_DT_BOOL)
        ((uint8_t *)dst->data)[j] = v != 0;
    else if (dst->dtype == FC_DT_F32)
        ((float *)dst->data)[j] = (float)v;     /* one rounding, not two via double */
    else if (dst->dtype == FC_DT_F64)
        ((double *)dst->data)[j] = (double)v;
    else
        fc_ref_store_wrap(dst, j, (uint64_t)v);
}

fc_status fc_ref_cast(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (!fc_dtype_size(x->dtype))
        return fc_ref_unsupported(k, x->dtype, err);
    if (!fc_dtype_size(y->dtype))
        return fc_ref_unsupported(k, y->dtype, err);
    if (x->numel != y->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "Cast: output shape does not match");
    for (size_t i = 0; i < x->numel; i++)
        convert(x, i, y, i);
    return FC_OK;
}

/* Constant: the output is the `value` tensor attribute, or (opset >= 12)
 * value_float(s) / value_int(s).  Sparse and string values are refused. */
fc_status fc_ref_constant(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 0, 1, err);
    if (st)
        return st;
    fc_tensor *y = k->out[0];
    const fc_attr *a;
    if ((a = fc_attr_find(k->node, "value")) && a->type == FC_ATTR_TENSOR && a->t)
        return fc_ref_copy_bytes(k, a->t, y, err);
    if ((a = fc_attr_find(k->node, "value_float")) && a->type == FC_ATTR_FLOAT && y->numel == 1) {
        fc_ref_store_double(y, 0, a->f);
        return FC_OK;
    }
    if ((a = fc_attr_find(k->node, "value_int")) && a->type == FC_ATTR_INT && y->numel == 1) {
        fc_ref_store_wrap(y, 0, (uint64_t)a->i);
        return FC_OK;
    }
    if ((a = fc_attr_find(k->node, "value_floats")) && a->type == FC_ATTR_FLOATS &&
        y->numel == a->n) {
        for (size_t i = 0; i < a->n; i++)
            fc_ref_store_double(y, i, a->floats[i]);
        return FC_OK;
    }
    if ((a = fc_attr_find(k->node, "value_ints")) && a->type == FC_ATTR_INTS && y->numel == a->n) {
        for (size_t i = 0; i < a->n; i++)
            fc_ref_store_wrap(y, i, (uint64_t)a->ints[i]);
        return FC_OK;
    }
    return fc_err_set(err, FC_ERR_UNSUPPORTED,
                      "Constant: no value/value_float(s)/value_int(s) attribute matching the output");
}

/* ConstantOfShape: every output element is the single element of the
 * `value` tensor attribute (default float32 0). */
fc_status fc_ref_constantofshape(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 0, 1, err);
    if (st)
        return st;
    fc_tensor *y = k->out[0];
    const fc_attr *a = fc_attr_find(k->node, "value");
    size_t esz = fc_dtype_size(y->dtype);
    if (!a) {
        if (y->dtype != FC_DT_F32)
            return fc_ref_unsupported(k, y->dtype, err);
        if (y->numel)
            memset(y->data, 0, y->numel * esz);
        return FC_OK;
    }
    if (a->type != FC_ATTR_TENSOR || !a->t || a->t->numel != 1 || a->t->dtype != y->dtype)
        return fc_err_set(err, FC_ERR_INTERNAL,
                          "ConstantOfShape: value must be one %s element", fc_dtype_name(y->dtype));
    for (size_t i = 0; i < y->numel; i++)
        memcpy((unsigned char *)y->data + i * esz, a->t->data, esz);
    return FC_OK;
}
