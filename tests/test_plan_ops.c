/* Shape inference of each op and each opset split (src/onnx/fc_ops_*.c),
 * on small hand-built graphs. */
#include "plan_builder.h"

/* ---- neural-network ops ------------------------------------------------- */

START_TEST(conv_with_groups_auto_pad_and_bias_gives_the_output_shape)
{
    new_graph(13);
    input("x", FC_DT_F32, "2,8,15,15");
    init("w", FC_DT_F32, "16,2,3,3");   /* 4 groups of 2 input channels */
    init("b", FC_DT_F32, "16");
    fc_node *n = node("Conv", "x,w,b", "y");
    attr_i(n, "group", 4);
    attr_is(n, "strides", "2,2");
    attr_s(n, "auto_pad", "SAME_UPPER");
    init("dw", FC_DT_F32, "16,1,3,3");  /* depthwise */
    n = node("Conv", "y,dw", "z");
    attr_i(n, "group", 16);
    attr_is(n, "dilations", "2,2");
    output("z");
    plan_ok(1);
    ck_assert_str_eq(shape("y"), "[2,16,8,8]");
    ck_assert_str_eq(shape("z"), "[2,16,4,4]");   /* 8 - 2*2 */
    ck_assert(!p->node_folded[0]);
}
END_TEST

START_TEST(conv_channel_mismatch_names_the_channels)
{
    new_graph(13);
    input("x", FC_DT_F32, "1,3,8,8");
    init("w", FC_DT_F32, "4,2,3,3");
    node("Conv", "x,w", "y");
    output("y");
    plan_fails(FC_ERR_SHAPE, "expects 2 input channels per group, but input X has 3");
    ck_assert_ptr_nonnull(strstr(err.msg, "test.onnx: node Conv 'y'"));
}
END_TEST

START_TEST(gemm_transposes_and_broadcasts_c_one_way)
{
    new_graph(13);
    input("a", FC_DT_F32, "4,3");
    init("b", FC_DT_F32, "5,4");
    init("c", FC_DT_F32, "5");
    fc_node *n = node("Gemm", "a,b,c", "y");
    attr_i(n, "transA", 1);
    attr_i(n, "transB", 1);
    output("y");
    plan_ok(1);
    ck_assert_str_eq(shape("y"), "[3,5]");
    g->values[val("c")].init->dims[0] = 3;
    plan_fails(FC_ERR_SHAPE, "does not broadcast to [3,5]");
}
END_TEST

START_TEST(matmul_promotes_1d_operands_and_broadcasts_batch_axes)
{
    new_graph(13);
    input("a", FC_DT_F32, "2,1,3,4");
    init("b", FC_DT_F32, "5,4,6");
    init("v", FC_DT_F32, "4");
    init("u", FC_DT_F32, "3");
    node("MatMul", "a,b", "y");
    node("MatMul", "a,v", "yv");
    node("MatMul", "u,a", "uy");
    output("y");
    output("yv");
    output("uy");
    plan_ok(1);
    ck_assert_str_eq(shape("y"), "[2,5,3,6]");
    ck_assert_str_eq(shape("yv"), "[2,1,3]");
    ck_assert_str_eq(shape("uy"), "[2,1,4]");
}
END_TEST

START_TEST(pools_use_ceil_mode_and_maxpool_infers_int64_indices)
{
    new_graph(12);
    input("x", FC_DT_F32, "1,2,4,4");
    fc_node *n = node("MaxPool", "x", "y,idx");
    attr_is(n, "kernel_shape", "3,3");
    attr_is(n, "strides", "2,2");
    attr_i(n, "ceil_mode", 1);
    n = node("AveragePool", "x", "a");
    attr_is(n, "kernel_shape", "3,3");
    attr_is(n, "pads", "1,1,1,1");
    node("GlobalAveragePool", "x", "gap");
    output("y");
    output("idx");
    output("a");
    output("gap");
    plan_ok(1);
    ck_assert_str_eq(shape("y"), "[1,2,2,2]");
    ck_assert_int_eq(info("idx")->dtype, FC_DT_I64);
    ck_assert_str_eq(shape("idx"), "[1,2,2,2]");
    ck_assert_str_eq(shape("a"), "[1,2,4,4]");
    ck_assert_str_eq(shape("gap"), "[1,2,1,1]");
}
END_TEST

