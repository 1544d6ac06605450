/* Private helpers shared by the f32-ref kernels (src/engines/ref/).
 *
 * The f32-ref engine is the oracle: every kernel is a plain loop that reads
 * like the ONNX definition, accumulates sums in double and never uses the
 * workspace.  Faster engines are checked against it, so clarity wins over
 * speed everywhere in this directory.  Backward kernels (ref_grad_*.c) that
 * sum many terms per element do so in fc_calloc'd double buffers, freed
 * before they return. */
#ifndef FC_REF_INTERNAL_H
#define FC_REF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../onnx/fc_opattr.h"
#include "../fc_kernel.h"

/* Per-family kernel entry points (one file each), collected by ref_table.c. */
fc_status fc_ref_conv(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_gemm(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_matmul(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_maxpool(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_averagepool(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_globalaveragepool(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_globalmaxpool(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_add(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_sub(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_mul(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_div(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_relu(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_leakyrelu(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_clip(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_sigmoid(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_tanh(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_softmax(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_logsoftmax(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_batchnorm(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_reducemean(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_copy(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_dropout(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_transpose(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_concat(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_pad(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_shape(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_gather(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_cast(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_constant(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_ref_constantofshape(const fc_kernel_ctx *k, fc_err *err);

/* Backward kernels (ref_grad_*.c), the same families as the forward ones.
 * Each adds dLoss/d input into every non-NULL gin[i] (fc_kernel.h). */
fc_status fc_ref_conv_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_gemm_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_matmul_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_maxpool_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_averagepool_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_globalaveragepool_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_globalmaxpool_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_add_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_sub_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_mul_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_div_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_relu_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_leakyrelu_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_clip_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_sigmoid_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_tanh_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_softmax_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_logsoftmax_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_batchnorm_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_reducemean_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_copy_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_dropout_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_transpose_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_concat_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_pad_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_gather_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_ref_cast_grad(const fc_grad_ctx *k, fc_err *err);

/* Input i, or NULL when it is omitted or beyond the node's input list. */
const fc_tensor *fc_ref_in(const fc_kernel_ctx *k, int i);
/* Output i, or NULL when omitted. */
fc_tensor *fc_ref_out(const fc_kernel_ctx *k, int i);

/* Fails with FC_ERR_INTERNAL unless inputs 0..n_in-1 and outputs
 * 0..n_out-1 are present: the plan guarantees them, so a miss is a bug. */
fc_status fc_ref_require(const fc_kernel_ctx *k, int n_in, int n_out, fc_err *err);

/* "Op: dtype X not supported by f32-ref" as FC_ERR_UNSUPPORTED. */
fc_status fc_ref_unsupported(const fc_kernel_ctx *k, fc_dtype dt, fc_err *err);

bool fc_ref_is_int(fc_dtype dt);      /* U8, I8, I32, I64 */

/* Integer element i of a U8/I8/I32/I64/BOOL tensor, widened to int64. */
int64_t fc_ref_load_int(const fc_tensor *t, size_t i);
/* Stores the low bits of v into element i of a U8/I8/I32/I64/BOOL tensor:
 * two's-complement wraparound, done through unsigned types and memcpy so
 * no signed overflow or implementation-defined conversion happens. */
void fc_ref_store_wrap(fc_tensor *t, size_t i, uint64_t v);

/* Product of dims[from..to-1] (1 when from >= to). */
size_t fc_ref_prod(const int64_t *dims, int from, int to);
/* Stores v into element i of t of any dtype with flipcheck's conversion
 * rule (ref_cast.c): float -> int truncates toward zero and saturates, NaN
 * -> 0; -> bool is v != 0. */
void fc_ref_store_double(fc_tensor *t, size_t i, double v);

/* Row-major element strides of a shape. */
void fc_ref_strides(int rank, const int64_t *dims, size_t *strides);
/* Strides of t when broadcast to the output shape (rank out_rank, t's dims
 * right-aligned): 0 on every axis t has size 1 or lacks. */
void fc_ref_bcast_strides(const fc_tensor *t, int out_rank, const int64_t *out_dims,
                          size_t *strides);
/* Advances a row-major multi-index; false after the last one. */
bool fc_ref_next_index(int rank, const int64_t *dims, int64_t *idx);

/* Extends decoded window geometry to exactly 3 spatial axes by appending
 * neutral axes (size 1, kernel 1, stride 1, dilation 1, no padding), so
 * Conv and pool loops are written once for 1-D, 2-D and 3-D. */
void fc_ref_window_3d(fc_window *w);

/* Byte copy of in[0] into out[0] (same byte size, checked). */
fc_status fc_ref_copy_bytes(const fc_kernel_ctx *k, const fc_tensor *in, fc_tensor *out,
                            fc_err *err);

/* ---- shared by the backward kernels (ref_grad_common.c) ---------------- */

/* Forward input i / gradient slots of a backward call, NULL when absent. */
const fc_tensor *fc_ref_fwd_in(const fc_grad_ctx *k, int i);
fc_tensor *fc_ref_gin(const fc_grad_ctx *k, int i);
const fc_tensor *fc_ref_gout(const fc_grad_ctx *k, int j);

/* Checks what the executor promises (FC_ERR_INTERNAL otherwise): every
 * non-NULL gout[j] is float32 shaped like out[j], every non-NULL gin[i] is
 * float32 shaped like a present in[i]. */
fc_status fc_ref_grad_check(const fc_grad_ctx *k, fc_err *err);

/* Gradients that sum many terms into one element (broadcast axes, weight
 * taps, overlapping windows, scatters) are summed in double, one buffer per
 * wanted input, and rounded to float once when added into gin.
 * fc_ref_acc_alloc gives acc[i] (gin[i]'s numel, zeroed) for each i < n
 * whose gin[i] is non-NULL and NULL for the others; on failure nothing is
 * left allocated.  fc_ref_acc_flush adds acc[i] into gin[i] and frees all;
 * fc_ref_acc_free only frees (error paths). */
fc_status fc_ref_acc_alloc(const fc_grad_ctx *k, int n, double **acc, fc_err *err);
void fc_ref_acc_flush(const fc_grad_ctx *k, int n, double **acc);
void fc_ref_acc_free(int n, double **acc);

#endif
