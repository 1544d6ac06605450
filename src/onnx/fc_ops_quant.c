/* Shape inference of the quantized ops: QuantizeLinear, DequantizeLinear
 * (opset 10 per-tensor, opset 13 per-axis), DynamicQuantizeLinear,
 * MatMulInteger, ConvInteger, QLinearConv, QLinearMatMul, and ONNX
 * Runtime's com.microsoft contrib ops QLinearAdd, QLinearGlobalAveragePool,
 * QLinearAveragePool, QLinearConcat, QGemm.
 *
 * Quantization parameters (scales, zero points) are validated here once:
 * a scale is float32, a zero point has the dtype of the tensor it belongs
 * to, and each is either one value (per tensor) or a 1-D vector along the
 * one axis the op allows (per channel / row / column).  The kernels
 * (src/engines/q8/) rely on that.  None of these ops folds. */
#include <stdio.h>
#include <string.h>

#include "fc_ops_internal.h"

static bool is_q8(fc_dtype dt) { return dt == FC_DT_U8 || dt == FC_DT_I8; }

static fc_status need_q8(const fc_vinfo *v, const char *what, fc_err *err)
{
    if (is_q8(v->dtype))
        return FC_OK;
    return fc_err_set(err, FC_ERR_SHAPE, "%s has dtype %s, expected uint8 or int8", what,
                      fc_dtype_name(v->dtype));
}

/* One value, or a 1-D vector of `n` values when n > 0 (n = 0: one value
 * only).  `what` names the input in messages. */
static fc_status need_count(const fc_vinfo *v, int64_t n, const char *what, fc_err *err)
{
    size_t numel = fc_opi_numel(v);
    if (v->rank <= 1 && numel == 1)
        return FC_OK;
    if (n > 0 && v->rank == 1 && v->dims[0] == n)
        return FC_OK;
    char s[128];
    if (n > 0)
        return fc_err_set(err, FC_ERR_SHAPE, "%s has shape %s, expected a scalar or [%lld]",
                          what, fc_dims_str(v->rank, v->dims, s, sizeof s), (long long)n);
    return fc_err_set(err, FC_ERR_SHAPE, "%s has shape %s, expected a scalar", what,
                      fc_dims_str(v->rank, v->dims, s, sizeof s));
}

/* A float32 scale of one value or n values (n = 0: one only). */
static fc_status need_scale(const fc_vinfo *v, int64_t n, const char *what, fc_err *err)
{
    if (v->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_SHAPE, "%s has dtype %s, expected float32", what,
                          fc_dtype_name(v->dtype));
    return need_count(v, n, what, err);
}

/* An optional zero point of dtype `dt` (the tensor it belongs to) with one
 * value or n values. */
static fc_status need_zp(const fc_vinfo *v, fc_dtype dt, int64_t n, const char *what,
                         fc_err *err)
{
    if (!v)
        return FC_OK;
    if (v->dtype != dt)
        return fc_err_set(err, FC_ERR_SHAPE, "%s has dtype %s, expected %s", what,
                          fc_dtype_name(v->dtype), fc_dtype_name(dt));
    return need_count(v, n, what, err);
}

/* ---- QuantizeLinear / DequantizeLinear ---------------------------------- */

/* Scale (and zero point) of QuantizeLinear / DequantizeLinear against x:
 * one value, or from opset 13 a 1-D vector of x's size along `axis`
 * (default 1).  Block quantization (opset 21) is not supported. */
static fc_status qdq_params(const fc_node *node, const fc_vinfo *x, const fc_vinfo *scale,
                            const fc_vinfo *zp, fc_err *err)
{
    fc_status st;
    if (scale->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_SHAPE, "scale has dtype %s, expected float32",
                          fc_dtype_name(scale->dtype));
    if (fc_attr_find(node, "block_size"))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "block quantization is not supported");
    int64_t n = 0;
    bool per_tensor = scale->rank <= 1 && fc_opi_numel(scale) == 1;
    if (!per_tensor) {
        int64_t axis_attr;
        int axis;
        if (node->opset < 13)
            return fc_err_set(err, FC_ERR_SHAPE, "scale must be a scalar before opset 13");
        if ((st = fc_attr_get_int(node, "axis", 1, &axis_attr, err)) ||
            (st = fc_axis_normalize(axis_attr, x->rank, &axis, err)))
            return st;
        n = x->dims[axis];
    }
    if ((st = need_count(scale, n, "scale", err)))
        return st;
    if (zp && fc_opi_numel(zp) != fc_opi_numel(scale))
        return fc_err_set(err, FC_ERR_SHAPE, "zero point has %zu values, scale has %zu",
                          fc_opi_numel(zp), fc_opi_numel(scale));
    return zp ? need_count(zp, n, "zero point", err) : FC_OK;
}

