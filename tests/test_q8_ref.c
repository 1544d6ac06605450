/* The int8 engines on hand-built cases: rounding and saturation of
 * quantization (ties to even, NaN and infinities), requantization, zero
 * points at the edges of their types, QLinearConv padding (which must use
 * the input zero point), per-channel against per-tensor weights, uint8
 * weights with zero points, the integer products and the contrib ops, and
 * the QDQ fusion.  Convolutions and products are checked against an
 * independent reference written here (integer sums over the taps inside
 * the input, then float32(acc) * ((x_scale * w_scale) / y_scale) rounded
 * with nearbyintf) on both q8-ref and q8. */
#include <math.h>
#include <stdio.h>

#include "engines/fc_engine.h"
#include "engines/q8/q8_internal.h"
#include "onnx/fc_qdq.h"
#include "plan_builder.h"

static const char *const kinds[] = {"q8-ref", "q8"};

/* ---- graph helpers (on plan_builder's g) --------------------------------- */

static void init_f32(const char *name, const char *shape, const float *v)
{
    fc_tensor *t = init(name, FC_DT_F32, shape);
    memcpy(t->data, v, t->numel * sizeof *v);
}

/* uint8 / int8 / int32 initializer from int values. */
static void init_int(const char *name, fc_dtype dt, const char *shape, const int *v)
{
    fc_tensor *t = init(name, dt, shape);
    for (size_t i = 0; i < t->numel; i++)
        fc_q8_store(t->data, dt, i, v[i]);
}

static fc_tensor make(fc_dtype dt, int rank, const int64_t *dims)
{
    fc_tensor t;
    ck_assert_int_eq(fc_tensor_alloc(&t, dt, rank, dims, &err), FC_OK);
    return t;
}

/* Runs g on engine `kind` with one input; the first output into *y. */
static void run_on(const char *kind, const fc_tensor *x, fc_tensor *y)
{
    fc_engine *e = NULL;
    fc_err e_err;
    ck_assert_msg(fc_engine_create(g, kind, &e, &e_err) == FC_OK, "%s", e_err.msg);
    fc_tensor outs[4];
    ck_assert_int_le(g->n_outputs, 4);
    ck_assert_msg(fc_engine_run(e, x, 1, outs, g->n_outputs, &e_err) == FC_OK, "%s: %s", kind,
                  e_err.msg);
    *y = outs[0];
    for (int i = 1; i < g->n_outputs; i++)
        fc_tensor_release(&outs[i]);
    fc_engine_free(e);
}

