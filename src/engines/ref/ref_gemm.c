/* Matrix products of f32-ref: Gemm and MatMul, F32 only, double
 * accumulation, plain triple loops. */
#include <string.h>

#include "../../onnx/fc_opattr.h"
#include "ref_internal.h"

static fc_status f32_only(const fc_kernel_ctx *k, int n, fc_err *err)
{
    for (int i = 0; i < n; i++) {
        const fc_tensor *t = fc_ref_in(k, i);
        if (t && t->dtype != FC_DT_F32)
            return fc_ref_unsupported(k, t->dtype, err);
    }
    if (k->out[0]->dtype != FC_DT_F32)
        return fc_ref_unsupported(k, k->out[0]->dtype, err);
    return FC_OK;
}

/* Y = alpha * op(A) op(B) + beta * C, op = transpose when transA/transB.
 * A is [M,K] ([K,M] transposed), B is [K,N] ([N,K] transposed); the optional
 * C broadcasts to [M,N] numpy-style (scalar, [N], [1,N], [M,1], [M,N]). */
fc_status fc_ref_gemm(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 2, 1, err);
    if (st || (st = f32_only(k, 3, err)))
        return st;
    int64_t trans_a, trans_b;
    float alpha, beta;
    if ((st = fc_attr_get_int(k->node, "transA", 0, &trans_a, err)) ||
        (st = fc_attr_get_int(k->node, "transB", 0, &trans_b, err)) ||
        (st = fc_attr_get_float(k->node, "alpha", 1.0f, &alpha, err)) ||
        (st = fc_attr_get_float(k->node, "beta", 1.0f, &beta, err)))
        return st;
    const fc_tensor *a = k->in[0], *b = k->in[1], *c = fc_ref_in(k, 2);
    fc_tensor *y = k->out[0];
    if (a->rank != 2 || b->rank != 2 || y->rank != 2 || (c && c->rank > 2))
        return fc_err_set(err, FC_ERR_INTERNAL, "Gemm: unexpected ranks");
    size_t m = (size_t)(trans_a ? a->dims[1] : a->dims[0]);
    size_t kk = (size_t)(trans_a ? a->dims[0] : a->dims[1]);
    size_t n = (size_t)(trans_b ? b->dims[0] : b->dims[1]);
    if ((size_t)y->dims[0] != m || (size_t)y->dims[1] != n)
        return fc_err_set(err, FC_ERR_INTERNAL, "Gemm: output shape does not match A and B");

    /* Strides of C over (row, column): 0 along broadcast axes. */
    size_t c_rs = 0, c_cs = 0;
    if (c) {
        size_t s[2];
        fc_ref_bcast_strides(c, 2, y->dims, s);
        c_rs = s[0];
        c_cs = s[1];
    }
    const float *as = a->data, *bs = b->data;
    float *ys = y->data;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (size_t p = 0; p < kk; p++) {
                double av = as[trans_a ? p * m + i : i * kk + p];
                double bv = bs[trans_b ? j * kk + p : p * n + j];
                acc += av * bv;
            }
            double v = (double)alpha * acc;
            if (c)
                v += (double)beta * ((const float *)c->data)[i * c_rs + j * c_cs];
            ys[i * n + j] = (float)v;
        }
    }
    return FC_OK;
}

/* numpy matmul: a 1-D A is promoted to [1,K] and a 1-D B to [K,1] (the
 * added axis is dropped from the output, which the plan already did); the
 * leading "batch" axes of A and B broadcast against each other. */
fc_status fc_ref_matmul(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_require(k, 2, 1, err);
    if (st || (st = f32_only(k, 2, err)))
        return st;
    const fc_tensor *a = k->in[0], *b = k->in[1];
    fc_tensor *y = k->out[0];
    if (a->rank < 1 || b->rank < 1)
        return fc_err_set(err, FC_ERR_INTERNAL, "MatMul: scalar operand");

    /* Promoted 2-D views: [M,K] and [K,N]. */
    size_t m = a->rank == 1 ? 1 : (size_t)a->dims[a->rank - 2];
    size_t kk = (size_t)a->dims[a->rank - 1];
    size_t n = b->rank == 1 ? 1 : (size_t)b->dims[b->rank - 1];
    size_t kb = (size_t)b->dims[b->rank == 1 ? 0 : b->rank - 2];
    if (kb != kk)
        return fc_err_set(err, FC_ERR_INTERNAL, "MatMul: inner dims %zu and %zu differ", kk, kb);

    /* Batch shape: broadcast of the axes before the last two. */
    int rba = a->rank > 2 ? a->rank - 2 : 0, rbb = b->rank > 2 ? b->rank - 2 : 0;
    int rbatch;
    int64_t batch[FC_MAX_RANK];
    if ((st = fc_broadcast_shape(rba, a->dims, rbb, b->dims, &rbatch, batch, err)))
        return st;
    size_t nbatch = fc_ref_prod(batch, 0, rbatch);
    if (y->numel != nbatch * m * n)
        return fc_err_set(err, FC_ERR_INTERNAL, "MatMul: output has %zu elements, expected %zu",
                          y->numel, nbatch * m * n);
    if (y->numel == 0)
        return FC_OK;

    /* Per-batch-axis element strides of each operand (0 when broadcast):
     * a batch step of A spans one [M,K] matrix, of B one [K,N]. */
    size_t sa[FC_MAX_RANK] = {0}, sb[FC_MAX_RANK] = {0};
    for (int d = rbatch - 1, ja = rba - 1, jb = rbb - 1; d >= 0; d--, ja--, jb--) {
        if (ja >= 0)
            sa[d] = a->dims[ja] == 1 ? 0 : fc_ref_prod(a->dims, ja + 1, rba) * m * kk;
        if (jb >= 0)
            sb[d] = b->dims[jb] == 1 ? 0 : fc_ref_prod(b->dims, jb + 1, rbb) * kk * n;
    }
    const float *as = a->data, *bs = b->data;
    float *ys = y->data;
    int64_t idx[FC_MAX_RANK] = {0};
    size_t t = 0;
    do {
        size_t oa = 0, ob = 0;
        for (int d = 0; d < rbatch; d++) {
            oa += (size_t)idx[d] * sa[d];
            ob += (size_t)idx[d] * sb[d];
        }
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double acc = 0.0;
                for (size_t p = 0; p < kk; p++)
                    acc += (double)as[oa + i * kk + p] * (double)bs[ob + p * n + j];
                ys[(t * m + i) * n + j] = (float)acc;
            }
        t++;
    } while (fc_ref_next_index(rbatch, batch, idx));
    return FC_OK;
}
