/* Winograd F(2x2, 3x3) convolution for the f32 engine (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016).
 *
 * A 2x2 output tile of a 3x3 convolution is
 *   Y = A^T [ (G g G^T) . (B^T d B) ] A
 * with d the 4x4 input patch, g the 3x3 filter and . the elementwise
 * product; summed over input channels, the 16 elementwise products become
 * 16 independent matrix products [tiles x C] x [C x M] (fc_f32_small_gemm),
 * which need 2.25x fewer multiplications than the direct convolution.  The
 * transform matrices hold only 0, +-1 and +-1/2, so the extra rounding is a
 * few ulp.  A block whose input holds a NaN or an infinity is computed
 * directly instead: the transforms would smear it over whole tiles, where
 * the direct sum (and f32-ref) confines it to the windows that contain it.
 *
 * Data layout, per block of tile rows of one image (sized to stay in L2),
 * channel counts rounded up to cp, mp (multiples of 8, zero padded):
 *   xp [rows][cols][cp]   the block's padded input, channels last, so that
 *                         the input transform runs over contiguous channels
 *   v  [16][T][cp]        transformed input, T tiles
 *   u  [16][C][mp]        transformed weights (once per call, shared)
 *   mo [16][T][mp]        v[xi] x u[xi] for each of the 16 positions xi
 *   yt [2*rows][yc][mp]   output tiles (bias and clamp applied), channels
 *                         last, then transposed into Y [M, Ho, Wo].
 * Each block is computed the same way whichever thread runs it. */
#include <math.h>
#include <string.h>

#include "../../core/fc_alloc.h"
#include "f32_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define F32_X86 1
#else
#define F32_X86 0
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* ---- Winograd F(2x2, 3x3) ------------------------------------------------- */

/* Scratch bytes one row of tiles may need before Winograd gives way. */
#define F32_WINO_ROW_CAP ((size_t)32 << 20)

bool fc_f32_winograd_fits(const fc_window *w, int64_t c, int64_t m, int64_t group)
{
    /* Few channels make the 16 products too thin to beat im2col. */
    if (group != 1 || c < 16 || m < 16)
        return false;
    /* A block is at least one row of tiles; its buffers must stay modest
     * (im2col, which chunks any size, takes very wide inputs). */
    const double row_bytes = 4.0 * (double)(w->out[2] + 1) / 2 * 16.0 * (double)(c + m + 16);
    if (row_bytes > (double)F32_WINO_ROW_CAP)
        return false;
    if (w->in[0] != 1 || w->kernel[0] != 1 || w->kernel[1] != 3 || w->kernel[2] != 3)
        return false;
    for (int i = 0; i < 3; i++)
        if (w->stride[i] != 1 || w->dilation[i] != 1)
            return false;
    return w->pad_begin[0] == 0 && w->pad_end[0] == 0;
}

static size_t round8(size_t v) { return (v + 7) & ~(size_t)7; }

typedef struct wino_job {
    int64_t n, c, m, h, w, ho, wo, pt, pl;
    int64_t th, tw;            /* tiles per column and per row of an image */
    int64_t rows, blocks;      /* tile rows per block, blocks per image */
    size_t cp, mp;             /* C and M rounded up to 8 (zero padding) */
    size_t pc, yc;             /* xp and yt row lengths: round8(2*tw + 2), round8(2*tw) */
    size_t xp_len, v_len, mo_len, yt_len, line_len, col_len, per_thread;   /* floats */
    const float *x, *wt, *u, *bias;
    const float *biasp;        /* bias padded to mp with zeros (zeros without bias) */
    float *y, *scratch;
    float lo, hi;
    bool avx2;
} wino_job;

/* u[xi][c][m] = (G g G^T)[xi] for filter g = wt[m][c], rows of length mp
 * (columns m >= M zero); G rows: (1,0,0) (.5,.5,.5) (.5,-.5,.5) (0,0,1). */
