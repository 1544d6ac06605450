/* Shape inference and folding of the ops that compute or rearrange shapes:
 * Shape, Gather, Unsqueeze, Squeeze, Concat, Reshape, Flatten (and the
 * byte-copy fold shared with Identity).  These are what a PyTorch export's
 * Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain is made of. */
#include <stdio.h>
#include <string.h>

#include "../core/fc_alloc.h"
#include "fc_ops_internal.h"

/* Shape (opset >= 15): dims[start:end] with negative values counting from
 * the end and both clamped into [0, rank], as Python slicing does. */
static fc_status shape_range(const fc_node *node, int rank, int64_t *start, int64_t *len,
                             fc_err *err)
{
    int64_t s = 0, e = rank;
    fc_status st;
    if (node->opset >= 15 && ((st = fc_attr_get_int(node, "start", 0, &s, err)) ||
                              (st = fc_attr_get_int(node, "end", rank, &e, err))))
        return st;
    if (s < 0)
        s += rank;
    if (e < 0)
        e += rank;
    s = s < 0 ? 0 : s > rank ? rank : s;
    e = e < 0 ? 0 : e > rank ? rank : e;
    *start = s;
    *len = e > s ? e - s : 0;
    return FC_OK;
}

FC_OP_INFER(fc_infer_shape)
{
    fc_status st = fc_opi_io(node, in, 1, 1, 1, err);
    int64_t start, len;
    if (st || (st = shape_range(node, in[0]->rank, &start, &len, err)))
        return st;
    fc_opi_set(&out[0], FC_DT_I64, 1, &len);
    return FC_OK;
}

/* Needs only the input's dims, never its data. */
FC_OP_FOLD(fc_fold_shape)
{
    int64_t start, len;
    fc_status st = shape_range(node, in[0]->rank, &start, &len, err);
    if (st || (st = fc_opi_fold_alloc(&out[0], &out_info[0], err)))
        return st;
    for (int64_t i = 0; i < len; i++)
        ((int64_t *)out[0].data)[i] = in[0]->dims[start + i];
    return FC_OK;
}

/* Gather: data [d0..d_{r-1}] and indices of shape q give
 * [d0..d_{axis-1}, q..., d_{axis+1}..]; rank r + q - 1. */
FC_OP_INFER(fc_infer_gather)
{
    fc_status st = fc_opi_io(node, in, 2, 2, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0], *ind = in[1];
    int64_t axis_attr;
    int axis;
    if (ind->dtype != FC_DT_I64 && ind->dtype != FC_DT_I32)
        return fc_err_set(err, FC_ERR_SHAPE, "indices have dtype %s, expected int64 or int32",
                          fc_dtype_name(ind->dtype));
    if (x->rank < 1)
        return fc_err_set(err, FC_ERR_SHAPE, "data is a scalar");
    if ((st = fc_attr_get_int(node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, x->rank, &axis, err)))
        return st;
    int r = x->rank + ind->rank - 1;
    if (r > FC_MAX_RANK)
        return fc_err_set(err, FC_ERR_LIMIT, "output rank %d exceeds %d", r, FC_MAX_RANK);
    if (ind->value) {
        int64_t n = x->dims[axis];
        for (size_t i = 0; i < ind->value->numel; i++) {
            int64_t v = fc_tensor_get_i64(ind->value, i);
            if (v < -n || v >= n)
                return fc_err_set(err, FC_ERR_SHAPE,
                                  "index %lld out of range [%lld, %lld] for axis %d",
                                  (long long)v, (long long)-n, (long long)(n - 1), axis);
        }
    }
    int64_t dims[FC_MAX_RANK];
    int k = 0;
    for (int i = 0; i < axis; i++)
        dims[k++] = x->dims[i];
    for (int i = 0; i < ind->rank; i++)
        dims[k++] = ind->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        dims[k++] = x->dims[i];
    fc_opi_set(&out[0], x->dtype, r, dims);
    return FC_OK;
}

