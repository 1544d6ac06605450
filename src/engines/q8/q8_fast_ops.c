/* The q8 engine's own QuantizeLinear, QLinearAdd and 8-bit MaxPool: the
 * reference's numbers (q8_ref_quant.c, q8_ref_eltwise.c, the f32 engine's
 * MaxPool), vectorised for the shapes quantized CNNs have, split over
 * threads in chunks.  Anything else (per-axis quantization, broadcasting,
 * other pool windows, Indices outputs, float MaxPool) goes to the kernel
 * that q8 would otherwise run, so the op's coverage is unchanged.
 *
 * Rounding and saturation, as everywhere in the int8 engines: clamping the
 * unrounded value to the integer bounds and then rounding half to even
 * (vcvtps2dq under the default MXCSR, or adding and subtracting 1.5 * 2^23
 * in plain C) equals the reference's round-then-saturate, since rounding is
 * monotone and keeps integers; NaN is mapped first to the value the
 * reference gives it (the zero point, clamped). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../f32/f32_internal.h"
#include "q8_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define Q8F_X86 1
#else
#define Q8F_X86 0
#endif

#define ROUND_MAGIC 12582912.0f /* 1.5 * 2^23 */
_Static_assert(FLT_EVAL_METHOD == 0, "ROUND_MAGIC needs float arithmetic done in float");
#define CHUNK ((size_t)32 << 10) /* elements per unit of work */

/* The vector code runs when the q8 engine's ISA choice is avx2 or avx512
 * (and, for the fused multiply-adds of QLinearAdd, the CPU has FMA). */
static bool use_avx2(void)
{
#if Q8F_X86
    const char *isa = fc_q8_isa();
    return strcmp(isa, "avx2") == 0 || strcmp(isa, "avx512") == 0;
#else
    return false;
#endif
}

static bool use_fma(void)
{
#if Q8F_X86
    __builtin_cpu_init();
    return use_avx2() && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

static bool is_q8(fc_dtype dt) { return dt == FC_DT_U8 || dt == FC_DT_I8; }

/* Clamped, rounded r (NaN already replaced) + zp as the byte of the
 * output type: plain C. */
static uint8_t finish(float r, float lo, float hi, int32_t zp)
{
    r = r > lo ? r : lo;
    r = r < hi ? r : hi;
    r = (r + ROUND_MAGIC) - ROUND_MAGIC;
    return (uint8_t)((int32_t)r + zp);
}

#if Q8F_X86
/* 8 int32 in the output type's range to 8 bytes. */
__attribute__((target("avx2"))) static inline void store8(__m256i v, bool y_signed, uint8_t *dst)
{
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i b = y_signed ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
    _mm_storel_epi64((__m128i *)dst, b);
}

/* round_half_even(clamp(r, lo, hi)) + zp with NaN -> 0 + zp. */
__attribute__((target("avx2"))) static inline __m256i finish8(__m256 r, __m256 lo, __m256 hi,
                                                              __m256i zp)
{
    r = _mm256_andnot_ps(_mm256_cmp_ps(r, r, _CMP_UNORD_Q), r);
    r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(r), zp);
}

__attribute__((target("avx2"))) static inline __m256 load8(const uint8_t *p, bool is_signed)
{
    const __m128i b = _mm_loadl_epi64((const __m128i *)p);
    return _mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b));
}
#endif

/* ---- QuantizeLinear, per tensor ---------------------------------------- */

typedef struct quant_job {
    const float *x;
    uint8_t *y;
    size_t n;
    float scale, lo, hi;   /* lo, hi: qmin - zp, qmax - zp */
    int32_t zp;
    bool y_signed, avx2;
} quant_job;

#if Q8F_X86
__attribute__((target("avx2"))) static size_t quant_avx2(const quant_job *J, size_t i, size_t end)
{
    const __m256 s = _mm256_set1_ps(J->scale), lo = _mm256_set1_ps(J->lo),
                 hi = _mm256_set1_ps(J->hi);
    const __m256i zp = _mm256_set1_epi32(J->zp);
    for (; i + 8 <= end; i += 8)
        store8(finish8(_mm256_div_ps(_mm256_loadu_ps(J->x + i), s), lo, hi, zp), J->y_signed,
               J->y + i);
    return i;
}
#endif

