/* Backward of the f32-ref matrix kernels: Gemm, MatMul and Conv.  Every
 * input gradient is a sum of products, kept in double (fc_ref_acc_*) and
 * rounded once into gin; the loops mirror the forward ones, each forward
 * multiply-add a*b -> y becoming gy*b -> da and gy*a -> db. */
#include "ref_internal.h"

static fc_status f32_inputs(const fc_grad_ctx *k, int n, fc_err *err)
{
    for (int i = 0; i < n; i++) {
        const fc_tensor *t = fc_ref_fwd_in(k, i);
        if (t && t->dtype != FC_DT_F32)
            return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no gradient for dtype %s in f32-ref",
                              k->node->op_type, fc_dtype_name(t->dtype));
    }
    return FC_OK;
}

/* True when no input of the first n wants a gradient. */
static bool nothing_wanted(const fc_grad_ctx *k, int n)
{
    for (int i = 0; i < n; i++)
        if (fc_ref_gin(k, i))
            return false;
    return true;
}

/* Y = alpha op(A) op(B) + beta C gives, with op(A) [M,K], op(B) [K,N]:
 *   d op(A)[i,p] = alpha sum_j gY[i,j] op(B)[p,j]
 *   d op(B)[p,j] = alpha sum_i op(A)[i,p] gY[i,j]
 *   dC          = beta gY summed over the axes C was broadcast along.
 * Transposition only changes where op(X)[r,c] lives in X. */
fc_status fc_ref_gemm_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    const fc_tensor *gyt = fc_ref_gout(k, 0);
    if (st || !gyt || nothing_wanted(k, 3))
        return st;
    if ((st = f32_inputs(k, 3, err)))
        return st;
    int64_t trans_a, trans_b;
    float alpha, beta;
    if ((st = fc_attr_get_int(k->node, "transA", 0, &trans_a, err)) ||
        (st = fc_attr_get_int(k->node, "transB", 0, &trans_b, err)) ||
        (st = fc_attr_get_float(k->node, "alpha", 1.0f, &alpha, err)) ||
        (st = fc_attr_get_float(k->node, "beta", 1.0f, &beta, err)))
        return st;
    const fc_tensor *a = fc_ref_fwd_in(k, 0), *b = fc_ref_fwd_in(k, 1), *c = fc_ref_fwd_in(k, 2);
    const fc_tensor *y = k->out[0];
    if (!a || !b || a->rank != 2 || b->rank != 2 || y->rank != 2 || (c && c->rank > 2))
        return fc_err_set(err, FC_ERR_INTERNAL, "Gemm: unexpected ranks");
    size_t m = (size_t)(trans_a ? a->dims[1] : a->dims[0]);
    size_t kk = (size_t)(trans_a ? a->dims[0] : a->dims[1]);
    size_t n = (size_t)(trans_b ? b->dims[0] : b->dims[1]);
    if ((size_t)y->dims[0] != m || (size_t)y->dims[1] != n)
        return fc_err_set(err, FC_ERR_INTERNAL, "Gemm: output shape does not match A and B");
    double *acc[3];
    if ((st = fc_ref_acc_alloc(k, 3, acc, err)))
        return st;
    const float *as = a->data, *bs = b->data, *gy = gyt->data;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double g = (double)alpha * gy[i * n + j];
            for (size_t p = 0; p < kk; p++) {
                size_t ai = trans_a ? p * m + i : i * kk + p;
                size_t bi = trans_b ? j * kk + p : p * n + j;
                if (acc[0])
                    acc[0][ai] += g * bs[bi];
                if (acc[1])
                    acc[1][bi] += g * as[ai];
            }
        }
    if (acc[2]) {
        size_t s[2];
        fc_ref_bcast_strides(c, 2, y->dims, s);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                acc[2][i * s[0] + j * s[1]] += (double)beta * gy[i * n + j];
    }
    fc_ref_acc_flush(k, 3, acc);
    return FC_OK;
}

