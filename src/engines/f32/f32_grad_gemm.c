/* Backward of Gemm and MatMul for the f32 engine: every gradient is one
 * more matrix product, done by OpenBLAS with beta = 1 so that it adds into
 * the gradient tensor (which may already hold other readers' sums).
 *
 * Gemm, Y = alpha op(A) op(B) + beta C:
 *   d op(A) = alpha dY op(B)^T      d op(B) = alpha op(A)^T dY
 * and a transposed operand takes the transpose of that; C's gradient is
 * beta dY summed over the axes C is broadcast along.
 * MatMul, Y[t] = A[t] B[t] per batch t (batch axes broadcast):
 *   dA[t] += dY[t] B[t]^T           dB[t] += A[t]^T dY[t]
 * and a broadcast operand's matrix is visited once per batch it serves, so
 * the sum over the broadcast comes from beta = 1 too.  When B has no batch
 * axes, all of A's matrices are one [batch*M, K] matrix, as in the forward
 * pass, and each gradient is a single product. */
#include <cblas.h>
#include <string.h>

#include "f32_grad.h"

static bool any_zero(int64_t a, int64_t b, int64_t c) { return a == 0 || b == 0 || c == 0; }

/* dC += beta * dY reduced to C's shape (rank 0..2, each dim 1 or full). */
static void gemm_bias_grad(const fc_tensor *c, fc_tensor *gc, const float *g, int64_t M,
                           int64_t N, float beta)
{
    const int64_t cm = c->rank == 2 ? c->dims[0] : 1;
    const int64_t cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    float *d = gc->data;
    if (cn == N) {
        for (int64_t i = 0; i < M; i++) {
            float *dr = d + (cm == 1 ? 0 : (size_t)i * (size_t)N);
            const float *gr = g + (size_t)i * (size_t)N;
            for (int64_t j = 0; j < N; j++)
                dr[j] += beta * gr[j];
        }
        return;
    }
    for (int64_t i = 0; i < M; i++) {   /* C has one column: sum each row */
        double s = 0.0;
        const float *gr = g + (size_t)i * (size_t)N;
        for (int64_t j = 0; j < N; j++)
            s += gr[j];
        d[cm == 1 ? 0 : i] += beta * (float)s;
    }
}

fc_status fc_f32_gemm_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    if (st || !gy)
        return st;
    fc_tensor *ga = fc_f32g_gin(k, 0), *gb = fc_f32g_gin(k, 1), *gc = fc_f32g_gin(k, 2);
    for (int i = 0; i < 3; i++)
        if ((st = fc_f32g_check_gin(k, i, err)))
            return st;
    const fc_tensor *a = fc_f32g_in(k, 0), *b = fc_f32g_in(k, 1), *c = fc_f32g_in(k, 2);
    if (!a || !b || a->rank != 2 || b->rank != 2 || gy->rank != 2)
        return fc_err_set(err, FC_ERR_INTERNAL, "Gemm: unexpected ranks");
    if (a->dtype != FC_DT_F32 || b->dtype != FC_DT_F32)
        return fc_f32g_unsupported(k, "non-float32 operands", err);
    int64_t ta, tb;
    float alpha, beta;
    if ((st = fc_attr_get_int(k->node, "transA", 0, &ta, err)) ||
        (st = fc_attr_get_int(k->node, "transB", 0, &tb, err)) ||
        (st = fc_attr_get_float(k->node, "alpha", 1.0f, &alpha, err)) ||
        (st = fc_attr_get_float(k->node, "beta", 1.0f, &beta, err)))
        return st;
    const int M = (int)a->dims[ta ? 1 : 0], K = (int)a->dims[ta ? 0 : 1];
    const int N = (int)b->dims[tb ? 0 : 1];
    if (gy->dims[0] != M || gy->dims[1] != N || b->dims[tb ? 1 : 0] != K)
        return fc_err_set(err, FC_ERR_INTERNAL, "Gemm: shapes do not match the output");
    const float *g = gy->data, *ad = a->data, *bd = b->data;
    const int lda = (int)a->dims[1], ldb = (int)b->dims[1];
    if (ga && !any_zero(M, N, K)) {
        if (!ta)   /* dA [M, K] = alpha dY op(B)^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasNoTrans : CblasTrans, M, K, N,
                        alpha, g, N, bd, ldb, 1.0f, ga->data, K);
        else       /* dA [K, M] = alpha op(B) dY^T */
            cblas_sgemm(CblasRowMajor, tb ? CblasTrans : CblasNoTrans, CblasTrans, K, M, N,
                        alpha, bd, ldb, g, N, 1.0f, ga->data, M);
    }
    if (gb && !any_zero(M, N, K)) {
        if (!tb)   /* dB [K, N] = alpha op(A)^T dY */
            cblas_sgemm(CblasRowMajor, ta ? CblasNoTrans : CblasTrans, CblasNoTrans, K, N, M,
                        alpha, ad, lda, g, N, 1.0f, gb->data, N);
        else       /* dB [N, K] = alpha dY^T op(A) */
            cblas_sgemm(CblasRowMajor, CblasTrans, ta ? CblasTrans : CblasNoTrans, N, K, M,
                        alpha, g, N, ad, lda, 1.0f, gb->data, K);
    }
    /* The forward ignores C when beta is 0 or C is empty. */
    if (gc && c && beta != 0.0f && c->numel > 0 && M > 0 && N > 0)
        gemm_bias_grad(c, gc, g, M, N, beta);
    return FC_OK;
}