static uint32_t rng = 12345u;
static int rnd(int lo, int hi)   /* uniform in [lo, hi] */
{
    rng = rng * 1664525u + 1013904223u;
    return lo + (int)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

static int requant_ref(int64_t acc, float mult, int zp, int qmin, int qmax)
{
    float v = nearbyintf((float)acc * mult) + (float)zp;
    return v < (float)qmin ? qmin : v > (float)qmax ? qmax : (int)v;
}

/* ---- quantize / requantize ------------------------------------------------ */

START_TEST(quantize_rounds_half_to_even_saturates_and_maps_nan_and_inf)
{
    /* x / scale lands exactly on .5 ties with scale 0.5 (exact in float). */
    static const struct {
        float x;
        int32_t zp, qmin, qmax, want;
    } c[] = {
        {0.25f, 0, 0, 255, 0},      {0.75f, 0, 0, 255, 2},      {1.25f, 0, 0, 255, 2},
        {-0.25f, 0, -128, 127, 0},  {-0.75f, 0, -128, 127, -2}, {-1.25f, 0, -128, 127, -2},
        {1.25f, 128, 0, 255, 130},  {1000.f, 0, 0, 255, 255},   {-1000.f, 255, 0, 255, 0},
        {1000.f, 127, -128, 127, 127}, {-1000.f, -128, -128, 127, -128},
        {1e30f, 0, 0, 255, 255},    {-1e30f, 0, -128, 127, -128},
        {NAN, 128, 0, 255, 128},    {NAN, -3, -128, 127, -3},
        {INFINITY, 0, 0, 255, 255}, {-INFINITY, 10, 0, 255, 0},
        {INFINITY, 0, -128, 127, 127}, {-INFINITY, 0, -128, 127, -128},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int32_t q = fc_q8_quantize(c[i].x, 0.5f, c[i].zp, c[i].qmin, c[i].qmax);
        ck_assert_msg(q == c[i].want, "quantize(%g / 0.5 + %d) = %d, expected %d", c[i].x,
                      c[i].zp, q, c[i].want);
    }
    /* A zero scale: x / 0 is +-inf, 0 / 0 NaN -> the zero point. */
    ck_assert_int_eq(fc_q8_quantize(1.0f, 0.0f, 7, 0, 255), 255);
    ck_assert_int_eq(fc_q8_quantize(-1.0f, 0.0f, 7, 0, 255), 0);
    ck_assert_int_eq(fc_q8_quantize(0.0f, 0.0f, 7, 0, 255), 7);
    printf("q8 ref: %zu quantize cases (ties to even, saturation, NaN -> zp, +-Inf -> bounds) ok\n",
           sizeof c / sizeof c[0] + 3);
}
END_TEST

START_TEST(quantizelinear_node_applies_the_same_policy_on_both_engines)
{
    static const float xs[] = {0.25f, 0.75f, -0.25f, -0.75f, 1e9f, -1e9f, NAN, INFINITY, -INFINITY};
    static const int want_u8[] = {100, 102, 100, 98, 255, 0, 100, 255, 0};
    static const int want_i8[] = {-128, -126, -128, -128, 127, -128, -128, 127, -128};
    for (int signed_ = 0; signed_ < 2; signed_++) {
        new_graph(13);
        input("x", FC_DT_F32, "9");
        init_f32("s", "", (const float[]){0.5f});
        init_int("z", signed_ ? FC_DT_I8 : FC_DT_U8, "", (const int[]){signed_ ? -128 : 100});
        node("QuantizeLinear", "x,s,z", "y");
        output("y");
        fc_tensor x = make(FC_DT_F32, 1, (const int64_t[]){9});
        memcpy(x.data, xs, sizeof xs);
        for (int k = 0; k < 2; k++) {
            fc_tensor y;
            run_on(kinds[k], &x, &y);
            for (int i = 0; i < 9; i++)
                ck_assert_msg(fc_q8_load(&y, (size_t)i) == (signed_ ? want_i8 : want_u8)[i],
                              "%s %s element %d: %d", kinds[k], signed_ ? "int8" : "uint8", i,
                              fc_q8_load(&y, (size_t)i));
            fc_tensor_release(&y);
        }
        fc_tensor_release(&x);
        teardown();
    }
}
END_TEST

START_TEST(dequantizelinear_per_axis_and_int32_without_overflow)
{
    new_graph(13);
    input("x", FC_DT_I8, "2,3");
    init_f32("s", "3", (const float[]){0.5f, 0.25f, 2.0f});
    init_int("z", FC_DT_I8, "3", (const int[]){-128, 0, 127});
    fc_node *n = node("DequantizeLinear", "x,s,z", "y");
    attr_i(n, "axis", 1);
    output("y");
    fc_tensor x = make(FC_DT_I8, 2, (const int64_t[]){2, 3});
    static const int xv[] = {127, -128, -128, -128, 127, 127};
    static const float want[] = {127.5f, -32.0f, -510.0f, 0.0f, 31.75f, 0.0f};
    for (int i = 0; i < 6; i++)
        fc_q8_store(x.data, FC_DT_I8, (size_t)i, xv[i]);
    for (int k = 0; k < 2; k++) {
        fc_tensor y;
        run_on(kinds[k], &x, &y);
        for (int i = 0; i < 6; i++)
            ck_assert_msg(((float *)y.data)[i] == want[i], "%s element %d: %g", kinds[k], i,
                          ((float *)y.data)[i]);
        fc_tensor_release(&y);
    }
    fc_tensor_release(&x);
    teardown();
    /* int32 (a bias): INT32_MIN - 1 must not overflow. */
    new_graph(13);
    input("x", FC_DT_I32, "1");
    init_f32("s", "", (const float[]){1.0f});
    init_int("z", FC_DT_I32, "", (const int[]){1});
    node("DequantizeLinear", "x,s,z", "y");
    output("y");
    x = make(FC_DT_I32, 1, (const int64_t[]){1});
    ((int32_t *)x.data)[0] = INT32_MIN;
    fc_tensor y;
    run_on("q8-ref", &x, &y);
    ck_assert(((float *)y.data)[0] == -2147483649.0f);
    fc_tensor_release(&y);
    fc_tensor_release(&x);
}
END_TEST

START_TEST(requantize_rounds_the_product_then_adds_the_zero_point)
{
    ck_assert_int_eq(fc_q8_requantize(5, 0.5f, 0, 0, 255), 2);     /* 2.5 -> 2 */
    ck_assert_int_eq(fc_q8_requantize(7, 0.5f, 0, 0, 255), 4);     /* 3.5 -> 4 */
    ck_assert_int_eq(fc_q8_requantize(-5, 0.5f, 0, -128, 127), -2);
    ck_assert_int_eq(fc_q8_requantize(1, 0.5f, 1, 0, 255), 1);     /* round(0.5) + 1, not round(1.5) */
    ck_assert_int_eq(fc_q8_requantize(3, 0.5f, 1, 0, 255), 3);     /* round(1.5) + 1 */
    ck_assert_int_eq(fc_q8_requantize(INT32_MAX, 1e30f, 0, 0, 255), 255);
    ck_assert_int_eq(fc_q8_requantize(INT32_MIN, 1e30f, 0, -128, 127), -128);
    ck_assert_int_eq(fc_q8_requantize(-600, 1.0f, 255, 0, 255), 0);
    ck_assert_int_eq(fc_q8_requantize(300, 1.0f, -128, -128, 127), 127);
    ck_assert_int_eq(fc_q8_requantize(1, NAN, 9, 0, 255), 9);
    /* The int32 GEMM itself: a 1x1 product with bias and zero points. */
    uint8_t a = 200, b = 3;
    int32_t azp = 100, bias = -7, c = 0;
    fc_q8_gemm_args ga = {.M = 1, .N = 1, .K = 1, .A = &a, .lda = 1, .a_zp = &azp, .B = &b,
                          .ldb = 1, .b_zp = 5, .bias = &bias, .C = &c, .ldc = 1};
    fc_q8_gemm_ref(&ga);
    ck_assert_int_eq(c, (200 - 100) * (3 - 5) - 7);
    printf("q8 ref: requantize rounds float32(acc) * scale half to even, then adds the zero point\n");
}
END_TEST

/* ---- QLinearConv ----------------------------------------------------------- */

typedef struct conv_case {
    fc_dtype xt, wt, yt;
    int c, m, h, w, k, pad, stride;
    int xzp, yzp;
    int wzp[4];               /* per output channel (all equal = per tensor) */
    float xs, ys, ws[4];
    bool per_channel;         /* w_scale / w_zero_point as [M] inputs */
    bool bias;
} conv_case;

/* Independent reference: taps inside the input only (padding contributes
 * exactly 0), plus bias, requantized.  pad_value >= 0 instead pads with
 * that value, to show what a wrong padding would give. */
static void conv_ref(const conv_case *cc, const int *x, const int *w, const int *b,
                     int pad_value, int *y)
{
    int oh = (cc->h + 2 * cc->pad - cc->k) / cc->stride + 1, ow = (cc->w + 2 * cc->pad - cc->k) / cc->stride + 1;
    int32_t qmin, qmax;
    fc_q8_range(cc->yt, &qmin, &qmax);
    for (int m = 0; m < cc->m; m++) {
        float mult = (cc->xs * cc->ws[cc->per_channel ? m : 0]) / cc->ys;
        int wzp = cc->wzp[cc->per_channel ? m : 0];
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                int64_t acc = b ? b[m] : 0;
                for (int c = 0; c < cc->c; c++)
                    for (int r = 0; r < cc->k; r++)
                        for (int s = 0; s < cc->k; s++) {
                            int ii = i * cc->stride - cc->pad + r, jj = j * cc->stride - cc->pad + s;
                            bool in = ii >= 0 && ii < cc->h && jj >= 0 && jj < cc->w;
                            if (!in && pad_value < 0)
                                continue;
                            int xv = in ? x[(c * cc->h + ii) * cc->w + jj] : pad_value;
                            acc += (int64_t)(xv - cc->xzp) *
                                   (w[((m * cc->c + c) * cc->k + r) * cc->k + s] - wzp);
                        }
                y[(m * oh + i) * ow + j] = requant_ref(acc, mult, cc->yzp, qmin, qmax);
            }
    }
}

