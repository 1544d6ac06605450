/* Gradients of the f32 engine (src/engines/f32/f32_grad_*.c), part 1:
 * Conv (dense, sparse dY, depthwise, Winograd, fused Relu/Clip, weight and
 * bias gradients), Gemm, MatMul and the pools against finite differences
 * (harness in grad_fd.h; test_grad_f32_ops.c has the other ops), and the
 * four peer models against PyTorch autograd: the gradient on the first 128
 * test images must match tests/data/peers/<m>.torch_grad128.npy.
 *
 * Single-node graphs with odd shapes; inputs away from kinks and ties
 * (Relu, Clip, MaxPool) so that the differences see one linear piece;
 * pads, strides, dilations, groups and the kernels' special paths
 * (depthwise, Winograd, sparse dY, 2x2 max pool, fused activations, the
 * portable code without AVX2) each get a case. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_npy.h"
#include "grad_fd.h"
#include "onnx/fc_onnx.h"

/* ---- Conv ---------------------------------------------------------------- */

typedef struct conv_case {
    const char *what, *x, *w, *strides, *dilations, *pads, *auto_pad;
    int group;
    bool bias;
} conv_case;

static const conv_case conv_cases[] = {
    {"conv 3x3 pad 1", "2,3,5,7", "4,3,3,3", NULL, NULL, "1,1,1,1", NULL, 1, true},
    {"conv groups, strides, dilation, odd pads", "2,4,7,6", "6,2,3,2", "2,1", "1,2", "0,1,2,0",
     NULL, 2, true},
    {"conv depthwise stride 2", "2,4,6,5", "4,1,3,3", "2,2", NULL, "1,1,1,1", NULL, 4, true},
    {"conv depthwise multiplier 2", "2,3,5,5", "6,1,3,3", NULL, NULL, "1,0,0,1", NULL, 3, false},
    {"conv pointwise", "2,5,4,3", "3,5,1,1", NULL, NULL, NULL, NULL, 1, true},
    {"conv pointwise stride 2", "3,5,5,5", "4,5,1,1", "2,2", NULL, NULL, NULL, 1, false},
    {"conv winograd 16->16", "2,16,8,7", "16,16,3,3", NULL, NULL, "1,1,1,1", NULL, 1, true},
    {"conv winograd odd pads", "1,16,7,9", "24,16,3,3", NULL, NULL, "0,2,1,0", NULL, 1, false},
    {"conv 5x5 K=400 chunked rows", "1,16,20,20", "2,16,5,5", NULL, NULL, "2,2,2,2", NULL, 1,
     true},
    {"conv 1-D stride 2 dilation 2", "2,3,9", "2,3,3", "2", "2", "1,1", NULL, 1, true},
    {"conv 3-D", "2,2,4,5,3", "3,2,2,3,2", NULL, NULL, "1,1,0,0,1,1", NULL, 1, true},
    {"conv SAME_UPPER stride 2", "2,3,6,7", "2,3,3,3", "2,2", NULL, NULL, "SAME_UPPER", 1, true},
    {"conv depthwise 1-D", "2,3,8", "3,1,3", "1", "2", "2,2", NULL, 3, true},
    {"conv depthwise 3-D dilated", "2,3,4,5,6", "3,1,2,3,2", NULL, "2,1,2", "1,0,1,0,1,1", NULL, 3,
     true},
    {"conv depthwise 2x2 stride 3 dilation 2", "2,4,8,9", "4,1,2,2", "3,3", "2,2", "1,1,0,2",
     NULL, 4, false},
};

