/* Input gradient of Conv from a sparse dY, for the f32 engine.
 *
 * Why: in a classifier's backward pass the gradient reaching a conv's
 * output has usually been through a max pool (at most one nonzero per
 * window) and a Relu mask, so 70-90% of dY is exactly zero, and a dense
 * product (im2col gemm or Winograd) spends most of its work on zeros.
 *
 * How, per image and group:
 *  1. dY_g [Mg, P] is transposed to dYt [P, Mg] (8x8 blocks), and each
 *     output position o gets a bit mask of its nonzero channels.
 *  2. For each kernel row (a, b) and up to three adjacent taps e of it,
 *     every output position o computes sum over its nonzero m of
 *     dY[m, o] * W[m, :, (a, b, e)] for all those taps in one pass over
 *     the set bits (up to 12 vectors of 8 channels in registers, the
 *     weights laid out as Wr[a, b][m][e][c] so each term is a few
 *     contiguous loads from L1), and adds each into the input position its
 *     tap reads, in a channels-last scratch acc [in_sp][cb].
 *  3. acc is added into dX's planes.
 * The work is proportional to the nonzeros.  Images are independent and
 * split over threads (each with its own scratch), and every sum runs in a
 * fixed order, so results do not depend on the thread count. */
#include <string.h>

#include "../../core/fc_alloc.h"
#include "f32_grad.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define F32G_X86 1
#else
#define F32G_X86 0
#endif

/* Fewer input channels per group than SPARSE_MIN_CG waste most of a
 * vector; a cap on the per-thread scratch (positions x channels). */
#define SPARSE_MIN_CG 8
#define SPARSE_MAX_SCRATCH ((size_t)1 << 24)

typedef struct sp_job {
    const fc_f32g_conv *G;
    const float *wr;      /* [kd*kh][M][kw][cgp], zero-padded channels */
    size_t cgp, cb;       /* padded Cg, channel block width (8, 16 or 32) */
    size_t mgp, mw;       /* Mg rounded up to 8; 64-bit mask words per position */
    const float *gy;
    float *gx;
    unsigned char *scratch;
    size_t per_thread;    /* bytes */
} sp_job;

/* Fraction of nonzeros, from every 61st element (a prime stride, so no
 * pooling pattern aliases with it). */
static double density(const float *gy, size_t n)
{
    size_t nz = 0, seen = 0;
    for (size_t i = 0; i < n; i += 61, seen++)
        nz += gy[i] != 0.0f;
    return seen ? (double)nz / (double)seen : 1.0;
}

bool fc_f32g_conv_sparse_fits(const fc_f32g_conv *G, const float *gy, size_t n,
                              double max_density)
{
    return G->cg >= SPARSE_MIN_CG && G->out_sp * (size_t)G->mg <= SPARSE_MAX_SCRATCH &&
           G->in_sp <= SPARSE_MAX_SCRATCH && density(gy, n) <= max_density;
}

/* One output row against one kernel row (a, b) and up to three adjacent
 * taps e0 .. e0+tw-1 of it: each output position o of the row with
 * nonzeros computes, for every tap, sum over its nonzero channels m of
 * dY[m, o] * W[m, :, (a, b, e)] - one pass over o's nonzeros for all the
 * taps - and adds each into the input position that tap reads (dropped
 * when it is padding).  The nonzeros of o are the set bits of its masks,
 * their values row o of dYt [P][mgp] (dY transposed). */
typedef struct sp_row {
    const float *wt;          /* taps e0.. of (a, b), group g, block c0: m at m * wstride */
    size_t wstride, cgp, cb, mgp, mw;
    int tw;                   /* taps in this call, 1..3 */
    int64_t W, sw, dw, off;   /* input width, stride, dilation, e0*dw - pad */
    const float *dyt;
    const uint64_t *mask;     /* [P][mw] */
} sp_row;

