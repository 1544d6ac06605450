/* Conv for the f32 engine, and the building blocks that the other fast
 * kernels share: a product for small matrices already in cache, and worker
 * threads.
 *
 * Shapes (1-D and 2-D are handled as 3-D with neutral leading axes):
 *   X [N, C, D, H, W], W [M, C/G, kd, kh, kw], B [M], Y [N, M, Do, Ho, Wo]
 *   Y[n, m, o] = B[m] + sum_{c, t} W[m, c, t] * X[n, g*Cg + c, o*s + t*dil - pad]
 * with g = m / Mg, Cg = C/G, Mg = M/G, taps outside X reading 0.
 *
 * Paths, first that applies:
 * - depthwise 2-D (Cg == Mg == 1): direct loops over padded planes;
 * - 3x3, stride 1, one group, enough channels: Winograd (f32_winograd.c);
 * - K = Cg*kd*kh*kw small (or moderate, with enough outputs per image):
 *   per image (in chunks of output rows), im2col
 *   col [K, P] then fc_f32_small_gemm straight into Y with the bias and the
 *   fused Relu/Clip applied in registers; pointwise convs (kernel 1,
 *   stride 1, no pads) use X itself as col;
 * - otherwise im2col + OpenBLAS sgemm, with the im2col chunk sized for L2:
 *   large feature maps go image by image (rows of output at a time) straight
 *   into Y; small ones (P = Do*Ho*Wo < F32_MIN_COLS) fold nb images into
 *   the gemm's columns, col [K, nb*P] -> tmp [Mg, nb*P], then scatter to
 *   NCHW in the pass that adds the bias and clamps.
 * Our own paths split the batch (or Winograd's tile blocks) over threads;
 * every output is summed in the same order whichever thread computes it. */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* Why our own small-matrix product: OpenBLAS packs both operands and zeroes
 * C before every call, which dominates when K is tiny (a first conv layer
 * has K = 9) or when a product is one of many small ones (the 16 per tile
 * block of Winograd).  Here every operand is read in place, the bias and
 * the fused clamp are applied while C is still in registers, and each C
 * element is a plain sum over k in increasing order, so results do not
 * depend on how rows or columns are blocked or split across threads. */

/* ---- small matrix product ------------------------------------------------ */

#define MR 6   /* rows of C per register block */
#define NR 16  /* columns of C per register block (two 8-float vectors) */

static void small_gemm_c(size_t m, size_t n, size_t k, const float *restrict a, size_t lda,
                         const float *restrict b, size_t ldb, float *restrict c, size_t ldc,
                         const float *bias, float lo, float hi)
{
    for (size_t i = 0; i < m; i++) {
        float *restrict ci = c + i * ldc;
        for (size_t j = 0; j < n; j++)
            ci[j] = 0.0f;
        for (size_t q = 0; q < k; q++) {
            const float aq = a[i * lda + q];
            const float *restrict bq = b + q * ldb;
            for (size_t j = 0; j < n; j++)
                ci[j] += aq * bq[j];
        }
        const float bi = bias ? bias[i] : 0.0f;
        for (size_t j = 0; j < n; j++) {
            float v = bias ? ci[j] + bi : ci[j];
            v = v < lo ? lo : v;
            ci[j] = v > hi ? hi : v;
        }
    }
}

#if F32_X86
/* One block of C: rows [0, mr), columns [0, NR).  mr is a constant at every
 * call site, so the loops over rows unroll and the 2*MR accumulators live
 * in registers. */