START_TEST(conv_input_gradient_matches_finite_differences)
{
    const conv_case *c = &conv_cases[_i];
    rng = 100 + (uint64_t)_i;
    graph_input(13, c->x, -1, 1);
    fc_tensor *w = weights("w", c->w, -1, 1);
    char b_shape[16];
    snprintf(b_shape, sizeof b_shape, "%lld", (long long)w->dims[0]);
    if (c->bias)
        weights("b", b_shape, -1, 1);
    fc_node *n = node("Conv", c->bias ? "x,w,b" : "x,w", "y");
    if (c->strides)
        attr_is(n, "strides", c->strides);
    if (c->dilations)
        attr_is(n, "dilations", c->dilations);
    if (c->pads)
        attr_is(n, "pads", c->pads);
    if (c->auto_pad)
        attr_s(n, "auto_pad", c->auto_pad);
    attr_i(n, "group", c->group);
    head("y");
    check_fd(c->what, FD_H, FD_TOL);
}
END_TEST

/* The sparse input-gradient path (f32_grad_convs.c) takes over when most
 * of dY is zero, as after a max pool.  Conv -> Mul by a constant mask with
 * 80% zeros makes dY that sparse while the graph stays linear (no kinks
 * for the finite differences). */
static const conv_case sparse_cases[] = {
    {"sparse dY: conv 16->8 3x3 pad 1", "2,16,6,7", "8,16,3,3", NULL, NULL, "1,1,1,1", NULL, 1,
     true},
    {"sparse dY: conv 8->12 stride 2", "2,8,7,6", "12,8,3,3", "2,2", NULL, "1,0,1,1", NULL, 1,
     false},
    {"sparse dY: conv 40->6 5x5 (two channel blocks)", "1,40,7,7", "6,40,5,5", NULL, NULL,
     "2,2,2,2", NULL, 1, true},
    {"sparse dY: conv groups 2, dilation 2", "2,16,7,8", "6,8,3,2", NULL, "2,2", "2,1,0,1", NULL,
     2, true},
    {"sparse dY: conv 1-D kernel 7 stride 3", "2,8,20", "4,8,7", "3", NULL, "3,2", NULL, 1, true},
    {"sparse dY: conv 3-D", "2,8,3,4,5", "4,8,2,3,3", NULL, NULL, "0,1,1,1,1,1", NULL, 1, true},
    {"sparse dY: conv 12->80 (two mask words)", "2,12,4,5", "80,12,3,3", NULL, NULL, "1,1,1,1",
     NULL, 1, true},
};

static void run_sparse_case(int which)
{
    const conv_case *c = &sparse_cases[which];
    rng = 200 + (uint64_t)which;
    graph_input(13, c->x, -1, 1);
    weights("w", c->w, -1, 1);
    if (c->bias) {
        char b_shape[16];
        snprintf(b_shape, sizeof b_shape, "%lld", (long long)g->values[val("w")].init->dims[0]);
        weights("b", b_shape, -1, 1);
    }
    fc_node *n = node("Conv", c->bias ? "x,w,b" : "x,w", "c");
    if (c->strides)
        attr_is(n, "strides", c->strides);
    if (c->dilations)
        attr_is(n, "dilations", c->dilations);
    if (c->pads)
        attr_is(n, "pads", c->pads);
    attr_i(n, "group", c->group);
    plan_ok(1);
    const fc_vinfo *vi = info("c");
    char shape[64] = "1";
    for (int i = 1; i < vi->rank; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ",%lld",
                 (long long)vi->dims[i]);
    fc_tensor *mask = init("mask", FC_DT_F32, shape);
    for (size_t i = 0; i < mask->numel; i++)
        ((float *)mask->data)[i] = urand() < 0.2 ? uni(0.5, 1.5) : 0.0f;
    node("Mul", "c,mask", "y");
    head("y");
    check_fd(c->what, FD_H, FD_TOL);
}

START_TEST(conv_with_sparse_output_gradient_matches_finite_differences)
{
    run_sparse_case(_i);
}
END_TEST

/* Conv with a fused Relu or Clip(0, 6): channel 0 stays inside the clamp,
 * channel 1 is negative everywhere, channel 2 above 6 everywhere (inputs
 * in [0.5, 1], weights by channel), so the masks of the fused activation
 * are exercised both ways far from their kinks. */
