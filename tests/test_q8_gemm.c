/* The int8 GEMM (src/engines/q8/q8_gemm.h): every implementation this CPU
 * can run (ref, portable, avx2, avx512, chosen through fc_q8_set_isa) against
 * an oracle written here straight from the contract's formula, bit for bit,
 * on the whole output buffer (so padding between rows must stay untouched):
 * random shapes and strides, every signedness, zero points at the edges,
 * extreme operands, sums at the int32 limits, ties and saturation in the
 * requantization.  Plus the dispatcher's API and the fallbacks when scratch
 * memory cannot be allocated. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "engines/q8/q8_gemm.h"

static const char *const all_isas[] = {"ref", "portable", "avx2", "avx512"};
#define N_ALL_ISAS ((int)(sizeof all_isas / sizeof all_isas[0]))

/* ---- deterministic random numbers ------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

static int64_t rnd_in(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

/* ---- one GEMM case ----------------------------------------------------- */

typedef enum { FILL_RANDOM, FILL_MIN, FILL_MAX, FILL_EDGES } fill_kind;

typedef struct gemm_case {
    int64_t M, N, K, lda, ldb, ldc;
    bool a_signed, b_signed, a_zp_per_row, has_bias, requant, scale_per_row, y_signed;
    int32_t b_zp;
    fill_kind fill_a, fill_b;
    /* filled by make_case */
    void *A, *B;
    int32_t *a_zp, *bias;
    float *scale;
    fc_q8_requant rq;
    size_t c_bytes;
} gemm_case;

static void fill(void *p, size_t n, bool is_signed, fill_kind kind)
{
    uint8_t *b = p;
    const int lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
    for (size_t i = 0; i < n; i++) {
        int v;
        switch (kind) {
        case FILL_MIN: v = lo; break;
        case FILL_MAX: v = hi; break;
        case FILL_EDGES: v = rnd() % 2 ? lo : hi; break;
        default: v = (int)rnd_in(lo, hi); break;
        }
        b[i] = (uint8_t)v;
    }
}

static int32_t zp_for(bool is_signed)
{
    static const int32_t u8_zps[] = {0, 255, 128, 1, 254};
    static const int32_t s8_zps[] = {0, -128, 127, -1, 1};
    if (rnd() % 3 == 0)
        return (int32_t)(is_signed ? rnd_in(-128, 127) : rnd_in(0, 255));
    return is_signed ? s8_zps[rnd() % 5] : u8_zps[rnd() % 5];
}

/* Allocates exactly what the strides require, so any read or write past
 * the matrices is an ASan error. */
static void make_case(gemm_case *c)
{
    const size_t a_bytes = (size_t)((c->M - 1) * c->lda + c->K);
    const size_t b_bytes = (size_t)((c->K - 1) * c->ldb + c->N);
    c->A = malloc(a_bytes);
    c->B = malloc(b_bytes);
    ck_assert(c->A && c->B);
    fill(c->A, a_bytes, c->a_signed, c->fill_a);
    fill(c->B, b_bytes, c->b_signed, c->fill_b);
    c->a_zp = malloc((size_t)c->M * sizeof *c->a_zp);
    c->bias = malloc((size_t)c->M * sizeof *c->bias);
    c->scale = malloc((size_t)c->M * sizeof *c->scale);
    ck_assert(c->a_zp && c->bias && c->scale);
    for (int64_t m = 0; m < c->M; m++) {
        c->a_zp[m] = zp_for(c->a_signed);
        c->bias[m] = (int32_t)rnd_in(-100000, 100000);
    }
    c->rq.scale = c->scale;
    c->rq.scale_per_row = c->scale_per_row;
    c->rq.y_signed = c->y_signed;
    c->rq.y_zp = zp_for(c->y_signed);
    c->rq.qmin = c->y_signed ? -128 : 0;
    c->rq.qmax = c->y_signed ? 127 : 255;
    if (rnd() % 4 == 0) /* a fused Relu: nothing below the zero point */
        c->rq.qmin = c->rq.y_zp;
    for (int64_t m = 0; m < c->M; m++)
        c->scale[m] = (float)(1.0 / rnd_in(1000, 60000)) * (float)rnd_in(1, 100);
    const size_t elem = c->requant ? 1 : sizeof(int32_t);
    c->c_bytes = (size_t)((c->M - 1) * c->ldc + c->N) * elem;
}

