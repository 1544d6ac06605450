/* QLinearMatMul, MatMulInteger and com.microsoft.QGemm of the int8
 * engines.  Each 2-D product Y[M,N] = X[M,K] W[K,N] goes through the int8
 * GEMM of q8_gemm.h transposed, Y^T = W^T X^T, because the contract puts
 * the per-row zero points and multipliers on A: here the per-column ones
 * of W (per output channel).  Transposes are skipped where the memory
 * already has the needed layout (W stored [N,K] as Gemm's transB=1, a
 * single row of X).  When X has per-row parameters (ONNX allows it for
 * QLinearMatMul and MatMulInteger) each row is its own matrix-vector
 * product, so its zero point is the contract's single B zero point. */
#include <string.h>

#include "../../core/fc_alloc.h"
#include "q8_internal.h"

typedef struct mm2d {
    int64_t M, N, K;
    const unsigned char *x; bool x_trans; fc_dtype x_dt;   /* [M,K], or [K,M] if x_trans */
    const unsigned char *w; bool w_trans; fc_dtype w_dt;   /* [K,N], or [N,K] if w_trans */
    const fc_tensor *x_zp, *w_zp;   /* NULL, one value, or M (x) / N (w) values */
    const int32_t *bias;            /* N values or NULL */
    /* Requantization (y_dt U8/I8), else raw int32 (y_dt I32), with the
     * multipliers ((alpha * x_scale[m]) * w_scale[n]) / y_scale in float32
     * in that order, as ONNX Runtime computes them (alpha = 1 is exact, so
     * QLinearMatMul's (x_scale * w_scale) / y_scale is the same number). */
    const fc_tensor *x_scale, *w_scale;
    float alpha, y_scale;
    int32_t y_zp;
    fc_dtype y_dt;
    unsigned char *y;               /* [M,N] row-major */
} mm2d;

/* Scratch of one product: W^T, X^T, Y^T, and N zero points + N floats. */
static fc_status mm_scratch(const fc_kernel_ctx *k, const mm2d *p, unsigned char **wt,
                            unsigned char **xt, unsigned char **yt, int32_t **wzp,
                            float **mult, fc_err *err)
{
    size_t ysz = p->y_dt == FC_DT_I32 ? 4 : 1, nk, km, nm, par;
    if (!fc_q8_mul3((size_t)p->N, (size_t)p->K, 1, &nk) ||
        !fc_q8_mul3((size_t)p->K, (size_t)p->M, 1, &km) ||
        !fc_q8_mul3((size_t)p->N, (size_t)p->M, ysz, &nm) ||
        !fc_q8_mul3((size_t)p->N, 2, 4, &par))
        return fc_err_set(err, FC_ERR_LIMIT, "%s: product too large", k->node->op_type);
    *wt = p->w_trans ? NULL : fc_workspace_get(k->ws, 0, nk);
    *xt = fc_workspace_get(k->ws, 1, km);
    *yt = fc_workspace_get(k->ws, 2, nm);
    unsigned char *pp = fc_workspace_get(k->ws, 3, par);
    if ((!p->w_trans && !*wt) || !*xt || !*yt || !pp)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", k->node->op_type);
    *wzp = (int32_t *)(void *)pp;
    *mult = (float *)(void *)(pp + (size_t)p->N * 4);
    return FC_OK;
}

/* The N requantization multipliers of row m of X. */
static void multipliers(const mm2d *p, int64_t m, float *mult)
{
    float xs = p->alpha * fc_q8_scale_at(p->x_scale, (size_t)m);
    for (int64_t n = 0; n < p->N; n++)
        mult[n] = (xs * fc_q8_scale_at(p->w_scale, (size_t)n)) / p->y_scale;
}

