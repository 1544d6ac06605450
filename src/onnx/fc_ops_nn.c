/* Shape inference of the neural-network ops: Conv, Gemm, MatMul, pools,
 * BatchNormalization, Softmax/LogSoftmax, ReduceMean.  None of them folds:
 * their data is float tensors, which is the engines' business. */
#include <string.h>

#include "fc_ops_internal.h"

/* Spatial rank of an [N, C, D1..Dk] input, 1..3. */
static fc_status spatial_rank(const fc_vinfo *x, int *nsp, fc_err *err)
{
    if (x->rank < 3 || x->rank > 2 + FC_MAX_SPATIAL) {
        char s[128];
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "input X has shape %s; expected [N, C, D1..Dk] with 1 to %d spatial axes",
                          fc_dims_str(x->rank, x->dims, s, sizeof s), FC_MAX_SPATIAL);
    }
    *nsp = x->rank - 2;
    return FC_OK;
}

/* Conv: X [N, C, D...], W [M, C/group, k...], optional B [M];
 * Y [N, M, out...] with the window formulas of fc_window_decode. */
FC_OP_INFER(fc_infer_conv)
{
    fc_status st = fc_opi_io(node, in, 2, 3, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0], *w = in[1], *b = fc_opi_opt(node, in, 2);
    int nsp = 0;
    if ((st = spatial_rank(x, &nsp, err)) || (st = fc_opi_need_float(x, "input X", err)) ||
        (st = fc_opi_same_dtype(x, "input X", w, "weight W", err)) ||
        (st = fc_opi_need_rank(w, x->rank, "weight W", err)))
        return st;
    int64_t group;
    if ((st = fc_attr_get_int(node, "group", 1, &group, err)))
        return st;
    int64_t c = x->dims[1], m = w->dims[0];
    if (group < 1 || c % group != 0 || m % group != 0)
        return fc_err_set(err, FC_ERR_SHAPE,
                          "group %lld must be positive and divide both the %lld input and "
                          "the %lld output channels",
                          (long long)group, (long long)c, (long long)m);
    if (w->dims[1] != c / group)
        return fc_err_set(err, FC_ERR_SHAPE,
                          "weight W expects %lld input channels per group, but input X has "
                          "%lld channels in %lld group(s)",
                          (long long)w->dims[1], (long long)c, (long long)group);
    if (b) {
        if ((st = fc_opi_same_dtype(x, "input X", b, "bias B", err)))
            return st;
        if (b->rank != 1 || b->dims[0] != m) {
            char s[128];
            return fc_err_set(err, FC_ERR_SHAPE, "bias B has shape %s, expected [%lld]",
                              fc_dims_str(b->rank, b->dims, s, sizeof s), (long long)m);
        }
    }
    fc_window win;
    if ((st = fc_window_decode(node, nsp, x->dims + 2, w->dims + 2, false, &win, err)))
        return st;
    int64_t dims[FC_MAX_RANK] = {x->dims[0], m};
    memcpy(dims + 2, win.out, (size_t)nsp * sizeof *dims);
    fc_opi_set(&out[0], x->dtype, x->rank, dims);
    return FC_OK;
}

/* Gemm: Y [M, N] = alpha * op(A) op(B) + beta * C, op = transpose when
 * transA/transB; C broadcasts one-way to [M, N]. */
FC_OP_INFER(fc_infer_gemm)
{
    fc_status st = fc_opi_io(node, in, 2, 3, 1, err);
    if (st)
        return st;
    const fc_vinfo *a = in[0], *b = in[1], *c = fc_opi_opt(node, in, 2);
    int64_t ta, tb;
    float alpha, beta;
    if ((st = fc_opi_need_rank(a, 2, "input A", err)) ||
        (st = fc_opi_need_rank(b, 2, "input B", err)) ||
        (st = fc_opi_need_float(a, "input A", err)) ||
        (st = fc_opi_same_dtype(a, "input A", b, "input B", err)) ||
        (st = fc_attr_get_int(node, "transA", 0, &ta, err)) ||
        (st = fc_attr_get_int(node, "transB", 0, &tb, err)) ||
        (st = fc_attr_get_float(node, "alpha", 1.0f, &alpha, err)) ||
        (st = fc_attr_get_float(node, "beta", 1.0f, &beta, err)))
        return st;
    int64_t m = a->dims[ta ? 1 : 0], k = a->dims[ta ? 0 : 1];
    int64_t kb = b->dims[tb ? 1 : 0], n = b->dims[tb ? 0 : 1];
    if (k != kb)
        return fc_err_set(err, FC_ERR_SHAPE,
                          "inner dimensions differ: op(A) is [%lld,%lld], op(B) is [%lld,%lld]",
                          (long long)m, (long long)k, (long long)kb, (long long)n);
    int64_t dims[2] = {m, n};
    if (c) {
        if ((st = fc_opi_same_dtype(a, "input A", c, "input C", err)))
            return st;
        bool ok = c->rank <= 2;
        for (int i = 0; ok && i < c->rank; i++) {
            int64_t want = dims[2 - c->rank + i];
            ok = c->dims[i] == 1 || c->dims[i] == want;
        }
        if (!ok) {
            char s[128];
            return fc_err_set(err, FC_ERR_SHAPE, "input C of shape %s does not broadcast to [%lld,%lld]",
                              fc_dims_str(c->rank, c->dims, s, sizeof s), (long long)m,
                              (long long)n);
        }
    }
    fc_opi_set(&out[0], a->dtype, 2, dims);
    return FC_OK;
}

