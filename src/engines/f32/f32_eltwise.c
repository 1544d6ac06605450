/* Element-wise kernels of the f32 engine: Add, Sub, Mul, Div with numpy
 * broadcasting, and Relu, LeakyRelu, Clip, Sigmoid, Tanh.
 *
 * Broadcasting: the output shape is walked as (outer axes) x (one inner
 * row).  Each input's broadcast strides are computed, size-1 output axes
 * dropped and adjacent axes merged where both inputs are contiguous across
 * them, so [N,C,H,W] + [1,C,1,1] becomes [N*C] rows of H*W with the second
 * operand a scalar per row.  The inner row is one of four vectorisable loops
 * (both contiguous, a contiguous + b scalar, a scalar + b contiguous, both
 * scalar).
 *
 * Integer rules (U8, I8, I32, I64): Add/Sub/Mul wrap around (two's
 * complement), computed in the unsigned type of the same width so nothing
 * overflows in C; Div truncates toward zero, x / 0 = 0 and MIN / -1 = MIN
 * (the wrapped quotient) - no undefined behaviour for any input. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "f32_internal.h"

typedef void (*row_fn)(void *o, const void *a, const void *b, size_t n, int mode);

/* mode: 0 = a, b contiguous; 1 = b scalar; 2 = a scalar; 3 = both scalar. */
#define ROW(name, TI, TO, EXPR)                                                       \
    static void name(void *o_, const void *a_, const void *b_, size_t n, int mode)   \
    {                                                                                 \
        TO *o = o_;                                                                   \
        const TI *a = a_, *b = b_;                                                    \
        if (mode == 0) {                                                              \
            for (size_t i = 0; i < n; i++) {                                          \
                const TI x = a[i], y = b[i];                                          \
                o[i] = (TO)(EXPR);                                                    \
            }                                                                         \
        } else if (mode == 1) {                                                       \
            const TI y = b[0];                                                        \
            for (size_t i = 0; i < n; i++) {                                          \
                const TI x = a[i];                                                    \
                o[i] = (TO)(EXPR);                                                    \
            }                                                                         \
        } else if (mode == 2) {                                                       \
            const TI x = a[0];                                                        \
            for (size_t i = 0; i < n; i++) {                                          \
                const TI y = b[i];                                                    \
                o[i] = (TO)(EXPR);                                                    \
            }                                                                         \
        } else {                                                                      \
            const TI x = a[0], y = b[0];                                              \
            const TO v = (TO)(EXPR);                                                  \
            for (size_t i = 0; i < n; i++)                                            \
                o[i] = v;                                                             \
        }                                                                             \
    }

static inline int64_t sdiv64(int64_t x, int64_t y)
{
    return y == 0 ? 0 : x / y;   /* callers never pass INT64_MIN / -1 */
}

/* I64 quotient as the unsigned bit pattern: MIN / -1 wraps to MIN. */
static inline uint64_t div_i64(int64_t x, int64_t y)
{
    if (y == 0)
        return 0;
    if (y == -1)
        return 0 - (uint64_t)x;
    return (uint64_t)(x / y);
}

ROW(add_f32, float, float, x + y)
ROW(sub_f32, float, float, x - y)
ROW(mul_f32, float, float, x * y)
ROW(div_f32, float, float, x / y)
ROW(add_f64, double, double, x + y)
ROW(sub_f64, double, double, x - y)
ROW(mul_f64, double, double, x * y)
ROW(div_f64, double, double, x / y)
ROW(add_u8, uint8_t, uint8_t, x + y)
ROW(sub_u8, uint8_t, uint8_t, x - y)
ROW(mul_u8, uint8_t, uint8_t, x * y)
ROW(div_u8, uint8_t, uint8_t, y ? x / y : 0)
ROW(div_i8, int8_t, uint8_t, (uint64_t)sdiv64(x, y))   /* -128 / -1 = 128 -> wraps to -128 */
ROW(add_u32, uint32_t, uint32_t, x + y)
ROW(sub_u32, uint32_t, uint32_t, x - y)
ROW(mul_u32, uint32_t, uint32_t, x * y)
ROW(div_i32, int32_t, uint32_t, (uint64_t)sdiv64(x, y))
ROW(add_u64, uint64_t, uint64_t, x + y)
ROW(sub_u64, uint64_t, uint64_t, x - y)
ROW(mul_u64, uint64_t, uint64_t, x * y)
ROW(div_i64_row, int64_t, uint64_t, div_i64(x, y))