static void free_case(gemm_case *c)
{
    free(c->A);
    free(c->B);
    free(c->a_zp);
    free(c->bias);
    free(c->scale);
}

static fc_q8_gemm_args args_of(const gemm_case *c, void *C)
{
    fc_q8_gemm_args g = {
        .M = c->M, .N = c->N, .K = c->K,
        .A = c->A, .lda = c->lda, .a_signed = c->a_signed,
        .a_zp = c->a_zp, .a_zp_per_row = c->a_zp_per_row,
        .B = c->B, .ldb = c->ldb, .b_signed = c->b_signed, .b_zp = c->b_zp,
        .bias = c->has_bias ? c->bias : NULL,
        .rq = c->requant ? &c->rq : NULL,
        .C = C, .ldc = c->ldc,
    };
    return g;
}

/* ---- the oracle: the contract, term by term ----------------------------- */

static int32_t elem(const void *p, bool is_signed, int64_t i)
{
    return is_signed ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}

/* round_half_even(float(acc) * scale) + y_zp, saturated.  The product is one
 * float32 multiplication; rounding and the addition are done in double,
 * where they are exact for every float (|x| >= 2^52 is already integral). */
static int32_t oracle_requant(int32_t acc, float scale, const fc_q8_requant *rq)
{
    const float x = (float)acc * scale;
    double r = floor((double)x);
    const double d = (double)x - r;
    if (d > 0.5 || (d == 0.5 && fmod(r, 2.0) != 0.0))
        r += 1.0;
    const double y = r + rq->y_zp;
    if (y <= rq->qmin)
        return rq->qmin;
    if (y >= rq->qmax)
        return rq->qmax;
    return (int32_t)y;
}

static void oracle(const fc_q8_gemm_args *g)
{
    for (int64_t m = 0; m < g->M; m++) {
        const int64_t azp = g->a_zp[g->a_zp_per_row ? m : 0];
        for (int64_t n = 0; n < g->N; n++) {
            int64_t acc = g->bias ? g->bias[m] : 0;
            for (int64_t k = 0; k < g->K; k++)
                acc += (elem(g->A, g->a_signed, m * g->lda + k) - azp) *
                       (int64_t)(elem(g->B, g->b_signed, k * g->ldb + n) - g->b_zp);
            ck_assert_msg(acc >= INT32_MIN && acc <= INT32_MAX, "test bug: sum %lld overflows",
                          (long long)acc);
            if (!g->rq) {
                ((int32_t *)g->C)[m * g->ldc + n] = (int32_t)acc;
                continue;
            }
            const float scale = g->rq->scale[g->rq->scale_per_row ? m : 0];
            const int32_t y = oracle_requant((int32_t)acc, scale, g->rq);
            ((uint8_t *)g->C)[m * g->ldc + n] = (uint8_t)y;
        }
    }
}

/* ---- running every ISA ------------------------------------------------- */

static const char *isas[N_ALL_ISAS];
static int n_isas;

static void find_isas(void)
{
    n_isas = 0;
    for (int i = 0; i < N_ALL_ISAS; i++) {
        fc_err err;
        if (fc_q8_set_isa(all_isas[i], &err) == FC_OK)
            isas[n_isas++] = all_isas[i];
    }
}

static void describe(const gemm_case *c, char *buf, size_t size)
{
    snprintf(buf, size,
             "M=%lld N=%lld K=%lld lda=%lld ldb=%lld ldc=%lld A %s%s B %s zp %d%s%s%s",
             (long long)c->M, (long long)c->N, (long long)c->K, (long long)c->lda,
             (long long)c->ldb, (long long)c->ldc, c->a_signed ? "s8" : "u8",
             c->a_zp_per_row ? " (zp per row)" : "", c->b_signed ? "s8" : "u8", c->b_zp,
             c->has_bias ? " bias" : "",
             c->requant ? (c->y_signed ? " -> s8" : " -> u8") : " -> i32",
             c->requant && c->scale_per_row ? " (scale per row)" : "");
}

/* Sentinel-filled output buffers: the expected one from `expect` (the
 * oracle, or a given implementation), then each ISA's, compared whole. */
