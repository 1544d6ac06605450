/* The op table, window/broadcast decoding (fc_opattr.c), integer folding
 * and whole-plan behaviour of fc_plan_create: the PyTorch reshape chain,
 * input checks, error messages and allocation failures.  Per-op shape
 * inference is in test_plan_ops.c. */
#include "plan_builder.h"

/* ---- op table and attribute decoding ------------------------------------ */

START_TEST(op_table_is_sorted_and_every_entry_is_found)
{
    int n;
    const fc_op_def *t = fc_op_table(&n);
    ck_assert_int_ge(n, 30);
    for (int i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(t[i].infer);
        if (i)
            ck_assert_int_lt(strcmp(t[i - 1].name, t[i].name), 0);
        ck_assert_ptr_eq(fc_op_find(t[i].domain, t[i].name), &t[i]);
    }
    ck_assert_ptr_eq(fc_op_find("ai.onnx", "Conv"), fc_op_find("", "Conv"));
    ck_assert_ptr_null(fc_op_find("", "LSTM"));
    ck_assert_ptr_null(fc_op_find("com.microsoft", "Conv"));
}
END_TEST

START_TEST(conv_window_uses_the_onnx_formula_with_dilation)
{
    new_graph(13);
    fc_node *n = node("Conv", "x,w", "y");
    attr_is(n, "strides", "2,1");
    attr_is(n, "pads", "1,0,1,0");
    attr_is(n, "dilations", "2,3");
    fc_window w;
    /* floor((10 + 2 - 2*(3-1) - 1)/2) + 1 = 4; floor((9 - 3*(2-1) - 1)/1) + 1 = 6 */
    ck_assert_int_eq(fc_window_decode(n, 2, (int64_t[]){10, 9}, (int64_t[]){3, 2}, false, &w, &err),
                     FC_OK);
    ck_assert_int_eq(w.out[0], 4);
    ck_assert_int_eq(w.out[1], 6);
    ck_assert_int_eq(w.pad_end[0], 1);
}
END_TEST

START_TEST(same_upper_puts_the_odd_pad_at_the_end_and_same_lower_at_the_start)
{
    new_graph(13);
    fc_node *n = node("MaxPool", "x", "y");
    attr_is(n, "kernel_shape", "2");
    attr_s(n, "auto_pad", "SAME_UPPER");
    fc_window w;
    ck_assert_int_eq(fc_window_decode(n, 1, (int64_t[]){5}, NULL, true, &w, &err), FC_OK);
    ck_assert_int_eq(w.out[0], 5);
    ck_assert_int_eq(w.pad_begin[0], 0);
    ck_assert_int_eq(w.pad_end[0], 1);
    strcpy(n->attrs[1].s, "SAME_LOWER");
    ck_assert_int_eq(fc_window_decode(n, 1, (int64_t[]){5}, NULL, true, &w, &err), FC_OK);
    ck_assert_int_eq(w.pad_begin[0], 1);
    ck_assert_int_eq(w.pad_end[0], 0);
    strcpy(n->attrs[1].s, "VALID");
    /* ceil((5 - 2 + 1) / 1) = 4, no pads */
    ck_assert_int_eq(fc_window_decode(n, 1, (int64_t[]){5}, NULL, true, &w, &err), FC_OK);
    ck_assert_int_eq(w.out[0], 4);
    ck_assert_int_eq(w.pad_begin[0] + w.pad_end[0], 0);
}
END_TEST

START_TEST(ceil_mode_adds_a_window_but_not_one_starting_in_the_end_padding)
{
    new_graph(13);
    fc_node *n = node("MaxPool", "x", "y");
    attr_is(n, "kernel_shape", "3");
    attr_is(n, "strides", "2");
    attr_i(n, "ceil_mode", 1);
    fc_window w;
    /* test_maxpool_2d_ceil: ceil((4 - 3)/2) + 1 = 2 */
    ck_assert_int_eq(fc_window_decode(n, 1, (int64_t[]){4}, NULL, true, &w, &err), FC_OK);
    ck_assert_int_eq(w.out[0], 2);
    /* pads 1,2 on 5: ceil(5/2) + 1 = 4, but window 4 would start at 6 >= 5 + 1 */
    attr_is(n, "pads", "1,2");
    ck_assert_int_eq(fc_window_decode(n, 1, (int64_t[]){5}, NULL, true, &w, &err), FC_OK);
    ck_assert_int_eq(w.out[0], 3);
    n->attrs[2].i = 0;
    ck_assert_int_eq(fc_window_decode(n, 1, (int64_t[]){5}, NULL, true, &w, &err), FC_OK);
    ck_assert_int_eq(w.out[0], 3);   /* floor(5/2) + 1 */
}
END_TEST

START_TEST(window_decode_refuses_zero_strides_and_overflowing_dilations)
{
    new_graph(13);
    fc_node *n = node("Conv", "x,w", "y");
    attr_is(n, "strides", "0");
    fc_window w;
    ck_assert_int_eq(fc_window_decode(n, 1, (int64_t[]){8}, (int64_t[]){3}, false, &w, &err),
                     FC_ERR_SHAPE);
    n->attrs[0].ints[0] = 1;
    attr_is(n, "dilations", "4611686018427387904");
    ck_assert_int_eq(fc_window_decode(n, 1, (int64_t[]){8}, (int64_t[]){3}, false, &w, &err),
                     FC_ERR_LIMIT);
}
END_TEST

