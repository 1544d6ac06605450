/* QLinearConv and ConvInteger of the int8 engines: im2col in the input's
 * own 8-bit type, then one int8 GEMM per image and group (q8_gemm.h):
 *
 *   A = W of the group [M/group, C/group * kvol]   (weights, per-row zp)
 *   B = im2col of x    [C/group * kvol, out]       (activations, one zp)
 *   C = Y of the group [M/group, out]
 *
 * Taps that fall into the padding take the input zero point, which is the
 * quantized value of 0.0: padding then contributes (x_zp - x_zp) * w = 0,
 * exactly as zero padding of the float convolution.  Geometry comes from
 * fc_window_decode, as for the float Conv. */
#include <string.h>

#include "q8_internal.h"

typedef struct conv_geom {
    fc_window w;              /* extended to 3 spatial axes */
    int64_t batch, c_in, m_out, group, cg, mg;
    size_t kvol, kdim, in_sp, out_sp;
} conv_geom;

/* Appends neutral axes so that one loop nest serves 1-D to 3-D. */
static void window_3d(fc_window *w)
{
    for (int i = w->nsp; i < FC_MAX_SPATIAL; i++) {
        w->in[i] = w->kernel[i] = w->stride[i] = w->dilation[i] = w->out[i] = 1;
        w->pad_begin[i] = w->pad_end[i] = 0;
    }
}

static fc_status conv_setup(const fc_kernel_ctx *k, const fc_tensor *x, const fc_tensor *wt,
                            const fc_tensor *y, conv_geom *g, fc_err *err)
{
    int nsp = x->rank - 2;
    if (nsp < 1 || nsp > FC_MAX_SPATIAL || wt->rank != x->rank || y->rank != x->rank)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: unexpected ranks", k->node->op_type);
    fc_status st = fc_attr_get_int(k->node, "group", 1, &g->group, err);
    if (st || (st = fc_window_decode(k->node, nsp, x->dims + 2, wt->dims + 2, false, &g->w, err)))
        return st;
    g->batch = x->dims[0];
    g->c_in = x->dims[1];
    g->m_out = wt->dims[0];
    if (g->group < 1 || g->c_in % g->group || g->m_out % g->group ||
        wt->dims[1] != g->c_in / g->group || y->dims[0] != g->batch || y->dims[1] != g->m_out)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: shapes do not fit group %lld",
                          k->node->op_type, (long long)g->group);
    for (int i = 0; i < nsp; i++)
        if (y->dims[2 + i] != g->w.out[i])
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: output dims do not match",
                              k->node->op_type);
    window_3d(&g->w);
    g->cg = g->c_in / g->group;
    g->mg = g->m_out / g->group;
    g->kvol = (size_t)(g->w.kernel[0] * g->w.kernel[1] * g->w.kernel[2]);
    g->in_sp = (size_t)(g->w.in[0] * g->w.in[1] * g->w.in[2]);
    g->out_sp = (size_t)(g->w.out[0] * g->w.out[1] * g->w.out[2]);
    g->kdim = (size_t)g->cg * g->kvol;   /* <= the weight's element count */
    if (g->kdim > FC_Q8_MAX_K)
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%s: %zu products per output exceed the int8 GEMM limit %d",
                          k->node->op_type, g->kdim, FC_Q8_MAX_K);
    return FC_OK;
}

/* im2col of channels [c0, c0 + cg) of image n into col [cg * kvol, out]. */
static void im2col(const conv_geom *g, const fc_tensor *x, int64_t n, int64_t c0, int32_t pad,
                   unsigned char *col)
{
    const fc_window *w = &g->w;
    uint8_t padv = (uint8_t)(pad & 0xff);   /* the zero point's own byte */
    const unsigned char *xs = x->data;
    size_t row = 0;
    for (int64_t c = 0; c < g->cg; c++) {
        const unsigned char *plane = xs + ((size_t)(n * g->c_in + c0 + c)) * g->in_sp;
        for (int64_t r0 = 0; r0 < w->kernel[0]; r0++)
            for (int64_t r1 = 0; r1 < w->kernel[1]; r1++)
                for (int64_t r2 = 0; r2 < w->kernel[2]; r2++, row++) {
                    unsigned char *dst = col + row * g->out_sp;
                    size_t o = 0;
                    for (int64_t o0 = 0; o0 < w->out[0]; o0++) {
                        int64_t i0 = o0 * w->stride[0] - w->pad_begin[0] + r0 * w->dilation[0];
                        for (int64_t o1 = 0; o1 < w->out[1]; o1++) {
                            int64_t i1 = o1 * w->stride[1] - w->pad_begin[1] + r1 * w->dilation[1];
                            for (int64_t o2 = 0; o2 < w->out[2]; o2++, o++) {
                                int64_t i2 = o2 * w->stride[2] - w->pad_begin[2] +
                                             r2 * w->dilation[2];
                                bool in = i0 >= 0 && i0 < w->in[0] && i1 >= 0 && i1 < w->in[1] &&
                                          i2 >= 0 && i2 < w->in[2];
                                dst[o] = in ? plane[(i0 * w->in[1] + i1) * w->in[2] + i2] : padv;
                            }
                        }
                    }
                }
    }
}