/* y = saturate(round(x / scale) + zero_point); y has the zero point's
 * dtype (uint8 when it is omitted). */
FC_OP_INFER(fc_infer_quantizelinear)
{
    fc_status st = fc_opi_io(node, in, 2, 3, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0], *zp = fc_opi_opt(node, in, 2);
    if (x->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "input x has dtype %s, expected float32",
                          fc_dtype_name(x->dtype));
    if (zp && (st = need_q8(zp, "zero point", err)))
        return st;
    if ((st = qdq_params(node, x, in[1], zp, err)))
        return st;
    fc_opi_set(&out[0], zp ? zp->dtype : FC_DT_U8, x->rank, x->dims);
    return FC_OK;
}

/* y = (x - zero_point) * scale as float32; x is uint8, int8 or int32. */
FC_OP_INFER(fc_infer_dequantizelinear)
{
    fc_status st = fc_opi_io(node, in, 2, 3, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0], *zp = fc_opi_opt(node, in, 2);
    if (!is_q8(x->dtype) && x->dtype != FC_DT_I32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "input x has dtype %s, expected uint8, int8 or int32",
                          fc_dtype_name(x->dtype));
    if (zp && zp->dtype != x->dtype)
        return fc_err_set(err, FC_ERR_SHAPE, "zero point has dtype %s, x has %s",
                          fc_dtype_name(zp->dtype), fc_dtype_name(x->dtype));
    if ((st = qdq_params(node, x, in[1], zp, err)))
        return st;
    fc_opi_set(&out[0], FC_DT_F32, x->rank, x->dims);
    return FC_OK;
}

/* y (uint8, x's shape), y_scale and y_zero_point (scalars) from x's range. */
FC_OP_INFER(fc_infer_dynamicquantizelinear)
{
    fc_status st = fc_opi_io(node, in, 1, 1, 3, err);
    if (st)
        return st;
    if (in[0]->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "input x has dtype %s, expected float32",
                          fc_dtype_name(in[0]->dtype));
    fc_opi_set(&out[0], FC_DT_U8, in[0]->rank, in[0]->dims);
    if (node->n_outputs > 1)
        fc_opi_set(&out[1], FC_DT_F32, 0, NULL);
    if (node->n_outputs > 2)
        fc_opi_set(&out[2], FC_DT_U8, 0, NULL);
    return FC_OK;
}

/* ---- matrix products ----------------------------------------------------- */

/* numpy matmul shape of a x b (as fc_infer_matmul, without the dtype
 * rule: the integer products mix uint8 and int8).  *m and *n are the rows
 * of a and the columns of b (1 for a 1-D operand). */
static fc_status matmul_dims(const fc_vinfo *a, const fc_vinfo *b, int *rank, int64_t *dims,
                             int64_t *m, int64_t *n, fc_err *err)
{
    if (a->rank < 1 || b->rank < 1)
        return fc_err_set(err, FC_ERR_SHAPE, "matrix product of a scalar");
    int64_t k = a->dims[a->rank - 1], kb = b->dims[b->rank == 1 ? 0 : b->rank - 2];
    if (k != kb) {
        char sa[128], sb[128];
        return fc_err_set(err, FC_ERR_SHAPE, "inner dimensions differ: %s x %s",
                          fc_dims_str(a->rank, a->dims, sa, sizeof sa),
                          fc_dims_str(b->rank, b->dims, sb, sizeof sb));
    }
    int rba = a->rank > 2 ? a->rank - 2 : 0, rbb = b->rank > 2 ? b->rank - 2 : 0, r;
    fc_status st = fc_broadcast_shape(rba, a->dims, rbb, b->dims, &r, dims, err);
    if (st) {
        fc_err_prefix(err, "batch axes: ");
        return st;
    }
    *m = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    *n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if (a->rank >= 2)
        dims[r++] = *m;
    if (b->rank >= 2)
        dims[r++] = *n;
    *rank = r;
    return FC_OK;
}