START_TEST(broadcast_follows_numpy_and_names_incompatible_shapes)
{
    int r;
    int64_t out[FC_MAX_RANK];
    ck_assert_int_eq(fc_broadcast_shape(3, (int64_t[]){2, 1, 4}, 2, (int64_t[]){3, 1}, &r, out, &err),
                     FC_OK);
    ck_assert_int_eq(r, 3);
    ck_assert_int_eq(out[0], 2);
    ck_assert_int_eq(out[1], 3);
    ck_assert_int_eq(out[2], 4);
    ck_assert_int_eq(fc_broadcast_shape(1, (int64_t[]){3}, 1, (int64_t[]){4}, &r, out, &err),
                     FC_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "[3] and [4]"));
    int a;
    ck_assert_int_eq(fc_axis_normalize(-1, 4, &a, &err), FC_OK);
    ck_assert_int_eq(a, 3);
    ck_assert_int_eq(fc_axis_normalize(4, 4, &a, &err), FC_ERR_SHAPE);
}
END_TEST

/* ---- element-wise ops --------------------------------------------------- */

START_TEST(incompatible_broadcast_in_add_is_a_shape_error)
{
    new_graph(13);
    input("a", FC_DT_F32, "2,3");
    init("b", FC_DT_F32, "2");
    node("Add", "a,b", "y");
    output("y");
    plan_fails(FC_ERR_SHAPE, "cannot be broadcast");
}
END_TEST

START_TEST(huge_broadcast_product_is_a_limit_error_not_an_overflow)
{
    new_graph(13);
    input("a", FC_DT_F32, "65536,1,1");
    input("b", FC_DT_F32, "1,65536,65536");
    node("Mul", "a,b", "y");
    output("y");
    ck_assert_int_eq(plan(1), FC_ERR_LIMIT);   /* b alone is 2^32 elements */
    g->values[val("b")].dims[2] = 1;
    plan_fails(FC_ERR_LIMIT, "node Mul 'y'");   /* 2^32 only after broadcasting */
}
END_TEST

START_TEST(clip_takes_attributes_before_opset_11_and_scalar_inputs_after)
{
    new_graph(6);
    input("x", FC_DT_F32, "2,3");
    fc_node *n = node("Clip", "x", "y");
    attr_f(n, "min", 0.0f);
    attr_f(n, "max", 6.0f);
    output("y");
    plan_ok(1);
    ck_assert_str_eq(shape("y"), "[2,3]");
    teardown();
    new_graph(13);
    input("x", FC_DT_F32, "2,3");
    init("lo", FC_DT_F32, "");
    init("hi", FC_DT_F32, "2");
    node("Clip", "x,lo,", "y");
    node("Clip", "x,,hi", "z");
    output("y");
    output("z");
    plan_fails(FC_ERR_SHAPE, "max has shape [2], expected a scalar");
}
END_TEST

START_TEST(integer_arithmetic_folds_but_float_arithmetic_does_not)
{
    new_graph(13);
    init_i64("s", "2", (int64_t[]){12, -7});
    init_i64("d", "", (int64_t[]){2});
    init("f", FC_DT_F32, "2");
    node("Div", "s,d", "q");
    node("Add", "f,f", "ff");
    output("q");
    output("ff");
    plan_ok(1);
    ck_assert(p->node_folded[0]);
    ck_assert_int_eq(folded_at("q", 0), 6);
    ck_assert_int_eq(folded_at("q", 1), -3);   /* truncation toward zero */
    ck_assert(!p->node_folded[1]);
    ck_assert(!folded("ff"));
}
END_TEST

/* ---- whole-plan behaviour ----------------------------------------------- */

/* What torch.onnx.export writes for x.view(x.size(0), -1). */
static void build_pytorch_reshape(void)
{
    new_graph(13);
    input("x", FC_DT_F32, "N,2,3");
    init_i64("zero", "", (int64_t[]){0});
    init_i64("ax0", "1", (int64_t[]){0});
    init_i64("minus1", "1", (int64_t[]){-1});
    node("Shape", "x", "shp");
    node("Gather", "shp,zero", "batch");
    node("Unsqueeze", "batch,ax0", "batch1");
    fc_node *n = node("Concat", "batch1,minus1", "target");
    attr_i(n, "axis", 0);
    node("Reshape", "x,target", "y");
    node("Relu", "y", "out");
    output("out");
}

START_TEST(pytorch_reshape_chain_folds_to_a_constant_shape_for_any_batch)
{
    build_pytorch_reshape();
    const int64_t batches[] = {1, 7};
    for (int b = 0; b < 2; b++) {
        plan_ok(batches[b]);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(p->node_folded[i], "node %d not folded", i);
        ck_assert(!p->node_folded[4] && !p->node_folded[5]);
        ck_assert_int_eq(folded_at("target", 0), batches[b]);
        ck_assert_int_eq(folded_at("target", 1), -1);
        ck_assert_str_eq(shape("out"), batches[b] == 1 ? "[1,6]" : "[7,6]");
    }
}
END_TEST