__attribute__((target("avx2,fma"))) static ALWAYS_INLINE void
block_avx2(const int mr, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
           float *c, size_t ldc, const float *bias, __m256 lo, __m256 hi)
{
    __m256 acc0[MR], acc1[MR];
    for (int r = 0; r < MR; r++)
        acc0[r] = acc1[r] = _mm256_setzero_ps();
    for (size_t q = 0; q < k; q++) {
        const __m256 b0 = _mm256_loadu_ps(b + q * ldb), b1 = _mm256_loadu_ps(b + q * ldb + 8);
        for (int r = 0; r < mr; r++) {
            const __m256 av = _mm256_broadcast_ss(a + (size_t)r * lda + q);
            acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
        }
    }
    for (int r = 0; r < mr; r++) {
        __m256 v0 = acc0[r], v1 = acc1[r];
        if (bias) {
            const __m256 br = _mm256_broadcast_ss(bias + r);
            v0 = _mm256_add_ps(v0, br);
            v1 = _mm256_add_ps(v1, br);
        }
        /* max(lo, v) is "v < lo ? lo : v" and keeps a NaN v, as the scalar
         * clamp does; likewise min(hi, v). */
        _mm256_storeu_ps(c + (size_t)r * ldc, _mm256_min_ps(hi, _mm256_max_ps(lo, v0)));
        _mm256_storeu_ps(c + (size_t)r * ldc + 8, _mm256_min_ps(hi, _mm256_max_ps(lo, v1)));
    }
}

/* All rows of C for one column panel. */
__attribute__((target("avx2,fma"))) static void
rows_avx2(size_t m, size_t k, const float *a, size_t lda, const float *b, size_t ldb, float *c,
          size_t ldc, const float *bias, __m256 lo, __m256 hi)
{
    /* Blocks of fewer than 4 rows keep too few sums in flight to hide the
     * FMA latency, so a remainder of 1 to 3 rows is merged with the last
     * full blocks and split again into blocks of 4 and 5 rows. */
    size_t tail = m % MR;
    if (m > MR && tail > 0 && tail < 4)
        tail += tail == 1 && m >= 2 * MR + 1 ? 2 * MR : MR;
    size_t i = 0;
    for (; i + tail < m; i += MR)
        block_avx2(MR, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, bias ? bias + i : NULL,
                   lo, hi);
    while (i < m) {
        const size_t left = m - i, r = left >= 9 ? 5 : left == 8 ? 4 : left > 5 ? 4 : left;
        const float *ai = a + i * lda, *bi = bias ? bias + i : NULL;
        float *ci = c + i * ldc;
        switch (r) {
        case 5: block_avx2(5, k, ai, lda, b, ldb, ci, ldc, bi, lo, hi); break;
        case 4: block_avx2(4, k, ai, lda, b, ldb, ci, ldc, bi, lo, hi); break;
        case 3: block_avx2(3, k, ai, lda, b, ldb, ci, ldc, bi, lo, hi); break;
        case 2: block_avx2(2, k, ai, lda, b, ldb, ci, ldc, bi, lo, hi); break;
        default: block_avx2(1, k, ai, lda, b, ldb, ci, ldc, bi, lo, hi); break;
        }
        i += r;
    }
}

/* Column panels of B (k x NR, reused by every row block) outermost; n >= NR.
 * A ragged last panel is computed again in full from n - NR: the columns it
 * shares with the previous panel get the same values, and full-width
 * stores are much faster than masked ones (on AMD a masked store costs as
 * much as a dozen plain ones). */
__attribute__((target("avx2,fma"))) static void
small_gemm_avx2(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                size_t ldb, float *c, size_t ldc, const float *bias, float lo, float hi)
{
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (size_t j = 0; j < n; j += NR) {
        const size_t j0 = j + NR <= n ? j : n - NR;
        rows_avx2(m, k, a, lda, b + j0, ldb, c + j0, ldc, bias, vlo, vhi);
    }
}
#endif

static bool portable_only;   /* test hook, see fc_f32_set_portable */

void fc_f32_set_portable(bool on) { portable_only = on; }

bool fc_f32_portable(void) { return portable_only; }

/* Asked each time (gcc keeps the answer in a global it fills at start-up),
 * so that worker threads share no mutable state here. */
bool fc_f32_use_avx2(void)
{
#if F32_X86
    return !portable_only && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

void fc_f32_small_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda,
                       const float *b, size_t ldb, float *c, size_t ldc, const float *bias,
                       float lo, float hi)
{
    if (m == 0 || n == 0)
        return;
#if F32_X86
    /* Fewer than NR columns: too narrow for the register blocks. */
    if (n >= NR && fc_f32_use_avx2()) {
        small_gemm_avx2(m, n, k, a, lda, b, ldb, c, ldc, bias, lo, hi);
        return;
    }
#endif
    small_gemm_c(m, n, k, a, lda, b, ldb, c, ldc, bias, lo, hi);
}

