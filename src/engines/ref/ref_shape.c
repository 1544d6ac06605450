/* Data-movement kernels of f32-ref: Reshape, Flatten, Squeeze, Unsqueeze,
 * Identity (byte copies: the plan already set the output dims), Dropout
 * (inference), Transpose, Concat, Pad, Shape, Gather.  All work on any
 * dtype by element size. */
#include <string.h>

#include "ref_internal.h"

static fc_status any_dtype(const fc_kernel_ctx *k, const fc_tensor *t, fc_err *err)
{
    return fc_dtype_size(t->dtype) ? FC_OK : fc_ref_unsupported(k, t->dtype, err);
}

/* Reshape, Flatten, Squeeze, Unsqueeze, Identity: same bytes, new dims. */
fc_status fc_ref_copy(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 1, 1, err);
    if (st || (st = any_dtype(k, k->in[0], err)))
        return st;
    return fc_ref_copy_bytes(k, k->in[0], k->out[0], err);
}

/* Inference Dropout: Y = X and the optional mask is all true.  Training
 * (opset >= 12 training_mode input true) is the same only when the ratio
 * input is 0; with any other ratio (default 0.5) it is random: refused. */
fc_status fc_ref_dropout(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 1, 1, err);
    if (st || (st = any_dtype(k, k->in[0], err)))
        return st;
    const fc_tensor *ratio = fc_ref_in(k, 1), *training = fc_ref_in(k, 2);
    if (training && training->numel == 1 && fc_ref_load_int(training, 0) != 0) {
        bool zero_ratio = ratio && ratio->numel == 1 &&
                          (ratio->dtype == FC_DT_F32 ? ((const float *)ratio->data)[0] == 0.0f
                           : ratio->dtype == FC_DT_F64 ? ((const double *)ratio->data)[0] == 0.0
                                                       : false);
        if (!zero_ratio)
            return fc_err_set(err, FC_ERR_UNSUPPORTED, "Dropout: training_mode=true with ratio != 0");
    }
    if ((st = fc_ref_copy_bytes(k, k->in[0], k->out[0], err)))
        return st;
    fc_tensor *mask = fc_ref_out(k, 1);
    if (mask) {
        if (!fc_dtype_size(mask->dtype))
            return fc_ref_unsupported(k, mask->dtype, err);
        for (size_t i = 0; i < mask->numel; i++)
            fc_ref_store_double(mask, i, 1.0);
    }
    return FC_OK;
}

/* Y[i_0, .., i_r-1] = X[j] with j_perm[d] = i_d; perm defaults to the
 * reversed axes. */
fc_status fc_ref_transpose(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 1, 1, err);
    if (st || (st = any_dtype(k, k->in[0], err)))
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    const int64_t *perm_attr;
    size_t n_perm;
    if ((st = fc_attr_get_ints(k->node, "perm", &perm_attr, &n_perm, err)))
        return st;
    int perm[FC_MAX_RANK];
    bool seen[FC_MAX_RANK] = {false};
    if (n_perm && n_perm != (size_t)x->rank)
        return fc_err_set(err, FC_ERR_SHAPE, "Transpose: perm has %zu entries for rank %d",
                          n_perm, x->rank);
    for (int d = 0; d < x->rank; d++) {
        int64_t p = n_perm ? perm_attr[d] : x->rank - 1 - d;
        if (p < 0 || p >= x->rank || seen[p])
            return fc_err_set(err, FC_ERR_SHAPE, "Transpose: perm is not a permutation");
        seen[p] = true;
        perm[d] = (int)p;
        if (y->rank != x->rank || y->dims[d] != x->dims[p])
            return fc_err_set(err, FC_ERR_INTERNAL, "Transpose: output shape does not match");
    }
    if (y->numel == 0)
        return FC_OK;
    size_t xs[FC_MAX_RANK], esz = fc_dtype_size(x->dtype);
    fc_ref_strides(x->rank, x->dims, xs);
    int64_t idx[FC_MAX_RANK] = {0};
    size_t yi = 0;
    do {
        size_t xi = 0;
        for (int d = 0; d < y->rank; d++)
            xi += (size_t)idx[d] * xs[perm[d]];
        memcpy((unsigned char *)y->data + yi * esz, (const unsigned char *)x->data + xi * esz, esz);
        yi++;
    } while (fc_ref_next_index(y->rank, y->dims, idx));
    return FC_OK;
}

