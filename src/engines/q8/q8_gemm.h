/* The int8 matrix product every quantized op of the q8 engines reduces to
 * (QLinearConv via im2col, QLinearMatMul, QGemm, MatMulInteger,
 * ConvInteger), with the requantization of the ONNX QLinear* definitions.
 *
 * Contract (identical for every implementation: the scalar reference
 * fc_q8_gemm_ref and the SIMD kernels chosen at start-up, which must be
 * bit-exact with it on every input):
 *
 *   acc[m][n] = bias[m] + sum_k (A[m][k] - a_zp[m]) * (B[k][n] - b_zp)   (int32)
 *
 *   A: M x K weights, int8 (a_signed) or uint8, row-major, row stride lda;
 *      a_zp per row (per output channel) or one value (a_zp_per_row = false).
 *   B: K x N activations, uint8 (b_signed = false) or int8, row-major,
 *      row stride ldb; one zero point b_zp.
 *   bias: M int32 values or NULL (0).
 *
 * Output, one of:
 *   - requantized (rq != NULL): y = saturate(round_half_even(float(acc) * rq->scale[m])
 *     + rq->y_zp) to [rq->qmin, rq->qmax], stored as uint8 or int8 (rq->y_signed),
 *     where the product float(acc) * scale is ONE float32 multiplication, the
 *     rounding is round-half-to-even of that float32, and the zero point is added
 *     after rounding (the order ONNX Runtime's kernels use);
 *   - raw (rq == NULL): acc stored as int32 into C32.
 * C (or C32) is M x N row-major with row stride ldc.
 *
 * Sums never overflow int32 for K <= FC_Q8_MAX_K (checked by callers). */
#ifndef FC_Q8_GEMM_H
#define FC_Q8_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../core/fc_status.h"

#define FC_Q8_MAX_K 65536

typedef struct fc_q8_requant {
    const float *scale;      /* per row (M values) or one value */
    bool scale_per_row;
    int32_t y_zp;
    int32_t qmin, qmax;      /* saturation bounds (a fused Relu/Clip narrows them) */
    bool y_signed;           /* int8 output, else uint8 */
} fc_q8_requant;

typedef struct fc_q8_gemm_args {
    int64_t M, N, K;
    const void *A; int64_t lda; bool a_signed;
    const int32_t *a_zp; bool a_zp_per_row;
    const void *B; int64_t ldb; bool b_signed; int32_t b_zp;
    const int32_t *bias;
    const fc_q8_requant *rq; /* NULL: raw int32 output */
    void *C; int64_t ldc;    /* uint8/int8 when rq, else int32 */
} fc_q8_gemm_args;

/* The scalar reference (q8-ref engine, and the oracle of the SIMD ones). */
void fc_q8_gemm_ref(const fc_q8_gemm_args *g);

/* The implementation the q8 engine uses, chosen once (fc_q8_dispatch_init). */
typedef void (*fc_q8_gemm_fn)(const fc_q8_gemm_args *g);
fc_q8_gemm_fn fc_q8_gemm(void);

/* The implementations behind fc_q8_gemm(), callable directly by tests and
 * benchmarks.  Each is bit-exact with fc_q8_gemm_ref on every input, in the
 * default (round-to-nearest) floating-point mode; a kernel hands arguments
 * it has no fast path for (zero points outside [-128, 255], saturation
 * bounds outside the output type, very narrow B) to fc_q8_gemm_portable,
 * which covers everything.  They allocate scratch with fc_malloc and, if
 * that fails, fall back to a path that needs none: same result, no error.
 * fc_q8_gemm_avx2 and fc_q8_gemm_avx512 must only be called on a CPU that
 * has the ISA (fc_q8_set_isa checks). */
void fc_q8_gemm_portable(const fc_q8_gemm_args *g);
void fc_q8_gemm_avx2(const fc_q8_gemm_args *g);
void fc_q8_gemm_avx512(const fc_q8_gemm_args *g);

/* Requantizes (or stores raw, when g->rq is NULL) `count` accumulators
 * acc[j] = acc[m][n0 + j] (bias already added) into row m of g->C.  The
 * epilogue every kernel shares for its edge tiles and odd arguments. */
void fc_q8_store_row(const fc_q8_gemm_args *g, int64_t m, int64_t n0, const int32_t *acc,
                     int64_t count);

/* True when every zero point lies in [-128, 255] (so A - a_zp and B - b_zp
 * fit int16) and the requantization, if any, has qmin <= qmax inside the
 * stored type and |y_zp| <= 2^21: the arguments the vector kernels handle
 * themselves (rows with a NaN or infinite scale still take
 * fc_q8_store_row). */
bool fc_q8_args_common(const fc_q8_gemm_args *g);

/* Name of the implementation fc_q8_gemm() returns: "ref", "portable",
 * "avx2" or "avx512".  The first call chooses: the best ISA the CPU has,
 * unless the environment variable FLIPCHECK_Q8_ISA names one of those four
 * that the CPU can run (any other value is ignored, silently: a library does
 * not print; callers wanting an error use fc_q8_set_isa). */
const char *fc_q8_isa(void);

/* Forces the implementation by name, or with "auto" forgets the choice so
 * that the next use chooses again (environment, then CPU).
 * FC_ERR_INVALID_ARG for an unknown name, FC_ERR_UNSUPPORTED for an ISA this
 * CPU lacks (the choice is then unchanged).  Meant for start-up and tests:
 * a GEMM already running in another thread finishes with the old one. */
fc_status fc_q8_set_isa(const char *name, fc_err *err);

/* One float requantization step as the contract defines it (shared by the
 * kernels that requantize element-wise: QLinearAdd, pools, Concat). */
int32_t fc_q8_requantize(int32_t acc, float scale, int32_t y_zp, int32_t qmin, int32_t qmax);

#endif
