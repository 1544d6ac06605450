/* Element-wise kernels of f32-ref: Add, Sub, Mul, Div (numpy broadcasting),
 * Relu, LeakyRelu, Clip, Sigmoid, Tanh.
 *
 * Integer rules (U8, I8, I32, I64):
 *  - Add, Sub, Mul wrap around modulo 2^bits (two's complement), computed in
 *    uint64 so no signed overflow can happen.
 *  - Div truncates toward zero (C and ONNX Runtime; for U8 this is floor).
 *    Division by zero gives 0, and INT_MIN / -1 wraps to INT_MIN: both are
 *    UB in C and undefined by ONNX, so flipcheck defines them.
 * Float rules: IEEE single precision, NaN propagates. */
#include <math.h>
#include <string.h>

#include "ref_internal.h"

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV } binop;

static float float_binop(binop op, float a, float b)
{
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    default: return a / b;
    }
}

/* Signed quotient truncated toward zero with the two UB cases defined. */
static uint64_t int_div(int64_t a, int64_t b)
{
    if (b == 0)
        return 0;
    if (b == -1)
        return 0u - (uint64_t)a;     /* -a, wrapping INT64_MIN to itself */
    return (uint64_t)(a / b);
}

static uint64_t int_binop(binop op, int64_t a, int64_t b)
{
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    switch (op) {
    case OP_ADD: return ua + ub;
    case OP_SUB: return ua - ub;
    case OP_MUL: return ua * ub;
    default: return int_div(a, b);
    }
}

static fc_status binary(const fc_kernel_ctx *k, binop op, fc_err *err)
{
    fc_status st = fc_ref_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *a = k->in[0], *b = k->in[1];
    fc_tensor *y = k->out[0];
    fc_dtype dt = a->dtype;
    if (dt != FC_DT_F32 && !fc_ref_is_int(dt))
        return fc_ref_unsupported(k, dt, err);
    if (b->dtype != dt || y->dtype != dt)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: mixed dtypes %s, %s -> %s", k->node->op_type,
                          fc_dtype_name(dt), fc_dtype_name(b->dtype), fc_dtype_name(y->dtype));
    if (y->numel == 0)
        return FC_OK;

    /* Walk the output in row-major order; each input steps with stride 0
     * along the axes it is broadcast over. */
    size_t sa[FC_MAX_RANK], sb[FC_MAX_RANK];
    fc_ref_bcast_strides(a, y->rank, y->dims, sa);
    fc_ref_bcast_strides(b, y->rank, y->dims, sb);
    int64_t idx[FC_MAX_RANK] = {0};
    size_t i = 0;
    do {
        size_t ia = 0, ib = 0;
        for (int d = 0; d < y->rank; d++) {
            ia += (size_t)idx[d] * sa[d];
            ib += (size_t)idx[d] * sb[d];
        }
        if (dt == FC_DT_F32)
            ((float *)y->data)[i] = float_binop(op, ((const float *)a->data)[ia],
                                                ((const float *)b->data)[ib]);
        else
            fc_ref_store_wrap(y, i, int_binop(op, fc_ref_load_int(a, ia), fc_ref_load_int(b, ib)));
        i++;
    } while (fc_ref_next_index(y->rank, y->dims, idx));
    return FC_OK;
}

fc_status fc_ref_add(const fc_kernel_ctx *k, fc_err *err) { return binary(k, OP_ADD, err); }
fc_status fc_ref_sub(const fc_kernel_ctx *k, fc_err *err) { return binary(k, OP_SUB, err); }
fc_status fc_ref_mul(const fc_kernel_ctx *k, fc_err *err) { return binary(k, OP_MUL, err); }
fc_status fc_ref_div(const fc_kernel_ctx *k, fc_err *err) { return binary(k, OP_DIV, err); }

/* Checks a unary op's single input/output pair and that the dtype is F32
 * (or, when allow_int, one of the integer dtypes). */
static fc_status unary_check(const fc_kernel_ctx *k, bool allow_int, fc_err *err)
{
    fc_status st = fc_ref_require(k, 1, 1, err);
    if (st)
        return st;
    fc_dtype dt = k->in[0]->dtype;
    if (dt != FC_DT_F32 && !(allow_int && fc_ref_is_int(dt)))
        return fc_ref_unsupported(k, dt, err);
    if (k->out[0]->dtype != dt || k->out[0]->numel != k->in[0]->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output does not match input",
                          k->node->op_type);
    return FC_OK;
}

/* Integer min(max(x, lo), hi) of every element (Relu and Clip); the result
 * stays in the dtype's range, so the store never wraps. */
static void clamp_int(const fc_tensor *x, fc_tensor *y, int64_t lo, int64_t hi)
{
    for (size_t i = 0; i < x->numel; i++) {
        int64_t v = fc_ref_load_int(x, i);
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        fc_ref_store_wrap(y, i, (uint64_t)v);
    }
}

