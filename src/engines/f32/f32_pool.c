/* Pools of the f32 engine: MaxPool (F32, U8, I8, I32, I64; optional
 * Indices), AveragePool, GlobalAveragePool, GlobalMaxPool.
 *
 * Layout X [N, C, D, H, W] (1-D/2-D pools as 3-D with neutral leading axes),
 * Y [N, C, Do, Ho, Wo].  Output o along an axis sees the taps
 * o*stride + t*dilation - pad_begin, t < kernel; taps outside [0, in) are
 * padding.  The loops run tap-outer, output-row-inner: for one output row
 * and one tap, the outputs whose tap is inside the input form one range
 * [lo, hi) (fc_f32_valid_range), so the inner loop is a branch-free max or
 * add over the row that gcc vectorises.  Float MaxPool with 2x2 windows at
 * stride 2 (most CNNs) has its own pass over pairs of input rows (AVX2 when
 * available); float MaxPool is split over threads by rows or planes.
 *
 * MaxPool ignores padding (a window always has an input element: the
 * geometry decoder refuses pads >= the kernel extent).  AveragePool divides
 * by the number of taps inside the input, or with count_include_pad by the
 * taps inside the padded input [-pad_begin, in + pad_end) - with ceil_mode
 * a window can reach past that, and those positions are never counted. */
#include <math.h>
#include <string.h>

#include "../../core/fc_alloc.h"
#include "f32_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define F32_POOL_X86 1
#else
#define F32_POOL_X86 0
#endif

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

MAXPOOL_BODY(uint8_t, 0)
MAXPOOL_BODY(int8_t, INT8_MIN)
MAXPOOL_BODY(int32_t, INT32_MIN)
MAXPOOL_BODY(int64_t, INT64_MIN)

/* Float MaxPool follows f32-ref: the first tap of a window starts the
 * maximum, a larger value or a NaN replaces it (so a NaN anywhere in the
 * window gives NaN, and of equal values the first is kept).  Written as a
 * select so that gcc vectorises it. */
static inline float max_nan(float m, float v) { return v > m || isnan(v) ? v : m; }

/* 2x2 windows at stride 2 that all lie inside X (the pool of most CNNs):
 * output rows [r0, r1), row r of all slices read from input rows 2r, 2r+1
 * of its slice (slice = (n, c, d), kernel depth 1). */
static void maxpool_2x2_c(const fc_window *w, const float *x, float *y, size_t r0, size_t r1)
{
    const size_t H = (size_t)w->in[1], W = (size_t)w->in[2];
    const size_t Ho = (size_t)w->out[1], Wo = (size_t)w->out[2];
    for (size_t r = r0; r < r1; r++) {
        const float *restrict x0 = x + ((r / Ho) * H + 2 * (r % Ho)) * W;
        const float *restrict x1 = x0 + W;
        float *restrict yr = y + r * Wo;
        for (size_t o = 0; o < Wo; o++) {
            float m = max_nan(x0[2 * o], x0[2 * o + 1]);
            m = max_nan(m, x1[2 * o]);
            yr[o] = max_nan(m, x1[2 * o + 1]);
        }
    }
}

#if F32_POOL_X86
__attribute__((target("avx2"))) static inline __m256 max_nan8(__m256 m, __m256 v)
{
    const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ),
                                     _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_blendv_ps(m, v, take);
}

/* Outputs o0 .. o0+7 of one row: even and odd columns split by shuffles
 * (lanes come out in the order 0 1 4 5 2 3 6 7, fixed by one permute). */
__attribute__((target("avx2"))) static inline __m256 pool8(const float *x0, const float *x1)
{
    const __m256 a0 = _mm256_loadu_ps(x0), b0 = _mm256_loadu_ps(x0 + 8);
    const __m256 a1 = _mm256_loadu_ps(x1), b1 = _mm256_loadu_ps(x1 + 8);
    __m256 m = max_nan8(_mm256_shuffle_ps(a0, b0, 0x88), _mm256_shuffle_ps(a0, b0, 0xDD));
    m = max_nan8(m, _mm256_shuffle_ps(a1, b1, 0x88));
    m = max_nan8(m, _mm256_shuffle_ps(a1, b1, 0xDD));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xD8));
}

/* A ragged row end is done as the 8 outputs ending at Wo (rewriting a few
 * with the same values); rows narrower than 8 compute 8 and keep Wo.  The
 * caller keeps rows whose 16-float loads would leave X on the portable
 * loop. */
__attribute__((target("avx2"))) static void maxpool_2x2_avx2(const fc_window *w, const float *x,
                                                             float *y, size_t r0, size_t r1)
{
    const size_t H = (size_t)w->in[1], W = (size_t)w->in[2];
    const size_t Ho = (size_t)w->out[1], Wo = (size_t)w->out[2];
    for (size_t r = r0; r < r1; r++) {
        const float *x0 = x + ((r / Ho) * H + 2 * (r % Ho)) * W, *x1 = x0 + W;
        float *yr = y + r * Wo;
        if (Wo < 8) {
            float tmp[8];
            _mm256_storeu_ps(tmp, pool8(x0, x1));
            for (size_t o = 0; o < Wo; o++)
                yr[o] = tmp[o];
            continue;
        }
        for (size_t o = 0; o < Wo; o += 8) {
            const size_t o0 = o + 8 <= Wo ? o : Wo - 8;
            _mm256_storeu_ps(yr + o0, pool8(x0 + 2 * o0, x1 + 2 * o0));
        }
    }
}
#endif

typedef struct pool_job {
    const pool_geom *p;
    const float *x;
    float *y;
    size_t rows, per_unit;   /* 2x2: output rows in all, per unit; else planes */
    bool two, avx2;
} pool_job;