/* numpy matmul, batched: for each broadcast batch index, with A's block
 * [M,K] and B's block [K,N] (1-D operands promoted as in the forward):
 *   dA[i,p] += sum_j gY[i,j] B[p,j],   dB[p,j] += sum_i A[i,p] gY[i,j].
 * A batch axis along which an operand was broadcast maps every batch
 * index to the same block, so its gradient sums over that axis. */
fc_status fc_ref_matmul_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    const fc_tensor *gyt = fc_ref_gout(k, 0);
    if (st || !gyt || nothing_wanted(k, 2))
        return st;
    if ((st = f32_inputs(k, 2, err)))
        return st;
    const fc_tensor *a = fc_ref_fwd_in(k, 0), *b = fc_ref_fwd_in(k, 1), *y = k->out[0];
    if (!a || !b || a->rank < 1 || b->rank < 1)
        return fc_err_set(err, FC_ERR_INTERNAL, "MatMul: missing or scalar operand");
    size_t m = a->rank == 1 ? 1 : (size_t)a->dims[a->rank - 2];
    size_t kk = (size_t)a->dims[a->rank - 1];
    size_t n = b->rank == 1 ? 1 : (size_t)b->dims[b->rank - 1];
    if ((size_t)b->dims[b->rank == 1 ? 0 : b->rank - 2] != kk)
        return fc_err_set(err, FC_ERR_INTERNAL, "MatMul: inner dims differ");
    int rba = a->rank > 2 ? a->rank - 2 : 0, rbb = b->rank > 2 ? b->rank - 2 : 0, rbatch;
    int64_t batch[FC_MAX_RANK];
    if ((st = fc_broadcast_shape(rba, a->dims, rbb, b->dims, &rbatch, batch, err)))
        return st;
    size_t nbatch = fc_ref_prod(batch, 0, rbatch);
    if (y->numel != nbatch * m * n)
        return fc_err_set(err, FC_ERR_INTERNAL, "MatMul: output size does not match");
    if (y->numel == 0 || kk == 0)
        return FC_OK;
    size_t sa[FC_MAX_RANK] = {0}, sb[FC_MAX_RANK] = {0};
    for (int d = rbatch - 1, ja = rba - 1, jb = rbb - 1; d >= 0; d--, ja--, jb--) {
        if (ja >= 0)
            sa[d] = a->dims[ja] == 1 ? 0 : fc_ref_prod(a->dims, ja + 1, rba) * m * kk;
        if (jb >= 0)
            sb[d] = b->dims[jb] == 1 ? 0 : fc_ref_prod(b->dims, jb + 1, rbb) * kk * n;
    }
    double *acc[2];
    if ((st = fc_ref_acc_alloc(k, 2, acc, err)))
        return st;
    const float *as = a->data, *bs = b->data, *gy = gyt->data;
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
                double g = gy[(t * m + i) * n + j];
                for (size_t p = 0; p < kk; p++) {
                    if (acc[0])
                        acc[0][oa + i * kk + p] += g * bs[ob + p * n + j];
                    if (acc[1])
                        acc[1][ob + p * n + j] += g * as[oa + i * kk + p];
                }
            }
        t++;
    } while (fc_ref_next_index(rbatch, batch, idx));
    fc_ref_acc_flush(k, 2, acc);
    return FC_OK;
}

/* Conv: every tap X[n, g*Cg + c, i] * W[m, c, r] that the forward added
 * into Y[n, m, o] sends gY[n, m, o] * W to dX, gY * X to dW, and each
 * gY[n, m, o] goes to dB[m].  Taps in the padding have no X and add
 * nothing. */
