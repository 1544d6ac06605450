/* Gradients of the f32 engine, part 2 (part 1 and the peer models are in
 * test_grad_f32.c): the element-wise ops (activations, broadcasting
 * Add/Sub/Mul/Div, a Clip bound that depends on the input),
 * BatchNormalization (data and parameters), Softmax, LogSoftmax,
 * ReduceMean and the data-movement ops, each against central finite
 * differences of the f32 forward pass (harness in grad_fd.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grad_fd.h"

/* ---- element-wise ------------------------------------------------------- */

START_TEST(activations_match_finite_differences)
{
    static const char *const ops[] = {"Relu", "LeakyRelu", "Clip", "Clip", "Sigmoid", "Tanh"};
    rng = 50 + (uint64_t)_i;
    float *x = graph_input(_i == 2 ? 10 : 13, "2,3,4,3", -2, 2);
    for (size_t i = 0; i < xt.numel; i++)   /* away from 0 and from +-0.5 */
        x[i] = urand() < 0.5 ? away(0.05, 0.45) : away(0.55, 2);
    fc_node *n;
    if (_i == 3) {
        ((float *)init("lo", FC_DT_F32, "")->data)[0] = -0.5f;
        n = node("Clip", "x,lo", "y");   /* opset 13, min only */
    } else {
        n = node(ops[_i], "x", "y");
    }
    if (_i == 1)
        attr_f(n, "alpha", 0.2f);
    if (_i == 2) {
        attr_f(n, "min", -0.5f);
        attr_f(n, "max", 0.5f);
    }
    char what[48];
    snprintf(what, sizeof what, "%s%s", ops[_i],
             _i == 2 ? " (opset 10 attributes)" : _i == 3 ? " (min only)" : "");
    head("y");
    check_fd(what, FD_H, FD_TOL);
}
END_TEST

/* A Clip bound that depends on the input: x [1] -> Squeeze -> scalar min
 * of a constant [1, 6] tensor (values away from x). */
START_TEST(clip_bound_gradient_matches_finite_differences)
{
    rng = 56;
    float *x = graph_input(13, "1", 0, 0);
    x[0] = 0.1f;
    fc_tensor *c = init("c", FC_DT_F32, "1,6");
    const float cv[6] = {-1.0f, 0.5f, -0.3f, 0.8f, -2.0f, 1.5f};
    memcpy(c->data, cv, sizeof cv);
    node("Squeeze", "x", "s");
    node("Clip", "c,s", "y");
    head("y");
    check_fd("clip min from the input", FD_H, FD_TOL);
}
END_TEST

typedef struct bin_case {
    const char *x, *c;
    int order;   /* 0: x op c, 1: c op x, 2: x op x */
} bin_case;

static const bin_case bin_cases[] = {
    {"2,3,4,5", "3,1,5", 0},  {"2,3,4,5", "5", 1},       {"2,3,4,5", "", 0},
    {"2,3,1,5", "1,3,4,5", 0}, {"2,3,1,5", "2,1,4,1", 1}, {"2,3,4", NULL, 2},
    {"2,1", "3", 1},
};

START_TEST(binary_ops_with_broadcasting_match_finite_differences)
{
    static const char *const ops[] = {"Add", "Sub", "Mul", "Div"};
    const int nc = (int)(sizeof bin_cases / sizeof bin_cases[0]);
    const char *op = ops[_i / nc];
    const bin_case *c = &bin_cases[_i % nc];
    rng = 60 + (uint64_t)_i;
    if (c->order == 2 && (op[0] == 'S' || op[0] == 'D'))
        return;   /* x - x and x / x do not depend on x */
    float *x = graph_input(13, c->x, -1, 1);
    const bool div = strcmp(op, "Div") == 0;
    for (size_t i = 0; div && i < xt.numel; i++)   /* denominators away from 0 */
        x[i] = away(0.8, 1.5);
    if (c->c) {
        fc_tensor *t = weights("c", c->c, -1, 1);
        for (size_t i = 0; div && i < t->numel; i++)
            ((float *)t->data)[i] = away(0.8, 1.5);
    }
    node(op, c->order == 0 ? "x,c" : c->order == 1 ? "c,x" : "x,x", "y");
    char what[64];
    if (c->order == 2)
        snprintf(what, sizeof what, "%s x[%s], x", op, c->x);
    else if (c->order == 1)
        snprintf(what, sizeof what, "%s c[%s], x[%s]", op, c->c, c->x);
    else
        snprintf(what, sizeof what, "%s x[%s], c[%s]", op, c->x, c->c);
    head("y");
    check_fd(what, FD_H, FD_TOL);
}
END_TEST

/* ---- normalisation ------------------------------------------------------ */

START_TEST(batchnorm_gradients_match_finite_differences)
{
    /* _i == 0: x is the data; 1..4: x is scale, B, mean or var of a
     * constant [3, 3, 2, 2] data tensor (3 images of 3 channels). */
    static const char *const names[] = {"data", "scale", "bias", "mean", "var"};
    rng = 90 + (uint64_t)_i;
    graph_input(13, _i == 0 ? "2,3,4,4" : "3", _i == 4 ? 0.5 : -1, 1.5);
    const char *par[5] = {"d", "s", "b", "m", "v"};
    if (_i > 0)
        weights("d", "3,3,2,2", -1, 1);
    weights("s", "3", 0.5, 1.5);
    weights("b", "3", -1, 1);
    weights("m", "3", -0.5, 0.5);
    weights("v", "3", 0.5, 1.5);
    par[_i] = "x";
    char ins[32];
    snprintf(ins, sizeof ins, "%s,%s,%s,%s,%s", par[0], par[1], par[2], par[3], par[4]);
    attr_f(node("BatchNormalization", ins, "y"), "epsilon", 1e-3f);
    head("y");
    char what[48];
    snprintf(what, sizeof what, "batchnorm d%s", names[_i]);
    check_fd(what, FD_H, FD_TOL);
}
END_TEST

