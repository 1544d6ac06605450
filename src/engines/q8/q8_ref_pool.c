/* com.microsoft.QLinearGlobalAveragePool and QLinearAveragePool of the
 * int8 engines, in NCHW or (channels_last) NHWC layout.
 *
 * GlobalAveragePool stays in integers, as ONNX Runtime's kernel does:
 *     acc = sum(x) - x_zp * size        (exact)
 *     y   = saturate(round_half_even(float32(acc) * m) + y_zp)
 * with m = x_scale / (y_scale * float32(size)) in float32, in that order.
 *
 * AveragePool follows its contrib definition, Dequantize -> AveragePool in
 * float32 -> Quantize, in ONNX Runtime's float32 order: each tap is
 * x_scale * float32(x - x_zp), the taps are summed in window order, the sum
 * divided by the count (taps inside the input, or the whole kernel with
 * count_include_pad), and y = saturate(round_half_even(avg / y_scale +
 * y_zp)) with the zero point added before rounding. */
#include <string.h>

#include "q8_internal.h"

static bool is_q8(fc_dtype dt) { return dt == FC_DT_U8 || dt == FC_DT_I8; }

/* [N, C, S] or [N, S, C] as batch, channels, spatial size and the element
 * offset / step of (n, c, s). */
typedef struct layout {
    size_t batch, channels, spatial;
    bool last;
} layout;

static size_t at(const layout *l, size_t n, size_t c, size_t s)
{
    return l->last ? (n * l->spatial + s) * l->channels + c
                   : (n * l->channels + c) * l->spatial + s;
}

static fc_status layout_of(const fc_kernel_ctx *k, const fc_tensor *x, layout *l, fc_err *err)
{
    int64_t cl;
    fc_status st = fc_attr_get_int(k->node, "channels_last", 0, &cl, err);
    if (st)
        return st;
    if (x->rank < 3)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: rank %d input", k->node->op_type, x->rank);
    l->last = cl != 0;
    l->batch = (size_t)x->dims[0];
    l->channels = (size_t)x->dims[l->last ? x->rank - 1 : 1];
    l->spatial = 1;
    for (int d = l->last ? 1 : 2; d < (l->last ? x->rank - 1 : x->rank); d++)
        l->spatial *= (size_t)x->dims[d];
    return FC_OK;
}