FC_OP_FOLD(fc_fold_gather)
{
    const fc_tensor *x = in[0]->value, *ind = in[1]->value;
    int64_t axis_attr;
    int axis;
    fc_status st = fc_attr_get_int(node, "axis", 0, &axis_attr, err);
    if (st || (st = fc_axis_normalize(axis_attr, x->rank, &axis, err)) ||
        (st = fc_opi_fold_alloc(&out[0], &out_info[0], err)))
        return st;
    if (out[0].numel == 0)
        return FC_OK;   /* and outer/inner below are products of nonzero dims */
    size_t outer = 1, inner = fc_dtype_size(x->dtype);
    for (int i = 0; i < axis; i++)
        outer *= (size_t)x->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        inner *= (size_t)x->dims[i];
    int64_t n = x->dims[axis];
    unsigned char *dst = out[0].data;
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < ind->numel; j++) {
            int64_t i = fc_tensor_get_i64(ind, j);   /* range checked by infer */
            if (i < 0)
                i += n;
            memcpy(dst, (const unsigned char *)x->data + (o * (size_t)n + (size_t)i) * inner,
                   inner);
            dst += inner;
        }
    return FC_OK;
}

/* Axes of (Un)Squeeze: attribute before opset 13, input 1 from 13 on. */
static fc_status get_axes(const fc_node *node, const fc_vinfo *const *in, int64_t *axes,
                          size_t *n, bool *given, fc_err *err)
{
    if (node->opset < 13) {
        const int64_t *a;
        fc_status st = fc_attr_get_ints(node, "axes", &a, n, err);
        if (st)
            return st;
        if (*n > FC_MAX_RANK)
            return fc_err_set(err, FC_ERR_LIMIT, "%zu axes (at most %d)", *n, FC_MAX_RANK);
        if (*n)
            memcpy(axes, a, *n * sizeof *a);
        *given = a != NULL;
        return FC_OK;
    }
    const fc_vinfo *v = fc_opi_opt(node, in, 1);
    *given = v != NULL;
    *n = 0;
    if (!v)
        return FC_OK;
    char role[64];
    snprintf(role, sizeof role, "the output shape of %s", node->op_type);
    return fc_opi_const_ints(v, role, "axes", FC_MAX_RANK, axes, n, err);
}

/* Unsqueeze: inserts size-1 axes; each axis is normalised against the
 * output rank r + len(axes). */
