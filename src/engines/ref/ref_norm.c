/* Normalisation and reduction kernels of f32-ref: Softmax, LogSoftmax,
 * BatchNormalization (inference), ReduceMean.  F32 only; sums in double. */
#include <math.h>
#include <string.h>

#include "ref_internal.h"

static fc_status f32_io(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 1, 1, err);
    if (st)
        return st;
    if (k->in[0]->dtype != FC_DT_F32)
        return fc_ref_unsupported(k, k->in[0]->dtype, err);
    if (k->out[0]->dtype != FC_DT_F32)
        return fc_ref_unsupported(k, k->out[0]->dtype, err);
    return FC_OK;
}

/* Softmax along one axis of length `len` whose elements are `stride`
 * apart, for `outer * stride` such rows:
 *   softmax(x)_i    = e^(x_i - m) / sum_j e^(x_j - m)
 *   logsoftmax(x)_i = x_i - m - log(sum_j e^(x_j - m))
 * with m = max_j x_j, so the exponentials are at most 1 and never overflow
 * (their sum is at least 1).  NaN propagates; a row of all -inf gives NaN,
 * as numpy does. */
static fc_status softmax(const fc_kernel_ctx *k, bool log_form, fc_err *err)
{
    fc_status st = f32_io(k, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (y->numel != x->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output shape does not match",
                          k->node->op_type);
    if (x->numel == 0)
        return FC_OK;
    /* opset < 13: x is viewed as 2-D [prod(dims[:axis]), prod(dims[axis:])]
     * (axis default 1) and each row is one softmax.  opset >= 13: a single
     * axis (default -1). */
    bool coerce = k->node->opset < 13;
    int64_t axis_attr;
    if ((st = fc_attr_get_int(k->node, "axis", coerce ? 1 : -1, &axis_attr, err)))
        return st;
    int axis = 0;
    if (x->rank == 0) {
        if (axis_attr != 0 && axis_attr != -1)
            return fc_err_set(err, FC_ERR_SHAPE, "%s: axis %lld of a scalar", k->node->op_type,
                              (long long)axis_attr);
    } else if (coerce && axis_attr == x->rank) {
        axis = x->rank;    /* allowed by the old rule: one row per element */
    } else if ((st = fc_axis_normalize(axis_attr, x->rank, &axis, err))) {
        return st;
    }
    size_t outer = fc_ref_prod(x->dims, 0, axis);
    size_t len, stride;
    if (coerce) {
        len = fc_ref_prod(x->dims, axis, x->rank);
        stride = 1;
    } else {
        len = x->rank ? (size_t)x->dims[axis] : 1;
        stride = fc_ref_prod(x->dims, axis + 1, x->rank);
    }
    const float *xs = x->data;
    float *ys = y->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t s = 0; s < stride; s++) {
            size_t base = o * len * stride + s;
            double m = -INFINITY;
            bool has_nan = false;
            for (size_t i = 0; i < len; i++) {
                double v = xs[base + i * stride];
                has_nan = has_nan || isnan(v);
                m = v > m ? v : m;
            }
            double sum = 0.0;
            for (size_t i = 0; i < len; i++)
                sum += exp((double)xs[base + i * stride] - m);
            for (size_t i = 0; i < len; i++) {
                double d = (double)xs[base + i * stride] - m;
                double r = log_form ? d - log(sum) : exp(d) / sum;
                ys[base + i * stride] = has_nan ? NAN : (float)r;
            }
        }
    return FC_OK;
}

fc_status fc_ref_softmax(const fc_kernel_ctx *k, fc_err *err) { return softmax(k, false, err); }
fc_status fc_ref_logsoftmax(const fc_kernel_ctx *k, fc_err *err) { return softmax(k, true, err); }

/* Inference BatchNormalization over the channel axis 1:
 *   Y[n, c, ...] = (X - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + B[c]
 * Optional extra outputs (opset < 14 running statistics) receive the
 * unchanged mean and var.  Training mode is refused. */
