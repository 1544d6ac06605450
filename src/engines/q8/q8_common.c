/* Helpers shared by the int8 kernels (see q8_internal.h): tensor access,
 * quantization parameters, and the rounding and saturation every kernel
 * uses, written so that no input (NaN, infinities, huge values) reaches an
 * undefined float-to-int conversion. */
#include <math.h>
#include <string.h>

#include "../../core/fc_alloc.h"
#include "q8_internal.h"

const fc_tensor *fc_q8_in(const fc_kernel_ctx *k, int i)
{
    return (i >= 0 && i < k->n_in) ? k->in[i] : NULL;
}

fc_tensor *fc_q8_out(const fc_kernel_ctx *k, int i)
{
    return (i >= 0 && i < k->n_out) ? k->out[i] : NULL;
}

fc_status fc_q8_require(const fc_kernel_ctx *k, int n_in, int n_out, fc_err *err)
{
    for (int i = 0; i < n_in; i++) {
        const fc_tensor *t = fc_q8_in(k, i);
        if (!t || (t->numel > 0 && !t->data))
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: input %d missing", k->node->op_type, i);
    }
    for (int i = 0; i < n_out; i++) {
        const fc_tensor *t = fc_q8_out(k, i);
        if (!t || (t->numel > 0 && !t->data))
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: output %d missing", k->node->op_type, i);
    }
    return FC_OK;
}

fc_status fc_q8_unsupported(const fc_kernel_ctx *k, fc_dtype dt, fc_err *err)
{
    return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: dtype %s is not supported by the int8 engines",
                      k->node->op_type, fc_dtype_name(dt));
}

int32_t fc_q8_load(const fc_tensor *t, size_t i)
{
    switch (t->dtype) {
    case FC_DT_U8: return ((const uint8_t *)t->data)[i];
    case FC_DT_I8: return ((const int8_t *)t->data)[i];
    case FC_DT_I32: return ((const int32_t *)t->data)[i];
    default: return 0;
    }
}

void fc_q8_store(void *data, fc_dtype dt, size_t i, int32_t v)
{
    switch (dt) {
    case FC_DT_U8: ((uint8_t *)data)[i] = (uint8_t)v; break;
    case FC_DT_I8: ((int8_t *)data)[i] = (int8_t)v; break;
    case FC_DT_I32: ((int32_t *)data)[i] = v; break;
    default: break;
    }
}

void fc_q8_range(fc_dtype dt, int32_t *qmin, int32_t *qmax)
{
    *qmin = dt == FC_DT_I8 ? INT8_MIN : 0;
    *qmax = dt == FC_DT_I8 ? INT8_MAX : UINT8_MAX;
}

float fc_q8_scale_at(const fc_tensor *scale, size_t i)
{
    const float *s = scale->data;
    return scale->numel == 1 ? s[0] : s[i];
}

int32_t fc_q8_zp_at(const fc_tensor *zp, size_t i)
{
    if (!zp)
        return 0;
    return fc_q8_load(zp, zp->numel == 1 ? 0 : i);
}

float fc_q8_round_half_even(float v)
{
    /* Above 2^23 every float is an integer; below, floor and the
     * difference are exact, so the tie test is exact too. */
    if (!(fabsf(v) < 8388608.0f))
        return v;   /* NaN, infinities and large integers */
    float f = floorf(v), d = v - f;
    if (d > 0.5f || (d == 0.5f && fmodf(f, 2.0f) != 0.0f))
        f += 1.0f;
    return f;
}

int32_t fc_q8_saturate(float r, int32_t zp, int32_t qmin, int32_t qmax)
{
    if (isnan(r))
        return zp < qmin ? qmin : zp > qmax ? qmax : zp;
    /* In double, r + zp is exact for every r that could land in range. */
    double v = (double)r + (double)zp;
    if (v <= (double)qmin)
        return qmin;
    if (v >= (double)qmax)
        return qmax;
    return (int32_t)v;
}

int32_t fc_q8_quantize(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax)
{
    return fc_q8_saturate(fc_q8_round_half_even(x / scale), zp, qmin, qmax);
}

bool fc_q8_mul3(size_t a, size_t b, size_t c, size_t *out)
{
    size_t ab;
    return fc_mul_size(a, b, &ab) && fc_mul_size(ab, c, out);
}

/* Blocks of TB x TB elements, so that both the rows read and the rows
 * written stay in cache; the 1- and 4-byte cases (every caller's) are typed
 * loops instead of a memcpy per element. */
#define TB 32

void fc_q8_transpose(const void *src, void *dst, size_t r, size_t c, size_t esz)
{
    const unsigned char *s = src;
    unsigned char *d = dst;
    for (size_t i0 = 0; i0 < r; i0 += TB)
        for (size_t j0 = 0; j0 < c; j0 += TB) {
            const size_t i1 = r - i0 < TB ? r : i0 + TB, j1 = c - j0 < TB ? c : j0 + TB;
            if (esz == 1) {
                for (size_t j = j0; j < j1; j++)
                    for (size_t i = i0; i < i1; i++)
                        d[j * r + i] = s[i * c + j];
            } else if (esz == 4) {
                const int32_t *s4 = src;
                int32_t *d4 = dst;
                for (size_t j = j0; j < j1; j++)
                    for (size_t i = i0; i < i1; i++)
                        d4[j * r + i] = s4[i * c + j];
            } else {
                for (size_t j = j0; j < j1; j++)
                    for (size_t i = i0; i < i1; i++)
                        memcpy(d + (j * r + i) * esz, s + (i * c + j) * esz, esz);
            }
        }
}
