/* Backward of the element-wise f32-ref kernels: Add, Sub, Mul, Div (numpy
 * broadcasting), Relu, LeakyRelu, Clip, Sigmoid, Tanh.
 *
 * Broadcasting: an input that was repeated along some output axes receives
 * the sum of the output gradients over those axes; the sums are in double.
 * Activations Relu and Clip read their mask from the output (fc_kernel.h:
 * in a fused engine in[0] already holds clamped values); Sigmoid and Tanh
 * are differentiated through their output too (y(1-y), 1-y^2), as PyTorch's
 * autograd does. */
#include <math.h>

#include "ref_internal.h"

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV } binop;

/* Float gradients exist only for float tensors; the executor never asks
 * for others, so a mismatch is refused rather than guessed at. */
static fc_status need_f32(const fc_grad_ctx *k, const fc_tensor *t, fc_err *err)
{
    if (t && t->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no gradient for dtype %s in f32-ref",
                          k->node->op_type, fc_dtype_name(t->dtype));
    return FC_OK;
}

/* d(a op b) = da * dA + db * dB, per output element, with each input's
 * index found through its broadcast strides (0 along repeated axes). */
static fc_status binary_grad(const fc_grad_ctx *k, binop op, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    const fc_tensor *gy = fc_ref_gout(k, 0);
    if (st || !gy || (!fc_ref_gin(k, 0) && !fc_ref_gin(k, 1)))
        return st;
    const fc_tensor *a = fc_ref_fwd_in(k, 0), *b = fc_ref_fwd_in(k, 1), *y = k->out[0];
    if (!a || !b)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: inputs missing", k->node->op_type);
    if ((st = need_f32(k, a, err)) || (st = need_f32(k, b, err)))
        return st;
    if (y->numel == 0)
        return FC_OK;
    double *acc[2];
    if ((st = fc_ref_acc_alloc(k, 2, acc, err)))
        return st;
    size_t sa[FC_MAX_RANK], sb[FC_MAX_RANK];
    fc_ref_bcast_strides(a, y->rank, y->dims, sa);
    fc_ref_bcast_strides(b, y->rank, y->dims, sb);
    const float *as = a->data, *bs = b->data, *gs = gy->data;
    int64_t idx[FC_MAX_RANK] = {0};
    size_t i = 0;
    do {
        size_t ia = 0, ib = 0;
        for (int d = 0; d < y->rank; d++) {
            ia += (size_t)idx[d] * sa[d];
            ib += (size_t)idx[d] * sb[d];
        }
        double g = gs[i++], av = as[ia], bv = bs[ib], da, db;
        switch (op) {
        case OP_ADD: da = g; db = g; break;
        case OP_SUB: da = g; db = -g; break;
        case OP_MUL: da = g * bv; db = g * av; break;
        default: da = g / bv; db = -g * av / (bv * bv); break;
        }
        if (acc[0])
            acc[0][ia] += da;
        if (acc[1])
            acc[1][ib] += db;
    } while (fc_ref_next_index(y->rank, y->dims, idx));
    fc_ref_acc_flush(k, 2, acc);
    return FC_OK;
}

fc_status fc_ref_add_grad(const fc_grad_ctx *k, fc_err *err) { return binary_grad(k, OP_ADD, err); }
fc_status fc_ref_sub_grad(const fc_grad_ctx *k, fc_err *err) { return binary_grad(k, OP_SUB, err); }
fc_status fc_ref_mul_grad(const fc_grad_ctx *k, fc_err *err) { return binary_grad(k, OP_MUL, err); }
fc_status fc_ref_div_grad(const fc_grad_ctx *k, fc_err *err) { return binary_grad(k, OP_DIV, err); }

/* The common start of a unary backward: checked slots, float tensors.
 * *go is false when there is nothing to do (no gradient in or out). */
static fc_status unary_begin(const fc_grad_ctx *k, bool *go, fc_err *err)
{
    *go = false;
    fc_status st = fc_ref_grad_check(k, err);
    if (st || !fc_ref_gout(k, 0) || !fc_ref_gin(k, 0))
        return st;
    if ((st = need_f32(k, k->in[0], err)) || (st = need_f32(k, k->out[0], err)))
        return st;
    if (k->in[0]->numel != k->out[0]->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output does not match input",
                          k->node->op_type);
    *go = true;
    return FC_OK;
}

typedef enum { ACT_RELU, ACT_LEAKY, ACT_SIGMOID, ACT_TANH } act_kind;

/* gx += gy * f'(.) with f' in double from the output (or, for LeakyRelu,
 * the sign of the input, which is not a fused activation). */
