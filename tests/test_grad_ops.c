/* Backward kernels of every f32-ref op with a gradient, checked against
 * central finite differences through the f32-ref forward pass.
 *
 * Each case is a small graph: one op (sometimes with a ReduceMean or Add
 * feeding a second operand, so that operands other than X also get
 * gradients from X) on a float input X of a few dozen elements, then a
 * head Reshape [N, -1] -> Gemm (random weights) giving [N, C] logits.
 * fc_engine_grad gives d(sum of the N cross-entropies)/dX; the finite
 * difference of element i is
 *     (L(x + h e_i) - L(x - h e_i)) / ((float)(x_i + h) - (float)(x_i - h))
 * with L the same summed loss from fc_engine_run + fc_loss_eval.
 *
 * Precision: the issue asks for finite differences "in double precision".
 * The forward pass is f32-ref's, which sums in double but stores every
 * node output as float, so X and each intermediate are perturbed and
 * rounded in float; only the loss is summed in double (fc_loss_eval), and
 * the step is the exact float difference above.  The noise this leaves is
 * the float rounding of the logits: about 1e-7 |z| / (2h), measured at
 * 2e-6..3e-5 absolute with h = 1e-2 (it doubles at h = 5e-3 and grows to
 * 2e-4 at h = 2e-3, while the truncation error ~h^2/6 f''' stays below it
 * up to h = 2e-2), so h = 1e-2 is as tight as a float forward allows.  A
 * double-precision forward would need a second engine, which the project
 * does not have.  X is a shuffled grid (j + 1/2) * 0.05, so no value sits
 * within 0.025 of a kink (0 for Relu, +-0.5 for Clip) and no two MaxPool
 * candidates are closer than 0.05 > 2h: a step never crosses a kink.
 *
 * Pass: |analytic - fd| <= 1e-4 or <= 1e-3 |fd| for every element.
 * Each case also runs on engine f32: FC_ERR_UNSUPPORTED there is accepted
 * (and the op named), otherwise f32's gradient must match f32-ref's within
 * 1e-4 of the gradient's largest element. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engines/fc_engine.h"
#include "engines/fc_kernel.h"
#include "plan_builder.h"

#define NCLASS 3
#define GRID_STEP 0.05
#define FD_STEP 1e-2f

/* ---- deterministic random numbers -------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static double urand(void)   /* [0, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* ---- graph building helpers --------------------------------------------- */

static void wrand(const char *name, const char *shape, double scale)
{
    fc_tensor *t = init(name, FC_DT_F32, shape);
    for (size_t i = 0; i < t->numel; i++)
        ((float *)t->data)[i] = (float)((2.0 * urand() - 1.0) * scale);
}

static void fconst(const char *name, const char *shape, const float *v)
{
    fc_tensor *t = init(name, FC_DT_F32, shape);
    memcpy(t->data, v, t->numel * sizeof *v);
}

#define FCONST(name, shape, ...) fconst(name, shape, (const float[]){__VA_ARGS__})
#define ICONST(name, shape, ...) init_i64(name, shape, (const int64_t[]){__VA_ARGS__})

/* ---- the check ------------------------------------------------------------ */

static int64_t batch_of_input(void)
{
    return g->values[g->inputs[0]].dims[0];
}

/* Appends Reshape(y, [N, -1]) -> Gemm(., W, b) -> "z", the graph output. */
static void add_head(const char *y)
{
    plan_ok(1);
    const fc_vinfo *vi = info(y);
    size_t numel = 1;
    for (int d = 0; d < vi->rank; d++)
        numel *= (size_t)vi->dims[d];
    int64_t n = batch_of_input();
    ck_assert_msg(numel % (size_t)n == 0, "%s: %zu elements for batch %lld", y, numel,
                  (long long)n);
    char ins[96], shape[64];
    init_i64("head_shape", "2", (const int64_t[]){n, -1});
    snprintf(ins, sizeof ins, "%s,head_shape", y);
    node("Reshape", ins, "head_in");
    snprintf(shape, sizeof shape, "%zu,%d", numel / (size_t)n, NCLASS);
    wrand("head_w", shape, 0.6);
    wrand("head_b", "3", 0.3);
    node("Gemm", "head_in,head_w,head_b", "z");
    output("z");
}

