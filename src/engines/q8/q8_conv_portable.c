/* The portable pieces of the fast int8 conv (q8_conv.h): plain C over the
 * packed layout, which compilers vectorise at the baseline ISA, and the
 * exact store every ISA uses for its edge tiles.
 *
 * Requantization, as q8_gemm_portable.c does it: x = float(acc) * mult
 * (one float32 product), clamped to [qmin - y_zp, qmax - y_zp], rounded
 * half to even by adding and subtracting 1.5 * 2^23 (exact for |x| below
 * 2^22, which the clamp guarantees since the zero point is an 8-bit
 * value), plus y_zp.  Clamping before rounding equals the reference's clamp
 * after (rounding is monotone and keeps the integer bounds).  Rows whose
 * multiplier is NaN or infinite take the reference's own step,
 * fc_q8_requantize. */
#include <float.h>
#include <string.h>

#include "q8_conv.h"
#include "q8_internal.h"

#define ROUND_MAGIC 12582912.0f /* 1.5 * 2^23 */
_Static_assert(FLT_EVAL_METHOD == 0, "ROUND_MAGIC needs float arithmetic done in float");

void fc_q8c_store_any(const q8c_out *o, int64_t m, const int32_t *acc, int64_t count, void *dst)
{
    if (!o->mult) {
        memcpy(dst, acc, (size_t)count * sizeof *acc);
        return;
    }
    uint8_t *out = dst;
    const float scale = o->mult[m];
    if (!o->row_fast[m]) {
        for (int64_t j = 0; j < count; j++)
            out[j] = (uint8_t)fc_q8_requantize(acc[j], scale, o->y_zp, o->qmin, o->qmax);
        return;
    }
    const float lo = (float)(o->qmin - o->y_zp), hi = (float)(o->qmax - o->y_zp);
    for (int64_t j = 0; j < count; j++) {
        float x = (float)acc[j] * scale;
        x = x > lo ? x : lo;
        x = x < hi ? x : hi;
        x = (x + ROUND_MAGIC) - ROUND_MAGIC;
        /* two's complement byte of a value in [qmin, qmax] */
        out[j] = (uint8_t)((int32_t)x + o->y_zp);
    }
}

static void pack_pair(const uint8_t *r0, const uint8_t *r1, int64_t nc, bool x_signed, int16_t *b,
                      int64_t kq)
{
    for (int64_t j0 = 0; j0 < nc; j0 += Q8C_NR) {
        int16_t *dst = b + (j0 / Q8C_NR) * kq * 2 * Q8C_NR;
        for (int j = 0; j < Q8C_NR; j++) {
            const uint8_t u0 = r0[j0 + j], u1 = r1 ? r1[j0 + j] : 0;
            dst[2 * j] = x_signed ? (int16_t)(int8_t)u0 : (int16_t)u0;
            dst[2 * j + 1] = x_signed ? (int16_t)(int8_t)u1 : (int16_t)u1;
        }
    }
}

static void tile(const int16_t *a, const int16_t *b, int64_t kq, const int32_t *fix,
                 int32_t acc[Q8C_MR][Q8C_NR])
{
    /* uint32: sums wrap (as the vector adds do) instead of overflowing;
     * each pair of products is at most 2 * 383 * 255 in magnitude. */
    uint32_t s[Q8C_MR][Q8C_NR];
    for (int r = 0; r < Q8C_MR; r++)
        for (int j = 0; j < Q8C_NR; j++)
            s[r][j] = (uint32_t)fix[r];
    for (int64_t p = 0; p < kq; p++) {
        const int16_t *bp = b + p * 2 * Q8C_NR, *ap = a + p * 2 * Q8C_MR;
        for (int r = 0; r < Q8C_MR; r++) {
            const int32_t a0 = ap[2 * r], a1 = ap[2 * r + 1];
            for (int j = 0; j < Q8C_NR; j++)
                s[r][j] += (uint32_t)(a0 * bp[2 * j] + a1 * bp[2 * j + 1]);
        }
    }
    for (int r = 0; r < Q8C_MR; r++)
        for (int j = 0; j < Q8C_NR; j++)
            memcpy(&acc[r][j], &s[r][j], sizeof acc[r][j]);
}

static void tile_store(const int16_t *a, const int16_t *b, int64_t kq, const int32_t *fix,
                       const q8c_out *o, int64_t m0, int rows, unsigned char *dst, size_t ldd)
{
    int32_t acc[Q8C_MR][Q8C_NR];
    tile(a, b, kq, fix, acc);
    for (int r = 0; r < rows; r++)
        fc_q8c_store_any(o, m0 + r, acc[r], Q8C_NR, dst + (size_t)r * ldd);
}

static void split2(const uint8_t *src, uint8_t *d0, uint8_t *d1, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        d0[i] = src[2 * i];
        d1[i] = src[2 * i + 1];
    }
}

const q8c_isa fc_q8c_portable = {
    .pack_pair = pack_pair, .tile = tile, .split2 = split2, .tile_store = tile_store};