/* Along `axis`, the output is the inputs one after another: for each
 * index of the axes before it, copy each input's contiguous block. */
fc_status fc_ref_concat(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, k->n_in, 1, err);
    if (st)
        return st;
    fc_tensor *y = k->out[0];
    if ((st = any_dtype(k, y, err)))
        return st;
    int64_t axis_attr;
    int axis;
    if ((st = fc_attr_get_int(k->node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, y->rank, &axis, err)))
        return st;
    size_t esz = fc_dtype_size(y->dtype), total = 0;
    for (int i = 0; i < k->n_in; i++) {
        if (k->in[i]->dtype != y->dtype || k->in[i]->rank != y->rank)
            return fc_err_set(err, FC_ERR_INTERNAL, "Concat: input %d does not match output", i);
        total += k->in[i]->numel;
    }
    if (total != y->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "Concat: output size does not match inputs");
    size_t outer = fc_ref_prod(y->dims, 0, axis), inner = fc_ref_prod(y->dims, axis + 1, y->rank);
    unsigned char *dst = y->data;
    for (size_t o = 0; o < outer; o++)
        for (int i = 0; i < k->n_in; i++) {
            size_t block = (size_t)k->in[i]->dims[axis] * inner * esz;
            if (block)
                memcpy(dst, (const unsigned char *)k->in[i]->data + o * block, block);
            dst += block;
        }
    return FC_OK;
}

typedef enum { PAD_CONSTANT, PAD_EDGE, PAD_REFLECT } pad_mode;

/* Input coordinate for output coordinate i shifted by the begin pad, or -1
 * for constant padding.  Reflect mirrors without repeating the edge, with
 * period 2(n-1), so pads longer than the axis keep bouncing as numpy does. */
static int64_t pad_source(pad_mode mode, int64_t i, int64_t n)
{
    if (i >= 0 && i < n)
        return i;
    if (mode == PAD_CONSTANT)
        return -1;
    if (mode == PAD_EDGE)
        return i < 0 ? 0 : n - 1;
    if (n == 1)
        return 0;
    int64_t period = 2 * (n - 1);
    int64_t r = ((i % period) + period) % period;
    return r < n ? r : period - r;
}

/* Pad: pads [b_0..b_r-1, e_0..e_r-1] (negative values crop) from the
 * attribute (opset < 11) or the int64 input 1; the constant from the
 * float attribute `value` or the optional scalar input 2. */
fc_status fc_ref_pad(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 1, 1, err);
    if (st || (st = any_dtype(k, k->in[0], err)))
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    const char *mode_s;
    if ((st = fc_attr_get_string(k->node, "mode", "constant", &mode_s, err)))
        return st;
    pad_mode mode;
    if (strcmp(mode_s, "constant") == 0)
        mode = PAD_CONSTANT;
    else if (strcmp(mode_s, "edge") == 0)
        mode = PAD_EDGE;
    else if (strcmp(mode_s, "reflect") == 0)
        mode = PAD_REFLECT;
    else
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "Pad: mode '%s'", mode_s);

    int64_t begin[FC_MAX_RANK];
    size_t esz = fc_dtype_size(x->dtype);
    _Alignas(8) unsigned char fill[8] = {0};   /* one element of any dtype */
    fc_tensor fill_t = {.dtype = x->dtype, .rank = 0, .numel = 1, .data = fill};
    if (k->node->opset < 11) {
        const int64_t *pads;
        size_t n;
        float value;
        if ((st = fc_attr_get_ints(k->node, "pads", &pads, &n, err)) ||
            (st = fc_attr_get_float(k->node, "value", 0.0f, &value, err)))
            return st;
        if (n != 2 * (size_t)x->rank)
            return fc_err_set(err, FC_ERR_SHAPE, "Pad: %zu pads for rank %d", n, x->rank);
        for (int d = 0; d < x->rank; d++)
            begin[d] = pads[d];
        fc_ref_store_double(&fill_t, 0, value);
    } else {
        const fc_tensor *pads = fc_ref_in(k, 1), *cv = fc_ref_in(k, 2);
        if (fc_ref_in(k, 3))
            return fc_err_set(err, FC_ERR_UNSUPPORTED, "Pad: axes input (opset 18)");
        if (!pads || !fc_ref_is_int(pads->dtype) || pads->numel != 2 * (size_t)x->rank)
            return fc_err_set(err, FC_ERR_SHAPE, "Pad: pads must be %d integers", 2 * x->rank);
        for (int d = 0; d < x->rank; d++)
            begin[d] = fc_ref_load_int(pads, (size_t)d);
        if (cv && cv->numel >= 1) {
            if (cv->dtype != x->dtype)
                return fc_err_set(err, FC_ERR_INTERNAL, "Pad: constant_value dtype differs");
            memcpy(fill, cv->data, esz);
        }
    }
    if (y->rank != x->rank)
        return fc_err_set(err, FC_ERR_INTERNAL, "Pad: output rank does not match");
    if (y->numel == 0)
        return FC_OK;
    for (int d = 0; d < x->rank; d++)
        if (x->dims[d] == 0 && mode != PAD_CONSTANT)
            return fc_err_set(err, FC_ERR_SHAPE, "Pad: %s padding of an empty axis", mode_s);

    size_t xs[FC_MAX_RANK];
    fc_ref_strides(x->rank, x->dims, xs);
    int64_t idx[FC_MAX_RANK] = {0};
    size_t yi = 0;
    do {
        size_t xi = 0;
        bool constant = false;
        for (int d = 0; d < x->rank && !constant; d++) {
            int64_t src = pad_source(mode, idx[d] - begin[d], x->dims[d]);
            if (src < 0)
                constant = true;
            else
                xi += (size_t)src * xs[d];
        }
        memcpy((unsigned char *)y->data + yi * esz,
               constant ? fill : (const unsigned char *)x->data + xi * esz, esz);
        yi++;
    } while (fc_ref_next_index(y->rank, y->dims, idx));
    return FC_OK;
}