START_TEST(conv_with_fused_activation_masks_by_the_clamped_output)
{
    rng = 7;
    graph_input(13, "2,3,5,6", 0.5, 1);
    fc_tensor *w = init("w", FC_DT_F32, "3,3,3,3");
    float *wd = w->data;
    for (int i = 0; i < 27; i++) {
        wd[i] = uni(0.05, 0.2);   /* inside (0, 6): 0.3 .. 5.5 */
        wd[27 + i] = -uni(0.1, 1);
        wd[54 + i] = uni(1.2, 2);
    }
    fc_tensor *b = init("b", FC_DT_F32, "3");
    ((float *)b->data)[0] = 0.1f;
    node("Conv", "x,w,b", "c");
    attr_is(&g->nodes[0], "pads", "1,1,1,1");
    if (_i == 0) {
        node("Relu", "c", "y");
    } else {
        ((float *)init("lo", FC_DT_F32, "")->data)[0] = 0.0f;
        ((float *)init("hi", FC_DT_F32, "")->data)[0] = 6.0f;
        node("Clip", "c,lo,hi", "y");
    }
    head("y");
    check_fd(_i == 0 ? "conv + fused relu" : "conv + fused clip(0, 6)", FD_H, FD_TOL);
}
END_TEST

/* The weights (and then the bias) as the model's input: Conv(D, x) with a
 * constant data tensor D of M images, so the output's first axis is M. */
START_TEST(conv_weight_and_bias_gradients_match_finite_differences)
{
    rng = 11;
    if (_i == 0) {
        graph_input(13, "4,3,3,3", -1, 1);
        weights("d", "4,3,6,5", -1, 1);
        node("Conv", "d,x", "y");
        attr_is(&g->nodes[0], "pads", "1,0,1,1");
    } else {
        graph_input(13, "4", -1, 1);
        weights("d", "4,2,5,5", -1, 1);
        weights("w", "4,1,3,3", -1, 1);
        node("Conv", "d,w,x", "y");
        attr_i(&g->nodes[0], "group", 2);
    }
    head("y");
    check_fd(_i == 0 ? "conv weight gradient" : "conv bias gradient", FD_H, FD_TOL);
}
END_TEST

/* ---- Gemm, MatMul ------------------------------------------------------- */

static void gemm_attrs(fc_node *n, int ta, int tb)
{
    attr_i(n, "transA", ta);
    attr_i(n, "transB", tb);
    attr_f(n, "alpha", 0.7f);
    attr_f(n, "beta", 1.3f);
}

START_TEST(gemm_gradients_match_finite_differences)
{
    /* _i: bit 0 transA, bit 1 transB; 4, 5: x as B (transB), as C. */
    rng = 20 + (uint64_t)_i;
    char what[64];
    if (_i < 4) {
        const int ta = _i & 1, tb = _i >> 1;
        /* A: M = 3 rows of K = 5; transposed first for transA, so that the
         * output's first axis stays the input's. */
        graph_input(13, "3,5", -1, 1);
        weights("b", tb ? "4,5" : "5,4", -1, 1);
        weights("c", _i == 3 ? "1,4" : "4", -1, 1);
        if (ta)
            node("Transpose", "x", "xa");
        gemm_attrs(node("Gemm", ta ? "xa,b,c" : "x,b,c", "y"), ta, tb);
        snprintf(what, sizeof what, "gemm dA transA %d transB %d", ta, tb);
    } else if (_i == 4) {
        graph_input(13, "4,5", -1, 1);              /* B [N=4, K=5] with transB */
        weights("a", "5,3", -1, 1);                  /* A [K, M] with transA */
        gemm_attrs(node("Gemm", "a,x", "t"), 1, 1);
        node("Transpose", "t", "y");
        snprintf(what, sizeof what, "gemm dB (both transposed)");
    } else {
        graph_input(13, "3,1", -1, 1);              /* C [M, 1] broadcast along N */
        weights("a", "3,5", -1, 1);
        weights("b", "5,4", -1, 1);
        gemm_attrs(node("Gemm", "a,b,x", "y"), 0, 0);
        snprintf(what, sizeof what, "gemm dC [M,1]");
    }
    head("y");
    check_fd(what, FD_H, FD_TOL);
}
END_TEST

