/* The AVX2 int8 GEMM of the q8 engine.
 *
 * Why not vpmaddubsw: it multiplies u8 x s8 and adds adjacent products into
 * an int16 with saturation, so 255*127 + 255*127 = 64770 comes out as 32767;
 * a kernel built on it is wrong for legal inputs (ONNX Runtime avoids this by
 * quantizing weights to 7 bits, which we cannot ask of a model file).  Here
 * both operands are widened to int16 and multiplied with vpmaddwd, whose
 * int16 x int16 pair sums land in int32 exactly: A is packed with its zero
 * points subtracted (A' = A - a_zp in [-383, 383]), B is widened as is
 * (sign- or zero-extended, in [-128, 255]), and B's zero point comes back as
 * a per-row constant:
 *
 *   acc[m][n] = bias[m] - b_zp * sum_k A'[m][k] + sum_k A'[m][k] * B[k][n]
 *
 * all in wrapping int32 (exact, since the contract's result fits).  Every
 * signedness of A and B is then the same kernel; only the packing differs.
 * vpmaddwd issues twice per cycle on recent cores, 16 multiply-adds each, so
 * the kernel's peak is twice the multiply-add rate of an FMA sgemm
 * (vpmaddubsw would not do better even where exact: its int16 results need a
 * second vpmaddwd to reach int32).
 *
 * Layout.  B is packed per panel of NR = 16 columns: for each pair of k's,
 * two vectors of 8 (B[k][n], B[k+1][n]) int16 pairs in column order (bytes
 * interleaved with vpunpck[lh]bw, then widened), one or a few panels per
 * pass over B's rows.  A is packed per panel of MR rows as one int32 word
 * (A'[m][k] | A'[m][k+1] << 16) per row and k pair, broadcast by the
 * micro-kernel, which keeps MR x 2 accumulators.  Odd K gets a zero k in A;
 * rows past M and columns past N are computed on padding and not stored.
 * Rows of A are packed MC at a time so that the block stays in L2 while
 * every panel of B streams past it.
 *
 * Requantization: x = float(acc) * scale; x = min(max(x, qmin - y_zp),
 * qmax - y_zp); y = cvtps(x) + y_zp.  Clamping before rounding gives the
 * contract's clamp-after (rounding is monotone and leaves the integer bounds
 * alone) and keeps cvtps in range.  x is never NaN: a row whose scale is NaN
 * or infinite goes through the shared epilogue (fc_q8_store_row), as do
 * partial tiles.  vcvtps2dq rounds with MXCSR, nearest-even by default,
 * which is the reference's round-half-even. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../../core/fc_alloc.h"
#include "q8_gemm.h"

#define MR 4                               /* rows of A per micro-kernel */
#define NV 2                               /* vectors of 8 columns per panel */
#define NR 16                              /* columns of B per panel */
#define PAIR_LEN (2 * NR)                  /* int16 values per k pair of a panel */
#define GROUP_MAX 4                        /* panels packed per pass over B's rows */
#define GROUP_ROWS 16                      /* ... when fewer rows of A share them */
#define KC 256                             /* k pairs per block: a 16 KB panel of B, in L1 */
#define A_BLOCK_BYTES ((size_t)192 << 10)  /* packed A kept in L2 */
#define SMALL_N 8                          /* narrower B goes to the portable kernel */
#define ALIGN 64

#define AVX2_TARGET __attribute__((target("avx2")))
#ifdef __clang__
#define KERNEL_ATTR __attribute__((noinline))
#else
#define KERNEL_ATTR __attribute__((noipa)) /* see micro_kernel */
#endif

static int32_t a_zp_of(const fc_q8_gemm_args *g, int64_t m)
{
    return g->a_zp ? g->a_zp[g->a_zp_per_row ? m : 0] : 0;
}

/* Pair word of two int16 values, low half first (the memory order vpmaddwd
 * sees after a 32-bit broadcast). */
static int32_t pair_word(int32_t lo, int32_t hi)
{
    return (int32_t)((uint32_t)(uint16_t)lo | (uint32_t)(uint16_t)hi << 16);
}

/* Pairs [p, kq) of row m of A' (m < M) into dst[p * MR]: the scalar path,
 * for the last k's (and rows of short panels). */