/* MatMulInteger: int32 Y = (A - a_zero_point) x (B - b_zero_point); the
 * zero points are per tensor, or per row of a 2-D A / per column of B. */
FC_OP_INFER(fc_infer_matmulinteger)
{
    fc_status st = fc_opi_io(node, in, 2, 4, 1, err);
    if (st)
        return st;
    const fc_vinfo *a = in[0], *b = in[1];
    int r;
    int64_t dims[FC_MAX_RANK], m, n;
    if ((st = need_q8(a, "input A", err)) || (st = need_q8(b, "input B", err)) ||
        (st = matmul_dims(a, b, &r, dims, &m, &n, err)) ||
        (st = need_zp(fc_opi_opt(node, in, 2), a->dtype, a->rank == 2 ? m : 0,
                      "a_zero_point", err)) ||
        (st = need_zp(fc_opi_opt(node, in, 3), b->dtype, b->rank >= 2 ? n : 0,
                      "b_zero_point", err)))
        return st;
    fc_opi_set(&out[0], FC_DT_I32, r, dims);
    return FC_OK;
}

/* QLinearMatMul: y = saturate(round((a - a_zp)(b - b_zp) * a_scale * b_scale
 * / y_scale) + y_zp); a's parameters per tensor or per row of a 2-D a,
 * b's per tensor or per column; y has y_zero_point's dtype. */
FC_OP_INFER(fc_infer_qlinearmatmul)
{
    fc_status st = fc_opi_io(node, in, 8, 8, 1, err);
    if (st)
        return st;
    const fc_vinfo *a = in[0], *b = in[3];
    int r;
    int64_t dims[FC_MAX_RANK], m, n;
    if ((st = need_q8(a, "input a", err)) || (st = need_q8(b, "input b", err)) ||
        (st = need_q8(in[7], "y_zero_point", err)) ||
        (st = matmul_dims(a, b, &r, dims, &m, &n, err)) ||
        (st = need_scale(in[1], a->rank == 2 ? m : 0, "a_scale", err)) ||
        (st = need_zp(in[2], a->dtype, a->rank == 2 ? m : 0, "a_zero_point", err)) ||
        (st = need_scale(in[4], b->rank >= 2 ? n : 0, "b_scale", err)) ||
        (st = need_zp(in[5], b->dtype, b->rank >= 2 ? n : 0, "b_zero_point", err)) ||
        (st = need_scale(in[6], 0, "y_scale", err)) ||
        (st = need_count(in[7], 0, "y_zero_point", err)))
        return st;
    fc_opi_set(&out[0], in[7]->dtype, r, dims);
    return FC_OK;
}

/* com.microsoft.QGemm: Y = alpha * (op(A) - a_zp)(op(B) - b_zp) * a_scale *
 * b_scale + C (int32, scale a_scale * b_scale), requantized with y_scale
 * and y_zero_point when y_zero_point is given, else float32. */
FC_OP_INFER(fc_infer_qgemm)
{
    fc_status st = fc_opi_io(node, in, 6, 9, 1, err);
    if (st)
        return st;
    const fc_vinfo *a = in[0], *b = in[3], *c = fc_opi_opt(node, in, 6);
    const fc_vinfo *ys = fc_opi_opt(node, in, 7), *yzp = fc_opi_opt(node, in, 8);
    int64_t ta, tb;
    float alpha;
    if ((st = need_q8(a, "input A", err)) || (st = need_q8(b, "input B", err)) ||
        (st = fc_opi_need_rank(a, 2, "input A", err)) ||
        (st = fc_opi_need_rank(b, 2, "input B", err)) ||
        (st = fc_attr_get_int(node, "transA", 0, &ta, err)) ||
        (st = fc_attr_get_int(node, "transB", 0, &tb, err)) ||
        (st = fc_attr_get_float(node, "alpha", 1.0f, &alpha, err)))
        return st;
    int64_t m = a->dims[ta ? 1 : 0], k = a->dims[ta ? 0 : 1];
    int64_t kb = b->dims[tb ? 1 : 0], n = b->dims[tb ? 0 : 1];
    if (k != kb)
        return fc_err_set(err, FC_ERR_SHAPE,
                          "inner dimensions differ: op(A) is [%lld,%lld], op(B) is [%lld,%lld]",
                          (long long)m, (long long)k, (long long)kb, (long long)n);
    if ((st = need_scale(in[1], 0, "a_scale", err)) ||
        (st = need_zp(in[2], a->dtype, 0, "a_zero_point", err)) ||
        (st = need_scale(in[4], n, "b_scale", err)) ||
        (st = need_zp(in[5], b->dtype, n, "b_zero_point", err)))
        return st;
    int64_t dims[2] = {m, n};
    if (c) {
        bool ok = c->dtype == FC_DT_I32 && c->rank <= 2;
        for (int i = 0; ok && i < c->rank; i++)
            ok = c->dims[i] == 1 || c->dims[i] == dims[2 - c->rank + i];
        if (!ok) {
            char s[128];
            return fc_err_set(err, FC_ERR_SHAPE,
                              "input C (%s %s) is not int32 broadcastable to [%lld,%lld]",
                              fc_dtype_name(c->dtype), fc_dims_str(c->rank, c->dims, s, sizeof s),
                              (long long)m, (long long)n);
        }
    }
    if (ys && (st = need_scale(ys, 0, "y_scale", err)))
        return st;
    if (yzp) {
        if (!ys)
            return fc_err_set(err, FC_ERR_SHAPE, "y_zero_point is given without y_scale");
        if ((st = need_q8(yzp, "y_zero_point", err)) ||
            (st = need_count(yzp, 0, "y_zero_point", err)))
            return st;
    }
    fc_opi_set(&out[0], yzp ? yzp->dtype : FC_DT_F32, 2, dims);
    return FC_OK;
}

