/* Shape inference of the element-wise ops (Add, Sub, Mul, Div, Relu,
 * LeakyRelu, Clip, Sigmoid, Tanh), and folding of integer Add/Sub/Mul/Div,
 * which PyTorch exports use to compute shapes (e.g. Div of a dim by 2). */
#include <string.h>

#include "fc_ops_internal.h"

/* Add/Sub/Mul/Div: numpy multidirectional broadcasting; both inputs and
 * the output share one dtype. */
FC_OP_INFER(fc_infer_binary)
{
    fc_status st = fc_opi_io(node, in, 2, 2, 1, err);
    if (st)
        return st;
    const fc_vinfo *a = in[0], *b = in[1];
    if ((st = fc_opi_same_dtype(a, "input A", b, "input B", err)))
        return st;
    if (!fc_opi_is_float(a->dtype) && !fc_opi_is_int(a->dtype))
        return fc_err_set(err, FC_ERR_SHAPE, "inputs have dtype %s, expected a number type",
                          fc_dtype_name(a->dtype));
    int r;
    int64_t dims[FC_MAX_RANK];
    if ((st = fc_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &r, dims, err)))
        return st;
    fc_opi_set(&out[0], a->dtype, r, dims);
    return FC_OK;
}

/* Element strides of `v` broadcast to the output shape: 0 on axes where v
 * has size 1 or which it lacks (right-aligned). */
static void bcast_strides(const fc_vinfo *v, const fc_vinfo *o, size_t *strides)
{
    size_t s = 1;
    for (int i = o->rank - 1; i >= 0; i--) {
        int iv = i - (o->rank - v->rank);
        if (iv < 0 || v->dims[iv] == 1) {
            strides[i] = 0;
        } else {
            strides[i] = s;
            s *= (size_t)v->dims[iv];
        }
    }
}

static int64_t from_u64(uint64_t u)
{
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Integer arithmetic with the engines' rules: two's-complement
 * wraparound, division truncating toward zero, x / 0 = 0, MIN / -1 = MIN. */
static int64_t arith(char op, int64_t a, int64_t b)
{
    switch (op) {
    case '+': return from_u64((uint64_t)a + (uint64_t)b);
    case '-': return from_u64((uint64_t)a - (uint64_t)b);
    case '*': return from_u64((uint64_t)a * (uint64_t)b);
    default:
        if (b == 0)
            return 0;
        if (b == -1)
            return from_u64(0 - (uint64_t)a);
        return a / b;
    }
}

FC_OP_FOLD(fc_fold_binary)
{
    const fc_vinfo *o = &out_info[0];
    if (o->dtype != FC_DT_I64 && o->dtype != FC_DT_I32)
        return FC_OK;   /* declined: float math is the engines' job */
    char op = node->op_type[0] == 'A' ? '+' : node->op_type[0] == 'S' ? '-'
            : node->op_type[0] == 'M' ? '*' : '/';
    fc_status st = fc_opi_fold_alloc(&out[0], o, err);
    if (st)
        return st;
    size_t sa[FC_MAX_RANK], sb[FC_MAX_RANK];
    bcast_strides(in[0], o, sa);
    bcast_strides(in[1], o, sb);
    int64_t idx[FC_MAX_RANK] = {0};
    for (size_t i = 0; i < out[0].numel; i++) {
        size_t ia = 0, ib = 0;
        for (int d = 0; d < o->rank; d++) {
            ia += (size_t)idx[d] * sa[d];
            ib += (size_t)idx[d] * sb[d];
        }
        int64_t v = arith(op, fc_tensor_get_i64(in[0]->value, ia),
                          fc_tensor_get_i64(in[1]->value, ib));
        fc_opi_store_int(&out[0], i, v);
        for (int d = o->rank - 1; d >= 0; d--) {
            if (++idx[d] < o->dims[d])
                break;
            idx[d] = 0;
        }
    }
    return FC_OK;
}

/* Relu, Sigmoid, Tanh: output = input shape and dtype. */
FC_OP_INFER(fc_infer_unary)
{
    fc_status st = fc_opi_io(node, in, 1, 1, 1, err);
    if (st)
        return st;
    if (!fc_opi_is_float(in[0]->dtype) && !fc_opi_is_int(in[0]->dtype))
        return fc_err_set(err, FC_ERR_SHAPE, "input has dtype %s, expected a number type",
                          fc_dtype_name(in[0]->dtype));
    fc_opi_same(&out[0], in[0]);
    return FC_OK;
}

FC_OP_INFER(fc_infer_leakyrelu)
{
    float alpha;
    fc_status st = fc_opi_io(node, in, 1, 1, 1, err);
    if (st || (st = fc_attr_get_float(node, "alpha", 0.01f, &alpha, err)) ||
        (st = fc_opi_need_float(in[0], "input", err)))
        return st;
    fc_opi_same(&out[0], in[0]);
    return FC_OK;
}

/* Clip: opset < 11 takes float attributes min/max; opset >= 11 takes
 * optional scalar inputs min (1) and max (2) of the input's dtype. */
FC_OP_INFER(fc_infer_clip)
{
    const bool attrs = node->opset < 11;
    fc_status st = fc_opi_io(node, in, 1, attrs ? 1 : 3, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    if (!fc_opi_is_float(x->dtype) && !fc_opi_is_int(x->dtype))
        return fc_err_set(err, FC_ERR_SHAPE, "input has dtype %s, expected a number type",
                          fc_dtype_name(x->dtype));
    if (attrs) {
        float mn, mx;
        if ((st = fc_attr_get_float(node, "min", 0.0f, &mn, err)) ||
            (st = fc_attr_get_float(node, "max", 0.0f, &mx, err)))
            return st;
    } else {
        static const char *const names[] = {"", "min", "max"};
        for (int i = 1; i < 3; i++) {
            const fc_vinfo *v = fc_opi_opt(node, in, i);
            if (!v)
                continue;
            if ((st = fc_opi_same_dtype(x, "input", v, names[i], err)))
                return st;
            if (v->rank > 1 || fc_opi_numel(v) != 1) {
                char s[128];
                return fc_err_set(err, FC_ERR_SHAPE, "%s has shape %s, expected a scalar",
                                  names[i], fc_dims_str(v->rank, v->dims, s, sizeof s));
            }
        }
    }
    fc_opi_same(&out[0], x);
    return FC_OK;
}