fc_status fc_q8_qlinearglobalavgpool(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    (void)gemm;
    fc_status st = fc_q8_require(k, 5, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (!is_q8(x->dtype) || y->dtype != x->dtype)
        return fc_q8_unsupported(k, x->dtype, err);
    layout l;
    if ((st = layout_of(k, x, &l, err)))
        return st;
    if (y->numel != l.batch * l.channels)
        return fc_err_set(err, FC_ERR_INTERNAL, "QLinearGlobalAveragePool: output size");
    int32_t xzp = fc_q8_zp_at(k->in[2], 0), yzp = fc_q8_zp_at(k->in[4], 0), qmin, qmax;
    fc_q8_range(y->dtype, &qmin, &qmax);
    float m = fc_q8_scale_at(k->in[1], 0) / (fc_q8_scale_at(k->in[3], 0) * (float)l.spatial);
    for (size_t n = 0; n < l.batch; n++)
        for (size_t c = 0; c < l.channels; c++) {
            int64_t acc = -(int64_t)xzp * (int64_t)l.spatial;
            for (size_t s = 0; s < l.spatial; s++)
                acc += fc_q8_load(x, at(&l, n, c, s));
            float v = (float)acc * m;
            int32_t q = fc_q8_saturate(fc_q8_round_half_even(v), yzp, qmin, qmax);
            /* The output is [N, C, 1...] or [N, 1..., C]: index n*C + c either way. */
            fc_q8_store(y->data, y->dtype, n * l.channels + c, q);
        }
    return FC_OK;
}

/* Sum and count of one output position's window (spatial offsets of the
 * 3-D view, taps inside the input only). */
static float window_sum(const fc_window *w, const float *deq, const layout *l, size_t n,
                        size_t c, const int64_t *o, int64_t *inside)
{
    float sum = 0.0f;
    *inside = 0;
    for (int64_t r0 = 0; r0 < w->kernel[0]; r0++) {
        int64_t i0 = o[0] * w->stride[0] - w->pad_begin[0] + r0 * w->dilation[0];
        if (i0 < 0 || i0 >= w->in[0])
            continue;
        for (int64_t r1 = 0; r1 < w->kernel[1]; r1++) {
            int64_t i1 = o[1] * w->stride[1] - w->pad_begin[1] + r1 * w->dilation[1];
            if (i1 < 0 || i1 >= w->in[1])
                continue;
            for (int64_t r2 = 0; r2 < w->kernel[2]; r2++) {
                int64_t i2 = o[2] * w->stride[2] - w->pad_begin[2] + r2 * w->dilation[2];
                if (i2 < 0 || i2 >= w->in[2])
                    continue;
                size_t s = (size_t)((i0 * w->in[1] + i1) * w->in[2] + i2);
                sum += deq[at(l, n, c, s)];
                (*inside)++;
            }
        }
    }
    return sum;
}

fc_status fc_q8_qlinearavgpool(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    (void)gemm;
    fc_status st = fc_q8_require(k, 4, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (!is_q8(x->dtype) || y->dtype != x->dtype)
        return fc_q8_unsupported(k, x->dtype, err);
    layout l, lo;
    if ((st = layout_of(k, x, &l, err)) || (st = layout_of(k, y, &lo, err)))
        return st;
    int nsp = x->rank - 2;
    fc_window w;
    if ((st = fc_window_decode(k->node, nsp, x->dims + (l.last ? 1 : 2), NULL, true, &w, err)))
        return st;
    for (int i = nsp; i < FC_MAX_SPATIAL; i++) {
        w.in[i] = w.kernel[i] = w.stride[i] = w.dilation[i] = w.out[i] = 1;
        w.pad_begin[i] = w.pad_end[i] = 0;
    }
    if (lo.spatial != (size_t)(w.out[0] * w.out[1] * w.out[2]) || lo.channels != l.channels)
        return fc_err_set(err, FC_ERR_INTERNAL, "QLinearAveragePool: output dims do not match");
    /* Dequantized input, once (slot 0). */
    float *deq = fc_workspace_get(k->ws, 0, (x->numel ? x->numel : 1) * sizeof *deq);
    if (!deq)
        return fc_err_set(err, FC_ERR_NOMEM, "QLinearAveragePool: out of memory");
    float xs = fc_q8_scale_at(k->in[1], 0), ys = fc_q8_scale_at(k->in[3], 0);
    int32_t xzp = fc_q8_zp_at(fc_q8_in(k, 2), 0), yzp = fc_q8_zp_at(fc_q8_in(k, 4), 0);
    int32_t qmin, qmax;
    fc_q8_range(y->dtype, &qmin, &qmax);
    for (size_t i = 0; i < x->numel; i++)
        deq[i] = xs * (float)(fc_q8_load(x, i) - xzp);
    int64_t kvol = w.kernel[0] * w.kernel[1] * w.kernel[2];
    for (size_t n = 0; n < l.batch; n++)
        for (size_t c = 0; c < l.channels; c++) {
            size_t s = 0;
            int64_t o[3];
            for (o[0] = 0; o[0] < w.out[0]; o[0]++)
                for (o[1] = 0; o[1] < w.out[1]; o[1]++)
                    for (o[2] = 0; o[2] < w.out[2]; o[2]++, s++) {
                        int64_t inside;
                        float sum = window_sum(&w, deq, &l, n, c, o, &inside);
                        int64_t count = w.count_include_pad ? kvol : inside;
                        float avg = count ? sum / (float)count : 0.0f;
                        float v = avg / ys + (float)yzp;
                        fc_q8_store(y->data, y->dtype, at(&lo, n, c, s),
                                    fc_q8_saturate(fc_q8_round_half_even(v), 0, qmin, qmax));
                    }
        }
    return FC_OK;
}
