/* The f32-ref kernels called directly through fc_kernels_f32_ref, on
 * hand-computed cases: nodes and tensors are built in memory, no model
 * file or plan involved. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "engines/fc_kernel.h"

/* ---- test scaffolding ------------------------------------------------- */

#define MAX_ATTRS 8
#define MAX_TENSORS 32

typedef struct {
    fc_node node;
    fc_attr attrs[MAX_ATTRS];
} test_node;

static fc_tensor *pool[MAX_TENSORS];
static int pool_n;

static void teardown(void)
{
    for (int i = 0; i < pool_n; i++) {
        fc_tensor_release(pool[i]);
        fc_free(pool[i]);
    }
    pool_n = 0;
}

static void node_init(test_node *t, const char *op, int64_t opset)
{
    memset(t, 0, sizeof *t);
    t->node.name = (char *)"";
    t->node.op_type = (char *)op;
    t->node.domain = (char *)"";
    t->node.opset = opset;
    t->node.attrs = t->attrs;
}

static fc_attr *attr_add(test_node *t, const char *name, fc_attr_type type)
{
    ck_assert_int_lt(t->node.n_attrs, MAX_ATTRS);
    fc_attr *a = &t->attrs[t->node.n_attrs++];
    a->name = (char *)name;
    a->type = type;
    return a;
}

static void attr_int(test_node *t, const char *name, int64_t v) { attr_add(t, name, FC_ATTR_INT)->i = v; }
static void attr_float(test_node *t, const char *name, float v) { attr_add(t, name, FC_ATTR_FLOAT)->f = v; }
static void attr_string(test_node *t, const char *name, const char *s)
{
    attr_add(t, name, FC_ATTR_STRING)->s = (char *)s;
}
static void attr_ints(test_node *t, const char *name, const int64_t *v, size_t n)
{
    fc_attr *a = attr_add(t, name, FC_ATTR_INTS);
    a->ints = (int64_t *)v;
    a->n = n;
}
static void attr_tensor(test_node *t, const char *name, fc_tensor *v)
{
    attr_add(t, name, FC_ATTR_TENSOR)->t = v;
}

/* A pooled tensor of the given shape; data copied from `data` if given. */
static fc_tensor *tensor(fc_dtype dt, int rank, const int64_t *dims, const void *data)
{
    ck_assert_int_lt(pool_n, MAX_TENSORS);
    fc_tensor *t = fc_calloc(1, sizeof *t);
    ck_assert_ptr_nonnull(t);
    fc_err err;
    ck_assert_int_eq(fc_tensor_alloc(t, dt, rank, dims, &err), FC_OK);
    if (data && t->numel)
        memcpy(t->data, data, fc_tensor_bytes(t));
    pool[pool_n++] = t;
    return t;
}

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define F32(dims, ...) tensor(FC_DT_F32, (int)(sizeof dims / sizeof(int64_t)), dims, (const float[]){__VA_ARGS__})
#define OUT(dt, dims) tensor(dt, (int)(sizeof dims / sizeof(int64_t)), dims, NULL)

static const fc_kernel_def *find(const char *op)
{
    for (int i = 0; i < fc_kernels_f32_ref.count; i++)
        if (strcmp(fc_kernels_f32_ref.defs[i].name, op) == 0)
            return &fc_kernels_f32_ref.defs[i];
    return NULL;
}

/* Runs the f32-ref kernel of t's op on in[] into out[]. */
static fc_status run(test_node *t, const fc_tensor **in, int n_in, fc_tensor **out, int n_out,
                     fc_err *err)
{
    const fc_kernel_def *def = find(t->node.op_type);
    ck_assert_msg(def != NULL, "no kernel for %s", t->node.op_type);
    fc_kernel_ctx k = {.node = &t->node, .in = in, .n_in = n_in, .out = out, .n_out = n_out};
    fc_err_clear(err);
    return def->forward(&k, err);
}

/* Runs and requires FC_OK. */
static void run_ok(test_node *t, const fc_tensor **in, int n_in, fc_tensor **out, int n_out)
{
    fc_err err;
    fc_status st = run(t, in, n_in, out, n_out, &err);
    ck_assert_msg(st == FC_OK, "%s failed: %s", t->node.op_type, err.msg);
}

static void expect_f32(const fc_tensor *t, const float *want, size_t n, double tol)
{
    ck_assert_int_eq(t->dtype, FC_DT_F32);
    ck_assert_uint_eq(t->numel, n);
    for (size_t i = 0; i < n; i++) {
        float got = ((const float *)t->data)[i];
        if (isnan(want[i]))
            ck_assert_msg(isnan(got), "element %zu: got %g, want NaN", i, got);
        else
            ck_assert_msg(got == want[i] || fabs(got - want[i]) <= tol, "element %zu: got %.9g, want %.9g", i,
                          got, want[i]);
    }
}
#define EXPECT_F32(t, tol, ...) \
    expect_f32(t, (const float[]){__VA_ARGS__}, sizeof((const float[]){__VA_ARGS__}) / sizeof(float), tol)

