/* Backward of the element-wise kernels of the f32 engine: Add, Sub, Mul,
 * Div with numpy broadcasting; Relu, LeakyRelu, Clip, Sigmoid, Tanh.
 *
 * Broadcasting: an input broadcast along an axis received the same element
 * in many outputs, so its gradient is the sum over that axis.  The output is
 * walked as rows exactly like the forward pass walks it (size-1 axes
 * dropped, neighbours merged while both inputs stay contiguous across
 * them), and in each row the gradient target is either contiguous (added
 * elementwise) or one element (the row is summed, in double, and added
 * once).  Each input's gradient is a separate pass, so Add(x, x) or
 * Mul(x, x), whose two gradients are the same tensor, need no care.
 *
 * Activations take their mask from the output y, never from the input: a
 * Relu/Clip fused into its producer sees the clamped value as its input
 * too (fc_kernel.h).  Derivatives at kinks follow PyTorch: Relu passes
 * where y > 0, Clip where lo < y < hi, LeakyRelu uses the slope 1 where
 * x > 0 and alpha elsewhere. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "f32_grad.h"

/* ---- binary ops ---- */

typedef struct bcast_rows {
    int r;                                   /* merged outer axes + the inner one */
    int64_t d[FC_MAX_RANK];
    int64_t sa[FC_MAX_RANK], sb[FC_MAX_RANK];/* element strides, 0 where broadcast */
    size_t inner, rows;
} bcast_rows;

/* The forward's row decomposition of y = a op b. */
static fc_status bcast_plan(const fc_grad_ctx *k, const fc_tensor *a, const fc_tensor *b,
                            const fc_tensor *y, bcast_rows *br, fc_err *err)
{
    int64_t sa[FC_MAX_RANK], sb[FC_MAX_RANK];
    fc_f32_bcast_strides(a, y->rank, y->dims, sa);
    fc_f32_bcast_strides(b, y->rank, y->dims, sb);
    int r = 0;
    for (int i = 0; i < y->rank; i++) {
        if (y->dims[i] == 1)
            continue;
        if (r > 0 && br->sa[r - 1] == sa[i] * y->dims[i] && br->sb[r - 1] == sb[i] * y->dims[i]) {
            br->d[r - 1] *= y->dims[i];
            br->sa[r - 1] = sa[i];
            br->sb[r - 1] = sb[i];
            continue;
        }
        br->d[r] = y->dims[i];
        br->sa[r] = sa[i];
        br->sb[r] = sb[i];
        r++;
    }
    if (r == 0) {   /* every axis has size 1 */
        br->d[0] = 1;
        br->sa[0] = br->sb[0] = 1;
        r = 1;
    }
    if (br->sa[r - 1] > 1 || br->sb[r - 1] > 1)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: inner stride is not 0 or 1",
                          k->node->op_type);
    br->r = r;
    br->inner = (size_t)br->d[r - 1];
    br->rows = y->numel / br->inner;
    return FC_OK;
}

/* gt (target, contiguous when t_vec, else one element) += f(g, y, o) over a
 * row of n outputs; o is the operand the factor needs (contiguous when
 * o_vec, else one element).  Ops: '+' g, '-' (neg: -g), '*' g*o,
 * '/' g/o (neg: -(g/o)*y, the denominator's gradient with o the
 * denominator itself). */
#define GRAD_ROW(EXPR)                                                    \
    do {                                                                  \
        if (t_vec && o_vec) {                                             \
            for (size_t i = 0; i < n; i++) {                              \
                const float ov = o[i];                                    \
                gt[i] += (EXPR);                                          \
            }                                                             \
        } else if (t_vec) {                                               \
            const float ov = o[0];                                        \
            for (size_t i = 0; i < n; i++)                                \
                gt[i] += (EXPR);                                          \
        } else {                                                          \
            double s = 0.0;                                               \
            for (size_t i = 0; i < n; i++) {                              \
                const float ov = o[o_vec ? i : 0];                        \
                s += (EXPR);                                              \
            }                                                             \
            gt[0] += (float)s;                                            \
        }                                                                 \
    } while (0)