/* Builds QLinearConv for cc, runs it on both engines, compares with the
 * reference; returns how many outputs a zero padding would have changed. */
static int check_conv(const conv_case *cc)
{
    int32_t xmin, xmax, wmin, wmax;
    fc_q8_range(cc->xt, &xmin, &xmax);
    fc_q8_range(cc->wt, &wmin, &wmax);
    int nx = cc->c * cc->h * cc->w, nw = cc->m * cc->c * cc->k * cc->k;
    int x[256], w[256], b[4], y[256], y0[256];
    ck_assert_int_le(nx, 256);
    ck_assert_int_le(nw, 256);
    for (int i = 0; i < nx; i++)
        x[i] = rnd(xmin, xmax);
    for (int i = 0; i < nw; i++)
        w[i] = rnd(wmin, wmax);
    for (int i = 0; i < cc->m; i++)
        b[i] = rnd(-2000, 2000);
    char shape[64];
    new_graph(13);
    snprintf(shape, sizeof shape, "1,%d,%d,%d", cc->c, cc->h, cc->w);
    input("x", cc->xt, shape);
    init_f32("xs", "", &cc->xs);
    init_int("xz", cc->xt, "", &cc->xzp);
    snprintf(shape, sizeof shape, "%d,%d,%d,%d", cc->m, cc->c, cc->k, cc->k);
    init_int("w", cc->wt, shape, w);
    snprintf(shape, sizeof shape, "%d", cc->m);
    init_f32("ws", cc->per_channel ? shape : "", cc->ws);
    init_int("wz", cc->wt, cc->per_channel ? shape : "", cc->wzp);
    init_f32("ys", "", &cc->ys);
    init_int("yz", cc->yt, "", &cc->yzp);
    init_int("b", FC_DT_I32, shape, b);
    fc_node *n = node("QLinearConv", cc->bias ? "x,xs,xz,w,ws,wz,ys,yz,b" : "x,xs,xz,w,ws,wz,ys,yz", "y");
    char pads[32], strides[16];
    snprintf(pads, sizeof pads, "%d,%d,%d,%d", cc->pad, cc->pad, cc->pad, cc->pad);
    snprintf(strides, sizeof strides, "%d,%d", cc->stride, cc->stride);
    attr_is(n, "pads", pads);
    attr_is(n, "strides", strides);
    output("y");
    conv_ref(cc, x, w, cc->bias ? b : NULL, -1, y);
    conv_ref(cc, x, w, cc->bias ? b : NULL, 0, y0);
    fc_tensor xt = make(cc->xt, 4, (const int64_t[]){1, cc->c, cc->h, cc->w});
    for (int i = 0; i < nx; i++)
        fc_q8_store(xt.data, cc->xt, (size_t)i, x[i]);
    int zero_pad_differs = 0;
    for (int k = 0; k < 2; k++) {
        fc_tensor yt;
        run_on(kinds[k], &xt, &yt);
        ck_assert_int_eq(yt.dtype, cc->yt);
        for (size_t i = 0; i < yt.numel; i++) {
            ck_assert_msg(fc_q8_load(&yt, i) == y[i], "%s output %zu: %d, expected %d", kinds[k],
                          i, fc_q8_load(&yt, i), y[i]);
            zero_pad_differs += k == 0 && y0[i] != y[i];
        }
        fc_tensor_release(&yt);
    }
    fc_tensor_release(&xt);
    teardown();
    return zero_pad_differs;
}