typedef struct mm_case {
    const char *what, *x, *w;
    bool x_first;
} mm_case;

static const mm_case mm_cases[] = {
    {"matmul stacked [2,3,4] x [4,5]", "2,3,4", "4,5", true},
    {"matmul batched [2,2,3,4] x [2,4,5]", "2,2,3,4", "2,4,5", true},
    {"matmul broadcast [2,1,3,4] x [2,4,5]", "2,1,3,4", "2,4,5", true},
    {"matmul A const [3,4] x x[2,4,5]", "2,4,5", "3,4", false},
    {"matmul x[3,4] x 1-D [4]", "3,4", "4", true},
    {"matmul x x x (square, aliased)", "2,3,3", NULL, true},
};

START_TEST(matmul_gradients_match_finite_differences)
{
    const mm_case *c = &mm_cases[_i];
    rng = 30 + (uint64_t)_i;
    graph_input(13, c->x, -1, 1);
    if (c->w)
        weights("w", c->w, -1, 1);
    node("MatMul", !c->w ? "x,x" : c->x_first ? "x,w" : "w,x", "y");
    head("y");
    check_fd(c->what, FD_H, FD_TOL);
}
END_TEST

START_TEST(gemm_and_matmul_with_fused_activations)
{
    /* Gemm + Relu (fused), MatMul + Clip(-0.5, 0.5) opset 6 (fused): inputs
     * and weights are built so no pre-activation is within 0.05 of a kink. */
    rng = 40 + (uint64_t)_i;
    graph_input(_i == 0 ? 13 : 10, "2,4", 0.5, 1);
    fc_tensor *w = init("w", FC_DT_F32, "4,3");
    for (int r = 0; r < 4; r++) {
        ((float *)w->data)[r * 3 + 0] = uni(0.02, 0.1);   /* inside: (0.04, 0.4) */
        ((float *)w->data)[r * 3 + 1] = -uni(0.3, 1);    /* below both clamps */
        ((float *)w->data)[r * 3 + 2] = uni(0.3, 1);     /* above 0.5 */
    }
    if (_i == 0) {
        node("Gemm", "x,w", "m");
        node("Relu", "m", "y");
    } else {
        node("MatMul", "x,w", "m");
        fc_node *n = node("Clip", "m", "y");
        attr_f(n, "min", -0.5f);
        attr_f(n, "max", 0.5f);
    }
    head("y");
    check_fd(_i == 0 ? "gemm + fused relu" : "matmul + fused clip (opset 10)", FD_H, FD_TOL);
}
END_TEST

/* ---- pools -------------------------------------------------------------- */

typedef struct pool_case {
    const char *what, *op, *x, *kernel, *strides, *pads, *dilations;
    int ceil_mode, count_include_pad;
} pool_case;