/* Shape: the input's dims as int64, from `start` (opset >= 15, default 0,
 * negative counts from the end, clamped) for as many as the output holds. */
fc_status fc_ref_shape(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    int64_t start = 0;
    if (k->node->opset >= 15 && (st = fc_attr_get_int(k->node, "start", 0, &start, err)))
        return st;
    if (start < 0)
        start += x->rank;
    start = start < 0 ? 0 : (start > x->rank ? x->rank : start);
    if (y->dtype != FC_DT_I64 || (size_t)start + y->numel > (size_t)x->rank)
        return fc_err_set(err, FC_ERR_INTERNAL, "Shape: output does not match start/end");
    for (size_t i = 0; i < y->numel; i++)
        ((int64_t *)y->data)[i] = x->dims[start + (int64_t)i];
    return FC_OK;
}

/* Gather along `axis`: Y[o, j..., i] = X[o, idx[j...], i] with negative
 * indices counting from the end.  Index values are data, not shape, so an
 * out-of-range one is caught here (FC_ERR_SHAPE) rather than by the plan. */
fc_status fc_ref_gather(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 2, 1, err);
    if (st || (st = any_dtype(k, k->in[0], err)))
        return st;
    const fc_tensor *x = k->in[0], *ind = k->in[1];
    fc_tensor *y = k->out[0];
    if (ind->dtype != FC_DT_I32 && ind->dtype != FC_DT_I64)
        return fc_ref_unsupported(k, ind->dtype, err);
    int64_t axis_attr;
    int axis;
    if ((st = fc_attr_get_int(k->node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, x->rank, &axis, err)))
        return st;
    size_t outer = fc_ref_prod(x->dims, 0, axis), inner = fc_ref_prod(x->dims, axis + 1, x->rank);
    int64_t n = x->dims[axis];
    size_t esz = fc_dtype_size(x->dtype), block = inner * esz;
    if (y->dtype != x->dtype || y->numel != outer * ind->numel * inner)
        return fc_err_set(err, FC_ERR_INTERNAL, "Gather: output shape does not match");
    unsigned char *dst = y->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < ind->numel; j++) {
            int64_t i = fc_ref_load_int(ind, j);
            if (i < -n || i >= n)
                return fc_err_set(err, FC_ERR_SHAPE, "Gather: index %lld out of range [%lld, %lld]",
                                  (long long)i, (long long)-n, (long long)(n - 1));
            if (i < 0)
                i += n;
            if (block)
                memcpy(dst, (const unsigned char *)x->data + (o * (size_t)n + (size_t)i) * block,
                       block);
            dst += block;
        }
    return FC_OK;
}
