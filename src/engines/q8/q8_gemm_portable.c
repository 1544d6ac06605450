/* The portable int8 GEMM: plain C that compilers vectorise at the baseline
 * ISA (SSE2's pmaddwd on x86-64), plus the shared epilogue and the generic
 * scalar path every kernel falls back to for odd arguments.
 *
 * Fast path.  Both operands are widened to int16 with their zero points
 * already subtracted (A' = A - a_zp, B' = B - b_zp, each in [-383, 383]), so
 * acc = bias + sum_k A'[m][k] * B'[k][n] needs no correction terms and every
 * sign combination is the same loop.  B is packed transposed, NB columns at a
 * time, so that each output is a dot product of two contiguous int16 rows: the
 * form compilers turn into multiply-add-pairs instructions.  A 2x2 block of
 * outputs shares its loads.
 *
 * Overflow.  One product is at most 383^2 = 146689, so a signed int32 partial
 * sum over KB_MAX = 8192 k's cannot overflow (1.2e9 < 2^31); partial sums are
 * combined in uint32, which wraps instead of being undefined.  The contract
 * promises that the final sums fit int32, and a sum computed modulo 2^32 that
 * fits is the exact one.
 *
 * Generic path.  Zero points outside [-128, 255] (which no ONNX tensor can
 * hold, but the struct allows), or a failed scratch allocation, take the
 * scalar loop in uint32 arithmetic: slow, exact, no scratch.
 *
 * Epilogue (fc_q8_store_row, shared with the SIMD kernels): a vectorisable
 * loop for the usual requantization, the reference's fc_q8_requantize for
 * everything else (NaN or infinite scales, bounds outside the stored type),
 * so that odd inputs cannot drift from the oracle. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../../core/fc_alloc.h"
#include "q8_gemm.h"

#define KB_MAX 8192
#define NB 32                          /* columns of B per packed panel */
#define A_BLOCK_BYTES ((size_t)128 << 10) /* packed rows of A kept hot in L2 */
#define GENERIC_CHUNK 64               /* outputs per store in the generic path */

/* Rounds a float in [-2^22, 2^22] to an integer, half to even, with the
 * current (default: nearest-even) rounding mode: after the addition the value
 * lies in [2^23, 2^24), where the float spacing is exactly 1.  Unlike
 * nearbyintf it is not a libm call, so the loop around it vectorises.  Needs
 * strict float semantics (no -ffast-math), which the build uses. */
#define ROUND_MAGIC 12582912.0f        /* 1.5 * 2^23 */
_Static_assert(FLT_EVAL_METHOD == 0, "ROUND_MAGIC needs float arithmetic done in float");

static int32_t a_zp_of(const fc_q8_gemm_args *g, int64_t m)
{
    return g->a_zp ? g->a_zp[g->a_zp_per_row ? m : 0] : 0;
}

static int32_t bias_of(const fc_q8_gemm_args *g, int64_t m)
{
    return g->bias ? g->bias[m] : 0;
}

static int32_t a_at(const fc_q8_gemm_args *g, int64_t m, int64_t k)
{
    const int64_t i = m * g->lda + k;
    return g->a_signed ? ((const int8_t *)g->A)[i] : ((const uint8_t *)g->A)[i];
}

static int32_t b_at(const fc_q8_gemm_args *g, int64_t k, int64_t n)
{
    const int64_t i = k * g->ldb + n;
    return g->b_signed ? ((const int8_t *)g->B)[i] : ((const uint8_t *)g->B)[i];
}

static bool zp_small(int32_t zp)
{
    return zp >= -128 && zp <= 255;
}

/* The vector epilogue needs qmin <= qmax inside the stored type and a y_zp
 * small enough for qmin - y_zp and qmax - y_zp to be exact floats of
 * magnitude below 2^22 (see ROUND_MAGIC).  Anything else goes through
 * fc_q8_requantize, the reference's own step. */
static bool rq_fast(const fc_q8_requant *rq)
{
    const int32_t lo = rq->y_signed ? -128 : 0, hi = rq->y_signed ? 127 : 255;
    return lo <= rq->qmin && rq->qmin <= rq->qmax && rq->qmax <= hi && rq->y_zp >= -(1 << 21) &&
           rq->y_zp <= (1 << 21);
}

bool fc_q8_args_common(const fc_q8_gemm_args *g)
{
    if (!zp_small(g->b_zp))
        return false;
    if (g->a_zp) {
        const int64_t n = g->a_zp_per_row ? g->M : 1;
        for (int64_t m = 0; m < n; m++)
            if (!zp_small(g->a_zp[m]))
                return false;
    }
    return !g->rq || rq_fast(g->rq);
}

