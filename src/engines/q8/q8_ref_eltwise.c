/* com.microsoft.QLinearAdd and QLinearConcat of the int8 engines.
 *
 * QLinearAdd computes the contrib definition
 *     C = (A_scale (A - A_zp) + B_scale (B - B_zp)) / C_scale + C_zp
 * in the float32 order of ONNX Runtime's x86 kernel, so that results are
 * bit-identical with it: with rA = A_scale / C_scale, rB = B_scale /
 * C_scale and fixed = C_zp - (rA * A_zp + rB * B_zp),
 *     general:                 c = fma(a, rA, fma(b, rB, fixed))
 *     A constant along a row:  c = fma(b, rB, fixed + a * rA)
 *     B constant along a row:  c = fma(a, rA, fixed + b * rB)
 * ("a row" = the innermost output axis longer than 1, where ONNX Runtime's
 * broadcasting hands its kernel one operand as a scalar), then rounded half
 * to even and saturated; the zero point is inside the rounded value.  In
 * `fixed` the product rA * A_zp is fused into the sum, as GCC contracts
 * that expression by default in ONNX Runtime's build.  (The peers cannot
 * tell: on resnet.qop, with its three QLinearAdds, this form, the unfused
 * one, the other fusion and the literal contrib formula all give 512 of 512
 * rows bit-exact; the kernel's own fma order is from its source.)
 *
 * QLinearConcat requantizes each input whose scale or zero point differs
 * from Y's: y = QuantizeLinear(x_scale * (x - x_zp), Y_scale, Y_zp); equal
 * parameters copy the bytes. */
#include <math.h>
#include <string.h>

#include "q8_internal.h"

static bool is_q8(fc_dtype dt) { return dt == FC_DT_U8 || dt == FC_DT_I8; }

/* Element strides of t broadcast to the output dims (0 where broadcast). */
static void bcast_strides(const fc_tensor *t, const fc_tensor *y, size_t *st)
{
    size_t s = 1;
    for (int i = y->rank - 1; i >= 0; i--) {
        int it = i - (y->rank - t->rank);
        if (it < 0 || t->dims[it] == 1) {
            st[i] = 0;
        } else {
            st[i] = s;
            s *= (size_t)t->dims[it];
        }
    }
}

fc_status fc_q8_qlinearadd(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    (void)gemm;
    fc_status st = fc_q8_require(k, 7, 1, err);
    if (st)
        return st;
    const fc_tensor *a = k->in[0], *b = k->in[3];
    fc_tensor *y = k->out[0];
    if (!is_q8(a->dtype) || b->dtype != a->dtype || y->dtype != a->dtype)
        return fc_q8_unsupported(k, a->dtype, err);
    float cs = fc_q8_scale_at(k->in[6], 0);
    float ra = fc_q8_scale_at(k->in[1], 0) / cs, rb = fc_q8_scale_at(k->in[4], 0) / cs;
    int32_t za = fc_q8_zp_at(k->in[2], 0), zb = fc_q8_zp_at(k->in[5], 0);
    int32_t zc = fc_q8_zp_at(fc_q8_in(k, 7), 0), qmin, qmax;
    fc_q8_range(y->dtype, &qmin, &qmax);
    float fixed = (float)zc - fmaf(ra, (float)za, rb * (float)zb);
    size_t sa[FC_MAX_RANK], sb[FC_MAX_RANK];
    bcast_strides(a, y, sa);
    bcast_strides(b, y, sb);
    /* The innermost axis longer than 1 decides which formula applies. */
    int inner = y->rank - 1;
    while (inner > 0 && y->dims[inner] == 1)
        inner--;
    bool a_const = y->rank == 0 || a->numel == 1 || sa[inner] == 0;
    bool b_const = !a_const && (b->numel == 1 || sb[inner] == 0);
    int64_t idx[FC_MAX_RANK] = {0};
    for (size_t i = 0; i < y->numel; i++) {
        size_t ia = 0, ib = 0;
        for (int d = 0; d < y->rank; d++) {
            ia += (size_t)idx[d] * sa[d];
            ib += (size_t)idx[d] * sb[d];
        }
        float va = (float)fc_q8_load(a, ia), vb = (float)fc_q8_load(b, ib), c;
        if (a_const)
            c = fmaf(vb, rb, fixed + va * ra);
        else if (b_const)
            c = fmaf(va, ra, fixed + vb * rb);
        else
            c = fmaf(va, ra, fmaf(vb, rb, fixed));
        fc_q8_store(y->data, y->dtype, i, fc_q8_saturate(fc_q8_round_half_even(c), 0, qmin, qmax));
        for (int d = y->rank - 1; d >= 0 && ++idx[d] >= y->dims[d]; d--)
            idx[d] = 0;
    }
    return FC_OK;
}

fc_status fc_q8_qlinearconcat(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err)
{
    (void)gemm;
    fc_status st = fc_q8_require(k, k->n_in, 1, err);
    if (st)
        return st;
    fc_tensor *y = k->out[0];
    if (!is_q8(y->dtype) || k->n_in < 5 || (k->n_in - 2) % 3 != 0)
        return fc_q8_unsupported(k, y->dtype, err);
    int64_t axis_attr;
    int axis;
    if ((st = fc_attr_get_int(k->node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, y->rank, &axis, err)))
        return st;
    float ys = fc_q8_scale_at(k->in[0], 0);
    int32_t yzp = fc_q8_zp_at(k->in[1], 0), qmin, qmax;
    fc_q8_range(y->dtype, &qmin, &qmax);
    size_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= (size_t)y->dims[d];
    for (int d = axis + 1; d < y->rank; d++)
        inner *= (size_t)y->dims[d];
    size_t y_block = (size_t)y->dims[axis] * inner, offset = 0;
    unsigned char *yd = y->data;
    for (int t = 2; t < k->n_in; t += 3) {
        const fc_tensor *x = k->in[t];
        if (x->dtype != y->dtype)
            return fc_q8_unsupported(k, x->dtype, err);
        float xs = fc_q8_scale_at(k->in[t + 1], 0);
        int32_t xzp = fc_q8_zp_at(k->in[t + 2], 0);
        bool copy = xs == ys && xzp == yzp;
        size_t block = (size_t)x->dims[axis] * inner;
        uint8_t table[256];
        for (int v = 0; !copy && v < 256; v++) {
            /* v is the byte; its value as x's type: */
            int32_t q = x->dtype == FC_DT_I8 ? (v < 128 ? v : v - 256) : v;
            table[v] = (uint8_t)(fc_q8_quantize(xs * (float)(q - xzp), ys, yzp, qmin, qmax) & 0xff);
        }
        const unsigned char *xd = x->data;
        for (size_t o = 0; o < outer; o++) {
            unsigned char *dst = yd + o * y_block + offset;
            const unsigned char *src = xd + o * block;
            if (copy) {
                if (block)
                    memcpy(dst, src, block);
            } else {
                for (size_t i = 0; i < block; i++)
                    dst[i] = table[src[i]];
            }
        }
        offset += block;
    }
    return FC_OK;
}