static void expect_i64(const fc_tensor *t, const int64_t *want, size_t n)
{
    ck_assert_uint_eq(t->numel, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fc_tensor_get_i64(t, i) == want[i], "element %zu: got %lld, want %lld", i,
                      (long long)fc_tensor_get_i64(t, i), (long long)want[i]);
}
#define EXPECT_INT(t, ...) \
    expect_i64(t, (const int64_t[]){__VA_ARGS__}, sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* ---- the table ---------------------------------------------------------- */

START_TEST(the_table_has_a_kernel_for_every_op_the_oracle_promises)
{
    static const char *const ops[] = {
        "Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
        "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Softmax",
        "LogSoftmax", "BatchNormalization", "ReduceMean", "Flatten", "Reshape", "Transpose",
        "Concat", "Identity", "Dropout", "Pad", "Shape", "Gather", "Unsqueeze", "Squeeze", "Cast",
        "Constant", "ConstantOfShape"};
    ck_assert_str_eq(fc_kernels_f32_ref.engine, "f32-ref");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const fc_kernel_def *d = find(ops[i]);
        ck_assert_msg(d != NULL, "f32-ref lacks %s", ops[i]);
        ck_assert_str_eq(d->domain, "");
        ck_assert_ptr_nonnull(d->forward);
        ck_assert_msg(d->flags == 0, "%s must not claim activation fusion", ops[i]);
    }
}
END_TEST

/* ---- Conv --------------------------------------------------------------- */

START_TEST(conv_with_padding_matches_the_onnx_example)
{
    float xv[25];
    for (int i = 0; i < 25; i++)
        xv[i] = (float)i;
    fc_tensor *x = tensor(FC_DT_F32, 4, DIMS(1, 1, 5, 5), xv);
    fc_tensor *w = F32(DIMS(1, 1, 3, 3), 1, 1, 1, 1, 1, 1, 1, 1, 1);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 1, 5, 5));
    test_node n;
    node_init(&n, "Conv", 11);
    attr_ints(&n, "kernel_shape", DIMS(3, 3), 2);
    attr_ints(&n, "pads", DIMS(1, 1, 1, 1), 4);
    run_ok(&n, (const fc_tensor *[]){x, w}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81, 93, 144, 153,
               162, 111, 72, 111, 117, 123, 84);
}
END_TEST

START_TEST(conv_with_groups_strides_dilations_and_bias_sums_the_right_taps)
{
    /* Two groups of one channel; width taps 0 and 2 (dilation 2), stride 2. */
    fc_tensor *x = F32(DIMS(1, 2, 1, 5), 1, 2, 3, 4, 5, 10, 20, 30, 40, 50);
    fc_tensor *w = F32(DIMS(2, 1, 1, 2), 1, 1, 1, -1);
    fc_tensor *b = F32(DIMS(2), 0.5f, -1);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 2, 1, 2));
    test_node n;
    node_init(&n, "Conv", 11);
    attr_int(&n, "group", 2);
    attr_ints(&n, "strides", DIMS(1, 2), 2);
    attr_ints(&n, "dilations", DIMS(1, 2), 2);
    run_ok(&n, (const fc_tensor *[]){x, w, b}, 3, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 4.5f, 8.5f, -21, -21);
}
END_TEST

START_TEST(depthwise_1d_conv_with_padding_treats_padding_as_zero)
{
    fc_tensor *x = F32(DIMS(1, 2, 3), 1, 2, 3, 1, 1, 1);
    fc_tensor *w = F32(DIMS(2, 1, 3), 1, 2, 3, 1, 0, -1);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 2, 3));
    test_node n;
    node_init(&n, "Conv", 11);
    attr_int(&n, "group", 2);
    attr_ints(&n, "pads", DIMS(1, 1), 2);
    run_ok(&n, (const fc_tensor *[]){x, w, NULL}, 3, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 8, 14, 8, -1, 0, 1);
}
END_TEST

START_TEST(conv_on_int32_is_refused_by_name)
{
    fc_tensor *x = tensor(FC_DT_I32, 4, DIMS(1, 1, 2, 2), NULL);
    fc_tensor *w = tensor(FC_DT_I32, 4, DIMS(1, 1, 1, 1), NULL);
    fc_tensor *y = OUT(FC_DT_I32, DIMS(1, 1, 2, 2));
    test_node n;
    node_init(&n, "Conv", 11);
    fc_err err;
    ck_assert_int_eq(run(&n, (const fc_tensor *[]){x, w}, 2, (fc_tensor *[]){y}, 1, &err),
                     FC_ERR_UNSUPPORTED);
    ck_assert_str_eq(err.msg, "Conv: dtype int32 not supported by f32-ref");
}
END_TEST

/* ---- Gemm, MatMul ------------------------------------------------------- */

