/* Backward of the pools of the f32 engine: MaxPool, AveragePool,
 * GlobalAveragePool, GlobalMaxPool (float32).
 *
 * Geometry as in the forward pass (f32_pool.c): X [N, C, D, H, W] with 1-D
 * and 2-D pools as 3-D with neutral leading axes; output o along an axis
 * sees taps o*stride + t*dilation - pad_begin, t < kernel, and taps outside
 * [0, in) are padding.
 *
 * MaxPool sends each output's gradient to the first maximum of its window
 * in scan order (d, then h, then w), like PyTorch: the forward's output is
 * exactly one of the window's values, so the first tap equal to it is that
 * maximum (a window of NaNs gives -inf, equal to nothing: no gradient).  The
 * common 2x2, stride 2, no-padding pool has a branch-free fast path.
 * AveragePool spreads g / count over the counted taps with the forward's
 * count (count_include_pad, ceil_mode). */
#include <string.h>

#include "f32_grad.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define F32G_X86 1
#else
#define F32G_X86 0
#endif

typedef struct pool_geom {
    fc_window w;   /* 3-D */
    size_t planes, in_sp, out_sp;
} pool_geom;

/* Start of a float pool backward: gy, gx and the window geometry. */
static fc_status pool_start(const fc_grad_ctx *k, const fc_tensor **gy, fc_tensor **gx,
                            pool_geom *p, fc_err *err)
{
    fc_status st = fc_f32g_start(k, gy, err);
    *gx = fc_f32g_gin(k, 0);
    if (st || !*gy || !*gx || (st = fc_f32g_check_gin(k, 0, err)))
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
    if ((*gy)->numel != p->planes * p->out_sp)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output size mismatch", k->node->op_type);
    return FC_OK;
}

/* ---- MaxPool ---- */

/* 2x2 windows, stride 2, no padding or dilation, every window inside X:
 * the four taps of output o are x0[2o], x0[2o+1], x1[2o], x1[2o+1] of two
 * input rows.  One row pair, portable. */
static void maxpool_2x2_row(const float *x0, const float *x1, const float *yr, const float *gr,
                            float *d0, float *d1, size_t Wo)
{
    for (size_t o = 0; o < Wo; o++) {
        const float v = yr[o], gv = gr[o];
        const bool m0 = x0[2 * o] == v;
        const bool m1 = !m0 && x0[2 * o + 1] == v;
        const bool m2 = !m0 && !m1 && x1[2 * o] == v;
        const bool m3 = !m0 && !m1 && !m2 && x1[2 * o + 1] == v;
        d0[2 * o] += m0 ? gv : 0.0f;
        d0[2 * o + 1] += m1 ? gv : 0.0f;
        d1[2 * o] += m2 ? gv : 0.0f;
        d1[2 * o + 1] += m3 ? gv : 0.0f;
    }
}

#if F32G_X86
/* Four outputs: y and g duplicated into the lane pairs of the taps they
 * cover, the equality masks of both rows, then "first in scan order" by
 * masking out a lane whose pair (row 0) or whose pair and the row above
 * (row 1) already matched.  Lanes outside `keep` (a ragged end of the row)
 * are neither read nor written. */
