/* Post-training static quantization: an fp32 graph + calibration inputs ->
 * a QDQ graph in the layout ONNX Runtime's quantize_static writes, which the
 * int8 engines fuse into integer ops (src/onnx/fc_qdq.h) and which
 * fc_onnx_save (src/onnx/fc_onnx_write.h) writes as a standard ONNX file.
 *
 * Weights: int8, symmetric, per output channel (or per tensor).  Bias:
 * int32 with scale = input scale * weight scale.  Activations: uint8,
 * asymmetric, per tensor, ranges from the calibration method:
 *   FC_CALIB_MINMAX      min and max seen over all calibration inputs
 *   FC_CALIB_PERCENTILE  the given percentile of |x| (e.g. 99.99)
 *   FC_CALIB_ENTROPY     the threshold minimising the KL divergence between
 *                        the histogram and its 8-bit quantization
 * (the details, and why entropy costs the small mobilenets accuracy:
 * fc_calib.h).  On the peer models, minmax gives ONNX Runtime's activation
 * scales to float rounding and its int8 weights bit for bit.  Our files
 * differ from its files only within the standard: shorter names, no zero
 * point inputs for int8 weights and int32 biases (0 is the default), and
 * a quantized Flatten of the graph input (below).
 *
 * Ownership: the input graph is only read; *out is a new graph the caller
 * frees with fc_graph_free. */
#ifndef FC_QUANTIZE_H
#define FC_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fc_status.h"
#include "core/fc_tensor.h"
#include "io/fc_config.h"   /* fc_calib_method */
#include "onnx/fc_ir.h"

typedef struct fc_quant_options {
    fc_calib_method method;   /* MINMAX (default when NONE), PERCENTILE, ENTROPY */
    double percentile;        /* PERCENTILE only; default 99.99 when 0 */
    bool per_tensor_weights;  /* false (default): one scale per output channel */
    int64_t batch;            /* calibration batch size; default 64 when 0 */
    /* Layers left in float (mixed precision, like ONNX Runtime's
     * nodes_to_exclude): names of fp32 values (the `layer` of
     * fc_layer_compare) or of nodes (meaning all their outputs).  A value
     * kept in float gets no QuantizeLinear/DequantizeLinear pair, so the
     * node writing it and every node reading it run in float (reading
     * dequantized inputs; their other values stay quantized): the int8
     * engines run them as float islands.  Borrowed; an unknown name fails
     * with FC_ERR_INVALID_ARG. */
    const char *const *keep_float;
    int n_keep_float;
} fc_quant_options;

/* Calibrates `fp32` on `calib` (model-input space, i.e. already
 * preprocessed: [N, ...] float32 matching the graph's single input) and
 * returns the QDQ graph.  Fails naming the model when it has no float
 * input, is already quantized, or the calibration data does not fit it.
 *
 * What gets quantized, as ONNX Runtime does it:
 *   - Conv, Gemm (alpha 1, beta 1 with a bias), MatMul, Add,
 *     GlobalAveragePool, AveragePool, Concat with float inputs: every
 *     activation input and the output get a QuantizeLinear ->
 *     DequantizeLinear pair (one pair per value, read by all its
 *     readers); constant weights become int8 initializers read through a
 *     DequantizeLinear (axis = the output channel: 0 for Conv and Gemm
 *     with transB, 1 for Gemm without and for 2-D MatMul weights), biases
 *     int32 initializers; a constant Add operand becomes uint8.
 *   - A Relu, or a Clip with constant bounds and min <= 0, that alone
 *     reads such an op's output is removed: the op writes the
 *     activation's output, whose calibrated range (never below the clip
 *     minimum, never above its maximum) the Q's saturation then enforces.
 *   - MaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze whose input
 *     is quantized get a pair on their output with the input's scale and
 *     zero point (the int8 engines then run them on the 8-bit tensor).
 *     Unlike ONNX Runtime, a Flatten/Reshape/Transpose/(Un)Squeeze whose
 *     output is quantized but whose input is not (the mlp's Flatten of
 *     the graph input) gets its input quantized with the same scale, so
 *     it too runs on 8 bits (same values: nothing changes but the op
 *     leaving float).
 *   - Everything else stays float, reading the dequantized values.
 * Graph outputs keep their name (the DequantizeLinear writes it) and
 * their min/max range whatever the method: clipping logits would make
 * the top classes tie.  Models with a default-domain opset below 13 get
 * per-tensor weights (per-axis DequantizeLinear needs opset 13); below
 * 10 there is no QuantizeLinear and they are refused. */
fc_status fc_quantize_graph(const fc_graph *fp32, const fc_tensor *calib,
                            const fc_quant_options *opt, fc_graph **out, fc_err *err);

/* What a quantization did, for the command line and the suites' reports. */
typedef struct fc_quant_summary {
    int64_t images;           /* calibration inputs run */
    int quantized_ops;        /* nodes between DequantizeLinear inputs and a QuantizeLinear */
    int folded_activations;   /* Relu / Clip removed into a Q's range */
    int float_ops;            /* nodes left in float (not counting removed ones) */
    int activations;          /* values given a QuantizeLinear/DequantizeLinear pair */
    int weights;              /* float initializers stored as int8/uint8 (biases: int32) */
} fc_quant_summary;

/* fc_quantize_graph that also fills *summary (may be NULL). */
fc_status fc_quantize_graph_ex(const fc_graph *fp32, const fc_tensor *calib,
                               const fc_quant_options *opt, fc_graph **out,
                               fc_quant_summary *summary, fc_err *err);

#endif