START_TEST(softmax_axis_default_depends_on_the_opset)
{
    new_graph(11);
    input("x", FC_DT_F32, "6");
    node("Softmax", "x", "y");
    output("y");
    plan_fails(FC_ERR_SHAPE, "axis 1 out of range for rank 1");   /* default 1 before 13 */
    g->nodes[0].opset = 13;
    plan_ok(1);                                                   /* default -1 from 13 */
    ck_assert_str_eq(shape("y"), "[6]");
}
END_TEST

START_TEST(reducemean_keeps_or_drops_the_reduced_axes)
{
    new_graph(13);
    input("x", FC_DT_F32, "2,3,4,5");
    fc_node *n = node("ReduceMean", "x", "k");
    attr_is(n, "axes", "-1,1");
    n = node("ReduceMean", "x", "d");
    attr_is(n, "axes", "2,3");
    attr_i(n, "keepdims", 0);
    node("ReduceMean", "x", "all");
    output("k");
    output("d");
    output("all");
    plan_ok(1);
    ck_assert_str_eq(shape("k"), "[2,1,4,1]");
    ck_assert_str_eq(shape("d"), "[2,3]");
    ck_assert_str_eq(shape("all"), "[1,1,1,1]");
}
END_TEST

START_TEST(batchnorm_in_training_mode_is_refused)
{
    new_graph(14);
    input("x", FC_DT_F32, "1,3,4,4");
    const char *params[] = {"s", "bias", "m", "var"};
    for (int i = 0; i < 4; i++)
        init(params[i], FC_DT_F32, "3");
    node("BatchNormalization", "x,s,bias,m,var", "y");
    output("y");
    plan_ok(1);
    ck_assert_str_eq(shape("y"), "[1,3,4,4]");
    attr_i(&g->nodes[0], "training_mode", 1);
    plan_fails(FC_ERR_UNSUPPORTED, "training mode");
    g->nodes[0].attrs[0].i = 0;
    g->nodes[0].outputs = grow(g->nodes[0].outputs, 1, sizeof(int));
    g->nodes[0].outputs[1] = val("running_mean");
    g->nodes[0].n_outputs = 2;
    plan_fails(FC_ERR_UNSUPPORTED, "training mode");
}
END_TEST

/* ---- shape ops ---------------------------------------------------------- */

START_TEST(shape_start_and_end_are_clamped_and_fold_without_constant_data)
{
    new_graph(15);
    input("x", FC_DT_F32, "2,3,4,5");
    fc_node *n = node("Shape", "x", "s");
    attr_i(n, "start", -3);
    attr_i(n, "end", 100);
    n = node("Shape", "x", "e");
    attr_i(n, "start", 3);
    attr_i(n, "end", 1);
    output("s");
    output("e");
    plan_ok(1);
    ck_assert_str_eq(shape("s"), "[3]");
    ck_assert_int_eq(folded_at("s", 0), 3);
    ck_assert_int_eq(folded_at("s", 2), 5);
    ck_assert_str_eq(shape("e"), "[0]");
    ck_assert(p->node_folded[0] && p->node_folded[1]);
}
END_TEST

START_TEST(gather_with_negative_axis_and_checked_constant_indices)
{
    new_graph(13);
    input("x", FC_DT_F32, "2,3,4");
    init_i64("i", "2,2", (int64_t[]){0, -1, 3, 1});
    fc_node *n = node("Gather", "x,i", "y");
    attr_i(n, "axis", -1);
    output("y");
    plan_ok(1);
    ck_assert_str_eq(shape("y"), "[2,3,2,2]");
    g->nodes[0].attrs[0].i = -2;   /* axis 1 has 3 entries: index 3 is out of range */
    plan_fails(FC_ERR_SHAPE, "index 3 out of range [-3, 2]");
}
END_TEST

START_TEST(squeeze_and_unsqueeze_take_attributes_before_13_and_inputs_after)
{
    new_graph(11);
    input("x", FC_DT_F32, "1,3,1,5");
    node("Squeeze", "x", "all");
    fc_node *n = node("Unsqueeze", "x", "u");
    attr_is(n, "axes", "0,-1");
    output("all");
    output("u");
    plan_ok(1);
    ck_assert_str_eq(shape("all"), "[3,5]");
    ck_assert_str_eq(shape("u"), "[1,1,3,1,5,1]");
    teardown();
    new_graph(13);
    input("x", FC_DT_F32, "1,3,1,5");
    init_i64("ax", "1", (int64_t[]){2});
    node("Squeeze", "x,ax", "s");
    node("Unsqueeze", "x,ax", "u");
    output("s");
    output("u");
    plan_ok(1);
    ck_assert_str_eq(shape("s"), "[1,3,5]");
    ck_assert_str_eq(shape("u"), "[1,3,1,1,5]");
}
END_TEST