__attribute__((target("avx2"))) static inline void maxpool_2x2_quad(const float *x0,
                                                                    const float *x1,
                                                                    const float *yr,
                                                                    const float *gr, float *d0,
                                                                    float *d1, int keep)
{
    const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256 odd = _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1));
    __m256 yd, gd, r0, r1;
    __m256i m8 = _mm256_set1_epi32(-1);
    if (keep == 4) {
        yd = _mm256_castps128_ps256(_mm_loadu_ps(yr));
        gd = _mm256_castps128_ps256(_mm_loadu_ps(gr));
        r0 = _mm256_loadu_ps(x0);
        r1 = _mm256_loadu_ps(x1);
    } else {
        const __m128i m4 = _mm_cmpgt_epi32(_mm_set1_epi32(keep), _mm_setr_epi32(0, 1, 2, 3));
        m8 = _mm256_cmpgt_epi32(_mm256_set1_epi32(2 * keep),
                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        yd = _mm256_castps128_ps256(_mm_maskload_ps(yr, m4));
        gd = _mm256_castps128_ps256(_mm_maskload_ps(gr, m4));
        r0 = _mm256_maskload_ps(x0, m8);
        r1 = _mm256_maskload_ps(x1, m8);
    }
    yd = _mm256_permutevar8x32_ps(yd, dup);
    gd = _mm256_permutevar8x32_ps(gd, dup);
    const __m256 a = _mm256_cmp_ps(r0, yd, _CMP_EQ_OQ), b = _mm256_cmp_ps(r1, yd, _CMP_EQ_OQ);
    const __m256 as = _mm256_permute_ps(a, 0xB1), bs = _mm256_permute_ps(b, 0xB1);
    const __m256 m0 = _mm256_andnot_ps(_mm256_and_ps(as, odd), a);
    const __m256 m1 =
        _mm256_andnot_ps(_mm256_or_ps(_mm256_and_ps(bs, odd), _mm256_or_ps(a, as)), b);
    if (keep == 4) {
        _mm256_storeu_ps(d0, _mm256_add_ps(_mm256_loadu_ps(d0), _mm256_and_ps(m0, gd)));
        _mm256_storeu_ps(d1, _mm256_add_ps(_mm256_loadu_ps(d1), _mm256_and_ps(m1, gd)));
    } else {
        _mm256_maskstore_ps(d0, m8,
                            _mm256_add_ps(_mm256_maskload_ps(d0, m8), _mm256_and_ps(m0, gd)));
        _mm256_maskstore_ps(d1, m8,
                            _mm256_add_ps(_mm256_maskload_ps(d1, m8), _mm256_and_ps(m1, gd)));
    }
}

/* A whole row of Wo outputs, four at a time. */
__attribute__((target("avx2"))) static void maxpool_2x2_row_avx2(const float *x0, const float *x1,
                                                                 const float *yr, const float *gr,
                                                                 float *d0, float *d1, size_t Wo)
{
    size_t o = 0;
    for (; o + 4 <= Wo; o += 4)
        maxpool_2x2_quad(x0 + 2 * o, x1 + 2 * o, yr + o, gr + o, d0 + 2 * o, d1 + 2 * o, 4);
    if (o < Wo)
        maxpool_2x2_quad(x0 + 2 * o, x1 + 2 * o, yr + o, gr + o, d0 + 2 * o, d1 + 2 * o,
                         (int)(Wo - o));
}
#endif

typedef struct mp_job {
    const pool_geom *p;
    const float *x, *y, *g;
    float *gx;
    bool avx2;
} mp_job;

/* Output rows [r0, r1) over all planes (row r: plane r / Ho, row r % Ho). */
static void maxpool_2x2_rows(void *ctx, size_t r0, size_t r1)
{
    const mp_job *J = ctx;
    const pool_geom *p = J->p;
    const size_t W = (size_t)p->w.in[2], Ho = (size_t)p->w.out[1], Wo = (size_t)p->w.out[2];
    for (size_t r = r0; r < r1; r++) {
        const size_t pl = r / Ho, oh = r % Ho;
        const size_t ir = pl * p->in_sp + 2 * oh * W, orow = pl * p->out_sp + oh * Wo;
#if F32G_X86
        if (J->avx2) {
            maxpool_2x2_row_avx2(J->x + ir, J->x + ir + W, J->y + orow, J->g + orow, J->gx + ir,
                                 J->gx + ir + W, Wo);
            continue;
        }
#endif
        maxpool_2x2_row(J->x + ir, J->x + ir + W, J->y + orow, J->g + orow, J->gx + ir,
                        J->gx + ir + W, Wo);
    }
}

static void maxpool_2x2(const pool_geom *p, const float *x, const float *y, const float *g,
                        float *gx)
{
    mp_job J = {.p = p, .x = x, .y = y, .g = g, .gx = gx};
#if F32G_X86
    J.avx2 = fc_f32_use_avx2();
#endif
    /* A row is 4 * Wo input elements read and written. */
    const size_t wo = (size_t)p->w.out[2], chunk = FC_F32G_PASS_CHUNK / (4 * wo) + 1;
    fc_f32g_parallel_range(p->planes * (size_t)p->w.out[1], chunk,
                           FC_F32G_PASS_COST * 4.0 * (double)wo, maxpool_2x2_rows, &J);
}

