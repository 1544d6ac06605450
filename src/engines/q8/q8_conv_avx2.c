/* The AVX2 pieces of the fast int8 conv (q8_conv.h), on the layout of
 * q8_gemm_avx2.c: both operands widened to int16 and multiplied with
 * vpmaddwd, whose pair sums land in int32 exactly (vpmaddubsw would
 * saturate on legal inputs, see q8_gemm_avx2.c).
 *
 * Requantization as in q8_gemm_avx2.c: x = float(acc) * mult, clamped to
 * [qmin - y_zp, qmax - y_zp], vcvtps2dq (nearest-even under the default
 * MXCSR, the reference's round-half-even), + y_zp.  Rows whose multiplier
 * is NaN or infinite go through fc_q8c_store_any. */
#include <immintrin.h>
#include <string.h>

#include "q8_conv.h"

#define AVX2_TARGET __attribute__((target("avx2")))
#ifdef __clang__
#define KERNEL_ATTR __attribute__((noinline))
#else
/* Kept out of line and unspecialised: GCC 12 adds a register copy per
 * accumulator when it inlines such a loop (q8_gemm_avx2.c measured 7%). */
#define KERNEL_ATTR __attribute__((noipa))
#endif

AVX2_TARGET static inline __m256i widen(__m128i v, bool x_signed)
{
    return x_signed ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
}

AVX2_TARGET static void pack_pair(const uint8_t *r0, const uint8_t *r1, int64_t nc, bool x_signed,
                                  int16_t *b, int64_t kq)
{
    const int64_t stride = kq * 2 * Q8C_NR;
    for (int64_t j0 = 0; j0 < nc; j0 += Q8C_NR, b += stride) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(r0 + j0));
        const __m128i y = r1 ? _mm_loadu_si128((const __m128i *)(r1 + j0)) : _mm_setzero_si128();
        _mm256_storeu_si256((__m256i *)b, widen(_mm_unpacklo_epi8(x, y), x_signed));
        _mm256_storeu_si256((__m256i *)(b + 16), widen(_mm_unpackhi_epi8(x, y), x_signed));
    }
}

AVX2_TARGET static inline __m256i bcast_pair(const int16_t *a)
{
    int32_t w;
    memcpy(&w, a, sizeof w);
    return _mm256_set1_epi32(w);
}

/* The 4 x 16 accumulators of one tile: c[r][v], columns 8v .. 8v + 7. */
AVX2_TARGET static inline void tile_acc(const int16_t *a, const int16_t *b, int64_t kq,
                                        const int32_t *fix, __m256i c[Q8C_MR][2])
{
    _Static_assert(Q8C_MR == 4 && Q8C_NR == 16, "the accumulators below are a 4 x 16 tile");
    __m256i c00 = _mm256_set1_epi32(fix[0]), c01 = c00;
    __m256i c10 = _mm256_set1_epi32(fix[1]), c11 = c10;
    __m256i c20 = _mm256_set1_epi32(fix[2]), c21 = c20;
    __m256i c30 = _mm256_set1_epi32(fix[3]), c31 = c30;
    for (int64_t p = 0; p < kq; p++, a += 2 * Q8C_MR, b += 2 * Q8C_NR) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
        __m256i w = bcast_pair(a);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(w, b0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(w, b1));
        w = bcast_pair(a + 2);
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(w, b0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(w, b1));
        w = bcast_pair(a + 4);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(w, b0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(w, b1));
        w = bcast_pair(a + 6);
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(w, b0));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(w, b1));
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

AVX2_TARGET KERNEL_ATTR static void tile(const int16_t *a, const int16_t *b, int64_t kq,
                                         const int32_t *fix, int32_t acc[Q8C_MR][Q8C_NR])
{
    __m256i c[Q8C_MR][2];
    tile_acc(a, b, kq, fix, c);
    for (int r = 0; r < Q8C_MR; r++) {
        _mm256_storeu_si256((__m256i *)&acc[r][0], c[r][0]);
        _mm256_storeu_si256((__m256i *)&acc[r][8], c[r][1]);
    }
}

AVX2_TARGET static inline __m256i requant8(__m256i v, __m256 scale, __m256 lo, __m256 hi,
                                           __m256i zp)
{
    __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(v), scale);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(x), zp);
}

