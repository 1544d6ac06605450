/* Conv for the f32 engine: im2col + one OpenBLAS sgemm per group with the
 * batch folded into the gemm's column dimension; depthwise convs by direct
 * loops.
 *
 * Shapes (1-D and 2-D are handled as 3-D with neutral leading axes):
 *   X [N, C, D, H, W], W [M, C/G, kd, kh, kw], B [M], Y [N, M, Do, Ho, Wo]
 *   Y[n, m, o] = B[m] + sum_{c, t} W[m, c, t] * X[n, g*Cg + c, o*s + t*dil - pad]
 * with g = m / Mg, Cg = C/G, Mg = M/G, taps outside X reading 0.
 *
 * GEMM formulation, per group g and chunk of nb images:
 *   col [K, nb*P]  K = Cg*kd*kh*kw rows, P = Do*Ho*Wo output positions;
 *                  column n*P + p holds the K input values image n's output
 *                  p sees (0 for padding), row order = W's [c, kd, kh, kw].
 *   tmp [Mg, nb*P] = W_g [Mg, K] x col      (row-major, one sgemm)
 *   Y[n, g*Mg + m, p] = clamp(tmp[m, n*P + p] + B[m])   (scatter pass)
 * Folding the batch makes the gemm wide (nb*P columns) so OpenBLAS runs near
 * peak even for small feature maps; the scatter back to NCHW is the same
 * pass that adds the bias and applies the fused Relu/Clip.  With one image
 * per chunk the gemm writes straight into Y (rows of Y are [Mg, P]) and the
 * bias/clamp pass runs in place.  Pointwise convs (kernel 1, stride 1, no
 * pads) need no im2col: col is X's channels regrouped as [Cg, nb*P], and for
 * a single image X itself. */
#include <cblas.h>
#include <string.h>

#include "../../core/fc_alloc.h"
#include "f32_internal.h"

/* Upper bound for the im2col buffer of one chunk; more images than fit are
 * processed in several chunks (memory stays bounded for large batches). */
#define F32_COL_CAP_BYTES ((size_t)64 << 20)

typedef struct conv_geom {
    int64_t n, c, m, g, cg, mg;
    fc_window w;          /* 3-D form */
    size_t in_sp, out_sp; /* D*H*W and Do*Ho*Wo */
    size_t kvol, kdim;    /* kd*kh*kw and K = Cg*kvol */
    bool pointwise;
} conv_geom;

/* Writes the col rows of image block [n0, n0+nb), group g:
 * col[r, j*P + p], r = c*kvol + (a*kh + b)*kw + e. */
static void im2col(const float *x, const conv_geom *G, int64_t n0, int64_t nb, int64_t g,
                   float *col)
{
    const fc_window *w = &G->w;
    const int64_t D = w->in[0], H = w->in[1], W = w->in[2];
    const int64_t Do = w->out[0], Ho = w->out[1], Wo = w->out[2];
    const int64_t sd = w->stride[0], sh = w->stride[1], sw = w->stride[2];
    const size_t ncols = (size_t)nb * G->out_sp;
    size_t r = 0;
    for (int64_t c = 0; c < G->cg; c++)
        for (int64_t a = 0; a < w->kernel[0]; a++)
            for (int64_t b = 0; b < w->kernel[1]; b++)
                for (int64_t e = 0; e < w->kernel[2]; e++, r++) {
                    float *dst = col + r * ncols;
                    const int64_t offd = a * w->dilation[0] - w->pad_begin[0];
                    const int64_t offh = b * w->dilation[1] - w->pad_begin[1];
                    const int64_t offw = e * w->dilation[2] - w->pad_begin[2];
                    int64_t lo, hi;
                    fc_f32_valid_range(offw, sw, W, Wo, &lo, &hi);
                    for (int64_t j = 0; j < nb; j++) {
                        const float *xc = x + ((size_t)(n0 + j) * (size_t)G->c +
                                               (size_t)(g * G->cg + c)) * G->in_sp;
                        for (int64_t od = 0; od < Do; od++) {
                            const int64_t id = od * sd + offd;
                            for (int64_t oh = 0; oh < Ho; oh++) {
                                float *row = dst + ((size_t)j * (size_t)Do * (size_t)Ho +
                                                    (size_t)od * (size_t)Ho + (size_t)oh) *
                                                       (size_t)Wo;
                                const int64_t ih = oh * sh + offh;
                                if (id < 0 || id >= D || ih < 0 || ih >= H || lo == hi) {
                                    memset(row, 0, (size_t)Wo * sizeof *row);
                                    continue;
                                }
                                const float *xr = xc + ((size_t)id * (size_t)H + (size_t)ih) *
                                                           (size_t)W;
                                for (int64_t o = 0; o < lo; o++)
                                    row[o] = 0.0f;
                                if (sw == 1) {
                                    memcpy(row + lo, xr + lo + offw,
                                           (size_t)(hi - lo) * sizeof *row);
                                } else {
                                    for (int64_t o = lo; o < hi; o++)
                                        row[o] = xr[o * sw + offw];
                                }
                                for (int64_t o = hi; o < Wo; o++)
                                    row[o] = 0.0f;
                            }
                        }
                    }
                }
}