/* max(x, 0); written `x < 0 ? 0 : x` so NaN passes through as numpy does. */
fc_status fc_ref_relu(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = unary_check(k, true, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_F32) {
        clamp_int(x, y, 0, INT64_MAX);
        return FC_OK;
    }
    const float *xs = x->data;
    float *ys = y->data;
    for (size_t i = 0; i < x->numel; i++)
        ys[i] = xs[i] < 0.0f ? 0.0f : xs[i];
    return FC_OK;
}

/* x for x >= 0, alpha * x otherwise (alpha defaults to 0.01). */
fc_status fc_ref_leakyrelu(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = unary_check(k, false, err);
    if (st)
        return st;
    float alpha;
    if ((st = fc_attr_get_float(k->node, "alpha", 0.01f, &alpha, err)))
        return st;
    const float *xs = k->in[0]->data;
    float *ys = k->out[0]->data;
    for (size_t i = 0; i < k->in[0]->numel; i++)
        ys[i] = xs[i] < 0.0f ? alpha * xs[i] : xs[i];
    return FC_OK;
}

/* Smallest and largest value of an integer dtype. */
static void int_range(fc_dtype dt, int64_t *lo, int64_t *hi)
{
    switch (dt) {
    case FC_DT_U8: *lo = 0; *hi = UINT8_MAX; break;
    case FC_DT_I8: *lo = INT8_MIN; *hi = INT8_MAX; break;
    case FC_DT_I32: *lo = INT32_MIN; *hi = INT32_MAX; break;
    default: *lo = INT64_MIN; *hi = INT64_MAX; break;
    }
}

/* Scalar bound tensor of Clip (opset >= 11): must hold one element of the
 * input's dtype. */
static fc_status clip_bound(const fc_kernel_ctx *k, int i, fc_err *err)
{
    const fc_tensor *t = fc_ref_in(k, i);
    if (!t)
        return FC_OK;
    if (t->numel != 1 || t->dtype != k->in[0]->dtype || !t->data)
        return fc_err_set(err, FC_ERR_INTERNAL, "Clip: %s must be one %s element",
                          i == 1 ? "min" : "max", fc_dtype_name(k->in[0]->dtype));
    return FC_OK;
}

/* min(max(x, lo), hi).  Bounds: attributes min/max before opset 11, optional
 * scalar inputs from 11 on; absent bounds are the dtype's extremes.  NaN
 * passes through.  If lo > hi every element becomes hi (ONNX Runtime's
 * order: max first, then min). */
fc_status fc_ref_clip(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = unary_check(k, true, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (k->node->opset >= 11) {
        if ((st = clip_bound(k, 1, err)) || (st = clip_bound(k, 2, err)))
            return st;
    }
    const fc_tensor *tlo = k->node->opset >= 11 ? fc_ref_in(k, 1) : NULL;
    const fc_tensor *thi = k->node->opset >= 11 ? fc_ref_in(k, 2) : NULL;
    if (x->dtype != FC_DT_F32) {
        int64_t lo, hi;
        int_range(x->dtype, &lo, &hi);
        if (tlo)
            lo = fc_ref_load_int(tlo, 0);
        if (thi)
            hi = fc_ref_load_int(thi, 0);
        clamp_int(x, y, lo, hi);
        return FC_OK;
    }
    float lo = -INFINITY, hi = INFINITY;
    if (k->node->opset < 11) {
        if ((st = fc_attr_get_float(k->node, "min", -INFINITY, &lo, err)) ||
            (st = fc_attr_get_float(k->node, "max", INFINITY, &hi, err)))
            return st;
    } else {
        if (tlo)
            lo = ((const float *)tlo->data)[0];
        if (thi)
            hi = ((const float *)thi->data)[0];
    }
    const float *xs = x->data;
    float *ys = y->data;
    for (size_t i = 0; i < x->numel; i++) {
        float v = xs[i];
        v = v < lo ? lo : v;
        ys[i] = v > hi ? hi : v;
    }
    return FC_OK;
}

/* 1 / (1 + e^-x), evaluated as e^x / (1 + e^x) for negative x so that the
 * exponential never overflows. */
fc_status fc_ref_sigmoid(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = unary_check(k, false, err);
    if (st)
        return st;
    const float *xs = k->in[0]->data;
    float *ys = k->out[0]->data;
    for (size_t i = 0; i < k->in[0]->numel; i++) {
        double x = xs[i];
        double e = exp(-fabs(x));
        ys[i] = (float)(x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e));
    }
    return FC_OK;
}

fc_status fc_ref_tanh(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = unary_check(k, false, err);
    if (st)
        return st;
    const float *xs = k->in[0]->data;
    float *ys = k->out[0]->data;
    for (size_t i = 0; i < k->in[0]->numel; i++)
        ys[i] = (float)tanh((double)xs[i]);
    return FC_OK;
}
