/* The f32-ref kernel table: one entry per ONNX op the oracle engine runs,
 * with its backward kernel (ref_grad_*.c) when gradients flow through it.
 * No entry fuses activations (flags = 0), so the executor never fuses for
 * f32-ref and every Relu/Clip runs as its own node.  Shape, Constant and
 * ConstantOfShape have no float input to pass a gradient to. */
#include "ref_internal.h"

#define REF(op, fn, grad) {.domain = "", .name = op, .forward = fn, .flags = 0, .backward = grad}

static const fc_kernel_def defs[] = {
    REF("Add", fc_ref_add, fc_ref_add_grad),
    REF("AveragePool", fc_ref_averagepool, fc_ref_averagepool_grad),
    REF("BatchNormalization", fc_ref_batchnorm, fc_ref_batchnorm_grad),
    REF("Cast", fc_ref_cast, fc_ref_cast_grad),
    REF("Clip", fc_ref_clip, fc_ref_clip_grad),
    REF("Concat", fc_ref_concat, fc_ref_concat_grad),
    REF("Constant", fc_ref_constant, NULL),
    REF("ConstantOfShape", fc_ref_constantofshape, NULL),
    REF("Conv", fc_ref_conv, fc_ref_conv_grad),
    REF("Div", fc_ref_div, fc_ref_div_grad),
    REF("Dropout", fc_ref_dropout, fc_ref_dropout_grad),
    REF("Flatten", fc_ref_copy, fc_ref_copy_grad),
    REF("Gather", fc_ref_gather, fc_ref_gather_grad),
    REF("Gemm", fc_ref_gemm, fc_ref_gemm_grad),
    REF("GlobalAveragePool", fc_ref_globalaveragepool, fc_ref_globalaveragepool_grad),
    REF("GlobalMaxPool", fc_ref_globalmaxpool, fc_ref_globalmaxpool_grad),
    REF("Identity", fc_ref_copy, fc_ref_copy_grad),
    REF("LeakyRelu", fc_ref_leakyrelu, fc_ref_leakyrelu_grad),
    REF("LogSoftmax", fc_ref_logsoftmax, fc_ref_logsoftmax_grad),
    REF("MatMul", fc_ref_matmul, fc_ref_matmul_grad),
    REF("MaxPool", fc_ref_maxpool, fc_ref_maxpool_grad),
    REF("Mul", fc_ref_mul, fc_ref_mul_grad),
    REF("Pad", fc_ref_pad, fc_ref_pad_grad),
    REF("ReduceMean", fc_ref_reducemean, fc_ref_reducemean_grad),
    REF("Relu", fc_ref_relu, fc_ref_relu_grad),
    REF("Reshape", fc_ref_copy, fc_ref_copy_grad),
    REF("Shape", fc_ref_shape, NULL),
    REF("Sigmoid", fc_ref_sigmoid, fc_ref_sigmoid_grad),
    REF("Softmax", fc_ref_softmax, fc_ref_softmax_grad),
    REF("Squeeze", fc_ref_copy, fc_ref_copy_grad),
    REF("Sub", fc_ref_sub, fc_ref_sub_grad),
    REF("Tanh", fc_ref_tanh, fc_ref_tanh_grad),
    REF("Transpose", fc_ref_transpose, fc_ref_transpose_grad),
    REF("Unsqueeze", fc_ref_copy, fc_ref_copy_grad),
};

const fc_kernel_table fc_kernels_f32_ref = {
    .engine = "f32-ref",
    .defs = defs,
    .count = (int)(sizeof defs / sizeof defs[0]),
};
