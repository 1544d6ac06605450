/* Whole-model gradients: the peers' PyTorch autograd gradients, the
 * losses, models ending in Softmax/LogSoftmax, batch-1 models given a
 * batch, and allocation failures; plus the backward entries of the f32-ref
 * table.  (Per-op finite-difference checks are in test_grad_ops.c.)
 *
 * Peers: for each of tests/data/peers/{mlp,cnn,resnet,mobilenet}.onnx, the
 * gradient of the summed cross-entropy over the first 128 test images
 * (u8 / 255, true labels) with respect to the pixels must match PyTorch's
 * (<m>.torch_grad128.npy) within relative L2 error 1e-4, with the same sign
 * on >= 99.9% of the elements where |torch| > 1e-6.  Engine f32 is held to
 * the same bar when it has every backward the model needs. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fc_npy.h"
#include "engines/fc_engine.h"
#include "engines/fc_kernel.h"
#include "onnx/fc_onnx.h"
#include "plan_builder.h"

#define NPEER 128

/* ---- peers ------------------------------------------------------------------ */

static const char *const peer_models[] = {"mlp", "cnn", "resnet", "mobilenet"};

static void read_npy(const char *name, fc_tensor *t)
{
    char path[512];
    fc_err er;
    snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s", name);
    ck_assert_msg(fc_npy_read(path, t, &er) == FC_OK, "%s", er.msg);
}

/* First NPEER images as the peers feed them, float32(u8) / 255, and their
 * labels. */
static void peer_batch(fc_tensor *x, int64_t *labels)
{
    fc_err er;
    fc_tensor u8, lab;
    read_npy("test_images_u8.npy", &u8);
    read_npy("test_labels.npy", &lab);
    ck_assert(u8.dtype == FC_DT_U8 && u8.rank == 4 && u8.dims[0] >= NPEER);
    ck_assert(lab.dtype == FC_DT_I64 && lab.numel >= NPEER);
    int64_t dims[4] = {NPEER, u8.dims[1], u8.dims[2], u8.dims[3]};
    ck_assert_int_eq(fc_tensor_alloc(x, FC_DT_F32, 4, dims, &er), FC_OK);
    for (size_t i = 0; i < x->numel; i++)
        ((float *)x->data)[i] = (float)((const uint8_t *)u8.data)[i] / 255.0f;
    memcpy(labels, lab.data, NPEER * sizeof *labels);
    fc_tensor_release(&u8);
    fc_tensor_release(&lab);
}

/* Relative L2 error against want and the share of same signs where
 * |want| > 1e-6. */
static void compare_to_torch(const fc_tensor *got, const fc_tensor *want, double *rel_l2,
                             double *sign_agree)
{
    ck_assert_uint_eq(got->numel, want->numel);
    double num = 0.0, den = 0.0;
    size_t counted = 0, same = 0;
    for (size_t i = 0; i < got->numel; i++) {
        double a = ((const float *)got->data)[i], b = ((const float *)want->data)[i];
        num += (a - b) * (a - b);
        den += b * b;
        if (fabs(b) > 1e-6) {
            counted++;
            same += (a > 0) == (b > 0) && a != 0.0;
        }
    }
    *rel_l2 = sqrt(num / den);
    *sign_agree = counted ? (double)same / (double)counted : 1.0;
}