/* Pointwise col: channels of group g of images [n0, n0+nb) side by side. */
static void gather_channels(const float *x, const conv_geom *G, int64_t n0, int64_t nb,
                            int64_t g, float *col)
{
    const size_t P = G->out_sp, ncols = (size_t)nb * P;
    for (int64_t c = 0; c < G->cg; c++)
        for (int64_t j = 0; j < nb; j++)
            memcpy(col + (size_t)c * ncols + (size_t)j * P,
                   x + ((size_t)(n0 + j) * (size_t)G->c + (size_t)(g * G->cg + c)) * P,
                   P * sizeof *col);
}

/* y[i] = clamp(src[i] + bias) for i < n; lo/hi = -inf/+inf when no act. */
static void bias_clamp(float *y, const float *src, size_t n, float bias, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float v = src[i] + bias;
        v = v < lo ? lo : v;
        y[i] = v > hi ? hi : v;
    }
}

static void act_bounds(const fc_kernel_ctx *k, float *lo, float *hi)
{
    *lo = -__builtin_inff();
    *hi = __builtin_inff();
    if (k->act == FC_ACT_CLAMP) {
        *lo = k->act_min;
        *hi = k->act_max;
    }
}

static fc_status conv_gemm(const fc_kernel_ctx *k, const conv_geom *G, const float *x,
                           const float *wt, const float *bias, float *y, fc_err *err)
{
    const size_t P = G->out_sp, K = G->kdim;
    float lo, hi;
    act_bounds(k, &lo, &hi);

    /* Images per chunk: as many as fit F32_COL_CAP_BYTES (at least one). */
    size_t per_image, nb = 1;
    if (!fc_mul_size(K, P, &per_image) || !fc_mul_size(per_image, sizeof(float), &per_image))
        return fc_err_set(err, FC_ERR_LIMIT, "Conv: im2col buffer size overflows");
    if (per_image > 0 && per_image <= F32_COL_CAP_BYTES)
        nb = F32_COL_CAP_BYTES / per_image;
    if (nb > (size_t)G->n)
        nb = (size_t)G->n;

    /* col is not needed for a single-image pointwise chunk (X is the col). */
    float *col = NULL, *tmp = NULL;
    if (!(G->pointwise && nb == 1)) {
        col = fc_workspace_get(k->ws, F32_WS_COL, per_image * nb);
        if (!col)
            return fc_err_set(err, FC_ERR_NOMEM, "Conv: out of memory for im2col (%zu bytes)",
                              per_image * nb);
    }
    if (nb > 1) {
        size_t bytes;
        if (!fc_mul_size((size_t)G->mg * P, nb * sizeof(float), &bytes))
            return fc_err_set(err, FC_ERR_LIMIT, "Conv: gemm buffer size overflows");
        tmp = fc_workspace_get(k->ws, F32_WS_TMP, bytes);
        if (!tmp)
            return fc_err_set(err, FC_ERR_NOMEM, "Conv: out of memory (%zu bytes)", bytes);
    }

    for (int64_t n0 = 0; n0 < G->n; n0 += (int64_t)nb) {
        int64_t cnt = G->n - n0 < (int64_t)nb ? G->n - n0 : (int64_t)nb;
        const size_t ncols = (size_t)cnt * P;
        for (int64_t g = 0; g < G->g; g++) {
            const float *b_mat = col;
            if (G->pointwise && nb == 1)
                b_mat = x + ((size_t)n0 * (size_t)G->c + (size_t)(g * G->cg)) * P;
            else if (G->pointwise)
                gather_channels(x, G, n0, cnt, g, col);
            else
                im2col(x, G, n0, cnt, g, col);
            const float *w_g = wt + (size_t)(g * G->mg) * K;
            if (cnt == 1) {
                /* Straight into Y[n0, g*Mg .. g*Mg+Mg-1, :] = [Mg, P]. */
                float *y_g = y + ((size_t)n0 * (size_t)G->m + (size_t)(g * G->mg)) * P;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)G->mg, (int)P,
                            (int)K, 1.0f, w_g, (int)K, b_mat, (int)P, 0.0f, y_g, (int)P);
                for (int64_t m = 0; m < G->mg; m++)
                    bias_clamp(y_g + (size_t)m * P, y_g + (size_t)m * P, P,
                               bias ? bias[g * G->mg + m] : 0.0f, lo, hi);
                continue;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)G->mg, (int)ncols,
                        (int)K, 1.0f, w_g, (int)K, b_mat, (int)ncols, 0.0f, tmp, (int)ncols);
            for (int64_t m = 0; m < G->mg; m++) {
                const float bm = bias ? bias[g * G->mg + m] : 0.0f;
                for (int64_t j = 0; j < cnt; j++)
                    bias_clamp(y + ((size_t)(n0 + j) * (size_t)G->m + (size_t)(g * G->mg + m)) * P,
                               tmp + (size_t)m * ncols + (size_t)j * P, P, bm, lo, hi);
            }
        }
    }
    return FC_OK;
}