static void pack_a_tail(const fc_q8_gemm_args *g, int64_t m, int64_t p, int64_t kq, int32_t *dst)
{
    const int32_t zp = a_zp_of(g, m);
    const int64_t K = g->K;
    for (; p < kq; p++) {
        const int64_t k = 2 * p;
        const int32_t a0 = g->a_signed ? ((const int8_t *)g->A)[m * g->lda + k]
                                       : ((const uint8_t *)g->A)[m * g->lda + k];
        int32_t a1 = zp; /* the k past an odd K: A' = 0 */
        if (k + 1 < K)
            a1 = g->a_signed ? ((const int8_t *)g->A)[m * g->lda + k + 1]
                             : ((const uint8_t *)g->A)[m * g->lda + k + 1];
        dst[p * MR] = pair_word(a0 - zp, a1 - zp);
    }
}

/* Rows m .. m + 3 (all inside M) of A' as one panel: 16 k's of each row are
 * widened, offset, and the 4 x 8 pair words transposed to the [pair][row]
 * order; the k's past the last 16 go through pack_a_tail. */
AVX2_TARGET static inline void pack_a_panel(const fc_q8_gemm_args *g, int64_t m, int64_t kq,
                                            bool a_signed, int32_t *dst)
{
    _Static_assert(MR == 4, "the transpose below packs 4 rows");
    const uint8_t *row[MR];
    __m256i zp[MR];
    for (int r = 0; r < MR; r++) {
        row[r] = (const uint8_t *)g->A + (m + r) * g->lda;
        zp[r] = _mm256_set1_epi16((int16_t)a_zp_of(g, m + r));
    }
    int64_t k = 0;
    for (; k + 16 <= g->K; k += 16) {
        __m256i w[MR]; /* row r: pair words of pairs k/2 .. k/2 + 7 */
        for (int r = 0; r < MR; r++) {
            const __m128i x = _mm_loadu_si128((const __m128i *)(row[r] + k));
            const __m256i a = a_signed ? _mm256_cvtepi8_epi16(x) : _mm256_cvtepu8_epi16(x);
            w[r] = _mm256_sub_epi16(a, zp[r]);
        }
        const __m256i t0 = _mm256_unpacklo_epi32(w[0], w[1]);
        const __m256i t1 = _mm256_unpackhi_epi32(w[0], w[1]);
        const __m256i t2 = _mm256_unpacklo_epi32(w[2], w[3]);
        const __m256i t3 = _mm256_unpackhi_epi32(w[2], w[3]);
        /* u_j: pair j | pair j + 4, the 4 rows' words each */
        const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
        const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
        __m256i *out = (__m256i *)(dst + k / 2 * MR);
        _mm256_storeu_si256(out, _mm256_permute2x128_si256(u0, u1, 0x20));
        _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
        _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
        _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
    }
    for (int r = 0; r < MR; r++)
        pack_a_tail(g, m + r, k / 2, kq, dst + r);
}

/* sum_k A'[m][k] = sum_k A[m][k] - K * a_zp, modulo 2^32. */
static uint32_t row_sum(const fc_q8_gemm_args *g, int64_t m)
{
    uint32_t sum = 0;
    if (g->a_signed) {
        const int8_t *src = (const int8_t *)g->A + m * g->lda;
        for (int64_t k = 0; k < g->K; k++)
            sum += (uint32_t)src[k];
    } else {
        const uint8_t *src = (const uint8_t *)g->A + m * g->lda;
        for (int64_t k = 0; k < g->K; k++)
            sum += src[k];
    }
    return sum - (uint32_t)g->K * (uint32_t)a_zp_of(g, m);
}

/* Rows [m0, m0 + rows) of A' into panels of MR rows:
 * ap[(panel * kq + p) * MR + r], rows past M zero; and for the rows inside M
 * fix[i] = bias - b_zp * sum_k A'[m][k] (mod 2^32). */
AVX2_TARGET static void pack_a(const fc_q8_gemm_args *g, int64_t m0, int64_t rows, int64_t kq,
                               int32_t *ap, int32_t *fix)
{
    for (int64_t i = 0; i < rows; i += MR) {
        int32_t *panel = ap + i * kq;
        if (m0 + i + MR <= g->M) {
            if (g->a_signed)
                pack_a_panel(g, m0 + i, kq, true, panel);
            else
                pack_a_panel(g, m0 + i, kq, false, panel);
            continue;
        }
        for (int r = 0; r < MR; r++) {
            if (m0 + i + r < g->M) {
                pack_a_tail(g, m0 + i + r, 0, kq, panel + r);
            } else {
                for (int64_t p = 0; p < kq; p++)
                    panel[p * MR + r] = 0;
            }
        }
    }
    for (int64_t i = 0; i < rows && m0 + i < g->M; i++) {
        const uint32_t bias = (uint32_t)(g->bias ? g->bias[m0 + i] : 0);
        fix[i] = (int32_t)(bias - (uint32_t)g->b_zp * row_sum(g, m0 + i));
    }
}