START_TEST(peer_input_gradients_match_pytorch_autograd)
{
    const char *model = peer_models[_i];
    char path[512];
    fc_err er;
    fc_tensor x, want;
    int64_t labels[NPEER];
    peer_batch(&x, labels);
    snprintf(path, sizeof path, "%s.torch_grad128.npy", model);
    read_npy(path, &want);
    snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.onnx", model);
    fc_graph *pg = NULL;
    ck_assert_msg(fc_onnx_load(path, &pg, &er) == FC_OK, "%s", er.msg);
    const char *const kinds[] = {"f32-ref", "f32"};
    for (int k = 0; k < 2; k++) {
        fc_engine *e = NULL;
        ck_assert_msg(fc_engine_create(pg, kinds[k], &e, &er) == FC_OK, "%s", er.msg);
        fc_loss loss = {FC_LOSS_CE, labels};
        fc_tensor grad;
        double loss_sum;
        fc_status st = fc_engine_grad(e, &x, &loss, &grad, NULL, &loss_sum, &er);
        fc_engine_free(e);
        if (k == 1 && st == FC_ERR_UNSUPPORTED) {
            printf("peer %-9s f32: no gradient yet (%s)\n", model, er.msg);
            continue;
        }
        ck_assert_msg(st == FC_OK, "%s on %s: %s", model, kinds[k], er.msg);
        double rel, agree;
        compare_to_torch(&grad, &want, &rel, &agree);
        printf("peer %-9s %-7s summed CE %.4f, rel-L2 vs torch %.3e, sign agreement %.5f\n",
               model, kinds[k], loss_sum, rel, agree);
        ck_assert_msg(rel < 1e-4, "%s on %s: relative L2 error %g", model, kinds[k], rel);
        ck_assert_msg(agree >= 0.999, "%s on %s: signs agree on %g", model, kinds[k], agree);
        fc_tensor_release(&grad);
    }
    fc_graph_free(pg);
    fc_tensor_release(&want);
    fc_tensor_release(&x);
}
END_TEST

/* ---- losses ------------------------------------------------------------------- */

START_TEST(loss_values_are_the_documented_formulas)
{
    const float z[4] = {0.5f, 2.0f, -1.0f, 1.5f};
    double lse = log(exp(0.5) + exp(2.0) + exp(-1.0) + exp(1.5));
    fc_loss ce = {FC_LOSS_CE, NULL}, tg = {FC_LOSS_CE_TARGETED, NULL}, mg = {FC_LOSS_MARGIN, NULL};
    for (int64_t y = 0; y < 4; y++) {
        ck_assert_double_eq_tol(fc_loss_eval(&ce, y, z, 4, NULL), lse - z[y], 1e-12);
        ck_assert_double_eq_tol(fc_loss_eval(&tg, y, z, 4, NULL), lse - z[y], 1e-12);
    }
    /* Margin: best other class minus the true one (> 0: misclassified). */
    ck_assert_double_eq(fc_loss_eval(&mg, 3, z, 4, NULL), 2.0 - 1.5);
    ck_assert_double_eq(fc_loss_eval(&mg, 1, z, 4, NULL), 1.5 - 2.0);
    /* Logits far apart neither overflow nor lose the answer. */
    const float big[3] = {1000.0f, 0.0f, -1000.0f};
    ck_assert_double_eq_tol(fc_loss_eval(&ce, 1, big, 3, NULL), 1000.0, 1e-9);
    ck_assert_double_eq_tol(fc_loss_eval(&ce, 0, big, 3, NULL), 0.0, 1e-12);
    float dz[3];
    ck_assert_double_eq_tol(fc_loss_eval(&ce, 2, big, 3, dz), 2000.0, 1e-9);
    ck_assert(dz[0] == 1.0f && dz[1] == 0.0f && dz[2] == -1.0f);
}
END_TEST

/* The logits are floats, the loss is double: a float step and a double
 * loss leave only the truncation error of the central difference. */