static void maxpool_f32(const pool_geom *p, const float *x, float *y, size_t pl0, size_t pl1);

static void maxpool_unit(void *ctx, int t, int64_t u)
{
    (void)t;
    const pool_job *J = ctx;
    const size_t a = (size_t)u * J->per_unit;
    const size_t b = a + J->per_unit < J->rows ? a + J->per_unit : J->rows;
    if (!J->two) {
        maxpool_f32(J->p, J->x, J->y, a, b);
        return;
    }
#if F32_POOL_X86
    /* Rows whose loads would run past the end of X (the last ones, when
     * rows are narrower than 8 outputs) stay on the portable loop. */
    const fc_window *w = &J->p->w;
    const size_t W = (size_t)w->in[2], Ho = (size_t)w->out[1], Wo = (size_t)w->out[2];
    const size_t reach = 2 * Wo > 16 ? 2 * Wo : 16, len = J->p->planes * J->p->in_sp;
    size_t safe = b;
    while (safe > a &&
           ((safe - 1) / Ho * (size_t)w->in[1] + 2 * ((safe - 1) % Ho) + 1) * W + reach > len)
        safe--;
    if (J->avx2) {
        maxpool_2x2_avx2(w, J->x, J->y, a, safe);
        maxpool_2x2_c(w, J->x, J->y, safe, b);
        return;
    }
#endif
    maxpool_2x2_c(&J->p->w, J->x, J->y, a, b);
}

/* Any window shape, all taps of one output row at a time.  Starting from
 * -inf gives the same values as starting from the first tap (max_nan(-inf,
 * v) is v, NaN included), so outputs whose windows begin in the padding
 * need no special case; a window entirely in the padding gives -inf. */
static void maxpool_f32(const pool_geom *p, const float *x, float *y, size_t pl0, size_t pl1)
{
    const fc_window *w = &p->w;
    const int64_t Ho = w->out[1], Wo = w->out[2], sw = w->stride[2];
    /* Without pads reaching into a row, every tap covers the whole row and
     * fc_f32_valid_range need not run per row and tap. */
    const bool row_inside = w->pad_begin[2] == 0 &&
                            (Wo - 1) * sw + (w->kernel[2] - 1) * w->dilation[2] < w->in[2];
    for (size_t pl = pl0; pl < pl1; pl++) {
        const float *xc = x + pl * p->in_sp;
        float *yc = y + pl * p->out_sp;
        for (int64_t od = 0; od < w->out[0]; od++)
            for (int64_t oh = 0; oh < Ho; oh++) {
                float *restrict yr = yc + ((size_t)od * (size_t)Ho + (size_t)oh) * (size_t)Wo;
                for (int64_t o = 0; o < Wo; o++)
                    yr[o] = -__builtin_inff();
                for (int64_t a = 0; a < w->kernel[0]; a++) {
                    int64_t id = od * w->stride[0] + a * w->dilation[0] - w->pad_begin[0];
                    if (id < 0 || id >= w->in[0])
                        continue;
                    for (int64_t b = 0; b < w->kernel[1]; b++) {
                        int64_t ih = oh * w->stride[1] + b * w->dilation[1] - w->pad_begin[1];
                        if (ih < 0 || ih >= w->in[1])
                            continue;
                        const float *restrict xr =
                            xc + ((size_t)id * (size_t)w->in[1] + (size_t)ih) * (size_t)w->in[2];
                        for (int64_t e = 0; e < w->kernel[2]; e++) {
                            const int64_t off = e * w->dilation[2] - w->pad_begin[2];
                            int64_t lo = 0, hi = Wo;
                            if (!row_inside)
                                fc_f32_valid_range(off, sw, w->in[2], Wo, &lo, &hi);
                            for (int64_t o = lo; o < hi; o++)
                                yr[o] = max_nan(yr[o], xr[o * sw + off]);
                        }
                    }
                }
            }
    }
}

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
                                /* NaN wins, as in f32-ref and the pools above. */
                                if (best_i < 0 || v > best || (isnan(v) && !isnan(best))) {
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
    case FC_DT_F32: {
        const fc_window *w = &p.w;
        pool_job J = {.p = &p, .x = x->data, .y = y->data, .two = w->out[0] == w->in[0]};
        J.two = J.two && w->kernel[0] == 1 && w->stride[0] == 1 && w->pad_begin[0] == 0;
        for (int i = 1; i < 3; i++)
            J.two = J.two && w->kernel[i] == 2 && w->stride[i] == 2 && w->dilation[i] == 1 &&
                    w->pad_begin[i] == 0 && 2 * w->out[i] <= w->in[i];
#if F32_POOL_X86
        J.avx2 = fc_f32_use_avx2();
#endif
        /* Units of about 64 KiB of input each, handed to threads. */
        J.rows = J.two ? p.planes * (size_t)(w->out[0] * w->out[1]) : p.planes;
        const size_t in_per_row = J.two ? 2 * (size_t)w->in[2] : p.in_sp;
        J.per_unit = ((size_t)16 << 10) / (in_per_row ? in_per_row : 1);
        J.per_unit = J.per_unit ? J.per_unit : 1;
        const int64_t units = (int64_t)((J.rows + J.per_unit - 1) / J.per_unit);
        /* Pooling streams memory: an element read costs about what 8 flops
         * of a matrix product do, which is what fc_f32_threads_for counts. */
        const double work = 8.0 * (double)p.planes * (double)p.in_sp;
        fc_f32_parallel_for(units, fc_f32_threads_for(work, units), maxpool_unit, &J);
        break;
    }
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
