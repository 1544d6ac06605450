/* The q8 engine's own int8 kernels (q8_conv*.c, q8_fast_ops.c) against the
 * q8-ref engine, bit for bit, under every GEMM ISA this CPU can run
 * (fc_q8_set_isa: ref, portable, avx2, avx512):
 *
 *  - QLinearConv and ConvInteger on randomized shapes: odd sizes, 1-D to
 *    3-D, groups including depthwise, strides, asymmetric pads, dilations,
 *    1x1, batches that fold several images into one unit or split one
 *    image over several, the integer Winograd path (3x3, stride 1, 8+
 *    channels, odd output sizes), zero points at the edges of their types,
 *    weights at -128/127 (0/255), per-channel and per-tensor scales,
 *    non-finite multipliers;
 *  - QLinearAdd (with broadcasting), QuantizeLinear, MaxPool on 8-bit
 *    tensors, with values at the edges;
 *  - the 8 static int8 peer files (qdq, qop): logits identical to q8-ref's.
 * q8-ref is itself checked against ONNX Runtime and an independent
 * reference (test_q8_peers.c, test_q8_ref.c); here the point is that the
 * fast engine cannot drift from it. */
#include <math.h>
#include <stdio.h>

#include "core/fc_npy.h"
#include "engines/fc_engine.h"
#include "engines/q8/q8_internal.h"
#include "onnx/fc_onnx.h"
#include "plan_builder.h"

static const char *const all_isas[] = {"ref", "portable", "avx2", "avx512"};
#define N_ALL_ISAS ((int)(sizeof all_isas / sizeof all_isas[0]))
static const char *isas[N_ALL_ISAS];
static int n_isas;

static void find_isas(void)
{
    fc_err e;
    n_isas = 0;
    for (int i = 0; i < N_ALL_ISAS; i++)
        if (fc_q8_set_isa(all_isas[i], &e) == FC_OK)
            isas[n_isas++] = all_isas[i];
    ck_assert_int_eq(fc_q8_set_isa("auto", &e), FC_OK);
    ck_assert_int_ge(n_isas, 2);   /* ref and portable run everywhere */
}