/* 8 columns of rows k and k+1, bytes already interleaved (x0 y0 x1 y1 ...),
 * as the int16 pairs vpmaddwd takes. */
AVX2_TARGET static inline __m256i widen_pairs(__m128i xy, bool b_signed)
{
    return b_signed ? _mm256_cvtepi8_epi16(xy) : _mm256_cvtepu8_epi16(xy);
}

/* Packs 16 columns of one pair of rows, x and y (y zero for the k past an
 * odd K). */
AVX2_TARGET static inline void pack_pair(__m128i x, __m128i y, bool b_signed, int16_t *dst)
{
    _mm256_storeu_si256((__m256i *)dst, widen_pairs(_mm_unpacklo_epi8(x, y), b_signed));
    _mm256_storeu_si256((__m256i *)(dst + 16), widen_pairs(_mm_unpackhi_epi8(x, y), b_signed));
}

static __m128i load16(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

/* Pairs [p0, p0 + pc) of columns [n0, n0 + np * NR) of B, all inside N, as
 * np consecutive panels of pc pairs.  B is read with a stride of ldb, often
 * a page per row, so packing one panel costs about a TLB miss per row; with
 * few rows of A to share that cost several panels are packed per pass (with
 * many, one at a time measured faster: it is still in L1 for the kernel).
 * The hardware prefetchers do not cross pages, so the rows of the next
 * panels are prefetched here. */
AVX2_TARGET static inline void pack_b_full(const fc_q8_gemm_args *g, int64_t n0, int64_t np,
                                           int64_t p0, int64_t pc, bool b_signed, int16_t *bp)
{
    const uint8_t *src = (const uint8_t *)g->B + n0;
    const int64_t ldb = g->ldb, panel = pc * PAIR_LEN;
    const int64_t p_end = p0 + pc, p_full = p_end < g->K / 2 ? p_end : g->K / 2;
    const bool prefetch = n0 + 2 * np * NR <= g->N;
    for (int64_t p = p0; p < p_full; p++) {
        const uint8_t *r0 = src + 2 * p * ldb, *r1 = r0 + ldb;
        if (prefetch)
            for (int64_t o = np * NR; o < 2 * np * NR; o += 64) {
                _mm_prefetch((const char *)(r0 + o), _MM_HINT_T0);
                _mm_prefetch((const char *)(r1 + o), _MM_HINT_T0);
            }
        for (int64_t j = 0; j < np; j++)
            pack_pair(load16(r0 + j * NR), load16(r1 + j * NR), b_signed,
                      bp + j * panel + (p - p0) * PAIR_LEN);
    }
    if (p_full < p_end) { /* the last k of an odd K, paired with zeros */
        const uint8_t *r0 = src + 2 * p_full * ldb;
        for (int64_t j = 0; j < np; j++)
            pack_pair(load16(r0 + j * NR), _mm_setzero_si128(), b_signed,
                      bp + j * panel + (p_full - p0) * PAIR_LEN);
    }
}

/* The same for the last nb < NR columns, through zeroed copies of the rows. */
AVX2_TARGET static void pack_b_part(const fc_q8_gemm_args *g, int64_t n0, int64_t nb, int64_t p0,
                                    int64_t pc, int16_t *bp)
{
    for (int64_t p = p0; p < p0 + pc; p++) {
        uint8_t rows[2][NR] = {{0}};
        for (int i = 0; i < 2 && 2 * p + i < g->K; i++)
            memcpy(rows[i], (const uint8_t *)g->B + (2 * p + i) * g->ldb + n0, (size_t)nb);
        pack_pair(load16(rows[0]), load16(rows[1]), g->b_signed, bp + (p - p0) * PAIR_LEN);
    }
}

/* Pairs [p0, p0 + pc) of columns [n0, n0 + nc) into consecutive panels. */
AVX2_TARGET static void pack_b(const fc_q8_gemm_args *g, int64_t n0, int64_t nc, int64_t p0,
                               int64_t pc, int16_t *bp)
{
    const int64_t np = nc / NR;
    if (np > 0) {
        if (g->b_signed)
            pack_b_full(g, n0, np, p0, pc, true, bp);
        else
            pack_b_full(g, n0, np, p0, pc, false, bp);
    }
    if (nc % NR)
        pack_b_part(g, n0 + np * NR, nc % NR, p0, pc, bp + np * pc * PAIR_LEN);
}

/* c[r][v] = sum over pc pairs of the A' pair words of row r times B vector
 * v: one MR x NR tile, 8 columns per vector.  Compiled as if it were
 * external (noipa): when GCC 12 inlines it, or specialises it for what it
 * learns about the arguments, it adds a register copy per accumulator and
 * iteration, 7% slower. */
AVX2_TARGET KERNEL_ATTR static void micro_kernel(const int32_t *ap, const int16_t *bp, int64_t pc,
                                                 __m256i c[MR][NV])
{
    _Static_assert(MR == 4 && NV == 2, "the accumulators below are a 4 x 2 tile");
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00;
    __m256i c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (int64_t p = 0; p < pc; p++) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)(bp + p * PAIR_LEN));
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + p * PAIR_LEN + 16));
        __m256i a = _mm256_set1_epi32(ap[p * MR]);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(a, b0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(a, b1));
        a = _mm256_set1_epi32(ap[p * MR + 1]);
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(a, b0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(a, b1));
        a = _mm256_set1_epi32(ap[p * MR + 2]);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(a, b0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(a, b1));
        a = _mm256_set1_epi32(ap[p * MR + 3]);
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(a, b0));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(a, b1));
    }
    c[0][0] = c00;
    c[0][1] = c01;
    c[1][0] = c10;
    c[1][1] = c11;
    c[2][0] = c20;
    c[2][1] = c21;
    c[3][0] = c30;
    c[3][1] = c31;
}