static fc_status mm_run(const fc_kernel_ctx *k, const mm2d *p, fc_q8_gemm_fn gemm, fc_err *err)
{
    if (p->M == 0 || p->N == 0)
        return FC_OK;
    if (p->K > FC_Q8_MAX_K)
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%s: inner dimension %lld exceeds the int8 GEMM limit %d",
                          k->node->op_type, (long long)p->K, FC_Q8_MAX_K);
    unsigned char *wt = NULL, *xt = NULL, *yt = NULL;
    int32_t *wzp = NULL;
    float *mult = NULL;
    fc_status st = mm_scratch(k, p, &wt, &xt, &yt, &wzp, &mult, err);
    if (st)
        return st;
    const unsigned char *a = p->w;
    if (!p->w_trans) {
        fc_q8_transpose(p->w, wt, (size_t)p->K, (size_t)p->N, 1);
        a = wt;
    }
    for (int64_t n = 0; n < p->N; n++)
        wzp[n] = fc_q8_zp_at(p->w_zp, (size_t)n);
    int32_t qmin, qmax;
    fc_q8_range(p->y_dt, &qmin, &qmax);
    bool raw = p->y_dt == FC_DT_I32;
    size_t ysz = raw ? 4 : 1;
    fc_q8_requant rq = {
        .scale = mult, .scale_per_row = true, .y_zp = p->y_zp, .qmin = qmin, .qmax = qmax,
        .y_signed = p->y_dt == FC_DT_I8,
    };
    fc_q8_gemm_args g = {
        .M = p->N, .K = p->K, .A = a, .lda = p->K, .a_signed = p->w_dt == FC_DT_I8,
        .a_zp = wzp, .a_zp_per_row = true, .b_signed = p->x_dt == FC_DT_I8,
        .bias = p->bias, .rq = raw ? NULL : &rq,
    };
    bool x_per_row = p->x_zp && p->x_zp->numel > 1;
    x_per_row = x_per_row || (!raw && p->x_scale->numel > 1);
    if (!raw && !x_per_row)
        multipliers(p, 0, mult);
    if (x_per_row) {
        /* Row m of Y = W^T times column m of X^T (row m of X). */
        for (int64_t m = 0; m < p->M; m++) {
            if (!raw)
                multipliers(p, m, mult);
            g.N = 1;
            g.B = p->x_trans ? p->x + m : p->x + (size_t)m * (size_t)p->K;
            g.ldb = p->x_trans ? p->M : 1;
            g.b_zp = fc_q8_zp_at(p->x_zp, (size_t)m);
            g.C = p->y + (size_t)m * (size_t)p->N * ysz;
            g.ldc = 1;
            gemm(&g);
        }
        return FC_OK;
    }
    g.N = p->M;
    g.b_zp = fc_q8_zp_at(p->x_zp, 0);
    if (p->M == 1) {
        /* X^T and Y^T of a single row are the row itself. */
        g.B = p->x;
        g.ldb = 1;
        g.C = p->y;
        g.ldc = 1;
        gemm(&g);
        return FC_OK;
    }
    if (p->x_trans) {
        g.B = p->x;
    } else {
        fc_q8_transpose(p->x, xt, (size_t)p->M, (size_t)p->K, 1);
        g.B = xt;
    }
    g.ldb = p->M;
    g.C = yt;
    g.ldc = p->M;
    gemm(&g);
    fc_q8_transpose(yt, p->y, (size_t)p->N, (size_t)p->M, ysz);
    return FC_OK;
}

static bool is_q8(fc_dtype dt) { return dt == FC_DT_U8 || dt == FC_DT_I8; }

/* numpy matmul over broadcast batch axes (as the float MatMul): one 2-D
 * product per batch index.  p carries everything but the data pointers. */
