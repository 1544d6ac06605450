/* Backward of Conv for the f32 engine: the input gradient (this file and,
 * for a sparse dY, f32_grad_convs.c) and the weight/bias gradients
 * (f32_grad_convw.c, only when the weights depend on the model's input).
 *
 * Forward (f32_conv.c), per group g and image n:
 *   Y_g [Mg, P] = W_g [Mg, K] x col [K, P],   col = im2col(X_g)
 * so the input gradient is
 *   dcol [K, P] = W_g^T [K, Mg] x dY_g [Mg, P],   dX_g += col2im(dcol)
 * where col2im adds each row of dcol back onto the input positions that
 * row of col was read from (padding taps are dropped).  The product runs
 * through fc_f32_small_gemm with W_g^T packed once per call: its inner
 * dimension is Mg (at most a few hundred), so it stays in cache without
 * OpenBLAS's packing, and each image is independent, so images are split
 * over threads with no locking (every thread owns its dcol buffer, and an
 * image's dX is written by the one thread that takes that image).
 *
 * Other roads, tried in this order:
 *  - depthwise convs (one input and one output channel per group) are
 *    direct loops over each plane (a correlation of the spread-out dY
 *    with the flipped kernel, see dw_job);
 *  - a mostly-zero dY (after a max pool and a Relu, 70-90% of it is zero)
 *    goes to f32_grad_convs.c, whose work is proportional to the nonzeros;
 *  - 3x3, stride 1, dilation 1, one group, enough channels: the input
 *    gradient is itself a convolution of dY with the weights flipped in
 *    space and transposed in channels, W'[c, m, a, b] = W[m, c, 2-a, 2-b],
 *    padded by 2 - pad, so it goes through the forward's Winograd kernel
 *    into a scratch tensor that is then added into dX.
 * Fused activations need nothing here: the Relu/Clip node's backward has
 * already masked dY (fc_kernel.h). */
#include <string.h>

#include "../../core/fc_alloc.h"
#include "f32_grad.h"


/* Bytes of dcol a thread works on at once (stays in L2 with dY's rows). */
#define DCOL_BUDGET ((size_t)256 << 10)

static fc_status conv_setup(const fc_grad_ctx *k, fc_f32g_conv *G, fc_err *err)
{
    const fc_tensor *x = fc_f32g_in(k, 0), *wt = fc_f32g_in(k, 1), *b = fc_f32g_in(k, 2);
    if (!x || !wt)
        return fc_err_set(err, FC_ERR_INTERNAL, "Conv: inputs missing");
    if (x->dtype != FC_DT_F32 || wt->dtype != FC_DT_F32 || (b && b->dtype != FC_DT_F32))
        return fc_f32g_unsupported(k, "non-float32 tensors", err);
    if (x->rank < 3 || x->rank > 2 + FC_MAX_SPATIAL || wt->rank != x->rank)
        return fc_err_set(err, FC_ERR_INTERNAL, "Conv: unexpected ranks %d, %d", x->rank,
                          wt->rank);
    memset(G, 0, sizeof *G);
    fc_status st = fc_attr_get_int(k->node, "group", 1, &G->g, err);
    if (st || (st = fc_window_decode(k->node, x->rank - 2, x->dims + 2, wt->dims + 2, false,
                                     &G->w, err)))
        return st;
    fc_f32_window3(&G->w);
    G->n = x->dims[0];
    G->c = x->dims[1];
    G->m = wt->dims[0];
    if (G->g < 1 || G->c % G->g || G->m % G->g || wt->dims[1] != G->c / G->g)
        return fc_err_set(err, FC_ERR_INTERNAL, "Conv: groups do not fit the shapes");
    G->cg = G->c / G->g;
    G->mg = G->m / G->g;
    G->in_sp = fc_f32_prod(G->w.in, 0, 3);
    G->out_sp = fc_f32_prod(G->w.out, 0, 3);
    G->rows = fc_f32_prod(G->w.out, 0, 2);
    G->kvol = fc_f32_prod(G->w.kernel, 0, 3);
    G->kdim = (size_t)G->cg * G->kvol;
    if (k->gout[0]->numel != (size_t)G->n * (size_t)G->m * G->out_sp)
        return fc_err_set(err, FC_ERR_INTERNAL, "Conv: output gradient size mismatch");
    return FC_OK;
}

/* ---- general: small gemm into dcol, col2im ---- */

typedef struct dx_job {
    const fc_f32g_conv *G;
    const float *wtt;     /* [G][K][Mg]: W_g transposed, per group */
    const float *gy;
    float *gx;
    size_t chunk;         /* output rows per dcol chunk */
    size_t per_thread;    /* floats of dcol per thread */
    float *dcol;
} dx_job;