fc_status fc_f32_matmul_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    if (st || !gy)
        return st;
    fc_tensor *ga = fc_f32g_gin(k, 0), *gb = fc_f32g_gin(k, 1);
    if (!ga && !gb)
        return FC_OK;
    if ((st = fc_f32g_check_gin(k, 0, err)) || (st = fc_f32g_check_gin(k, 1, err)))
        return st;
    const fc_tensor *a = fc_f32g_in(k, 0), *b = fc_f32g_in(k, 1);
    if (!a || !b || a->rank < 1 || b->rank < 1)
        return fc_err_set(err, FC_ERR_INTERNAL, "MatMul of a scalar");
    if (a->dtype != FC_DT_F32 || b->dtype != FC_DT_F32)
        return fc_f32g_unsupported(k, "non-float32 operands", err);
    const int64_t M = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    const int64_t K = a->dims[a->rank - 1];
    const int64_t N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if ((b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0]) != K)
        return fc_err_set(err, FC_ERR_INTERNAL, "MatMul: inner dimensions differ");
    if (gy->numel == 0 || K == 0)
        return FC_OK;
    const float *g = gy->data, *ad = a->data, *bd = b->data;
    const int ra = a->rank > 2 ? a->rank - 2 : 0, rbb = b->rank > 2 ? b->rank - 2 : 0;
    const int rb = ra > rbb ? ra : rbb;
    if (rbb == 0) {
        const size_t rows = a->numel / (size_t)K;
        if (rows * (size_t)N != gy->numel)
            return fc_err_set(err, FC_ERR_INTERNAL, "MatMul: output size mismatch");
        if (ga)   /* dA [rows, K] += dY [rows, N] B^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)K, (int)N, 1.0f,
                        g, (int)N, bd, (int)N, 1.0f, ga->data, (int)K);
        if (gb)   /* dB [K, N] += A^T [K, rows] dY */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)rows, 1.0f,
                        ad, (int)K, g, (int)N, 1.0f, gb->data, (int)N);
        return FC_OK;
    }
    /* Batch strides in matrix units, 0 where broadcast (as the forward). */
    int64_t bdims[FC_MAX_RANK], sa[FC_MAX_RANK], sb[FC_MAX_RANK], idx[FC_MAX_RANK];
    int64_t acc_a = 1, acc_b = 1;
    for (int i = rb - 1; i >= 0; i--) {
        const int ia = i - (rb - ra), ib = i - (rb - rbb);
        const int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        bdims[i] = da > db ? da : db;
        sa[i] = da == 1 ? 0 : acc_a;
        sb[i] = db == 1 ? 0 : acc_b;
        acc_a *= da;
        acc_b *= db;
        idx[i] = 0;
    }
    const size_t mat_a = (size_t)(M * K), mat_b = (size_t)(K * N), mat_y = (size_t)(M * N);
    const size_t batch = gy->numel / mat_y;
    for (size_t t = 0; t < batch; t++) {
        size_t oa = 0, ob = 0;
        for (int i = 0; i < rb; i++) {
            oa += (size_t)(idx[i] * sa[i]);
            ob += (size_t)(idx[i] * sb[i]);
        }
        const float *gt = g + t * mat_y;
        if (ga)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)K, (int)N, 1.0f,
                        gt, (int)N, bd + ob * mat_b, (int)N, 1.0f,
                        (float *)ga->data + oa * mat_a, (int)K);
        if (gb)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)M, 1.0f,
                        ad + oa * mat_a, (int)K, gt, (int)N, 1.0f,
                        (float *)gb->data + ob * mat_b, (int)N);
        for (int i = rb - 1; i >= 0; i--) {
            if (++idx[i] < bdims[i])
                break;
            idx[i] = 0;
        }
    }
    return FC_OK;
}
