/* The scalar reference of the int8 GEMM contract (q8_gemm.h): the oracle
 * the SIMD kernels must match bit for bit, and the GEMM of the q8-ref
 * engine.
 *
 * Sums are kept in uint32_t: with K <= FC_Q8_MAX_K and |terms| <= 255*255
 * they fit int32 in practice, but unsigned arithmetic makes even a
 * pathological overflow wrap (as the SIMD adds do) instead of being
 * undefined behaviour.  Loop order: for each row of A, a block of output
 * columns accumulates k by k, so B is read row-wise (cache friendly and
 * vectorisable) without any scratch memory. */
#include <string.h>

#include "q8_internal.h"

/* Columns accumulated at once (stack buffer). */
#define COL_BLOCK 256

static int32_t load8(const void *p, bool is_signed, size_t i)
{
    return is_signed ? (int32_t)((const int8_t *)p)[i] : (int32_t)((const uint8_t *)p)[i];
}

static int32_t to_i32(uint32_t u)
{
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

int32_t fc_q8_requantize(int32_t acc, float scale, int32_t y_zp, int32_t qmin, int32_t qmax)
{
    /* One float32 product, rounded half to even, then the zero point. */
    float v = (float)acc * scale;
    return fc_q8_saturate(fc_q8_round_half_even(v), y_zp, qmin, qmax);
}

/* Row m of the output from the accumulators of columns [n0, n0 + cols). */
static void store_row(const fc_q8_gemm_args *g, int64_t m, int64_t n0, int64_t cols,
                      const uint32_t *acc)
{
    if (!g->rq) {
        int32_t *c = (int32_t *)g->C + m * g->ldc + n0;
        for (int64_t j = 0; j < cols; j++)
            c[j] = to_i32(acc[j]);
        return;
    }
    const fc_q8_requant *rq = g->rq;
    float scale = rq->scale[rq->scale_per_row ? m : 0];
    fc_dtype dt = rq->y_signed ? FC_DT_I8 : FC_DT_U8;
    void *row = (unsigned char *)g->C + m * g->ldc;
    for (int64_t j = 0; j < cols; j++)
        fc_q8_store(row, dt, (size_t)(n0 + j),
                    fc_q8_requantize(to_i32(acc[j]), scale, rq->y_zp, rq->qmin, rq->qmax));
}

void fc_q8_gemm_ref(const fc_q8_gemm_args *g)
{
    uint32_t acc[COL_BLOCK];
    for (int64_t m = 0; m < g->M; m++) {
        int32_t a_zp = g->a_zp ? g->a_zp[g->a_zp_per_row ? m : 0] : 0;
        uint32_t bias = g->bias ? (uint32_t)g->bias[m] : 0u;
        for (int64_t n0 = 0; n0 < g->N; n0 += COL_BLOCK) {
            int64_t cols = g->N - n0 < COL_BLOCK ? g->N - n0 : COL_BLOCK;
            for (int64_t j = 0; j < cols; j++)
                acc[j] = bias;
            for (int64_t k = 0; k < g->K; k++) {
                int32_t a = load8(g->A, g->a_signed, (size_t)(m * g->lda + k)) - a_zp;
                if (a == 0)
                    continue;   /* a whole row of zero terms */
                size_t row = (size_t)(k * g->ldb + n0);
                for (int64_t j = 0; j < cols; j++) {
                    int32_t b = load8(g->B, g->b_signed, row + (size_t)j) - g->b_zp;
                    acc[j] += (uint32_t)((int64_t)a * b);   /* modulo 2^32 */
                }
            }
            store_row(g, m, n0, cols, acc);
        }
    }
}
