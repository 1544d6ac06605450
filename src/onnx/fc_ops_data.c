/* Shape inference (and folding where it applies) of the data-movement and
 * constant ops: Transpose, Identity, Cast, Dropout, Pad, Constant,
 * ConstantOfShape. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "fc_ops_internal.h"

/* Transpose: output dim i is input dim perm[i]; perm defaults to the
 * reversed axes and must be a permutation of 0..r-1. */
FC_OP_INFER(fc_infer_transpose)
{
    fc_status st = fc_opi_io(node, in, 1, 1, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    const int64_t *perm;
    size_t n;
    if ((st = fc_attr_get_ints(node, "perm", &perm, &n, err)))
        return st;
    if (perm && n != (size_t)x->rank)
        return fc_err_set(err, FC_ERR_SHAPE, "perm has %zu entries for rank %d", n, x->rank);
    int64_t dims[FC_MAX_RANK];
    unsigned seen = 0;
    for (int i = 0; i < x->rank; i++) {
        int64_t p = perm ? perm[i] : x->rank - 1 - i;
        if (p < 0 || p >= x->rank || (seen & (1u << p)))
            return fc_err_set(err, FC_ERR_SHAPE, "perm is not a permutation of 0..%d",
                              x->rank - 1);
        seen |= 1u << p;
        dims[i] = x->dims[p];
    }
    fc_opi_set(&out[0], x->dtype, x->rank, dims);
    return FC_OK;
}

FC_OP_INFER(fc_infer_identity)
{
    fc_status st = fc_opi_io(node, in, 1, 1, 1, err);
    if (st)
        return st;
    fc_opi_same(&out[0], in[0]);
    return FC_OK;
}

FC_OP_INFER(fc_infer_cast)
{
    fc_status st = fc_opi_io(node, in, 1, 1, 1, err);
    if (st)
        return st;
    const fc_attr *to = fc_attr_find(node, "to");
    if (!to || to->type != FC_ATTR_INT)
        return fc_err_set(err, FC_ERR_SHAPE, "missing integer attribute 'to'");
    if (to->i < INT32_MIN || to->i > INT32_MAX || !fc_dtype_supported((int)to->i))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "Cast to data type %lld is not supported",
                          (long long)to->i);
    fc_opi_set(&out[0], (fc_dtype)to->i, in[0]->rank, in[0]->dims);
    return FC_OK;
}

/* float -> integer: truncate toward zero, saturate, NaN -> 0 (the engines'
 * rule; C leaves out-of-range conversions undefined). */
static int64_t saturate(double v, int64_t lo, int64_t hi)
{
    if (isnan(v))
        return 0;
    double t = trunc(v);
    if (t <= (double)lo)
        return lo;
    if (t >= (double)hi)   /* (double)INT64_MAX is 2^63: >= catches overflow */
        return hi;
    return (int64_t)t;
}

/* double -> float without the undefined out-of-range conversion: beyond
 * FLT_MAX, round as IEEE would (to FLT_MAX below the midpoint to 2^128). */
static float to_float(double v)
{
    if (isnan(v) || fabs(v) <= FLT_MAX)
        return (float)v;
    float mag = fabs(v) >= (double)FLT_MAX + ldexp(1.0, 103) ? INFINITY : FLT_MAX;
    return v < 0 ? -mag : mag;
}

static void convert(const fc_tensor *src, size_t i, fc_tensor *dst, size_t j)
{
    bool from_float = fc_opi_is_float(src->dtype);
    double d = fc_tensor_get_f64(src, i);
    int64_t v = from_float ? 0 : fc_tensor_get_i64(src, i);
    switch (dst->dtype) {
    case FC_DT_F32:
        ((float *)dst->data)[j] = from_float ? to_float(d) : (float)v;
        break;
    case FC_DT_F64: ((double *)dst->data)[j] = from_float ? d : (double)v; break;
    case FC_DT_BOOL: ((uint8_t *)dst->data)[j] = from_float ? d != 0.0 : v != 0; break;
    case FC_DT_U8: fc_opi_store_int(dst, j, from_float ? saturate(d, 0, UINT8_MAX) : v); break;
    case FC_DT_I8:
        fc_opi_store_int(dst, j, from_float ? saturate(d, INT8_MIN, INT8_MAX) : v);
        break;
    case FC_DT_I32:
        fc_opi_store_int(dst, j, from_float ? saturate(d, INT32_MIN, INT32_MAX) : v);
        break;
    case FC_DT_I64:
        fc_opi_store_int(dst, j, from_float ? saturate(d, INT64_MIN, INT64_MAX) : v);
        break;
    default: break;
    }
}

FC_OP_FOLD(fc_fold_cast)
{
    (void)node;
    fc_status st = fc_opi_fold_alloc(&out[0], &out_info[0], err);
    if (st)
        return st;
    for (size_t i = 0; i < out[0].numel; i++)
        convert(in[0]->value, i, &out[0], i);
    return FC_OK;
}