static uint32_t rng = 2024u;
static int rnd(int lo, int hi)   /* uniform in [lo, hi] */
{
    rng = rng * 1664525u + 1013904223u;
    return lo + (int)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

static float rnd_scale(void)   /* positive, over a few decades */
{
    return ldexpf((float)rnd(1 << 10, (1 << 11) - 1) / 2048.0f, rnd(-12, -2));
}

/* A random value of an 8-bit type, the edges of the type one time in four. */
static int rnd_q(fc_dtype dt)
{
    int32_t lo, hi;
    fc_q8_range(dt, &lo, &hi);
    int r = rnd(0, 7);
    return r == 0 ? lo : r == 1 ? hi : rnd(lo, hi);
}

static void init_f32s(const char *name, const char *shape, const float *v)
{
    fc_tensor *t = init(name, FC_DT_F32, shape);
    memcpy(t->data, v, t->numel * sizeof *v);
}

static fc_tensor *init_rand(const char *name, fc_dtype dt, const char *shape)
{
    fc_tensor *t = init(name, dt, shape);
    for (size_t i = 0; i < t->numel; i++)
        fc_q8_store(t->data, dt, i, dt == FC_DT_I32 ? rnd(-100000, 100000) : rnd_q(dt));
    return t;
}

static void init_q(const char *name, fc_dtype dt, const char *shape, int v)
{
    fc_tensor *t = init(name, dt, shape);
    for (size_t i = 0; i < t->numel; i++)
        fc_q8_store(t->data, dt, i, v);
}

/* Runs g on `kind` (under the current ISA) with inputs x; output 0 into y. */
static void run_on(const char *kind, const fc_tensor *x, int n_x, fc_tensor *y)
{
    fc_engine *e = NULL;
    fc_err e_err;
    ck_assert_msg(fc_engine_create(g, kind, &e, &e_err) == FC_OK, "%s", e_err.msg);
    ck_assert_msg(fc_engine_run(e, x, n_x, y, 1, &e_err) == FC_OK, "%s: %s", kind, e_err.msg);
    fc_engine_free(e);
}

/* g on q8-ref, then on q8 under every ISA: identical bytes.  Returns the
 * number of ISAs compared. */
static int compare_engines(const fc_tensor *x, int n_x, const char *what)
{
    fc_tensor want, got;
    run_on("q8-ref", x, n_x, &want);
    fc_err e;
    for (int i = 0; i < n_isas; i++) {
        ck_assert_int_eq(fc_q8_set_isa(isas[i], &e), FC_OK);
        run_on("q8", x, n_x, &got);
        ck_assert_int_eq(got.dtype, want.dtype);
        ck_assert_int_eq(got.numel, want.numel);
        for (size_t j = 0; j < want.numel; j++)
            ck_assert_msg(fc_q8_load(&got, j) == fc_q8_load(&want, j),
                          "%s, ISA %s: element %zu is %d, q8-ref has %d", what, isas[i], j,
                          fc_q8_load(&got, j), fc_q8_load(&want, j));
        fc_tensor_release(&got);
    }
    ck_assert_int_eq(fc_q8_set_isa("auto", &e), FC_OK);
    fc_tensor_release(&want);
    return n_isas;
}

static fc_tensor rand_input(fc_dtype dt, int rank, const int64_t *dims)
{
    fc_tensor t;
    ck_assert_int_eq(fc_tensor_alloc(&t, dt, rank, dims, &err), FC_OK);
    for (size_t i = 0; i < t.numel; i++)
        fc_q8_store(t.data, dt, i, rnd_q(dt));
    return t;
}

/* ---- convolutions ------------------------------------------------------- */

typedef struct conv_case {
    int nsp, batch, group, cg, mg;
    int in[3], k[3], stride[3], dil[3], pb[3], pe[3];
    fc_dtype xt, wt, yt;
    bool per_channel, bias, integer;   /* integer: ConvInteger */
} conv_case;

static void list(char *buf, size_t n, const int *v, int count, const int *v2)
{
    size_t used = 0;
    for (int i = 0; i < count + (v2 ? count : 0); i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%d", i ? "," : "",
                                 i < count ? v[i] : v2[i - count]);
}

/* Builds the node for cc on a fresh graph, runs both engines, compares. */
static void check_conv(const conv_case *cc, const char *label)
{
    const int c = cc->group * cc->cg, m = cc->group * cc->mg;
    char shape[96], ks[64], buf[64];
    new_graph(13);
    int64_t xd[5] = {cc->batch, c, 1, 1, 1};
    int wd[5] = {m, cc->cg, 1, 1, 1};
    for (int i = 0; i < cc->nsp; i++) {
        xd[2 + i] = cc->in[i];
        wd[2 + i] = cc->k[i];
    }
    snprintf(shape, sizeof shape, "N,%d", c);
    for (int i = 0; i < cc->nsp; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ",%d", cc->in[i]);
    input("x", cc->xt, shape);
    list(ks, sizeof ks, wd, 2 + cc->nsp, NULL);
    fc_tensor *w = init_rand("w", cc->wt, ks);
    /* some channels all at one edge: the largest sums of the products */
    int32_t wlo, whi;
    fc_q8_range(cc->wt, &wlo, &whi);
    size_t per = w->numel / (size_t)m;
    for (size_t i = 0; i < per && m > 1; i++) {
        fc_q8_store(w->data, cc->wt, i, whi);
        fc_q8_store(w->data, cc->wt, per + i, wlo);
    }
    snprintf(buf, sizeof buf, "%d", m);
    const char *wshape = cc->per_channel ? buf : "";
    fc_node *n;
    if (cc->integer) {
        init_rand("xz", cc->xt, "");
        init_rand("wz", cc->wt, wshape);
        n = node("ConvInteger", "x,w,xz,wz", "y");
    } else {
        float xs = rnd_scale(), ys = rnd_scale() * 64.0f, ws[64];
        ck_assert_int_le(m, 64);
        for (int i = 0; i < m; i++)
            ws[i] = rnd_scale();
        init_f32s("xs", "", &xs);
        init_rand("xz", cc->xt, "");
        init_f32s("ws", wshape, ws);
        init_rand("wz", cc->wt, wshape);
        init_f32s("ys", "", &ys);
        init_rand("yz", cc->yt, "");
        if (cc->bias)
            init_rand("b", FC_DT_I32, buf);
        n = node("QLinearConv", cc->bias ? "x,xs,xz,w,ws,wz,ys,yz,b" : "x,xs,xz,w,ws,wz,ys,yz",
                 "y");
    }
    list(ks, sizeof ks, cc->stride, cc->nsp, NULL);
    attr_is(n, "strides", ks);
    list(ks, sizeof ks, cc->dil, cc->nsp, NULL);
    attr_is(n, "dilations", ks);
    list(ks, sizeof ks, cc->pb, cc->nsp, cc->pe);
    attr_is(n, "pads", ks);
    attr_i(n, "group", cc->group);
    output("y");
    fc_tensor x = rand_input(cc->xt, 2 + cc->nsp, xd);
    compare_engines(&x, 1, label);
    fc_tensor_release(&x);
    teardown();
}

static fc_dtype rnd_dt(void) { return rnd(0, 1) ? FC_DT_I8 : FC_DT_U8; }

static conv_case random_case(int nsp)
{
    conv_case cc = {.nsp = nsp, .batch = rnd(1, 4), .xt = rnd_dt(), .wt = rnd_dt(),
                    .yt = rnd_dt(), .per_channel = rnd(0, 1), .bias = rnd(0, 2) > 0,
                    .integer = rnd(0, 5) == 0};
    switch (rnd(0, 3)) {
    case 0: cc.group = rnd(2, 6); cc.cg = 1; cc.mg = rnd(1, 2); break;   /* depthwise */
    case 1: cc.group = rnd(2, 3); cc.cg = rnd(1, 5); cc.mg = rnd(1, 7); break;
    default: cc.group = 1; cc.cg = rnd(1, 9); cc.mg = rnd(1, 21); break;
    }
    for (int i = 0; i < nsp; i++) {
        cc.k[i] = rnd(1, nsp == 3 ? 2 : 4);
        cc.stride[i] = rnd(1, 3);
        cc.dil[i] = rnd(0, 3) ? 1 : 2;
        cc.pb[i] = rnd(0, 2);
        cc.pe[i] = rnd(0, 2);
        const int span = (cc.k[i] - 1) * cc.dil[i] + 1;
        int lo = span - cc.pb[i] - cc.pe[i];
        cc.in[i] = rnd(lo < 1 ? 1 : lo, nsp == 3 ? 5 : nsp == 2 ? 13 : 40);
    }
    return cc;
}

START_TEST(conv_random_shapes_match_q8_ref_on_every_isa)
{
    find_isas();
    int n_cases = 0, n_depthwise = 0, n_integer = 0;
    for (int t = 0; t < 48; t++) {
        const int nsp = t % 8 == 0 ? 1 : t % 8 == 1 ? 3 : 2;
        conv_case cc = random_case(nsp);
        char label[64];
        snprintf(label, sizeof label, "conv case %d (%dD, group %d)", t, nsp, cc.group);
        check_conv(&cc, label);
        n_cases++;
        n_depthwise += cc.cg == 1 && cc.group > 1;
        n_integer += cc.integer;
    }
    printf("q8 fast: %d random convs (%d depthwise, %d ConvInteger) identical to q8-ref on %d "
           "ISAs\n", n_cases, n_depthwise, n_integer, n_isas);
}
END_TEST

/* Shapes of the peer models at batches whose column space folds several
 * images into a unit, splits one over several units and threads, and ends
 * in partial tiles. */
START_TEST(conv_model_shapes_fold_and_split_images)
{
    find_isas();
    static const struct { int batch, c, m, hw, k, s, p; } s[] = {
        {9, 1, 32, 28, 3, 1, 1},  {5, 16, 16, 28, 3, 1, 1}, {7, 16, 32, 28, 3, 2, 1},
        {3, 16, 32, 28, 1, 2, 0}, {11, 64, 64, 7, 3, 1, 1}, {6, 32, 64, 14, 3, 1, 1},
        {13, 64, 128, 7, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        conv_case cc = {.nsp = 2, .batch = s[i].batch, .group = 1, .cg = s[i].c, .mg = s[i].m,
                        .in = {s[i].hw, s[i].hw}, .k = {s[i].k, s[i].k},
                        .stride = {s[i].s, s[i].s}, .dil = {1, 1}, .pb = {s[i].p, s[i].p},
                        .pe = {s[i].p, s[i].p}, .xt = FC_DT_U8, .wt = FC_DT_I8, .yt = FC_DT_U8,
                        .per_channel = true, .bias = true};
        char label[64];
        snprintf(label, sizeof label, "model-shaped conv %zu", i);
        if (cc.mg > 64)
            cc.mg = 64;
        check_conv(&cc, label);
    }
    printf("q8 fast: %zu model-shaped convs identical to q8-ref on %d ISAs\n",
           sizeof s / sizeof s[0], n_isas);
}
END_TEST

/* 3x3, stride 1, one group, 8 channels or more: the integer Winograd
 * path, with odd output sizes (partial 2x2 tiles), asymmetric pads, channel
 * counts that are not multiples of 16, and weights all at one edge against
 * inputs at the other (the largest sums the transforms must carry). */
START_TEST(conv_winograd_shapes_match_q8_ref)
{
    find_isas();
    for (int t = 0; t < 10; t++) {
        conv_case cc = {.nsp = 2, .batch = rnd(1, 3), .group = 1, .cg = rnd(8, 40),
                        .mg = rnd(8, 40), .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1},
                        .xt = rnd_dt(), .wt = rnd_dt(), .yt = rnd_dt(),
                        .per_channel = rnd(0, 1), .bias = rnd(0, 1)};
        for (int i = 0; i < 2; i++) {
            cc.pb[i] = rnd(0, 2);
            cc.pe[i] = rnd(0, 2);
            cc.in[i] = rnd(3, 12);
        }
        char label[64];
        snprintf(label, sizeof label, "Winograd-shaped conv %d", t);
        check_conv(&cc, label);
    }
    printf("q8 fast: 10 Winograd-shaped convs identical to q8-ref on %d ISAs\n", n_isas);
}
END_TEST

/* A multiplier that is infinite (y_scale 0) or NaN (x_scale 0 over 0)
 * takes the reference's own requantization: zero point, bounds. */
START_TEST(conv_non_finite_multipliers_match_q8_ref)
{
    find_isas();
    static const float ys[] = {0.0f, 0.0f, NAN, INFINITY};
    static const float xs[] = {0.5f, 0.0f, 0.5f, 0.5f};
    for (int t = 0; t < 4; t++) {
        new_graph(13);
        input("x", FC_DT_U8, "N,3,5,6");
        init_rand("w", FC_DT_I8, "17,3,2,2");
        float ws[17];
        for (int i = 0; i < 17; i++)
            ws[i] = i == 3 ? INFINITY : i == 5 ? 0.0f : rnd_scale();
        init_f32s("xs", "", &xs[t]);
        init_q("xz", FC_DT_U8, "", 255);
        init_f32s("ws", "17", ws);
        init_q("wz", FC_DT_I8, "17", 0);
        init_f32s("ys", "", &ys[t]);
        init_q("yz", FC_DT_U8, "", 77);
        init_rand("b", FC_DT_I32, "17");
        fc_node *n = node("QLinearConv", "x,xs,xz,w,ws,wz,ys,yz,b", "y");
        attr_is(n, "pads", "1,0,0,1");
        output("y");
        fc_tensor x = rand_input(FC_DT_U8, 4, (const int64_t[]){3, 3, 5, 6});
        compare_engines(&x, 1, "non-finite multipliers");
        fc_tensor_release(&x);
        teardown();
    }
    printf("q8 fast: QLinearConv with zero, NaN and infinite scales identical to q8-ref\n");
}
END_TEST

/* ---- element-wise ops ---------------------------------------------------- */

static fc_node *ms_node(const char *op, const char *ins, const char *outs)
{
    fc_node *n = node(op, ins, outs);
    fc_free(n->domain);
    n->domain = fc_strdup("com.microsoft");
    n->opset = 1;
    return n;
}

/* Floats that hit ties, the saturation, NaN and infinities at scale s. */
static float tricky_float(float s)
{
    switch (rnd(0, 9)) {
    case 0: return ((float)rnd(-600, 600) + 0.5f) * s;   /* ties */
    case 1: return NAN;
    case 2: return rnd(0, 1) ? INFINITY : -INFINITY;
    case 3: return (float)rnd(-1, 1) * 3e38f;
    default: return (float)rnd(-40000, 40000) / 100.0f * s;
    }
}

START_TEST(quantizelinear_matches_q8_ref)
{
    find_isas();
    for (int t = 0; t < 8; t++) {
        const fc_dtype yt = t % 2 ? FC_DT_I8 : FC_DT_U8;
        const int64_t n = rnd(1, 3000);
        char shape[32];
        snprintf(shape, sizeof shape, "N,%lld", (long long)n);
        new_graph(13);
        input("x", FC_DT_F32, shape);
        const float sc = t == 7 ? 0.0f : rnd_scale() * 16.0f;
        init_f32s("s", "", &sc);
        init_rand("z", yt, "");
        node("QuantizeLinear", "x,s,z", "y");
        output("y");
        fc_tensor x;
        ck_assert_int_eq(fc_tensor_alloc(&x, FC_DT_F32, 2, (const int64_t[]){2, n}, &err), FC_OK);
        for (size_t i = 0; i < x.numel; i++)
            ((float *)x.data)[i] = tricky_float(sc > 0.0f ? sc : 1.0f);
        compare_engines(&x, 1, "QuantizeLinear");
        fc_tensor_release(&x);
        teardown();
    }
    printf("q8 fast: QuantizeLinear (ties, NaN, infinities, zero scale) identical to q8-ref\n");
}
END_TEST

START_TEST(qlinearadd_matches_q8_ref)
{
    find_isas();
    for (int t = 0; t < 8; t++) {
        const fc_dtype dt = t % 2 ? FC_DT_I8 : FC_DT_U8;
        const bool bcast = t >= 6;   /* B of shape [C, 1, 1]: the reference's kernel */
        const int64_t c = rnd(1, 9), h = rnd(1, 23), w = rnd(2, 23);
        char shape[48], bshape[48];
        snprintf(shape, sizeof shape, "N,%lld,%lld,%lld", (long long)c, (long long)h, (long long)w);
        snprintf(bshape, sizeof bshape, "%lld,1,1", (long long)c);
        new_graph(13);
        input("a", dt, shape);
        input("b", dt, bcast ? bshape : shape);
        float sc[3];
        for (int i = 0; i < 3; i++)
            sc[i] = rnd_scale() * (i == 2 && t == 4 ? 1e-3f : 1.0f);   /* saturating */
        init_f32s("as", "", &sc[0]);
        init_rand("az", dt, "");
        init_f32s("bs", "", &sc[1]);
        init_rand("bz", dt, "");
        init_f32s("cs", "", &sc[2]);
        init_rand("cz", dt, "");
        ms_node("QLinearAdd", "a,as,az,b,bs,bz,cs,cz", "y");
        output("y");
        const int64_t n = rnd(1, 3);
        fc_tensor in[2];
        in[0] = rand_input(dt, 4, (const int64_t[]){n, c, h, w});
        in[1] = bcast ? rand_input(dt, 3, (const int64_t[]){c, 1, 1})
                      : rand_input(dt, 4, (const int64_t[]){n, c, h, w});
        compare_engines(in, 2, "QLinearAdd");
        fc_tensor_release(&in[0]);
        fc_tensor_release(&in[1]);
        teardown();
    }
    printf("q8 fast: QLinearAdd (same shapes, broadcast, saturation) identical to q8-ref\n");
}
END_TEST

START_TEST(maxpool_8bit_matches_q8_ref)
{
    find_isas();
    for (int t = 0; t < 8; t++) {
        const fc_dtype dt = t % 2 ? FC_DT_I8 : FC_DT_U8;
        /* t 0-3: 2x2 stride 2 (the fast kernel); 4: ceil_mode; 5: pads;
         * 6: 3x3; 7: odd width: the f32 kernel */
        const int64_t c = rnd(1, 6), h = rnd(2, 31);
        const int64_t w = t == 7 ? 2 * rnd(1, 20) + 1 : 2 * rnd(1, 40);
        char shape[48];
        snprintf(shape, sizeof shape, "N,%lld,%lld,%lld", (long long)c, (long long)h, (long long)w);
        new_graph(13);
        input("x", dt, shape);
        fc_node *n = node("MaxPool", "x", "y");
        attr_is(n, "kernel_shape", t == 6 ? "3,3" : "2,2");
        attr_is(n, "strides", "2,2");
        if (t == 4)
            attr_i(n, "ceil_mode", 1);
        if (t == 5)
            attr_is(n, "pads", "1,1,1,1");
        output("y");
        fc_tensor x = rand_input(dt, 4, (const int64_t[]){rnd(1, 3), c, h, w});
        compare_engines(&x, 1, "MaxPool");
        fc_tensor_release(&x);
        teardown();
    }
    printf("q8 fast: 8-bit MaxPool (2x2 stride 2 and the other windows) identical to q8-ref\n");
}
END_TEST

/* ---- peers -------------------------------------------------------------- */

#define PEER_IMAGES 24

START_TEST(peer_int8_files_give_q8_ref_logits)
{
    static const char *const models[] = {"mlp", "cnn", "resnet", "mobilenet"};
    const char *model = models[_i / 2], *format = _i % 2 ? "qop" : "qdq";
    find_isas();
    char path[512];
    fc_err e;
    fc_tensor u8, x;
    ck_assert_msg(fc_npy_read(FC_TEST_DATA "/peers/test_images_u8.npy", &u8, &e) == FC_OK, "%s",
                  e.msg);
    int64_t dims[4] = {PEER_IMAGES, 1, 28, 28};
    ck_assert_int_eq(fc_tensor_alloc(&x, FC_DT_F32, 4, dims, &e), FC_OK);
    for (size_t i = 0; i < x.numel; i++)   /* images 100.., to differ from other tests */
        ((float *)x.data)[i] = (float)((const uint8_t *)u8.data)[100 * 784 + i] / 255.0f;
    fc_tensor_release(&u8);
    snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.%s.onnx", model, format);
    fc_graph *pg = NULL;
    ck_assert_msg(fc_onnx_load(path, &pg, &e) == FC_OK, "%s", e.msg);
    fc_tensor want, got;
    fc_engine *en = NULL;
    ck_assert_msg(fc_engine_create(pg, "q8-ref", &en, &e) == FC_OK, "%s", e.msg);
    ck_assert_msg(fc_engine_run(en, &x, 1, &want, 1, &e) == FC_OK, "%s", e.msg);
    fc_engine_free(en);
    for (int i = 0; i < n_isas; i++) {
        ck_assert_int_eq(fc_q8_set_isa(isas[i], &e), FC_OK);
        ck_assert_msg(fc_engine_create(pg, "q8", &en, &e) == FC_OK, "%s", e.msg);
        ck_assert_msg(fc_engine_run(en, &x, 1, &got, 1, &e) == FC_OK, "%s", e.msg);
        ck_assert_int_eq(got.numel, want.numel);
        ck_assert_msg(memcmp(got.data, want.data, want.numel * sizeof(float)) == 0,
                      "%s.%s: q8 logits under ISA %s differ from q8-ref's", model, format,
                      isas[i]);
        fc_tensor_release(&got);
        fc_engine_free(en);
    }
    ck_assert_int_eq(fc_q8_set_isa("auto", &e), FC_OK);
    printf("q8 fast: %s.%s logits of %d images identical to q8-ref on %d ISAs\n", model, format,
           PEER_IMAGES, n_isas);
    fc_tensor_release(&want);
    fc_tensor_release(&x);
    fc_graph_free(pg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("q8_fast");
    TCase *tc = tcase_create("q8_fast");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, conv_random_shapes_match_q8_ref_on_every_isa);
    tcase_add_test(tc, conv_model_shapes_fold_and_split_images);
    tcase_add_test(tc, conv_winograd_shapes_match_q8_ref);
    tcase_add_test(tc, conv_non_finite_multipliers_match_q8_ref);
    tcase_add_test(tc, quantizelinear_matches_q8_ref);
    tcase_add_test(tc, qlinearadd_matches_q8_ref);
    tcase_add_test(tc, maxpool_8bit_matches_q8_ref);
    tcase_add_loop_test(tc, peer_int8_files_give_q8_ref_logits, 0, 8);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