/* ---- threads ------------------------------------------------------------- */

/* Below this much work per extra thread, starting a thread (tens of
 * microseconds) costs more than it saves. */
#define F32_FLOPS_PER_THREAD 4.0e6
#define F32_MAX_THREADS 16

int fc_f32_threads_for(double flops, int64_t units)
{
    /* One knob for the whole engine: OPENBLAS_NUM_THREADS (or OpenBLAS's
     * default, the number of cores) also sizes our own kernels. */
    int nt = openblas_get_num_threads();
    if (nt > F32_MAX_THREADS)
        nt = F32_MAX_THREADS;
    if ((double)nt * F32_FLOPS_PER_THREAD > flops)
        nt = (int)(flops / F32_FLOPS_PER_THREAD);
    if (nt > units)
        nt = (int)units;
    return nt < 1 ? 1 : nt;
}

typedef struct pool_run {
    fc_f32_unit_fn fn;
    void *ctx;
    int64_t units;
    atomic_llong next;   /* the next unit nobody has taken yet */
} pool_run;

typedef struct worker {
    pool_run *run;
    int t;
} worker;

/* Units are handed out one at a time, so a thread that the OS delays (the
 * machine is shared) does not hold the others up; which thread computes a
 * unit never changes what it computes. */
static void *worker_main(void *p)
{
    const worker *w = p;
    pool_run *r = w->run;
    for (int64_t u; (u = atomic_fetch_add(&r->next, 1)) < r->units;)
        r->fn(r->ctx, w->t, u);
    return NULL;
}

