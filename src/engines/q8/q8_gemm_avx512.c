/* The AVX-512 VNNI int8 GEMM of the q8 engine.  Compiled with function
 * target attributes, so the build needs no -mavx512 flags; fc_q8_set_isa and
 * the dispatcher only pick it when the CPU reports avx512f, avx512bw and
 * avx512vnni.
 *
 * vpdpbusd adds four u8 x s8 products to an int32 lane with no intermediate
 * saturation (unlike vpmaddubsw), wrapping like every other int32 add here,
 * so it is exact.  Its operand signs are fixed (B unsigned, A signed), so
 * other signednesses are moved into range with a bias of 128 that the zero
 * points absorb: an unsigned A is read as A - 128 (byte xor 0x80) with
 * a_zp - 128, a signed B as B + 128 with b_zp + 128; the differences
 * A - a_zp and B - b_zp are unchanged.  With As, Bu the shifted operands and
 * az, bz the shifted zero points:
 *
 *   acc[m][n] = bias[m] + sum_k As*Bu - bz * RA[m] - az[m] * CB[n] + K * az[m] * bz
 *
 * where RA[m] = sum_k As[m][k] (while packing A) and CB[n] = sum_k Bu[k][n]
 * (vpdpbusd with a vector of ones over the packed panel), all modulo 2^32,
 * which is exact because the contract's result fits int32.  K is padded to
 * a multiple of 4 with zero bytes on both sides, which adds nothing.
 *
 * Layout: a panel of 16 columns holds, per group of 4 k's, 16 dwords of the
 * 4 bytes of one column (64 bytes, one zmm); A holds per row and group the 4
 * bytes as one dword, broadcast.  The micro-kernel computes MR rows x 16.
 *
 * Not run on AVX-512 hardware yet (the machine it was written on has
 * none): the algorithm was checked bit-exact against the reference by
 * compiling this file over a scalar model of the AVX-512 intrinsics
 * it uses, not the instructions themselves.  To keep the AVX-512-only code
 * small, the packing uses SSE2 shuffles and the shared epilogue takes
 * partial tiles and odd scales. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../../core/fc_alloc.h"
#include "q8_gemm.h"

#define MR 8                               /* rows of A per micro-kernel */
#define NR 16                              /* columns per panel: one zmm of dwords */
#define A_BLOCK_BYTES ((size_t)256 << 10)  /* packed A kept in L2 */
#define ALIGN 64

#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

typedef struct shifted {
    uint8_t a_xor, b_xor;  /* 0x80 to move the operand to As / Bu */
    int32_t b_zp;          /* bz */
} shifted;

static int32_t a_zp_shifted(const fc_q8_gemm_args *g, int64_t m)
{
    const int32_t zp = g->a_zp ? g->a_zp[g->a_zp_per_row ? m : 0] : 0;
    return g->a_signed ? zp : zp - 128;
}

/* Rows [m0, m0 + rows) of As into panels of MR rows, ap[(panel * kq + q) * MR + r]
 * (rows past M zero), and per row fix[i] = bias - bz * RA + K * az * bz and
 * az_out[i] = az. */
static void pack_a(const fc_q8_gemm_args *g, const shifted *s, int64_t m0, int64_t rows,
                   int64_t kq, int32_t *ap, int32_t *fix, int32_t *az_out)
{
    for (int64_t i = 0; i < rows; i++) {
        int32_t *dst = ap + (i / MR) * kq * MR + i % MR;
        const int64_t m = m0 + i;
        if (m >= g->M) {
            for (int64_t q = 0; q < kq; q++)
                dst[q * MR] = 0;
            continue;
        }
        const uint8_t *src = (const uint8_t *)g->A + m * g->lda;
        uint32_t ra = 0;
        for (int64_t q = 0; q < kq; q++) {
            uint8_t quad[4] = {0, 0, 0, 0};
            for (int64_t t = 0; t < 4 && 4 * q + t < g->K; t++) {
                quad[t] = src[4 * q + t] ^ s->a_xor;
                ra += (uint32_t)(int32_t)(int8_t)quad[t];
            }
            int32_t word;
            memcpy(&word, quad, sizeof word);
            dst[q * MR] = word;
        }
        const uint32_t az = (uint32_t)a_zp_shifted(g, m), bz = (uint32_t)s->b_zp;
        const uint32_t bias = (uint32_t)(g->bias ? g->bias[m] : 0);
        fix[i] = (int32_t)(bias - bz * ra + (uint32_t)g->K * az * bz);
        az_out[i] = (int32_t)az;
    }
}