static const pool_case pool_cases[] = {
    {"maxpool 2x2 s2 odd input", "MaxPool", "2,3,7,9", "2,2", "2,2", NULL, NULL, 0, 0},
    {"maxpool 2x2 s2 wide rows", "MaxPool", "2,2,4,22", "2,2", "2,2", NULL, NULL, 0, 0},
    {"maxpool 3x3 s2 pad 1", "MaxPool", "2,3,7,6", "3,3", "2,2", "1,1,1,1", NULL, 0, 0},
    {"maxpool 3x3 s2 ceil_mode", "MaxPool", "2,2,6,6", "3,3", "2,2", NULL, NULL, 1, 0},
    {"maxpool 2x2 dilation 2", "MaxPool", "2,2,7,7", "2,2", "1,1", NULL, "2,2", 0, 0},
    {"maxpool 2x2 s2 ceil_mode", "MaxPool", "2,2,5,5", "2,2", "2,2", NULL, NULL, 1, 0},
    {"maxpool 1-D k3 s1", "MaxPool", "2,3,10", "3", "1", "1,1", NULL, 0, 0},
    {"maxpool 3-D 2x2x2", "MaxPool", "2,2,4,4,5", "2,2,2", "2,2,2", NULL, NULL, 0, 0},
    {"avgpool 3x3 s2 pad 1", "AveragePool", "2,3,7,6", "3,3", "2,2", "1,1,1,1", NULL, 0, 0},
    {"avgpool 3x3 s2 pad 1 count_include_pad", "AveragePool", "2,3,7,6", "3,3", "2,2",
     "1,1,1,1", NULL, 0, 1},
    {"avgpool 3x3 s2 ceil_mode", "AveragePool", "2,2,6,6", "3,3", "2,2", "0,1,0,1", NULL, 1, 1},
    {"avgpool 1-D k2 s1", "AveragePool", "2,3,7", "2", "1", NULL, NULL, 0, 0},
    {"globalaveragepool", "GlobalAveragePool", "2,3,4,5", NULL, NULL, NULL, NULL, 0, 0},
    {"globalmaxpool", "GlobalMaxPool", "2,3,4,5", NULL, NULL, NULL, NULL, 0, 0},
};

static void run_pool_case(int which)
{
    const pool_case *c = &pool_cases[which];
    rng = 80 + (uint64_t)which;
    float *x = graph_input(13, c->x, -1, 1);
    distinct(x, xt.numel, 0.03f);
    fc_node *n = node(c->op, "x", "y");
    if (c->kernel)
        attr_is(n, "kernel_shape", c->kernel);
    if (c->strides)
        attr_is(n, "strides", c->strides);
    if (c->pads)
        attr_is(n, "pads", c->pads);
    if (c->dilations)
        attr_is(n, "dilations", c->dilations);
    if (c->ceil_mode)
        attr_i(n, "ceil_mode", 1);
    if (c->count_include_pad)
        attr_i(n, "count_include_pad", 1);
    head("y");
    check_fd(c->what, FD_H, FD_TOL);
}

START_TEST(pools_match_finite_differences)
{
    run_pool_case(_i);
}
END_TEST

/* The same kernels without their AVX2 code (fc_f32_set_portable), as on a
 * CPU without it: the sparse conv gradient and the 2x2 max pool. */
START_TEST(portable_code_paths_match_finite_differences)
{
    fc_f32_set_portable(true);
    tag = "portable: ";
    if (_i < 3)
        run_sparse_case(_i == 2 ? 6 : _i);
    else
        run_pool_case(_i - 3);
    fc_f32_set_portable(false);
    tag = "";
}
END_TEST

/* ---- peers: PyTorch autograd ------------------------------------------- */