static fc_status unary_grad(const fc_grad_ctx *k, act_kind kind, fc_err *err)
{
    bool go;
    fc_status st = unary_begin(k, &go, err);
    if (st || !go)
        return st;
    float alpha = 0.0f;
    if (kind == ACT_LEAKY && (st = fc_attr_get_float(k->node, "alpha", 0.01f, &alpha, err)))
        return st;
    const float *xs = k->in[0]->data, *ys = k->out[0]->data, *gy = k->gout[0]->data;
    float *gx = k->gin[0]->data;
    for (size_t i = 0; i < k->in[0]->numel; i++) {
        double y = ys[i], d;
        switch (kind) {
        case ACT_RELU: d = y > 0.0 ? 1.0 : 0.0; break;   /* 0 at the kink, as PyTorch */
        case ACT_LEAKY: d = xs[i] < 0.0f ? alpha : 1.0; break;   /* the forward's branch */
        case ACT_SIGMOID: d = y * (1.0 - y); break;
        default: d = 1.0 - y * y; break;
        }
        gx[i] = (float)((double)gx[i] + (double)gy[i] * d);
    }
    return FC_OK;
}

fc_status fc_ref_relu_grad(const fc_grad_ctx *k, fc_err *err)
{
    return unary_grad(k, ACT_RELU, err);
}
fc_status fc_ref_leakyrelu_grad(const fc_grad_ctx *k, fc_err *err)
{
    return unary_grad(k, ACT_LEAKY, err);
}
fc_status fc_ref_sigmoid_grad(const fc_grad_ctx *k, fc_err *err)
{
    return unary_grad(k, ACT_SIGMOID, err);
}
fc_status fc_ref_tanh_grad(const fc_grad_ctx *k, fc_err *err)
{
    return unary_grad(k, ACT_TANH, err);
}

/* The float bounds of Clip as the forward reads them: attributes before
 * opset 11, optional scalar inputs 1 and 2 from 11 on. */
static fc_status clip_bounds(const fc_grad_ctx *k, float *lo, float *hi, fc_err *err)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (k->node->opset < 11) {
        fc_status st = fc_attr_get_float(k->node, "min", -INFINITY, lo, err);
        return st ? st : fc_attr_get_float(k->node, "max", INFINITY, hi, err);
    }
    for (int i = 1; i <= 2; i++) {
        const fc_tensor *t = fc_ref_fwd_in(k, i);
        if (!t)
            continue;
        if (t->dtype != FC_DT_F32 || t->numel != 1 || !t->data)
            return fc_err_set(err, FC_ERR_INTERNAL, "Clip: %s must be one float32 element",
                              i == 1 ? "min" : "max");
        *(i == 1 ? lo : hi) = ((const float *)t->data)[0];
    }
    return FC_OK;
}

/* The gradient passes where lo < y < hi, strictly: at a bound the output
 * is flat on one side, and PyTorch's ReLU6/Hardtanh give 0 there too.
 * Elements held at a bound send their gradient to that bound's input
 * (when the bound is a value that has one): y >= hi to max, y <= lo to
 * min, hi first because lo > hi makes every element hi (the forward's
 * order).  NaN outputs pass nothing. */
fc_status fc_ref_clip_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    const fc_tensor *gyt = fc_ref_gout(k, 0);
    fc_tensor *gx = fc_ref_gin(k, 0), *glo = fc_ref_gin(k, 1), *ghi = fc_ref_gin(k, 2);
    if (st || !gyt || (!gx && !glo && !ghi))
        return st;
    if ((st = need_f32(k, k->in[0], err)) || (st = need_f32(k, k->out[0], err)))
        return st;
    float lo, hi;
    if ((st = clip_bounds(k, &lo, &hi, err)))
        return st;
    if (k->node->opset < 11)
        glo = ghi = NULL;
    const float *ys = k->out[0]->data, *gy = gyt->data;
    double to_lo = 0.0, to_hi = 0.0;
    for (size_t i = 0; i < k->out[0]->numel; i++) {
        float y = ys[i];
        if (lo < y && y < hi) {
            if (gx)
                ((float *)gx->data)[i] += gy[i];
        } else if (y >= hi) {
            to_hi += gy[i];
        } else if (y <= lo) {
            to_lo += gy[i];
        }
    }
    if (glo && glo->numel == 1)
        ((float *)glo->data)[0] = (float)(((float *)glo->data)[0] + to_lo);
    if (ghi && ghi->numel == 1)
        ((float *)ghi->data)[0] = (float)(((float *)ghi->data)[0] + to_hi);
    return FC_OK;
}
