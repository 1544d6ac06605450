/* The f32-ref kernel table: one entry per ONNX op the oracle engine runs.
 * No entry fuses activations (flags = 0), so the executor never fuses for
 * f32-ref and every Relu/Clip runs as its own node. */
#include "ref_internal.h"

#define REF(op, fn) {.domain = "", .name = op, .forward = fn, .flags = 0}

static const fc_kernel_def defs[] = {
    REF("Add", fc_ref_add),
    REF("AveragePool", fc_ref_averagepool),
    REF("BatchNormalization", fc_ref_batchnorm),
    REF("Cast", fc_ref_cast),
    REF("Clip", fc_ref_clip),
    REF("Concat", fc_ref_concat),
    REF("Constant", fc_ref_constant),
    REF("ConstantOfShape", fc_ref_constantofshape),
    REF("Conv", fc_ref_conv),
    REF("Div", fc_ref_div),
    REF("Dropout", fc_ref_dropout),
    REF("Flatten", fc_ref_copy),
    REF("Gather", fc_ref_gather),
    REF("Gemm", fc_ref_gemm),
    REF("GlobalAveragePool", fc_ref_globalaveragepool),
    REF("GlobalMaxPool", fc_ref_globalmaxpool),
    REF("Identity", fc_ref_copy),
    REF("LeakyRelu", fc_ref_leakyrelu),
    REF("LogSoftmax", fc_ref_logsoftmax),
    REF("MatMul", fc_ref_matmul),
    REF("MaxPool", fc_ref_maxpool),
    REF("Mul", fc_ref_mul),
    REF("Pad", fc_ref_pad),
    REF("ReduceMean", fc_ref_reducemean),
    REF("Relu", fc_ref_relu),
    REF("Reshape", fc_ref_copy),
    REF("Shape", fc_ref_shape),
    REF("Sigmoid", fc_ref_sigmoid),
    REF("Softmax", fc_ref_softmax),
    REF("Squeeze", fc_ref_copy),
    REF("Sub", fc_ref_sub),
    REF("Tanh", fc_ref_tanh),
    REF("Transpose", fc_ref_transpose),
    REF("Unsqueeze", fc_ref_copy),
};

const fc_kernel_table fc_kernels_f32_ref = {
    .engine = "f32-ref",
    .defs = defs,
    .count = (int)(sizeof defs / sizeof defs[0]),
};