START_TEST(qlinearconv_pads_with_the_input_zero_point)
{
    conv_case cc = {FC_DT_U8, FC_DT_I8, FC_DT_U8, 2, 3, 5, 5, 3, 1, 1, 100, 7, {0, 0, 0},
                    0.02f, 0.05f, {0.01f, 0.003f, 0.02f}, true, true};
    int differs = check_conv(&cc);
    cc.stride = 2;
    differs += check_conv(&cc);
    printf("q8 ref: QLinearConv with padding matches the reference on q8-ref and q8; padding "
           "with 0 instead of the zero point would change %d border outputs\n", differs);
    ck_assert_int_gt(differs, 0);   /* the case can tell the two apart */
}
END_TEST

START_TEST(qlinearconv_per_channel_and_per_tensor_weights_agree_where_they_should)
{
    /* Equal channel scales as [M] or as one value: the same outputs. */
    conv_case cc = {FC_DT_U8, FC_DT_I8, FC_DT_U8, 3, 2, 4, 4, 3, 1, 1, 3, 128, {5, 5},
                    0.1f, 0.07f, {0.004f, 0.004f}, true, true};
    uint32_t seed = rng;
    check_conv(&cc);
    rng = seed;
    cc.per_channel = false;
    check_conv(&cc);
    /* Different channel scales and zero points. */
    conv_case pc = {FC_DT_U8, FC_DT_I8, FC_DT_U8, 3, 4, 4, 4, 1, 0, 1, 0, 0, {0, -3, 7, 127},
                    0.1f, 0.2f, {0.5f, 0.001f, 0.02f, 0.3f}, true, false};
    check_conv(&pc);
    printf("q8 ref: per-channel and per-tensor weight parameters checked\n");
}
END_TEST

START_TEST(uint8_weights_and_zero_points_at_the_edges)
{
    static const int edges[][3] = {{0, 0, 0}, {255, 255, 255}, {0, 128, 255}, {255, 3, 0}};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        conv_case cc = {FC_DT_U8, FC_DT_U8, FC_DT_U8, 2, 2, 4, 4, 3, 1, 1, edges[i][0],
                        edges[i][2], {edges[i][1], 200}, 0.03f, 0.4f, {0.01f, 0.02f}, true, true};
        check_conv(&cc);
    }
    static const int sedges[][3] = {{-128, -128, -128}, {127, 127, 127}, {-128, 0, 127}};
    for (size_t i = 0; i < sizeof sedges / sizeof sedges[0]; i++) {
        conv_case cc = {FC_DT_I8, FC_DT_I8, FC_DT_I8, 2, 2, 4, 4, 3, 1, 1, sedges[i][0],
                        sedges[i][2], {sedges[i][1], sedges[i][1]}, 0.03f, 0.4f, {0.01f, 0.02f},
                        false, true};
        check_conv(&cc);
    }
    printf("q8 ref: zero points 0, 255, -128, 127 on input, weight and output checked\n");
}
END_TEST

/* ---- integer products ------------------------------------------------------ */

/* Reads output y of g (run on both engines) and compares with want[]. */
static void expect_outputs(const fc_tensor *x, const int *want_i, const float *want_f, size_t n)
{
    for (int k = 0; k < 2; k++) {
        fc_tensor y;
        run_on(kinds[k], x, &y);
        ck_assert_uint_eq(y.numel, n);
        for (size_t i = 0; i < n; i++) {
            if (want_f)
                ck_assert_msg(((float *)y.data)[i] == want_f[i], "%s output %zu: %.9g, expected %.9g",
                              kinds[k], i, ((float *)y.data)[i], want_f[i]);
            else
                ck_assert_msg(fc_q8_load(&y, i) == want_i[i], "%s output %zu: %d, expected %d",
                              kinds[k], i, fc_q8_load(&y, i), want_i[i]);
        }
        fc_tensor_release(&y);
    }
}