/* ---- convolutions -------------------------------------------------------- */

/* Conv geometry of x [N, C, D...] and w [M, C/group, k...] into out dims
 * (as fc_infer_conv, without the float rule). */
static fc_status conv_dims(const fc_node *node, const fc_vinfo *x, const fc_vinfo *w,
                           int64_t *dims, fc_err *err)
{
    int64_t group, channels_last;
    fc_status st;
    if ((st = fc_attr_get_int(node, "group", 1, &group, err)) ||
        (st = fc_attr_get_int(node, "channels_last", 0, &channels_last, err)))
        return st;
    if (channels_last != 0)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "channels_last=%lld is not supported",
                          (long long)channels_last);
    if (x->rank < 3 || x->rank > 2 + FC_MAX_SPATIAL) {
        char s[128];
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "input x has shape %s; expected [N, C, D1..Dk] with 1 to %d spatial axes",
                          fc_dims_str(x->rank, x->dims, s, sizeof s), FC_MAX_SPATIAL);
    }
    if ((st = fc_opi_need_rank(w, x->rank, "weight w", err)))
        return st;
    int64_t c = x->dims[1], m = w->dims[0];
    if (group < 1 || c % group != 0 || m % group != 0 || w->dims[1] != c / group)
        return fc_err_set(err, FC_ERR_SHAPE,
                          "group %lld does not fit %lld input channels, %lld output channels "
                          "and %lld weight channels per group",
                          (long long)group, (long long)c, (long long)m, (long long)w->dims[1]);
    fc_window win;
    int nsp = x->rank - 2;
    if ((st = fc_window_decode(node, nsp, x->dims + 2, w->dims + 2, false, &win, err)))
        return st;
    dims[0] = x->dims[0];
    dims[1] = m;
    memcpy(dims + 2, win.out, (size_t)nsp * sizeof *dims);
    return FC_OK;
}

/* ConvInteger: int32 Y = conv(x - x_zero_point, w - w_zero_point); the
 * weight zero point per tensor or per output channel. */
FC_OP_INFER(fc_infer_convinteger)
{
    fc_status st = fc_opi_io(node, in, 2, 4, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0], *w = in[1];
    int64_t dims[FC_MAX_RANK];
    if ((st = need_q8(x, "input x", err)) || (st = need_q8(w, "weight w", err)) ||
        (st = conv_dims(node, x, w, dims, err)) ||
        (st = need_zp(fc_opi_opt(node, in, 2), x->dtype, 0, "x_zero_point", err)) ||
        (st = need_zp(fc_opi_opt(node, in, 3), w->dtype, w->dims[0], "w_zero_point", err)))
        return st;
    fc_opi_set(&out[0], FC_DT_I32, x->rank, dims);
    return FC_OK;
}

/* QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point,
 * y_scale, y_zero_point, optional int32 bias B [M] (scale x_scale *
 * w_scale); w's parameters per tensor or per output channel. */