/* o_row: first output position of the row; acc_row: acc at input row start. */
static void row_c(const sp_row *R, size_t o_row, int64_t wo, float *acc_row)
{
    for (int64_t ow = 0; ow < wo; ow++) {
        const size_t o = o_row + (size_t)ow;
        const float *vo = R->dyt + o * R->mgp;
        float t[3][32] = {{0}};
        bool any = false;
        for (size_t q = 0; q < R->mw; q++)
            for (uint64_t bits = R->mask[o * R->mw + q]; bits; bits &= bits - 1) {
                const size_t m = q * 64 + (size_t)__builtin_ctzll(bits);
                const float v = vo[m], *wm = R->wt + m * R->wstride;
                for (int j = 0; j < R->tw; j++)
                    for (size_t c = 0; c < R->cb; c++)
                        t[j][c] += v * wm[(size_t)j * R->cgp + c];
                any = true;
            }
        for (int j = 0; any && j < R->tw; j++) {
            const int64_t iw = ow * R->sw + R->off + j * R->dw;
            if (iw >= 0 && iw < R->W)
                for (size_t c = 0; c < R->cb; c++)
                    acc_row[(size_t)iw * R->cb + c] += t[j][c];
        }
    }
}

#if F32G_X86
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* tw taps x nv vectors of 8 channels held in registers (constants at each
 * call site: at most 12 accumulators). */
__attribute__((target("avx2,fma"))) static ALWAYS_INLINE void
row_nv(const int tw, const int nv, const sp_row *R, size_t o_row, int64_t wo, float *acc_row)
{
    for (int64_t ow = 0; ow < wo; ow++) {
        const size_t o = o_row + (size_t)ow;
        const uint64_t *mo = R->mask + o * R->mw;
        const float *vo = R->dyt + o * R->mgp;
        __m256 t[3][4];
        bool any = false;
        for (int j = 0; j < tw; j++)
            for (int q = 0; q < nv; q++)
                t[j][q] = _mm256_setzero_ps();
        for (size_t w = 0; w < R->mw; w++)
            for (uint64_t bits = mo[w]; bits; bits &= bits - 1) {
                const size_t m = w * 64 + (size_t)__builtin_ctzll(bits);
                const __m256 v = _mm256_broadcast_ss(vo + m);
                const float *wm = R->wt + m * R->wstride;
                for (int j = 0; j < tw; j++)
                    for (int q = 0; q < nv; q++)
                        t[j][q] = _mm256_fmadd_ps(
                            v, _mm256_loadu_ps(wm + (size_t)j * R->cgp + 8 * (size_t)q), t[j][q]);
                any = true;
            }
        if (!any)
            continue;
        for (int j = 0; j < tw; j++) {
            const int64_t iw = ow * R->sw + R->off + j * R->dw;
            if (iw < 0 || iw >= R->W)
                continue;
            float *a = acc_row + (size_t)iw * R->cb;
            for (int q = 0; q < nv; q++)
                _mm256_storeu_ps(a + 8 * q, _mm256_add_ps(_mm256_loadu_ps(a + 8 * q), t[j][q]));
        }
    }
}

#define ROW_NV(tw)                                                            \
    switch (R->cb) {                                                          \
    case 32: row_nv(tw, 4, R, o_row, wo, acc_row); break;                    \
    case 16: row_nv(tw, 2, R, o_row, wo, acc_row); break;                    \
    default: row_nv(tw, 1, R, o_row, wo, acc_row); break;                    \
    }

__attribute__((target("avx2,fma"))) static void row_avx2(const sp_row *R, size_t o_row,
                                                         int64_t wo, float *acc_row)
{
    if (R->tw == 3)
        ROW_NV(3)
    else if (R->tw == 2)
        ROW_NV(2)
    else
        ROW_NV(1)
}

/* dyt [P][mgp] = dY_g [Mg][P] transposed by 8x8 blocks (mgp = Mg rounded
 * up to 8, the extra channels zero), and the nonzero masks of its rows. */