START_TEST(gemm_applies_transposes_alpha_beta_and_a_row_broadcast_c)
{
    fc_tensor *a = F32(DIMS(3, 2), 1, 2, 3, 4, 5, 6);    /* op(A) = [[1,3,5],[2,4,6]] */
    fc_tensor *b = F32(DIMS(2, 3), 1, 0, 1, 0, 1, 0);    /* op(B) = [[1,0],[0,1],[1,0]] */
    fc_tensor *c = F32(DIMS(2), 10, 20);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(2, 2));
    test_node n;
    node_init(&n, "Gemm", 13);
    attr_int(&n, "transA", 1);
    attr_int(&n, "transB", 1);
    attr_float(&n, "alpha", 2);
    attr_float(&n, "beta", 0.5f);
    run_ok(&n, (const fc_tensor *[]){a, b, c}, 3, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 17, 16, 21, 18);
}
END_TEST

START_TEST(gemm_broadcasts_a_column_c_and_runs_without_c)
{
    fc_tensor *a = F32(DIMS(2, 2), 1, 2, 3, 4);
    fc_tensor *b = F32(DIMS(2, 2), 1, 0, 0, 1);
    fc_tensor *c = F32(DIMS(2, 1), 100, 200);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(2, 2));
    test_node n;
    node_init(&n, "Gemm", 13);
    run_ok(&n, (const fc_tensor *[]){a, b, c}, 3, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 101, 102, 203, 204);
    run_ok(&n, (const fc_tensor *[]){a, b}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 1, 2, 3, 4);
}
END_TEST

START_TEST(matmul_broadcasts_batch_axes_of_both_operands)
{
    /* A [2,1,1,2] x B [3,2,1] -> [2,3,1,1]: every a_i dotted with every b_j. */
    fc_tensor *a = F32(DIMS(2, 1, 1, 2), 1, 2, 3, 4);
    fc_tensor *b = F32(DIMS(3, 2, 1), 1, 0, 0, 1, 1, 1);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(2, 3, 1, 1));
    test_node n;
    node_init(&n, "MatMul", 13);
    run_ok(&n, (const fc_tensor *[]){a, b}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 1, 2, 3, 3, 4, 7);
}
END_TEST

START_TEST(matmul_promotes_1d_operands_on_either_side)
{
    fc_tensor *v = F32(DIMS(3), 1, 2, 3);
    fc_tensor *m = F32(DIMS(3, 2), 1, 0, 0, 1, 1, 1);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(2));
    test_node n;
    node_init(&n, "MatMul", 13);
    run_ok(&n, (const fc_tensor *[]){v, m}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 4, 5);
    fc_tensor *mt = F32(DIMS(2, 2, 3), 1, 1, 1, 0, 1, 0, 2, 0, 0, 0, 0, 3);
    fc_tensor *y2 = OUT(FC_DT_F32, DIMS(2, 2));
    run_ok(&n, (const fc_tensor *[]){mt, v}, 2, (fc_tensor *[]){y2}, 1);
    EXPECT_F32(y2, 0, 6, 2, 2, 9);
}
END_TEST

/* ---- pools -------------------------------------------------------------- */

START_TEST(maxpool_with_ceil_mode_clips_the_last_window_and_reports_indices)
{
    float xv[16];
    for (int i = 0; i < 16; i++)
        xv[i] = (float)(i + 1);
    fc_tensor *x = tensor(FC_DT_F32, 4, DIMS(1, 1, 4, 4), xv);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 1, 2, 2));
    fc_tensor *ind = OUT(FC_DT_I64, DIMS(1, 1, 2, 2));
    test_node n;
    node_init(&n, "MaxPool", 12);
    attr_ints(&n, "kernel_shape", DIMS(3, 3), 2);
    attr_ints(&n, "strides", DIMS(2, 2), 2);
    attr_int(&n, "ceil_mode", 1);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y, ind}, 2);
    EXPECT_F32(y, 0, 11, 12, 15, 16);
    EXPECT_INT(ind, 10, 11, 14, 15);
}
END_TEST

START_TEST(maxpool_padding_never_wins_and_column_major_indices_swap_axes)
{
    fc_tensor *x = F32(DIMS(1, 1, 3, 3), -1, -2, -3, -4, -5, -6, -7, -8, -9);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 1, 2, 2));
    fc_tensor *ind = OUT(FC_DT_I64, DIMS(1, 1, 2, 2));
    test_node n;
    node_init(&n, "MaxPool", 12);
    attr_ints(&n, "kernel_shape", DIMS(2, 2), 2);
    attr_ints(&n, "strides", DIMS(2, 2), 2);
    attr_ints(&n, "pads", DIMS(1, 1, 1, 1), 4);
    attr_int(&n, "storage_order", 1);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y, ind}, 2);
    EXPECT_F32(y, 0, -1, -2, -4, -5);
    EXPECT_INT(ind, 0, 3, 1, 4);
}
END_TEST