static void check_against(const gemm_case *c, void (*expect)(const fc_q8_gemm_args *))
{
    uint8_t *want = malloc(c->c_bytes), *got = malloc(c->c_bytes);
    ck_assert(want && got);
    memset(want, 0xA5, c->c_bytes);
    fc_q8_gemm_args g = args_of(c, want);
    expect(&g);
    for (int i = 0; i < n_isas; i++) {
        fc_err err;
        ck_assert_int_eq(fc_q8_set_isa(isas[i], &err), FC_OK);
        memset(got, 0xA5, c->c_bytes);
        g = args_of(c, got);
        fc_q8_gemm()(&g);
        if (memcmp(want, got, c->c_bytes) != 0) {
            size_t at = 0;
            while (want[at] == got[at])
                at++;
            const size_t elem_size = c->requant ? 1 : 4;
            const int64_t e = (int64_t)(at / elem_size);
            char what[256];
            describe(c, what, sizeof what);
            ck_abort_msg("%s differs at row %lld column %lld (byte %zu: want 0x%02x, "
                         "got 0x%02x): %s",
                         isas[i], (long long)(e / c->ldc), (long long)(e % c->ldc), at, want[at],
                         got[at], what);
        }
    }
    free(want);
    free(got);
}

static void check_case(const gemm_case *c)
{
    check_against(c, oracle);
}

/* A random case of the given shape; flags drawn at random. */
static gemm_case random_case(int64_t M, int64_t N, int64_t K)
{
    gemm_case c = {.M = M, .N = N, .K = K};
    c.lda = K + (rnd() % 3 == 0 ? rnd_in(1, 9) : 0);
    c.ldb = N + (rnd() % 3 == 0 ? rnd_in(1, 40) : 0);
    c.ldc = N + (rnd() % 3 == 0 ? rnd_in(1, 17) : 0);
    c.a_signed = rnd() % 2;
    c.b_signed = rnd() % 2;
    c.a_zp_per_row = rnd() % 2;
    c.has_bias = rnd() % 4 != 0;
    c.requant = rnd() % 4 != 0;
    c.scale_per_row = rnd() % 2;
    c.y_signed = rnd() % 2;
    c.b_zp = zp_for(c.b_signed);
    c.fill_a = c.fill_b = FILL_RANDOM;
    return c;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(random_shapes)
{
    /* 1..70 with the primes and the edges around the kernels' 8/16/24/32
     * column panels and 4/8 row panels weighted up */
    static const int64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 11, 13, 15, 16, 17, 23, 24,
                                    25, 31, 32, 33, 37, 41, 47, 48, 49, 53, 61, 64, 67, 70};
    const int n_sizes = (int)(sizeof sizes / sizeof sizes[0]);
    rng_state ^= (uint64_t)_i * 0x2545F4914F6CDD1Du;
    for (int t = 0; t < 60; t++) {
        const int64_t M = rnd() % 2 ? sizes[rnd() % n_sizes] : rnd_in(1, 70);
        const int64_t N = rnd() % 2 ? sizes[rnd() % n_sizes] : rnd_in(1, 70);
        const int64_t K = rnd() % 2 ? sizes[rnd() % n_sizes] : rnd_in(1, 70);
        gemm_case c = random_case(M, N, K);
        make_case(&c);
        check_case(&c);
        free_case(&c);
    }
}
END_TEST

START_TEST(all_sign_combinations)
{
    /* every signedness x zero-point mode x output kind, on one odd shape */
    for (int bits = 0; bits < 32; bits++) {
        gemm_case c = random_case(19, 45, 37);
        c.a_signed = bits & 1;
        c.b_signed = (bits >> 1) & 1;
        c.a_zp_per_row = (bits >> 2) & 1;
        c.requant = (bits >> 3) & 1;
        c.y_signed = (bits >> 4) & 1;
        c.b_zp = zp_for(c.b_signed);
        make_case(&c);
        check_case(&c);
        free_case(&c);
    }
}
END_TEST

