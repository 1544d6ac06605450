/* Gemm and MatMul for the f32 engine: OpenBLAS sgemm plus the fused clamp.
 *
 * Gemm:   Y [M, N] = alpha * op(A) op(B) + beta * C, op = transpose when
 *         transA/transB; A is [M, K] (or [K, M]), B [K, N] (or [N, K]).
 *         C (rank 0..2, each dim 1 or full) is broadcast into Y first and
 *         sgemm's own beta then scales it, so no separate pass is needed.
 * MatMul: numpy matmul.  1-D A is [1, K], 1-D B is [K, 1]; leading axes are
 *         batch axes broadcast against each other.  When B has no batch axes
 *         and A's batch is contiguous, all of A's matrices are stacked into
 *         one [batch*M, K] x [K, N] sgemm; otherwise one sgemm per batch. */
#include <cblas.h>
#include <string.h>

#include "f32_internal.h"

static fc_status need_f32(const fc_kernel_ctx *k, const fc_tensor *a, const fc_tensor *b,
                          fc_err *err)
{
    if (a->dtype != FC_DT_F32)
        return fc_f32_unsupported(k, a->dtype, err);
    if (b && b->dtype != FC_DT_F32)
        return fc_f32_unsupported(k, b->dtype, err);
    return FC_OK;
}

fc_status fc_f32_gemm(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *a = k->in[0], *b = k->in[1], *c = fc_f32_in(k, 2);
    fc_tensor *y = k->out[0];
    if ((st = need_f32(k, a, b, err)) || (c && (st = need_f32(k, c, NULL, err))))
        return st;
    int64_t ta, tb;
    float alpha, beta;
    if ((st = fc_attr_get_int(k->node, "transA", 0, &ta, err)) ||
        (st = fc_attr_get_int(k->node, "transB", 0, &tb, err)) ||
        (st = fc_attr_get_float(k->node, "alpha", 1.0f, &alpha, err)) ||
        (st = fc_attr_get_float(k->node, "beta", 1.0f, &beta, err)))
        return st;
    if (a->rank != 2 || b->rank != 2 || y->rank != 2)
        return fc_err_set(err, FC_ERR_INTERNAL, "Gemm: unexpected ranks");
    const int64_t M = a->dims[ta ? 1 : 0], K = a->dims[ta ? 0 : 1];
    const int64_t N = b->dims[tb ? 0 : 1];
    if (y->dims[0] != M || y->dims[1] != N || b->dims[tb ? 1 : 0] != K)
        return fc_err_set(err, FC_ERR_INTERNAL, "Gemm: shapes do not match the output");
    if (y->numel == 0)
        return FC_OK;
    float *yd = y->data;
    float beta_eff = 0.0f;
    if (c && beta != 0.0f && c->numel > 0) {
        /* Broadcast C into Y: C right-aligned against [M, N]. */
        const float *cd = c->data;
        int64_t cm = c->rank == 2 ? c->dims[0] : 1;
        int64_t cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        for (int64_t i = 0; i < M; i++) {
            float *row = yd + (size_t)i * (size_t)N;
            const float *crow = cd + (cm == 1 ? 0 : (size_t)i * (size_t)cn);
            if (cn == 1) {
                for (int64_t j = 0; j < N; j++)
                    row[j] = crow[0];
            } else {
                memcpy(row, crow, (size_t)N * sizeof *row);
            }
        }
        beta_eff = beta;
    }
    if (K > 0) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    (int)M, (int)N, (int)K, alpha, a->data, (int)a->dims[1], b->data,
                    (int)b->dims[1], beta_eff, yd, (int)N);
    } else if (beta_eff == 0.0f) {
        /* K == 0: A*B is all zeros; only beta*C remains. */
        memset(yd, 0, y->numel * sizeof *yd);
    } else if (beta_eff != 1.0f) {
        for (size_t i = 0; i < y->numel; i++)
            yd[i] *= beta_eff;
    }
    fc_f32_apply_act(k, yd, y->numel);
    return FC_OK;
}

fc_status fc_f32_matmul(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *a = k->in[0], *b = k->in[1];
    fc_tensor *y = k->out[0];
    if ((st = need_f32(k, a, b, err)))
        return st;
    if (a->rank < 1 || b->rank < 1)
        return fc_err_set(err, FC_ERR_INTERNAL, "MatMul of a scalar");
    const int64_t M = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    const int64_t K = a->dims[a->rank - 1];
    const int64_t N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if ((b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0]) != K)
        return fc_err_set(err, FC_ERR_INTERNAL, "MatMul: inner dimensions differ");
    float *yd = y->data;
    if (y->numel == 0)
        return FC_OK;
    if (K == 0) {   /* empty sums: Y is zero (as allocated) */
        memset(yd, 0, y->numel * sizeof *yd);
        fc_f32_apply_act(k, yd, y->numel);
        return FC_OK;
    }
    /* Batch axes: a's and b's leading axes broadcast to rb axes. */
    const int ra = a->rank > 2 ? a->rank - 2 : 0, rbb = b->rank > 2 ? b->rank - 2 : 0;
    const int rb = ra > rbb ? ra : rbb;
    const size_t mat_a = (size_t)M * (size_t)K, mat_b = (size_t)K * (size_t)N,
                 mat_y = (size_t)M * (size_t)N;
    const size_t batch = y->numel / mat_y;
    const float *ad = a->data, *bd = b->data;
    if (rbb == 0) {
        /* One sgemm: A's batch matrices stacked are a [batch*M, K] matrix. */
        size_t rows = a->numel / (size_t)K;
        if (rows * (size_t)N != y->numel)
            return fc_err_set(err, FC_ERR_INTERNAL, "MatMul: output size mismatch");
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)N, (int)K, 1.0f,
                    ad, (int)K, bd, (int)N, 0.0f, yd, (int)N);
        fc_f32_apply_act(k, yd, y->numel);
        return FC_OK;
    }
    /* Batch strides in matrix units, 0 where broadcast. */
    int64_t bdims[FC_MAX_RANK], sa[FC_MAX_RANK], sb[FC_MAX_RANK], idx[FC_MAX_RANK];
    int64_t acc_a = 1, acc_b = 1;
    for (int i = rb - 1; i >= 0; i--) {
        int ia = i - (rb - ra), ib = i - (rb - rbb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        bdims[i] = da > db ? da : db;
        sa[i] = da == 1 ? 0 : acc_a;
        sb[i] = db == 1 ? 0 : acc_b;
        acc_a *= da;
        acc_b *= db;
        idx[i] = 0;
    }
    for (size_t t = 0; t < batch; t++) {
        size_t oa = 0, ob = 0;
        for (int i = 0; i < rb; i++) {
            oa += (size_t)(idx[i] * sa[i]);
            ob += (size_t)(idx[i] * sb[i]);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                    ad + oa * mat_a, (int)K, bd + ob * mat_b, (int)N, 0.0f, yd + t * mat_y,
                    (int)N);
        for (int i = rb - 1; i >= 0; i--) {
            if (++idx[i] < bdims[i])
                break;
            idx[i] = 0;
        }
    }
    fc_f32_apply_act(k, yd, y->numel);
    return FC_OK;
}