/* 16 bytes of row k of Bu from column n0; zero past K (those rows must add
 * nothing to CB), anything past the nb columns (they are dropped). */
static __m128i load_row(const fc_q8_gemm_args *g, const shifted *s, int64_t k, int64_t n0,
                        int64_t nb)
{
    if (k >= g->K)
        return _mm_setzero_si128();
    uint8_t tmp[NR] = {0};
    const uint8_t *src = (const uint8_t *)g->B + k * g->ldb + n0;
    if (nb < NR) {
        memcpy(tmp, src, (size_t)nb);
        src = tmp;
    }
    return _mm_xor_si128(_mm_loadu_si128((const __m128i *)src), _mm_set1_epi8((char)s->b_xor));
}

/* Columns [n0, n0 + nb) of Bu: per group of 4 rows, the 4 bytes of each of
 * the 16 columns in turn (the SSE2 byte/word interleave of 4 rows). */
static void pack_b(const fc_q8_gemm_args *g, const shifted *s, int64_t n0, int64_t nb,
                   int64_t kq, uint8_t *bp)
{
    for (int64_t q = 0; q < kq; q++) {
        const __m128i r0 = load_row(g, s, 4 * q, n0, nb);
        const __m128i r1 = load_row(g, s, 4 * q + 1, n0, nb);
        const __m128i r2 = load_row(g, s, 4 * q + 2, n0, nb);
        const __m128i r3 = load_row(g, s, 4 * q + 3, n0, nb);
        const __m128i t0 = _mm_unpacklo_epi8(r0, r1), t1 = _mm_unpackhi_epi8(r0, r1);
        const __m128i t2 = _mm_unpacklo_epi8(r2, r3), t3 = _mm_unpackhi_epi8(r2, r3);
        __m128i *dst = (__m128i *)(bp + q * 64);
        _mm_storeu_si128(dst + 0, _mm_unpacklo_epi16(t0, t2)); /* columns 0-3 */
        _mm_storeu_si128(dst + 1, _mm_unpackhi_epi16(t0, t2)); /* 4-7 */
        _mm_storeu_si128(dst + 2, _mm_unpacklo_epi16(t1, t3)); /* 8-11 */
        _mm_storeu_si128(dst + 3, _mm_unpackhi_epi16(t1, t3)); /* 12-15 */
    }
}

/* CB[n] for the 16 columns of a packed panel. */
AVX512_TARGET static __m512i column_sums(const uint8_t *bp, int64_t kq)
{
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i cb = _mm512_setzero_si512();
    for (int64_t q = 0; q < kq; q++)
        cb = _mm512_dpbusd_epi32(cb, _mm512_loadu_si512(bp + q * 64), ones);
    return cb;
}

AVX512_TARGET static void micro_kernel(const int32_t *ap, const uint8_t *bp, int64_t kq,
                                       __m512i c[MR])
{
    __m512i acc[MR];
    for (int r = 0; r < MR; r++)
        acc[r] = _mm512_setzero_si512();
    for (int64_t q = 0; q < kq; q++) {
        const __m512i b = _mm512_loadu_si512(bp + q * 64);
        for (int r = 0; r < MR; r++)
            acc[r] = _mm512_dpbusd_epi32(acc[r], b, _mm512_set1_epi32(ap[q * MR + r]));
    }
    for (int r = 0; r < MR; r++)
        c[r] = acc[r];
}