/* Depthwise (Cg == 1, Mg == 1: channel c -> channel c): direct loops.
 * For every output row and tap, the valid output range [lo, hi) is computed
 * once and the inner loop over the row is a plain multiply-add. */
static void conv_depthwise(const fc_kernel_ctx *k, const conv_geom *G, const float *x,
                           const float *wt, const float *bias, float *y)
{
    const fc_window *w = &G->w;
    const int64_t D = w->in[0], H = w->in[1], W = w->in[2];
    const int64_t Do = w->out[0], Ho = w->out[1], Wo = w->out[2];
    const int64_t kd = w->kernel[0], kh = w->kernel[1], kw = w->kernel[2];
    const int64_t sw = w->stride[2];
    float lo_a, hi_a;
    act_bounds(k, &lo_a, &hi_a);
    for (int64_t n = 0; n < G->n; n++)
        for (int64_t c = 0; c < G->c; c++) {
            const float *xc = x + ((size_t)n * (size_t)G->c + (size_t)c) * G->in_sp;
            float *yc = y + ((size_t)n * (size_t)G->m + (size_t)c) * G->out_sp;
            const float *wc = wt + (size_t)c * G->kvol;
            const float bc = bias ? bias[c] : 0.0f;
            for (int64_t od = 0; od < Do; od++)
                for (int64_t oh = 0; oh < Ho; oh++) {
                    float *yr = yc + ((size_t)od * (size_t)Ho + (size_t)oh) * (size_t)Wo;
                    for (int64_t o = 0; o < Wo; o++)
                        yr[o] = 0.0f;
                    for (int64_t a = 0; a < kd; a++) {
                        int64_t id = od * w->stride[0] + a * w->dilation[0] - w->pad_begin[0];
                        if (id < 0 || id >= D)
                            continue;
                        for (int64_t b = 0; b < kh; b++) {
                            int64_t ih = oh * w->stride[1] + b * w->dilation[1] - w->pad_begin[1];
                            if (ih < 0 || ih >= H)
                                continue;
                            const float *xr = xc + ((size_t)id * (size_t)H + (size_t)ih) * (size_t)W;
                            for (int64_t e = 0; e < kw; e++) {
                                const float wv = wc[(a * kh + b) * kw + e];
                                const int64_t off = e * w->dilation[2] - w->pad_begin[2];
                                int64_t lo, hi;
                                fc_f32_valid_range(off, sw, W, Wo, &lo, &hi);
                                if (sw == 1) {
                                    const float *xs = xr + off;
                                    for (int64_t o = lo; o < hi; o++)
                                        yr[o] += wv * xs[o];
                                } else {
                                    for (int64_t o = lo; o < hi; o++)
                                        yr[o] += wv * xr[o * sw + off];
                                }
                            }
                        }
                    }
                    bias_clamp(yr, yr, (size_t)Wo, bc, lo_a, hi_a);
                }
        }
}