START_TEST(qgemm_with_broadcast_c_alpha_and_float_output)
{
    enum { M = 3, K = 4, N = 5 };
    int a[M * K], b[N * K], c[M * N], bz[N];
    float bs[N];
    for (int i = 0; i < M * K; i++)
        a[i] = rnd(0, 255);
    for (int i = 0; i < N * K; i++)
        b[i] = rnd(-128, 127);
    for (int i = 0; i < M * N; i++)
        c[i] = rnd(-5000, 5000);
    for (int j = 0; j < N; j++) {
        bz[j] = rnd(-10, 10);
        bs[j] = 0.001f * (float)(j + 1);
    }
    const float as = 0.02f, ys = 0.05f, alpha = 2.0f;
    const int az = 9, yz = 120;
    for (int quantized = 0; quantized < 2; quantized++) {
        new_graph(13);
        input("a", FC_DT_U8, "3,4");
        init_f32("as", "", &as);
        init_int("az", FC_DT_U8, "", &az);
        init_int("b", FC_DT_I8, "5,4", b);
        init_f32("bs", "5", bs);
        init_int("bz", FC_DT_I8, "5", bz);
        init_int("c", FC_DT_I32, "3,5", c);
        init_f32("ys", "", &ys);
        init_int("yz", FC_DT_U8, "", &yz);
        fc_node *n = node("QGemm", quantized ? "a,as,az,b,bs,bz,c,ys,yz" : "a,as,az,b,bs,bz,c", "y");
        free(n->domain);
        n->domain = fc_strdup("com.microsoft");
        n->opset = 1;
        attr_i(n, "transB", 1);
        attr_f(n, "alpha", alpha);
        output("y");
        int want_i[M * N];
        float want_f[M * N];
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                int64_t acc = c[i * N + j];
                for (int k = 0; k < K; k++)
                    acc += (int64_t)(a[i * K + k] - az) * (b[j * K + k] - bz[j]);
                float s = (alpha * as) * bs[j];
                want_f[i * N + j] = (float)acc * s;
                want_i[i * N + j] = requant_ref(acc, s / ys, yz, 0, 255);
            }
        fc_tensor x = make(FC_DT_U8, 2, (const int64_t[]){M, K});
        for (int i = 0; i < M * K; i++)
            fc_q8_store(x.data, FC_DT_U8, (size_t)i, a[i]);
        expect_outputs(&x, quantized ? want_i : NULL, quantized ? NULL : want_f, M * N);
        fc_tensor_release(&x);
        teardown();
    }
}
END_TEST

START_TEST(qlinearmatmul_batched_with_per_column_b)
{
    enum { B = 2, M = 3, K = 4, N = 5 };
    int a[B * M * K], b[K * N], bz[N];
    float bs[N];
    for (int i = 0; i < B * M * K; i++)
        a[i] = rnd(0, 255);
    for (int i = 0; i < K * N; i++)
        b[i] = rnd(-128, 127);
    for (int j = 0; j < N; j++) {
        bz[j] = rnd(-3, 3);
        bs[j] = 0.002f + 0.0007f * (float)j;
    }
    const float as = 0.03f, ys = 0.04f;
    const int az = 128, yz = 0;
    new_graph(13);
    input("a", FC_DT_U8, "2,3,4");
    init_f32("as", "", &as);
    init_int("az", FC_DT_U8, "", &az);
    init_int("b", FC_DT_I8, "4,5", b);
    init_f32("bs", "5", bs);
    init_int("bz", FC_DT_I8, "5", bz);
    init_f32("ys", "", &ys);
    init_int("yz", FC_DT_U8, "", &yz);
    node("QLinearMatMul", "a,as,az,b,bs,bz,ys,yz", "y");
    output("y");
    int want[B * M * N];
    for (int t = 0; t < B * M; t++)
        for (int j = 0; j < N; j++) {
            int64_t acc = 0;
            for (int k = 0; k < K; k++)
                acc += (int64_t)(a[t * K + k] - az) * (b[k * N + j] - bz[j]);
            want[t * N + j] = requant_ref(acc, (as * bs[j]) / ys, yz, 0, 255);
        }
    fc_tensor x = make(FC_DT_U8, 3, (const int64_t[]){B, M, K});
    for (int i = 0; i < B * M * K; i++)
        fc_q8_store(x.data, FC_DT_U8, (size_t)i, a[i]);
    expect_outputs(&x, want, NULL, B * M * N);
    fc_tensor_release(&x);
}
END_TEST

START_TEST(matmulinteger_per_row_and_per_column_zero_points_and_convinteger)
{
    static const int a[] = {0, 255, 7, 100, 3, 250, 128, 1};   /* [2,4] */
    static const int b[] = {-128, 127, 5, -7, 0, 1, 99, -99};  /* [4,2] */
    static const int az[] = {3, 250}, bz[] = {-1, 127};
    new_graph(10);
    input("a", FC_DT_U8, "2,4");
    init_int("b", FC_DT_I8, "4,2", b);
    init_int("az", FC_DT_U8, "2", az);
    init_int("bz", FC_DT_I8, "2", bz);
    node("MatMulInteger", "a,b,az,bz", "y");
    output("y");
    int want[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            want[i * 2 + j] = 0;
            for (int k = 0; k < 4; k++)
                want[i * 2 + j] += (a[i * 4 + k] - az[i]) * (b[k * 2 + j] - bz[j]);
        }
    fc_tensor x = make(FC_DT_U8, 2, (const int64_t[]){2, 4});
    for (int i = 0; i < 8; i++)
        fc_q8_store(x.data, FC_DT_U8, (size_t)i, a[i]);
    expect_outputs(&x, want, NULL, 4);
    fc_tensor_release(&x);
    teardown();
    /* ConvInteger 3x3 input, 2x2 kernel, pad 1: padding is the zero point. */
    static const int xv[] = {2, 9, 4, 0, 255, 2, 7, 2, 2}, wv[] = {1, 0, 3, 200};
    new_graph(10);
    input("x", FC_DT_U8, "1,1,3,3");
    init_int("w", FC_DT_U8, "1,1,2,2", wv);
    init_int("xz", FC_DT_U8, "", (const int[]){2});
    init_int("wz", FC_DT_U8, "", (const int[]){1});
    fc_node *n = node("ConvInteger", "x,w,xz,wz", "y");
    attr_is(n, "pads", "1,1,1,1");
    output("y");
    int cw[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int acc = 0;
            for (int r = 0; r < 2; r++)
                for (int s = 0; s < 2; s++) {
                    int ii = i - 1 + r, jj = j - 1 + s;
                    if (ii >= 0 && ii < 3 && jj >= 0 && jj < 3)
                        acc += (xv[ii * 3 + jj] - 2) * (wv[r * 2 + s] - 1);
                }
            cw[i * 4 + j] = acc;
        }
    x = make(FC_DT_U8, 4, (const int64_t[]){1, 1, 3, 3});
    for (int i = 0; i < 9; i++)
        fc_q8_store(x.data, FC_DT_U8, (size_t)i, xv[i]);
    expect_outputs(&x, cw, NULL, 16);
    fc_tensor_release(&x);
}
END_TEST