/* Inference Dropout: output = input, optional mask of the same shape (bool
 * from opset 10, the input's type before).  Training (opset >= 12 input
 * training_mode constant true) drops at random unless the ratio is a
 * constant 0, so only that case is accepted. */
FC_OP_INFER(fc_infer_dropout)
{
    const bool inputs = node->opset >= 12;
    fc_status st = fc_opi_io(node, in, 1, inputs ? 3 : 1, 2, err);
    if (st)
        return st;
    float ratio_attr;
    if (!inputs && (st = fc_attr_get_float(node, "ratio", 0.5f, &ratio_attr, err)))
        return st;
    const fc_vinfo *ratio = fc_opi_opt(node, in, 1), *training = fc_opi_opt(node, in, 2);
    if (ratio && (ratio->rank > 1 || fc_opi_numel(ratio) != 1 || !fc_opi_is_float(ratio->dtype)))
        return fc_err_set(err, FC_ERR_SHAPE, "ratio must be a float scalar");
    if (training && (training->rank > 1 || fc_opi_numel(training) != 1))
        return fc_err_set(err, FC_ERR_SHAPE, "training_mode must be a scalar");
    if (training && training->value && fc_tensor_get_f64(training->value, 0) != 0.0) {
        bool zero_ratio = ratio && ratio->value && fc_tensor_get_f64(ratio->value, 0) == 0.0;
        if (!zero_ratio)
            return fc_err_set(err, FC_ERR_UNSUPPORTED,
                              "training mode (training_mode=true with a nonzero ratio) "
                              "is not supported");
    }
    fc_opi_same(&out[0], in[0]);
    if (node->n_outputs > 1)
        fc_opi_set(&out[1], node->opset >= 10 ? FC_DT_BOOL : in[0]->dtype, in[0]->rank,
                   in[0]->dims);
    return FC_OK;
}

/* Pad: out dim = dim + pad_begin + pad_end (negative pads crop).  Pads
 * come from the attribute (opset < 11) or the constant int64 input 1; the
 * fill from `value` or the optional scalar input 2. */
FC_OP_INFER(fc_infer_pad)
{
    const bool attrs = node->opset < 11;
    fc_status st = fc_opi_io(node, in, attrs ? 1 : 2, attrs ? 1 : 3, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    int64_t pads[2 * FC_MAX_RANK];
    size_t n;
    const char *mode;
    if ((st = fc_attr_get_string(node, "mode", "constant", &mode, err)))
        return st;
    if (strcmp(mode, "constant") != 0 && strcmp(mode, "edge") != 0 &&
        strcmp(mode, "reflect") != 0)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "Pad mode '%s' is not supported", mode);
    if (attrs) {
        const int64_t *p;
        float value;
        if ((st = fc_attr_get_ints(node, "pads", &p, &n, err)) ||
            (st = fc_attr_get_float(node, "value", 0.0f, &value, err)))
            return st;
        if (n != 2 * (size_t)x->rank)
            return fc_err_set(err, FC_ERR_SHAPE, "%zu pads for rank %d, expected %d", n,
                              x->rank, 2 * x->rank);
        memcpy(pads, p, n * sizeof *p);
    } else {
        if ((st = fc_opi_const_ints(in[1], "the output shape of Pad", "pads", 2 * FC_MAX_RANK,
                                    pads, &n, err)))
            return st;
        if (n != 2 * (size_t)x->rank)
            return fc_err_set(err, FC_ERR_SHAPE, "%zu pads for rank %d, expected %d", n,
                              x->rank, 2 * x->rank);
        const fc_vinfo *cv = fc_opi_opt(node, in, 2);
        if (cv && ((st = fc_opi_same_dtype(x, "input", cv, "constant_value", err))))
            return st;
        if (cv && (cv->rank > 1 || fc_opi_numel(cv) != 1))
            return fc_err_set(err, FC_ERR_SHAPE, "constant_value must be a scalar");
    }
    int64_t dims[FC_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        int64_t d;
        if (__builtin_add_overflow(x->dims[i], pads[i], &d) ||
            __builtin_add_overflow(d, pads[i + x->rank], &d))
            return fc_err_set(err, FC_ERR_LIMIT, "axis %d: padded size overflows", i);
        if (d < 0)
            return fc_err_set(err, FC_ERR_SHAPE, "axis %d: pads %lld, %lld crop size %lld below 0",
                              i, (long long)pads[i], (long long)pads[i + x->rank],
                              (long long)x->dims[i]);
        if (x->dims[i] == 0 && d > 0 && strcmp(mode, "constant") != 0)
            return fc_err_set(err, FC_ERR_SHAPE, "axis %d: %s padding of an empty axis", i, mode);
        dims[i] = d;
    }
    fc_opi_set(&out[0], x->dtype, x->rank, dims);
    return FC_OK;
}

