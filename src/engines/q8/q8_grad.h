/* Backward kernels of the int8 engines (src/engines/q8/q8_grad_*.c): the
 * straight-through estimator (STE).
 *
 * The forward pass is the int8 one, untouched.  The backward pass treats
 * every rounding as the identity and every saturation as a cut:
 *
 *   q = saturate(round(v / s) + z)   =>   dq/dv = mask / s,
 *   mask = 1 where the saturation is inactive, else 0,
 *
 * and takes every other derivative from the equivalent float op at the
 * dequantized operands (q - z) * s.  Gradients of integer tensors are in
 * units of the stored integer (fc_kernel.h), so an op with quantized
 * input x (scale xs) and output y (scale ys) has
 *
 *   dL/dx_q = xs * Backward_float(dL/dy_q * mask / ys)
 *
 * where Backward_float is the backward kernel of the float op (Conv for
 * QLinearConv, Gemm for QGemm, ...) of the engine the int8 engine falls
 * back to: f32-ref's for q8-ref, f32's for q8.  Which mask:
 *  - QuantizeLinear and DynamicQuantizeLinear see their float input, so
 *    the mask is exact: 1 where round(x / s) + z lies within [qmin, qmax]
 *    (a black or white pixel at scale 1/255, zero point 0, passes its
 *    gradient);
 *  - integer ops keep only the rounded output, so an output at qmin or
 *    qmax counts as saturated.  That is what it almost always is, and it
 *    is the Relu / ReLU6 that ONNX Runtime folded into the requantization:
 *    their zeros land on qmin.
 * Scales and zero points are constants for the STE, also the run-time ones
 * of DynamicQuantizeLinear (its scale and zero point outputs pass no
 * gradient): with the rounding taken as the identity, (q - z) * s does not
 * depend on s.
 *
 * Kernels take the float table whose backward kernels they reuse; q8_table.c
 * binds each twice.  They allocate their float operands (fc_tensor_alloc)
 * instead of taking the workspace, which the float kernel they call uses. */
#ifndef FC_Q8_GRAD_H
#define FC_Q8_GRAD_H

#include "q8_internal.h"

typedef fc_status (*fc_q8_backward_fn)(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                       fc_err *err);

/* q8_grad_linear.c: the integer ops, through the float op's backward. */
fc_status fc_q8_qlinearconv_grad(const fc_grad_ctx *k, const fc_kernel_table *flt, fc_err *err);
fc_status fc_q8_convinteger_grad(const fc_grad_ctx *k, const fc_kernel_table *flt, fc_err *err);
fc_status fc_q8_qlinearmatmul_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                   fc_err *err);
fc_status fc_q8_matmulinteger_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                   fc_err *err);
fc_status fc_q8_qgemm_grad(const fc_grad_ctx *k, const fc_kernel_table *flt, fc_err *err);
fc_status fc_q8_qlinearadd_grad(const fc_grad_ctx *k, const fc_kernel_table *flt, fc_err *err);
fc_status fc_q8_qlinearconcat_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                   fc_err *err);
fc_status fc_q8_qlinearglobalavgpool_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                          fc_err *err);
fc_status fc_q8_qlinearavgpool_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                    fc_err *err);

/* q8_grad_quant.c: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear. */
fc_status fc_q8_quantizelinear_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                    fc_err *err);
fc_status fc_q8_dequantizelinear_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                      fc_err *err);
fc_status fc_q8_dynamicquantizelinear_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                           fc_err *err);

/* q8_grad_quant.c: ops that run on 8-bit (or int32) tensors with the float
 * kernels (MaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze,
 * Gather, Identity, Cast).  Forward: the float table's kernel, unchanged.
 * Backward: the float table's, on float copies of the integer operands
 * (the values as real numbers, so MaxPool picks the same maximum); the
 * gradient units are the integer's on both sides, which is right for ops
 * that only move values. */
fc_status fc_q8_float_forward(const fc_kernel_ctx *k, const fc_kernel_table *flt, fc_err *err);
fc_status fc_q8_float_grad(const fc_grad_ctx *k, const fc_kernel_table *flt, fc_err *err);

/* ---- helpers (q8_grad_common.c) ---------------------------------------- */

/* The kernel of default-domain op `op` in t itself (no fallback), or NULL. */
const fc_kernel_def *fc_q8g_find(const fc_kernel_table *t, const char *op);

/* Forward input i / gradient slots, NULL when absent. */
const fc_tensor *fc_q8g_in(const fc_grad_ctx *k, int i);
fc_tensor *fc_q8g_gin(const fc_grad_ctx *k, int i);
const fc_tensor *fc_q8g_gout(const fc_grad_ctx *k, int j);

/* Which element of a per-axis parameter element i of a tensor uses:
 * (i / inner) % n; always 0 for a per-tensor parameter (n == 1). */
typedef struct fc_q8g_axis {
    size_t inner, n;
} fc_q8g_axis;
/* The walk of a parameter of `count` values along `axis` of x (negative
 * axes count from the end).  FC_ERR_INTERNAL when count is neither 1 nor
 * x's size along axis. */
fc_status fc_q8g_axis_of(const fc_tensor *x, size_t count, int64_t axis, const char *op,
                         fc_q8g_axis *w, fc_err *err);
static inline size_t fc_q8g_axis_at(const fc_q8g_axis *w, size_t i)
{
    return w->n > 1 ? (i / w->inner) % w->n : 0;
}

/* One operand of the float op equivalent to an integer op: input `x` of
 * the integer op, dequantized with its scale and zero point inputs (-1:
 * none, i.e. scale 1 / zero point 0), per axis `axis` when they have more
 * than one value. */
typedef struct fc_q8g_operand {
    int x, scale, zp;
    int64_t axis;
} fc_q8g_operand;

/* The STE backward of an integer op through the float op `op` (whose
 * attributes are the integer op's own): operands ops[0..n_ops-1] become
 * the float op's inputs, output 0 is quantized with inputs y_scale and
 * y_zp (-1 / -1: a float or raw int32 output, no mask; y_scale alone: a
 * float output divided by it, QGemm without y_zero_point).  Every operand
 * whose input wants a gradient gets scale * the float op's gradient. */
fc_status fc_q8g_through_float(const fc_grad_ctx *k, const fc_kernel_table *flt, const char *op,
                               const fc_q8g_operand *ops, int n_ops, int y_scale, int y_zp,
                               fc_err *err);

#endif
