/* The kernel tables of the int8 engines q8-ref and q8.
 *
 * Every quantized op has one kernel function taking the GEMM to use; it is
 * bound twice here: to the scalar reference fc_q8_gemm_ref for q8-ref and
 * to the dispatched fc_q8_gemm() for q8.  Ops not listed (Flatten, Softmax,
 * MaxPool on uint8/int8, the float ops of dynamic models, ...) come from
 * the fallback table: f32-ref for q8-ref, f32 for q8.
 *
 * No entry sets FC_KERNEL_FUSES_ACTIVATION: the outputs are integers, and
 * a Relu or Clip after them must run on its own (the executor fuses only
 * into kernels that set the flag, i.e. the float Conv/Gemm/MatMul). */
#include "q8_internal.h"

#define BIND(fn)                                                            \
    static fc_status fn##_ref(const fc_kernel_ctx *k, fc_err *err)           \
    {                                                                       \
        return fc_q8_##fn(k, fc_q8_gemm_ref, err);                          \
    }                                                                       \
    static fc_status fn##_fast(const fc_kernel_ctx *k, fc_err *err)          \
    {                                                                       \
        return fc_q8_##fn(k, fc_q8_gemm(), err);                            \
    }

BIND(quantizelinear)
BIND(dequantizelinear)
BIND(dynamicquantizelinear)
BIND(qlinearconv)
BIND(convinteger)
BIND(qlinearmatmul)
BIND(matmulinteger)
BIND(qgemm)
BIND(qlinearadd)
BIND(qlinearconcat)
BIND(qlinearglobalavgpool)
BIND(qlinearavgpool)

#define K(dom, op, fn, suffix) {.domain = dom, .name = op, .forward = fn##_##suffix, .flags = 0}
#define DEFS(suffix)                                                        \
    K("", "ConvInteger", convinteger, suffix),                              \
    K("", "DequantizeLinear", dequantizelinear, suffix),                    \
    K("", "DynamicQuantizeLinear", dynamicquantizelinear, suffix),          \
    K("", "MatMulInteger", matmulinteger, suffix),                          \
    K("", "QLinearConv", qlinearconv, suffix),                              \
    K("", "QLinearMatMul", qlinearmatmul, suffix),                          \
    K("", "QuantizeLinear", quantizelinear, suffix),                        \
    K("com.microsoft", "QGemm", qgemm, suffix),                             \
    K("com.microsoft", "QLinearAdd", qlinearadd, suffix),                   \
    K("com.microsoft", "QLinearAveragePool", qlinearavgpool, suffix),       \
    K("com.microsoft", "QLinearConcat", qlinearconcat, suffix),             \
    K("com.microsoft", "QLinearGlobalAveragePool", qlinearglobalavgpool, suffix)

static const fc_kernel_def defs_ref[] = {DEFS(ref)};
static const fc_kernel_def defs_fast[] = {DEFS(fast)};

const fc_kernel_table fc_kernels_q8_ref = {
    .engine = "q8-ref",
    .defs = defs_ref,
    .count = (int)(sizeof defs_ref / sizeof defs_ref[0]),
    .fallback = &fc_kernels_f32_ref,
};

const fc_kernel_table fc_kernels_q8 = {
    .engine = "q8",
    .defs = defs_fast,
    .count = (int)(sizeof defs_fast / sizeof defs_fast[0]),
    .fallback = &fc_kernels_f32,
};