void fc_f32_parallel_for(int64_t units, int nt, fc_f32_unit_fn fn, void *ctx)
{
    if (nt > F32_MAX_THREADS)
        nt = F32_MAX_THREADS;
    if (nt <= 1 || units <= 1) {
        for (int64_t u = 0; u < units; u++)
            fn(ctx, 0, u);
        return;
    }
    pool_run r = {.fn = fn, .ctx = ctx, .units = units};
    atomic_init(&r.next, 0);
    worker w[F32_MAX_THREADS];
    pthread_t tid[F32_MAX_THREADS];
    bool started[F32_MAX_THREADS] = {false};
    for (int t = 0; t < nt; t++)
        w[t] = (worker){&r, t};
    /* A thread that cannot start just leaves its units to the others. */
    for (int t = 1; t < nt; t++)
        started[t] = pthread_create(&tid[t], NULL, worker_main, &w[t]) == 0;
    worker_main(&w[0]);
    for (int t = 1; t < nt; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
}

/* ---- Conv ---------------------------------------------------------------- */

/* The BLAS path sizes its im2col chunks to stay in L2 while the gemm still
 * gets at least F32_MIN_COLS columns (below that OpenBLAS is far from peak;
 * a single image with a small feature map is then folded together with the
 * next ones). */
#define F32_COL_BUDGET ((size_t)512 << 10)
#define F32_MIN_COLS ((size_t)256)
/* Depthwise planes (input + output floats) up to this get a padded copy. */
#define F32_DW_PLANE_CAP ((size_t)1 << 20)
/* fc_f32_small_gemm beats OpenBLAS (which packs both operands) for
 * K = Cg*kd*kh*kw up to F32_SMALL_K, and up to F32_MID_K when an image has
 * at least F32_MID_COLS outputs (narrower products waste part of the last
 * 16-column panel). */
#define F32_SMALL_K ((size_t)64)
#define F32_MID_K ((size_t)576)
#define F32_MID_COLS ((size_t)128)

typedef struct conv_geom {
    int64_t n, c, m, g, cg, mg;
    fc_window w;          /* 3-D form */
    size_t in_sp, out_sp; /* D*H*W and Do*Ho*Wo */
    size_t rows;          /* Do*Ho: output rows of Wo positions */
    size_t kvol, kdim;    /* kd*kh*kw and K = Cg*kvol */
    bool pointwise;
    const float *x, *wt, *bias;
    float *y;
    float lo, hi;         /* fused clamp, -inf/+inf when none */
} conv_geom;

/* col[r * ld + (q - q0)*Wo + o] for output rows q in [q0, q1) (q = od*Ho + oh)
 * of image n, group g: the input value that output (q, o) sees through tap
 * r = c*kvol + (a*kh + b)*kw + e, 0 in the padding. */
static void im2col_rows(const conv_geom *G, int64_t n, int64_t g, size_t q0, size_t q1,
                        float *col, size_t ld)
{
    const fc_window *w = &G->w;
    const int64_t D = w->in[0], H = w->in[1], W = w->in[2];
    const int64_t Ho = w->out[1], Wo = w->out[2];
    const int64_t sd = w->stride[0], sh = w->stride[1], sw = w->stride[2];
    size_t r = 0;
    for (int64_t c = 0; c < G->cg; c++) {
        const float *xc = G->x + ((size_t)n * (size_t)G->c + (size_t)(g * G->cg + c)) * G->in_sp;
        for (int64_t a = 0; a < w->kernel[0]; a++)
            for (int64_t b = 0; b < w->kernel[1]; b++)
                for (int64_t e = 0; e < w->kernel[2]; e++, r++) {
                    const int64_t offd = a * w->dilation[0] - w->pad_begin[0];
                    const int64_t offh = b * w->dilation[1] - w->pad_begin[1];
                    const int64_t offw = e * w->dilation[2] - w->pad_begin[2];
                    int64_t lo, hi;
                    fc_f32_valid_range(offw, sw, W, Wo, &lo, &hi);
                    float *row = col + r * ld;
                    for (size_t q = q0; q < q1; q++, row += Wo) {
                        const int64_t id = (int64_t)q / Ho * sd + offd;
                        const int64_t ih = (int64_t)q % Ho * sh + offh;
                        if (id < 0 || id >= D || ih < 0 || ih >= H || lo == hi) {
                            memset(row, 0, (size_t)Wo * sizeof *row);
                            continue;
                        }
                        const float *xr = xc + ((size_t)id * (size_t)H + (size_t)ih) * (size_t)W;
                        for (int64_t o = 0; o < lo; o++)
                            row[o] = 0.0f;
                        if (sw == 1) {
                            memcpy(row + lo, xr + lo + offw, (size_t)(hi - lo) * sizeof *row);
                        } else {
                            for (int64_t o = lo; o < hi; o++)
                                row[o] = xr[o * sw + offw];
                        }
                        for (int64_t o = hi; o < Wo; o++)
                            row[o] = 0.0f;
                    }
                }
    }
}

/* y[i] = clamp(src[i] + bias) for i < n; lo/hi = -inf/+inf when no act. */
static void bias_clamp(float *y, const float *src, size_t n, float bias, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float v = src[i] + bias;
        v = v < lo ? lo : v;
        y[i] = v > hi ? hi : v;
    }
}

static void act_bounds(const fc_kernel_ctx *k, float *lo, float *hi)
{
    *lo = -__builtin_inff();
    *hi = __builtin_inff();
    if (k->act == FC_ACT_CLAMP) {
        *lo = k->act_min;
        *hi = k->act_max;
    }
}

/* Output rows per chunk so that a chunk's col [K, rows*Wo] fits `budget`
 * bytes but has at least `min_cols` columns (and at least one row). */
static size_t chunk_rows(const conv_geom *G, size_t budget, size_t min_cols)
{
    const size_t wo = (size_t)G->w.out[2];
    size_t cols = budget / (G->kdim * sizeof(float));
    if (cols < min_cols)
        cols = min_cols;
    size_t rows = cols / wo;
    if (rows < 1)
        rows = 1;
    return rows < G->rows ? rows : G->rows;
}

/* ---- small K: im2col chunks + fc_f32_small_gemm straight into Y ---- */

typedef struct small_job {
    const conv_geom *G;
    size_t chunk;        /* output rows per im2col chunk */
    size_t per_thread;   /* floats of col per thread */
    float *col;
} small_job;