static fc_status batched(const fc_kernel_ctx *k, const fc_tensor *a, const fc_tensor *b,
                         fc_tensor *y, mm2d *p, fc_q8_gemm_fn gemm, fc_err *err)
{
    if (a->rank < 1 || b->rank < 1)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: scalar operand", k->node->op_type);
    p->M = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    p->K = a->dims[a->rank - 1];
    p->N = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    int rba = a->rank > 2 ? a->rank - 2 : 0, rbb = b->rank > 2 ? b->rank - 2 : 0, rb;
    int64_t bd[FC_MAX_RANK];
    fc_status st = fc_broadcast_shape(rba, a->dims, rbb, b->dims, &rb, bd, err);
    if (st)
        return st;
    size_t nb = 1, sa[FC_MAX_RANK] = {0}, sb[FC_MAX_RANK] = {0};
    for (int d = 0; d < rb; d++)
        nb *= (size_t)bd[d];
    size_t per_a = (size_t)(p->M * p->K), per_b = (size_t)(p->K * p->N);
    size_t per_y = (size_t)(p->M * p->N) * fc_dtype_size(y->dtype);
    if (y->numel * fc_dtype_size(y->dtype) != nb * per_y)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output size does not match",
                          k->node->op_type);
    /* Element strides of each operand's batch axes, 0 where broadcast. */
    for (int d = rb - 1, ja = rba - 1, jb = rbb - 1; d >= 0; d--, ja--, jb--) {
        if (ja >= 0 && a->dims[ja] != 1) {
            size_t s = per_a;
            for (int q = ja + 1; q < rba; q++)
                s *= (size_t)a->dims[q];
            sa[d] = s;
        }
        if (jb >= 0 && b->dims[jb] != 1) {
            size_t s = per_b;
            for (int q = jb + 1; q < rbb; q++)
                s *= (size_t)b->dims[q];
            sb[d] = s;
        }
    }
    int64_t idx[FC_MAX_RANK] = {0};
    for (size_t t = 0; t < nb; t++) {
        size_t oa = 0, ob = 0;
        for (int d = 0; d < rb; d++) {
            oa += (size_t)idx[d] * sa[d];
            ob += (size_t)idx[d] * sb[d];
        }
        p->x = (const unsigned char *)a->data + oa;
        p->w = (const unsigned char *)b->data + ob;
        p->y = (unsigned char *)y->data + t * per_y;
        if ((st = mm_run(k, p, gemm, err)))
            return st;
        for (int d = rb - 1; d >= 0 && ++idx[d] >= bd[d]; d--)
            idx[d] = 0;
    }
    return FC_OK;
}

fc_status fc_q8_matmulinteger(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    fc_status st = fc_q8_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *a = k->in[0], *b = k->in[1];
    fc_tensor *y = k->out[0];
    if (!is_q8(a->dtype) || !is_q8(b->dtype) || y->dtype != FC_DT_I32)
        return fc_q8_unsupported(k, !is_q8(a->dtype) ? a->dtype : b->dtype, err);
    mm2d p = {
        .x_dt = a->dtype, .w_dt = b->dtype, .x_zp = fc_q8_in(k, 2), .w_zp = fc_q8_in(k, 3),
        .y_dt = FC_DT_I32,
    };
    return batched(k, a, b, y, &p, gemm, err);
}

fc_status fc_q8_qlinearmatmul(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    fc_status st = fc_q8_require(k, 8, 1, err);
    if (st)
        return st;
    const fc_tensor *a = k->in[0], *b = k->in[3];
    fc_tensor *y = k->out[0];
    if (!is_q8(a->dtype) || !is_q8(b->dtype) || !is_q8(y->dtype))
        return fc_q8_unsupported(k, !is_q8(a->dtype) ? a->dtype : b->dtype, err);
    mm2d p = {
        .x_dt = a->dtype, .w_dt = b->dtype, .x_zp = k->in[2], .w_zp = k->in[5],
        .x_scale = k->in[1], .w_scale = k->in[4], .alpha = 1.0f,
        .y_scale = fc_q8_scale_at(k->in[6], 0), .y_zp = fc_q8_zp_at(k->in[7], 0),
        .y_dt = y->dtype,
    };
    return batched(k, a, b, y, &p, gemm, err);
}

/* com.microsoft.QGemm.  C (int32, scale alpha * a_scale * b_scale) joins
 * the accumulator before requantization.  A C of N values (one per output
 * column) is the GEMM's own bias; any other broadcast of C, and the float
 * output (no y_zero_point: y = float32(acc) * (alpha * a_scale) *
 * b_scale[n], divided by y_scale when given, as ONNX Runtime does), go
 * through the raw int32 product and are finished here. */
