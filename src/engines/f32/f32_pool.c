/* Pools of the f32 engine: MaxPool (F32, U8, I8, I32, I64; optional
 * Indices), AveragePool, GlobalAveragePool, GlobalMaxPool.
 *
 * Layout X [N, C, D, H, W] (1-D/2-D pools as 3-D with neutral leading axes),
 * Y [N, C, Do, Ho, Wo].  Output o along an axis sees the taps
 * o*stride + t*dilation - pad_begin, t < kernel; taps outside [0, in) are
 * padding.  The loops run tap-outer, output-row-inner: for one output row
 * and one tap, the outputs whose tap is inside the input form one range
 * [lo, hi) (fc_f32_valid_range), so the inner loop is a branch-free max or
 * add over the row that gcc vectorises.
 *
 * MaxPool ignores padding (a window always has an input element: the
 * geometry decoder refuses pads >= the kernel extent).  AveragePool divides
 * by the number of taps inside the input, or with count_include_pad by the
 * taps inside the padded input [-pad_begin, in + pad_end) - with ceil_mode
 * a window can reach past that, and those positions are never counted. */
#include <string.h>

#include "../../core/fc_alloc.h"
#include "f32_internal.h"

typedef struct pool_geom {
    fc_window w;               /* 3-D */
    size_t planes;             /* N*C */
    size_t in_sp, out_sp;
} pool_geom;

static fc_status pool_setup(const fc_kernel_ctx *k, pool_geom *p, fc_err *err)
{
    fc_status st = fc_f32_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    if (x->rank < 3 || x->rank > 2 + FC_MAX_SPATIAL)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: unexpected rank %d", k->node->op_type,
                          x->rank);
    if ((st = fc_window_decode(k->node, x->rank - 2, x->dims + 2, NULL, true, &p->w, err)))
        return st;
    fc_f32_window3(&p->w);
    p->planes = (size_t)x->dims[0] * (size_t)x->dims[1];
    p->in_sp = fc_f32_prod(p->w.in, 0, 3);
    p->out_sp = fc_f32_prod(p->w.out, 0, 3);
    if (k->out[0]->numel != p->planes * p->out_sp)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output size mismatch", k->node->op_type);
    return FC_OK;
}

/* Max over windows for element type T (values compared with >, so a NaN
 * already in the running max stays and a later NaN is skipped). */
#define MAXPOOL_BODY(T, LOWEST)                                                              \
    static void maxpool_##T(const pool_geom *p, const void *xv, void *yv)                   \
    {                                                                                         \
        const fc_window *w = &p->w;                                                           \
        const T *x = xv;                                                                      \
        T *y = yv;                                                                            \
        const int64_t Ho = w->out[1], Wo = w->out[2], sw = w->stride[2];                     \
        for (size_t pl = 0; pl < p->planes; pl++) {                                           \
            const T *xc = x + pl * p->in_sp;                                                  \
            T *yc = y + pl * p->out_sp;                                                       \
            for (int64_t od = 0; od < w->out[0]; od++)                                        \
                for (int64_t oh = 0; oh < Ho; oh++) {                                         \
                    T *yr = yc + ((size_t)od * (size_t)Ho + (size_t)oh) * (size_t)Wo;         \
                    for (int64_t o = 0; o < Wo; o++)                                          \
                        yr[o] = LOWEST;                                                       \
                    for (int64_t a = 0; a < w->kernel[0]; a++) {                              \
                        int64_t id = od * w->stride[0] + a * w->dilation[0] - w->pad_begin[0];\
                        if (id < 0 || id >= w->in[0])                                         \
                            continue;                                                         \
                        for (int64_t b = 0; b < w->kernel[1]; b++) {                          \
                            int64_t ih = oh * w->stride[1] + b * w->dilation[1] - w->pad_begin[1]; \
                            if (ih < 0 || ih >= w->in[1])                                     \
                                continue;                                                     \
                            const T *xr = xc + ((size_t)id * (size_t)w->in[1] + (size_t)ih) * \
                                                   (size_t)w->in[2];                          \
                            for (int64_t e = 0; e < w->kernel[2]; e++) {                      \
                                int64_t off = e * w->dilation[2] - w->pad_begin[2], lo, hi;   \
                                fc_f32_valid_range(off, sw, w->in[2], Wo, &lo, &hi);          \
                                for (int64_t o = lo; o < hi; o++) {                           \
                                    T v = xr[o * sw + off];                                   \
                                    yr[o] = v > yr[o] ? v : yr[o];                            \
                                }                                                             \
                            }                                                                 \
                        }                                                                     \
                    }                                                                         \
                }                                                                             \
        }                                                                                     \
    }