START_TEST(loss_gradients_match_finite_differences_on_the_logits)
{
    const fc_loss_kind kinds[] = {FC_LOSS_CE, FC_LOSS_CE_TARGETED, FC_LOSS_MARGIN};
    float z[7] = {0.3f, -1.2f, 2.1f, 0.9f, -0.4f, 1.6f, 2.5f};
    for (int k = 0; k < 3; k++)
        for (int64_t y = 0; y < 7; y++) {
            fc_loss loss = {kinds[k], NULL};
            float dz[7];
            fc_loss_eval(&loss, y, z, 7, dz);
            double sum = 0.0;
            for (int j = 0; j < 7; j++) {
                float z0 = z[j];
                z[j] = z0 + 1e-3f;
                double step = z[j], lp = fc_loss_eval(&loss, y, z, 7, NULL);
                z[j] = z0 - 1e-3f;
                step -= z[j];
                double lm = fc_loss_eval(&loss, y, z, 7, NULL);
                z[j] = z0;
                double fd = (lp - lm) / step;
                ck_assert_msg(fabs(dz[j] - fd) < 1e-6, "loss %d label %lld logit %d: %.9g vs %.9g",
                              (int)kinds[k], (long long)y, j, (double)dz[j], fd);
                sum += dz[j];
            }
            ck_assert_double_eq_tol(sum, 0.0, 1e-6);   /* softmax - onehot; +1 - 1 */
        }
}
END_TEST

/* ---- whole small models --------------------------------------------------- */

static uint64_t rng;

static void wrand(const char *name, const char *shape)
{
    fc_tensor *t = init(name, FC_DT_F32, shape);
    for (size_t i = 0; i < t->numel; i++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        ((float *)t->data)[i] = (float)((double)(rng >> 40) / 16777216.0 - 0.5);
    }
}

/* x -> Conv -> Relu -> MaxPool -> (Flatten | Reshape [1,-1]) -> Gemm ->
 * "logits" [-> tail op (opset, axis; 99 = default) -> "probs"], with the
 * same weights on every call.  x_shape "N,2,4,4" or "1,2,4,4". */
static void classifier(const char *x_shape, bool reshape_to_1, const char *tail, int64_t opset,
                       int64_t axis)
{
    rng = 42;
    new_graph(13);
    input("x", FC_DT_F32, x_shape);
    wrand("w", "3,2,3,3");
    wrand("b", "3");
    attr_is(node("Conv", "x,w,b", "c"), "pads", "1,1,1,1");
    node("Relu", "c", "r");
    fc_node *mp = node("MaxPool", "r", "m");
    attr_is(mp, "kernel_shape", "2,2");
    attr_is(mp, "strides", "2,2");
    if (reshape_to_1) {
        init_i64("shape", "2", (const int64_t[]){1, -1});
        node("Reshape", "m,shape", "f");
    } else {
        node("Flatten", "m", "f");
    }
    wrand("fw", "12,4");
    wrand("fb", "4");
    node("Gemm", "f,fw,fb", "logits");
    if (!tail) {
        output("logits");
        return;
    }
    fc_node *t = node(tail, "logits", "probs");
    t->opset = opset;
    if (axis != 99)
        attr_i(t, "axis", axis);
    output("probs");
    /* Exporters declare the output [N, 4]; odd opsets here leave the rank
     * undeclared, as a file may. */
    if (opset % 2 == 0) {
        int v = fc_graph_find_value(g, "probs");
        g->values[v].rank = parse_dims("N,4", g->values[v].dims);
    }
}

static void random_input(fc_tensor *x, int64_t n, int64_t *labels)
{
    fc_err er;
    int64_t dims[4] = {n, 2, 4, 4};
    ck_assert_int_eq(fc_tensor_alloc(x, FC_DT_F32, 4, dims, &er), FC_OK);
    for (size_t i = 0; i < x->numel; i++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        ((float *)x->data)[i] = (float)((double)(rng >> 40) / 16777216.0);
    }
    for (int64_t i = 0; i < n; i++)
        labels[i] = (i * 3 + 1) % 4;
}

static void grad_ok(const fc_tensor *x, const int64_t *labels, fc_tensor *grad, fc_tensor *logits,
                    double *loss_sum)
{
    fc_err er;
    fc_engine *e = NULL;
    ck_assert_msg(fc_engine_create(g, "f32-ref", &e, &er) == FC_OK, "%s", er.msg);
    fc_loss loss = {FC_LOSS_CE, labels};
    ck_assert_msg(fc_engine_grad(e, x, &loss, grad, logits, loss_sum, &er) == FC_OK, "%s",
                  er.msg);
    fc_engine_free(e);
}

