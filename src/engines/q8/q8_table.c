/* The kernel tables of the int8 engines q8-ref and q8.
 *
 * Every quantized op has one kernel function taking the GEMM to use; it is
 * bound twice here: to the scalar reference fc_q8_gemm_ref for q8-ref and
 * to the dispatched fc_q8_gemm() for q8.  Ops not listed (Softmax, Relu,
 * the float ops of dynamic models, ...) come from the fallback table:
 * f32-ref for q8-ref, f32 for q8.
 *
 * No entry sets FC_KERNEL_FUSES_ACTIVATION: the outputs are integers, and
 * a Relu or Clip after them must run on its own (the executor fuses only
 * into kernels that set the flag, i.e. the float Conv/Gemm/MatMul).
 *
 * Gradients (q8_grad.h): every entry has an STE backward kernel and
 * FC_KERNEL_INT_GRADS, bound to the float table it reuses (f32-ref's for
 * q8-ref, f32's for q8).  The ops that run on 8-bit tensors with the float
 * kernels (MaxPool, Flatten, Reshape, ...) are listed too, with the float
 * table's forward kernel unchanged, so that their backward sees integer
 * operands as floats; float ops without integer operands (Softmax, Relu,
 * the Mul/Add of dynamic models) keep coming from the fallback. */
#include "q8_grad.h"

#define BIND(fn)                                                            \
    static fc_status fn##_ref(const fc_kernel_ctx *k, fc_err *err)           \
    {                                                                       \
        return fc_q8_##fn(k, fc_q8_gemm_ref, err);                          \
    }                                                                       \
    static fc_status fn##_fast(const fc_kernel_ctx *k, fc_err *err)          \
    {                                                                       \
        return fc_q8_##fn(k, fc_q8_gemm(), err);                            \
    }

/* Ops whose q8 kernel is a separate, faster implementation of the same
 * numbers (q8_conv.c, ...): q8-ref keeps the reference kernel. */
#define BIND_OWN(fn)                                                        \
    static fc_status fn##_ref(const fc_kernel_ctx *k, fc_err *err)           \
    {                                                                       \
        return fc_q8_##fn(k, fc_q8_gemm_ref, err);                          \
    }                                                                       \
    static fc_status fn##_fast(const fc_kernel_ctx *k, fc_err *err)          \
    {                                                                       \
        return fc_q8_##fn##_fast(k, err);                                   \
    }

BIND_OWN(quantizelinear)
BIND(dequantizelinear)
BIND(dynamicquantizelinear)
BIND_OWN(qlinearconv)
BIND_OWN(convinteger)
BIND(qlinearmatmul)
BIND(matmulinteger)
BIND(qgemm)
BIND_OWN(qlinearadd)
BIND(qlinearconcat)
BIND(qlinearglobalavgpool)
BIND(qlinearavgpool)

/* The STE backward of each, on the float table of the same engine. */
#define BIND_GRAD(fn)                                                       \
    static fc_status fn##_grad_ref(const fc_grad_ctx *k, fc_err *err)        \
    {                                                                       \
        return fc_q8_##fn##_grad(k, &fc_kernels_f32_ref, err);              \
    }                                                                       \
    static fc_status fn##_grad_fast(const fc_grad_ctx *k, fc_err *err)       \
    {                                                                       \
        return fc_q8_##fn##_grad(k, &fc_kernels_f32, err);                  \
    }

BIND_GRAD(quantizelinear)
BIND_GRAD(dequantizelinear)
BIND_GRAD(dynamicquantizelinear)
BIND_GRAD(qlinearconv)
BIND_GRAD(convinteger)
BIND_GRAD(qlinearmatmul)
BIND_GRAD(matmulinteger)
BIND_GRAD(qgemm)
BIND_GRAD(qlinearadd)
BIND_GRAD(qlinearconcat)
BIND_GRAD(qlinearglobalavgpool)
BIND_GRAD(qlinearavgpool)
BIND_GRAD(float)

/* The float table's forward kernel, for the ops listed only for their
 * backward. */
static fc_status float_ref(const fc_kernel_ctx *k, fc_err *err)
{
    return fc_q8_float_forward(k, &fc_kernels_f32_ref, err);
}
static fc_status float_fast(const fc_kernel_ctx *k, fc_err *err)
{
    return fc_q8_float_forward(k, &fc_kernels_f32, err);
}

/* MaxPool: q8 has its own kernel for 8-bit tensors (q8_fast_ops.c), which
 * hands every other case to the f32 one; the backward is the float ops'. */
static fc_status maxpool_ref(const fc_kernel_ctx *k, fc_err *err) { return float_ref(k, err); }
static fc_status maxpool_fast(const fc_kernel_ctx *k, fc_err *err)
{
    return fc_q8_maxpool_fast(k, err);
}
static fc_status maxpool_grad_ref(const fc_grad_ctx *k, fc_err *err)
{
    return float_grad_ref(k, err);
}
static fc_status maxpool_grad_fast(const fc_grad_ctx *k, fc_err *err)
{
    return float_grad_fast(k, err);
}

#define K(dom, op, fn, suffix)                                              \
    {.domain = dom, .name = op, .forward = fn##_##suffix, .flags = FC_KERNEL_INT_GRADS, \
     .backward = fn##_grad_##suffix}
#define DEFS(suffix)                                                        \
    K("", "Cast", float, suffix),                                           \
    K("", "ConvInteger", convinteger, suffix),                              \
    K("", "DequantizeLinear", dequantizelinear, suffix),                    \
    K("", "DynamicQuantizeLinear", dynamicquantizelinear, suffix),          \
    K("", "Flatten", float, suffix),                                        \
    K("", "Gather", float, suffix),                                         \
    K("", "Identity", float, suffix),                                       \
    K("", "MatMulInteger", matmulinteger, suffix),                          \
    K("", "MaxPool", maxpool, suffix),                                      \
    K("", "QLinearConv", qlinearconv, suffix),                              \
    K("", "QLinearMatMul", qlinearmatmul, suffix),                          \
    K("", "QuantizeLinear", quantizelinear, suffix),                        \
    K("", "Reshape", float, suffix),                                        \
    K("", "Squeeze", float, suffix),                                        \
    K("", "Transpose", float, suffix),                                      \
    K("", "Unsqueeze", float, suffix),                                      \
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