/* The input as a shuffled grid (j + 1/2) * GRID_STEP centred on 0. */
static void fill_grid(fc_tensor *x)
{
    float *v = x->data;
    for (size_t i = 0; i < x->numel; i++)
        v[i] = (float)(((double)i - (double)x->numel / 2.0 + 0.5) * GRID_STEP);
    for (size_t i = x->numel; i > 1; i--) {
        size_t j = (size_t)(urand() * (double)i);
        float t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static double summed_loss(fc_engine *e, const fc_tensor *x, const fc_loss *loss)
{
    fc_tensor z;
    fc_err er;
    ck_assert_msg(fc_engine_run(e, x, 1, &z, 1, &er) == FC_OK, "%s", er.msg);
    double sum = 0.0;
    for (int64_t i = 0; i < z.dims[0]; i++)
        sum += fc_loss_eval(loss, loss->labels[i], (const float *)z.data + i * z.dims[1],
                            z.dims[1], NULL);
    fc_tensor_release(&z);
    return sum;
}

/* "op 'Foo' has no gradient" -> "Foo" into buf. */
static const char *missing_op(const char *msg, char *buf, size_t size)
{
    const char *s = strstr(msg, "op '");
    snprintf(buf, size, "?");
    if (s) {
        s += 4;
        size_t len = strcspn(s, "'");
        snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), s);
    }
    return buf;
}

/* Compares f32's gradient with the oracle's, or names what f32 lacks. */
static void check_f32(const char *label, const fc_tensor *x, const fc_loss *loss,
                      const fc_tensor *want)
{
    fc_engine *e = NULL;
    fc_err er;
    if (fc_engine_create(g, "f32", &e, &er) != FC_OK) {
        printf("  %-30s f32: cannot run forward: %s\n", label, er.msg);
        return;
    }
    fc_tensor got;
    fc_status st = fc_engine_grad(e, x, loss, &got, NULL, NULL, &er);
    if (st == FC_ERR_UNSUPPORTED) {
        char op[64];
        printf("  %-30s f32 lacks backward: %s\n", label, missing_op(er.msg, op, sizeof op));
        fc_engine_free(e);
        return;
    }
    ck_assert_msg(st == FC_OK, "%s: f32 grad: %s", label, er.msg);
    double scale = 0.0, worst = 0.0;
    for (size_t i = 0; i < want->numel; i++)
        scale = fmax(scale, fabs(((const float *)want->data)[i]));
    for (size_t i = 0; i < want->numel; i++) {
        double d = fabs((double)((const float *)got.data)[i] - ((const float *)want->data)[i]);
        worst = d > worst || isnan(d) ? d : worst;
    }
    printf("  %-30s f32 vs f32-ref: max diff %.2e of scale %.2e\n", label, worst, scale);
    ck_assert_msg(worst <= 1e-4 * scale, "%s: f32 differs from f32-ref by %g (scale %g)", label,
                  worst, scale);
    fc_tensor_release(&got);
    fc_engine_free(e);
}

/* Adds the head after value y, then checks d loss / d X by finite
 * differences on f32-ref, then f32 against f32-ref. */