static bool same_data(const fc_tensor *a, const fc_tensor *b)
{
    return a->numel == b->numel && memcmp(a->data, b->data, a->numel * sizeof(float)) == 0;
}

START_TEST(softmax_and_logsoftmax_outputs_give_the_logits_gradient)
{
    static const struct {
        const char *op;
        int64_t opset, axis;
        fc_output_kind kind;
    } tails[] = {
        {"Softmax", 13, 99, FC_OUT_SOFTMAX}, {"LogSoftmax", 14, -1, FC_OUT_LOGSOFTMAX},
        {"Softmax", 11, 1, FC_OUT_SOFTMAX},  {"LogSoftmax", 12, 99, FC_OUT_LOGSOFTMAX},
        {"Softmax", 12, 1, FC_OUT_SOFTMAX},
    };
    int64_t labels[3];
    fc_tensor x, g0, z0;
    double l0;
    classifier("N,2,4,4", false, NULL, 0, 0);
    random_input(&x, 3, labels);
    ck_assert_int_eq(fc_graph_output_kind(g, NULL), FC_OUT_LOGITS);
    grad_ok(&x, labels, &g0, &z0, &l0);
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        teardown();
        classifier("N,2,4,4", false, tails[t].op, tails[t].opset, tails[t].axis);
        int lv = -1;
        ck_assert_int_eq(fc_graph_output_kind(g, &lv), tails[t].kind);
        ck_assert_int_eq(lv, fc_graph_find_value(g, "logits"));
        fc_tensor g1, z1;
        double l1;
        grad_ok(&x, labels, &g1, &z1, &l1);
        ck_assert_msg(same_data(&g0, &g1), "%s opset %lld: input gradient differs", tails[t].op,
                      (long long)tails[t].opset);
        ck_assert(same_data(&z0, &z1));
        ck_assert_double_eq(l0, l1);
        fc_tensor_release(&g1);
        fc_tensor_release(&z1);
    }
    fc_tensor *all[] = {&x, &g0, &z0};
    for (int i = 0; i < 3; i++)
        fc_tensor_release(all[i]);
}
END_TEST

/* Batch fixed to 1 (Reshape to [1, -1]) given 5 images: image by image,
 * equal to the same network with a free batch. */
START_TEST(a_batch_1_model_given_n_images_gives_each_image_its_gradient)
{
    int64_t labels[5];
    fc_tensor x, g1, z1, gn, zn;
    double l1, ln;
    classifier("1,2,4,4", true, NULL, 0, 0);
    random_input(&x, 5, labels);
    grad_ok(&x, labels, &g1, &z1, &l1);
    ck_assert_int_eq(g1.dims[0], 5);
    ck_assert_int_eq(z1.dims[0], 5);
    ck_assert_int_eq(z1.dims[1], 4);
    teardown();
    classifier("N,2,4,4", false, NULL, 0, 0);
    grad_ok(&x, labels, &gn, &zn, &ln);
    ck_assert(same_data(&g1, &gn));
    ck_assert(same_data(&z1, &zn));
    ck_assert_double_eq_tol(l1, ln, 1e-12);
    fc_tensor *all[] = {&x, &g1, &z1, &gn, &zn};
    for (int i = 0; i < 5; i++)
        fc_tensor_release(all[i]);
}
END_TEST

START_TEST(a_label_outside_the_classes_is_refused)
{
    int64_t labels[2];
    fc_tensor x, grad, z;
    fc_err er;
    classifier("N,2,4,4", false, NULL, 0, 0);
    random_input(&x, 2, labels);
    labels[1] = 4;
    fc_engine *e = NULL;
    ck_assert_int_eq(fc_engine_create(g, "f32-ref", &e, &er), FC_OK);
    fc_loss loss = {FC_LOSS_CE, labels};
    ck_assert_int_eq(fc_engine_grad(e, &x, &loss, &grad, &z, NULL, &er), FC_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(er.msg, "label 4"));
    ck_assert_ptr_null(grad.data);
    ck_assert_ptr_null(z.data);
    fc_engine_free(e);
    fc_tensor_release(&x);
}
END_TEST