START_TEST(maxpool_on_uint8_keeps_the_dtype)
{
    fc_tensor *x = tensor(FC_DT_U8, 3, DIMS(1, 1, 4), (const uint8_t[]){3, 250, 7, 9});
    fc_tensor *y = OUT(FC_DT_U8, DIMS(1, 1, 2));
    test_node n;
    node_init(&n, "MaxPool", 12);
    attr_ints(&n, "kernel_shape", DIMS(2), 1);
    attr_ints(&n, "strides", DIMS(2), 1);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_INT(y, 250, 9);
}
END_TEST

START_TEST(averagepool_divides_by_real_or_padded_count_as_asked)
{
    fc_tensor *x = F32(DIMS(1, 1, 3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 1, 2, 2));
    test_node n;
    node_init(&n, "AveragePool", 11);
    attr_ints(&n, "kernel_shape", DIMS(2, 2), 2);
    attr_ints(&n, "strides", DIMS(2, 2), 2);
    attr_ints(&n, "pads", DIMS(1, 1, 1, 1), 4);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 1e-6, 1, 2.5f, 5.5f, 7);
    attr_int(&n, "count_include_pad", 1);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 1e-6, 0.25f, 1.25f, 2.75f, 7);
}
END_TEST

START_TEST(averagepool_with_ceil_mode_divides_a_clipped_window_by_its_size)
{
    fc_tensor *x = F32(DIMS(1, 1, 3), 1, 2, 3);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 1, 2));
    test_node n;
    node_init(&n, "AveragePool", 11);
    attr_ints(&n, "kernel_shape", DIMS(2), 1);
    attr_ints(&n, "strides", DIMS(2), 1);
    attr_int(&n, "ceil_mode", 1);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 1.5f, 3);
    attr_int(&n, "count_include_pad", 1);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 1.5f, 3);
}
END_TEST

START_TEST(global_pools_reduce_each_channel_plane)
{
    fc_tensor *x = F32(DIMS(1, 2, 2, 2), 1, 2, 3, 4, -1, -5, -3, -2);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 2, 1, 1));
    test_node n;
    node_init(&n, "GlobalAveragePool", 11);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 2.5f, -2.75f);
    node_init(&n, "GlobalMaxPool", 11);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 4, -1);
}
END_TEST

/* ---- element-wise --------------------------------------------------------- */

START_TEST(uint8_add_wraps_around_and_broadcasts)
{
    fc_tensor *a = tensor(FC_DT_U8, 2, DIMS(2, 2), (const uint8_t[]){250, 1, 255, 0});
    fc_tensor *b = tensor(FC_DT_U8, 1, DIMS(2), (const uint8_t[]){10, 255});
    fc_tensor *y = OUT(FC_DT_U8, DIMS(2, 2));
    test_node n;
    node_init(&n, "Add", 14);
    run_ok(&n, (const fc_tensor *[]){a, b}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_INT(y, 4, 0, 9, 255);
}
END_TEST

START_TEST(signed_integer_sub_and_mul_wrap_without_undefined_behaviour)
{
    fc_tensor *a = tensor(FC_DT_I8, 1, DIMS(2), (const int8_t[]){-128, 100});
    fc_tensor *b = tensor(FC_DT_I8, 1, DIMS(2), (const int8_t[]){1, -100});
    fc_tensor *y = OUT(FC_DT_I8, DIMS(2));
    test_node n;
    node_init(&n, "Sub", 14);
    run_ok(&n, (const fc_tensor *[]){a, b}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_INT(y, 127, -56);
    fc_tensor *c = tensor(FC_DT_I64, 1, DIMS(1), (const int64_t[]){INT64_MAX});
    fc_tensor *d = tensor(FC_DT_I64, 1, DIMS(1), (const int64_t[]){2});
    fc_tensor *z = OUT(FC_DT_I64, DIMS(1));
    node_init(&n, "Mul", 14);
    run_ok(&n, (const fc_tensor *[]){c, d}, 2, (fc_tensor *[]){z}, 1);
    EXPECT_INT(z, -2);
}
END_TEST

START_TEST(integer_div_truncates_toward_zero_and_gives_zero_for_division_by_zero)
{
    fc_tensor *a = tensor(FC_DT_I32, 1, DIMS(5), (const int32_t[]){7, -7, 5, INT32_MIN, 0});
    fc_tensor *b = tensor(FC_DT_I32, 1, DIMS(5), (const int32_t[]){2, 2, 0, -1, 0});
    fc_tensor *y = OUT(FC_DT_I32, DIMS(5));
    test_node n;
    node_init(&n, "Div", 14);
    run_ok(&n, (const fc_tensor *[]){a, b}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_INT(y, 3, -3, 0, INT32_MIN, 0);
    fc_tensor *c = tensor(FC_DT_I64, 1, DIMS(2), (const int64_t[]){INT64_MIN, 9});
    fc_tensor *d = tensor(FC_DT_I64, 1, DIMS(2), (const int64_t[]){-1, 0});
    fc_tensor *z = OUT(FC_DT_I64, DIMS(2));
    run_ok(&n, (const fc_tensor *[]){c, d}, 2, (fc_tensor *[]){z}, 1);
    EXPECT_INT(z, INT64_MIN, 0);
    fc_tensor *u = tensor(FC_DT_U8, 1, DIMS(2), (const uint8_t[]){200, 17});
    fc_tensor *v = tensor(FC_DT_U8, 1, DIMS(2), (const uint8_t[]){0, 5});
    fc_tensor *w = OUT(FC_DT_U8, DIMS(2));
    run_ok(&n, (const fc_tensor *[]){u, v}, 2, (fc_tensor *[]){w}, 1);
    EXPECT_INT(w, 0, 3);
}
END_TEST

START_TEST(float_div_by_zero_follows_ieee)
{
    fc_tensor *a = F32(DIMS(3), 1, -1, 0);
    fc_tensor *b = F32(DIMS(1), 0);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(3));
    test_node n;
    node_init(&n, "Div", 14);
    run_ok(&n, (const fc_tensor *[]){a, b}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, INFINITY, -INFINITY, NAN);
}
END_TEST

START_TEST(activations_match_their_formulas_and_never_overflow)
{
    fc_tensor *x = F32(DIMS(5), -2, 0, 3, -1000, 1000);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(5));
    test_node n;
    node_init(&n, "Relu", 14);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 0, 0, 3, 0, 1000);
    node_init(&n, "LeakyRelu", 6);
    attr_float(&n, "alpha", 0.5f);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, -1, 0, 3, -500, 1000);
    node_init(&n, "Sigmoid", 13);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 1e-7, 0.119202922f, 0.5f, 0.952574127f, 0, 1);
    node_init(&n, "Tanh", 13);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 1e-7, -0.964027580f, 0, 0.995054754f, -1, 1);
}
END_TEST

