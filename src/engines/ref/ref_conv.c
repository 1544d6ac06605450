/* Conv of f32-ref: 1 to 3 spatial axes, groups (depthwise included),
 * strides, dilations, explicit or auto padding, optional bias.
 *
 *   Y[n, m, o] = B[m] + sum_{c, r} X[n, g*Cg + c, o*s - pad_begin + r*d] * W[m, c, r]
 *
 * with g = m / (M / group), Cg = C / group, r over the kernel window and
 * taps that fall into the padding contributing zero.  Geometry comes from
 * fc_window_decode, the same function shape inference uses. */
#include "ref_internal.h"

fc_status fc_ref_conv(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *wt = k->in[1], *bias = fc_ref_in(k, 2);
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_F32)
        return fc_ref_unsupported(k, x->dtype, err);
    if (wt->dtype != FC_DT_F32 || (bias && bias->dtype != FC_DT_F32) || y->dtype != FC_DT_F32)
        return fc_ref_unsupported(k, wt->dtype != FC_DT_F32 ? wt->dtype : y->dtype, err);
    int nsp = x->rank - 2;
    if (nsp < 1 || nsp > FC_MAX_SPATIAL || wt->rank != x->rank || y->rank != x->rank)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "Conv: rank %d input (1 to 3 spatial axes)",
                          x->rank);
    int64_t group;
    if ((st = fc_attr_get_int(k->node, "group", 1, &group, err)))
        return st;
    fc_window w;
    if ((st = fc_window_decode(k->node, nsp, x->dims + 2, wt->dims + 2, false, &w, err)))
        return st;
    fc_ref_window_3d(&w);

    int64_t batch = x->dims[0], c_in = x->dims[1], m_out = wt->dims[0];
    if (group < 1 || c_in % group || m_out % group || wt->dims[1] != c_in / group ||
        y->dims[0] != batch || y->dims[1] != m_out || (bias && bias->numel != (size_t)m_out))
        return fc_err_set(err, FC_ERR_INTERNAL, "Conv: shapes do not fit group %lld",
                          (long long)group);
    for (int i = 0; i < nsp; i++)
        if (y->dims[2 + i] != w.out[i])
            return fc_err_set(err, FC_ERR_INTERNAL, "Conv: output spatial dims do not match");
    int64_t cg = c_in / group, mg = m_out / group;

    const float *xs = x->data, *ws = wt->data;
    const float *bs = bias ? bias->data : NULL;
    float *ys = y->data;
    /* Flat-index helpers for [.., D, H, W] blocks with the 3-D view. */
    int64_t in_vol = w.in[0] * w.in[1] * w.in[2];
    int64_t k_vol = w.kernel[0] * w.kernel[1] * w.kernel[2];
    size_t yi = 0;
    for (int64_t n = 0; n < batch; n++)
        for (int64_t m = 0; m < m_out; m++) {
            int64_t g = m / mg;
            for (int64_t o0 = 0; o0 < w.out[0]; o0++)
                for (int64_t o1 = 0; o1 < w.out[1]; o1++)
                    for (int64_t o2 = 0; o2 < w.out[2]; o2++) {
                        double acc = bs ? bs[m] : 0.0;
                        for (int64_t c = 0; c < cg; c++) {
                            const float *xc = xs + (n * c_in + g * cg + c) * in_vol;
                            const float *wc = ws + (m * cg + c) * k_vol;
                            for (int64_t r0 = 0; r0 < w.kernel[0]; r0++) {
                                int64_t i0 = o0 * w.stride[0] - w.pad_begin[0] + r0 * w.dilation[0];
                                if (i0 < 0 || i0 >= w.in[0])
                                    continue;
                                for (int64_t r1 = 0; r1 < w.kernel[1]; r1++) {
                                    int64_t i1 = o1 * w.stride[1] - w.pad_begin[1] +
                                                 r1 * w.dilation[1];
                                    if (i1 < 0 || i1 >= w.in[1])
                                        continue;
                                    for (int64_t r2 = 0; r2 < w.kernel[2]; r2++) {
                                        int64_t i2 = o2 * w.stride[2] - w.pad_begin[2] +
                                                     r2 * w.dilation[2];
                                        if (i2 < 0 || i2 >= w.in[2])
                                            continue;
                                        double xv = xc[(i0 * w.in[1] + i1) * w.in[2] + i2];
                                        double wv = wc[(r0 * w.kernel[1] + r1) * w.kernel[2] + r2];
                                        acc += xv * wv;
                                    }
                                }
                            }
                        }
                        ys[yi++] = (float)acc;
                    }
        }
    return FC_OK;
}