static void quant_unit(void *ctx, int t, int64_t u)
{
    (void)t;
    const quant_job *J = ctx;
    size_t i = (size_t)u * CHUNK, end = i + CHUNK < J->n ? i + CHUNK : J->n;
#if Q8F_X86
    if (J->avx2)
        i = quant_avx2(J, i, end);
#endif
    for (; i < end; i++) {
        float r = J->x[i] / J->scale;
        J->y[i] = finish(isnan(r) ? 0.0f : r, J->lo, J->hi, J->zp);
    }
}

fc_status fc_q8_quantizelinear_fast(const fc_kernel_ctx *k, fc_err *err)
{
    const char *isa = fc_q8_isa();
    fc_status st = fc_q8_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *scale = k->in[1], *zp = fc_q8_in(k, 2);
    fc_tensor *y = k->out[0];
    if (strcmp(isa, "ref") == 0 || x->dtype != FC_DT_F32 || scale->dtype != FC_DT_F32 ||
        scale->numel != 1 || (zp && zp->numel != 1) || !is_q8(y->dtype) ||
        (zp && zp->dtype != y->dtype))
        return fc_q8_quantizelinear(k, fc_q8_gemm(), err);
    quant_job J = {.x = x->data, .y = y->data, .n = x->numel, .scale = fc_q8_scale_at(scale, 0),
                   .zp = fc_q8_zp_at(zp, 0), .y_signed = y->dtype == FC_DT_I8,
                   .avx2 = use_avx2()};
    int32_t qmin, qmax;
    fc_q8_range(y->dtype, &qmin, &qmax);
    J.lo = (float)(qmin - J.zp);
    J.hi = (float)(qmax - J.zp);
    const int64_t units = (int64_t)((J.n + CHUNK - 1) / CHUNK);
    fc_f32_parallel_for(units, fc_f32_threads_for(8.0 * (double)J.n, units), quant_unit, &J);
    return FC_OK;
}

/* ---- QLinearAdd, operands of the output's shape ------------------------ */

typedef struct add_job {
    const uint8_t *a, *b;
    uint8_t *y;
    size_t n;
    float ra, rb, fixed, lo, hi;
    bool is_signed, avx2;
} add_job;

#if Q8F_X86
__attribute__((target("avx2,fma"))) static size_t add_avx2(const add_job *J, size_t i, size_t end)
{
    const __m256 ra = _mm256_set1_ps(J->ra), rb = _mm256_set1_ps(J->rb),
                 fixed = _mm256_set1_ps(J->fixed), lo = _mm256_set1_ps(J->lo),
                 hi = _mm256_set1_ps(J->hi);
    const __m256i zero = _mm256_setzero_si256();
    for (; i + 8 <= end; i += 8) {
        const __m256 va = load8(J->a + i, J->is_signed), vb = load8(J->b + i, J->is_signed);
        /* fma(a, rA, fma(b, rB, fixed)): the reference's general form */
        const __m256 c = _mm256_fmadd_ps(va, ra, _mm256_fmadd_ps(vb, rb, fixed));
        store8(finish8(c, lo, hi, zero), J->is_signed, J->y + i);
    }
    return i;
}
#endif

static int32_t byte_value(const uint8_t *p, size_t i, bool is_signed)
{
    return is_signed ? (int32_t)(int8_t)p[i] : (int32_t)p[i];
}

static void add_unit(void *ctx, int t, int64_t u)
{
    (void)t;
    const add_job *J = ctx;
    size_t i = (size_t)u * CHUNK, end = i + CHUNK < J->n ? i + CHUNK : J->n;
#if Q8F_X86
    if (J->avx2)
        i = add_avx2(J, i, end);
#endif
    for (; i < end; i++) {
        const float va = (float)byte_value(J->a, i, J->is_signed);
        const float vb = (float)byte_value(J->b, i, J->is_signed);
        const float c = fmaf(va, J->ra, fmaf(vb, J->rb, J->fixed));
        J->y[i] = finish(isnan(c) ? 0.0f : c, J->lo, J->hi, 0);
    }
}