START_TEST(non_constant_axes_are_unsupported_and_named)
{
    new_graph(13);
    input("x", FC_DT_F32, "1,3");
    input("ax", FC_DT_I64, "1");
    node("Unsqueeze", "x,ax", "u");
    output("u");
    plan_fails(FC_ERR_UNSUPPORTED, "depends on a non-constant input 'axes'");
}
END_TEST

START_TEST(reshape_copies_zeros_infers_minus_one_and_honours_allowzero)
{
    new_graph(14);
    input("x", FC_DT_F32, "2,3,4");
    init_i64("s1", "3", (int64_t[]){0, -1, 2});
    init_i64("s0", "2", (int64_t[]){0, 24});
    node("Reshape", "x,s1", "a");
    output("a");
    plan_ok(1);
    ck_assert_str_eq(shape("a"), "[2,6,2]");
    node("Reshape", "x,s0", "b");
    output("b");
    plan_fails(FC_ERR_SHAPE, "cannot reshape [2,3,4] (24 elements) to [2,24]");
    attr_i(&g->nodes[1], "allowzero", 1);   /* now 0 means 0: 0 elements, still wrong */
    plan_fails(FC_ERR_SHAPE, "to [0,24]");
}
END_TEST

START_TEST(flatten_concat_and_transpose_accept_negative_axes)
{
    new_graph(13);
    input("x", FC_DT_F32, "2,3,4,5");
    fc_node *n = node("Flatten", "x", "f");
    attr_i(n, "axis", -1);
    n = node("Concat", "x,x", "c");
    attr_i(n, "axis", -3);
    node("Transpose", "x", "t");
    n = node("Transpose", "x", "tp");
    attr_is(n, "perm", "0,2,3,1");
    output("f");
    output("c");
    output("t");
    output("tp");
    plan_ok(1);
    ck_assert_str_eq(shape("f"), "[24,5]");
    ck_assert_str_eq(shape("c"), "[2,6,4,5]");
    ck_assert_str_eq(shape("t"), "[5,4,3,2]");
    ck_assert_str_eq(shape("tp"), "[2,4,5,3]");
    g->nodes[3].attrs[0].ints[3] = 2;
    plan_fails(FC_ERR_SHAPE, "perm is not a permutation");
}
END_TEST

START_TEST(pad_reads_attributes_or_inputs_and_crops_with_negative_pads)
{
    new_graph(2);
    input("x", FC_DT_F32, "1,3,4,4");
    fc_node *n = node("Pad", "x", "y");
    attr_is(n, "pads", "0,0,1,2,0,0,3,-1");
    output("y");
    plan_ok(1);
    ck_assert_str_eq(shape("y"), "[1,3,8,5]");
    teardown();
    new_graph(13);
    input("x", FC_DT_F32, "1,3,4,4");
    init_i64("pads", "8", (int64_t[]){0, 0, 1, 1, 0, 0, 1, -6});
    n = node("Pad", "x,pads", "y");
    attr_s(n, "mode", "reflect");
    output("y");
    plan_fails(FC_ERR_SHAPE, "crop size 4 below 0");
    g->values[val("pads")].init->data = memcpy(g->values[val("pads")].init->data,
        (int64_t[]){0, 0, 1, 1, 0, 0, 1, -5}, 8 * sizeof(int64_t));
    plan_ok(1);
    ck_assert_str_eq(shape("y"), "[1,3,6,0]");
}
END_TEST

START_TEST(cast_folds_constants_and_refuses_unsupported_types)
{
    new_graph(13);
    init_i64("s", "2", (int64_t[]){300, -1});
    fc_node *n = node("Cast", "s", "u8");
    attr_i(n, "to", FC_DT_U8);
    output("u8");
    plan_ok(1);
    ck_assert_int_eq(info("u8")->dtype, FC_DT_U8);
    ck_assert_int_eq(folded_at("u8", 0), 300 - 256);   /* integer narrowing wraps */
    ck_assert_int_eq(folded_at("u8", 1), 255);
    g->nodes[0].attrs[0].i = 10;   /* float16 */
    plan_fails(FC_ERR_UNSUPPORTED, "Cast to data type 10");
}
END_TEST

