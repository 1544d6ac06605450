/* Private to the int8 engines (src/engines/q8/): the kernels of q8-ref and
 * q8 and the helpers they share.
 *
 * Both engines run the same kernel functions; they differ only in the
 * int8 GEMM every matrix-product op reduces to: q8-ref passes the scalar
 * reference fc_q8_gemm_ref, q8 the dispatched fc_q8_gemm() (q8_table.c
 * binds each kernel twice).  Ops that are not quantized fall back to the
 * f32-ref (q8-ref) or f32 (q8) kernel tables.
 *
 * Numerics, in one place (the rule each kernel follows):
 *  - quantize:   q = saturate(round_half_even(x / scale) + zp), the
 *                division in float32 (ONNX QuantizeLinear).  NaN gives the
 *                zero point (it dequantizes to 0: no information), +Inf
 *                qmax, -Inf qmin.  (ONNX Runtime's x86 kernels give qmin
 *                for NaN; flipcheck chose the zero point on purpose.)
 *  - dequantize: x = float32(q - zp) * scale (ONNX DequantizeLinear).
 *  - requantize an int32 accumulator: float32(acc) * multiplier rounded
 *    half to even, then + zp, saturated (q8_gemm.h, fc_q8_requantize),
 *    with the per-channel multiplier (a_scale * w_scale[m]) / y_scale
 *    computed in float32 in that order, as ONNX Runtime does. */
#ifndef FC_Q8_INTERNAL_H
#define FC_Q8_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../onnx/fc_opattr.h"
#include "../fc_kernel.h"
#include "q8_gemm.h"

/* ---- kernels (each takes the GEMM to use; q8_table.c binds them) ------- */

typedef fc_status (*fc_q8_kernel_fn)(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);

/* q8_ref_quant.c */
fc_status fc_q8_quantizelinear(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);
fc_status fc_q8_dequantizelinear(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);
fc_status fc_q8_dynamicquantizelinear(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);
/* q8_ref_conv.c */
fc_status fc_q8_qlinearconv(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);
fc_status fc_q8_convinteger(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);
/* q8_conv.c: the q8 engine's own QLinearConv / ConvInteger (bit-exact
 * with the two above, faster; the ref ISA runs the two above) */
fc_status fc_q8_qlinearconv_fast(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_q8_convinteger_fast(const fc_kernel_ctx *k, fc_err *err);
/* q8_fast_ops.c: the q8 engine's own QuantizeLinear, QLinearAdd and
 * MaxPool (8-bit; other cases go to the kernels q8 would run otherwise) */
fc_status fc_q8_quantizelinear_fast(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_q8_qlinearadd_fast(const fc_kernel_ctx *k, fc_err *err);
fc_status fc_q8_maxpool_fast(const fc_kernel_ctx *k, fc_err *err);
/* q8_ref_matmul.c */
fc_status fc_q8_qlinearmatmul(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);
fc_status fc_q8_matmulinteger(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);
fc_status fc_q8_qgemm(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);
/* q8_ref_eltwise.c */
fc_status fc_q8_qlinearadd(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);
fc_status fc_q8_qlinearconcat(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);
/* q8_ref_pool.c */
fc_status fc_q8_qlinearglobalavgpool(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);
fc_status fc_q8_qlinearavgpool(const fc_kernel_ctx *k, fc_q8_gemm_fn gemm, fc_err *err);

/* ---- helpers (q8_common.c) ---------------------------------------------- */

/* Input i / output i, NULL when omitted or beyond the node's lists. */
const fc_tensor *fc_q8_in(const fc_kernel_ctx *k, int i);
fc_tensor *fc_q8_out(const fc_kernel_ctx *k, int i);
/* FC_ERR_INTERNAL unless inputs 0..n_in-1 and outputs 0..n_out-1 exist
 * (the plan guarantees them). */
fc_status fc_q8_require(const fc_kernel_ctx *k, int n_in, int n_out, fc_err *err);
/* "Op: dtype X is not supported by the int8 engines". */
fc_status fc_q8_unsupported(const fc_kernel_ctx *k, fc_dtype dt, fc_err *err);

/* Element i of a uint8 / int8 / int32 tensor. */
int32_t fc_q8_load(const fc_tensor *t, size_t i);
/* Stores v (already within the dtype's range) as element i of a uint8 /
 * int8 / int32 buffer. */
void fc_q8_store(void *data, fc_dtype dt, size_t i, int32_t v);
/* Saturation bounds of uint8 [0, 255] and int8 [-128, 127]. */
void fc_q8_range(fc_dtype dt, int32_t *qmin, int32_t *qmax);

/* Scale i of a per-tensor (one value) or per-axis float32 scale. */
float fc_q8_scale_at(const fc_tensor *scale, size_t i);
/* Zero point i of a per-tensor or per-axis zero point; 0 when zp is NULL. */
int32_t fc_q8_zp_at(const fc_tensor *zp, size_t i);

/* Round half to even of a float32, exactly, whatever the FPU rounding mode
 * (NaN and infinities come back unchanged). */
float fc_q8_round_half_even(float v);
/* r (an integer-valued float, NaN or infinite) + zp saturated to
 * [qmin, qmax], without any out-of-range conversion: NaN gives zp
 * (clamped), infinities the bounds. */
int32_t fc_q8_saturate(float r, int32_t zp, int32_t qmin, int32_t qmax);
/* QuantizeLinear of one value: saturate(round_half_even(x / scale) + zp). */
int32_t fc_q8_quantize(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax);

/* Checked element counts: false on overflow. */
bool fc_q8_mul3(size_t a, size_t b, size_t c, size_t *out);

/* Row-major transpose of an r x c matrix of esz-byte elements into dst. */
void fc_q8_transpose(const void *src, void *dst, size_t r, size_t c, size_t esz);

#endif