static bool same_shape(const fc_tensor *a, const fc_tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

fc_status fc_q8_qlinearadd_fast(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_q8_require(k, 7, 1, err);
    if (st)
        return st;
    const fc_tensor *a = k->in[0], *b = k->in[3];
    fc_tensor *y = k->out[0];
    /* The general formula is the reference's choice only when neither
     * operand is constant along the innermost axis longer than 1: same
     * shapes, more than one element on that axis. */
    bool fits = strcmp(fc_q8_isa(), "ref") != 0 && is_q8(a->dtype) && b->dtype == a->dtype &&
                y->dtype == a->dtype && same_shape(a, y) && same_shape(b, y) && y->rank > 0;
    int inner = y->rank - 1;
    while (fits && inner > 0 && y->dims[inner] == 1)
        inner--;
    fits = fits && y->dims[inner] > 1 && a->numel > 1;
    if (!fits)
        return fc_q8_qlinearadd(k, fc_q8_gemm(), err);
    const float cs = fc_q8_scale_at(k->in[6], 0);
    const float ra = fc_q8_scale_at(k->in[1], 0) / cs, rb = fc_q8_scale_at(k->in[4], 0) / cs;
    const int32_t za = fc_q8_zp_at(k->in[2], 0), zb = fc_q8_zp_at(k->in[5], 0);
    int32_t zc = fc_q8_zp_at(fc_q8_in(k, 7), 0), qmin, qmax;
    fc_q8_range(y->dtype, &qmin, &qmax);
    add_job J = {.a = a->data, .b = b->data, .y = y->data, .n = y->numel, .ra = ra, .rb = rb,
                 .fixed = (float)zc - fmaf(ra, (float)za, rb * (float)zb),
                 .lo = (float)qmin, .hi = (float)qmax, .is_signed = y->dtype == FC_DT_I8,
                 .avx2 = use_fma()};
    const int64_t units = (int64_t)((J.n + CHUNK - 1) / CHUNK);
    fc_f32_parallel_for(units, fc_f32_threads_for(8.0 * (double)J.n, units), add_unit, &J);
    return FC_OK;
}

/* ---- MaxPool 2x2, stride 2, on 8-bit planes ---------------------------- */

typedef struct pool_job {
    const uint8_t *x;
    uint8_t *y;
    int64_t planes, h, w, ho, wo;
    int64_t planes_per_unit;
    bool is_signed, avx2;
} pool_job;

#if Q8F_X86
/* dst[j] = max(src[2j], src[2j + 1]) for 16 j's from 32 bytes. */
__attribute__((target("avx2"))) static size_t pairmax_avx2(const uint8_t *src, uint8_t *dst,
                                                          size_t n, bool is_signed)
{
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(src + 2 * j));
        __m256i even, odd;
        if (is_signed) {
            even = _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8);
            odd = _mm256_srai_epi16(v, 8);
        } else {
            even = _mm256_and_si256(v, _mm256_set1_epi16(0xff));
            odd = _mm256_srli_epi16(v, 8);
        }
        const __m256i m = _mm256_max_epi16(even, odd);
        const __m256i p = is_signed ? _mm256_packs_epi16(m, m) : _mm256_packus_epi16(m, m);
        _mm_storeu_si128((__m128i *)(dst + j),
                         _mm256_castsi256_si128(_mm256_permute4x64_epi64(p, 0x08)));
    }
    return j;
}
#endif

static uint8_t max_byte(uint8_t a, uint8_t b, bool is_signed)
{
    if (is_signed)
        return (int8_t)a > (int8_t)b ? a : b;
    return a > b ? a : b;
}

/* d = max(a, b) elementwise: loops the compiler vectorises. */
static void vmax_u8(const uint8_t *restrict a, const uint8_t *restrict b, uint8_t *restrict d,
                    int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        d[j] = a[j] > b[j] ? a[j] : b[j];
}

static void vmax_i8(const int8_t *restrict a, const int8_t *restrict b, int8_t *restrict d,
                    int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        d[j] = a[j] > b[j] ? a[j] : b[j];
}

#if Q8F_X86
/* d = max(a, b) over n >= 8 bytes, 8 at a time, the last 8 overlapping. */
__attribute__((target("avx2"))) static void vmax8_avx2(const uint8_t *a, const uint8_t *b,
                                                       uint8_t *d, int64_t n, bool is_signed)
{
    for (int64_t i = 0;; i += 8) {
        if (i > n - 8)
            i = n - 8;
        const __m128i va = _mm_loadl_epi64((const __m128i *)(a + i));
        const __m128i vb = _mm_loadl_epi64((const __m128i *)(b + i));
        _mm_storel_epi64((__m128i *)(d + i),
                         is_signed ? _mm_max_epi8(va, vb) : _mm_max_epu8(va, vb));
        if (i == n - 8)
            break;
    }
}
#endif

/* Per plane, blocks of output rows: the maxima of adjacent pairs over the
 * block's input rows, contiguous (with w = 2 * wo no pair straddles two
 * rows), give rows of wo bytes in tmp; output row i is the maximum of tmp
 * rows 2i and 2i + 1. */