static void check_case(const char *label, const char *y)
{
    add_head(y);
    fc_engine *e = NULL;
    fc_err er;
    ck_assert_msg(fc_engine_create(g, "f32-ref", &e, &er) == FC_OK, "%s", er.msg);
    const fc_value *xv = &g->values[g->inputs[0]];
    fc_tensor x;
    ck_assert_int_eq(fc_tensor_alloc(&x, FC_DT_F32, xv->rank, xv->dims, &er), FC_OK);
    fill_grid(&x);
    int64_t n = x.dims[0], labels[64];
    ck_assert_int_le(n, 64);
    for (int64_t i = 0; i < n; i++)
        labels[i] = (int64_t)(urand() * NCLASS);
    fc_loss loss = {FC_LOSS_CE, labels};

    fc_tensor grad, logits;
    double loss_sum;
    ck_assert_msg(fc_engine_grad(e, &x, &loss, &grad, &logits, &loss_sum, &er) == FC_OK, "%s: %s",
                  label, er.msg);
    ck_assert(fc_tensor_same_shape(&grad, &x));
    ck_assert_int_eq(logits.dims[0], n);
    ck_assert_double_eq_tol(loss_sum, summed_loss(e, &x, &loss), 1e-9);

    float *xs = x.data;
    const float *gs = grad.data;
    double max_abs = 0.0, max_rel = 0.0, gmax = 0.0;
    for (size_t i = 0; i < x.numel; i++) {
        float x0 = xs[i];
        xs[i] = x0 + FD_STEP;
        double step = xs[i];
        double lp = summed_loss(e, &x, &loss);
        xs[i] = x0 - FD_STEP;
        step -= xs[i];
        double lm = summed_loss(e, &x, &loss);
        xs[i] = x0;
        double fd = (lp - lm) / step, d = fabs(gs[i] - fd);
        ck_assert_msg(d <= 1e-4 || d <= 1e-3 * fabs(fd),
                      "%s: element %zu (x = %g): analytic %.8g, finite difference %.8g", label, i,
                      (double)x0, (double)gs[i], fd);
        max_abs = fmax(max_abs, d);
        if (fabs(fd) >= 1e-2)
            max_rel = fmax(max_rel, d / fabs(fd));
        gmax = fmax(gmax, fabs(fd));
    }
    ck_assert_msg(gmax > 1e-3, "%s: the gradient is all zero, the case tests nothing", label);
    printf("  %-30s %3zu elements: FD max abs err %.2e, max rel err %.2e (|g| <= %.2f)\n", label,
           x.numel, max_abs, max_rel, gmax);
    check_f32(label, &x, &loss, &grad);
    fc_tensor_release(&grad);
    fc_tensor_release(&logits);
    fc_tensor_release(&x);
    fc_engine_free(e);
}

/* ---- the cases ------------------------------------------------------------ */

/* Each builder declares X, adds the op(s) and leaves the result in "y". */

static void conv_pad_stride(void)
{
    input("x", FC_DT_F32, "2,2,5,5");
    wrand("w", "3,2,3,3", 0.5);
    wrand("b", "3", 0.5);
    fc_node *n = node("Conv", "x,w,b", "y");
    attr_is(n, "pads", "1,1,1,1");
    attr_is(n, "strides", "2,2");
}

static void conv_group_dilation_asym_pads(void)
{
    input("x", FC_DT_F32, "1,4,5,5");
    wrand("w", "4,2,2,2", 0.5);
    fc_node *n = node("Conv", "x,w", "y");
    attr_i(n, "group", 2);
    attr_is(n, "dilations", "2,2");
    attr_is(n, "pads", "1,0,0,1");
}

static void conv_1d_depthwise(void)
{
    input("x", FC_DT_F32, "2,3,7");
    wrand("w", "3,1,3", 0.5);
    fc_node *n = node("Conv", "x,w", "y");
    attr_i(n, "group", 3);
    attr_is(n, "pads", "1,1");
}

static void conv_weights_from_x(void)   /* X is image and filter: dW reaches X */
{
    input("x", FC_DT_F32, "1,2,3,3");
    attr_is(node("Conv", "x,x", "y"), "pads", "1,1,1,1");
}

static void conv_bias_from_x(void)
{
    input("x", FC_DT_F32, "2,2,3,3");
    fc_node *r = node("ReduceMean", "x", "r");
    attr_is(r, "axes", "1,2,3");
    attr_i(r, "keepdims", 0);
    wrand("w", "2,2,2,2", 0.5);
    node("Conv", "x,w,r", "y");
}

static void gemm_transb_alpha_beta(void)
{
    input("x", FC_DT_F32, "2,6");
    wrand("w", "4,6", 0.5);
    wrand("c", "4", 0.5);
    fc_node *n = node("Gemm", "x,w,c", "y");
    attr_i(n, "transB", 1);
    attr_f(n, "alpha", 0.7f);
    attr_f(n, "beta", 1.3f);
}

static void gemm_x_as_b_transa(void)
{
    input("x", FC_DT_F32, "4,6");
    wrand("a", "4,4", 0.5);
    attr_i(node("Gemm", "a,x", "y"), "transA", 1);
}

static void gemm_x_times_x_transposed(void)
{
    input("x", FC_DT_F32, "3,5");
    fc_node *n = node("Gemm", "x,x", "y");
    attr_i(n, "transB", 1);
    attr_f(n, "alpha", 0.5f);
}

static void gemm_c_from_x(const char *c_shape, float beta)
{
    input("x", FC_DT_F32, c_shape);
    wrand("a", "2,3", 0.5);
    wrand("b", "3,4", 0.5);
    attr_f(node("Gemm", "a,b,x", "y"), "beta", beta);
}