typedef float f32_t;
MAXPOOL_BODY(f32_t, -__builtin_inff())
MAXPOOL_BODY(uint8_t, 0)
MAXPOOL_BODY(int8_t, INT8_MIN)
MAXPOOL_BODY(int32_t, INT32_MIN)
MAXPOOL_BODY(int64_t, INT64_MIN)

/* MaxPool with Indices: a plain per-window scan that also records the flat
 * index of the maximum in X ([N, C, D, H, W] row-major, or with
 * storage_order 1 the spatial part column-major: w*H*D + h*D + d).  The
 * first maximum wins.  Values are compared as double (exact for every
 * supported dtype except I64 beyond 2^53, where ties may pick another index
 * of an equal-looking value). */
static void maxpool_indices(const pool_geom *p, const fc_tensor *x, fc_tensor *y,
                            int64_t *ind, bool col_major)
{
    const fc_window *w = &p->w;
    const int64_t D = w->in[0], H = w->in[1], W = w->in[2];
    size_t oi = 0;
    for (size_t pl = 0; pl < p->planes; pl++)
        for (int64_t od = 0; od < w->out[0]; od++)
            for (int64_t oh = 0; oh < w->out[1]; oh++)
                for (int64_t ow = 0; ow < w->out[2]; ow++, oi++) {
                    double best = 0;
                    int64_t best_i = -1;
                    size_t best_src = 0;
                    for (int64_t a = 0; a < w->kernel[0]; a++) {
                        int64_t id = od * w->stride[0] + a * w->dilation[0] - w->pad_begin[0];
                        for (int64_t b = 0; id >= 0 && id < D && b < w->kernel[1]; b++) {
                            int64_t ih = oh * w->stride[1] + b * w->dilation[1] - w->pad_begin[1];
                            for (int64_t e = 0; ih >= 0 && ih < H && e < w->kernel[2]; e++) {
                                int64_t iw = ow * w->stride[2] + e * w->dilation[2] - w->pad_begin[2];
                                if (iw < 0 || iw >= W)
                                    continue;
                                size_t src = pl * p->in_sp + (size_t)((id * H + ih) * W + iw);
                                double v = fc_tensor_get_f64(x, src);
                                if (best_i < 0 || v > best) {
                                    best = v;
                                    best_src = src;
                                    best_i = col_major ? (int64_t)(pl * p->in_sp) +
                                                             (iw * H + ih) * D + id
                                                       : (int64_t)src;
                                }
                            }
                        }
                    }
                    size_t es = fc_dtype_size(x->dtype);
                    memcpy((unsigned char *)y->data + oi * es,
                           (const unsigned char *)x->data + best_src * es, es);
                    ind[oi] = best_i;
                }
}

fc_status fc_f32_maxpool(const fc_kernel_ctx *k, fc_err *err)
{
    pool_geom p;
    fc_status st = pool_setup(k, &p, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0], *ind = fc_f32_out(k, 1);
    if (x->dtype != y->dtype)
        return fc_err_set(err, FC_ERR_INTERNAL, "MaxPool: output dtype differs");
    if (y->numel == 0)
        return FC_OK;
    if (ind) {
        int64_t order;
        if ((st = fc_attr_get_int(k->node, "storage_order", 0, &order, err)))
            return st;
        if (ind->dtype != FC_DT_I64 || ind->numel != y->numel)
            return fc_err_set(err, FC_ERR_INTERNAL, "MaxPool: bad Indices output");
        switch (x->dtype) {
        case FC_DT_F32: case FC_DT_U8: case FC_DT_I8: case FC_DT_I32: case FC_DT_I64: break;
        default: return fc_f32_unsupported(k, x->dtype, err);
        }
        maxpool_indices(&p, x, y, ind->data, order == 1);
        return FC_OK;
    }
    switch (x->dtype) {
    case FC_DT_F32: maxpool_f32_t(&p, x->data, y->data); break;
    case FC_DT_U8: maxpool_uint8_t(&p, x->data, y->data); break;
    case FC_DT_I8: maxpool_int8_t(&p, x->data, y->data); break;
    case FC_DT_I32: maxpool_int32_t(&p, x->data, y->data); break;
    case FC_DT_I64: maxpool_int64_t(&p, x->data, y->data); break;
    default: return fc_f32_unsupported(k, x->dtype, err);
    }
    return FC_OK;
}

/* Number of counted taps of output o along one axis. */
static int64_t tap_count(const fc_window *w, int ax, int64_t o)
{
    int64_t lo_lim = w->count_include_pad ? -w->pad_begin[ax] : 0;
    int64_t hi_lim = w->in[ax] + (w->count_include_pad ? w->pad_end[ax] : 0);
    int64_t cnt = 0;
    for (int64_t t = 0; t < w->kernel[ax]; t++) {
        int64_t pos = o * w->stride[ax] + t * w->dilation[ax] - w->pad_begin[ax];
        cnt += pos >= lo_lim && pos < hi_lim;
    }
    return cnt;
}