static void weight_transform(const wino_job *J, const float *wt, float *u)
{
    const size_t C = (size_t)J->c, M = (size_t)J->m, mp = J->mp;
    memset(u, 0, 16 * C * mp * sizeof *u);
    for (size_t om = 0; om < M; om++)
        for (size_t ic = 0; ic < C; ic++) {
            const float *g = wt + (om * C + ic) * 9;
            float t[4][3];
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            for (int i = 0; i < 4; i++) {
                const float r[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]),
                                    0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
                for (int j = 0; j < 4; j++)
                    u[((size_t)(i * 4 + j) * C + ic) * mp + om] = r[j];
            }
        }
}

/* line[s] = X[n][c][ih][s - pl] for s < len, 0 outside X. */
static void input_line(const wino_job *J, int64_t n, int64_t c, int64_t ih, float *line,
                       size_t len)
{
    const int64_t s_lo = J->pl < (int64_t)len ? J->pl : (int64_t)len;
    const int64_t s_hi = J->pl + J->w < (int64_t)len ? J->pl + J->w : (int64_t)len;
    const float *xr = J->x + (((size_t)n * (size_t)J->c + (size_t)c) * (size_t)J->h +
                              (size_t)ih) * (size_t)J->w;
    memset(line, 0, len * sizeof *line);
    if (s_hi > s_lo)
        memcpy(line + s_lo, xr + (s_lo - J->pl), (size_t)(s_hi - s_lo) * sizeof *line);
}

/* The four stages of a block, portable versions.  Layouts (see the top of
 * the file): xp [2*rows + 2][pc][cp], v [16][T][cp], mo [16][T][mp],
 * yt [2*rows][yc][mp]; tile t = i*tw + j covers xp rows 2i..2i+3 and
 * columns 2j..2j+3. */

/* xp[r][s][c] = X[n][c][2*ty0 - pt + r][s - pl], 0 outside X.  Returns
 * false when the block's input holds a NaN or an infinity. */
static bool pack_c(const wino_job *J, int64_t n, int64_t ty0, int64_t rows, float *xp,
                   float *line)
{
    const size_t pc = J->pc, cp = J->cp;
    bool finite = true;
    for (int64_t r = 0; r < 2 * rows + 2; r++) {
        float *row = xp + (size_t)r * pc * cp;
        const int64_t ih = 2 * ty0 - J->pt + r;
        memset(row, 0, pc * cp * sizeof *row);
        if (ih < 0 || ih >= J->h)
            continue;
        for (int64_t c = 0; c < J->c; c++) {
            input_line(J, n, c, ih, line, pc);
            for (size_t s = 0; s < pc; s++) {
                row[s * cp + (size_t)c] = line[s];
                finite = finite && isfinite(line[s]);
            }
        }
    }
    return finite;
}

/* v[4r + s][t][c] = (B^T d B)[r][s] for the tile's 4x4 patch d;
 * B^T rows: (1,0,-1,0) (0,1,1,0) (0,-1,1,0) (0,1,0,-1). */
static void in_xform_c(const wino_job *J, int64_t rows, const float *xp, float *v)
{
    const size_t cp = J->cp, rs = J->pc * cp, T = (size_t)(rows * J->tw);
    for (size_t t = 0; t < T; t++) {
        const float *d = xp + ((t / (size_t)J->tw) * 2 * J->pc + (t % (size_t)J->tw) * 2) * cp;
        for (size_t c = 0; c < cp; c++) {
            float b[4][4];
            for (size_t s = 0; s < 4; s++) {
                const float d0 = d[s * cp + c], d1 = d[rs + s * cp + c];
                const float d2 = d[2 * rs + s * cp + c], d3 = d[3 * rs + s * cp + c];
                b[0][s] = d0 - d2;
                b[1][s] = d1 + d2;
                b[2][s] = d2 - d1;
                b[3][s] = d1 - d3;
            }
            for (size_t r = 0; r < 4; r++) {
                v[((4 * r + 0) * T + t) * cp + c] = b[r][0] - b[r][2];
                v[((4 * r + 1) * T + t) * cp + c] = b[r][1] + b[r][2];
                v[((4 * r + 2) * T + t) * cp + c] = b[r][2] - b[r][1];
                v[((4 * r + 3) * T + t) * cp + c] = b[r][1] - b[r][3];
            }
        }
    }
}