/* Constant: one of value (tensor), value_float, value_int, value_floats,
 * value_ints (opset >= 12); sparse and string values are refused. */
FC_OP_INFER(fc_infer_constant)
{
    fc_status st = fc_opi_io(node, in, 0, 0, 1, err);
    if (st)
        return st;
    if (node->n_attrs != 1)
        return fc_err_set(err, FC_ERR_SHAPE, "%d attributes, expected exactly one value",
                          node->n_attrs);
    const fc_attr *a = &node->attrs[0];
    int64_t n = (int64_t)a->n;
    if (strcmp(a->name, "value") == 0 && a->type == FC_ATTR_TENSOR && a->t) {
        if (!fc_dtype_supported(a->t->dtype))
            return fc_err_set(err, FC_ERR_UNSUPPORTED, "value of unsupported dtype");
        fc_opi_set(&out[0], a->t->dtype, a->t->rank, a->t->dims);
    } else if (strcmp(a->name, "value_float") == 0 && a->type == FC_ATTR_FLOAT) {
        fc_opi_set(&out[0], FC_DT_F32, 0, NULL);
    } else if (strcmp(a->name, "value_int") == 0 && a->type == FC_ATTR_INT) {
        fc_opi_set(&out[0], FC_DT_I64, 0, NULL);
    } else if (strcmp(a->name, "value_floats") == 0 && a->type == FC_ATTR_FLOATS) {
        fc_opi_set(&out[0], FC_DT_F32, 1, &n);
    } else if (strcmp(a->name, "value_ints") == 0 && a->type == FC_ATTR_INTS) {
        fc_opi_set(&out[0], FC_DT_I64, 1, &n);
    } else {
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "Constant attribute '%s' is not supported",
                          a->name);
    }
    return FC_OK;
}

FC_OP_FOLD(fc_fold_constant)
{
    (void)in;
    const fc_attr *a = &node->attrs[0];
    fc_status st = fc_opi_fold_alloc(&out[0], &out_info[0], err);
    if (st)
        return st;
    switch (a->type) {
    case FC_ATTR_TENSOR:
        if (fc_tensor_bytes(a->t))
            memcpy(out[0].data, a->t->data, fc_tensor_bytes(a->t));
        break;
    case FC_ATTR_FLOAT: ((float *)out[0].data)[0] = a->f; break;
    case FC_ATTR_INT: ((int64_t *)out[0].data)[0] = a->i; break;
    case FC_ATTR_FLOATS:
        if (a->n)
            memcpy(out[0].data, a->floats, a->n * sizeof *a->floats);
        break;
    case FC_ATTR_INTS:
        if (a->n)
            memcpy(out[0].data, a->ints, a->n * sizeof *a->ints);
        break;
    default: return fc_err_set(err, FC_ERR_INTERNAL, "Constant attribute type changed");
    }
    return FC_OK;
}

/* The `value` attribute of ConstantOfShape: one element, default float 0. */
static fc_status fill_value(const fc_node *node, const fc_tensor **t, fc_err *err)
{
    const fc_attr *a = fc_attr_find(node, "value");
    *t = NULL;
    if (!a)
        return FC_OK;
    if (a->type != FC_ATTR_TENSOR || !a->t || a->t->numel != 1)
        return fc_err_set(err, FC_ERR_SHAPE, "attribute 'value' must be a one-element tensor");
    if (!fc_dtype_supported(a->t->dtype))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "value of unsupported dtype");
    *t = a->t;
    return FC_OK;
}

/* ConstantOfShape: output shape = the constant int64 input (empty = a
 * scalar), every element the `value`. */
FC_OP_INFER(fc_infer_constant_of_shape)
{
    fc_status st = fc_opi_io(node, in, 1, 1, 1, err);
    if (st)
        return st;
    int64_t dims[FC_MAX_RANK];
    size_t n;
    const fc_tensor *v;
    if ((st = fc_opi_const_ints(in[0], "the output shape of ConstantOfShape", "input",
                                FC_MAX_RANK, dims, &n, err)) ||
        (st = fill_value(node, &v, err)))
        return st;
    for (size_t i = 0; i < n; i++)
        if (dims[i] < 0)
            return fc_err_set(err, FC_ERR_SHAPE, "negative dimension %lld in the shape",
                              (long long)dims[i]);
    fc_opi_set(&out[0], v ? v->dtype : FC_DT_F32, (int)n, dims);
    return FC_OK;
}

FC_OP_FOLD(fc_fold_constant_of_shape)
{
    (void)in;
    const fc_tensor *v;
    fc_status st = fill_value(node, &v, err);
    if (st || (st = fc_opi_fold_alloc(&out[0], &out_info[0], err)))
        return st;
    size_t esz = fc_dtype_size(out[0].dtype);
    for (size_t i = 0; v && i < out[0].numel; i++)   /* without v: zeros, as allocated */
        memcpy((unsigned char *)out[0].data + i * esz, v->data, esz);
    return FC_OK;
}