/* ---- contrib element-wise and pooling ops ---------------------------------- */

static fc_node *ms_node(const char *op, const char *ins, const char *outs)
{
    fc_node *n = node(op, ins, outs);
    free(n->domain);
    n->domain = fc_strdup("com.microsoft");
    n->opset = 1;
    return n;
}

START_TEST(qlinearadd_matches_the_contrib_formula_within_one_step)
{
    static const int b[] = {0, 77, 255};   /* [3,1]: broadcast along the rows */
    new_graph(13);
    input("a", FC_DT_U8, "2,3,4");
    init_f32("as", "", (const float[]){0.0729409f});
    init_int("az", FC_DT_U8, "", (const int[]){124});
    init_int("b", FC_DT_U8, "3,1", b);
    init_f32("bs", "", (const float[]){0.0249746f});
    init_int("bz", FC_DT_U8, "", (const int[]){3});
    init_f32("cs", "", (const float[]){0.0404299f});
    init_int("cz", FC_DT_U8, "", (const int[]){11});
    ms_node("QLinearAdd", "a,as,az,b,bs,bz,cs,cz", "y");
    output("y");
    fc_tensor x = make(FC_DT_U8, 3, (const int64_t[]){2, 3, 4});
    for (int i = 0; i < 24; i++)
        fc_q8_store(x.data, FC_DT_U8, (size_t)i, rnd(0, 255));
    int off_by_one = 0;
    for (int k = 0; k < 2; k++) {
        fc_tensor y;
        run_on(kinds[k], &x, &y);
        for (int i = 0; i < 24; i++) {
            double v = (0.0729409 * (fc_q8_load(&x, (size_t)i) - 124) +
                        0.0249746 * (b[(i / 4) % 3] - 3)) / 0.0404299 + 11;
            int want = (int)fmin(255, fmax(0, nearbyint(v)));
            int d = abs(fc_q8_load(&y, (size_t)i) - want);
            ck_assert_msg(d <= 1, "%s element %d: %d, formula %d", kinds[k], i,
                          fc_q8_load(&y, (size_t)i), want);
            off_by_one += d;
        }
        fc_tensor_release(&y);
    }
    printf("q8 ref: QLinearAdd within one step of the contrib formula in double (%d of 48 off by one)\n",
           off_by_one);
    fc_tensor_release(&x);
}
END_TEST