fc_status fc_ref_batchnorm(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 5, 1, err);
    if (st || (st = f32_io(k, err)))
        return st;
    for (int i = 1; i < 5; i++)
        if (k->in[i]->dtype != FC_DT_F32)
            return fc_ref_unsupported(k, k->in[i]->dtype, err);
    float eps;
    int64_t training = 0, spatial = 1;
    if ((st = fc_attr_get_float(k->node, "epsilon", 1e-5f, &eps, err)))
        return st;
    if (k->node->opset >= 14 &&
        (st = fc_attr_get_int(k->node, "training_mode", 0, &training, err)))
        return st;
    if (k->node->opset < 9 && (st = fc_attr_get_int(k->node, "spatial", 1, &spatial, err)))
        return st;
    if (training)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "BatchNormalization: training_mode=1");
    if (!spatial)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "BatchNormalization: spatial=0");
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    size_t channels = x->rank >= 2 ? (size_t)x->dims[1] : 1;
    for (int i = 1; i < 5; i++)
        if (k->in[i]->numel != channels)
            return fc_err_set(err, FC_ERR_INTERNAL, "BatchNormalization: input %d is not [C]", i);
    if (y->numel != x->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "BatchNormalization: output shape does not match");
    const float *scale = k->in[1]->data, *bias = k->in[2]->data;
    const float *mean = k->in[3]->data, *var = k->in[4]->data;
    size_t batch = x->rank >= 1 ? (size_t)x->dims[0] : 1;
    size_t inner = fc_ref_prod(x->dims, 2, x->rank);
    const float *xs = x->data;
    float *ys = y->data;
    for (size_t n = 0; n < batch; n++)
        for (size_t c = 0; c < channels; c++) {
            double inv = 1.0 / sqrt((double)var[c] + (double)eps);
            for (size_t i = 0; i < inner; i++) {
                size_t j = (n * channels + c) * inner + i;
                ys[j] = (float)(((double)xs[j] - mean[c]) * inv * scale[c] + bias[c]);
            }
        }
    for (int o = 1; o < k->n_out; o++) {
        fc_tensor *t = fc_ref_out(k, o);
        const fc_tensor *src = o == 1 ? k->in[3] : o == 2 ? k->in[4] : NULL;
        if (t && src && (st = fc_ref_copy_bytes(k, src, t, err)))
            return st;
    }
    return FC_OK;
}

/* ReduceMean over the axes attribute (all axes when absent), keepdims
 * default 1.  Each output element is the double sum of its input block
 * divided by the block size; an empty block gives NaN (0/0, as numpy). */
fc_status fc_ref_reducemean(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = f32_io(k, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    const int64_t *axes;
    size_t n_axes;
    if ((st = fc_attr_get_ints(k->node, "axes", &axes, &n_axes, err)))
        return st;
    if (k->node->opset >= 18 || fc_ref_in(k, 1))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "ReduceMean: axes as an input (opset 18)");
    bool reduced[FC_MAX_RANK] = {false};
    for (size_t i = 0; i < n_axes; i++) {
        int a;
        if ((st = fc_axis_normalize(axes[i], x->rank, &a, err)))
            return st;
        reduced[a] = true;
    }
    /* kept: the output's index space with reduced axes of size 1;
     * block: the reduced axes' index space with kept axes of size 1. */
    int64_t kept[FC_MAX_RANK], block[FC_MAX_RANK];
    for (int d = 0; d < x->rank; d++) {
        if (n_axes == 0)
            reduced[d] = true;
        kept[d] = reduced[d] ? 1 : x->dims[d];
        block[d] = reduced[d] ? x->dims[d] : 1;
    }
    if (y->numel != fc_ref_prod(kept, 0, x->rank))
        return fc_err_set(err, FC_ERR_INTERNAL, "ReduceMean: output shape does not match");
    if (y->numel == 0)
        return FC_OK;
    size_t count = fc_ref_prod(block, 0, x->rank), strides[FC_MAX_RANK];
    fc_ref_strides(x->rank, x->dims, strides);
    const float *xs = x->data;
    float *ys = y->data;
    int64_t ko[FC_MAX_RANK] = {0};
    size_t yi = 0;
    do {
        double sum = 0.0;
        int64_t bi[FC_MAX_RANK] = {0};
        if (count)
            do {
                size_t off = 0;
                for (int d = 0; d < x->rank; d++)
                    off += (size_t)(ko[d] + bi[d]) * strides[d];
                sum += xs[off];
            } while (fc_ref_next_index(x->rank, block, bi));
        ys[yi++] = (float)(sum / (double)count);
    } while (fc_ref_next_index(x->rank, kept, ko));
    return FC_OK;
}