/* Unit: one image (all groups). */
static void small_unit(void *ctx, int t, int64_t n)
{
    const small_job *J = ctx;
    const conv_geom *G = J->G;
    const size_t P = G->out_sp, K = G->kdim, wo = (size_t)G->w.out[2];
    float *col = J->col + (size_t)t * J->per_thread;
    for (int64_t g = 0; g < G->g; g++) {
        const float *w_g = G->wt + (size_t)(g * G->mg) * K;
        const float *b_g = G->bias ? G->bias + g * G->mg : NULL;
        float *y_g = G->y + ((size_t)n * (size_t)G->m + (size_t)(g * G->mg)) * P;
        if (G->pointwise) {
            /* X's channels of group g are already the [K, P] operand. */
            const float *x_g = G->x + ((size_t)n * (size_t)G->c + (size_t)(g * G->cg)) * P;
            fc_f32_small_gemm((size_t)G->mg, P, K, w_g, K, x_g, P, y_g, P, b_g, G->lo, G->hi);
            continue;
        }
        for (size_t q0 = 0; q0 < G->rows; q0 += J->chunk) {
            const size_t q1 = q0 + J->chunk < G->rows ? q0 + J->chunk : G->rows;
            const size_t cols = (q1 - q0) * wo;
            im2col_rows(G, n, g, q0, q1, col, cols);
            fc_f32_small_gemm((size_t)G->mg, cols, K, w_g, K, col, cols, y_g + q0 * wo, P, b_g,
                              G->lo, G->hi);
        }
    }
}

static fc_status conv_small(const fc_kernel_ctx *k, const conv_geom *G, fc_err *err)
{
    small_job J = {.G = G, .chunk = chunk_rows(G, F32_COL_BUDGET / 2, F32_MIN_COLS)};
    J.per_thread = G->pointwise ? 0 : (G->kdim * J.chunk * (size_t)G->w.out[2] + 15) & ~(size_t)15;
    const double flops = 2.0 * (double)G->n * (double)G->m * (double)G->kdim * (double)G->out_sp;
    const int nt = fc_f32_threads_for(flops, G->n);
    size_t bytes;
    if (!fc_mul_size(J.per_thread, (size_t)nt * sizeof(float), &bytes))
        return fc_err_set(err, FC_ERR_LIMIT, "Conv: im2col buffer size overflows");
    if (!G->pointwise && !(J.col = fc_workspace_get(k->ws, F32_WS_COL, bytes)))
        return fc_err_set(err, FC_ERR_NOMEM, "Conv: out of memory for im2col (%zu bytes)", bytes);
    fc_f32_parallel_for(G->n, nt, small_unit, &J);
    return FC_OK;
}

/* ---- large K: im2col chunks + OpenBLAS ---- */