/* What differs between QLinearConv and ConvInteger. */
typedef struct conv_args {
    const fc_tensor *x, *w, *x_zp, *w_zp, *bias;
    const float *mult;           /* per output channel, or NULL: raw int32 output */
    int32_t y_zp;
    fc_dtype y_dt;
} conv_args;

static fc_status conv_run(const fc_kernel_ctx *k, const conv_args *a, fc_tensor *y,
                          fc_q8_gemm_fn gemm, fc_err *err)
{
    conv_geom g;
    fc_status st = conv_setup(k, a->x, a->w, y, &g, err);
    if (st)
        return st;
    size_t col_bytes;
    if (!fc_q8_mul3(g.kdim, g.out_sp, 1, &col_bytes))
        return fc_err_set(err, FC_ERR_LIMIT, "%s: im2col buffer overflows", k->node->op_type);
    unsigned char *col = fc_workspace_get(k->ws, 0, col_bytes);
    int32_t *wzp = fc_workspace_get(k->ws, 1, (size_t)g.m_out * sizeof *wzp);
    if (!col || !wzp)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory for im2col", k->node->op_type);
    for (int64_t m = 0; m < g.m_out; m++)
        wzp[m] = fc_q8_zp_at(a->w_zp, (size_t)m);
    int32_t x_zp = fc_q8_zp_at(a->x_zp, 0), qmin, qmax;
    fc_q8_range(a->y_dt, &qmin, &qmax);
    size_t esz = a->mult ? 1 : sizeof(int32_t);
    for (int64_t n = 0; n < g.batch; n++)
        for (int64_t grp = 0; grp < g.group; grp++) {
            int64_t m0 = grp * g.mg;
            im2col(&g, a->x, n, grp * g.cg, x_zp, col);
            fc_q8_requant rq = {
                .scale = a->mult ? a->mult + m0 : NULL, .scale_per_row = true,
                .y_zp = a->y_zp, .qmin = qmin, .qmax = qmax, .y_signed = a->y_dt == FC_DT_I8,
            };
            fc_q8_gemm_args ga = {
                .M = g.mg, .N = (int64_t)g.out_sp, .K = (int64_t)g.kdim,
                .A = (const unsigned char *)a->w->data + (size_t)m0 * g.kdim,
                .lda = (int64_t)g.kdim, .a_signed = a->w->dtype == FC_DT_I8,
                .a_zp = wzp + m0, .a_zp_per_row = true,
                .B = col, .ldb = (int64_t)g.out_sp, .b_signed = a->x->dtype == FC_DT_I8,
                .b_zp = x_zp,
                .bias = a->bias ? (const int32_t *)a->bias->data + m0 : NULL,
                .rq = a->mult ? &rq : NULL,
                .C = (unsigned char *)y->data + ((size_t)(n * g.m_out + m0)) * g.out_sp * esz,
                .ldc = (int64_t)g.out_sp,
            };
            if (g.mg > 0 && g.out_sp > 0)
                gemm(&ga);
        }
    return FC_OK;
}

static bool is_q8(const fc_tensor *t) { return t->dtype == FC_DT_U8 || t->dtype == FC_DT_I8; }

fc_status fc_q8_qlinearconv(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    fc_status st = fc_q8_require(k, 8, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *w = k->in[3], *ws = k->in[4];
    fc_tensor *y = k->out[0];
    if (!is_q8(x) || !is_q8(w) || !is_q8(y))
        return fc_q8_unsupported(k, !is_q8(x) ? x->dtype : !is_q8(w) ? w->dtype : y->dtype, err);
    int64_t m_out = w->dims[0];
    float *mult = fc_workspace_get(k->ws, 2, (size_t)(m_out > 0 ? m_out : 1) * sizeof *mult);
    if (!mult)
        return fc_err_set(err, FC_ERR_NOMEM, "QLinearConv: out of memory");
    float x_scale = fc_q8_scale_at(k->in[1], 0), y_scale = fc_q8_scale_at(k->in[6], 0);
    /* (x_scale * w_scale[m]) / y_scale in float32, in ONNX Runtime's order. */
    for (int64_t m = 0; m < m_out; m++)
        mult[m] = (x_scale * fc_q8_scale_at(ws, (size_t)m)) / y_scale;
    conv_args a = {
        .x = x, .w = w, .x_zp = k->in[2], .w_zp = k->in[5], .bias = fc_q8_in(k, 8),
        .mult = mult, .y_zp = fc_q8_zp_at(k->in[7], 0), .y_dt = y->dtype,
    };
    return conv_run(k, &a, y, gemm, err);
}

fc_status fc_q8_convinteger(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    fc_status st = fc_q8_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *w = k->in[1];
    fc_tensor *y = k->out[0];
    if (!is_q8(x) || !is_q8(w) || y->dtype != FC_DT_I32)
        return fc_q8_unsupported(k, !is_q8(x) ? x->dtype : w->dtype, err);
    conv_args a = {
        .x = x, .w = w, .x_zp = fc_q8_in(k, 2), .w_zp = fc_q8_in(k, 3), .bias = NULL,
        .mult = NULL, .y_zp = 0, .y_dt = FC_DT_I32,
    };
    return conv_run(k, &a, y, gemm, err);
}
