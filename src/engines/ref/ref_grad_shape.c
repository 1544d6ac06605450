/* Backward of the f32-ref data-movement kernels: Reshape, Flatten, Squeeze,
 * Unsqueeze, Identity, Dropout and float->float Cast (the gradient is the
 * output's, element for element), Transpose, Concat, Pad, Gather.
 *
 * Only float32 data carries gradients; integer shape, index and pad inputs
 * never get one (the executor passes NULL for them).  Where several output
 * elements came from one input element (edge/reflect padding, repeated
 * Gather indices) the gradients are summed in double. */
#include <string.h>

#include "ref_internal.h"

/* Nothing to do unless out[0] has a gradient and in[0] wants one; both
 * must then be float32 of the same element count. */
static fc_status same_elements(const fc_grad_ctx *k, bool *go, fc_err *err)
{
    *go = false;
    fc_status st = fc_ref_grad_check(k, err);
    if (st || !fc_ref_gout(k, 0) || !fc_ref_gin(k, 0))
        return st;
    if (k->in[0]->dtype != FC_DT_F32 || k->out[0]->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no gradient for dtype %s in f32-ref",
                          k->node->op_type, fc_dtype_name(k->in[0]->dtype));
    if (k->in[0]->numel != k->out[0]->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output size does not match input",
                          k->node->op_type);
    *go = true;
    return FC_OK;
}

static void add_into(fc_tensor *gx, const fc_tensor *gy)
{
    float *d = gx->data;
    const float *s = gy->data;
    for (size_t i = 0; i < gx->numel; i++)
        d[i] += s[i];
}

/* Reshape, Flatten, Squeeze, Unsqueeze, Identity: same elements, same
 * order, so the gradient is copied (added) as is. */
fc_status fc_ref_copy_grad(const fc_grad_ctx *k, fc_err *err)
{
    bool go;
    fc_status st = same_elements(k, &go, err);
    if (!st && go)
        add_into(k->gin[0], k->gout[0]);
    return st;
}

/* Inference Dropout is the identity on its data output; the mask output
 * is boolean and has no gradient, nor do ratio and training_mode. */
fc_status fc_ref_dropout_grad(const fc_grad_ctx *k, fc_err *err)
{
    return fc_ref_copy_grad(k, err);
}

/* Cast float32 -> float32 is the identity.  Any other pair has an integer
 * or double side, which carries no gradient here: the executor never
 * hands such a node a gradient, and if asked, nothing flows. */
fc_status fc_ref_cast_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    if (st || !fc_ref_gout(k, 0) || !fc_ref_gin(k, 0))
        return st;
    if (k->in[0]->dtype != FC_DT_F32 || k->out[0]->dtype != FC_DT_F32)
        return FC_OK;
    return fc_ref_copy_grad(k, err);
}

/* Y[i] = X[j] with j[perm[d]] = i[d]; the gradient goes back the same way. */
fc_status fc_ref_transpose_grad(const fc_grad_ctx *k, fc_err *err)
{
    bool go;
    fc_status st = same_elements(k, &go, err);
    if (st || !go)
        return st;
    const fc_tensor *x = k->in[0], *y = k->out[0];
    const int64_t *perm_attr;
    size_t n_perm;
    if ((st = fc_attr_get_ints(k->node, "perm", &perm_attr, &n_perm, err)))
        return st;
    if ((n_perm && n_perm != (size_t)x->rank) || y->rank != x->rank)
        return fc_err_set(err, FC_ERR_SHAPE, "Transpose: perm has %zu entries for rank %d",
                          n_perm, x->rank);
    int perm[FC_MAX_RANK];
    for (int d = 0; d < x->rank; d++) {
        int64_t p = n_perm ? perm_attr[d] : x->rank - 1 - d;
        if (p < 0 || p >= x->rank || y->dims[d] != x->dims[p])
            return fc_err_set(err, FC_ERR_INTERNAL, "Transpose: perm does not match the shapes");
        perm[d] = (int)p;
    }
    if (y->numel == 0)
        return FC_OK;
    size_t xs[FC_MAX_RANK];
    fc_ref_strides(x->rank, x->dims, xs);
    const float *gy = k->gout[0]->data;
    float *gx = k->gin[0]->data;
    int64_t idx[FC_MAX_RANK] = {0};
    size_t yi = 0;
    do {
        size_t xi = 0;
        for (int d = 0; d < y->rank; d++)
            xi += (size_t)idx[d] * xs[perm[d]];
        gx[xi] += gy[yi++];
    } while (fc_ref_next_index(y->rank, y->dims, idx));
    return FC_OK;
}