START_TEST(softmax_and_reducemean_match_finite_differences)
{
    /* 0-2 Softmax, 3-5 LogSoftmax: opset 11 axis 1 (coerced 2-D), opset 13
     * axis 1 (strided), opset 13 default axis; 6-8 ReduceMean. */
    static const char *const what[] = {
        "softmax opset 11 axis 1", "softmax opset 13 axis 1", "softmax opset 13 axis -1",
        "logsoftmax opset 11 axis 1", "logsoftmax opset 13 axis 1", "logsoftmax opset 13 axis -1",
        "reducemean axes 1", "reducemean axes 2,3 keepdims 0", "reducemean axes 1,3"};
    rng = 100 + (uint64_t)_i;
    graph_input(_i % 3 == 0 && _i < 6 ? 11 : 13, "2,3,4,3", -2, 2);
    fc_node *n;
    if (_i < 6) {
        n = node(_i < 3 ? "Softmax" : "LogSoftmax", "x", "y");
        if (_i % 3 != 2)
            attr_i(n, "axis", 1);
    } else {
        n = node("ReduceMean", "x", "y");
        attr_is(n, "axes", _i == 6 ? "1" : _i == 7 ? "2,3" : "1,3");
        if (_i == 7)
            attr_i(n, "keepdims", 0);
    }
    head("y");
    check_fd(what[_i], FD_H, FD_TOL);
}
END_TEST

/* ---- data movement ------------------------------------------------------ */

START_TEST(shape_ops_match_finite_differences)
{
    static const char *const what[] = {
        "flatten axis -3", "reshape",         "squeeze",          "unsqueeze",
        "identity",       "dropout",         "transpose 0,3,1,2", "concat x,c,x axis 1",
        "pad constant",   "pad edge (crop)", "pad reflect",       "pad opset 10 attrs",
        "gather repeated", "cast float"};
    rng = 110 + (uint64_t)_i;
    graph_input(_i == 11 ? 10 : 13, "2,3,1,4", -1, 1);
    fc_node *n = NULL;
    switch (_i) {
    case 0: attr_i(node("Flatten", "x", "y"), "axis", -3); break;
    case 1: init_i64("s", "3", (const int64_t[]){2, 4, 3}); node("Reshape", "x,s", "y"); break;
    case 2: init_i64("a", "1", (const int64_t[]){2}); node("Squeeze", "x,a", "y"); break;
    case 3: init_i64("a", "1", (const int64_t[]){1}); node("Unsqueeze", "x,a", "y"); break;
    case 4: node("Identity", "x", "y"); break;
    case 5: node("Dropout", "x", "y"); break;
    case 6: attr_is(node("Transpose", "x", "y"), "perm", "0,3,1,2"); break;
    case 7:
        weights("c", "2,2,1,4", -1, 1);
        attr_i(node("Concat", "x,c,x", "y"), "axis", 1);
        break;
    case 8: case 9: case 10:
        init_i64("p", "8", _i == 9 ? (const int64_t[]){0, 1, 1, -1, 0, 0, 2, 1}
                                   : (const int64_t[]){0, 1, 0, 2, 0, 1, 2, 1});
        ((float *)init("v", FC_DT_F32, "")->data)[0] = 0.5f;
        n = node("Pad", _i == 8 ? "x,p,v" : "x,p", "y");
        if (_i > 8)
            attr_s(n, "mode", _i == 9 ? "edge" : "reflect");
        break;
    case 11:
        n = node("Pad", "x", "y");
        attr_is(n, "pads", "0,0,1,2,0,1,0,1");
        attr_f(n, "value", -0.25f);
        break;
    case 12:
        init_i64("i", "4", (const int64_t[]){2, -1, 0, 2});
        attr_i(node("Gather", "x,i", "y"), "axis", 3);
        break;
    default: attr_i(node("Cast", "x", "y"), "to", FC_DT_F32); break;
    }
    head("y");
    check_fd(what[_i], FD_H, FD_TOL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("grad_f32_ops");
    TCase *tc = tcase_create("finite_differences");
    tcase_add_checked_fixture(tc, NULL, reset);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, activations_match_finite_differences, 0, 6);
    tcase_add_test(tc, clip_bound_gradient_matches_finite_differences);
    tcase_add_loop_test(tc, binary_ops_with_broadcasting_match_finite_differences, 0,
                        4 * (int)(sizeof bin_cases / sizeof bin_cases[0]));
    tcase_add_loop_test(tc, batchnorm_gradients_match_finite_differences, 0, 5);
    tcase_add_loop_test(tc, softmax_and_reducemean_match_finite_differences, 0, 9);
    tcase_add_loop_test(tc, shape_ops_match_finite_differences, 0, 14);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