fc_status fc_f32_averagepool(const fc_kernel_ctx *k, fc_err *err)
{
    pool_geom p;
    fc_status st = pool_setup(k, &p, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_F32 || y->dtype != FC_DT_F32)
        return fc_f32_unsupported(k, x->dtype, err);
    if (y->numel == 0)
        return FC_OK;
    const fc_window *w = &p.w;
    const int64_t Do = w->out[0], Ho = w->out[1], Wo = w->out[2], sw = w->stride[2];
    /* Reciprocal divisors per output position along W, and counts along D
     * and H: the window is a product set, so count = cd * ch * cw. */
    size_t bytes = (size_t)(Do + Ho + Wo) * sizeof(float);
    float *aux = fc_workspace_get(k->ws, F32_WS_AUX, bytes);
    if (!aux)
        return fc_err_set(err, FC_ERR_NOMEM, "AveragePool: out of memory (%zu bytes)", bytes);
    float *cd = aux, *ch = aux + Do, *cw = aux + Do + Ho;
    for (int64_t o = 0; o < Do; o++)
        cd[o] = (float)tap_count(w, 0, o);
    for (int64_t o = 0; o < Ho; o++)
        ch[o] = (float)tap_count(w, 1, o);
    for (int64_t o = 0; o < Wo; o++)
        cw[o] = (float)tap_count(w, 2, o);
    const float *xd = x->data;
    float *yd = y->data;
    for (size_t pl = 0; pl < p.planes; pl++) {
        const float *xc = xd + pl * p.in_sp;
        float *yc = yd + pl * p.out_sp;
        for (int64_t od = 0; od < Do; od++)
            for (int64_t oh = 0; oh < Ho; oh++) {
                float *yr = yc + ((size_t)od * (size_t)Ho + (size_t)oh) * (size_t)Wo;
                for (int64_t o = 0; o < Wo; o++)
                    yr[o] = 0.0f;
                for (int64_t a = 0; a < w->kernel[0]; a++) {
                    int64_t id = od * w->stride[0] + a * w->dilation[0] - w->pad_begin[0];
                    if (id < 0 || id >= w->in[0])
                        continue;
                    for (int64_t b = 0; b < w->kernel[1]; b++) {
                        int64_t ih = oh * w->stride[1] + b * w->dilation[1] - w->pad_begin[1];
                        if (ih < 0 || ih >= w->in[1])
                            continue;
                        const float *xr = xc + ((size_t)id * (size_t)w->in[1] + (size_t)ih) *
                                                   (size_t)w->in[2];
                        for (int64_t e = 0; e < w->kernel[2]; e++) {
                            int64_t off = e * w->dilation[2] - w->pad_begin[2], lo, hi;
                            fc_f32_valid_range(off, sw, w->in[2], Wo, &lo, &hi);
                            for (int64_t o = lo; o < hi; o++)
                                yr[o] += xr[o * sw + off];
                        }
                    }
                }
                const float c2 = cd[od] * ch[oh];
                for (int64_t o = 0; o < Wo; o++)
                    yr[o] /= c2 * cw[o];
            }
    }
    return FC_OK;
}

/* Global pools: one reduction per (n, c) plane, sums in double. */
static fc_status global_pool(const fc_kernel_ctx *k, bool is_max, fc_err *err)
{
    fc_status st = fc_f32_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_F32)
        return fc_f32_unsupported(k, x->dtype, err);
    if (x->rank < 2)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: rank %d", k->node->op_type, x->rank);
    const size_t planes = fc_f32_prod(x->dims, 0, 2), sp = fc_f32_prod(x->dims, 2, x->rank);
    if (y->numel != planes)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output size mismatch", k->node->op_type);
    const float *xd = x->data;
    float *yd = y->data;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xs = xd + pl * sp;
        if (is_max) {
            float m = -__builtin_inff();
            for (size_t i = 0; i < sp; i++)
                m = xs[i] > m ? xs[i] : m;
            yd[pl] = sp ? m : 0.0f;
        } else {
            double s = 0.0;
            for (size_t i = 0; i < sp; i++)
                s += xs[i];
            yd[pl] = sp ? (float)(s / (double)sp) : 0.0f;
        }
    }
    return FC_OK;
}

fc_status fc_f32_globalaveragepool(const fc_kernel_ctx *k, fc_err *err)
{
    return global_pool(k, false, err);
}

fc_status fc_f32_globalmaxpool(const fc_kernel_ctx *k, fc_err *err)
{
    return global_pool(k, true, err);
}