/* yt[2i + a][2j + b][m] = clamp(bias[m] + (A^T mo A)[a][b]);
 * A^T rows: (1,1,1,0) (0,1,-1,-1). */
static void out_xform_c(const wino_job *J, int64_t rows, const float *mo, float *yt)
{
    const size_t mp = J->mp, T = (size_t)(rows * J->tw), yrow = J->yc * mp;
    for (size_t t = 0; t < T; t++) {
        float *y0 = yt + (t / (size_t)J->tw) * 2 * yrow + (t % (size_t)J->tw) * 2 * mp;
        for (size_t m = 0; m < mp; m++) {
            float s[2][4];
            for (size_t q = 0; q < 4; q++) {
                const float m0 = mo[(q * T + t) * mp + m], m1 = mo[((4 + q) * T + t) * mp + m];
                const float m2 = mo[((8 + q) * T + t) * mp + m];
                const float m3 = mo[((12 + q) * T + t) * mp + m];
                s[0][q] = m0 + m1 + m2;
                s[1][q] = m1 - m2 - m3;
            }
            const float b = J->biasp[m];
            const float o[4] = {s[0][0] + s[0][1] + s[0][2], s[0][1] - s[0][2] - s[0][3],
                                s[1][0] + s[1][1] + s[1][2], s[1][1] - s[1][2] - s[1][3]};
            float *dst[4] = {y0 + m, y0 + mp + m, y0 + yrow + m, y0 + yrow + mp + m};
            for (int e = 0; e < 4; e++) {
                float val = o[e] + b;
                val = val < J->lo ? J->lo : val;
                *dst[e] = val > J->hi ? J->hi : val;
            }
        }
    }
}

/* Y[n][m][oh][ow] = yt[oh - 2*ty0][ow][m] inside Y. */
static void store_c(const wino_job *J, int64_t n, int64_t ty0, int64_t rows, const float *yt)
{
    const int64_t oh0 = 2 * ty0, oh1 = oh0 + 2 * rows < J->ho ? oh0 + 2 * rows : J->ho;
    const size_t plane = (size_t)(J->ho * J->wo), wo = (size_t)J->wo;
    float *yn = J->y + (size_t)n * (size_t)J->m * plane;
    for (int64_t oh = oh0; oh < oh1; oh++) {
        const float *src = yt + (size_t)(oh - oh0) * J->yc * J->mp;
        for (size_t m = 0; m < (size_t)J->m; m++)
            for (size_t ow = 0; ow < wo; ow++)
                yn[m * plane + (size_t)oh * wo + ow] = src[ow * J->mp + m];
    }
}

#if F32_X86
/* The same four stages on 8 channels at a time.  The adds and subtracts are
 * those of the portable versions in the same order, so both give the same
 * bits; only the data movement differs (8x8 transposes). */