/* dX[n, g*Cg + c, ...] += the rows of dcol for output rows [q0, q1) of
 * image n: row r = c*kvol + (a*kh + b)*kw + e holds, at column
 * (q - q0)*Wo + o, the gradient of the input value output (q, o) read
 * through tap (a, b, e). */
static void col2im_add(const fc_f32g_conv *G, int64_t n, int64_t g, size_t q0, size_t q1,
                       const float *dcol, size_t ld, float *gx)
{
    const fc_window *w = &G->w;
    const int64_t D = w->in[0], H = w->in[1], W = w->in[2];
    const int64_t Ho = w->out[1], Wo = w->out[2];
    const int64_t sd = w->stride[0], sh = w->stride[1], sw = w->stride[2];
    size_t r = 0;
    for (int64_t c = 0; c < G->cg; c++) {
        float *xc = gx + ((size_t)n * (size_t)G->c + (size_t)(g * G->cg + c)) * G->in_sp;
        for (int64_t a = 0; a < w->kernel[0]; a++)
            for (int64_t b = 0; b < w->kernel[1]; b++)
                for (int64_t e = 0; e < w->kernel[2]; e++, r++) {
                    const int64_t offd = a * w->dilation[0] - w->pad_begin[0];
                    const int64_t offh = b * w->dilation[1] - w->pad_begin[1];
                    const int64_t offw = e * w->dilation[2] - w->pad_begin[2];
                    int64_t lo, hi;
                    fc_f32_valid_range(offw, sw, W, Wo, &lo, &hi);
                    if (lo == hi)
                        continue;
                    const float *row = dcol + r * ld;
                    for (size_t q = q0; q < q1; q++, row += Wo) {
                        const int64_t id = (int64_t)q / Ho * sd + offd;
                        const int64_t ih = (int64_t)q % Ho * sh + offh;
                        if (id < 0 || id >= D || ih < 0 || ih >= H)
                            continue;
                        float *xr = xc + ((size_t)id * (size_t)H + (size_t)ih) * (size_t)W;
                        if (sw == 1) {
                            float *xs = xr + offw;
                            for (int64_t o = lo; o < hi; o++)
                                xs[o] += row[o];
                        } else {
                            for (int64_t o = lo; o < hi; o++)
                                xr[o * sw + offw] += row[o];
                        }
                    }
                }
    }
}

/* One image: every group and chunk of its output rows. */
static void dx_image(void *ctx, int t, int64_t n)
{
    const dx_job *J = ctx;
    const fc_f32g_conv *G = J->G;
    const size_t P = G->out_sp, K = G->kdim, Mg = (size_t)G->mg, wo = (size_t)G->w.out[2];
    float *dcol = J->dcol + (size_t)t * J->per_thread;
    for (int64_t g = 0; g < G->g; g++) {
        const float *wg = J->wtt + (size_t)g * K * Mg;
        const float *gyg = J->gy + ((size_t)n * (size_t)G->m + (size_t)(g * G->mg)) * P;
        for (size_t q0 = 0; q0 < G->rows; q0 += J->chunk) {
            const size_t q1 = q0 + J->chunk < G->rows ? q0 + J->chunk : G->rows;
            const size_t cols = (q1 - q0) * wo;
            fc_f32_small_gemm(K, cols, Mg, wg, Mg, gyg + q0 * wo, P, dcol, cols, NULL,
                              -__builtin_inff(), __builtin_inff());
            col2im_add(G, n, g, q0, q1, dcol, cols, J->gx);
        }
    }
}

static fc_status dx_general(const fc_grad_ctx *k, const fc_f32g_conv *G, const float *wt,
                            const float *gy, float *gx, fc_err *err)
{
    const size_t K = G->kdim, Mg = (size_t)G->mg, wo = (size_t)G->w.out[2];
    dx_job J = {.G = G, .gy = gy, .gx = gx};
    size_t rows = DCOL_BUDGET / (K * wo * sizeof(float));
    J.chunk = rows < 1 ? 1 : rows < G->rows ? rows : G->rows;
    J.per_thread = (K * J.chunk * wo + 15) & ~(size_t)15;
    const double flops = 2.0 * (double)G->n * (double)G->m * (double)K * (double)G->out_sp;
    const int nt = fc_f32_threads_for(flops, G->n);
    size_t wt_bytes = (size_t)G->g * K * Mg * sizeof(float), col_bytes;
    if (!fc_mul_size(J.per_thread, (size_t)nt * sizeof(float), &col_bytes))
        return fc_err_set(err, FC_ERR_LIMIT, "Conv backward: buffer size overflows");
    float *wtt = fc_workspace_get(k->ws, F32_WS_AUX2, wt_bytes);
    J.dcol = fc_workspace_get(k->ws, F32_WS_COL, col_bytes);
    if (!wtt || !J.dcol)
        return fc_err_set(err, FC_ERR_NOMEM, "Conv backward: out of memory (%zu bytes)",
                          wt_bytes + col_bytes);
    /* W_g [Mg, K] -> W_g^T [K, Mg], so the product reads rows. */
    for (int64_t g = 0; g < G->g; g++)
        for (size_t m = 0; m < Mg; m++)
            for (size_t r = 0; r < K; r++)
                wtt[((size_t)g * K + r) * Mg + m] = wt[((size_t)g * Mg + m) * K + r];
    J.wtt = wtt;
    fc_f32_parallel_for(G->n, nt, dx_image, &J);
    return FC_OK;
}