/* Row function for op ('+', '-', '*', '/') and dtype; NULL if unsupported.
 * I8 and I32 add/sub/mul share the unsigned rows: same bits. */
static row_fn pick(char op, fc_dtype dt)
{
    int o = op == '+' ? 0 : op == '-' ? 1 : op == '*' ? 2 : 3;
    static const row_fn f32[] = {add_f32, sub_f32, mul_f32, div_f32};
    static const row_fn f64[] = {add_f64, sub_f64, mul_f64, div_f64};
    static const row_fn u8[] = {add_u8, sub_u8, mul_u8, div_u8};
    static const row_fn i8[] = {add_u8, sub_u8, mul_u8, div_i8};
    static const row_fn i32[] = {add_u32, sub_u32, mul_u32, div_i32};
    static const row_fn i64[] = {add_u64, sub_u64, mul_u64, div_i64_row};
    switch (dt) {
    case FC_DT_F32: return f32[o];
    case FC_DT_F64: return f64[o];
    case FC_DT_U8: return u8[o];
    case FC_DT_I8: return i8[o];
    case FC_DT_I32: return i32[o];
    case FC_DT_I64: return i64[o];
    default: return NULL;
    }
}

static fc_status binary(const fc_kernel_ctx *k, char op, fc_err *err)
{
    fc_status st = fc_f32_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *a = k->in[0], *b = k->in[1];
    fc_tensor *y = k->out[0];
    if (a->dtype != b->dtype || a->dtype != y->dtype)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: dtypes differ", k->node->op_type);
    row_fn fn = pick(op, a->dtype);
    if (!fn)
        return fc_f32_unsupported(k, a->dtype, err);
    if (y->numel == 0)
        return FC_OK;
    const size_t es = fc_dtype_size(y->dtype);
    const unsigned char *ad = a->data, *bd = b->data;
    unsigned char *yd = y->data;
    /* Fast paths: same shape, or one side a single element. */
    if (a->numel == y->numel && b->numel == y->numel) {
        fn(yd, ad, bd, y->numel, 0);
        return FC_OK;
    }
    if (a->numel == y->numel && b->numel == 1) {
        fn(yd, ad, bd, y->numel, 1);
        return FC_OK;
    }
    if (b->numel == y->numel && a->numel == 1) {
        fn(yd, ad, bd, y->numel, 2);
        return FC_OK;
    }
    /* General: strides, drop size-1 axes, merge contiguous neighbours. */
    int64_t sa[FC_MAX_RANK], sb[FC_MAX_RANK];
    fc_f32_bcast_strides(a, y->rank, y->dims, sa);
    fc_f32_bcast_strides(b, y->rank, y->dims, sb);
    int64_t d[FC_MAX_RANK], ma[FC_MAX_RANK], mb[FC_MAX_RANK];
    int r = 0;
    for (int i = 0; i < y->rank; i++) {
        if (y->dims[i] == 1)
            continue;
        if (r > 0 && ma[r - 1] == sa[i] * y->dims[i] && mb[r - 1] == sb[i] * y->dims[i]) {
            /* Axis r-1 steps exactly over a whole axis i in both inputs. */
            d[r - 1] *= y->dims[i];
            ma[r - 1] = sa[i];
            mb[r - 1] = sb[i];
            continue;
        }
        d[r] = y->dims[i];
        ma[r] = sa[i];
        mb[r] = sb[i];
        r++;
    }
    if (r == 0) {   /* every axis has size 1 */
        fn(yd, ad, bd, 1, 3);
        return FC_OK;
    }
    const size_t inner = (size_t)d[r - 1];
    const int mode = (mb[r - 1] ? 0 : 1) + (ma[r - 1] ? 0 : 2);
    if (ma[r - 1] > 1 || mb[r - 1] > 1)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: inner stride is not 0 or 1",
                          k->node->op_type);
    /* fn's modes: 0 both contiguous, 1 b scalar, 2 a scalar, 3 both. */
    int64_t idx[FC_MAX_RANK] = {0};
    const size_t rows = y->numel / inner;
    for (size_t row = 0; row < rows; row++) {
        size_t oa = 0, ob = 0;
        for (int i = 0; i < r - 1; i++) {
            oa += (size_t)(idx[i] * ma[i]);
            ob += (size_t)(idx[i] * mb[i]);
        }
        fn(yd + row * inner * es, ad + oa * es, bd + ob * es, inner, mode);
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < d[i])
                break;
            idx[i] = 0;
        }
    }
    return FC_OK;
}