START_TEST(unknown_op_is_unsupported_and_named)
{
    new_graph(13);
    input("x", FC_DT_F32, "1");
    node("FancyOp", "x", "bar");
    output("bar");
    plan_fails(FC_ERR_UNSUPPORTED, "unsupported op 'FancyOp' (node 'bar')");
    ck_assert_ptr_nonnull(strstr(err.msg, "test.onnx"));
}
END_TEST

START_TEST(run_time_inputs_are_checked_against_the_declared_shape)
{
    new_graph(13);
    input("x", FC_DT_F32, "N,3,8,8");
    node("Relu", "x", "y");
    output("y");
    fc_vinfo vi = {.dtype = FC_DT_F32, .rank = 4, .dims = {5, 3, 8, 8}};
    ck_assert_int_eq(fc_plan_create(g, &vi, 1, &p, &err), FC_OK);
    ck_assert_str_eq(shape("y"), "[5,3,8,8]");
    fc_plan_free(p);
    p = NULL;
    vi.dims[1] = 4;
    ck_assert_int_eq(fc_plan_create(g, &vi, 1, &p, &err), FC_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "input 'x' has shape [5,4,8,8], the model declares [N,3,8,8]"));
    vi.dims[1] = 3;
    vi.dtype = FC_DT_F64;
    ck_assert_int_eq(fc_plan_create(g, &vi, 1, &p, &err), FC_ERR_SHAPE);
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(run_time_int64_inputs_feed_shape_inference_by_value)
{
    new_graph(13);
    input("x", FC_DT_F32, "2,6");
    input("s", FC_DT_I64, "2");
    node("Reshape", "x,s", "y");
    output("y");
    int64_t target[2] = {3, 4};
    fc_tensor t = {.dtype = FC_DT_I64, .rank = 1, .dims = {2}, .numel = 2, .data = target};
    fc_vinfo vi[2] = {{.dtype = FC_DT_F32, .rank = 2, .dims = {2, 6}},
                      {.dtype = FC_DT_I64, .rank = 1, .dims = {2}, .value = &t}};
    ck_assert_int_eq(fc_plan_create(g, vi, 2, &p, &err), FC_OK);
    ck_assert_str_eq(shape("y"), "[3,4]");
    plan_fails(FC_ERR_UNSUPPORTED, "non-constant input 'shape'");   /* the probe has no value */
}
END_TEST

START_TEST(probe_refuses_an_input_of_unknown_rank)
{
    new_graph(13);
    input("x", FC_DT_F32, "?");
    node("Relu", "x", "y");
    output("y");
    plan_fails(FC_ERR_UNSUPPORTED, "input 'x' has no declared shape");
}
END_TEST

START_TEST(every_allocation_failure_ends_in_nomem_without_leaks)
{
    build_pytorch_reshape();
    int failures = 0;
    for (long k = 0; k < 200; k++) {
        fc_alloc_fail_after(k);
        fc_status st = plan(3);
        fc_alloc_fail_reset();
        if (st == FC_OK)
            break;
        ck_assert_msg(st == FC_ERR_NOMEM, "k=%ld: %s", k, err.msg);
        ck_assert_ptr_null(p);
        failures++;
    }
    ck_assert_int_gt(failures, 3);
    ck_assert_ptr_nonnull(p);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, op_table_is_sorted_and_every_entry_is_found);
    tcase_add_test(tc, conv_window_uses_the_onnx_formula_with_dilation);
    tcase_add_test(tc, same_upper_puts_the_odd_pad_at_the_end_and_same_lower_at_the_start);
    tcase_add_test(tc, ceil_mode_adds_a_window_but_not_one_starting_in_the_end_padding);
    tcase_add_test(tc, window_decode_refuses_zero_strides_and_overflowing_dilations);
    tcase_add_test(tc, broadcast_follows_numpy_and_names_incompatible_shapes);
    tcase_add_test(tc, incompatible_broadcast_in_add_is_a_shape_error);
    tcase_add_test(tc, huge_broadcast_product_is_a_limit_error_not_an_overflow);
    tcase_add_test(tc, clip_takes_attributes_before_opset_11_and_scalar_inputs_after);
    tcase_add_test(tc, integer_arithmetic_folds_but_float_arithmetic_does_not);
    tcase_add_test(tc, pytorch_reshape_chain_folds_to_a_constant_shape_for_any_batch);
    tcase_add_test(tc, unknown_op_is_unsupported_and_named);
    tcase_add_test(tc, run_time_inputs_are_checked_against_the_declared_shape);
    tcase_add_test(tc, run_time_int64_inputs_feed_shape_inference_by_value);
    tcase_add_test(tc, probe_refuses_an_input_of_unknown_rank);
    tcase_add_test(tc, every_allocation_failure_ends_in_nomem_without_leaks);
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
