/* Private helpers of the f32 engine (src/engines/f32/): the fast engine.
 *
 * Design: matrix products go to OpenBLAS (Conv via im2col with the batch
 * folded into the gemm's column dimension, Gemm, MatMul); everything else is
 * tight float loops shaped so that gcc auto-vectorises the innermost loop
 * (contiguous, no calls, no aliasing surprises).  Kernels never allocate:
 * scratch comes from the engine workspace (fc_workspace_get).
 *
 * This engine is written independently of the f32-ref oracle
 * (src/engines/ref/) on purpose: the two check each other. */
#ifndef FC_F32_INTERNAL_H
#define FC_F32_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../onnx/fc_opattr.h"
#include "../fc_kernel.h"

/* Workspace slots used by the kernels (a kernel may use several at once). */
enum { F32_WS_COL = 0, F32_WS_TMP = 1, F32_WS_AUX = 2, F32_WS_AUX2 = 3 };

/* f32_conv.c */
fc_status fc_f32_conv(const fc_kernel_ctx *k, fc_err *err);
/* f32_gemm.c */
fc_status fc_f32_gemm(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_matmul(const fc_kernel_ctx *k, fc_err *err);
/* f32_pool.c */
fc_status fc_f32_maxpool(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_averagepool(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_globalaveragepool(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_globalmaxpool(const fc_kernel_ctx *k, fc_err *err);
/* f32_eltwise.c */
fc_status fc_f32_add(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_sub(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_mul(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_div(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_relu(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_leakyrelu(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_clip(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_sigmoid(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_tanh(const fc_kernel_ctx *k, fc_err *err);
/* f32_norm.c */
fc_status fc_f32_softmax(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_logsoftmax(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_batchnorm(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_reducemean(const fc_kernel_ctx *k, fc_err *err);
/* f32_shape.c */
fc_status fc_f32_copy(const fc_kernel_ctx *k, fc_err *err);   /* Flatten, Reshape, ... */
fc_status fc_f32_dropout(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_transpose(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_concat(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_pad(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_shape(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_gather(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_cast(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_constant(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_f32_constantofshape(const fc_kernel_ctx *k, fc_err *err);

/* ---- helpers (f32_table.c) ---- */

/* Input i, or NULL when omitted or beyond the node's list. */
const fc_tensor *fc_f32_in(const fc_kernel_ctx *k, int i);
/* Output i, or NULL when omitted. */
fc_tensor *fc_f32_out(const fc_kernel_ctx *k, int i);
/* FC_ERR_INTERNAL unless inputs 0..n_in-1 and outputs 0..n_out-1 exist (the
 * plan guarantees them, so a miss is a bug of ours). */
fc_status fc_f32_require(const fc_kernel_ctx *k, int n_in, int n_out, fc_err *err);
/* "<Op>: dtype X is not supported by engine f32" as FC_ERR_UNSUPPORTED. */
fc_status fc_f32_unsupported(const fc_kernel_ctx *k, fc_dtype dt, fc_err *err);
/* Product of dims[from..to-1] (1 when empty). Shapes are validated, so no
 * overflow: every tensor has at most FC_MAX_TENSOR_ELEMS elements. */
size_t fc_f32_prod(const int64_t *dims, int from, int to);
/* Applies the fused activation of k (if any) to y[0..n-1]:
 * y = min(max(y, act_min), act_max), NaN kept as NaN. */
void fc_f32_apply_act(const fc_kernel_ctx *k, float *y, size_t n);
/* Moves decoded window geometry to exactly 3 spatial axes with the real
 * axes last (1-D: [1,1,W], 2-D: [1,H,W]); added axes are neutral (size 1,
 * kernel 1, stride 1, dilation 1, no pads) so loops are written once. */
void fc_f32_window3(fc_window *w);
/* Output positions o in [0, out) whose tap o*stride + off lies in [0, in):
 * the half-open range [*lo, *hi) (empty when *lo == *hi). */
void fc_f32_valid_range(int64_t off, int64_t stride, int64_t in, int64_t out, int64_t *lo,
                        int64_t *hi);
/* Row-major element strides of t broadcast to an output of rank out_rank
 * (t right-aligned): 0 on axes where t has size 1 or which t lacks. */
void fc_f32_bcast_strides(const fc_tensor *t, int out_rank, const int64_t *out_dims,
                          int64_t *strides);

#endif
