/* Pooling kernels of f32-ref: MaxPool (with optional Indices), AveragePool,
 * GlobalAveragePool, GlobalMaxPool.
 *
 * Windows: output position o on an axis covers input coordinates
 * o*stride - pad_begin + r*dilation, r = 0..kernel-1; geometry (including
 * ceil_mode output sizes and auto_pad) comes from fc_window_decode. */
#include <math.h>
#include <string.h>

#include "ref_internal.h"

/* Decodes the pool window of k's node over input x (rank 3 to 5) and
 * checks it against output y. */
static fc_status pool_window(const fc_kernel_ctx *k, const fc_tensor *x, const fc_tensor *y,
                             fc_window *w, fc_err *err)
{
    int nsp = x->rank - 2;
    if (nsp < 1 || nsp > FC_MAX_SPATIAL || y->rank != x->rank)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: rank %d input (1 to 3 spatial axes)",
                          k->node->op_type, x->rank);
    fc_status st = fc_window_decode(k->node, nsp, x->dims + 2, NULL, true, w, err);
    if (st)
        return st;
    if (y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1])
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output N, C do not match", k->node->op_type);
    for (int i = 0; i < nsp; i++)
        if (y->dims[2 + i] != w->out[i])
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: output spatial dims do not match",
                              k->node->op_type);
    fc_ref_window_3d(w);
    return FC_OK;
}

/* Input coordinate of tap r of output position o on axis a. */
static int64_t tap(const fc_window *w, int a, int64_t o, int64_t r)
{
    return o * w->stride[a] - w->pad_begin[a] + r * w->dilation[a];
}

/* True if element i of x is larger than element j (j < 0: nothing yet).
 * A NaN beats any number, so NaN propagates as in numpy's max. */
static bool beats(const fc_tensor *x, size_t i, int64_t j)
{
    if (j < 0)
        return true;
    if (x->dtype == FC_DT_F32) {
        float a = ((const float *)x->data)[i], b = ((const float *)x->data)[j];
        return a > b || (isnan(a) && !isnan(b));
    }
    return fc_ref_load_int(x, i) > fc_ref_load_int(x, (size_t)j);
}

/* The dtype's lowest value into element i of y (for a window that lies
 * entirely in the padding, which ONNX does not define). */
static void store_lowest(fc_tensor *y, size_t i)
{
    switch (y->dtype) {
    case FC_DT_F32: ((float *)y->data)[i] = -INFINITY; break;
    case FC_DT_U8: fc_ref_store_wrap(y, i, 0); break;
    case FC_DT_I8: fc_ref_store_wrap(y, i, (uint64_t)(int64_t)INT8_MIN); break;
    case FC_DT_I32: fc_ref_store_wrap(y, i, (uint64_t)(int64_t)INT32_MIN); break;
    default: fc_ref_store_wrap(y, i, (uint64_t)INT64_MIN); break;
    }
}

/* Y = max over the taps that land inside the input (padding never wins).
 * Indices (optional, int64) is the flat index of the winner in X:
 * storage_order 0 counts the spatial axes row-major, 1 column-major (first
 * spatial axis fastest); both are offset by (n*C + c) * spatial size.  The
 * first maximum in window order wins ties.  An all-padding window gives the
 * dtype's lowest value and index -1. */
fc_status fc_ref_maxpool(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0], *ind = fc_ref_out(k, 1);
    if (x->dtype != FC_DT_F32 && !fc_ref_is_int(x->dtype))
        return fc_ref_unsupported(k, x->dtype, err);
    if (y->dtype != x->dtype || (ind && ind->dtype != FC_DT_I64))
        return fc_err_set(err, FC_ERR_INTERNAL, "MaxPool: output dtypes do not match");
    int64_t order;
    if ((st = fc_attr_get_int(k->node, "storage_order", 0, &order, err)))
        return st;
    if (order != 0 && order != 1)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "MaxPool: storage_order %lld",
                          (long long)order);
    fc_window w;
    if ((st = pool_window(k, x, y, &w, err)))
        return st;
    if (ind && ind->numel != y->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "MaxPool: Indices shape does not match");

    size_t esz = fc_dtype_size(x->dtype);
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t vol = w.in[0] * w.in[1] * w.in[2];
    size_t yi = 0;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t o0 = 0; o0 < w.out[0]; o0++)
            for (int64_t o1 = 0; o1 < w.out[1]; o1++)
                for (int64_t o2 = 0; o2 < w.out[2]; o2++, yi++) {
                    int64_t best = -1, best_index = -1;
                    for (int64_t r0 = 0; r0 < w.kernel[0]; r0++) {
                        int64_t i0 = tap(&w, 0, o0, r0);
                        if (i0 < 0 || i0 >= w.in[0])
                            continue;
                        for (int64_t r1 = 0; r1 < w.kernel[1]; r1++) {
                            int64_t i1 = tap(&w, 1, o1, r1);
                            if (i1 < 0 || i1 >= w.in[1])
                                continue;
                            for (int64_t r2 = 0; r2 < w.kernel[2]; r2++) {
                                int64_t i2 = tap(&w, 2, o2, r2);
                                if (i2 < 0 || i2 >= w.in[2])
                                    continue;
                                int64_t xi = p * vol + (i0 * w.in[1] + i1) * w.in[2] + i2;
                                if (beats(x, (size_t)xi, best)) {
                                    best = xi;
                                    best_index = order == 0
                                        ? xi
                                        : p * vol + i0 + i1 * w.in[0] + i2 * w.in[0] * w.in[1];
                                }
                            }
                        }
                    }
                    if (best >= 0)
                        memcpy((unsigned char *)y->data + yi * esz,
                               (const unsigned char *)x->data + (size_t)best * esz, esz);
                    else
                        store_lowest(y, yi);
                    if (ind)
                        ((int64_t *)ind->data)[yi] = best_index;
                }
    return FC_OK;
}