void fc_q8_store_row(const fc_q8_gemm_args *g, int64_t m, int64_t n0, const int32_t *acc,
                     int64_t count)
{
    if (count <= 0)
        return;
    const fc_q8_requant *rq = g->rq;
    if (!rq) {
        memcpy((int32_t *)g->C + m * g->ldc + n0, acc, (size_t)count * sizeof *acc);
        return;
    }
    const float scale = rq->scale[rq->scale_per_row ? m : 0];
    uint8_t *out = (uint8_t *)g->C + m * g->ldc + n0;
    if (!rq_fast(rq) || !isfinite(scale)) {
        /* a NaN or infinite scale, odd bounds: the reference's step, and its
         * two's complement byte (the value is in range unless the bounds
         * are not) */
        for (int64_t j = 0; j < count; j++)
            out[j] = (uint8_t)fc_q8_requantize(acc[j], scale, rq->y_zp, rq->qmin, rq->qmax);
        return;
    }
    /* x = float(acc) * scale is finite or infinite, never NaN.  Clamping it
     * to [qmin - y_zp, qmax - y_zp] before rounding equals the contract's
     * clamp after (rounding is monotone and keeps the integer bounds), and
     * leaves a value ROUND_MAGIC rounds half to even. */
    const float lo = (float)(rq->qmin - rq->y_zp), hi = (float)(rq->qmax - rq->y_zp);
    const int32_t y_zp = rq->y_zp;
    for (int64_t j = 0; j < count; j++) {
        float x = (float)acc[j] * scale;
        x = x > lo ? x : lo;
        x = x < hi ? x : hi;
        x = (x + ROUND_MAGIC) - ROUND_MAGIC;
        out[j] = (uint8_t)((int32_t)x + y_zp);
    }
}

/* Every argument combination, in wrapping uint32 arithmetic (the exact
 * result modulo 2^32, which is the result whenever it fits int32). */
static void gemm_generic(const fc_q8_gemm_args *g)
{
    int32_t acc[GENERIC_CHUNK];
    const uint32_t bzp = (uint32_t)g->b_zp;
    for (int64_t m = 0; m < g->M; m++) {
        const uint32_t azp = (uint32_t)a_zp_of(g, m);
        for (int64_t n0 = 0; n0 < g->N; n0 += GENERIC_CHUNK) {
            const int64_t nc = g->N - n0 < GENERIC_CHUNK ? g->N - n0 : GENERIC_CHUNK;
            uint32_t sum[GENERIC_CHUNK];
            for (int64_t j = 0; j < nc; j++)
                sum[j] = (uint32_t)bias_of(g, m);
            for (int64_t k = 0; k < g->K; k++) {
                const uint32_t a = (uint32_t)a_at(g, m, k) - azp;
                for (int64_t j = 0; j < nc; j++)
                    sum[j] += a * ((uint32_t)b_at(g, k, n0 + j) - bzp);
            }
            for (int64_t j = 0; j < nc; j++)
                acc[j] = (int32_t)sum[j];
            fc_q8_store_row(g, m, n0, acc, nc);
        }
    }
}

/* Rows [m0, m0 + mb) of A - a_zp as int16, kp per row, zero past K. */
static void pack_a(const fc_q8_gemm_args *g, int64_t m0, int64_t mb, int64_t kp, int16_t *ap)
{
    for (int64_t i = 0; i < mb; i++) {
        const int32_t zp = a_zp_of(g, m0 + i);
        int16_t *dst = ap + i * kp;
        if (g->a_signed) {
            const int8_t *src = (const int8_t *)g->A + (m0 + i) * g->lda;
            for (int64_t k = 0; k < g->K; k++)
                dst[k] = (int16_t)(src[k] - zp);
        } else {
            const uint8_t *src = (const uint8_t *)g->A + (m0 + i) * g->lda;
            for (int64_t k = 0; k < g->K; k++)
                dst[k] = (int16_t)(src[k] - zp);
        }
        for (int64_t k = g->K; k < kp; k++)
            dst[k] = 0;
    }
}

/* Columns [n0, n0 + nb) of B - b_zp, transposed: bt[j * kp + k]. */
static void pack_bt(const fc_q8_gemm_args *g, int64_t n0, int64_t nb, int64_t kp, int16_t *bt)
{
    const int32_t zp = g->b_zp;
    for (int64_t k = 0; k < g->K; k++) {
        if (g->b_signed) {
            const int8_t *src = (const int8_t *)g->B + k * g->ldb + n0;
            for (int64_t j = 0; j < nb; j++)
                bt[j * kp + k] = (int16_t)(src[j] - zp);
        } else {
            const uint8_t *src = (const uint8_t *)g->B + k * g->ldb + n0;
            for (int64_t j = 0; j < nb; j++)
                bt[j * kp + k] = (int16_t)(src[j] - zp);
        }
    }
    for (int64_t j = 0; j < nb; j++)
        for (int64_t k = g->K; k < kp; k++)
            bt[j * kp + k] = 0;
}