/* Each input owns one contiguous block of every outer row of the output:
 * its gradient is that block of gY. */
fc_status fc_ref_concat_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    const fc_tensor *gyt = fc_ref_gout(k, 0), *y = k->out[0];
    if (st || !gyt)
        return st;
    int64_t axis_attr;
    int axis;
    if ((st = fc_attr_get_int(k->node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, y->rank, &axis, err)))
        return st;
    size_t total = 0;
    for (int i = 0; i < k->n_in; i++) {
        if (!k->in[i] || k->in[i]->rank != y->rank)
            return fc_err_set(err, FC_ERR_INTERNAL, "Concat: input %d does not match output", i);
        total += k->in[i]->numel;
    }
    if (total != y->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "Concat: output size does not match inputs");
    size_t outer = fc_ref_prod(y->dims, 0, axis), inner = fc_ref_prod(y->dims, axis + 1, y->rank);
    const float *gy = gyt->data;
    for (size_t o = 0; o < outer; o++)
        for (int i = 0; i < k->n_in; i++) {
            size_t block = (size_t)k->in[i]->dims[axis] * inner;
            fc_tensor *gx = fc_ref_gin(k, i);
            if (gx)
                for (size_t e = 0; e < block; e++)
                    ((float *)gx->data)[o * block + e] += gy[e];
            gy += block;
        }
    return FC_OK;
}

typedef enum { PAD_CONSTANT, PAD_EDGE, PAD_REFLECT } pad_mode;

/* The forward's map from a shifted output coordinate to an input one (-1:
 * constant padding): reflect bounces with period 2(n-1), edge repeats the
 * border. */
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

/* Mode and begin pads, read as the forward reads them (attribute pads
 * before opset 11, the integer input 1 from 11 on). */
static fc_status pad_params(const fc_grad_ctx *k, int rank, pad_mode *mode, int64_t *begin,
                            fc_err *err)
{
    const char *mode_s;
    fc_status st = fc_attr_get_string(k->node, "mode", "constant", &mode_s, err);
    if (st)
        return st;
    if (strcmp(mode_s, "constant") == 0)
        *mode = PAD_CONSTANT;
    else if (strcmp(mode_s, "edge") == 0)
        *mode = PAD_EDGE;
    else if (strcmp(mode_s, "reflect") == 0)
        *mode = PAD_REFLECT;
    else
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "Pad: mode '%s'", mode_s);
    if (k->node->opset < 11) {
        const int64_t *pads;
        size_t n;
        if ((st = fc_attr_get_ints(k->node, "pads", &pads, &n, err)))
            return st;
        if (n != 2 * (size_t)rank)
            return fc_err_set(err, FC_ERR_SHAPE, "Pad: %zu pads for rank %d", n, rank);
        memcpy(begin, pads, (size_t)rank * sizeof *begin);
        return FC_OK;
    }
    const fc_tensor *pads = fc_ref_fwd_in(k, 1);
    if (!pads || !fc_ref_is_int(pads->dtype) || pads->numel != 2 * (size_t)rank)
        return fc_err_set(err, FC_ERR_SHAPE, "Pad: pads must be %d integers", 2 * rank);
    for (int d = 0; d < rank; d++)
        begin[d] = fc_ref_load_int(pads, (size_t)d);
    return FC_OK;
}