/* 16 requantized columns of one row to dst. */
AVX2_TARGET static inline void requant16(__m256i v0, __m256i v1, float mult, const q8c_out *o,
                                         unsigned char *dst)
{
    const __m256 scale = _mm256_set1_ps(mult);
    const __m256 lo = _mm256_set1_ps((float)(o->qmin - o->y_zp));
    const __m256 hi = _mm256_set1_ps((float)(o->qmax - o->y_zp));
    const __m256i zp = _mm256_set1_epi32(o->y_zp);
    /* values in [qmin, qmax], inside the stored type: packing never saturates */
    const __m256i w = _mm256_permute4x64_epi64(
        _mm256_packs_epi32(requant8(v0, scale, lo, hi, zp), requant8(v1, scale, lo, hi, zp)), 0xD8);
    const __m256i y = o->y_signed ? _mm256_packs_epi16(w, w) : _mm256_packus_epi16(w, w);
    _mm_storeu_si128((__m128i *)dst, _mm256_castsi256_si128(_mm256_permute4x64_epi64(y, 0x08)));
}

AVX2_TARGET KERNEL_ATTR static void tile_store(const int16_t *a, const int16_t *b, int64_t kq,
                                               const int32_t *fix, const q8c_out *o, int64_t m0,
                                               int rows, unsigned char *dst, size_t ldd)
{
    __m256i c[Q8C_MR][2];
    tile_acc(a, b, kq, fix, c);
    for (int r = 0; r < rows; r++, dst += ldd) {
        if (!o->mult) {
            _mm256_storeu_si256((__m256i *)dst, c[r][0]);
            _mm256_storeu_si256((__m256i *)(dst + 32), c[r][1]);
        } else if (o->row_fast[m0 + r]) {
            requant16(c[r][0], c[r][1], o->mult[m0 + r], o, dst);
        } else {
            int32_t acc[Q8C_NR];
            _mm256_storeu_si256((__m256i *)acc, c[r][0]);
            _mm256_storeu_si256((__m256i *)(acc + 8), c[r][1]);
            fc_q8c_store_any(o, m0 + r, acc, Q8C_NR, dst);
        }
    }
}

/* Winograd's products: 4 rows of V (pairs broadcast from each row) times
 * one packed panel of 16 channels. */
AVX2_TARGET KERNEL_ATTR static void wino_tile(const int16_t *const v[Q8C_MR], const int16_t *u,
                                              int64_t kq, int32_t out[Q8C_MR][Q8C_NR])
{
    const int16_t *v0 = v[0], *v1 = v[1], *v2 = v[2], *v3 = v[3];
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00;
    __m256i c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (int64_t p = 0; p < kq; p++, u += 2 * Q8C_NR) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)u);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(u + 16));
        __m256i w = bcast_pair(v0 + 2 * p);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(w, b0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(w, b1));
        w = bcast_pair(v1 + 2 * p);
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(w, b0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(w, b1));
        w = bcast_pair(v2 + 2 * p);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(w, b0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(w, b1));
        w = bcast_pair(v3 + 2 * p);
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(w, b0));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(w, b1));
    }
    _mm256_storeu_si256((__m256i *)&out[0][0], c00);
    _mm256_storeu_si256((__m256i *)&out[0][8], c01);
    _mm256_storeu_si256((__m256i *)&out[1][0], c10);
    _mm256_storeu_si256((__m256i *)&out[1][8], c11);
    _mm256_storeu_si256((__m256i *)&out[2][0], c20);
    _mm256_storeu_si256((__m256i *)&out[2][8], c21);
    _mm256_storeu_si256((__m256i *)&out[3][0], c30);
    _mm256_storeu_si256((__m256i *)&out[3][8], c31);
}

AVX2_TARGET static void wino_transform(const int16_t *d, int64_t rs, int64_t cp, int16_t *o,
                                       int64_t os)
{
    for (int64_t c = 0; c < cp; c += 16) {
        __m256i t[4][4];
        for (int j = 0; j < 4; j++) { /* B^T d, column j */
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)(d + j * cp + c));
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(d + rs + j * cp + c));
            const __m256i b2 = _mm256_loadu_si256((const __m256i *)(d + 2 * rs + j * cp + c));
            const __m256i b3 = _mm256_loadu_si256((const __m256i *)(d + 3 * rs + j * cp + c));
            t[0][j] = _mm256_sub_epi16(b0, b2);
            t[1][j] = _mm256_add_epi16(b1, b2);
            t[2][j] = _mm256_sub_epi16(b2, b1);
            t[3][j] = _mm256_sub_epi16(b1, b3);
        }
        for (int i = 0; i < 4; i++) { /* (B^T d) B */
            int16_t *r = o + 4 * i * os + c;
            _mm256_storeu_si256((__m256i *)r, _mm256_sub_epi16(t[i][0], t[i][2]));
            _mm256_storeu_si256((__m256i *)(r + os), _mm256_add_epi16(t[i][1], t[i][2]));
            _mm256_storeu_si256((__m256i *)(r + 2 * os), _mm256_sub_epi16(t[i][2], t[i][1]));
            _mm256_storeu_si256((__m256i *)(r + 3 * os), _mm256_sub_epi16(t[i][1], t[i][3]));
        }
    }
}