/* Every allocation of one fc_engine_grad call (plan included: the engine
 * is new each time) made to fail in turn: FC_ERR_NOMEM, nothing returned,
 * and nothing leaked (ASan's leak check runs on the sanitized build). */
START_TEST(every_allocation_failure_in_a_gradient_ends_in_nomem)
{
    int64_t labels[2];
    fc_tensor x, grad, z;
    fc_err er;
    double ls;
    classifier("N,2,4,4", false, NULL, 0, 0);
    random_input(&x, 2, labels);
    fc_loss loss = {FC_LOSS_CE, labels};
    long total = -1;
    for (long k = -1; k <= total || total < 0; k++) {
        fc_engine *e = NULL;
        ck_assert_int_eq(fc_engine_create(g, "f32-ref", &e, &er), FC_OK);
        unsigned long before = fc_alloc_count();
        fc_alloc_fail_after(k);   /* k = -1: no failure, counts the allocations */
        fc_status st = fc_engine_grad(e, &x, &loss, &grad, &z, &ls, &er);
        fc_alloc_fail_reset();
        if (k < 0) {
            ck_assert_int_eq(st, FC_OK);
            total = (long)(fc_alloc_count() - before);
        } else if (k < total) {
            ck_assert_msg(st == FC_ERR_NOMEM, "k=%ld: %s: %s", k, fc_status_name(st), er.msg);
            ck_assert(grad.data == NULL && z.data == NULL);
        } else {
            ck_assert_msg(st == FC_OK, "k=%ld: %s", k, er.msg);
        }
        fc_tensor_release(&grad);
        fc_tensor_release(&z);
        fc_engine_free(e);
    }
    printf("fc_engine_grad on a small conv model: %ld allocations, each failed in turn\n", total);
    ck_assert_int_gt(total, 20);
    fc_tensor_release(&x);
}
END_TEST

/* ---- the tables ------------------------------------------------------------ */

static const fc_kernel_def *def_of(const fc_kernel_table *t, const char *op)
{
    for (int i = 0; i < t->count; i++)
        if (strcmp(t->defs[i].name, op) == 0)
            return &t->defs[i];
    return NULL;
}

START_TEST(every_oracle_op_with_float_inputs_has_a_backward)
{
    const fc_kernel_table *t = &fc_kernels_f32_ref;
    for (int i = 0; i < t->count; i++) {
        const char *op = t->defs[i].name;
        bool none = strcmp(op, "Shape") == 0 || strcmp(op, "Constant") == 0 ||
                    strcmp(op, "ConstantOfShape") == 0;
        ck_assert_msg(none == (t->defs[i].backward == NULL), "f32-ref %s: backward %s", op,
                      none ? "set for an op with no float input" : "missing");
    }
    /* What f32 (written separately) still lacks, for the record. */
    char lacking[512] = "";
    for (int i = 0; i < t->count; i++) {
        const fc_kernel_def *d = def_of(&fc_kernels_f32, t->defs[i].name);
        if (t->defs[i].backward && (!d || !d->backward) &&
            strlen(lacking) + strlen(t->defs[i].name) + 2 < sizeof lacking) {
            strcat(lacking, " ");
            strcat(lacking, t->defs[i].name);
        }
    }
    printf("f32 has no backward for:%s\n", lacking[0] ? lacking : " (none)");
}
END_TEST

/* ReduceMean's axes as an input (opset 18) cannot be planned yet, so the
 * kernel is called directly: it must agree with the attribute form. */