static fc_status conv_blas(const fc_kernel_ctx *k, const conv_geom *G, fc_err *err)
{
    const size_t P = G->out_sp, K = G->kdim, wo = (size_t)G->w.out[2];
    const int mg = (int)G->mg;
    const float lo = G->lo, hi = G->hi;

    if (P >= F32_MIN_COLS) {
        /* Wide feature maps: each chunk of output rows of one image is its
         * own gemm, written straight into Y (ldc = P). */
        const size_t chunk = chunk_rows(G, F32_COL_BUDGET, F32_MIN_COLS);
        float *col = NULL;
        size_t bytes;
        if (!fc_mul_size(K * chunk, wo * sizeof(float), &bytes))
            return fc_err_set(err, FC_ERR_LIMIT, "Conv: im2col buffer size overflows");
        if (!G->pointwise && !(col = fc_workspace_get(k->ws, F32_WS_COL, bytes)))
            return fc_err_set(err, FC_ERR_NOMEM, "Conv: out of memory for im2col (%zu bytes)",
                              bytes);
        for (int64_t n = 0; n < G->n; n++)
            for (int64_t g = 0; g < G->g; g++) {
                const float *w_g = G->wt + (size_t)(g * G->mg) * K;
                float *y_g = G->y + ((size_t)n * (size_t)G->m + (size_t)(g * G->mg)) * P;
                for (size_t q0 = 0; q0 < G->rows; q0 += chunk) {
                    const size_t q1 = q0 + chunk < G->rows ? q0 + chunk : G->rows;
                    const size_t cols = (q1 - q0) * wo;
                    const float *b_mat;
                    size_t ldb;
                    if (G->pointwise) {
                        b_mat = G->x + ((size_t)n * (size_t)G->c + (size_t)(g * G->cg)) * P +
                                q0 * wo;
                        ldb = P;
                    } else {
                        im2col_rows(G, n, g, q0, q1, col, cols);
                        b_mat = col;
                        ldb = cols;
                    }
                    float *y_c = y_g + q0 * wo;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mg, (int)cols, (int)K,
                                1.0f, w_g, (int)K, b_mat, (int)ldb, 0.0f, y_c, (int)P);
                    for (int64_t m = 0; m < G->mg; m++)
                        bias_clamp(y_c + (size_t)m * P, y_c + (size_t)m * P, cols,
                                   G->bias ? G->bias[g * G->mg + m] : 0.0f, lo, hi);
                }
            }
        return FC_OK;
    }

    /* Small feature maps: nb images side by side in the gemm's columns,
     * col [K, nb*P] -> tmp [Mg, nb*P] -> Y with bias and clamp. */
    size_t target = F32_COL_BUDGET / (K * sizeof(float));
    if (target < F32_MIN_COLS)
        target = F32_MIN_COLS;
    size_t nb = (target + P - 1) / P;
    if (nb > (size_t)G->n)
        nb = (size_t)G->n;
    size_t col_bytes, tmp_bytes;
    if (!fc_mul_size(K * P, nb * sizeof(float), &col_bytes) ||
        !fc_mul_size((size_t)G->mg * P, nb * sizeof(float), &tmp_bytes))
        return fc_err_set(err, FC_ERR_LIMIT, "Conv: im2col buffer size overflows");
    float *col = fc_workspace_get(k->ws, F32_WS_COL, col_bytes);
    float *tmp = fc_workspace_get(k->ws, F32_WS_TMP, tmp_bytes);
    if (!col || !tmp)
        return fc_err_set(err, FC_ERR_NOMEM, "Conv: out of memory for im2col (%zu bytes)",
                          col_bytes + tmp_bytes);
    for (int64_t n0 = 0; n0 < G->n; n0 += (int64_t)nb) {
        const int64_t cnt = G->n - n0 < (int64_t)nb ? G->n - n0 : (int64_t)nb;
        const size_t ncols = (size_t)cnt * P;
        for (int64_t g = 0; g < G->g; g++) {
            for (int64_t j = 0; j < cnt; j++) {
                if (G->pointwise) {
                    const float *x_g =
                        G->x + ((size_t)(n0 + j) * (size_t)G->c + (size_t)(g * G->cg)) * P;
                    for (size_t r = 0; r < K; r++)
                        memcpy(col + r * ncols + (size_t)j * P, x_g + r * P, P * sizeof *col);
                } else {
                    im2col_rows(G, n0 + j, g, 0, G->rows, col + (size_t)j * P, ncols);
                }
            }
            const float *w_g = G->wt + (size_t)(g * G->mg) * K;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mg, (int)ncols, (int)K, 1.0f,
                        w_g, (int)K, col, (int)ncols, 0.0f, tmp, (int)ncols);
            for (int64_t m = 0; m < G->mg; m++) {
                const float bm = G->bias ? G->bias[g * G->mg + m] : 0.0f;
                for (int64_t j = 0; j < cnt; j++)
                    bias_clamp(G->y + ((size_t)(n0 + j) * (size_t)G->m +
                                       (size_t)(g * G->mg + m)) * P,
                               tmp + (size_t)m * ncols + (size_t)j * P, P, bm, lo, hi);
            }
        }
    }
    return FC_OK;
}