/* Requantized 8 columns as int32 in [qmin, qmax]. */
AVX2_TARGET static inline __m256i requant8(__m256i v, __m256 scale, __m256 lo, __m256 hi,
                                           __m256i zp)
{
    __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(v), scale);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(x), zp);
}

/* One row of a tile (fix already added) to row m of C, nb columns from n0. */
AVX2_TARGET static void store_tile_row(const fc_q8_gemm_args *g, int64_t m, int64_t n0,
                                       int64_t nb, const __m256i v[NV])
{
    const fc_q8_requant *rq = g->rq;
    if (!rq || nb < NR || !isfinite(rq->scale[rq->scale_per_row ? m : 0])) {
        int32_t tmp[NR];
        for (int i = 0; i < NV; i++)
            _mm256_storeu_si256((__m256i *)(tmp + 8 * i), v[i]);
        if (!rq && nb == NR)
            memcpy((int32_t *)g->C + m * g->ldc + n0, tmp, sizeof tmp);
        else
            fc_q8_store_row(g, m, n0, tmp, nb);
        return;
    }
    const __m256 scale = _mm256_set1_ps(rq->scale[rq->scale_per_row ? m : 0]);
    const __m256 lo = _mm256_set1_ps((float)(rq->qmin - rq->y_zp));
    const __m256 hi = _mm256_set1_ps((float)(rq->qmax - rq->y_zp));
    const __m256i zp = _mm256_set1_epi32(rq->y_zp);
    /* the values lie in [qmin, qmax], inside the stored type: packing never saturates */
    const __m256i w = _mm256_permute4x64_epi64(
        _mm256_packs_epi32(requant8(v[0], scale, lo, hi, zp), requant8(v[1], scale, lo, hi, zp)),
        0xD8); /* columns 0-15 as int16, in order */
    const __m256i b = rq->y_signed ? _mm256_packs_epi16(w, w) : _mm256_packus_epi16(w, w);
    _mm_storeu_si128((__m128i *)((uint8_t *)g->C + m * g->ldc + n0),
                     _mm256_castsi256_si128(_mm256_permute4x64_epi64(b, 0x08)));
}

/* A tile of MR rows from m (row i of the block) and the panel at n0 after
 * one block of K: adds the partial sums of the blocks before (kept in tile),
 * then keeps them for the next block or, after the last, finishes the rows
 * inside M. */
AVX2_TARGET static void tile_done(const fc_q8_gemm_args *g, __m256i c[MR][NV], int32_t *tile,
                                  bool first, bool last, int64_t m, const int32_t *fix,
                                  int64_t n0, int64_t nb)
{
    if (!(first && last)) /* K in more than one block */
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < NV; v++) {
                __m256i *t = (__m256i *)(tile + r * NR + 8 * v);
                if (!first)
                    c[r][v] = _mm256_add_epi32(c[r][v], _mm256_loadu_si256(t));
                if (!last)
                    _mm256_storeu_si256(t, c[r][v]);
            }
    if (!last)
        return;
    for (int r = 0; r < MR && m + r < g->M; r++) {
        const __m256i f = _mm256_set1_epi32(fix[r]);
        for (int v = 0; v < NV; v++)
            c[r][v] = _mm256_add_epi32(c[r][v], f);
        store_tile_row(g, m + r, n0, nb, c[r]);
    }
}