/* The same for Add and Sub, whose factor reads no operand. */
#define GRAD_ROW_PLAIN(EXPR)                                              \
    do {                                                                  \
        if (t_vec) {                                                      \
            for (size_t i = 0; i < n; i++)                                \
                gt[i] += (EXPR);                                          \
        } else {                                                          \
            double s = 0.0;                                               \
            for (size_t i = 0; i < n; i++)                                \
                s += (EXPR);                                              \
            gt[0] += (float)s;                                            \
        }                                                                 \
    } while (0)

static void grad_row(char op, bool neg, float *gt, bool t_vec, const float *g, const float *y,
                     const float *o, bool o_vec, size_t n)
{
    switch (op) {
    case '+': case '-':
        if (neg)
            GRAD_ROW_PLAIN(-g[i]);
        else
            GRAD_ROW_PLAIN(g[i]);
        break;
    case '*':
        GRAD_ROW(g[i] * ov);
        break;
    default:
        if (neg)
            GRAD_ROW(-(g[i] / ov) * y[i]);
        else
            GRAD_ROW(g[i] / ov);
        break;
    }
}

/* Adds input `which`'s gradient; `other` is the operand the factor reads
 * (see grad_row), `other_is_b` says which stride set it follows. */
static void binary_input(const bcast_rows *br, char op, int which, float *gt, const float *g,
                         const float *y, const float *other, bool other_is_b)
{
    const int64_t *st = which == 0 ? br->sa : br->sb;
    const int64_t *so = other_is_b ? br->sb : br->sa;
    const int r = br->r;
    const bool t_vec = st[r - 1] != 0, o_vec = so[r - 1] != 0;
    const bool neg = which == 1 && (op == '-' || op == '/');
    int64_t idx[FC_MAX_RANK] = {0};
    for (size_t row = 0; row < br->rows; row++) {
        size_t ot = 0, oo = 0;
        for (int i = 0; i < r - 1; i++) {
            ot += (size_t)(idx[i] * st[i]);
            oo += (size_t)(idx[i] * so[i]);
        }
        const size_t off = row * br->inner;
        grad_row(op, neg, gt + ot, t_vec, g + off, y + off, other + oo, o_vec, br->inner);
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < br->d[i])
                break;
            idx[i] = 0;
        }
    }
}

static fc_status binary_grad(const fc_grad_ctx *k, char op, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    if (st || !gy)
        return st;
    fc_tensor *ga = fc_f32g_gin(k, 0), *gb = fc_f32g_gin(k, 1);
    if (!ga && !gb)
        return FC_OK;
    if ((st = fc_f32g_check_gin(k, 0, err)) || (st = fc_f32g_check_gin(k, 1, err)))
        return st;
    const fc_tensor *a = fc_f32g_in(k, 0), *b = fc_f32g_in(k, 1), *y = k->out[0];
    if (!a || !b || a->dtype != FC_DT_F32 || b->dtype != FC_DT_F32)
        return fc_f32g_unsupported(k, "non-float32 operands", err);
    if (y->numel == 0)
        return FC_OK;
    bcast_rows br;
    if ((st = bcast_plan(k, a, b, y, &br, err)))
        return st;
    const float *g = gy->data, *yd = y->data, *ad = a->data, *bd = b->data;
    /* Factor operand of each gradient: Mul's is the other input; Div's is
     * the denominator for both; Add/Sub read none (any valid pointer). */
    if (ga)
        binary_input(&br, op, 0, ga->data, g, yd, op == '*' || op == '/' ? bd : ad,
                     op == '*' || op == '/');
    if (gb)
        binary_input(&br, op, 1, gb->data, g, yd, op == '*' ? ad : bd, op != '*');
    return FC_OK;
}