START_TEST(relu_passes_nan_through)
{
    fc_tensor *x = F32(DIMS(2), NAN, -0.5f);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(2));
    test_node n;
    node_init(&n, "Relu", 14);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, NAN, 0);
}
END_TEST

START_TEST(clip_takes_bounds_from_attributes_before_opset_11_and_inputs_after)
{
    fc_tensor *x = F32(DIMS(4), -5, 0.5f, 2, 9);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(4));
    test_node n;
    node_init(&n, "Clip", 6);
    attr_float(&n, "min", 0);
    attr_float(&n, "max", 1);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 0, 0.5f, 1, 1);
    node_init(&n, "Clip", 13);
    fc_tensor *hi = tensor(FC_DT_F32, 0, NULL, (const float[]){3});
    run_ok(&n, (const fc_tensor *[]){x, NULL, hi}, 3, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, -5, 0.5f, 2, 3);
    fc_tensor *xi = tensor(FC_DT_I8, 1, DIMS(3), (const int8_t[]){-128, 5, 127});
    fc_tensor *lo = tensor(FC_DT_I8, 0, NULL, (const int8_t[]){-3});
    fc_tensor *yi = OUT(FC_DT_I8, DIMS(3));
    run_ok(&n, (const fc_tensor *[]){xi, lo}, 2, (fc_tensor *[]){yi}, 1);
    EXPECT_INT(yi, -3, 5, 127);
}
END_TEST

/* ---- normalisation ---------------------------------------------------------- */

START_TEST(softmax_before_opset_13_flattens_from_axis_and_after_uses_one_axis)
{
    fc_tensor *x = F32(DIMS(1, 2, 2), 1, 2, 3, 4);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 2, 2));
    test_node n;
    node_init(&n, "Softmax", 11);     /* one softmax over all four (axis 1) */
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 1e-7, 0.0320586f, 0.0871443f, 0.2368828f, 0.6439142f);
    node_init(&n, "Softmax", 13);     /* per row of two (axis -1) */
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 1e-7, 0.2689414f, 0.7310586f, 0.2689414f, 0.7310586f);
    attr_int(&n, "axis", 1);          /* per column */
    fc_tensor *x2 = F32(DIMS(1, 2, 2), 1, 5, 2, 5);
    run_ok(&n, (const fc_tensor *[]){x2}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 1e-7, 0.2689414f, 0.5f, 0.7310586f, 0.5f);
}
END_TEST

START_TEST(softmax_and_logsoftmax_of_large_numbers_do_not_overflow)
{
    fc_tensor *x = F32(DIMS(1, 3), 1000, 1001, 1002);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 3));
    test_node n;
    node_init(&n, "Softmax", 13);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 1e-7, 0.09003057f, 0.24472847f, 0.66524096f);
    node_init(&n, "LogSoftmax", 13);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 1e-6, -2.40760596f, -1.40760596f, -0.40760596f);
}
END_TEST