/* The loops around the micro-kernel.  ap: a block of mc rows of A; bp:
 * GROUP_MAX panels of at most KC pairs; fix: mc values; tiles: the partial
 * sums of mc rows x GROUP_MAX panels between blocks of K (NULL when K is one
 * block). */
AVX2_TARGET static void gemm_blocked(const fc_q8_gemm_args *g, int64_t kq, int64_t mc,
                                     int32_t *ap, int16_t *bp, int32_t *fix, int32_t *tiles)
{
    for (int64_t m0 = 0; m0 < g->M; m0 += mc) {
        const int64_t rows = g->M - m0 < mc ? (g->M - m0 + MR - 1) / MR * MR : mc;
        pack_a(g, m0, rows, kq, ap, fix);
        const int64_t group = (rows < GROUP_ROWS ? GROUP_MAX : 1) * NR;
        for (int64_t n1 = 0; n1 < g->N; n1 += group) {
            const int64_t nc = g->N - n1 < group ? g->N - n1 : group;
            for (int64_t p0 = 0; p0 < kq; p0 += KC) {
                const int64_t pc = kq - p0 < KC ? kq - p0 : KC;
                pack_b(g, n1, nc, p0, pc, bp);
                /* panel by panel, so that each stays in L1 while A passes */
                for (int64_t j = 0; j * NR < nc; j++) {
                    const int64_t n0 = n1 + j * NR, nb = nc - j * NR < NR ? nc - j * NR : NR;
                    for (int64_t i = 0; i < rows; i += MR) {
                        __m256i c[MR][NV];
                        micro_kernel(ap + i * kq + p0 * MR, bp + j * pc * PAIR_LEN, pc, c);
                        int32_t *tile = tiles ? tiles + ((i / MR) * GROUP_MAX + j) * MR * NR : NULL;
                        tile_done(g, c, tile, p0 == 0, p0 + pc == kq, m0 + i, fix + i, n0, nb);
                    }
                }
            }
        }
    }
}

void fc_q8_gemm_avx2(const fc_q8_gemm_args *g)
{
    if (g->M <= 0 || g->N <= 0)
        return;
    /* Fewer than 8 columns would waste most of each 16-column panel: the
     * portable kernel's dot products are faster there (measured). */
    if (g->K <= 0 || g->N < SMALL_N || !fc_q8_args_common(g)) {
        fc_q8_gemm_portable(g);
        return;
    }
    const int64_t kq = (g->K + 1) / 2;
    const int64_t m_pad = (g->M + MR - 1) / MR * MR;
    int64_t mc = (int64_t)(A_BLOCK_BYTES / ((size_t)kq * MR * sizeof(int32_t))) * MR;
    mc = mc < MR ? MR : mc > m_pad ? m_pad : mc;
    const int64_t pc = kq < KC ? kq : KC;
    const size_t a_bytes = (size_t)(mc * kq) * sizeof(int32_t);
    const size_t b_bytes = (size_t)(pc * PAIR_LEN * GROUP_MAX) * sizeof(int16_t);
    const size_t f_bytes = (size_t)mc * sizeof(int32_t);
    const size_t t_bytes = kq > KC ? (size_t)(mc * GROUP_MAX * NR) * sizeof(int32_t) : 0;
    const size_t a_span = (a_bytes + ALIGN - 1) / ALIGN * ALIGN;
    const size_t b_span = (b_bytes + ALIGN - 1) / ALIGN * ALIGN;
    const size_t f_span = (f_bytes + ALIGN - 1) / ALIGN * ALIGN;
    unsigned char *mem = fc_malloc(a_span + b_span + f_span + t_bytes + ALIGN);
    if (!mem) {
        fc_q8_gemm_portable(g); /* same result, less memory */
        return;
    }
    /* cache-line aligned panels: the kernel's 32-byte loads never split a line */
    unsigned char *base = mem + (ALIGN - (uintptr_t)mem % ALIGN) % ALIGN;
    int32_t *tiles = t_bytes ? (int32_t *)(base + a_span + b_span + f_span) : NULL;
    gemm_blocked(g, kq, mc, (int32_t *)base, (int16_t *)(base + a_span),
                 (int32_t *)(base + a_span + b_span), tiles);
    fc_free(mem);
}