START_TEST(peer_model_gradients_match_pytorch_autograd)
{
    static const char *const models[] = {"mlp", "cnn", "resnet", "mobilenet"};
    const char *m = models[_i];
    char path[512];
    fc_err e2;
    fc_tensor u8, labels, want;
    ck_assert_msg(fc_npy_read(FC_TEST_DATA "/peers/test_images_u8.npy", &u8, &e2) == FC_OK,
                  "%s", e2.msg);
    ck_assert_msg(fc_npy_read(FC_TEST_DATA "/peers/test_labels.npy", &labels, &e2) == FC_OK,
                  "%s", e2.msg);
    snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.torch_grad128.npy", m);
    ck_assert_msg(fc_npy_read(path, &want, &e2) == FC_OK, "%s", e2.msg);
    ck_assert_int_eq(labels.dtype, FC_DT_I64);
    int64_t dims[4] = {128, u8.dims[1], u8.dims[2], u8.dims[3]};
    ck_assert_int_eq(fc_tensor_alloc(&xt, FC_DT_F32, 4, dims, &e2), FC_OK);
    ck_assert_uint_eq(want.numel, xt.numel);
    for (size_t i = 0; i < xt.numel; i++)
        ((float *)xt.data)[i] = (float)((const uint8_t *)u8.data)[i] / 255.0f;

    snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.onnx", m);
    fc_graph *mg = NULL;
    ck_assert_msg(fc_onnx_load(path, &mg, &e2) == FC_OK, "%s", e2.msg);
    fc_engine *e = NULL;
    ck_assert_msg(fc_engine_create(mg, "f32", &e, &e2) == FC_OK, "%s", e2.msg);
    fc_loss loss = {FC_LOSS_CE, labels.data};
    fc_tensor grad;
    ck_assert_msg(fc_engine_grad(e, &xt, &loss, &grad, NULL, NULL, &e2) == FC_OK, "%s", e2.msg);
    const float *gd = grad.data, *t = want.data;
    double d2 = 0.0, t2 = 0.0, maxd = 0.0;
    size_t big = 0, same = 0;
    for (size_t i = 0; i < grad.numel; i++) {
        const double d = (double)gd[i] - (double)t[i];
        d2 += d * d;
        t2 += (double)t[i] * t[i];
        maxd = fabs(d) > maxd ? fabs(d) : maxd;
        if (fabs(t[i]) > 1e-6) {
            big++;
            same += (gd[i] > 0) == (t[i] > 0) && gd[i] != 0;
        }
    }
    const double rel = sqrt(d2 / t2), agree = big ? (double)same / (double)big : 1.0;
    printf("peers: %-9s grad vs torch: rel L2 %.3e, max |diff| %.3e, sign agreement %.5f "
           "(%zu of %zu elements with |torch| > 1e-6)\n",
           m, rel, maxd, agree, same, big);
    ck_assert_msg(rel <= 1e-4, "%s: relative L2 error %g > 1e-4", m, rel);
    ck_assert_msg(agree >= 0.999, "%s: signs agree on %.5f < 0.999", m, agree);
    fc_tensor_release(&grad);
    fc_engine_free(e);
    fc_graph_free(mg);
    fc_tensor_release(&u8);
    fc_tensor_release(&labels);
    fc_tensor_release(&want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("grad_f32");
    TCase *tc = tcase_create("finite_differences");
    tcase_add_checked_fixture(tc, NULL, reset);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, conv_input_gradient_matches_finite_differences, 0,
                        (int)(sizeof conv_cases / sizeof conv_cases[0]));
    tcase_add_loop_test(tc, conv_with_sparse_output_gradient_matches_finite_differences, 0,
                        (int)(sizeof sparse_cases / sizeof sparse_cases[0]));
    tcase_add_loop_test(tc, conv_with_fused_activation_masks_by_the_clamped_output, 0, 2);
    tcase_add_loop_test(tc, conv_weight_and_bias_gradients_match_finite_differences, 0, 2);
    tcase_add_loop_test(tc, gemm_gradients_match_finite_differences, 0, 6);
    tcase_add_loop_test(tc, matmul_gradients_match_finite_differences, 0,
                        (int)(sizeof mm_cases / sizeof mm_cases[0]));
    tcase_add_loop_test(tc, gemm_and_matmul_with_fused_activations, 0, 2);
    tcase_add_loop_test(tc, pools_match_finite_differences, 0,
                        (int)(sizeof pool_cases / sizeof pool_cases[0]));
    tcase_add_loop_test(tc, portable_code_paths_match_finite_differences, 0, 5);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("peers");
    tcase_add_checked_fixture(tp, NULL, reset);
    tcase_set_timeout(tp, 600);
    tcase_add_loop_test(tp, peer_model_gradients_match_pytorch_autograd, 0, 4);
    suite_add_tcase(s, tp);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