/* MatMul with numpy semantics: a 1-D A is [1,K] and a 1-D B is [K,1] with
 * that added axis dropped from the result; axes before the last two are
 * batch axes and broadcast against each other. */
FC_OP_INFER(fc_infer_matmul)
{
    fc_status st = fc_opi_io(node, in, 2, 2, 1, err);
    if (st)
        return st;
    const fc_vinfo *a = in[0], *b = in[1];
    if ((st = fc_opi_same_dtype(a, "input A", b, "input B", err)))
        return st;
    if (a->rank < 1 || b->rank < 1)
        return fc_err_set(err, FC_ERR_SHAPE, "MatMul of a scalar");
    int64_t k = a->dims[a->rank - 1];
    int64_t kb = b->dims[b->rank == 1 ? 0 : b->rank - 2];
    if (k != kb) {
        char sa[128], sb[128];
        return fc_err_set(err, FC_ERR_SHAPE, "inner dimensions differ: %s x %s",
                          fc_dims_str(a->rank, a->dims, sa, sizeof sa),
                          fc_dims_str(b->rank, b->dims, sb, sizeof sb));
    }
    int rba = a->rank > 2 ? a->rank - 2 : 0, rbb = b->rank > 2 ? b->rank - 2 : 0, r;
    int64_t dims[FC_MAX_RANK];
    if ((st = fc_broadcast_shape(rba, a->dims, rbb, b->dims, &r, dims, err))) {
        fc_err_prefix(err, "batch axes: ");
        return st;
    }
    if (a->rank >= 2)
        dims[r++] = a->dims[a->rank - 2];
    if (b->rank >= 2)
        dims[r++] = b->dims[b->rank - 1];
    fc_opi_set(&out[0], a->dtype, r, dims);
    return FC_OK;
}