/* r[0..7] (8 floats each) -> their transpose, in place. */
__attribute__((target("avx2,fma"))) static ALWAYS_INLINE void transpose8(__m256 r[8])
{
    __m256 t[8], s[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) {
        s[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        s[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
        s[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        s[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x20);
        r[4 + i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x31);
    }
}

/* Lanes j of xr[off + j] for 0 <= off + j < w, 0 elsewhere: for rows
 * narrower than 8. */
__attribute__((target("avx2,fma"))) static __m256 load_narrow(const float *xr, int64_t off,
                                                              int64_t w)
{
    float tmp[8];
    for (int64_t j = 0; j < 8; j++)
        tmp[j] = off + j >= 0 && off + j < w ? xr[off + j] : 0.0f;
    return _mm256_loadu_ps(tmp);
}

/* Input columns are moved 8 at a time from the start of each row (the last
 * 8 overlapping the previous ones when W is not a multiple of 8), so every
 * load is a plain one inside the row; the pad columns of xp are zeroed
 * apart. */
__attribute__((target("avx2,fma"))) static bool pack_avx2(const wino_job *J, int64_t n,
                                                          int64_t ty0, int64_t rows, float *xp)
{
    const size_t pc = J->pc, cp = J->cp, C = (size_t)J->c, W = (size_t)J->w;
    const size_t pl = (size_t)J->pl, chw = (size_t)J->h * W;
    const float *xn = J->x + (size_t)n * C * chw;
    /* x - x is +0 for every finite x and NaN otherwise: OR-ing the bits of
     * all of them leaves zero exactly when the block is finite. */
    __m256 bad = _mm256_setzero_ps();
    const __m256 zero = _mm256_setzero_ps();
    /* The block's input comes from L3 or memory in short pieces (8 channel
     * rows at a time) that the hardware prefetcher does not anticipate;
     * asking for all of it first lets the misses overlap. */
    const int64_t ih0 = 2 * ty0 - J->pt < 0 ? 0 : 2 * ty0 - J->pt;
    const int64_t ih1 = 2 * ty0 - J->pt + 2 * rows + 2 < J->h ? 2 * ty0 - J->pt + 2 * rows + 2
                                                              : J->h;
    for (size_t c = 0; c < C && ih1 > ih0; c++) {
        const char *p0 = (const char *)(xn + c * chw + (size_t)ih0 * W);
        const size_t bytes = (size_t)(ih1 - ih0) * W * sizeof(float);
        for (size_t off = 0; off < bytes; off += 64)
            _mm_prefetch(p0 + off, _MM_HINT_T0);
        _mm_prefetch(p0 + bytes - 1, _MM_HINT_T0);
    }
    for (size_t c0 = 0; c0 < cp; c0 += 8)
        for (int64_t r = 0; r < 2 * rows + 2; r++) {
            float *row = xp + (size_t)r * pc * cp + c0;
            const int64_t ih = 2 * ty0 - J->pt + r;
            if (ih < 0 || ih >= J->h) {
                for (size_t s = 0; s < pc; s++)
                    _mm256_storeu_ps(row + s * cp, zero);
                continue;
            }
            for (size_t s = 0; s < pc; s++)
                if (s < pl || s >= pl + W)
                    _mm256_storeu_ps(row + s * cp, zero);
            const float *xr = xn + (size_t)ih * W;
            for (size_t i = 0; i < W && pl + i < pc; i += 8) {
                const size_t i0 = W < 8 || i + 8 <= W ? i : W - 8;
                __m256 v[8];
                for (size_t k = 0; k < 8; k++) {
                    const float *src = xr + (c0 + k) * chw;
                    v[k] = c0 + k >= C ? zero
                           : W < 8     ? load_narrow(src, (int64_t)i0, (int64_t)W)
                                       : _mm256_loadu_ps(src + i0);
                    bad = _mm256_or_ps(bad, _mm256_sub_ps(v[k], v[k]));
                }
                transpose8(v);
                for (size_t k = 0; k < 8 && i0 + k < W && pl + i0 + k < pc; k++)
                    _mm256_storeu_ps(row + (pl + i0 + k) * cp, v[k]);
            }
        }
    return _mm256_testz_si256(_mm256_castps_si256(bad), _mm256_castps_si256(bad));
}

__attribute__((target("avx2,fma"))) static void in_xform_avx2(const wino_job *J, int64_t rows,
                                                              const float *xp, float *v)
{
    const size_t cp = J->cp, rs = J->pc * cp, T = (size_t)(rows * J->tw), vs = T * cp;
    for (size_t t = 0; t < T; t++) {
        const float *d = xp + ((t / (size_t)J->tw) * 2 * J->pc + (t % (size_t)J->tw) * 2) * cp;
        float *vt = v + t * cp;
        for (size_t c = 0; c < cp; c += 8) {
            __m256 b[4][4];
            for (size_t s = 0; s < 4; s++) {
                const __m256 d0 = _mm256_loadu_ps(d + s * cp + c);
                const __m256 d1 = _mm256_loadu_ps(d + rs + s * cp + c);
                const __m256 d2 = _mm256_loadu_ps(d + 2 * rs + s * cp + c);
                const __m256 d3 = _mm256_loadu_ps(d + 3 * rs + s * cp + c);
                b[0][s] = _mm256_sub_ps(d0, d2);
                b[1][s] = _mm256_add_ps(d1, d2);
                b[2][s] = _mm256_sub_ps(d2, d1);
                b[3][s] = _mm256_sub_ps(d1, d3);
            }
            for (size_t r = 0; r < 4; r++) {
                _mm256_storeu_ps(vt + (4 * r + 0) * vs + c, _mm256_sub_ps(b[r][0], b[r][2]));
                _mm256_storeu_ps(vt + (4 * r + 1) * vs + c, _mm256_add_ps(b[r][1], b[r][2]));
                _mm256_storeu_ps(vt + (4 * r + 2) * vs + c, _mm256_sub_ps(b[r][2], b[r][1]));
                _mm256_storeu_ps(vt + (4 * r + 3) * vs + c, _mm256_sub_ps(b[r][1], b[r][3]));
            }
        }
    }
}

__attribute__((target("avx2,fma"))) static void out_xform_avx2(const wino_job *J, int64_t rows,
                                                               const float *mo, float *yt)
{
    const size_t mp = J->mp, T = (size_t)(rows * J->tw), yrow = J->yc * mp, ms = T * mp;
    const __m256 lo = _mm256_set1_ps(J->lo), hi = _mm256_set1_ps(J->hi);
    for (size_t t = 0; t < T; t++) {
        float *y0 = yt + (t / (size_t)J->tw) * 2 * yrow + (t % (size_t)J->tw) * 2 * mp;
        const float *mt = mo + t * mp;
        for (size_t m = 0; m < mp; m += 8) {
            __m256 s0[4], s1[4];
            for (size_t q = 0; q < 4; q++) {
                const __m256 m0 = _mm256_loadu_ps(mt + q * ms + m);
                const __m256 m1 = _mm256_loadu_ps(mt + (4 + q) * ms + m);
                const __m256 m2 = _mm256_loadu_ps(mt + (8 + q) * ms + m);
                const __m256 m3 = _mm256_loadu_ps(mt + (12 + q) * ms + m);
                s0[q] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
                s1[q] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
            }
            __m256 o[4] = {
                _mm256_add_ps(_mm256_add_ps(s0[0], s0[1]), s0[2]),
                _mm256_sub_ps(_mm256_sub_ps(s0[1], s0[2]), s0[3]),
                _mm256_add_ps(_mm256_add_ps(s1[0], s1[1]), s1[2]),
                _mm256_sub_ps(_mm256_sub_ps(s1[1], s1[2]), s1[3]),
            };
            float *dst[4] = {y0 + m, y0 + mp + m, y0 + yrow + m, y0 + yrow + mp + m};
            const __m256 b = _mm256_loadu_ps(J->biasp + m);
            for (int e = 0; e < 4; e++)
                _mm256_storeu_ps(dst[e], _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(o[e], b))));
        }
    }
}

__attribute__((target("avx2,fma"))) static void store_avx2(const wino_job *J, int64_t n,
                                                           int64_t ty0, int64_t rows,
                                                           const float *yt)
{
    const int64_t oh0 = 2 * ty0, oh1 = oh0 + 2 * rows < J->ho ? oh0 + 2 * rows : J->ho;
    const size_t plane = (size_t)(J->ho * J->wo), wo = (size_t)J->wo, M = (size_t)J->m;
    const size_t mp = J->mp;
    float *yn = J->y + (size_t)n * M * plane;
    /* Channel groups outermost, so that Y is written as 8 sequential
     * streams (one per channel plane). */
    for (size_t m0 = 0; m0 < M; m0 += 8) {
        const size_t kn = M - m0 < 8 ? M - m0 : 8;
        for (int64_t oh = oh0; oh < oh1; oh++) {
            const float *src = yt + (size_t)(oh - oh0) * J->yc * mp + m0;
            float *dst = yn + m0 * plane + (size_t)oh * wo;
            for (size_t w = 0; w < wo; w += 8) {
                /* A ragged last block is stored as the full block ending at
                 * wo (rewriting a few values with themselves): masked
                 * stores are slow on AMD.  Rows narrower than 8 go through
                 * a buffer.  Columns of yt up to yc (a multiple of 8)
                 * exist, so the loads stay inside. */
                const size_t w0 = w + 8 <= wo || wo < 8 ? w : wo - 8;
                __m256 v[8];
                for (size_t k = 0; k < 8; k++)
                    v[k] = _mm256_loadu_ps(src + (w0 + k) * mp);
                transpose8(v);
                for (size_t k = 0; k < kn; k++) {
                    if (wo >= 8) {
                        _mm256_storeu_ps(dst + k * plane + w0, v[k]);
                        continue;
                    }
                    float tmp[8];
                    _mm256_storeu_ps(tmp, v[k]);
                    for (size_t j = 0; j < wo; j++)
                        dst[k * plane + j] = tmp[j];
                }
            }
        }
    }
}
#endif

/* The block's outputs as plain sums (im2col of up to 64 outputs of a row
 * at a time, then fc_f32_small_gemm): for input that is not finite. */
static void direct_block(const wino_job *J, int64_t n, int64_t ty0, int64_t rows, float *col)
{
    const int64_t oh0 = 2 * ty0, oh1 = oh0 + 2 * rows < J->ho ? oh0 + 2 * rows : J->ho;
    const size_t plane = (size_t)(J->ho * J->wo), K = 9 * (size_t)J->c;
    const float *xn = J->x + (size_t)n * (size_t)J->c * (size_t)(J->h * J->w);
    float *yn = J->y + (size_t)n * (size_t)J->m * plane;
    for (int64_t oh = oh0; oh < oh1; oh++)
        for (int64_t w0 = 0; w0 < J->wo; w0 += 64) {
            const int64_t cols = J->wo - w0 < 64 ? J->wo - w0 : 64;
            for (size_t r = 0; r < K; r++) {
                const int64_t c = (int64_t)r / 9, ih = oh + (int64_t)r % 9 / 3 - J->pt;
                const int64_t dw = (int64_t)r % 3 - J->pl;
                for (int64_t j = 0; j < cols; j++) {
                    const int64_t iw = w0 + j + dw;
                    col[r * (size_t)cols + (size_t)j] =
                        ih >= 0 && ih < J->h && iw >= 0 && iw < J->w
                            ? xn[((size_t)c * (size_t)J->h + (size_t)ih) * (size_t)J->w + (size_t)iw]
                            : 0.0f;
                }
            }
            fc_f32_small_gemm((size_t)J->m, (size_t)cols, K, J->wt, K, col, (size_t)cols,
                              yn + (size_t)(oh * J->wo + w0), plane, J->bias, J->lo, J->hi);
        }
}

/* One block: tile rows [ty0, ty0 + rows) of image n. */
static void wino_block(const wino_job *J, int64_t n, int64_t ty0, int64_t rows, float *scratch)
{
    float *xp = scratch, *v = xp + J->xp_len, *mo = v + J->v_len, *yt = mo + J->mo_len;
    float *line = yt + J->yt_len, *col = line + J->line_len;
    const size_t T = (size_t)(rows * J->tw), C = (size_t)J->c, cp = J->cp, mp = J->mp;
    bool finite;
#if F32_X86
    if (J->avx2)
        finite = pack_avx2(J, n, ty0, rows, xp);
    else
#endif
        finite = pack_c(J, n, ty0, rows, xp, line);
    if (!finite) {
        direct_block(J, n, ty0, rows, col);
        return;
    }
#if F32_X86
    if (J->avx2)
        in_xform_avx2(J, rows, xp, v);
    else
#endif
        in_xform_c(J, rows, xp, v);
    for (size_t xi = 0; xi < 16; xi++)
        fc_f32_small_gemm(T, mp, C, v + xi * T * cp, cp, J->u + xi * C * mp, mp,
                          mo + xi * T * mp, mp, NULL, -__builtin_inff(), __builtin_inff());
#if F32_X86
    if (J->avx2)
        out_xform_avx2(J, rows, mo, yt), store_avx2(J, n, ty0, rows, yt);
    else
#endif
        out_xform_c(J, rows, mo, yt), store_c(J, n, ty0, rows, yt);
}

static void wino_unit(void *ctx, int t, int64_t u)
{
    const wino_job *J = ctx;
    const int64_t n = u / J->blocks, ty0 = (u % J->blocks) * J->rows;
    wino_block(J, n, ty0, J->th - ty0 < J->rows ? J->th - ty0 : J->rows,
               J->scratch + (size_t)t * J->per_thread);
}

/* Bytes of L2 a block's transformed input, products and output may use. */
#define F32_WINO_BLOCK_BYTES ((size_t)1024 << 10)

fc_status fc_f32_conv_winograd(const fc_kernel_ctx *k, const fc_window *w, int64_t n,
                               int64_t c, int64_t m, const float *x, const float *wt,
                               const float *bias, float *y, float lo, float hi, fc_err *err)
{
    wino_job J = {.n = n, .c = c, .m = m, .h = w->in[1], .w = w->in[2], .ho = w->out[1],
                  .wo = w->out[2], .pt = w->pad_begin[1], .pl = w->pad_begin[2], .x = x, .wt = wt,
                  .bias = bias, .y = y, .lo = lo, .hi = hi, .avx2 = fc_f32_use_avx2()};
    J.th = (J.ho + 1) / 2;
    J.tw = (J.wo + 1) / 2;
    J.cp = round8((size_t)c);
    J.mp = round8((size_t)m);
    J.pc = round8((size_t)(2 * J.tw + 2));
    J.yc = round8((size_t)(2 * J.tw));
    /* Tile rows per block: as many as the budget allows (at least one),
     * then evened out so that the last block is not a sliver. */
    const size_t per_tile = (16 * J.cp + 20 * J.mp) * sizeof(float);
    int64_t rows = (int64_t)(F32_WINO_BLOCK_BYTES / per_tile) / J.tw;
    rows = rows < 1 ? 1 : rows > J.th ? J.th : rows;
    J.blocks = (J.th + rows - 1) / rows;
    J.rows = (J.th + J.blocks - 1) / J.blocks;

    const size_t T = (size_t)(J.rows * J.tw);
    J.xp_len = (size_t)(2 * J.rows + 2) * J.pc * J.cp;
    J.v_len = 16 * T * J.cp;
    J.mo_len = 16 * T * J.mp;
    J.yt_len = (size_t)(2 * J.rows) * J.yc * J.mp;
    J.line_len = 8 * J.pc;
    J.col_len = 9 * (size_t)c * (size_t)(J.wo < 64 ? J.wo : 64);
    J.per_thread = J.xp_len + J.v_len + J.mo_len + J.yt_len + J.line_len + J.col_len;

    const double flops = 32.0 * (double)T * (double)c * (double)m * (double)(J.blocks * n);
    const int nt = fc_f32_threads_for(flops, n * J.blocks);
    size_t u_bytes, s_bytes;
    /* u, then the padded bias. */
    if (!fc_mul_size(16 * (size_t)c + 1, J.mp * sizeof(float), &u_bytes) ||
        !fc_mul_size(J.per_thread, (size_t)nt * sizeof(float), &s_bytes))
        return fc_err_set(err, FC_ERR_LIMIT, "Conv: Winograd buffers overflow");
    float *u = fc_workspace_get(k->ws, F32_WS_TMP, u_bytes);
    J.scratch = fc_workspace_get(k->ws, F32_WS_COL, s_bytes);
    if (!u || !J.scratch)
        return fc_err_set(err, FC_ERR_NOMEM, "Conv: out of memory for Winograd buffers");
    weight_transform(&J, wt, u);
    float *biasp = u + 16 * (size_t)c * J.mp;
    for (size_t i = 0; i < J.mp; i++)
        biasp[i] = bias && i < (size_t)m ? bias[i] : 0.0f;
    J.u = u;
    J.biasp = biasp;
    fc_f32_parallel_for(n * J.blocks, nt, wino_unit, &J);
    return FC_OK;
}