/* One finished row of 16 accumulators to row m of C. */
AVX512_TARGET static void store_row16(const fc_q8_gemm_args *g, int64_t m, int64_t n0, int64_t nb,
                                      __m512i v)
{
    const fc_q8_requant *rq = g->rq;
    if (!rq || nb < NR || !isfinite(rq->scale[rq->scale_per_row ? m : 0])) {
        int32_t tmp[NR];
        _mm512_storeu_si512(tmp, v);
        fc_q8_store_row(g, m, n0, tmp, nb);
        return;
    }
    /* as in the AVX2 kernel: clamp to [qmin - y_zp, qmax - y_zp], round half to
     * even (MXCSR default), add y_zp; the values fit the byte type, so the
     * truncating vpmovdb is exact for int8 and uint8 alike */
    const __m512 scale = _mm512_set1_ps(rq->scale[rq->scale_per_row ? m : 0]);
    __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(v), scale);
    x = _mm512_max_ps(x, _mm512_set1_ps((float)(rq->qmin - rq->y_zp)));
    x = _mm512_min_ps(x, _mm512_set1_ps((float)(rq->qmax - rq->y_zp)));
    const __m512i y = _mm512_add_epi32(_mm512_cvtps_epi32(x), _mm512_set1_epi32(rq->y_zp));
    _mm_storeu_si128((__m128i *)((uint8_t *)g->C + m * g->ldc + n0), _mm512_cvtepi32_epi8(y));
}

AVX512_TARGET static void gemm_blocked(const fc_q8_gemm_args *g, const shifted *s, int64_t kq,
                                       int64_t mc, int32_t *ap, uint8_t *bp, int32_t *fix,
                                       int32_t *az)
{
    for (int64_t m0 = 0; m0 < g->M; m0 += mc) {
        const int64_t rows = g->M - m0 < mc ? (g->M - m0 + MR - 1) / MR * MR : mc;
        pack_a(g, s, m0, rows, kq, ap, fix, az);
        for (int64_t n0 = 0; n0 < g->N; n0 += NR) {
            const int64_t nb = g->N - n0 < NR ? g->N - n0 : NR;
            pack_b(g, s, n0, nb, kq, bp);
            const __m512i cb = column_sums(bp, kq);
            for (int64_t i = 0; i < rows; i += MR) {
                __m512i c[MR];
                micro_kernel(ap + i * kq, bp, kq, c);
                for (int r = 0; r < MR && m0 + i + r < g->M; r++) {
                    const __m512i az_cb = _mm512_mullo_epi32(cb, _mm512_set1_epi32(az[i + r]));
                    const __m512i corr = _mm512_sub_epi32(_mm512_set1_epi32(fix[i + r]), az_cb);
                    store_row16(g, m0 + i + r, n0, nb, _mm512_add_epi32(c[r], corr));
                }
            }
        }
    }
}

void fc_q8_gemm_avx512(const fc_q8_gemm_args *g)
{
    if (g->M <= 0 || g->N <= 0)
        return;
    if (g->K <= 0 || !fc_q8_args_common(g)) {
        fc_q8_gemm_portable(g);
        return;
    }
    const shifted s = {
        .a_xor = g->a_signed ? 0 : 0x80,
        .b_xor = g->b_signed ? 0x80 : 0,
        .b_zp = g->b_signed ? g->b_zp + 128 : g->b_zp,
    };
    const int64_t kq = (g->K + 3) / 4;
    const int64_t m_pad = (g->M + MR - 1) / MR * MR;
    int64_t mc = (int64_t)(A_BLOCK_BYTES / ((size_t)kq * MR * sizeof(int32_t))) * MR;
    mc = mc < MR ? MR : mc > m_pad ? m_pad : mc;
    const size_t a_span = ((size_t)(mc * kq) * sizeof(int32_t) + ALIGN - 1) / ALIGN * ALIGN;
    const size_t b_span = (size_t)kq * 64;
    unsigned char *mem = fc_malloc(a_span + b_span + 2 * (size_t)mc * sizeof(int32_t) + ALIGN);
    if (!mem) {
        fc_q8_gemm_portable(g); /* same result, less memory */
        return;
    }
    unsigned char *base = mem + (ALIGN - (uintptr_t)mem % ALIGN) % ALIGN;
    int32_t *fix = (int32_t *)(base + a_span + b_span);
    gemm_blocked(g, &s, kq, mc, (int32_t *)base, base + a_span, fix, fix + mc);
    fc_free(mem);
}