static fc_status infer_pool(const fc_node *node, const fc_vinfo *const *in, fc_vinfo *out,
                            int max_out, fc_err *err)
{
    fc_status st = fc_opi_io(node, in, 1, 1, max_out, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    int nsp = 0;
    if ((st = spatial_rank(x, &nsp, err)))
        return st;
    if (!fc_opi_is_float(x->dtype) && !fc_opi_is_int(x->dtype))
        return fc_err_set(err, FC_ERR_SHAPE, "input X has dtype %s", fc_dtype_name(x->dtype));
    fc_window win;
    if ((st = fc_window_decode(node, nsp, x->dims + 2, NULL, true, &win, err)))
        return st;
    int64_t dims[FC_MAX_RANK] = {x->dims[0], x->dims[1]};
    memcpy(dims + 2, win.out, (size_t)nsp * sizeof *dims);
    fc_opi_set(&out[0], x->dtype, x->rank, dims);
    return FC_OK;
}

/* MaxPool: Y, and optionally Indices (int64, same shape: flat offsets into
 * X, row-major, or column-major per spatial plane with storage_order 1). */
FC_OP_INFER(fc_infer_maxpool)
{
    fc_status st = infer_pool(node, in, out, 2, err);
    if (st)
        return st;
    int64_t order;
    if ((st = fc_attr_get_int(node, "storage_order", 0, &order, err)))
        return st;
    if (order != 0 && order != 1)
        return fc_err_set(err, FC_ERR_SHAPE, "storage_order %lld (expected 0 or 1)",
                          (long long)order);
    if (node->n_outputs > 1)
        fc_opi_set(&out[1], FC_DT_I64, out[0].rank, out[0].dims);
    return FC_OK;
}

FC_OP_INFER(fc_infer_averagepool)
{
    fc_status st = infer_pool(node, in, out, 1, err);
    return st ? st : fc_opi_need_float(in[0], "input X", err);
}

/* GlobalAveragePool / GlobalMaxPool: [N, C, D...] -> [N, C, 1...]. */
FC_OP_INFER(fc_infer_global_pool)
{
    fc_status st = fc_opi_io(node, in, 1, 1, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    if (x->rank < 2)
        return fc_err_set(err, FC_ERR_SHAPE, "input X has rank %d, expected [N, C, ...]",
                          x->rank);
    if ((st = fc_opi_need_float(x, "input X", err)))
        return st;
    int64_t dims[FC_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = i < 2 ? x->dims[i] : 1;
    fc_opi_set(&out[0], x->dtype, x->rank, dims);
    return FC_OK;
}

/* BatchNormalization in inference form: Y = scale * (X - mean) /
 * sqrt(var + epsilon) + B per channel (axis 1).  Training mode computes
 * batch statistics and running averages: refused. */
FC_OP_INFER(fc_infer_batchnorm)
{
    fc_status st = fc_opi_io(node, in, 5, 5, 5, err);
    if (st)
        return st;
    int64_t training, spatial;
    float eps, momentum;
    if ((st = fc_attr_get_int(node, "training_mode", 0, &training, err)) ||
        (st = fc_attr_get_int(node, "spatial", 1, &spatial, err)) ||
        (st = fc_attr_get_float(node, "epsilon", 1e-5f, &eps, err)) ||
        (st = fc_attr_get_float(node, "momentum", 0.9f, &momentum, err)))
        return st;
    int extra = 0;
    for (int j = 1; j < node->n_outputs; j++)
        extra += fc_opi_has_out(node, j);
    if (training != 0 || extra)
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "training mode (training_mode=%lld, %d statistics outputs requested) "
                          "is not supported",
                          (long long)training, extra);
    if (node->opset < 9 && spatial == 0)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "spatial=0 is not supported");
    const fc_vinfo *x = in[0];
    if (x->rank < 2)
        return fc_err_set(err, FC_ERR_SHAPE, "input X has rank %d, expected [N, C, ...]",
                          x->rank);
    if ((st = fc_opi_need_float(x, "input X", err)))
        return st;
    static const char *const names[] = {"", "scale", "B", "input_mean", "input_var"};
    for (int i = 1; i < 5; i++) {
        if ((st = fc_opi_same_dtype(x, "input X", in[i], names[i], err)))
            return st;
        if (in[i]->rank != 1 || in[i]->dims[0] != x->dims[1]) {
            char s[128];
            return fc_err_set(err, FC_ERR_SHAPE, "%s has shape %s, expected [%lld] (channels)",
                              names[i], fc_dims_str(in[i]->rank, in[i]->dims, s, sizeof s),
                              (long long)x->dims[1]);
        }
    }
    fc_opi_same(&out[0], x);
    return FC_OK;
}

/* Softmax / LogSoftmax.  Opset < 13: axis defaults to 1 and the input is
 * viewed as 2-D [prod(dims[:axis]), prod(dims[axis:])]; opset >= 13: axis
 * defaults to -1 and only that axis is normalised.  Either way the output
 * has the input's shape; the axis must be valid for the rank. */
FC_OP_INFER(fc_infer_softmax)
{
    fc_status st = fc_opi_io(node, in, 1, 1, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    int64_t axis;
    int a;
    if ((st = fc_opi_need_float(x, "input", err)) ||
        (st = fc_attr_get_int(node, "axis", node->opset < 13 ? 1 : -1, &axis, err)))
        return st;
    if (x->rank < 1)
        return fc_err_set(err, FC_ERR_SHAPE, "input is a scalar");
    if ((st = fc_axis_normalize(axis, x->rank, &a, err)))
        return st;
    fc_opi_same(&out[0], x);
    return FC_OK;
}

/* ReduceMean over `axes` (attribute up to opset 17; none = all axes),
 * keeping reduced axes as 1 when keepdims (default 1). */
FC_OP_INFER(fc_infer_reducemean)
{
    fc_status st = fc_opi_io(node, in, 1, 1, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    const int64_t *axes;
    size_t n;
    int64_t keep;
    unsigned mask = 0;
    if ((st = fc_opi_need_float(x, "input", err)) ||
        (st = fc_attr_get_ints(node, "axes", &axes, &n, err)) ||
        (st = fc_attr_get_int(node, "keepdims", 1, &keep, err)))
        return st;
    if (n > (size_t)x->rank)
        return fc_err_set(err, FC_ERR_SHAPE, "%zu axes for rank %d", n, x->rank);
    if (n == 0)
        mask = (1u << x->rank) - 1;
    else if ((st = fc_opi_axes_mask(axes, n, x->rank, &mask, err)))
        return st;
    int64_t dims[FC_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!(mask & (1u << i)))
            dims[r++] = x->dims[i];
        else if (keep)
            dims[r++] = 1;
    }
    fc_opi_set(&out[0], x->dtype, r, dims);
    return FC_OK;
}