/* Depthwise 2-D with equal strides s in H and W: each plane is copied once
 * into a zero-padded buffer xp [Hp, Wp]; then, with q = oh*Wp + ow running
 * over whole padded rows, output q reads xp[s*q + a*dh*Wp + b*dw] for tap
 * (a, b), so each tap is one long multiply-add over the plane (the
 * columns ow >= Wo are junk, never stored) instead of a short one per row.
 * Hp = s*Ho + (kh-1)*dh + 1 rows keep the junk reads inside xp. */
typedef struct dw_job {
    const conv_geom *G;
    int64_t s, hp, wp;
    size_t per_thread;   /* floats: xp, then acc [Ho*Wp] */
    float *scratch;
    bool avx2;
} dw_job;

static ALWAYS_INLINE void dw_plane(const dw_job *J, int64_t plane, float *restrict xp,
                                   float *restrict acc)
{
    const conv_geom *G = J->G;
    const fc_window *w = &G->w;
    const int64_t H = w->in[1], W = w->in[2], Ho = w->out[1], Wo = w->out[2];
    const int64_t pt = w->pad_begin[1], pl = w->pad_begin[2], wp = J->wp, s = J->s;
    const int64_t c = plane % G->c;
    const float *xc = G->x + (size_t)plane * G->in_sp;
    for (int64_t r = 0; r < J->hp; r++) {
        float *row = xp + (size_t)(r * wp);
        const int64_t ih = r - pt;
        for (int64_t j = 0; j < wp; j++)
            row[j] = 0.0f;
        if (ih >= 0 && ih < H)
            for (int64_t j = pl; j < pl + W && j < wp; j++)
                row[j] = xc[ih * W + j - pl];
    }
    const size_t n = (size_t)(Ho * wp);
    for (size_t q = 0; q < n; q++)
        acc[q] = 0.0f;
    const float *wc = G->wt + (size_t)c * G->kvol;
    for (int64_t a = 0; a < w->kernel[1]; a++)
        for (int64_t b = 0; b < w->kernel[2]; b++) {
            const float wv = wc[a * w->kernel[2] + b];
            const float *src = xp + a * w->dilation[1] * wp + b * w->dilation[2];
            if (s == 1)
                for (size_t q = 0; q < n; q++)
                    acc[q] += wv * src[q];
            else if (s == 2)
                for (size_t q = 0; q < n; q++)
                    acc[q] += wv * src[2 * q];
            else
                for (size_t q = 0; q < n; q++)
                    acc[q] += wv * src[(size_t)s * q];
        }
    const float bc = G->bias ? G->bias[c] : 0.0f;
    float *yc = G->y + (size_t)plane * G->out_sp;
    for (int64_t oh = 0; oh < Ho; oh++)
        bias_clamp(yc + oh * Wo, acc + oh * wp, (size_t)Wo, bc, G->lo, G->hi);
}

#if F32_X86
__attribute__((target("avx2,fma"))) static void dw_plane_avx2(const dw_job *J, int64_t plane,
                                                              float *xp, float *acc)
{
    dw_plane(J, plane, xp, acc);
}
#endif

static void dw_unit(void *ctx, int t, int64_t plane)
{
    const dw_job *J = ctx;
    float *xp = J->scratch + (size_t)t * J->per_thread;
    float *acc = xp + (size_t)(J->hp * J->wp);
#if F32_X86
    if (J->avx2) {
        dw_plane_avx2(J, plane, xp, acc);
        return;
    }
#endif
    dw_plane(J, plane, xp, acc);
}

static fc_status conv_depthwise_2d(const fc_kernel_ctx *k, const conv_geom *G, fc_err *err)
{
    const fc_window *w = &G->w;
    dw_job J = {.G = G, .s = w->stride[1], .avx2 = fc_f32_use_avx2()};
    const int64_t need = J.s * (w->out[2] - 1) + (w->kernel[2] - 1) * w->dilation[2] + 1;
    J.wp = w->in[2] + w->pad_begin[2] > need ? w->in[2] + w->pad_begin[2] : need;
    J.hp = J.s * w->out[1] + (w->kernel[1] - 1) * w->dilation[1] + 1;
    size_t bytes;
    J.per_thread = ((size_t)((J.hp + w->out[1]) * J.wp) + 15) & ~(size_t)15;
    const double flops = 2.0 * (double)G->n * (double)G->c * (double)G->kvol * (double)G->out_sp;
    const int nt = fc_f32_threads_for(flops, G->n * G->c);
    if (!fc_mul_size(J.per_thread, (size_t)nt * sizeof(float), &bytes))
        return fc_err_set(err, FC_ERR_LIMIT, "Conv: depthwise buffer size overflows");
    J.scratch = fc_workspace_get(k->ws, F32_WS_COL, bytes);
    if (!J.scratch)
        return fc_err_set(err, FC_ERR_NOMEM, "Conv: out of memory (%zu bytes)", bytes);
    fc_f32_parallel_for(G->n * G->c, nt, dw_unit, &J);
    return FC_OK;
}