static void gemm_c_column_from_x(void) { gemm_c_from_x("2,1", 0.8f); }
static void gemm_c_row_from_x(void) { gemm_c_from_x("4", 1.0f); }

static void matmul(const char *x_shape, const char *w_shape, bool x_first)
{
    input("x", FC_DT_F32, x_shape);
    wrand("w", w_shape, 0.5);
    node("MatMul", x_first ? "x,w" : "w,x", "y");
}

static void matmul_batched(void) { matmul("2,3,4", "4,5", true); }
/* Batch [2,1] against [3]: X is repeated along the first axis. */
static void matmul_x_broadcast_as_b(void) { matmul("3,4,2", "2,1,3,4", false); }
static void matmul_1d_x(void) { matmul("6", "6,6", true); }

static void unary(const char *op)
{
    input("x", FC_DT_F32, "2,3,4");
    node(op, "x", "y");
}

static void relu(void) { unary("Relu"); }
static void sigmoid(void) { unary("Sigmoid"); }
static void tanh_(void) { unary("Tanh"); }
static void leakyrelu(void)
{
    unary("LeakyRelu");
    attr_f(&g->nodes[0], "alpha", 0.2f);
}

static void clip_inputs(void)
{
    input("x", FC_DT_F32, "2,3,4");
    FCONST("lo", "", -0.5f);
    FCONST("hi", "", 0.5f);
    node("Clip", "x,lo,hi", "y");
}

static void clip_opset6_attrs(void)
{
    unary("Clip");
    g->nodes[0].opset = 6;
    attr_f(&g->nodes[0], "min", -0.5f);
    attr_f(&g->nodes[0], "max", 0.5f);
}

static void clip_bounds_from_x(void)   /* r = mean(x) = 0 (symmetric grid) */
{
    input("x", FC_DT_F32, "2,3,4");
    attr_i(node("ReduceMean", "x", "r"), "keepdims", 0);
    FCONST("half", "", 0.5f);
    node("Sub", "r,half", "lo");
    node("Add", "r,half", "hi");
    node("Clip", "x,lo,hi", "y");
}

/* a = mean over axis 1 [2,1,4], b = mean over axes 0, 2 [1,3,1]: both are
 * broadcast in a op b; (a op b) * x makes the loss depend on it
 * nonlinearly, and b + 3 keeps a divisor away from 0. */
static void binary_both_broadcast(const char *op)
{
    input("x", FC_DT_F32, "2,3,4");
    attr_is(node("ReduceMean", "x", "a"), "axes", "1");
    attr_is(node("ReduceMean", "x", "b"), "axes", "0,2");
    FCONST("three", "", 3.0f);
    node("Add", "b,three", "b3");
    node(op, strcmp(op, "Div") == 0 ? "a,b3" : "a,b", "y0");
    node("Mul", "y0,x", "y");
}

static void add_bcast(void) { binary_both_broadcast("Add"); }
static void sub_bcast(void) { binary_both_broadcast("Sub"); }
static void mul_bcast(void) { binary_both_broadcast("Mul"); }
static void div_bcast(void) { binary_both_broadcast("Div"); }

static void add_x_to_itself(void)
{
    input("x", FC_DT_F32, "2,3,4");
    node("Add", "x,x", "y");
}

static void div_x_by_const_row(void)
{
    input("x", FC_DT_F32, "2,3,4");
    FCONST("c", "4", 0.5f, -0.8f, 1.5f, 2.0f);
    node("Div", "x,c", "y");
}

static fc_node *pool(const char *op, const char *x_shape, const char *kernel)
{
    input("x", FC_DT_F32, x_shape);
    fc_node *n = node(op, "x", strcmp(op, "MaxPool") == 0 ? "y,idx" : "y");
    if (kernel)
        attr_is(n, "kernel_shape", kernel);
    return n;
}

static void maxpool_pads_ceil(void)
{
    fc_node *n = pool("MaxPool", "2,2,5,5", "3,3");
    attr_is(n, "strides", "2,2");
    attr_is(n, "pads", "1,1,0,0");
    attr_i(n, "ceil_mode", 1);
}

static void maxpool_dilated_overlapping(void)
{
    attr_is(pool("MaxPool", "1,2,6,6", "2,2"), "dilations", "2,2");
}