/* Any window: per output, the taps in scan order until one equals y. */
static void maxpool_any(const pool_geom *p, const float *x, const float *y, const float *g,
                        float *gx)
{
    const fc_window *w = &p->w;
    const int64_t D = w->in[0], H = w->in[1], W = w->in[2];
    size_t oi = 0;
    for (size_t pl = 0; pl < p->planes; pl++) {
        const float *xc = x + pl * p->in_sp;
        float *dc = gx + pl * p->in_sp;
        for (int64_t od = 0; od < w->out[0]; od++)
            for (int64_t oh = 0; oh < w->out[1]; oh++)
                for (int64_t ow = 0; ow < w->out[2]; ow++, oi++) {
                    const float v = y[oi];
                    bool done = false;
                    for (int64_t a = 0; a < w->kernel[0] && !done; a++) {
                        const int64_t id = od * w->stride[0] + a * w->dilation[0] - w->pad_begin[0];
                        if (id < 0 || id >= D)
                            continue;
                        for (int64_t b = 0; b < w->kernel[1] && !done; b++) {
                            const int64_t ih =
                                oh * w->stride[1] + b * w->dilation[1] - w->pad_begin[1];
                            if (ih < 0 || ih >= H)
                                continue;
                            const size_t row = ((size_t)id * (size_t)H + (size_t)ih) * (size_t)W;
                            for (int64_t e = 0; e < w->kernel[2]; e++) {
                                const int64_t iw =
                                    ow * w->stride[2] + e * w->dilation[2] - w->pad_begin[2];
                                if (iw >= 0 && iw < W && xc[row + (size_t)iw] == v) {
                                    dc[row + (size_t)iw] += g[oi];
                                    done = true;
                                    break;
                                }
                            }
                        }
                    }
                }
    }
}

fc_status fc_f32_maxpool_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_tensor *gx;
    pool_geom p;
    fc_status st = pool_start(k, &gy, &gx, &p, err);
    if (st || !gy || !gx || gy->numel == 0)
        return st;
    const fc_window *w = &p.w;
    const float *x = k->in[0]->data, *y = k->out[0]->data;
    bool fast = w->kernel[0] == 1 && w->stride[0] == 1 && w->out[0] == w->in[0] &&
                2 * w->out[1] <= w->in[1] && 2 * w->out[2] <= w->in[2];
    for (int i = 1; i < 3; i++)
        fast = fast && w->kernel[i] == 2 && w->stride[i] == 2 && w->dilation[i] == 1 &&
               w->pad_begin[i] == 0;
    if (fast && w->out[0] == 1)
        maxpool_2x2(&p, x, y, gy->data, gx->data);
    else
        maxpool_any(&p, x, y, gy->data, gx->data);
    return FC_OK;
}

/* ---- AveragePool ---- */

/* Counted taps of output o along axis ax (the forward's divisor). */
static int64_t tap_count(const fc_window *w, int ax, int64_t o)
{
    const int64_t lo_lim = w->count_include_pad ? -w->pad_begin[ax] : 0;
    const int64_t hi_lim = w->in[ax] + (w->count_include_pad ? w->pad_end[ax] : 0);
    int64_t cnt = 0;
    for (int64_t t = 0; t < w->kernel[ax]; t++) {
        const int64_t pos = o * w->stride[ax] + t * w->dilation[ax] - w->pad_begin[ax];
        cnt += pos >= lo_lim && pos < hi_lim;
    }
    return cnt;
}