fc_status fc_q8_qgemm(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    fc_status st = fc_q8_require(k, 6, 1, err);
    if (st)
        return st;
    const fc_tensor *a = k->in[0], *b = k->in[3], *c = fc_q8_in(k, 6);
    const fc_tensor *ys = fc_q8_in(k, 7), *yzp = fc_q8_in(k, 8);
    fc_tensor *y = k->out[0];
    int64_t ta, tb;
    float alpha;
    if ((st = fc_attr_get_int(k->node, "transA", 0, &ta, err)) ||
        (st = fc_attr_get_int(k->node, "transB", 0, &tb, err)) ||
        (st = fc_attr_get_float(k->node, "alpha", 1.0f, &alpha, err)))
        return st;
    if (!is_q8(a->dtype) || !is_q8(b->dtype) || a->rank != 2 || b->rank != 2)
        return fc_q8_unsupported(k, !is_q8(a->dtype) ? a->dtype : b->dtype, err);
    bool quantized = yzp != NULL;
    if ((quantized && (!ys || !is_q8(y->dtype))) || (!quantized && y->dtype != FC_DT_F32))
        return fc_err_set(err, FC_ERR_INTERNAL, "QGemm: output type does not match y_zero_point");
    mm2d p = {
        .M = ta ? a->dims[1] : a->dims[0], .K = ta ? a->dims[0] : a->dims[1],
        .N = tb ? b->dims[0] : b->dims[1],
        .x = a->data, .x_trans = ta != 0, .x_dt = a->dtype,
        .w = b->data, .w_trans = tb != 0, .w_dt = b->dtype,
        .x_zp = k->in[2], .w_zp = k->in[5], .x_scale = k->in[1], .w_scale = k->in[4],
        .alpha = alpha, .y_scale = ys ? fc_q8_scale_at(ys, 0) : 1.0f,
        .y_zp = quantized ? fc_q8_zp_at(yzp, 0) : 0,
    };
    if ((size_t)(p.M * p.N) != y->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "QGemm: output shape does not match");
    /* C as one value per output column: [N] or [1, N]. */
    bool per_col = c && c->numel == (size_t)p.N &&
                   (c->rank == 1 || (c->rank == 2 && c->dims[0] == 1));
    if (quantized && (!c || per_col)) {
        p.bias = c ? c->data : NULL;
        p.y_dt = y->dtype;
        p.y = y->data;
        return mm_run(k, &p, gemm, err);
    }
    size_t count = y->numel ? y->numel : 1;
    int32_t *acc = fc_malloc(count * sizeof *acc);   /* rare path: not the workspace's */
    if (!acc)
        return fc_err_set(err, FC_ERR_NOMEM, "QGemm: out of memory");
    p.y_dt = FC_DT_I32;
    p.y = (unsigned char *)acc;
    if ((st = mm_run(k, &p, gemm, err))) {
        fc_free(acc);
        return st;
    }
    int64_t cr = c && c->rank == 2 ? c->dims[0] : 1, cc = c && c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    int32_t qmin, qmax;
    fc_q8_range(y->dtype, &qmin, &qmax);
    float as = alpha * fc_q8_scale_at(k->in[1], 0);
    for (int64_t j = 0; j < p.N; j++) {
        float s = as * fc_q8_scale_at(k->in[4], (size_t)j);
        if (ys)
            s /= p.y_scale;
        for (int64_t i = 0; i < p.M; i++) {
            size_t at = (size_t)(i * p.N + j);
            uint32_t v = (uint32_t)acc[at];
            if (c)   /* wrapping int32 add, as the accumulator's */
                v += (uint32_t)((const int32_t *)c->data)[(cr > 1 ? i : 0) * cc + (cc > 1 ? j : 0)];
            int32_t sum;
            memcpy(&sum, &v, sizeof sum);
            if (quantized)
                fc_q8_store(y->data, y->dtype, at, fc_q8_requantize(sum, s, p.y_zp, qmin, qmax));
            else
                ((float *)y->data)[at] = (float)sum * s;
        }
    }
    fc_free(acc);
    return FC_OK;
}