START_TEST(qlinear_pools_and_concat_match_their_definitions)
{
    /* GlobalAveragePool, NCHW and channels_last. */
    for (int last = 0; last < 2; last++) {
        new_graph(13);
        input("x", FC_DT_U8, last ? "2,2,3,3" : "2,3,3,2");
        init_f32("xs", "", (const float[]){0.07f});
        init_int("xz", FC_DT_U8, "", (const int[]){130});
        init_f32("ys", "", (const float[]){0.02f});
        init_int("yz", FC_DT_U8, "", (const int[]){4});
        attr_i(ms_node("QLinearGlobalAveragePool", "x,xs,xz,ys,yz", "y"), "channels_last", last);
        output("y");
        fc_tensor x = make(FC_DT_U8, 4, last ? (const int64_t[]){2, 2, 3, 3} : (const int64_t[]){2, 3, 3, 2});
        int want[6];
        for (int i = 0; i < 36; i++)
            fc_q8_store(x.data, FC_DT_U8, (size_t)i, rnd(0, 255));
        float mult = 0.07f / (0.02f * 6.0f);
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++) {
                int64_t acc = -130 * 6;
                for (int s = 0; s < 6; s++)
                    acc += fc_q8_load(&x, (size_t)(last ? (n * 6 + s) * 3 + c : (n * 3 + c) * 6 + s));
                want[n * 3 + c] = requant_ref(acc, mult, 4, 0, 255);
            }
        expect_outputs(&x, want, NULL, 6);
        fc_tensor_release(&x);
        teardown();
    }
    /* AveragePool 2x2 stride 2 pad 1: dequantize, average the taps inside,
     * quantize with the zero point added before rounding. */
    new_graph(13);
    input("x", FC_DT_I8, "1,1,4,4");
    init_f32("xs", "", (const float[]){0.1f});
    init_int("xz", FC_DT_I8, "", (const int[]){-5});
    init_f32("ys", "", (const float[]){0.3f});
    init_int("yz", FC_DT_I8, "", (const int[]){6});
    fc_node *n = ms_node("QLinearAveragePool", "x,xs,xz,ys,yz", "y");
    attr_is(n, "kernel_shape", "2,2");
    attr_is(n, "strides", "2,2");
    attr_is(n, "pads", "1,1,1,1");
    output("y");
    fc_tensor x = make(FC_DT_I8, 4, (const int64_t[]){1, 1, 4, 4});
    for (int i = 0; i < 16; i++)
        fc_q8_store(x.data, FC_DT_I8, (size_t)i, rnd(-128, 127));
    int want[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            float sum = 0.0f;
            int count = 0;
            for (int r = 0; r < 2; r++)
                for (int s = 0; s < 2; s++) {
                    int ii = 2 * i - 1 + r, jj = 2 * j - 1 + s;
                    if (ii < 0 || ii >= 4 || jj < 0 || jj >= 4)
                        continue;
                    sum += 0.1f * (float)(fc_q8_load(&x, (size_t)(ii * 4 + jj)) + 5);
                    count++;
                }
            float v = nearbyintf(sum / (float)count / 0.3f + 6.0f);
            want[i * 3 + j] = (int)fminf(127.0f, fmaxf(-128.0f, v));
        }
    expect_outputs(&x, want, NULL, 9);
    fc_tensor_release(&x);
    teardown();
    /* Concat of an input with Y's parameters (copied) and one without. */
    new_graph(13);
    input("a", FC_DT_U8, "1,2");
    init_int("b", FC_DT_U8, "1,3", (const int[]){0, 100, 255});
    init_f32("s1", "", (const float[]){0.5f});
    init_int("z1", FC_DT_U8, "", (const int[]){10});
    init_f32("s2", "", (const float[]){0.25f});
    init_int("z2", FC_DT_U8, "", (const int[]){100});
    attr_i(ms_node("QLinearConcat", "s1,z1,a,s1,z1,b,s2,z2", "y"), "axis", 1);
    output("y");
    fc_tensor a = make(FC_DT_U8, 2, (const int64_t[]){1, 2});
    fc_q8_store(a.data, FC_DT_U8, 0, 7);
    fc_q8_store(a.data, FC_DT_U8, 1, 250);
    /* b: 0.25 * (b - 100) / 0.5 + 10 -> -50 + 10 = -40 -> 0; 10; 77.5 + 10 -> 88 (ties to even) */
    expect_outputs(&a, (const int[]){7, 250, 0, 10, 88}, NULL, 5);
    fc_tensor_release(&a);
    printf("q8 ref: QLinearGlobalAveragePool (both layouts), QLinearAveragePool, QLinearConcat ok\n");
}
END_TEST

/* ---- QDQ fusion ----------------------------------------------------------- */

/* x -> Q -> DQ -> Conv(DQ w per channel, DQ int32 bias) -> Relu -> Q -> DQ
 * -> MaxPool -> Q (MaxPool's Q scale `pool_scale`) -> DQ -> out. */
static void qdq_inits(float pool_scale)
{
    static const int w[] = {1, -2, 3, -4, 5, -6, 7, -8, 9, 10, 20, -30, 40, -50, 60, -70, 80, -90};
    new_graph(13);
    input("x", FC_DT_F32, "1,1,4,4");
    init_f32("xs", "", (const float[]){1.0f / 255.0f});
    init_int("xz", FC_DT_U8, "", (const int[]){0});
    init_int("w", FC_DT_I8, "2,1,3,3", w);
    init_f32("ws", "2", (const float[]){0.01f, 0.002f});
    init_int("wz", FC_DT_I8, "2", (const int[]){0, 0});
    init_int("b", FC_DT_I32, "2", (const int[]){-300, 1200});
    init_f32("bs", "2", (const float[]){0.01f / 255.0f, 0.002f / 255.0f});
    init_f32("ys", "", (const float[]){0.004f});
    init_int("yz", FC_DT_U8, "", (const int[]){0});
    init_f32("ps", "", &pool_scale);
}

static void build_qdq(float pool_scale)
{
    qdq_inits(pool_scale);
    node("QuantizeLinear", "x,xs,xz", "xq");
    node("DequantizeLinear", "xq,xs,xz", "xd");
    attr_i(node("DequantizeLinear", "w,ws,wz", "wd"), "axis", 0);
    attr_i(node("DequantizeLinear", "b,bs", "bd"), "axis", 0);
    attr_is(node("Conv", "xd,wd,bd", "c"), "pads", "1,1,1,1");
    node("Relu", "c", "r");
    node("QuantizeLinear", "r,ys,yz", "rq");
    node("DequantizeLinear", "rq,ys,yz", "rd");
    fc_node *n = node("MaxPool", "rd", "m");
    attr_is(n, "kernel_shape", "2,2");
    attr_is(n, "strides", "2,2");
    node("QuantizeLinear", "m,ps,yz", "mq");
    node("DequantizeLinear", "mq,ps,yz", "out");
    output("out");
}