START_TEST(reducemean_backward_takes_axes_from_an_input_too)
{
    fc_err er;
    int64_t xd[3] = {2, 3, 4}, yd[3] = {2, 1, 4}, ad[1] = {1};
    fc_tensor x = {0}, y = {0}, gy = {0}, ax = {0}, g1 = {0}, g2 = {0};
    ck_assert_int_eq(fc_tensor_alloc(&x, FC_DT_F32, 3, xd, &er), FC_OK);
    ck_assert_int_eq(fc_tensor_alloc(&y, FC_DT_F32, 3, yd, &er), FC_OK);
    ck_assert_int_eq(fc_tensor_alloc(&gy, FC_DT_F32, 3, yd, &er), FC_OK);
    ck_assert_int_eq(fc_tensor_alloc(&ax, FC_DT_I64, 1, ad, &er), FC_OK);
    ck_assert_int_eq(fc_tensor_alloc(&g1, FC_DT_F32, 3, xd, &er), FC_OK);
    ck_assert_int_eq(fc_tensor_alloc(&g2, FC_DT_F32, 3, xd, &er), FC_OK);
    ((int64_t *)ax.data)[0] = -2;
    for (size_t i = 0; i < gy.numel; i++)
        ((float *)gy.data)[i] = (float)i - 3.0f;
    const fc_kernel_def *d = def_of(&fc_kernels_f32_ref, "ReduceMean");
    fc_attr axes = {.name = (char *)"axes", .type = FC_ATTR_INTS, .ints = (int64_t[]){1}, .n = 1};
    fc_node with_attr = {.name = (char *)"", .op_type = (char *)"ReduceMean",
                         .domain = (char *)"", .opset = 13, .n_attrs = 1, .attrs = &axes};
    fc_node with_input = with_attr;
    with_input.opset = 18;
    with_input.n_attrs = 0;
    const fc_tensor *in1[1] = {&x}, *in2[2] = {&x, &ax}, *out[1] = {&y}, *gout[1] = {&gy};
    fc_tensor *gin1[1] = {&g1}, *gin2[2] = {&g2, NULL};
    fc_grad_ctx k1 = {.node = &with_attr, .in = in1, .n_in = 1, .out = out, .n_out = 1,
                      .gout = gout, .gin = gin1};
    fc_grad_ctx k2 = {.node = &with_input, .in = in2, .n_in = 2, .out = out, .n_out = 1,
                      .gout = gout, .gin = gin2};
    ck_assert_int_eq(d->backward(&k1, &er), FC_OK);
    ck_assert_int_eq(d->backward(&k2, &er), FC_OK);
    for (size_t i = 0; i < x.numel; i++) {
        size_t n = i / 12, w = i % 4;
        float want = ((float *)gy.data)[n * 4 + w] / 3.0f;
        ck_assert_float_eq_tol(((float *)g1.data)[i], want, 1e-7);
        ck_assert_float_eq(((float *)g2.data)[i], ((float *)g1.data)[i]);
    }
    fc_tensor *all[] = {&x, &y, &gy, &ax, &g1, &g2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        fc_tensor_release(all[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("grad_peers");
    TCase *peers = tcase_create("peers");
    tcase_set_timeout(peers, 1200);
    tcase_add_loop_test(peers, peer_input_gradients_match_pytorch_autograd, 0, 4);
    suite_add_tcase(s, peers);
    TCase *tc = tcase_create("models");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, loss_values_are_the_documented_formulas);
    tcase_add_test(tc, loss_gradients_match_finite_differences_on_the_logits);
    tcase_add_test(tc, softmax_and_logsoftmax_outputs_give_the_logits_gradient);
    tcase_add_test(tc, a_batch_1_model_given_n_images_gives_each_image_its_gradient);
    tcase_add_test(tc, a_label_outside_the_classes_is_refused);
    tcase_add_test(tc, every_allocation_failure_in_a_gradient_ends_in_nomem);
    tcase_add_test(tc, every_oracle_op_with_float_inputs_has_a_backward);
    tcase_add_test(tc, reducemean_backward_takes_axes_from_an_input_too);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