START_TEST(extreme_operands)
{
    /* All weights at one end, all activations at one end, zero points at
     * the other: the largest products there are, which is where a
     * saturating vpmaddubsw would go wrong. */
    for (int t = 0; t < 64; t++) {
        gemm_case c = random_case(rnd_in(1, 20), rnd_in(1, 70), rnd_in(1, 70));
        c.a_signed = t & 1;
        c.b_signed = (t >> 1) & 1;
        c.fill_a = (t >> 2) & 1 ? FILL_MAX : FILL_MIN;
        c.fill_b = (t >> 3) & 1 ? FILL_MAX : FILL_EDGES;
        if ((t >> 4) & 1)
            c.fill_a = FILL_EDGES;
        c.requant = (t >> 5) & 1;
        c.b_zp = c.b_signed ? (t % 3 == 0 ? -128 : 127) : (t % 3 == 0 ? 255 : 0);
        make_case(&c);
        for (int64_t m = 0; m < c.M; m++)
            c.a_zp[m] = c.a_signed ? (m % 2 ? 127 : -128) : (m % 2 ? 255 : 0);
        check_case(&c);
        free_case(&c);
    }
}
END_TEST

START_TEST(sums_at_int32_limits)
{
    /* (A - a_zp) * (B - b_zp) = -255 * 255 or 255 * 255 for every k; with
     * K = 33025 the sum is 2147450625, and the bias takes it to exactly
     * INT32_MAX or INT32_MIN.  Some columns see the opposite sign. */
    const int64_t K = 33025;
    for (int t = 0; t < 4; t++) {
        gemm_case c = {.M = 3, .N = 21, .K = K, .lda = K, .ldb = 21, .ldc = 23};
        c.a_signed = true;
        c.b_signed = t & 1;
        c.requant = (t >> 1) & 1;
        c.y_signed = true;
        c.has_bias = true;
        c.a_zp_per_row = true;
        c.fill_a = FILL_MIN; /* -128 */
        c.fill_b = FILL_MAX;
        c.b_zp = c.b_signed ? -128 : 0; /* B - b_zp = 255 */
        make_case(&c);
        /* row 0: (-128 - 127) * 255 * K = -2147450625 -> bias to INT32_MIN
         * row 1: (-128 - -128) = 0 -> the bias alone
         * row 2: A flipped to 127, zp -128: 255 * 255 * K -> INT32_MAX */
        c.a_zp[0] = 127;
        c.a_zp[1] = -128;
        c.a_zp[2] = -128;
        memset((int8_t *)c.A + 2 * K, 127, (size_t)K);
        c.bias[0] = INT32_MIN + 2147450625;
        c.bias[1] = INT32_MAX;
        c.bias[2] = INT32_MAX - 2147450625;
        /* a few columns of B at the other end: smaller magnitudes */
        for (int64_t k = 0; k < K; k++)
            ((uint8_t *)c.B)[k * c.ldb + 20] = c.b_signed ? (uint8_t)(int8_t)-128 : 0;
        for (int64_t m = 0; m < c.M; m++)
            c.scale[m] = m == 1 ? 1e-9f : 1.0f / 65536.0f;
        check_case(&c);
        free_case(&c);
    }
}
END_TEST

START_TEST(requant_ties_and_saturation)
{
    /* scale 0.5 and 0.25 put x.5 on every other / every fourth output;
     * scale 1 and above saturate most outputs; tiny scales give zeros;
     * huge ones overflow the float product to +-inf. */
    static const float scales[] = {0.5f, 0.25f, 0.125f, 1.5f, 1.0f, 3.0f, 1e-30f, 1e30f, FLT_MAX};
    for (int t = 0; t < 9 * 4; t++) {
        gemm_case c = random_case(rnd_in(1, 33), rnd_in(1, 70), rnd_in(1, 12));
        c.requant = true;
        c.scale_per_row = t % 2;
        c.y_signed = (t / 2) % 2;
        make_case(&c);
        for (int64_t m = 0; m < c.M; m++)
            c.scale[m] = scales[t / 4] * (c.scale_per_row && m % 3 == 1 ? 0.5f : 1.0f);
        /* small sums centred on zero: many ties on both signs */
        if (t % 4 < 2)
            for (int64_t m = 0; m < c.M; m++)
                c.bias[m] = (int32_t)rnd_in(-300, 300);
        check_case(&c);
        free_case(&c);
    }
}
END_TEST