fc_status fc_f32_conv(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *wt = k->in[1], *b = fc_f32_in(k, 2);
    fc_tensor *y = k->out[0];
    if (x->dtype != FC_DT_F32 || wt->dtype != FC_DT_F32 || (b && b->dtype != FC_DT_F32))
        return fc_f32_unsupported(k, x->dtype != FC_DT_F32 ? x->dtype : wt->dtype, err);
    if (x->rank < 3 || x->rank > 2 + FC_MAX_SPATIAL || wt->rank != x->rank)
        return fc_err_set(err, FC_ERR_INTERNAL, "Conv: unexpected ranks %d, %d", x->rank,
                          wt->rank);
    conv_geom G;
    memset(&G, 0, sizeof G);
    if ((st = fc_attr_get_int(k->node, "group", 1, &G.g, err)))
        return st;
    if ((st = fc_window_decode(k->node, x->rank - 2, x->dims + 2, wt->dims + 2, false, &G.w,
                               err)))
        return st;
    fc_f32_window3(&G.w);
    G.n = x->dims[0];
    G.c = x->dims[1];
    G.m = wt->dims[0];
    if (G.g < 1 || G.c % G.g || G.m % G.g || wt->dims[1] != G.c / G.g)
        return fc_err_set(err, FC_ERR_INTERNAL, "Conv: groups do not fit the shapes");
    G.cg = G.c / G.g;
    G.mg = G.m / G.g;
    G.in_sp = fc_f32_prod(G.w.in, 0, 3);
    G.out_sp = fc_f32_prod(G.w.out, 0, 3);
    G.kvol = fc_f32_prod(G.w.kernel, 0, 3);
    G.kdim = (size_t)G.cg * G.kvol;
    if (y->numel == 0 || y->numel != (size_t)G.n * (size_t)G.m * G.out_sp)
        return y->numel == 0 ? FC_OK
                             : fc_err_set(err, FC_ERR_INTERNAL, "Conv: output size mismatch");
    G.pointwise = G.kvol == 1;
    for (int i = 0; i < 3; i++)
        G.pointwise = G.pointwise && G.w.stride[i] == 1 && G.w.pad_begin[i] == 0 &&
                      G.w.pad_end[i] == 0;
    G.rows = fc_f32_prod(G.w.out, 0, 2);
    G.x = x->data;
    G.wt = wt->data;
    G.bias = b ? (const float *)b->data : NULL;
    G.y = y->data;
    act_bounds(k, &G.lo, &G.hi);
    /* Other depthwise convs (3-D, unequal strides, planes too large for
     * the padded copy) take the general paths. */
    if (G.cg == 1 && G.mg == 1 && !G.pointwise && G.w.in[0] == 1 && G.w.kernel[0] == 1 &&
        G.w.stride[1] == G.w.stride[2] && G.in_sp + G.out_sp <= F32_DW_PLANE_CAP)
        return conv_depthwise_2d(k, &G, err);
    if (fc_f32_winograd_fits(&G.w, G.c, G.m, G.g))
        return fc_f32_conv_winograd(k, &G.w, G.n, G.c, G.m, G.x, G.wt, G.bias, G.y, G.lo, G.hi,
                                    err);
    if (G.kdim <= F32_SMALL_K || (G.kdim <= F32_MID_K && G.out_sp >= F32_MID_COLS))
        return conv_small(k, &G, err);
    return conv_blas(k, &G, err);
}