/* Y = sum of the taps inside the input / count, where count is the number
 * of taps inside the input (count_include_pad = 0) or inside the padded
 * input [-pad_begin, in + pad_end) (count_include_pad = 1).  Windows that
 * ceil_mode lets run past the padded end are clipped in both cases, as in
 * ONNX Runtime.  A window with count 0 gives 0. */
fc_status fc_ref_averagepool(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_F32 || y->dtype != FC_DT_F32)
        return fc_ref_unsupported(k, x->dtype, err);
    fc_window w;
    if ((st = pool_window(k, x, y, &w, err)))
        return st;

    const float *xs = x->data;
    float *ys = y->data;
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t vol = w.in[0] * w.in[1] * w.in[2];
    size_t yi = 0;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t o0 = 0; o0 < w.out[0]; o0++)
            for (int64_t o1 = 0; o1 < w.out[1]; o1++)
                for (int64_t o2 = 0; o2 < w.out[2]; o2++) {
                    double sum = 0.0;
                    int64_t count = 0;
                    for (int64_t r0 = 0; r0 < w.kernel[0]; r0++)
                        for (int64_t r1 = 0; r1 < w.kernel[1]; r1++)
                            for (int64_t r2 = 0; r2 < w.kernel[2]; r2++) {
                                int64_t c[3] = {tap(&w, 0, o0, r0), tap(&w, 1, o1, r1),
                                                tap(&w, 2, o2, r2)};
                                bool inside = true, in_padded = true;
                                for (int a = 0; a < 3; a++) {
                                    inside = inside && c[a] >= 0 && c[a] < w.in[a];
                                    in_padded = in_padded && c[a] >= -w.pad_begin[a] &&
                                                c[a] < w.in[a] + w.pad_end[a];
                                }
                                if (inside)
                                    sum += xs[p * vol + (c[0] * w.in[1] + c[1]) * w.in[2] + c[2]];
                                if (w.count_include_pad ? in_padded : inside)
                                    count++;
                            }
                    ys[yi++] = count ? (float)(sum / (double)count) : 0.0f;
                }
    return FC_OK;
}

/* Reduces every [N, C] plane of x over all spatial axes into y[n, c]:
 * the mean (F32) or the maximum (F32 and integers, NaN propagating). */
static fc_status global_pool(const fc_kernel_ctx *k, bool is_max, fc_err *err)
{
    fc_status st = fc_ref_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_F32 && !(is_max && fc_ref_is_int(x->dtype)))
        return fc_ref_unsupported(k, x->dtype, err);
    if (x->rank < 2 || y->dtype != x->dtype || y->numel != (size_t)(x->dims[0] * x->dims[1]))
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output shape does not match",
                          k->node->op_type);
    size_t planes = y->numel, vol = fc_ref_prod(x->dims, 2, x->rank);
    size_t esz = fc_dtype_size(x->dtype);
    for (size_t p = 0; p < planes; p++) {
        if (is_max) {
            int64_t best = -1;
            for (size_t i = 0; i < vol; i++)
                if (beats(x, p * vol + i, best))
                    best = (int64_t)(p * vol + i);
            if (best >= 0)
                memcpy((unsigned char *)y->data + p * esz,
                       (const unsigned char *)x->data + (size_t)best * esz, esz);
            else
                store_lowest(y, p);
        } else {
            double sum = 0.0;
            for (size_t i = 0; i < vol; i++)
                sum += ((const float *)x->data)[p * vol + i];
            ((float *)y->data)[p] = vol ? (float)(sum / (double)vol) : 0.0f;
        }
    }
    return FC_OK;
}

fc_status fc_ref_globalaveragepool(const fc_kernel_ctx *k, fc_err *err)
{
    return global_pool(k, false, err);
}

fc_status fc_ref_globalmaxpool(const fc_kernel_ctx *k, fc_err *err)
{
    return global_pool(k, true, err);
}