fc_status fc_f32_averagepool_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_tensor *gx;
    pool_geom p;
    fc_status st = pool_start(k, &gy, &gx, &p, err);
    if (st || !gy || !gx || gy->numel == 0)
        return st;
    const fc_window *w = &p.w;
    const int64_t Do = w->out[0], Ho = w->out[1], Wo = w->out[2], sw = w->stride[2];
    /* Divisors per axis (count = cd * ch * cw, the window is a product set)
     * and one row of scaled gradients. */
    const size_t bytes = (size_t)(Do + Ho + 2 * Wo) * sizeof(float);
    float *aux = fc_workspace_get(k->ws, F32_WS_AUX, bytes);
    if (!aux)
        return fc_err_set(err, FC_ERR_NOMEM, "AveragePool: out of memory (%zu bytes)", bytes);
    float *cd = aux, *ch = cd + Do, *cw = ch + Ho, *gs = cw + Wo;
    for (int64_t o = 0; o < Do; o++)
        cd[o] = (float)tap_count(w, 0, o);
    for (int64_t o = 0; o < Ho; o++)
        ch[o] = (float)tap_count(w, 1, o);
    for (int64_t o = 0; o < Wo; o++)
        cw[o] = (float)tap_count(w, 2, o);
    const float *g = gy->data;
    float *d = gx->data;
    for (size_t pl = 0; pl < p.planes; pl++) {
        float *dc = d + pl * p.in_sp;
        for (int64_t od = 0; od < Do; od++)
            for (int64_t oh = 0; oh < Ho; oh++) {
                const float *gr = g + pl * p.out_sp + ((size_t)od * (size_t)Ho + (size_t)oh) *
                                                          (size_t)Wo;
                const float c2 = cd[od] * ch[oh];
                for (int64_t o = 0; o < Wo; o++)
                    gs[o] = gr[o] / (c2 * cw[o]);
                for (int64_t a = 0; a < w->kernel[0]; a++) {
                    const int64_t id = od * w->stride[0] + a * w->dilation[0] - w->pad_begin[0];
                    if (id < 0 || id >= w->in[0])
                        continue;
                    for (int64_t b = 0; b < w->kernel[1]; b++) {
                        const int64_t ih = oh * w->stride[1] + b * w->dilation[1] - w->pad_begin[1];
                        if (ih < 0 || ih >= w->in[1])
                            continue;
                        float *dr = dc + ((size_t)id * (size_t)w->in[1] + (size_t)ih) *
                                             (size_t)w->in[2];
                        for (int64_t e = 0; e < w->kernel[2]; e++) {
                            int64_t off = e * w->dilation[2] - w->pad_begin[2], lo, hi;
                            fc_f32_valid_range(off, sw, w->in[2], Wo, &lo, &hi);
                            for (int64_t o = lo; o < hi; o++)
                                dr[o * sw + off] += gs[o];
                        }
                    }
                }
            }
    }
    return FC_OK;
}

/* ---- global pools ---- */

static fc_status global_start(const fc_grad_ctx *k, const fc_tensor **gy, fc_tensor **gx,
                              size_t *planes, size_t *sp, fc_err *err)
{
    fc_status st = fc_f32g_start(k, gy, err);
    *gx = fc_f32g_gin(k, 0);
    if (st || !*gy || !*gx || (st = fc_f32g_check_gin(k, 0, err)))
        return st;
    const fc_tensor *x = k->in[0];
    if (x->rank < 2)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: rank %d", k->node->op_type, x->rank);
    *planes = fc_f32_prod(x->dims, 0, 2);
    *sp = fc_f32_prod(x->dims, 2, x->rank);
    if ((*gy)->numel != *planes)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output size mismatch", k->node->op_type);
    return FC_OK;
}

fc_status fc_f32_globalaveragepool_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_tensor *gx;
    size_t planes, sp;
    fc_status st = global_start(k, &gy, &gx, &planes, &sp, err);
    if (st || !gy || !gx || sp == 0)
        return st;
    const float *g = gy->data;
    float *d = gx->data;
    const float inv = (float)(1.0 / (double)sp);
    for (size_t pl = 0; pl < planes; pl++) {
        const float v = g[pl] * inv;
        float *dp = d + pl * sp;
        for (size_t i = 0; i < sp; i++)
            dp[i] += v;
    }
    return FC_OK;
}

fc_status fc_f32_globalmaxpool_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_tensor *gx;
    size_t planes, sp;
    fc_status st = global_start(k, &gy, &gx, &planes, &sp, err);
    if (st || !gy || !gx || sp == 0)
        return st;
    const float *g = gy->data, *x = k->in[0]->data, *y = k->out[0]->data;
    float *d = gx->data;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * sp;
        for (size_t i = 0; i < sp; i++)
            if (xp[i] == y[pl]) {   /* the first maximum */
                d[pl * sp + i] += g[pl];
                break;
            }
    }
    return FC_OK;
}