FC_OP_INFER(fc_infer_unsqueeze)
{
    fc_status st = fc_opi_io(node, in, 1, node->opset < 13 ? 1 : 2, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    int64_t axes[FC_MAX_RANK];
    size_t n;
    bool given;
    if ((st = get_axes(node, in, axes, &n, &given, err)))
        return st;
    if (n == 0)
        return fc_err_set(err, FC_ERR_SHAPE, "no axes given");
    int r = x->rank + (int)n;
    if (r > FC_MAX_RANK)
        return fc_err_set(err, FC_ERR_LIMIT, "output rank %d exceeds %d", r, FC_MAX_RANK);
    unsigned mask;
    if ((st = fc_opi_axes_mask(axes, n, r, &mask, err)))
        return st;
    int64_t dims[FC_MAX_RANK];
    for (int i = 0, j = 0; i < r; i++)
        dims[i] = (mask & (1u << i)) ? 1 : x->dims[j++];
    fc_opi_set(&out[0], x->dtype, r, dims);
    return FC_OK;
}

/* Squeeze: removes the listed axes (each must have size 1), or every
 * size-1 axis when none are given. */
FC_OP_INFER(fc_infer_squeeze)
{
    fc_status st = fc_opi_io(node, in, 1, node->opset < 13 ? 1 : 2, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    int64_t axes[FC_MAX_RANK];
    size_t n;
    bool given;
    unsigned mask = 0;
    if ((st = get_axes(node, in, axes, &n, &given, err)))
        return st;
    if (n == 0) {
        for (int i = 0; i < x->rank; i++)
            if (x->dims[i] == 1)
                mask |= 1u << i;
    } else if ((st = fc_opi_axes_mask(axes, n, x->rank, &mask, err))) {
        return st;
    }
    int64_t dims[FC_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!(mask & (1u << i))) {
            dims[r++] = x->dims[i];
        } else if (x->dims[i] != 1) {
            return fc_err_set(err, FC_ERR_SHAPE, "cannot squeeze axis %d of size %lld", i,
                              (long long)x->dims[i]);
        }
    }
    fc_opi_set(&out[0], x->dtype, r, dims);
    return FC_OK;
}

/* Concat along `axis`: all inputs share dtype, rank and every other dim. */
FC_OP_INFER(fc_infer_concat)
{
    if (node->n_inputs < 1)
        return fc_err_set(err, FC_ERR_SHAPE, "no inputs");
    fc_status st = fc_opi_io(node, in, node->n_inputs, node->n_inputs, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    int64_t axis_attr;
    int axis;
    if (!fc_attr_find(node, "axis"))
        return fc_err_set(err, FC_ERR_SHAPE, "missing attribute 'axis'");
    if ((st = fc_attr_get_int(node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, x->rank, &axis, err)))
        return st;
    int64_t dims[FC_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    for (int i = 1; i < node->n_inputs; i++) {
        const fc_vinfo *v = in[i];
        char name[32];
        snprintf(name, sizeof name, "input %d", i);
        if ((st = fc_opi_same_dtype(x, "input 0", v, name, err)))
            return st;
        bool ok = v->rank == x->rank;
        for (int d = 0; ok && d < x->rank; d++)
            ok = d == axis || v->dims[d] == x->dims[d];
        if (!ok) {
            char sa[128], sb[128];
            return fc_err_set(err, FC_ERR_SHAPE,
                              "input 0 %s and %s %s differ outside axis %d",
                              fc_dims_str(x->rank, x->dims, sa, sizeof sa), name,
                              fc_dims_str(v->rank, v->dims, sb, sizeof sb), axis);
        }
        /* Every dim is <= FC_MAX_TENSOR_ELEMS (checked by the plan), so a
         * sum over at most FC_MAX_NODE_IO inputs cannot overflow. */
        dims[axis] += v->dims[axis];
    }
    fc_opi_set(&out[0], x->dtype, x->rank, dims);
    return FC_OK;
}

FC_OP_FOLD(fc_fold_concat)
{
    const fc_vinfo *o = &out_info[0];
    int64_t axis_attr;
    int axis;
    fc_status st = fc_attr_get_int(node, "axis", 0, &axis_attr, err);
    if (st || (st = fc_axis_normalize(axis_attr, o->rank, &axis, err)) ||
        (st = fc_opi_fold_alloc(&out[0], o, err)))
        return st;
    if (out[0].numel == 0)
        return FC_OK;   /* and outer/inner below are products of nonzero dims */
    size_t outer = 1, inner = fc_dtype_size(o->dtype);
    for (int i = 0; i < axis; i++)
        outer *= (size_t)o->dims[i];
    for (int i = axis + 1; i < o->rank; i++)
        inner *= (size_t)o->dims[i];
    unsigned char *dst = out[0].data;
    for (size_t k = 0; k < outer; k++)
        for (int i = 0; i < node->n_inputs; i++) {
            size_t block = (size_t)in[i]->dims[axis] * inner;
            if (block)
                memcpy(dst, (const unsigned char *)in[i]->value->data + k * block, block);
            dst += block;
        }
    return FC_OK;
}

/* Reshape: target from the constant `shape` input; 0 copies the input dim
 * at that position (unless allowzero = 1, opset >= 14, where it means 0),
 * one -1 is inferred so that the element count is preserved. */
FC_OP_INFER(fc_infer_reshape)
{
    fc_status st = fc_opi_io(node, in, 2, 2, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    int64_t dims[FC_MAX_RANK], allowzero = 0;
    size_t n;
    if ((st = fc_opi_const_ints(in[1], "the output shape of Reshape", "shape", FC_MAX_RANK,
                                dims, &n, err)))
        return st;
    if (node->opset >= 14 && (st = fc_attr_get_int(node, "allowzero", 0, &allowzero, err)))
        return st;
    int infer_at = -1;
    bool has_zero = false;
    for (int i = 0; i < (int)n; i++) {
        if (dims[i] == -1) {
            if (infer_at >= 0)
                return fc_err_set(err, FC_ERR_SHAPE, "shape has more than one -1");
            infer_at = i;
        } else if (dims[i] < -1) {
            return fc_err_set(err, FC_ERR_SHAPE, "shape has negative entry %lld",
                              (long long)dims[i]);
        } else if (dims[i] == 0) {
            has_zero = true;
            if (!allowzero) {
                if (i >= x->rank)
                    return fc_err_set(err, FC_ERR_SHAPE,
                                      "shape entry %d is 0 but the input has rank %d", i, x->rank);
                dims[i] = x->dims[i];
            }
        }
    }
    if (allowzero && has_zero && infer_at >= 0)
        return fc_err_set(err, FC_ERR_SHAPE, "shape has both 0 and -1 with allowzero=1");
    size_t in_numel = fc_opi_numel(x), known = 1;
    if (infer_at >= 0) {
        dims[infer_at] = 1;
        if ((st = fc_shape_numel((int)n, dims, &known, "reshape target", err)))
            return st;
        if (known == 0 || in_numel % known != 0) {
            char s[128];
            dims[infer_at] = -1;
            return fc_err_set(err, FC_ERR_SHAPE,
                              "cannot infer the -1 in %s from %zu input elements",
                              fc_dims_str((int)n, dims, s, sizeof s), in_numel);
        }
        dims[infer_at] = (int64_t)(in_numel / known);
    }
    size_t numel;
    if ((st = fc_shape_numel((int)n, dims, &numel, "reshape target", err)))
        return st;
    if (numel != in_numel) {
        char sa[128], sb[128];
        return fc_err_set(err, FC_ERR_SHAPE, "cannot reshape %s (%zu elements) to %s",
                          fc_dims_str(x->rank, x->dims, sa, sizeof sa), in_numel,
                          fc_dims_str((int)n, dims, sb, sizeof sb));
    }
    fc_opi_set(&out[0], x->dtype, (int)n, dims);
    return FC_OK;
}

/* Flatten: [prod(dims[:axis]), prod(dims[axis:])], axis in [-r, r]. */
FC_OP_INFER(fc_infer_flatten)
{
    fc_status st = fc_opi_io(node, in, 1, 1, 1, err);
    if (st)
        return st;
    const fc_vinfo *x = in[0];
    int64_t axis;
    if ((st = fc_attr_get_int(node, "axis", 1, &axis, err)))
        return st;
    if (axis < -(int64_t)x->rank || axis > x->rank)
        return fc_err_set(err, FC_ERR_SHAPE, "axis %lld out of range for rank %d",
                          (long long)axis, x->rank);
    if (axis < 0)
        axis += x->rank;
    int64_t dims[2] = {1, 1};
    /* Checked: with a 0 dim elsewhere, one side's product is unbounded. */
    for (int i = 0; i < x->rank; i++)
        if (!fc_mul_i64(dims[i >= axis], x->dims[i], &dims[i >= axis]))
            return fc_err_set(err, FC_ERR_LIMIT, "flattened dimension overflows");
    fc_opi_set(&out[0], x->dtype, 2, dims);
    return FC_OK;
}

FC_OP_FOLD(fc_fold_copy)
{
    (void)node;
    fc_status st = fc_opi_fold_alloc(&out[0], &out_info[0], err);
    if (st)
        return st;
    const fc_tensor *x = in[0]->value;
    if (fc_tensor_bytes(x) != fc_tensor_bytes(&out[0]))
        return fc_err_set(err, FC_ERR_INTERNAL, "folded copy changes the size");
    if (x->numel)
        memcpy(out[0].data, x->data, fc_tensor_bytes(x));
    return FC_OK;
}