__attribute__((target("avx2,fma"))) static void transpose_avx2(const float *gyg, size_t Mg,
                                                               size_t P, size_t mgp, float *dyt,
                                                               uint64_t *mask, size_t mw)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    memset(mask, 0, P * mw * sizeof *mask);
    for (size_t m0 = 0; m0 < mgp; m0 += 8)
        for (size_t o0 = 0; o0 < P; o0 += 8) {
            const size_t on = P - o0 < 8 ? P - o0 : 8;
            const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)on), lane);
            __m256 r[8], t[8], u[8];
            for (size_t k = 0; k < 8; k++)
                r[k] = m0 + k >= Mg ? _mm256_setzero_ps()
                       : on == 8    ? _mm256_loadu_ps(gyg + (m0 + k) * P + o0)
                                    : _mm256_maskload_ps(gyg + (m0 + k) * P + o0, keep);
            for (int k = 0; k < 4; k++) {
                t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
                t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
            }
            for (int h = 0; h < 2; h++) {
                u[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
                u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
                u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
                u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
            }
            for (int k = 0; k < 4; k++) {
                r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
                r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
            }
            for (size_t k = 0; k < on; k++) {
                _mm256_storeu_ps(dyt + (o0 + k) * mgp + m0, r[k]);
                const __m256 nzv = _mm256_cmp_ps(r[k], _mm256_setzero_ps(), _CMP_NEQ_UQ);
                const unsigned nz = (unsigned)_mm256_movemask_ps(nzv);
                mask[(o0 + k) * mw + m0 / 64] |= (uint64_t)nz << (m0 % 64);
            }
        }
}
#endif

static void transpose_c(const float *gyg, size_t Mg, size_t P, size_t mgp, float *dyt,
                        uint64_t *mask, size_t mw)
{
    memset(mask, 0, P * mw * sizeof *mask);
    for (size_t o = 0; o < P; o++)
        for (size_t m = 0; m < mgp; m++) {
            const float v = m < Mg ? gyg[m * P + o] : 0.0f;
            dyt[o * mgp + m] = v;
            mask[o * mw + m / 64] |= (uint64_t)(v != 0.0f) << (m % 64);
        }
}

/* Step 2 for one block of channels: kernel row by kernel row (its
 * weights stay in L1), every output row adds its positions' sums into the
 * input positions they read, in acc [in_sp][cb]; then acc goes into dX's
 * planes. */
static void sparse_block(const sp_job *J, sp_row *R, int64_t g, size_t c0, float *acc,
                         float *gxg, bool avx2)
{
    const fc_f32g_conv *G = J->G;
    const fc_window *w = &G->w;
    const size_t cb = J->cb, cg = (size_t)G->cg, kw = (size_t)w->kernel[2];
    memset(acc, 0, G->in_sp * cb * sizeof *acc);
    R->wstride = kw * J->cgp;
    R->W = w->in[2];
    R->sw = w->stride[2];
    R->dw = w->dilation[2];
    for (int64_t a = 0; a < w->kernel[0]; a++)
        for (int64_t b = 0; b < w->kernel[1]; b++)
            for (size_t e0 = 0; e0 < kw; e0 += 3) {
                R->tw = kw - e0 < 3 ? (int)(kw - e0) : 3;
                R->off = (int64_t)e0 * w->dilation[2] - w->pad_begin[2];
                R->wt = J->wr + ((size_t)(a * w->kernel[1] + b) * (size_t)G->m +
                                 (size_t)g * (size_t)G->mg) * R->wstride + e0 * J->cgp + c0;
                for (int64_t od = 0; od < w->out[0]; od++) {
                    const int64_t id = od * w->stride[0] + a * w->dilation[0] - w->pad_begin[0];
                    if (id < 0 || id >= w->in[0])
                        continue;
                    for (int64_t oh = 0; oh < w->out[1]; oh++) {
                        const int64_t ih = oh * w->stride[1] + b * w->dilation[1] - w->pad_begin[1];
                        if (ih < 0 || ih >= w->in[1])
                            continue;
                        const size_t o_row = (size_t)((od * w->out[1] + oh) * w->out[2]);
                        float *acc_row = acc + (size_t)((id * w->in[1] + ih) * w->in[2]) * cb;
#if F32G_X86
                        if (avx2) {
                            row_avx2(R, o_row, w->out[2], acc_row);
                            continue;
                        }
#endif
                        (void)avx2;
                        row_c(R, o_row, w->out[2], acc_row);
                    }
                }
            }
    const size_t ce = c0 + cb < cg ? cb : cg - c0;
    for (size_t c = 0; c < ce; c++) {
        float *xc = gxg + (c0 + c) * G->in_sp;
        for (size_t i = 0; i < G->in_sp; i++)
            xc[i] += acc[i * cb + c];
    }
}