START_TEST(batchnorm_normalises_each_channel_with_its_statistics)
{
    fc_tensor *x = F32(DIMS(1, 2, 2), 1, 3, 10, 20);
    fc_tensor *scale = F32(DIMS(2), 2, 1);
    fc_tensor *bias = F32(DIMS(2), 1, 0);
    fc_tensor *mean = F32(DIMS(2), 2, 10);
    fc_tensor *var = F32(DIMS(2), 4, 100);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 2, 2));
    test_node n;
    node_init(&n, "BatchNormalization", 15);
    attr_float(&n, "epsilon", 0);
    run_ok(&n, (const fc_tensor *[]){x, scale, bias, mean, var}, 5, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 1e-6, 0, 2, 0, 1);
}
END_TEST

START_TEST(reducemean_averages_the_listed_axes_with_or_without_kept_dims)
{
    fc_tensor *x = F32(DIMS(2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(2, 1, 1));
    test_node n;
    node_init(&n, "ReduceMean", 13);
    attr_ints(&n, "axes", DIMS(-1, 1), 2);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 2.5f, 6.5f);
    fc_tensor *y2 = OUT(FC_DT_F32, DIMS(2, 2));
    node_init(&n, "ReduceMean", 13);
    attr_ints(&n, "axes", DIMS(0), 1);
    attr_int(&n, "keepdims", 0);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y2}, 1);
    EXPECT_F32(y2, 0, 3, 4, 5, 6);
    fc_tensor *y3 = OUT(FC_DT_F32, DIMS(1, 1, 1));
    node_init(&n, "ReduceMean", 13);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y3}, 1);
    EXPECT_F32(y3, 0, 4.5f);
}
END_TEST

/* ---- data movement ---------------------------------------------------------- */

START_TEST(gather_counts_negative_indices_from_the_end_and_refuses_out_of_range)
{
    fc_tensor *x = F32(DIMS(3, 2), 1, 2, 3, 4, 5, 6);
    fc_tensor *ind = tensor(FC_DT_I64, 1, DIMS(2), (const int64_t[]){-1, 0});
    fc_tensor *y = OUT(FC_DT_F32, DIMS(2, 2));
    test_node n;
    node_init(&n, "Gather", 13);
    run_ok(&n, (const fc_tensor *[]){x, ind}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 5, 6, 1, 2);
    attr_int(&n, "axis", 1);
    fc_tensor *ind32 = tensor(FC_DT_I32, 2, DIMS(1, 1), (const int32_t[]){-2});
    fc_tensor *y1 = OUT(FC_DT_F32, DIMS(3, 1, 1));
    run_ok(&n, (const fc_tensor *[]){x, ind32}, 2, (fc_tensor *[]){y1}, 1);
    EXPECT_F32(y1, 0, 1, 3, 5);
    fc_tensor *bad = tensor(FC_DT_I32, 2, DIMS(1, 1), (const int32_t[]){2});
    fc_err err;
    ck_assert_int_eq(run(&n, (const fc_tensor *[]){x, bad}, 2, (fc_tensor *[]){y1}, 1, &err),
                     FC_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "Gather: index 2 out of range"));
}
END_TEST

START_TEST(pad_edge_repeats_and_reflect_mirrors_the_border)
{
    fc_tensor *x = F32(DIMS(1, 3), 1, 2, 3);
    fc_tensor *pads = tensor(FC_DT_I64, 1, DIMS(4), (const int64_t[]){0, 2, 0, 2});
    fc_tensor *y = OUT(FC_DT_F32, DIMS(1, 7));
    test_node n;
    node_init(&n, "Pad", 13);
    attr_string(&n, "mode", "edge");
    run_ok(&n, (const fc_tensor *[]){x, pads}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 1, 1, 1, 2, 3, 3, 3);
    node_init(&n, "Pad", 13);
    attr_string(&n, "mode", "reflect");
    run_ok(&n, (const fc_tensor *[]){x, pads}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 3, 2, 1, 2, 3, 2, 1);
}
END_TEST

START_TEST(pad_constant_takes_the_value_from_attribute_or_input_and_crops_with_negative_pads)
{
    fc_tensor *x = tensor(FC_DT_I32, 1, DIMS(3), (const int32_t[]){1, 2, 3});
    fc_tensor *y = OUT(FC_DT_I32, DIMS(3));
    test_node n;
    node_init(&n, "Pad", 2);
    attr_ints(&n, "pads", DIMS(1, -1), 2);
    attr_float(&n, "value", 7.9f);           /* converted like Cast: 7 */
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_INT(y, 7, 1, 2);
    fc_tensor *pads = tensor(FC_DT_I64, 1, DIMS(2), (const int64_t[]){-1, 2});
    fc_tensor *cv = tensor(FC_DT_I32, 0, NULL, (const int32_t[]){-4});
    fc_tensor *y2 = OUT(FC_DT_I32, DIMS(4));
    node_init(&n, "Pad", 11);
    run_ok(&n, (const fc_tensor *[]){x, pads, cv}, 3, (fc_tensor *[]){y2}, 1);
    EXPECT_INT(y2, 2, 3, -4, -4);
}
END_TEST

