/* Private helpers of the f32 engine (src/engines/f32/): the fast engine.
 *
 * Design: large matrix products go to OpenBLAS (Gemm, MatMul, Conv with a
 * large K via im2col); convs with a small K, Winograd's 16 products and
 * depthwise convs use our own register-blocked code (fc_f32_small_gemm,
 * AVX2 with a portable fallback), split over threads by images or tile
 * blocks with a fixed summation order per output; 3x3 stride-1 convs with
 * enough channels use Winograd F(2x2, 3x3) (f32_winograd.c).  Everything
 * else is tight float loops shaped so that gcc auto-vectorises the innermost
 * loop (contiguous, no calls, no aliasing surprises).  Kernels never
 * allocate: scratch comes from the engine workspace (fc_workspace_get).
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

/* Building blocks shared by the fast kernels (in f32_conv.c). */

/* C = clamp(A B + bias) for matrices already in cache (no packing):
 * C[i, j] = clamp(bias[i] + sum_{q < k} A[i, q] B[q, j]) for i < m, j < n,
 * the sum taken in increasing q whatever the blocking (so results do not
 * depend on how callers split the rows or columns); bias NULL for none;
 * clamp(v) = min(max(v, lo), hi) keeping NaN (pass -inf, +inf for none).
 * Row-major with leading dimensions lda, ldb, ldc. */
void fc_f32_small_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda,
                       const float *b, size_t ldb, float *c, size_t ldc, const float *bias,
                       float lo, float hi);
/* One unit of a kernel's work, run by thread t (0 .. nt-1, for per-thread
 * scratch).  Units must be independent: each is computed the same way
 * whichever thread runs it, so results never depend on the thread count. */
typedef void (*fc_f32_unit_fn)(void *ctx, int t, int64_t unit);
/* Threads worth using for `flops` of work in `units` independent pieces:
 * 1 .. OpenBLAS's thread count (OPENBLAS_NUM_THREADS), at most units. */
int fc_f32_threads_for(double flops, int64_t units);
/* Runs fn for every unit in [0, units) on up to nt threads (the caller's
 * included; units handed out one at a time) and waits for all.  Never
 * fails: units of a thread that cannot start run on the others. */
void fc_f32_parallel_for(int64_t units, int nt, fc_f32_unit_fn fn, void *ctx);
/* Test hook: true makes the f32 kernels skip their AVX2 code (as on a CPU
 * without it) so that the portable code is tested too. */
void fc_f32_set_portable(bool on);
bool fc_f32_portable(void);   /* the hook's state */
/* True when the AVX2+FMA code may run (the CPU has it, no test hook). */
bool fc_f32_use_avx2(void);
/* f32_winograd.c */

/* True when Winograd F(2x2, 3x3) applies: 2-D 3x3 kernel (w in 3-D form),
 * stride 1, dilation 1, one group, and enough channels to pay. */
bool fc_f32_winograd_fits(const fc_window *w, int64_t c, int64_t m, int64_t group);
/* Y = clamp(conv(X, W) + B) by Winograd for X [n, c, H, W], W [m, c, 3, 3];
 * bias may be NULL.  Uses workspace slots F32_WS_COL and F32_WS_TMP. */
fc_status fc_f32_conv_winograd(const fc_kernel_ctx *k, const fc_window *w, int64_t n,
                               int64_t c, int64_t m, const float *x, const float *wt,
                               const float *bias, float *y, float lo, float hi, fc_err *err);
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