static void maxpool_1d_with_indices(void)
{
    fc_node *n = pool("MaxPool", "2,3,8", "3");
    attr_is(n, "strides", "2");
    attr_i(n, "ceil_mode", 1);
}

/* ceil_mode lets the last window run past the padded end. */
static void avgpool(int include_pad)
{
    fc_node *n = pool("AveragePool", "2,2,5,5", "3,3");
    attr_is(n, "strides", "2,2");
    attr_is(n, "pads", "1,1,1,0");
    attr_i(n, "ceil_mode", 1);
    attr_i(n, "count_include_pad", include_pad);
}

static void avgpool_exclude_pad(void) { avgpool(0); }
static void avgpool_include_pad(void) { avgpool(1); }
static void global_avgpool(void) { pool("GlobalAveragePool", "2,3,2,3", NULL); }
static void global_maxpool(void) { pool("GlobalMaxPool", "2,3,2,3", NULL); }

static void batchnorm(void)
{
    input("x", FC_DT_F32, "2,3,2,2");
    wrand("s", "3", 1.0);
    wrand("b", "3", 0.5);
    wrand("m", "3", 0.5);
    FCONST("v", "3", 0.7f, 1.3f, 0.2f);
    attr_f(node("BatchNormalization", "x,s,b,m,v", "y"), "epsilon", 1e-3f);
}

static void batchnorm_params_from_x(void)   /* all four parameter gradients flow */
{
    input("x", FC_DT_F32, "2,3,2,2");
    fc_node *r = node("ReduceMean", "x", "r");
    attr_is(r, "axes", "0,2,3");
    attr_i(r, "keepdims", 0);
    node("Sigmoid", "r", "v");
    FCONST("one", "", 1.0f);
    node("Add", "r,one", "s");
    node("BatchNormalization", "x,s,r,r,v", "y");
}

static void softmax_like(const char *op, int64_t opset, int64_t axis)
{
    unary(op);
    g->nodes[0].opset = opset;
    attr_i(&g->nodes[0], "axis", axis);
}

static void softmax_opset11_coerced(void) { softmax_like("Softmax", 11, 1); }
static void softmax_opset13_axis1(void) { softmax_like("Softmax", 13, 1); }
static void logsoftmax_opset11_coerced(void) { softmax_like("LogSoftmax", 11, 1); }
static void logsoftmax_opset13_last(void) { softmax_like("LogSoftmax", 13, -1); }

static void reducemean_axis_dropped(void)
{
    unary("ReduceMean");
    attr_is(&g->nodes[0], "axes", "-2");
    attr_i(&g->nodes[0], "keepdims", 0);
}

static void reducemean_spatial_kept(void)
{
    input("x", FC_DT_F32, "2,3,2,4");
    attr_is(node("ReduceMean", "x", "y"), "axes", "2,3");
}

static void reducemean_all(void)
{
    input("x", FC_DT_F32, "1,4,6");
    node("ReduceMean", "x", "r");
    node("Mul", "x,r", "y");
}

static void copies_chain(void)   /* Squeeze .. Cast, then Dropout with a mask */
{
    input("x", FC_DT_F32, "2,3,1,4");
    ICONST("ax2", "1", 2);
    ICONST("ax1", "1", 1);
    node("Squeeze", "x,ax2", "a");
    node("Unsqueeze", "a,ax1", "b");
    node("Identity", "b", "c");
    attr_i(node("Flatten", "c", "d"), "axis", 2);
    attr_i(node("Cast", "d", "e"), "to", FC_DT_F32);
    node("Dropout", "e", "y,mask");
}

static void transpose(void)
{
    unary("Transpose");
    attr_is(&g->nodes[0], "perm", "2,0,1");
}

static void concat_x_twice(void)
{
    input("x", FC_DT_F32, "2,2,3");
    wrand("c", "2,1,3", 0.5);
    attr_i(node("Concat", "x,c,x", "y"), "axis", 1);
}

static void pad_mode(const char *mode)   /* the last axis is cropped */
{
    input("x", FC_DT_F32, "2,3,4");
    ICONST("pads", "6", 0, 2, 1, 0, 1, -1);
    attr_s(node("Pad", "x,pads", "y"), "mode", mode);
}

static void pad_reflect(void) { pad_mode("reflect"); }
static void pad_edge(void) { pad_mode("edge"); }