fc_status fc_ref_conv_grad(const fc_grad_ctx *k, fc_err *err)
{
    fc_status st = fc_ref_grad_check(k, err);
    const fc_tensor *gyt = fc_ref_gout(k, 0);
    if (st || !gyt || nothing_wanted(k, 3))
        return st;
    if ((st = f32_inputs(k, 3, err)))
        return st;
    const fc_tensor *x = fc_ref_fwd_in(k, 0), *wt = fc_ref_fwd_in(k, 1);
    const fc_tensor *bias = fc_ref_fwd_in(k, 2), *y = k->out[0];
    if (!x || !wt)
        return fc_err_set(err, FC_ERR_INTERNAL, "Conv: inputs missing");
    int nsp = x->rank - 2;
    if (nsp < 1 || nsp > FC_MAX_SPATIAL || wt->rank != x->rank || y->rank != x->rank)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "Conv: rank %d input (1 to 3 spatial axes)",
                          x->rank);
    int64_t group;
    if ((st = fc_attr_get_int(k->node, "group", 1, &group, err)))
        return st;
    fc_window w;
    if ((st = fc_window_decode(k->node, nsp, x->dims + 2, wt->dims + 2, false, &w, err)))
        return st;
    fc_ref_window_3d(&w);
    int64_t batch = x->dims[0], c_in = x->dims[1], m_out = wt->dims[0];
    if (group < 1 || c_in % group || m_out % group || wt->dims[1] != c_in / group ||
        y->dims[0] != batch || y->dims[1] != m_out || (bias && bias->numel != (size_t)m_out))
        return fc_err_set(err, FC_ERR_INTERNAL, "Conv: shapes do not fit group %lld",
                          (long long)group);
    for (int i = 0; i < nsp; i++)
        if (y->dims[2 + i] != w.out[i])
            return fc_err_set(err, FC_ERR_INTERNAL, "Conv: output spatial dims do not match");
    double *acc[3];
    if ((st = fc_ref_acc_alloc(k, 3, acc, err)))
        return st;
    int64_t cg = c_in / group, mg = m_out / group;
    int64_t in_vol = w.in[0] * w.in[1] * w.in[2];
    int64_t k_vol = w.kernel[0] * w.kernel[1] * w.kernel[2];
    const float *xs = x->data, *ws = wt->data, *gy = gyt->data;
    size_t yi = 0;
    for (int64_t n = 0; n < batch; n++)
        for (int64_t m = 0; m < m_out; m++)
            for (int64_t o0 = 0; o0 < w.out[0]; o0++)
                for (int64_t o1 = 0; o1 < w.out[1]; o1++)
                    for (int64_t o2 = 0; o2 < w.out[2]; o2++) {
                        double g = gy[yi++];
                        if (acc[2])
                            acc[2][m] += g;
                        for (int64_t c = 0; c < cg; c++) {
                            int64_t xc = (n * c_in + (m / mg) * cg + c) * in_vol;
                            int64_t wc = (m * cg + c) * k_vol;
                            for (int64_t r0 = 0; r0 < w.kernel[0]; r0++) {
                                int64_t i0 = o0 * w.stride[0] - w.pad_begin[0] + r0 * w.dilation[0];
                                if (i0 < 0 || i0 >= w.in[0])
                                    continue;
                                for (int64_t r1 = 0; r1 < w.kernel[1]; r1++) {
                                    int64_t i1 = o1 * w.stride[1] - w.pad_begin[1] +
                                                 r1 * w.dilation[1];
                                    if (i1 < 0 || i1 >= w.in[1])
                                        continue;
                                    for (int64_t r2 = 0; r2 < w.kernel[2]; r2++) {
                                        int64_t i2 = o2 * w.stride[2] - w.pad_begin[2] +
                                                     r2 * w.dilation[2];
                                        if (i2 < 0 || i2 >= w.in[2])
                                            continue;
                                        int64_t xi = xc + (i0 * w.in[1] + i1) * w.in[2] + i2;
                                        int64_t wi =
                                            wc + (r0 * w.kernel[1] + r1) * w.kernel[2] + r2;
                                        if (acc[0])
                                            acc[0][xi] += g * ws[wi];
                                        if (acc[1])
                                            acc[1][wi] += g * xs[xi];
                                    }
                                }
                            }
                        }
                    }
    fc_ref_acc_flush(k, 3, acc);
    return FC_OK;
}