START_TEST(zero_point_and_bounds_edges)
{
    /* y_zp and the saturation bounds at the edges of the output type,
     * narrowed bounds (fused Relu/Clip), bounds outside the type and
     * y_zp far outside the usual range (the kernels' generic epilogue). */
    for (int t = 0; t < 48; t++) {
        gemm_case c = random_case(rnd_in(1, 17), rnd_in(1, 50), rnd_in(1, 40));
        c.requant = true;
        c.y_signed = t % 2;
        make_case(&c);
        static const int32_t u8_y[] = {0, 255, 128, 0, 255, 3, 100000, -100000};
        static const int32_t s8_y[] = {-128, 127, 0, -128, 127, -3, 5000000, -5000000};
        c.rq.y_zp = c.y_signed ? s8_y[(t / 2) % 8] : u8_y[(t / 2) % 8];
        switch (t % 6) {
        case 0: c.rq.qmin = c.rq.qmax = c.y_signed ? 5 : 200; break; /* one value */
        case 1: c.rq.qmin = c.y_signed ? -20 : 10; c.rq.qmax = c.y_signed ? 30 : 60; break;
        case 2: c.rq.qmin = c.y_signed ? -1000 : -7; c.rq.qmax = c.y_signed ? 1000 : 300; break;
        default: break;
        }
        for (int64_t m = 0; m < c.M; m++)
            c.scale[m] = 1.0f / (float)rnd_in(1, 4000);
        check_case(&c);
        free_case(&c);
    }
}
END_TEST

START_TEST(odd_zero_points)
{
    /* zero points no 8-bit tensor holds (the struct allows int32): the
     * kernels hand these to their generic path */
    static const int32_t zps[] = {256, -129, 1000, -5000, 70000};
    for (int t = 0; t < 10; t++) {
        gemm_case c = random_case(rnd_in(1, 9), rnd_in(1, 40), rnd_in(1, 9));
        make_case(&c);
        if (t % 2)
            c.b_zp = zps[t % 5];
        else
            for (int64_t m = 0; m < c.M; m++)
                c.a_zp[m] = zps[(t + (int)m) % 5];
        for (int64_t m = 0; m < c.M; m++)
            c.scale[m] = 1e-6f;
        check_case(&c);
        free_case(&c);
    }
}
END_TEST

START_TEST(non_finite_scales)
{
    /* NaN and infinite scales: the contract names no result for NaN, so
     * here every ISA must agree with the reference implementation. */
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int t = 0; t < 12; t++) {
        gemm_case c = random_case(rnd_in(1, 10), rnd_in(1, 40), rnd_in(1, 9));
        c.requant = true;
        c.scale_per_row = true;
        make_case(&c);
        for (int64_t m = 0; m < c.M; m++)
            c.scale[m] = m % 2 ? bad[(t + (int)m) % 3] : 0.01f;
        c.bias[0] = 0; /* acc 0 times inf is NaN, where B allows */
        check_against(&c, fc_q8_gemm_ref);
        free_case(&c);
    }
}
END_TEST

START_TEST(large_shapes)
{
    /* the conv-sized GEMM of the peer cnn's second layer, and shapes that
     * cross the kernels' row blocks and K beyond one partial sum block */
    static const int64_t shapes[][3] = {{64, 12544, 288}, {130, 517, 1153}, {3, 40, 20000}};
    for (int s = 0; s < 3; s++) {
        gemm_case c = random_case(shapes[s][0], shapes[s][1], shapes[s][2]);
        c.lda = c.K;
        c.ldb = c.ldc = c.N;
        c.a_signed = true;
        c.b_signed = s == 2;
        c.requant = s != 1;
        c.y_signed = false;
        c.fill_a = c.fill_b = FILL_RANDOM;
        make_case(&c);
        for (int64_t m = 0; m < c.M; m++)
            c.scale[m] = 1.0f / (float)(20000 + 1000 * (m % 30)) / (float)(c.K / 288 + 1);
        check_case(&c);
        free_case(&c);
    }
}
END_TEST

START_TEST(no_scratch_memory)
{
    /* With every allocation failing the kernels fall back to paths that
     * need none; the results must not change. */
    for (int t = 0; t < 6; t++) {
        gemm_case c = random_case(rnd_in(1, 40), rnd_in(1, 70), rnd_in(1, 70));
        make_case(&c);
        fc_alloc_fail_after(0);
        check_case(&c);
        fc_alloc_fail_reset();
        free_case(&c);
    }
}
END_TEST