START_TEST(transpose_follows_perm_and_defaults_to_reversing_axes)
{
    fc_tensor *x = F32(DIMS(2, 3), 0, 1, 2, 3, 4, 5);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(3, 2));
    test_node n;
    node_init(&n, "Transpose", 13);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 0, 3, 1, 4, 2, 5);
    /* [2,1,3] with perm [2,0,1] -> [3,2,1]: Y[i,j,0] = X[j,0,i]. */
    fc_tensor *x3 = tensor(FC_DT_I64, 3, DIMS(2, 1, 3), (const int64_t[]){0, 1, 2, 3, 4, 5});
    fc_tensor *y3 = OUT(FC_DT_I64, DIMS(3, 2, 1));
    attr_ints(&n, "perm", DIMS(2, 0, 1), 3);
    run_ok(&n, (const fc_tensor *[]){x3}, 1, (fc_tensor *[]){y3}, 1);
    EXPECT_INT(y3, 0, 3, 1, 4, 2, 5);
}
END_TEST

START_TEST(concat_joins_blocks_along_the_axis)
{
    fc_tensor *a = F32(DIMS(2, 1), 1, 2);
    fc_tensor *b = F32(DIMS(2, 2), 3, 4, 5, 6);
    fc_tensor *y = OUT(FC_DT_F32, DIMS(2, 3));
    test_node n;
    node_init(&n, "Concat", 13);
    attr_int(&n, "axis", -1);
    run_ok(&n, (const fc_tensor *[]){a, b}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_F32(y, 0, 1, 3, 4, 2, 5, 6);
}
END_TEST

START_TEST(copy_ops_shape_dropout_and_constants_produce_their_values)
{
    fc_tensor *x = tensor(FC_DT_U8, 2, DIMS(2, 3), (const uint8_t[]){1, 2, 3, 4, 5, 6});
    fc_tensor *y = OUT(FC_DT_U8, DIMS(6));
    test_node n;
    node_init(&n, "Reshape", 14);
    run_ok(&n, (const fc_tensor *[]){x, NULL}, 2, (fc_tensor *[]){y}, 1);
    EXPECT_INT(y, 1, 2, 3, 4, 5, 6);
    fc_tensor *mask = OUT(FC_DT_BOOL, DIMS(2, 3));
    fc_tensor *y2 = OUT(FC_DT_U8, DIMS(2, 3));
    node_init(&n, "Dropout", 13);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){y2, mask}, 2);
    EXPECT_INT(y2, 1, 2, 3, 4, 5, 6);
    EXPECT_INT(mask, 1, 1, 1, 1, 1, 1);
    fc_tensor *s = OUT(FC_DT_I64, DIMS(1));
    node_init(&n, "Shape", 15);
    attr_int(&n, "start", -1);
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){s}, 1);
    EXPECT_INT(s, 3);
    fc_tensor *v = tensor(FC_DT_I64, 1, DIMS(1), (const int64_t[]){-9});
    fc_tensor *c = OUT(FC_DT_I64, DIMS(2, 2));
    node_init(&n, "ConstantOfShape", 9);
    attr_tensor(&n, "value", v);
    run_ok(&n, (const fc_tensor *[]){NULL}, 1, (fc_tensor *[]){c}, 1);
    EXPECT_INT(c, -9, -9, -9, -9);
    fc_tensor *val = F32(DIMS(2), 0.5f, -2);
    fc_tensor *k = OUT(FC_DT_F32, DIMS(2));
    node_init(&n, "Constant", 13);
    attr_tensor(&n, "value", val);
    run_ok(&n, NULL, 0, (fc_tensor *[]){k}, 1);
    EXPECT_F32(k, 0, 0.5f, -2);
}
END_TEST

/* ---- Cast ------------------------------------------------------------------- */

START_TEST(cast_of_nan_inf_and_huge_floats_to_int_truncates_and_saturates)
{
    fc_tensor *x = F32(DIMS(8), NAN, INFINITY, -INFINITY, 1e20f, -1e20f, 2.9f, -2.9f, 300);
    test_node n;
    node_init(&n, "Cast", 13);
    fc_tensor *i32 = OUT(FC_DT_I32, DIMS(8));
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){i32}, 1);
    EXPECT_INT(i32, 0, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, 2, -2, 300);
    fc_tensor *u8 = OUT(FC_DT_U8, DIMS(8));
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){u8}, 1);
    EXPECT_INT(u8, 0, 255, 0, 255, 0, 2, 0, 255);
    fc_tensor *i64 = OUT(FC_DT_I64, DIMS(8));
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){i64}, 1);
    EXPECT_INT(i64, 0, INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN, 2, -2, 300);
    fc_tensor *b = OUT(FC_DT_BOOL, DIMS(8));
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){b}, 1);
    EXPECT_INT(b, 1, 1, 1, 1, 1, 1, 1, 1);
}
END_TEST