FC_OP_INFER(fc_infer_qlinearconv)
{
    fc_status st = fc_opi_io(node, in, 8, 9, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0], *w = in[3], *b = fc_opi_opt(node, in, 8);
    int64_t dims[FC_MAX_RANK];
    if ((st = need_q8(x, "input x", err)) || (st = need_q8(w, "weight w", err)) ||
        (st = need_q8(in[7], "y_zero_point", err)) ||
        (st = conv_dims(node, x, w, dims, err)) ||
        (st = need_scale(in[1], 0, "x_scale", err)) ||
        (st = need_zp(in[2], x->dtype, 0, "x_zero_point", err)) ||
        (st = need_scale(in[4], w->dims[0], "w_scale", err)) ||
        (st = need_zp(in[5], w->dtype, w->dims[0], "w_zero_point", err)) ||
        (st = need_scale(in[6], 0, "y_scale", err)) ||
        (st = need_count(in[7], 0, "y_zero_point", err)))
        return st;
    if (b && (b->dtype != FC_DT_I32 || b->rank != 1 || b->dims[0] != w->dims[0])) {
        char s[128];
        return fc_err_set(err, FC_ERR_SHAPE, "bias B is %s %s, expected int32 [%lld]",
                          fc_dtype_name(b->dtype), fc_dims_str(b->rank, b->dims, s, sizeof s),
                          (long long)w->dims[0]);
    }
    fc_opi_set(&out[0], in[7]->dtype, x->rank, dims);
    return FC_OK;
}

/* ---- element-wise and pooling contrib ops -------------------------------- */

/* QLinearAdd: A, A_scale, A_zp?, B, B_scale, B_zp?, C_scale, C_zp?; A and
 * B share one 8-bit dtype, broadcast numpy-style; C has their dtype. */
FC_OP_INFER(fc_infer_qlinearadd)
{
    fc_status st = fc_opi_io(node, in, 7, 8, 1, err);
    if (st)
        return st;
    const fc_vinfo *a = in[0], *b = in[3];
    if ((st = need_q8(a, "input A", err)) ||
        (st = fc_opi_same_dtype(a, "input A", b, "input B", err)) ||
        (st = need_scale(in[1], 0, "A_scale", err)) ||
        (st = need_zp(in[2], a->dtype, 0, "A_zero_point", err)) ||
        (st = need_scale(in[4], 0, "B_scale", err)) ||
        (st = need_zp(in[5], a->dtype, 0, "B_zero_point", err)) ||
        (st = need_scale(in[6], 0, "C_scale", err)) ||
        (st = need_zp(fc_opi_opt(node, in, 7), a->dtype, 0, "C_zero_point", err)))
        return st;
    int r;
    int64_t dims[FC_MAX_RANK];
    if ((st = fc_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &r, dims, err)))
        return st;
    fc_opi_set(&out[0], a->dtype, r, dims);
    return FC_OK;
}

/* Spatial dims of x for the channels_last attribute: [N, C, D...] or
 * [N, D..., C]; 1 to 3 spatial axes. */
static fc_status pool_layout(const fc_node *node, const fc_vinfo *x, bool *last, fc_err *err)
{
    int64_t cl;
    fc_status st = fc_attr_get_int(node, "channels_last", 0, &cl, err);
    if (st)
        return st;
    if (cl != 0 && cl != 1)
        return fc_err_set(err, FC_ERR_SHAPE, "channels_last %lld (expected 0 or 1)",
                          (long long)cl);
    if (x->rank < 3 || x->rank > 2 + FC_MAX_SPATIAL) {
        char s[128];
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "input X has shape %s; expected 1 to %d spatial axes",
                          fc_dims_str(x->rank, x->dims, s, sizeof s), FC_MAX_SPATIAL);
    }
    *last = cl == 1;
    return FC_OK;
}

/* QLinearGlobalAveragePool: X, x_scale, x_zp, y_scale, y_zp; every
 * spatial axis becomes 1, in either layout. */