/* ---- depthwise: one plane at a time, branch-free ---- */

/* Along one axis (input I, output O, kernel k, stride s, dilation d, pad
 * p), the input gradient is dX[i] = sum_t W[t] dY[o] over o*s = i + p - t*d.
 * With dY spread out s apart and shifted by q = (k-1)*d - p into a zeroed
 * buffer Z of L = I + (k-1)*d elements, that is dX[i] = sum_t' W[k-1-t'] *
 * Z[i + t'*d]: a correlation with the flipped kernel, every tap inside the
 * buffer.  Computed for every position of the buffer's row pitch (the
 * extra columns are thrown away), the whole plane is one flat array, so
 * each tap is a single long multiply-add with no range checks - planes of
 * 7x7 or 14x14 would otherwise be all loop overhead.  The extra columns
 * cost a few multiplies; with a stride the spread-out dY would be mostly
 * zeros, so strided convs scatter tap by tap instead (dw_strided_image). */
typedef struct dw_job {
    const fc_f32g_conv *G;
    const float *wt, *gy;
    float *gx, *buf;
    int64_t len[3], shift[3];   /* buffer extent and dY's offset per axis */
    size_t zlen, xlen;          /* floats of Z (with slack) and of the flat dX */
} dw_job;

/* One image: all its channels. */
static void dw_image(void *ctx, int t, int64_t n)
{
    const dw_job *J = ctx;
    const fc_f32g_conv *G = J->G;
    const fc_window *w = &G->w;
    const int64_t Ld = J->len[0], Lh = J->len[1], Lw = J->len[2];
    const int64_t kh = w->kernel[1], kw = w->kernel[2];
    float *z = J->buf + (size_t)t * (J->zlen + J->xlen), *xf = z + J->zlen;
    for (int64_t pl = n * G->c; pl < (n + 1) * G->c; pl++) {
        const float *yc = J->gy + (size_t)pl * G->out_sp;
        const float *wc = J->wt + (size_t)(pl % G->c) * G->kvol;
        float *xc = J->gx + (size_t)pl * G->in_sp;
        memset(z, 0, J->zlen * sizeof *z);
        memset(xf, 0, J->xlen * sizeof *xf);
        size_t oi = 0;
        for (int64_t od = 0; od < w->out[0]; od++)
            for (int64_t oh = 0; oh < w->out[1]; oh++) {
                const int64_t jd = od * w->stride[0] + J->shift[0];
                const int64_t jh = oh * w->stride[1] + J->shift[1];
                const bool row_in = jd >= 0 && jd < Ld && jh >= 0 && jh < Lh;
                float *zr = z + (size_t)(jd * Lh + jh) * (size_t)Lw;
                for (int64_t ow = 0; ow < w->out[2]; ow++, oi++) {
                    const int64_t jw = ow * w->stride[2] + J->shift[2];
                    if (row_in && jw >= 0 && jw < Lw)
                        zr[jw] = yc[oi];
                }
            }
        size_t tap = G->kvol;
        for (int64_t a = 0; a < w->kernel[0]; a++)
            for (int64_t b = 0; b < kh; b++)
                for (int64_t e = 0; e < kw; e++) {
                    const float wv = wc[--tap];
                    const float *restrict zs =
                        z + (size_t)((a * w->dilation[0] * Lh + b * w->dilation[1]) * Lw +
                                     e * w->dilation[2]);
                    float *restrict xs = xf;
                    for (size_t j = 0; j < J->xlen; j++)
                        xs[j] += wv * zs[j];
                }
        for (int64_t id = 0; id < w->in[0]; id++)
            for (int64_t ih = 0; ih < w->in[1]; ih++) {
                float *xr = xc + ((size_t)id * (size_t)w->in[1] + (size_t)ih) * (size_t)w->in[2];
                const float *fr = xf + (size_t)(id * Lh + ih) * (size_t)Lw;
                for (int64_t iw = 0; iw < w->in[2]; iw++)
                    xr[iw] += fr[iw];
            }
    }
}