/* s[2*i + j] = sum_k a_i[k] * b_j[k] (mod 2^32), see the overflow note. */
static void dot2x2(const int16_t *restrict a0, const int16_t *restrict a1,
                   const int16_t *restrict b0, const int16_t *restrict b1, int64_t kp,
                   uint32_t s[4])
{
    uint32_t t00 = 0, t01 = 0, t10 = 0, t11 = 0;
    for (int64_t k0 = 0; k0 < kp; k0 += KB_MAX) {
        const int64_t k1 = kp - k0 < KB_MAX ? kp : k0 + KB_MAX;
        int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;
        for (int64_t k = k0; k < k1; k++) {
            const int32_t x0 = a0[k], x1 = a1[k], y0 = b0[k], y1 = b1[k];
            s00 += x0 * y0;
            s01 += x0 * y1;
            s10 += x1 * y0;
            s11 += x1 * y1;
        }
        t00 += (uint32_t)s00;
        t01 += (uint32_t)s01;
        t10 += (uint32_t)s10;
        t11 += (uint32_t)s11;
    }
    s[0] = t00;
    s[1] = t01;
    s[2] = t10;
    s[3] = t11;
}

/* Rows [m0, m0 + mb) (packed in ap) times the packed panel of nb columns at
 * n0; odd edges reuse the last row/column and drop the duplicate. */
static void panel(const fc_q8_gemm_args *g, const int16_t *ap, int64_t m0, int64_t mb,
                  const int16_t *bt, int64_t n0, int64_t nb, int64_t kp)
{
    int32_t acc[2][NB];
    for (int64_t i = 0; i < mb; i += 2) {
        const int64_t i1 = i + 1 < mb ? i + 1 : i;
        const uint32_t bias0 = (uint32_t)bias_of(g, m0 + i), bias1 = (uint32_t)bias_of(g, m0 + i1);
        for (int64_t j = 0; j < nb; j += 2) {
            const int64_t j1 = j + 1 < nb ? j + 1 : j;
            uint32_t s[4];
            dot2x2(ap + i * kp, ap + i1 * kp, bt + j * kp, bt + j1 * kp, kp, s);
            acc[0][j] = (int32_t)(s[0] + bias0);
            acc[0][j1] = (int32_t)(s[1] + bias0);
            acc[1][j] = (int32_t)(s[2] + bias1);
            acc[1][j1] = (int32_t)(s[3] + bias1);
        }
        fc_q8_store_row(g, m0 + i, n0, acc[0], nb);
        if (i1 != i)
            fc_q8_store_row(g, m0 + i1, n0, acc[1], nb);
    }
}

void fc_q8_gemm_portable(const fc_q8_gemm_args *g)
{
    if (g->M <= 0 || g->N <= 0)
        return;
    bool zps_small = zp_small(g->b_zp);
    for (int64_t m = 0; zps_small && g->a_zp && m < (g->a_zp_per_row ? g->M : 1); m++)
        zps_small = zp_small(g->a_zp[m]);
    const int64_t kp = (g->K + 7) / 8 * 8; /* whole vectors, zero-padded */
    int64_t mb = (int64_t)(A_BLOCK_BYTES / ((size_t)(kp > 0 ? kp : 1) * sizeof(int16_t)));
    mb = mb < 2 ? 2 : mb > g->M ? g->M : mb;
    int16_t *ap = NULL, *bt = NULL;
    if (zps_small && kp > 0) {
        ap = fc_malloc((size_t)(mb * kp) * sizeof *ap);
        bt = fc_malloc((size_t)(NB * kp) * sizeof *bt);
    }
    if (!ap || !bt) {
        /* K = 0 (sums are the bias), odd zero points or no memory. */
        fc_free(ap);
        fc_free(bt);
        gemm_generic(g);
        return;
    }
    for (int64_t m0 = 0; m0 < g->M; m0 += mb) {
        const int64_t mc = g->M - m0 < mb ? g->M - m0 : mb;
        pack_a(g, m0, mc, kp, ap);
        for (int64_t n0 = 0; n0 < g->N; n0 += NB) {
            const int64_t nb = g->N - n0 < NB ? g->N - n0 : NB;
            pack_bt(g, n0, nb, kp, bt);
            panel(g, ap, m0, mc, bt, n0, nb, kp);
        }
    }
    fc_free(ap);
    fc_free(bt);
}