fc_status fc_f32_add_grad(const fc_grad_ctx *k, fc_err *err) { return binary_grad(k, '+', err); }
fc_status fc_f32_sub_grad(const fc_grad_ctx *k, fc_err *err) { return binary_grad(k, '-', err); }
fc_status fc_f32_mul_grad(const fc_grad_ctx *k, fc_err *err) { return binary_grad(k, '*', err); }
fc_status fc_f32_div_grad(const fc_grad_ctx *k, fc_err *err) { return binary_grad(k, '/', err); }

/* ---- activations ---- */

/* Common start: gy, gx and the tensors, all float32 of one size. */
static fc_status unary_start(const fc_grad_ctx *k, const fc_tensor **gy, fc_tensor **gx,
                             fc_err *err)
{
    fc_status st = fc_f32g_start(k, gy, err);
    *gx = fc_f32g_gin(k, 0);
    if (st || !*gy || !*gx)
        return st;
    if ((st = fc_f32g_check_gin(k, 0, err)))
        return st;
    if ((*gx)->numel != (*gy)->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: gradient sizes differ", k->node->op_type);
    return FC_OK;
}

/* The activations' passes, range by range (fc_f32g_parallel_range). */
typedef struct act_job {
    const float *g, *y, *x;
    float *d;
    float lo, hi, alpha;
} act_job;

static void relu_range(void *ctx, size_t i0, size_t i1)
{
    const act_job *J = ctx;
    const float *g = J->g, *y = J->y;
    float *d = J->d;
    /* Both loads unconditional, so the select vectorises. */
    for (size_t i = i0; i < i1; i++) {
        const float gv = g[i], yv = y[i];
        d[i] += yv > 0.0f ? gv : 0.0f;
    }
}

static void leaky_range(void *ctx, size_t i0, size_t i1)
{
    const act_job *J = ctx;
    const float *g = J->g, *x = J->x, alpha = J->alpha;
    float *d = J->d;
    for (size_t i = i0; i < i1; i++) {
        const float gv = g[i], xv = x[i];
        d[i] += xv > 0.0f ? gv : alpha * gv;
    }
}

static void clip_range(void *ctx, size_t i0, size_t i1)
{
    const act_job *J = ctx;
    const float *g = J->g, *y = J->y, lo = J->lo, hi = J->hi;
    float *d = J->d;
    for (size_t i = i0; i < i1; i++) {
        const float gv = g[i], yv = y[i];
        d[i] += lo < yv && yv < hi ? gv : 0.0f;
    }
}

static void sigmoid_range(void *ctx, size_t i0, size_t i1)
{
    const act_job *J = ctx;
    const float *g = J->g, *y = J->y;
    float *d = J->d;
    for (size_t i = i0; i < i1; i++)
        d[i] += g[i] * (y[i] * (1.0f - y[i]));
}

static void tanh_range(void *ctx, size_t i0, size_t i1)
{
    const act_job *J = ctx;
    const float *g = J->g, *y = J->y;
    float *d = J->d;
    for (size_t i = i0; i < i1; i++)
        d[i] += g[i] * (1.0f - y[i] * y[i]);
}

/* Runs one activation's pass: gx += f(gy, y, x). */
static fc_status act_grad(const fc_grad_ctx *k, fc_f32g_range_fn fn, act_job *J, fc_err *err)
{
    const fc_tensor *gy;
    fc_tensor *gx;
    fc_status st = unary_start(k, &gy, &gx, err);
    if (st || !gy || !gx)
        return st;
    J->g = gy->data;
    J->y = k->out[0]->data;
    J->x = k->in[0]->data;
    J->d = gx->data;
    fc_f32g_parallel_range(gy->numel, FC_F32G_PASS_CHUNK, FC_F32G_PASS_COST, fn, J);
    return FC_OK;
}

fc_status fc_f32_relu_grad(const fc_grad_ctx *k, fc_err *err)
{
    act_job J = {0};
    return act_grad(k, relu_range, &J, err);
}

fc_status fc_f32_leakyrelu_grad(const fc_grad_ctx *k, fc_err *err)
{
    act_job J = {0};
    fc_status st = fc_attr_get_float(k->node, "alpha", 0.01f, &J.alpha, err);
    return st ? st : act_grad(k, leaky_range, &J, err);
}

/* Clip bounds exactly as the forward reads them. */
static fc_status clip_bounds(const fc_grad_ctx *k, float *lo, float *hi, fc_err *err)
{
    *lo = -__builtin_inff();
    *hi = __builtin_inff();
    if (k->node->opset < 11) {
        fc_status st = fc_attr_get_float(k->node, "min", -FLT_MAX, lo, err);
        return st ? st : fc_attr_get_float(k->node, "max", FLT_MAX, hi, err);
    }
    const fc_tensor *tmin = fc_f32g_in(k, 1), *tmax = fc_f32g_in(k, 2);
    if ((tmin && (tmin->dtype != FC_DT_F32 || tmin->numel != 1)) ||
        (tmax && (tmax->dtype != FC_DT_F32 || tmax->numel != 1)))
        return fc_err_set(err, FC_ERR_INTERNAL, "Clip: bounds are not float scalars");
    if (tmin)
        *lo = ((const float *)tmin->data)[0];
    if (tmax)
        *hi = ((const float *)tmax->data)[0];
    return FC_OK;
}

/* Clip: x's gradient where lo < y < hi.  A bound that depends on the
 * model's input (opset >= 11) gets the gradient of the elements it set:
 * max where max(x, lo) > hi, else min where x < lo (forward clamps to min
 * first, then to max).  Bound inputs are never fused, so in[0] is then the
 * unclamped input. */
fc_status fc_f32_clip_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    if (st || !gy)
        return st;
    fc_tensor *gx = fc_f32g_gin(k, 0), *glo = fc_f32g_gin(k, 1), *ghi = fc_f32g_gin(k, 2);
    if (k->node->opset < 11)
        glo = ghi = NULL;
    if ((st = fc_f32g_check_gin(k, 0, err)) || (glo && (st = fc_f32g_check_gin(k, 1, err))) ||
        (ghi && (st = fc_f32g_check_gin(k, 2, err))))
        return st;
    float lo, hi;
    if ((st = clip_bounds(k, &lo, &hi, err)))
        return st;
    const float *g = gy->data;
    if (gx) {
        if (gx->numel != gy->numel)
            return fc_err_set(err, FC_ERR_INTERNAL, "Clip: gradient sizes differ");
        act_job J = {.g = g, .y = k->out[0]->data, .d = gx->data, .lo = lo, .hi = hi};
        fc_f32g_parallel_range(gy->numel, FC_F32G_PASS_CHUNK, FC_F32G_PASS_COST, clip_range, &J);
    }
    if (glo || ghi) {
        const float *x = k->in[0]->data;
        double s_lo = 0.0, s_hi = 0.0;
        for (size_t i = 0; i < gy->numel; i++) {
            const float v = x[i] < lo ? lo : x[i];
            if (v > hi)
                s_hi += g[i];
            else if (x[i] < lo)
                s_lo += g[i];
        }
        if (glo)
            ((float *)glo->data)[0] += (float)s_lo;
        if (ghi)
            ((float *)ghi->data)[0] += (float)s_hi;
    }
    return FC_OK;
}

fc_status fc_f32_sigmoid_grad(const fc_grad_ctx *k, fc_err *err)
{
    act_job J = {0};
    return act_grad(k, sigmoid_range, &J, err);
}

fc_status fc_f32_tanh_grad(const fc_grad_ctx *k, fc_err *err)
{
    act_job J = {0};
    return act_grad(k, tanh_range, &J, err);
}