static void sparse_image(void *ctx, int t, int64_t n)
{
    const sp_job *J = ctx;
    const fc_f32g_conv *G = J->G;
    const size_t P = G->out_sp, Mg = (size_t)G->mg, cg = (size_t)G->cg;
    unsigned char *s = J->scratch + (size_t)t * J->per_thread;
    uint64_t *mask = (uint64_t *)(void *)s;
    s += (P * J->mw * sizeof(uint64_t) + 63) & ~(size_t)63;
    float *dyt = (float *)(void *)s;
    s += (P * J->mgp * sizeof(float) + 63) & ~(size_t)63;
    float *acc = (float *)(void *)s;
    sp_row R = {.cgp = J->cgp, .cb = J->cb, .mgp = J->mgp, .mw = J->mw, .dyt = dyt,
                .mask = mask};
#if F32G_X86
    const bool avx2 = fc_f32_use_avx2();
#else
    const bool avx2 = false;
#endif
    for (int64_t g = 0; g < G->g; g++) {
        const float *gyg = J->gy + ((size_t)n * (size_t)G->m + (size_t)g * Mg) * P;
#if F32G_X86
        if (avx2)
            transpose_avx2(gyg, Mg, P, J->mgp, dyt, mask, J->mw);
        else
#endif
            transpose_c(gyg, Mg, P, J->mgp, dyt, mask, J->mw);
        float *gxg = J->gx + ((size_t)n * (size_t)G->c + (size_t)g * cg) * G->in_sp;
        for (size_t c0 = 0; c0 < cg; c0 += J->cb)
            sparse_block(J, &R, g, c0, acc, gxg, avx2);
    }
}

fc_status fc_f32g_conv_dx_sparse(const fc_grad_ctx *k, const fc_f32g_conv *G, const float *wt,
                                 const float *gy, float *gx, fc_err *err)
{
    const size_t cg = (size_t)G->cg, kvol = G->kvol, M = (size_t)G->m;
    const size_t P = G->out_sp, Mg = (size_t)G->mg;
    sp_job J = {.G = G, .gy = gy, .gx = gx};
    J.cb = cg >= 32 ? 32 : cg > 8 ? 16 : 8;
    J.cgp = (cg + J.cb - 1) / J.cb * J.cb;
    J.mgp = (Mg + 7) & ~(size_t)7;
    J.mw = (Mg + 63) / 64;
    /* mask [P][mw], dyt [P][mgp], acc [in_sp][cb], each 64-byte aligned. */
    J.per_thread = ((P * J.mw * sizeof(uint64_t) + 63) & ~(size_t)63) +
                   ((P * J.mgp * sizeof(float) + 63) & ~(size_t)63) +
                   ((G->in_sp * J.cb * sizeof(float) + 63) & ~(size_t)63);
    const double work = 2.0 * (double)G->n * (double)G->m * (double)G->kdim * (double)P * 0.2;
    const int nt = fc_f32_threads_for(work, G->n);
    size_t wr_bytes, s_bytes;
    if (!fc_mul_size(kvol * M, J.cgp * sizeof(float), &wr_bytes) ||
        !fc_mul_size(J.per_thread, (size_t)nt, &s_bytes))
        return fc_err_set(err, FC_ERR_LIMIT, "Conv backward: buffer size overflows");
    float *wr = fc_workspace_get(k->ws, F32_WS_AUX2, wr_bytes);
    J.scratch = fc_workspace_get(k->ws, F32_WS_COL, s_bytes);
    if (!wr || !J.scratch)
        return fc_err_set(err, FC_ERR_NOMEM, "Conv backward: out of memory (%zu bytes)",
                          wr_bytes + s_bytes);
    /* W [M][Cg][kd*kh][kw] -> Wr [kd*kh][M][kw][cgp]. */
    const size_t kw = (size_t)G->w.kernel[2], krows = kvol / kw;
    memset(wr, 0, wr_bytes);
    for (size_t m = 0; m < M; m++)
        for (size_t c = 0; c < cg; c++)
            for (size_t r = 0; r < krows; r++)
                for (size_t e = 0; e < kw; e++)
                    wr[((r * M + m) * kw + e) * J.cgp + c] =
                        wt[((m * cg + c) * krows + r) * kw + e];
    J.wr = wr;
    fc_f32_parallel_for(G->n, nt, sparse_image, &J);
    return FC_OK;
}