/* Every output element copied one input element (whose gradient it adds
 * to) or the constant (whose input, opset >= 11 input 2, gets it). */
fc_status fc_ref_pad_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    const fc_tensor *gyt = fc_ref_gout(k, 0);
    fc_tensor *gcv = k->node->opset >= 11 ? fc_ref_gin(k, 2) : NULL;
    if (st || !gyt || (!fc_ref_gin(k, 0) && !gcv))
        return st;
    const fc_tensor *x = k->in[0], *y = k->out[0];
    if (x->dtype != FC_DT_F32 || y->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "Pad: no gradient for dtype %s in f32-ref",
                          fc_dtype_name(x->dtype));
    pad_mode mode = PAD_CONSTANT;
    int64_t begin[FC_MAX_RANK];
    if ((st = pad_params(k, x->rank, &mode, begin, err)))
        return st;
    if (y->rank != x->rank)
        return fc_err_set(err, FC_ERR_INTERNAL, "Pad: output rank does not match");
    if (y->numel == 0)
        return FC_OK;
    double *acc[1];
    if ((st = fc_ref_acc_alloc(k, 1, acc, err)))
        return st;
    size_t xs[FC_MAX_RANK];
    fc_ref_strides(x->rank, x->dims, xs);
    const float *gy = gyt->data;
    double to_constant = 0.0;
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
        if (constant)
            to_constant += gy[yi];
        else if (acc[0])
            acc[0][xi] += gy[yi];
        yi++;
    } while (fc_ref_next_index(y->rank, y->dims, idx));
    fc_ref_acc_flush(k, 1, acc);
    if (gcv && gcv->numel >= 1)
        ((float *)gcv->data)[0] = (float)(((float *)gcv->data)[0] + to_constant);
    return FC_OK;
}

/* Y[o, j, i] = X[o, idx[j], i]: every gathered row adds its gradient back
 * into the row it came from (a repeated index collects several). */
fc_status fc_ref_gather_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    if (st || !fc_ref_gout(k, 0) || !fc_ref_gin(k, 0))
        return st;
    const fc_tensor *x = k->in[0], *ind = fc_ref_fwd_in(k, 1), *y = k->out[0];
    if (x->dtype != FC_DT_F32 || y->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "Gather: no gradient for dtype %s in f32-ref",
                          fc_dtype_name(x->dtype));
    if (!ind || (ind->dtype != FC_DT_I32 && ind->dtype != FC_DT_I64))
        return fc_err_set(err, FC_ERR_INTERNAL, "Gather: indices missing or not integers");
    int64_t axis_attr;
    int axis;
    if ((st = fc_attr_get_int(k->node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, x->rank, &axis, err)))
        return st;
    size_t outer = fc_ref_prod(x->dims, 0, axis), inner = fc_ref_prod(x->dims, axis + 1, x->rank);
    int64_t n = x->dims[axis];
    if (y->numel != outer * ind->numel * inner)
        return fc_err_set(err, FC_ERR_INTERNAL, "Gather: output shape does not match");
    double *acc[1];
    if ((st = fc_ref_acc_alloc(k, 1, acc, err)))
        return st;
    const float *gy = k->gout[0]->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < ind->numel; j++, gy += inner) {
            int64_t i = fc_ref_load_int(ind, j);
            if (i < -n || i >= n) {
                fc_ref_acc_free(1, acc);
                return fc_err_set(err, FC_ERR_SHAPE, "Gather: index %lld out of range",
                                  (long long)i);
            }
            if (i < 0)
                i += n;
            double *row = acc[0] + (o * (size_t)n + (size_t)i) * inner;
            for (size_t e = 0; e < inner; e++)
                row[e] += gy[e];
        }
    fc_ref_acc_flush(k, 1, acc);
    return FC_OK;
}