fc_status fc_f32_conv(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *wt = k->in[1], *b = fc_f32_in(k, 2);
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_F32 || wt->dtype != FC_DT_F32 || (b && b->dtype != FC_DT_F32))
        return fc_f32_unsupported(k, x->dtype != FC_DT_F32 ? x->dtype : wt->dtype, err);
    if (x->rank < 3 || x->rank > 2 + FC_MAX_SPATIAL || wt->rank != x->rank)
        return fc_err_set(err, FC_ERR_INTERNAL, "Conv: unexpected ranks %d, %d", x->rank,
                          wt->rank);
    conv_geom G;
    memset(&G, 0, sizeof G);
    if ((st = fc_attr_get_int(k->node, "group", 1, &G.g, err)))
        return st;
    if ((st = fc_window_decode(k->node, x->rank - 2, x->dims + 2, wt->dims + 2, false, &G.w,
                               err)))
        return st;
    fc_f32_window3(&G.w);
    G.n = x->dims[0];
    G.c = x->dims[1];
    G.m = wt->dims[0];
    if (G.g < 1 || G.c % G.g || G.m % G.g || wt->dims[1] != G.c / G.g)
        return fc_err_set(err, FC_ERR_INTERNAL, "Conv: groups do not fit the shapes");
    G.cg = G.c / G.g;
    G.mg = G.m / G.g;
    G.in_sp = fc_f32_prod(G.w.in, 0, 3);
    G.out_sp = fc_f32_prod(G.w.out, 0, 3);
    G.kvol = fc_f32_prod(G.w.kernel, 0, 3);
    G.kdim = (size_t)G.cg * G.kvol;
    if (y->numel == 0 || y->numel != (size_t)G.n * (size_t)G.m * G.out_sp)
        return y->numel == 0 ? FC_OK
                             : fc_err_set(err, FC_ERR_INTERNAL, "Conv: output size mismatch");
    G.pointwise = G.kvol == 1;
    for (int i = 0; i < 3; i++)
        G.pointwise = G.pointwise && G.w.stride[i] == 1 && G.w.pad_begin[i] == 0 &&
                      G.w.pad_end[i] == 0;
    const float *bias = b ? (const float *)b->data : NULL;
    if (G.cg == 1 && G.mg == 1 && !G.pointwise) {
        conv_depthwise(k, &G, x->data, wt->data, bias, y->data);
        return FC_OK;
    }
    return conv_gemm(k, &G, x->data, wt->data, bias, y->data, err);
}