START_TEST(empty_and_k0)
{
    /* K = 0: the sums are the bias; M or N = 0: nothing is written */
    gemm_case c = random_case(5, 9, 0);
    c.lda = 1;
    c.ldb = c.ldc = 9;
    c.K = 1; /* allocate as for K = 1, then run with K = 0 */
    make_case(&c);
    c.K = 0;
    check_case(&c);
    uint8_t before[64], after[64];
    memset(before, 0x5A, sizeof before);
    memcpy(after, before, sizeof after);
    for (int i = 0; i < n_isas; i++) {
        fc_err err;
        ck_assert_int_eq(fc_q8_set_isa(isas[i], &err), FC_OK);
        fc_q8_gemm_args g = args_of(&c, after);
        g.M = 0;
        fc_q8_gemm()(&g);
        g.M = 5;
        g.N = 0;
        fc_q8_gemm()(&g);
        ck_assert_msg(memcmp(before, after, sizeof after) == 0, "%s wrote an empty GEMM", isas[i]);
    }
    free_case(&c);
}
END_TEST

START_TEST(dispatch_api)
{
    fc_err err;
    ck_assert_int_eq(fc_q8_set_isa("mmx", &err), FC_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "mmx"));
    ck_assert_int_eq(fc_q8_set_isa(NULL, &err), FC_ERR_INVALID_ARG);
    for (int i = 0; i < N_ALL_ISAS; i++) {
        const fc_status st = fc_q8_set_isa(all_isas[i], &err);
        ck_assert(st == FC_OK || st == FC_ERR_UNSUPPORTED);
        if (st == FC_OK)
            ck_assert_str_eq(fc_q8_isa(), all_isas[i]);
    }
    ck_assert_int_eq(fc_q8_set_isa("ref", &err), FC_OK);
    ck_assert(fc_q8_gemm() == fc_q8_gemm_ref);
    ck_assert_int_eq(fc_q8_set_isa("portable", &err), FC_OK);
    ck_assert(fc_q8_gemm() == fc_q8_gemm_portable);

    /* "auto": the environment first, then the best the CPU has */
    const char *best = isas[n_isas - 1];
    ck_assert_int_eq(setenv("FLIPCHECK_Q8_ISA", "portable", 1), 0);
    ck_assert_int_eq(fc_q8_set_isa("auto", &err), FC_OK);
    ck_assert_str_eq(fc_q8_isa(), "portable");
    ck_assert_int_eq(setenv("FLIPCHECK_Q8_ISA", "no-such-isa", 1), 0);
    ck_assert_int_eq(fc_q8_set_isa("auto", &err), FC_OK);
    ck_assert_str_eq(fc_q8_isa(), best);
    ck_assert_int_eq(unsetenv("FLIPCHECK_Q8_ISA"), 0);
    ck_assert_int_eq(fc_q8_set_isa("auto", &err), FC_OK);
    ck_assert_str_eq(fc_q8_isa(), best);
    /* the plain-C ones run everywhere */
    ck_assert(n_isas >= 2);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("q8_gemm");
    TCase *tc = tcase_create("exactness");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, random_shapes, 0, 8);
    tcase_add_test(tc, all_sign_combinations);
    tcase_add_test(tc, extreme_operands);
    tcase_add_test(tc, sums_at_int32_limits);
    tcase_add_test(tc, requant_ties_and_saturation);
    tcase_add_test(tc, zero_point_and_bounds_edges);
    tcase_add_test(tc, odd_zero_points);
    tcase_add_test(tc, non_finite_scales);
    tcase_add_test(tc, large_shapes);
    tcase_add_test(tc, no_scratch_memory);
    tcase_add_test(tc, empty_and_k0);
    suite_add_tcase(s, tc);
    TCase *api = tcase_create("dispatch");
    tcase_add_test(api, dispatch_api);
    suite_add_tcase(s, api);
    return s;
}

int main(void)
{
    find_isas();
    printf("test_q8_gemm: ISAs tested:");
    for (int i = 0; i < n_isas; i++)
        printf(" %s", isas[i]);
    printf(" (automatic choice without FLIPCHECK_Q8_ISA: %s)\n", isas[n_isas - 1]);
    fflush(stdout);
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