START_TEST(cast_between_integers_wraps_and_double_to_float_overflows_to_inf)
{
    test_node n;
    node_init(&n, "Cast", 13);
    fc_tensor *x = tensor(FC_DT_I64, 1, DIMS(3), (const int64_t[]){300, -1, 0});
    fc_tensor *u8 = OUT(FC_DT_U8, DIMS(3));
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){u8}, 1);
    EXPECT_INT(u8, 44, 255, 0);
    fc_tensor *bl = OUT(FC_DT_BOOL, DIMS(3));
    run_ok(&n, (const fc_tensor *[]){x}, 1, (fc_tensor *[]){bl}, 1);
    EXPECT_INT(bl, 1, 1, 0);
    fc_tensor *d = tensor(FC_DT_F64, 1, DIMS(4), (const double[]){1e300, -1e300, 0.1, 3.4028235e38});
    fc_tensor *f = OUT(FC_DT_F32, DIMS(4));
    run_ok(&n, (const fc_tensor *[]){d}, 1, (fc_tensor *[]){f}, 1);
    EXPECT_F32(f, 0, INFINITY, -INFINITY, 0.1f, FLT_MAX);
    fc_tensor *back = OUT(FC_DT_F64, DIMS(4));
    run_ok(&n, (const fc_tensor *[]){f}, 1, (fc_tensor *[]){back}, 1);
    ck_assert(((const double *)back->data)[2] == (double)0.1f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kernels_ref");
    TCase *tc = tcase_create("f32-ref");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, the_table_has_a_kernel_for_every_op_the_oracle_promises);
    tcase_add_test(tc, conv_with_padding_matches_the_onnx_example);
    tcase_add_test(tc, conv_with_groups_strides_dilations_and_bias_sums_the_right_taps);
    tcase_add_test(tc, depthwise_1d_conv_with_padding_treats_padding_as_zero);
    tcase_add_test(tc, conv_on_int32_is_refused_by_name);
    tcase_add_test(tc, gemm_applies_transposes_alpha_beta_and_a_row_broadcast_c);
    tcase_add_test(tc, gemm_broadcasts_a_column_c_and_runs_without_c);
    tcase_add_test(tc, matmul_broadcasts_batch_axes_of_both_operands);
    tcase_add_test(tc, matmul_promotes_1d_operands_on_either_side);
    tcase_add_test(tc, maxpool_with_ceil_mode_clips_the_last_window_and_reports_indices);
    tcase_add_test(tc, maxpool_padding_never_wins_and_column_major_indices_swap_axes);
    tcase_add_test(tc, maxpool_on_uint8_keeps_the_dtype);
    tcase_add_test(tc, averagepool_divides_by_real_or_padded_count_as_asked);
    tcase_add_test(tc, averagepool_with_ceil_mode_divides_a_clipped_window_by_its_size);
    tcase_add_test(tc, global_pools_reduce_each_channel_plane);
    tcase_add_test(tc, uint8_add_wraps_around_and_broadcasts);
    tcase_add_test(tc, signed_integer_sub_and_mul_wrap_without_undefined_behaviour);
    tcase_add_test(tc, integer_div_truncates_toward_zero_and_gives_zero_for_division_by_zero);
    tcase_add_test(tc, float_div_by_zero_follows_ieee);
    tcase_add_test(tc, activations_match_their_formulas_and_never_overflow);
    tcase_add_test(tc, relu_passes_nan_through);
    tcase_add_test(tc, clip_takes_bounds_from_attributes_before_opset_11_and_inputs_after);
    tcase_add_test(tc, softmax_before_opset_13_flattens_from_axis_and_after_uses_one_axis);
    tcase_add_test(tc, softmax_and_logsoftmax_of_large_numbers_do_not_overflow);
    tcase_add_test(tc, batchnorm_normalises_each_channel_with_its_statistics);
    tcase_add_test(tc, reducemean_averages_the_listed_axes_with_or_without_kept_dims);
    tcase_add_test(tc, gather_counts_negative_indices_from_the_end_and_refuses_out_of_range);
    tcase_add_test(tc, pad_edge_repeats_and_reflect_mirrors_the_border);
    tcase_add_test(tc, pad_constant_takes_the_value_from_attribute_or_input_and_crops_with_negative_pads);
    tcase_add_test(tc, transpose_follows_perm_and_defaults_to_reversing_axes);
    tcase_add_test(tc, concat_joins_blocks_along_the_axis);
    tcase_add_test(tc, copy_ops_shape_dropout_and_constants_produce_their_values);
    tcase_add_test(tc, cast_of_nan_inf_and_huge_floats_to_int_truncates_and_saturates);
    tcase_add_test(tc, cast_between_integers_wraps_and_double_to_float_overflows_to_inf);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