fc_status fc_f32_add(const fc_kernel_ctx *k, fc_err *err) { return binary(k, '+', err); }
fc_status fc_f32_sub(const fc_kernel_ctx *k, fc_err *err) { return binary(k, '-', err); }
fc_status fc_f32_mul(const fc_kernel_ctx *k, fc_err *err) { return binary(k, '*', err); }
fc_status fc_f32_div(const fc_kernel_ctx *k, fc_err *err) { return binary(k, '/', err); }

/* ---- unary ---- */

static fc_status unary_io(const fc_kernel_ctx *k, const fc_tensor **x, fc_tensor **y,
                          fc_err *err)
{
    fc_status st = fc_f32_require(k, 1, 1, err);
    if (st)
        return st;
    *x = k->in[0];
    *y = k->out[0];
    if ((*x)->dtype != (*y)->dtype || (*x)->numel != (*y)->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output does not match the input",
                          k->node->op_type);
    return FC_OK;
}

/* Clamps an integer tensor into [lo, hi] (int64 bounds already inside the
 * dtype's range, so the stores are exact). */
#define CLAMP_INT(T, xd, yd, n, lo, hi)                                  \
    do {                                                                 \
        const T *xs_ = (const T *)(xd);                                  \
        T *ys_ = (T *)(yd);                                              \
        const T l_ = (T)(lo), h_ = (T)(hi);                              \
        for (size_t i_ = 0; i_ < (n); i_++) {                            \
            T v_ = xs_[i_];                                              \
            v_ = v_ < l_ ? l_ : v_;                                      \
            ys_[i_] = v_ > h_ ? h_ : v_;                                 \
        }                                                                \
    } while (0)

/* Integer clamp of any integer dtype; lo/hi in int64, clipped to the type. */
static bool clamp_int(const fc_tensor *x, fc_tensor *y, int64_t lo, int64_t hi)
{
    int64_t tmin, tmax;
    switch (x->dtype) {
    case FC_DT_U8: tmin = 0; tmax = UINT8_MAX; break;
    case FC_DT_I8: tmin = INT8_MIN; tmax = INT8_MAX; break;
    case FC_DT_I32: tmin = INT32_MIN; tmax = INT32_MAX; break;
    case FC_DT_I64: tmin = INT64_MIN; tmax = INT64_MAX; break;
    default: return false;
    }
    lo = lo < tmin ? tmin : lo > tmax ? tmax : lo;
    hi = hi < tmin ? tmin : hi > tmax ? tmax : hi;
    switch (x->dtype) {
    case FC_DT_U8: CLAMP_INT(uint8_t, x->data, y->data, x->numel, lo, hi); break;
    case FC_DT_I8: CLAMP_INT(int8_t, x->data, y->data, x->numel, lo, hi); break;
    case FC_DT_I32: CLAMP_INT(int32_t, x->data, y->data, x->numel, lo, hi); break;
    default: CLAMP_INT(int64_t, x->data, y->data, x->numel, lo, hi); break;
    }
    return true;
}

static void clamp_f32(const float *x, float *y, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        v = v < lo ? lo : v;
        y[i] = v > hi ? hi : v;
    }
}

fc_status fc_f32_relu(const fc_kernel_ctx *k, fc_err *err)
{
    const fc_tensor *x;
    fc_tensor *y;
    fc_status st = unary_io(k, &x, &y, err);
    if (st)
        return st;
    if (x->dtype == FC_DT_F32) {
        clamp_f32(x->data, y->data, x->numel, 0.0f, __builtin_inff());
        return FC_OK;
    }
    if (!clamp_int(x, y, 0, INT64_MAX))
        return fc_f32_unsupported(k, x->dtype, err);
    return FC_OK;
}