/* 16 requantized int32 (per-lane multipliers) to 16 bytes. */
AVX2_TARGET static inline void requant16_lanes(__m256i v0, __m256i v1, const float *mult,
                                               const q8c_out *o, uint8_t *dst)
{
    const __m256 lo = _mm256_set1_ps((float)(o->qmin - o->y_zp));
    const __m256 hi = _mm256_set1_ps((float)(o->qmax - o->y_zp));
    const __m256i zp = _mm256_set1_epi32(o->y_zp);
    const __m256i w = _mm256_permute4x64_epi64(
        _mm256_packs_epi32(requant8(v0, _mm256_loadu_ps(mult), lo, hi, zp),
                           requant8(v1, _mm256_loadu_ps(mult + 8), lo, hi, zp)),
        0xD8);
    const __m256i y = o->y_signed ? _mm256_packs_epi16(w, w) : _mm256_packus_epi16(w, w);
    _mm_storeu_si128((__m128i *)dst, _mm256_castsi256_si128(_mm256_permute4x64_epi64(y, 0x08)));
}

AVX2_TARGET static void wino_finish(const int32_t acc[16][Q8C_MR][Q8C_NR], int r,
                                    const int32_t *bias, const q8c_out *o, const float *mult,
                                    int32_t y[4][Q8C_NR], uint8_t b[4][Q8C_NR])
{
    for (int h = 0; h < 2; h++) { /* 8 channels at a time */
        __m256i t0[4], t1[4];
        for (int j = 0; j < 4; j++) {
            const __m256i m0 = _mm256_loadu_si256((const __m256i *)&acc[j][r][8 * h]);
            const __m256i m1 = _mm256_loadu_si256((const __m256i *)&acc[4 + j][r][8 * h]);
            const __m256i m2 = _mm256_loadu_si256((const __m256i *)&acc[8 + j][r][8 * h]);
            const __m256i m3 = _mm256_loadu_si256((const __m256i *)&acc[12 + j][r][8 * h]);
            t0[j] = _mm256_add_epi32(_mm256_add_epi32(m0, m1), m2);
            t1[j] = _mm256_sub_epi32(_mm256_sub_epi32(m1, m2), m3);
        }
        const __m256i bl = _mm256_loadu_si256((const __m256i *)(bias + 8 * h));
        /* exact: 4 times the direct sum (q8_conv_wino.c) */
        const __m256i q[4] = {
            _mm256_add_epi32(_mm256_add_epi32(t0[0], t0[1]), t0[2]),
            _mm256_sub_epi32(_mm256_sub_epi32(t0[1], t0[2]), t0[3]),
            _mm256_add_epi32(_mm256_add_epi32(t1[0], t1[1]), t1[2]),
            _mm256_sub_epi32(_mm256_sub_epi32(t1[1], t1[2]), t1[3]),
        };
        for (int p = 0; p < 4; p++)
            _mm256_storeu_si256((__m256i *)&y[p][8 * h],
                                _mm256_add_epi32(_mm256_srai_epi32(q[p], 2), bl));
    }
    if (!mult)
        return;
    for (int p = 0; p < 4; p++)
        requant16_lanes(_mm256_loadu_si256((const __m256i *)y[p]),
                        _mm256_loadu_si256((const __m256i *)(y[p] + 8)), mult, o, b[p]);
}

/* 8 channels x 8 columns per block: widen, subtract, transpose 8 x 8
 * int16; the edges one value at a time. */