/* Widest kernel (along W) of the depthwise paths; wider ones take the
 * general one. */
#define DW_TAPS 32

/* Strided depthwise convs (whose spread-out dY would be mostly zeros):
 * every output row adds w * dY into the input rows its taps read, tap by
 * tap over the range of outputs whose tap is inside the row. */
static void dw_strided_image(void *ctx, int t, int64_t n)
{
    (void)t;
    const dw_job *J = ctx;
    const fc_f32g_conv *G = J->G;
    const fc_window *w = &G->w;
    const int64_t H = w->in[1], W = w->in[2], Ho = w->out[1], Wo = w->out[2];
    const int64_t kh = w->kernel[1], kw = w->kernel[2], sw = w->stride[2];
    /* Each tap's offset and output range along W, once. */
    int64_t off[DW_TAPS], lo[DW_TAPS], hi[DW_TAPS];
    for (int64_t e = 0; e < kw; e++) {
        off[e] = e * w->dilation[2] - w->pad_begin[2];
        fc_f32_valid_range(off[e], sw, W, Wo, &lo[e], &hi[e]);
    }
    for (int64_t pl = n * G->c; pl < (n + 1) * G->c; pl++) {
        float *xc = J->gx + (size_t)pl * G->in_sp;
        const float *yc = J->gy + (size_t)pl * G->out_sp;
        const float *wc = J->wt + (size_t)(pl % G->c) * G->kvol;
        for (int64_t od = 0; od < w->out[0]; od++)
            for (int64_t oh = 0; oh < Ho; oh++) {
                const float *yr = yc + ((size_t)od * (size_t)Ho + (size_t)oh) * (size_t)Wo;
                for (int64_t a = 0; a < w->kernel[0]; a++) {
                    const int64_t id = od * w->stride[0] + a * w->dilation[0] - w->pad_begin[0];
                    for (int64_t b = 0; id >= 0 && id < w->in[0] && b < kh; b++) {
                        const int64_t ih = oh * w->stride[1] + b * w->dilation[1] - w->pad_begin[1];
                        if (ih < 0 || ih >= H)
                            continue;
                        float *restrict xr =
                            xc + ((size_t)id * (size_t)H + (size_t)ih) * (size_t)W;
                        for (int64_t e = 0; e < kw; e++) {
                            const float wv = wc[(a * kh + b) * kw + e];
                            for (int64_t o = lo[e]; o < hi[e]; o++)
                                xr[o * sw + off[e]] += wv * yr[o];
                        }
                    }
                }
            }
    }
}

static fc_status dx_depthwise(const fc_grad_ctx *k, const fc_f32g_conv *G, const float *wt,
                              const float *gy, float *gx, fc_err *err)
{
    dw_job J = {.G = G, .wt = wt, .gy = gy, .gx = gx};
    if (G->w.stride[0] > 1 || G->w.stride[1] > 1 || G->w.stride[2] > 1) {
        const double flops = 2.0 * (double)G->n * (double)G->c * (double)G->kvol *
                             (double)G->out_sp;
        fc_f32_parallel_for(G->n, fc_f32_threads_for(flops, G->n), dw_strided_image, &J);
        return FC_OK;
    }
    size_t zlen = 1;
    for (int i = 0; i < 3; i++) {
        const int64_t reach = (G->w.kernel[i] - 1) * G->w.dilation[i];
        J.len[i] = G->w.in[i] + reach;
        J.shift[i] = reach - G->w.pad_begin[i];
        zlen *= (size_t)J.len[i];
    }
    /* Flat dX over input depths x buffer rows x buffer pitch; the last taps
     * read up to (kh-1)*dh rows and (kw-1)*dw columns past Z's end. */
    J.xlen = (size_t)(G->w.in[0] * J.len[1] * J.len[2]);
    J.zlen = zlen + (size_t)((G->w.kernel[1] - 1) * G->w.dilation[1] * J.len[2] +
                             (G->w.kernel[2] - 1) * G->w.dilation[2]);
    const double flops = 2.0 * (double)G->n * (double)G->c * (double)G->kvol * (double)J.xlen;
    const int nt = fc_f32_threads_for(flops, G->n);
    size_t bytes;
    if (!fc_mul_size(J.zlen + J.xlen, (size_t)nt * sizeof(float), &bytes))
        return fc_err_set(err, FC_ERR_LIMIT, "Conv backward: buffer size overflows");
    J.buf = fc_workspace_get(k->ws, F32_WS_COL, bytes);
    if (!J.buf)
        return fc_err_set(err, FC_ERR_NOMEM, "Conv backward: out of memory (%zu bytes)", bytes);
    fc_f32_parallel_for(G->n, nt, dw_image, &J);
    return FC_OK;
}