static void pool_unit(void *ctx, int t, int64_t u)
{
    (void)t;
    const pool_job *J = ctx;
    uint8_t tmp[4096];
    const int64_t p_end = (u + 1) * J->planes_per_unit < J->planes ? (u + 1) * J->planes_per_unit
                                                                  : J->planes;
    const int64_t wo = J->wo;
    for (int64_t pl = u * J->planes_per_unit; pl < p_end; pl++) {
        const uint8_t *x = J->x + (size_t)(pl * J->h * J->w);
        uint8_t *y = J->y + (size_t)(pl * J->ho * wo);
        for (int64_t i0 = 0; i0 < J->ho;) {
            /* as many output rows as tmp holds (w <= 4096 bytes: one at least) */
            int64_t rows = (int64_t)sizeof tmp / J->w;
            rows = rows < J->ho - i0 ? rows : J->ho - i0;
            const uint8_t *in = x + (size_t)(2 * i0 * J->w);
            const size_t n = (size_t)(rows * J->w);   /* pairs of the block's 2 rows each */
            size_t j = 0;
#if Q8F_X86
            if (J->avx2)
                j = pairmax_avx2(in, tmp, n, J->is_signed);
#endif
            for (; j < n; j++)
                tmp[j] = max_byte(in[2 * j], in[2 * j + 1], J->is_signed);
            for (int64_t i = 0; i < rows; i++) {
                const uint8_t *r0 = tmp + (size_t)(2 * i * wo), *r1 = r0 + wo;
                uint8_t *d = y + (size_t)((i0 + i) * wo);
#if Q8F_X86
                if (J->avx2 && wo >= 8) {
                    vmax8_avx2(r0, r1, d, wo, J->is_signed);
                    continue;
                }
#endif
                if (J->is_signed)
                    vmax_i8((const int8_t *)r0, (const int8_t *)r1, (int8_t *)d, wo);
                else
                    vmax_u8(r0, r1, d, wo);
            }
            i0 += rows;
        }
    }
}

static const fc_kernel_def *f32_maxpool(void)
{
    for (int i = 0; i < fc_kernels_f32.count; i++)
        if (strcmp(fc_kernels_f32.defs[i].name, "MaxPool") == 0 &&
            fc_kernels_f32.defs[i].domain[0] == '\0')
            return &fc_kernels_f32.defs[i];
    return NULL;
}

fc_status fc_q8_maxpool_fast(const fc_kernel_ctx *k, fc_err *err)
{
    const fc_kernel_def *f32 = f32_maxpool();
    if (!f32)
        return fc_err_set(err, FC_ERR_INTERNAL, "MaxPool: no f32 kernel to fall back to");
    const fc_tensor *x = fc_q8_in(k, 0);
    fc_tensor *y = fc_q8_out(k, 0);
    if (!x || !y || !is_q8(x->dtype) || y->dtype != x->dtype || fc_q8_out(k, 1) ||
        x->rank != 4 || strcmp(fc_q8_isa(), "ref") == 0)
        return f32->forward(k, err);
    fc_window w;
    fc_status st = fc_window_decode(k->node, 2, x->dims + 2, NULL, true, &w, err);
    if (st)
        return st;
    bool fits = true;
    for (int i = 0; i < 2; i++)
        fits = fits && w.kernel[i] == 2 && w.stride[i] == 2 && w.dilation[i] == 1 &&
               w.pad_begin[i] == 0 && w.out[i] * 2 <= w.in[i];
    /* pairs must not straddle rows, and a row must fit pool_unit's buffer */
    fits = fits && w.in[1] == 2 * w.out[1] && w.in[1] <= 4096 && x->numel > 0 &&
           y->dims[2] == w.out[0] && y->dims[3] == w.out[1];
    if (!fits)
        return f32->forward(k, err);
    pool_job J = {.x = x->data, .y = y->data, .planes = x->dims[0] * x->dims[1],
                  .h = w.in[0], .w = w.in[1], .ho = w.out[0], .wo = w.out[1],
                  .is_signed = x->dtype == FC_DT_I8, .avx2 = use_avx2()};
    const int64_t plane = J.h * J.w;
    J.planes_per_unit = (int64_t)CHUNK / (plane > 0 ? plane : 1);
    J.planes_per_unit = J.planes_per_unit < 1 ? 1 : J.planes_per_unit;
    const int64_t units = (J.planes + J.planes_per_unit - 1) / J.planes_per_unit;
    fc_f32_parallel_for(units, fc_f32_threads_for(8.0 * (double)x->numel, units), pool_unit, &J);
    return FC_OK;
}