static void pad_constant_from_x(void)
{
    input("x", FC_DT_F32, "2,3,4");
    ICONST("pads", "6", 0, 1, 2, 0, 2, 1);
    attr_i(node("ReduceMean", "x", "r"), "keepdims", 0);
    node("Pad", "x,pads,r", "y");
}

static void pad_opset2_attrs(void)
{
    unary("Pad");
    g->nodes[0].opset = 2;
    attr_is(&g->nodes[0], "pads", "0,1,1,0,0,2");
    attr_f(&g->nodes[0], "value", 0.7f);
}

static void gather_axis1_repeats(void)
{
    input("x", FC_DT_F32, "2,4,3");
    ICONST("idx", "4", 1, -1, 1, 0);
    attr_i(node("Gather", "x,idx", "y"), "axis", 1);
}

static void gather_axis0(void)   /* [2,2,5] has no batch of 3: mean into X's rows */
{
    input("x", FC_DT_F32, "3,5");
    ICONST("idx", "2,2", 2, 0, 2, 1);
    node("Gather", "x,idx", "g0");
    attr_is(node("ReduceMean", "g0", "m"), "axes", "0,1");
    node("Mul", "x,m", "y");
}

static const struct {
    const char *name;
    void (*build)(void);
} cases[] = {
    {"Conv pads strides", conv_pad_stride},
    {"Conv group dilation pads", conv_group_dilation_asym_pads},
    {"Conv 1-D depthwise", conv_1d_depthwise}, {"Conv dW (X as filter)", conv_weights_from_x},
    {"Conv dB (bias from X)", conv_bias_from_x}, {"Gemm transB alpha beta", gemm_transb_alpha_beta},
    {"Gemm transA, X as B", gemm_x_as_b_transa}, {"Gemm X X^T", gemm_x_times_x_transposed},
    {"Gemm C [M,1] from X", gemm_c_column_from_x}, {"Gemm C [N] from X", gemm_c_row_from_x},
    {"MatMul batched", matmul_batched}, {"MatMul X broadcast as B", matmul_x_broadcast_as_b},
    {"MatMul 1-D X", matmul_1d_x}, {"Relu", relu}, {"LeakyRelu", leakyrelu},
    {"Clip inputs", clip_inputs}, {"Clip opset 6", clip_opset6_attrs},
    {"Clip bounds from X", clip_bounds_from_x}, {"Sigmoid", sigmoid}, {"Tanh", tanh_},
    {"Add broadcast both", add_bcast}, {"Sub broadcast both", sub_bcast},
    {"Mul broadcast both", mul_bcast}, {"Div broadcast both", div_bcast},
    {"Add X X", add_x_to_itself}, {"Div by const row", div_x_by_const_row},
    {"MaxPool pads ceil", maxpool_pads_ceil}, {"MaxPool dilated", maxpool_dilated_overlapping},
    {"MaxPool 1-D Indices", maxpool_1d_with_indices}, {"AveragePool excl pad", avgpool_exclude_pad},
    {"AveragePool incl pad", avgpool_include_pad}, {"GlobalAveragePool", global_avgpool},
    {"GlobalMaxPool", global_maxpool}, {"BatchNormalization", batchnorm},
    {"BatchNorm params from X", batchnorm_params_from_x},
    {"Softmax opset 11", softmax_opset11_coerced},
    {"Softmax opset 13 axis 1", softmax_opset13_axis1},
    {"LogSoftmax opset 11", logsoftmax_opset11_coerced},
    {"LogSoftmax opset 13", logsoftmax_opset13_last},
    {"ReduceMean axis dropped", reducemean_axis_dropped},
    {"ReduceMean spatial kept", reducemean_spatial_kept}, {"ReduceMean all axes", reducemean_all},
    {"Squeeze..Dropout copies", copies_chain}, {"Transpose", transpose},
    {"Concat X c X", concat_x_twice}, {"Pad reflect", pad_reflect}, {"Pad edge", pad_edge},
    {"Pad constant from X", pad_constant_from_x}, {"Pad opset 2", pad_opset2_attrs},
    {"Gather axis 1 repeats", gather_axis1_repeats}, {"Gather axis 0", gather_axis0},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

START_TEST(backward_matches_finite_differences)
{
    rng = 0x9e3779b97f4a7c15u + (uint64_t)_i * 7919u;
    new_graph(13);
    cases[_i].build();
    check_case(cases[_i].name, "y");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("grad_ops");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, backward_matches_finite_differences, 0, N_CASES);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