START_TEST(constant_of_shape_folds_a_filled_tensor)
{
    new_graph(13);
    init_i64("shape", "2", (int64_t[]){2, 3});
    fc_node *n = node("ConstantOfShape", "shape", "c");
    fc_attr *a = attr(n, "value", FC_ATTR_TENSOR);
    a->t = fc_calloc(1, sizeof *a->t);
    ck_assert_int_eq(fc_tensor_alloc(a->t, FC_DT_I64, 1, (int64_t[]){1}, &err), FC_OK);
    ((int64_t *)a->t->data)[0] = 7;
    output("c");
    plan_ok(1);
    ck_assert_str_eq(shape("c"), "[2,3]");
    ck_assert_int_eq(folded_at("c", 5), 7);
}
END_TEST

START_TEST(enormous_constant_of_shape_is_a_limit_error)
{
    new_graph(13);
    init_i64("shape", "3", (int64_t[]){1ll << 31, 1ll << 31, 1ll << 31});
    node("ConstantOfShape", "shape", "c");
    output("c");
    plan_fails(FC_ERR_LIMIT, "FC_MAX_TENSOR_ELEMS");
}
END_TEST

START_TEST(dropout_in_inference_passes_through_with_a_bool_mask)
{
    new_graph(13);
    input("x", FC_DT_F32, "2,3");
    node("Dropout", "x", "y,mask");
    output("y");
    output("mask");
    plan_ok(1);
    ck_assert_str_eq(shape("mask"), "[2,3]");
    ck_assert_int_eq(info("mask")->dtype, FC_DT_BOOL);
}
END_TEST

START_TEST(dropout_with_constant_training_mode_is_refused)
{
    new_graph(13);
    input("x", FC_DT_F32, "2,3");
    fc_tensor *t = init("train", FC_DT_BOOL, "");
    ((uint8_t *)t->data)[0] = 1;
    node("Dropout", "x,,train", "y");
    output("y");
    plan_fails(FC_ERR_UNSUPPORTED, "training mode");
}
END_TEST

START_TEST(constant_node_infers_and_folds_its_value_ints)
{
    new_graph(13);
    fc_node *n = node("Constant", "", "c");
    attr_is(n, "value_ints", "4,-1");
    output("c");
    plan_ok(1);
    ck_assert_int_eq(info("c")->dtype, FC_DT_I64);
    ck_assert_str_eq(shape("c"), "[2]");
    ck_assert(p->node_folded[0]);
    ck_assert_int_eq(folded_at("c", 1), -1);
    attr_i(&g->nodes[0], "value_int", 3);   /* two values: ambiguous */
    plan_fails(FC_ERR_SHAPE, "expected exactly one value");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("plan_ops");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, conv_with_groups_auto_pad_and_bias_gives_the_output_shape);
    tcase_add_test(tc, conv_channel_mismatch_names_the_channels);
    tcase_add_test(tc, gemm_transposes_and_broadcasts_c_one_way);
    tcase_add_test(tc, matmul_promotes_1d_operands_and_broadcasts_batch_axes);
    tcase_add_test(tc, pools_use_ceil_mode_and_maxpool_infers_int64_indices);
    tcase_add_test(tc, softmax_axis_default_depends_on_the_opset);
    tcase_add_test(tc, reducemean_keeps_or_drops_the_reduced_axes);
    tcase_add_test(tc, batchnorm_in_training_mode_is_refused);
    tcase_add_test(tc, shape_start_and_end_are_clamped_and_fold_without_constant_data);
    tcase_add_test(tc, gather_with_negative_axis_and_checked_constant_indices);
    tcase_add_test(tc, squeeze_and_unsqueeze_take_attributes_before_13_and_inputs_after);
    tcase_add_test(tc, non_constant_axes_are_unsupported_and_named);
    tcase_add_test(tc, reshape_copies_zeros_infers_minus_one_and_honours_allowzero);
    tcase_add_test(tc, flatten_concat_and_transpose_accept_negative_axes);
    tcase_add_test(tc, pad_reads_attributes_or_inputs_and_crops_with_negative_pads);
    tcase_add_test(tc, cast_folds_constants_and_refuses_unsupported_types);
    tcase_add_test(tc, constant_of_shape_folds_a_filled_tensor);
    tcase_add_test(tc, enormous_constant_of_shape_is_a_limit_error);
    tcase_add_test(tc, dropout_in_inference_passes_through_with_a_bool_mask);
    tcase_add_test(tc, dropout_with_constant_training_mode_is_refused);
    tcase_add_test(tc, constant_node_infers_and_folds_its_value_ints);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