fc_status fc_f32_leakyrelu(const fc_kernel_ctx *k, fc_err *err)
{
    const fc_tensor *x;
    fc_tensor *y;
    float alpha;
    fc_status st = unary_io(k, &x, &y, err);
    if (st || (st = fc_attr_get_float(k->node, "alpha", 0.01f, &alpha, err)))
        return st;
    if (x->dtype != FC_DT_F32)
        return fc_f32_unsupported(k, x->dtype, err);
    const float *xs = x->data;
    float *ys = y->data;
    for (size_t i = 0; i < x->numel; i++)
        ys[i] = xs[i] < 0.0f ? alpha * xs[i] : xs[i];
    return FC_OK;
}

/* Clip.  Opset < 11: float attributes min/max, defaulting to the float
 * type's lowest/highest finite values (so +-inf clip to +-FLT_MAX, as the
 * spec's numeric_limits defaults say).  Opset >= 11: optional scalar inputs
 * of the input's dtype; an omitted bound does not clip.  min > max gives
 * max everywhere (clamp to min first, then to max). */
fc_status fc_f32_clip(const fc_kernel_ctx *k, fc_err *err)
{
    const fc_tensor *x;
    fc_tensor *y;
    fc_status st = unary_io(k, &x, &y, err);
    if (st)
        return st;
    const fc_tensor *tmin = k->node->opset >= 11 ? fc_f32_in(k, 1) : NULL;
    const fc_tensor *tmax = k->node->opset >= 11 ? fc_f32_in(k, 2) : NULL;
    if ((tmin && (tmin->dtype != x->dtype || tmin->numel != 1)) ||
        (tmax && (tmax->dtype != x->dtype || tmax->numel != 1)))
        return fc_err_set(err, FC_ERR_INTERNAL, "Clip: bounds are not scalars of the input type");
    if (x->dtype == FC_DT_F32) {
        float lo = -__builtin_inff(), hi = __builtin_inff();
        if (k->node->opset < 11) {
            if ((st = fc_attr_get_float(k->node, "min", -FLT_MAX, &lo, err)) ||
                (st = fc_attr_get_float(k->node, "max", FLT_MAX, &hi, err)))
                return st;
        }
        if (tmin)
            lo = ((const float *)tmin->data)[0];
        if (tmax)
            hi = ((const float *)tmax->data)[0];
        clamp_f32(x->data, y->data, x->numel, lo, hi);
        return FC_OK;
    }
    if (k->node->opset < 11)
        return fc_f32_unsupported(k, x->dtype, err);   /* Clip-6 is float-only */
    int64_t lo = tmin ? fc_tensor_get_i64(tmin, 0) : INT64_MIN;
    int64_t hi = tmax ? fc_tensor_get_i64(tmax, 0) : INT64_MAX;
    if (!clamp_int(x, y, lo, hi))
        return fc_f32_unsupported(k, x->dtype, err);
    return FC_OK;
}

fc_status fc_f32_sigmoid(const fc_kernel_ctx *k, fc_err *err)
{
    const fc_tensor *x;
    fc_tensor *y;
    fc_status st = unary_io(k, &x, &y, err);
    if (st)
        return st;
    if (x->dtype != FC_DT_F32)
        return fc_f32_unsupported(k, x->dtype, err);
    const float *xs = x->data;
    float *ys = y->data;
    /* exp of a non-positive argument only: never overflows.
     * x >= 0: 1 / (1 + e^-x);  x < 0: e^x / (1 + e^x). */
    for (size_t i = 0; i < x->numel; i++) {
        float v = xs[i];
        float e = expf(-fabsf(v));
        ys[i] = v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
    return FC_OK;
}

fc_status fc_f32_tanh(const fc_kernel_ctx *k, fc_err *err)
{
    const fc_tensor *x;
    fc_tensor *y;
    fc_status st = unary_io(k, &x, &y, err);
    if (st)
        return st;
    if (x->dtype != FC_DT_F32)
        return fc_f32_unsupported(k, x->dtype, err);
    const float *xs = x->data;
    float *ys = y->data;
    for (size_t i = 0; i < x->numel; i++)
        ys[i] = tanhf(xs[i]);
    return FC_OK;
}