START_TEST(qdq_fusion_matches_the_qoperator_graph_and_reports_float_islands)
{
    fc_tensor x = make(FC_DT_F32, 4, (const int64_t[]){1, 1, 4, 4});
    for (int i = 0; i < 16; i++)
        ((float *)x.data)[i] = (float)rnd(0, 255) / 255.0f;
    build_qdq(0.004f);
    fc_graph *fused = NULL;
    int n_fused = 0;
    ck_assert_int_eq(fc_qdq_fuse(g, &fused, &n_fused, &err), FC_OK);
    ck_assert_int_eq(n_fused, 2);   /* Conv (+ the redundant Relu), MaxPool */
    ck_assert_int_eq(fused->n_nodes, 4);
    ck_assert_str_eq(fused->nodes[1].op_type, "QLinearConv");
    ck_assert_str_eq(fused->nodes[2].op_type, "MaxPool");
    fc_graph_free(fused);
    fc_tensor qdq[2];
    for (int k = 0; k < 2; k++) {
        fc_engine *e;
        ck_assert_int_eq(fc_engine_create(g, kinds[k], &e, &err), FC_OK);
        char buf[64];
        ck_assert_int_eq(fc_engine_float_islands(e, buf, sizeof buf), 0);
        ck_assert_int_eq(fc_engine_qdq_fused(e), 2);
        fc_engine_free(e);
        run_on(kinds[k], &x, &qdq[k]);
    }
    teardown();
    /* The same model in QOperator form. */
    qdq_inits(0.004f);
    node("QuantizeLinear", "x,xs,xz", "xq");
    attr_is(node("QLinearConv", "xq,xs,xz,w,ws,wz,ys,yz,b", "rq"), "pads", "1,1,1,1");
    fc_node *n = node("MaxPool", "rq", "mq");
    attr_is(n, "kernel_shape", "2,2");
    attr_is(n, "strides", "2,2");
    node("DequantizeLinear", "mq,ps,yz", "out");
    output("out");
    for (int k = 0; k < 2; k++) {
        fc_tensor y;
        run_on(kinds[k], &x, &y);
        ck_assert_uint_eq(y.numel, qdq[k].numel);
        ck_assert_int_eq(memcmp(y.data, qdq[k].data, fc_tensor_bytes(&y)), 0);
        fc_tensor_release(&y);
        fc_tensor_release(&qdq[k]);
    }
    teardown();
    /* MaxPool re-quantized to another scale is not a pure move: it stays
     * in float, between its DQ and Q. */
    build_qdq(0.008f);
    fc_engine *e;
    ck_assert_int_eq(fc_engine_create(g, "q8-ref", &e, &err), FC_OK);
    char buf[64];
    ck_assert_int_eq(fc_engine_float_islands(e, buf, sizeof buf), 1);
    ck_assert_str_eq(buf, "MaxPool 1");
    ck_assert_int_eq(fc_engine_qdq_fused(e), 1);
    fc_engine_free(e);
    fc_tensor y;
    run_on("q8-ref", &x, &y);
    fc_tensor_release(&y);
    fc_tensor_release(&x);
    printf("q8 ref: QDQ Conv+Relu and MaxPool fused (= the QOperator graph, bit for bit); a "
           "MaxPool changing scale reported as a float island (%s)\n", buf);
}
END_TEST

START_TEST(qdq_fusion_leaves_float_graphs_alone)
{
    new_graph(13);
    input("x", FC_DT_F32, "1,4");
    node("Relu", "x", "y");
    output("y");
    fc_graph *fused = (fc_graph *)1;
    int n_fused = -1;
    ck_assert_int_eq(fc_qdq_fuse(g, &fused, &n_fused, &err), FC_OK);
    ck_assert_ptr_null(fused);
    ck_assert_int_eq(n_fused, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("q8_ref");
    TCase *tc = tcase_create("int8");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, quantize_rounds_half_to_even_saturates_and_maps_nan_and_inf);
    tcase_add_test(tc, quantizelinear_node_applies_the_same_policy_on_both_engines);
    tcase_add_test(tc, dequantizelinear_per_axis_and_int32_without_overflow);
    tcase_add_test(tc, requantize_rounds_the_product_then_adds_the_zero_point);
    tcase_add_test(tc, qlinearconv_pads_with_the_input_zero_point);
    tcase_add_test(tc, qlinearconv_per_channel_and_per_tensor_weights_agree_where_they_should);
    tcase_add_test(tc, uint8_weights_and_zero_points_at_the_edges);
    tcase_add_test(tc, qgemm_with_broadcast_c_alpha_and_float_output);
    tcase_add_test(tc, qlinearmatmul_batched_with_per_column_b);
    tcase_add_test(tc, matmulinteger_per_row_and_per_column_zero_points_and_convinteger);
    tcase_add_test(tc, qlinearadd_matches_the_contrib_formula_within_one_step);
    tcase_add_test(tc, qlinear_pools_and_concat_match_their_definitions);
    tcase_add_test(tc, qdq_fusion_matches_the_qoperator_graph_and_reports_float_islands);
    tcase_add_test(tc, qdq_fusion_leaves_float_graphs_alone);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