AVX2_TARGET static void to_channels_last(const uint8_t *src, size_t plane, int64_t nc,
                                         int64_t ncols, bool x_signed, int32_t zp, int16_t *dst,
                                         int64_t cp)
{
    const __m128i z = _mm_set1_epi16((int16_t)zp);
    int64_t c0 = 0;
    for (; c0 + 8 <= nc; c0 += 8) {
        int64_t col = 0;
        for (; col + 8 <= ncols; col += 8) {
            __m128i r[8];
            for (int i = 0; i < 8; i++) {
                const uint8_t *at = src + (size_t)(c0 + i) * plane + (size_t)col;
                const __m128i b = _mm_loadl_epi64((const __m128i *)at);
                r[i] = _mm_sub_epi16(x_signed ? _mm_cvtepi8_epi16(b) : _mm_cvtepu8_epi16(b), z);
            }
            const __m128i a0 = _mm_unpacklo_epi16(r[0], r[1]), a1 = _mm_unpackhi_epi16(r[0], r[1]);
            const __m128i a2 = _mm_unpacklo_epi16(r[2], r[3]), a3 = _mm_unpackhi_epi16(r[2], r[3]);
            const __m128i a4 = _mm_unpacklo_epi16(r[4], r[5]), a5 = _mm_unpackhi_epi16(r[4], r[5]);
            const __m128i a6 = _mm_unpacklo_epi16(r[6], r[7]), a7 = _mm_unpackhi_epi16(r[6], r[7]);
            const __m128i b0 = _mm_unpacklo_epi32(a0, a2), b1 = _mm_unpackhi_epi32(a0, a2);
            const __m128i b2 = _mm_unpacklo_epi32(a1, a3), b3 = _mm_unpackhi_epi32(a1, a3);
            const __m128i b4 = _mm_unpacklo_epi32(a4, a6), b5 = _mm_unpackhi_epi32(a4, a6);
            const __m128i b6 = _mm_unpacklo_epi32(a5, a7), b7 = _mm_unpackhi_epi32(a5, a7);
            const __m128i out[8] = {
                _mm_unpacklo_epi64(b0, b4), _mm_unpackhi_epi64(b0, b4),
                _mm_unpacklo_epi64(b1, b5), _mm_unpackhi_epi64(b1, b5),
                _mm_unpacklo_epi64(b2, b6), _mm_unpackhi_epi64(b2, b6),
                _mm_unpacklo_epi64(b3, b7), _mm_unpackhi_epi64(b3, b7),
            };
            for (int j = 0; j < 8; j++)
                _mm_storeu_si128((__m128i *)(dst + (col + j) * cp + c0), out[j]);
        }
        for (; col < ncols; col++)
            for (int64_t c = c0; c < c0 + 8; c++) {
                const uint8_t v = src[(size_t)c * plane + (size_t)col];
                dst[col * cp + c] = (int16_t)((x_signed ? (int32_t)(int8_t)v : v) - zp);
            }
    }
    for (int64_t c = c0; c < nc; c++)
        for (int64_t col = 0; col < ncols; col++) {
            const uint8_t v = src[(size_t)c * plane + (size_t)col];
            dst[col * cp + c] = (int16_t)((x_signed ? (int32_t)(int8_t)v : v) - zp);
        }
}

const q8c_wino_isa fc_q8c_wino_avx2 = {.tile = wino_tile,
                                       .transform = wino_transform,
                                       .finish = wino_finish,
                                       .to_channels_last = to_channels_last};

/* 8 outputs per 16 bytes read; a last, overlapping block instead of a
 * scalar tail (it rewrites the same values), never past d0[n-1], d1[n-1]. */
AVX2_TARGET static void split2(const uint8_t *src, uint8_t *d0, uint8_t *d1, int64_t n)
{
    if (n < 8) {
        for (int64_t i = 0; i < n; i++) {
            d0[i] = src[2 * i];
            d1[i] = src[2 * i + 1];
        }
        return;
    }
    const __m128i evens_odds =
        _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    for (int64_t i = 0;; i += 8) {
        if (i > n - 8)
            i = n - 8;
        const __m128i v =
            _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(src + 2 * i)), evens_odds);
        _mm_storel_epi64((__m128i *)(d0 + i), v);
        _mm_storel_epi64((__m128i *)(d1 + i), _mm_srli_si128(v, 8));
        if (i == n - 8)
            break;
    }
}

const q8c_isa fc_q8c_avx2 = {
    .pack_pair = pack_pair, .tile = tile, .split2 = split2, .tile_store = tile_store};