/* ---- 3x3 stride 1: the flipped convolution by Winograd ---- */

/* The window of dX = conv(dY, W'): dY's dims in, X's dims out, pads
 * 2 - pad; false when it is not a Winograd case. */
static bool flipped_window(const fc_f32g_conv *G, fc_window *wf)
{
    const fc_window *w = &G->w;
    if (G->g != 1 || w->kernel[1] != 3 || w->kernel[2] != 3)
        return false;
    *wf = *w;
    for (int i = 0; i < 3; i++) {
        if (w->stride[i] != 1 || w->dilation[i] != 1)
            return false;
        wf->in[i] = w->out[i];
        wf->out[i] = w->in[i];
        if (i > 0) {
            if (w->pad_begin[i] > 2 || w->pad_end[i] > 2)
                return false;
            wf->pad_begin[i] = 2 - w->pad_begin[i];
            wf->pad_end[i] = 2 - w->pad_end[i];
        }
    }
    return fc_f32_winograd_fits(wf, G->m, G->c, 1);
}

static fc_status dx_winograd(const fc_grad_ctx *k, const fc_f32g_conv *G, const fc_window *wf,
                             const float *wt, const float *gy, float *gx, fc_err *err)
{
    const size_t C = (size_t)G->c, M = (size_t)G->m, total = (size_t)G->n * C * G->in_sp;
    float *wflip = fc_workspace_get(k->ws, F32_WS_AUX2, C * M * 9 * sizeof(float));
    float *tmp = fc_workspace_get(k->ws, F32_WS_AUX, total * sizeof(float));
    if (!wflip || !tmp)
        return fc_err_set(err, FC_ERR_NOMEM, "Conv backward: out of memory (%zu bytes)",
                          (C * M * 9 + total) * sizeof(float));
    for (size_t m = 0; m < M; m++)
        for (size_t c = 0; c < C; c++)
            for (size_t t = 0; t < 9; t++)
                wflip[(c * M + m) * 9 + t] = wt[(m * C + c) * 9 + (8 - t)];
    /* The Winograd kernel takes its workspace from a forward context. */
    const fc_kernel_ctx fk = {.node = k->node, .in = k->in, .n_in = k->n_in, .ws = k->ws};
    fc_status st = fc_f32_conv_winograd(&fk, wf, G->n, (int64_t)M, (int64_t)C, gy, wflip, NULL,
                                        tmp, -__builtin_inff(), __builtin_inff(), err);
    if (st)
        return st;
    fc_f32g_acc(gx, tmp, total);
    return FC_OK;
}

fc_status fc_f32_conv_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    if (st || !gy)
        return st;
    fc_tensor *gx = fc_f32g_gin(k, 0);
    if (!gx && !fc_f32g_gin(k, 1) && !fc_f32g_gin(k, 2))
        return FC_OK;
    for (int i = 0; i < 3; i++)
        if ((st = fc_f32g_check_gin(k, i, err)))
            return st;
    fc_f32g_conv G;
    if ((st = conv_setup(k, &G, err)))
        return st;
    if (gy->numel == 0)
        return FC_OK;
    if (gx) {
        const float *wt = k->in[1]->data;
        fc_window wf;
        const bool wino = flipped_window(&G, &wf);
        /* Sparse dY pays below about a third of nonzeros against Winograd
         * (measured), somewhat later against the im2col product. */
        if (G.cg == 1 && G.mg == 1 && G.w.kernel[2] <= DW_TAPS)
            st = dx_depthwise(k, &G, wt, gy->data, gx->data, err);
        else if (fc_f32g_conv_sparse_fits(&G, gy->data, gy->numel, wino ? 0.3 : 0.4))
            st = fc_f32g_conv_dx_sparse(k, &G, wt, gy->data, gx->data, err);
        else if (wino)
            st = dx_winograd(k, &G, &wf, wt, gy->data, gx->data, err);
        else
            st = dx_general(k, &G, wt, gy->data, gx->data, err);
    }
    if (!st && (fc_f32g_gin(k, 1) || fc_f32g_gin(k, 2)))
        st = fc_f32g_conv_params(k, &G, err);
    return st;
}