FC_OP_INFER(fc_infer_qlinearglobalavgpool)
{
    fc_status st = fc_opi_io(node, in, 5, 5, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    bool last = false;
    if ((st = need_q8(x, "input X", err)) || (st = pool_layout(node, x, &last, err)) ||
        (st = need_scale(in[1], 0, "x_scale", err)) ||
        (st = need_zp(in[2], x->dtype, 0, "x_zero_point", err)) ||
        (st = need_scale(in[3], 0, "y_scale", err)) ||
        (st = need_zp(in[4], x->dtype, 0, "y_zero_point", err)))
        return st;
    int64_t dims[FC_MAX_RANK];
    int c_axis = last ? x->rank - 1 : 1;
    for (int i = 0; i < x->rank; i++)
        dims[i] = (i == 0 || i == c_axis) ? x->dims[i] : 1;
    fc_opi_set(&out[0], x->dtype, x->rank, dims);
    return FC_OK;
}

/* QLinearAveragePool: X, x_scale, x_zp?, y_scale, y_zp?; the AveragePool
 * window attributes, in either layout. */
FC_OP_INFER(fc_infer_qlinearavgpool)
{
    fc_status st = fc_opi_io(node, in, 4, 5, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    bool last = false;
    if ((st = need_q8(x, "input X", err)) || (st = pool_layout(node, x, &last, err)) ||
        (st = need_scale(in[1], 0, "x_scale", err)) ||
        (st = need_zp(fc_opi_opt(node, in, 2), x->dtype, 0, "x_zero_point", err)) ||
        (st = need_scale(in[3], 0, "y_scale", err)) ||
        (st = need_zp(fc_opi_opt(node, in, 4), x->dtype, 0, "y_zero_point", err)))
        return st;
    int nsp = x->rank - 2;
    const int64_t *sp = x->dims + (last ? 1 : 2);
    fc_window win;
    if ((st = fc_window_decode(node, nsp, sp, NULL, true, &win, err)))
        return st;
    int64_t dims[FC_MAX_RANK];
    dims[0] = x->dims[0];
    dims[last ? x->rank - 1 : 1] = x->dims[last ? x->rank - 1 : 1];
    memcpy(dims + (last ? 1 : 2), win.out, (size_t)nsp * sizeof *dims);
    fc_opi_set(&out[0], x->dtype, x->rank, dims);
    return FC_OK;
}

/* QLinearConcat: Y_scale, Y_zero_point, then (X, X_scale, X_zero_point)
 * per input; shapes as Concat along `axis`; Y has Y_zero_point's dtype. */
FC_OP_INFER(fc_infer_qlinearconcat)
{
    if (node->n_inputs < 5 || (node->n_inputs - 2) % 3 != 0)
        return fc_err_set(err, FC_ERR_SHAPE,
                          "%d inputs; expected Y_scale, Y_zero_point and (tensor, scale, "
                          "zero point) triples",
                          node->n_inputs);
    fc_status st = fc_opi_io(node, in, node->n_inputs, node->n_inputs, 1, err);
    if (st)
        return st;
    const fc_vinfo *yzp = in[1], *x0 = in[2];
    int64_t axis_attr;
    int axis;
    if (!fc_attr_find(node, "axis"))
        return fc_err_set(err, FC_ERR_SHAPE, "missing attribute 'axis'");
    if ((st = need_scale(in[0], 0, "Y_scale", err)) || (st = need_q8(yzp, "Y_zero_point", err)) ||
        (st = need_count(yzp, 0, "Y_zero_point", err)) ||
        (st = fc_attr_get_int(node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, x0->rank, &axis, err)))
        return st;
    int64_t dims[FC_MAX_RANK];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 2; i < node->n_inputs; i += 3) {
        const fc_vinfo *x = in[i];
        char name[48];
        snprintf(name, sizeof name, "input %d", i);
        if ((st = fc_opi_same_dtype(yzp, "Y_zero_point", x, name, err)) ||
            (st = need_scale(in[i + 1], 0, "input scale", err)) ||
            (st = need_zp(in[i + 2], yzp->dtype, 0, "input zero point", err)))
            return st;
        bool ok = x->rank == x0->rank;
        for (int d = 0; ok && d < x0->rank; d++)
            ok = d == axis || x->dims[d] == x0->dims[d];
        if (!ok) {
            char sa[128], sb[128];
            return fc_err_set(err, FC_ERR_SHAPE, "input 2 %s and %s %s differ outside axis %d",
                              fc_dims_str(x0->rank, x0->dims, sa, sizeof sa), name,
                              fc_dims_str(x->rank, x->dims, sb, sizeof sb), axis);
        }
        /* Each dim is within the tensor cap, and there are at most
         * FC_MAX_NODE_IO / 3 of them: the sum cannot overflow. */
        dims[axis] += x->dims[axis];
    }
    fc_opi_set(&out[0], yzp->dtype, x0->rank, dims);
    return FC_OK;
}
