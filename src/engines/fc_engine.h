/* The engine interface: what every engine (f32, f32-ref, and later q8,
 * q8-ref) offers to the CLI, attacks and suites.
 *
 * Lifecycle: fc_engine_create (from a loaded graph) -> fc_engine_run (any
 * number of times, any batch size) -> fc_engine_free.  The engine borrows the
 * graph: the graph must outlive it.  An engine is not thread-safe; create one
 * per thread. */
#ifndef FC_ENGINE_H
#define FC_ENGINE_H

#include "../core/fc_status.h"
#include "../core/fc_tensor.h"
#include "../onnx/fc_ir.h"

#include <stdint.h>

typedef struct fc_engine fc_engine;

/* kind: "f32" (OpenBLAS), "f32-ref" (plain loops, double accumulation),
 * "q8" or "q8-ref" (int8 kernels; see below).
 * Fails with FC_ERR_UNSUPPORTED naming the first node whose op the engine
 * lacks, FC_ERR_INVALID_ARG for an unknown kind. */
fc_status fc_engine_create(const fc_graph *g, const char *kind, fc_engine **out,
                           fc_err *err);

/* Runs the graph.  inputs: one tensor per run-time graph input, in graph
 * order (g->inputs).  outputs: an array of n_outputs tensors (== g->n_outputs)
 * that the call fills with owned tensors; the caller releases each with
 * fc_tensor_release, on success only (on failure none is left allocated).
 * A model whose batch dimension is fixed to 1 given a batch of N is run
 * image by image and its outputs are concatenated along axis 0. */
fc_status fc_engine_run(fc_engine *e, const fc_tensor *inputs, int n_inputs,
                        fc_tensor *outputs, int n_outputs, fc_err *err);

void fc_engine_free(fc_engine *e);   /* NULL allowed */
const char *fc_engine_kind(const fc_engine *e);

/* ---- observing intermediate values ----------------------------------
 * Calibration, the per-layer comparison and layer dumps need every
 * intermediate tensor, which a run normally frees as soon as its last
 * reader is done.  An observer is called once for each value a node
 * computes, right after the node ran, with the engine's graph (for the
 * int8 engines: the QDQ-fused copy, see fc_engine_graph) and the value's
 * index.  The tensor is borrowed for the duration of the call only.
 * Returning non-zero stops the run with that status (the observer sets
 * err itself).  While an observer is set the engine does not fuse
 * activations into their producers, so every value holds exactly what the
 * graph says it holds.  Pass cb = NULL to remove it (fusion comes back).
 * Models run image by image (batch fixed to 1) call it once per image. */
typedef fc_status (*fc_value_observer)(const fc_graph *g, int node, int value,
                                       const fc_tensor *t, void *user, fc_err *err);
void fc_engine_set_observer(fc_engine *e, fc_value_observer cb, void *user);
/* The graph the engine runs (the caller's, or the int8 engines' fused copy;
 * owned by the engine or the caller as explained above). */
const fc_graph *fc_engine_graph(const fc_engine *e);

/* ---- gradients (fc_engine_grad.c) ----------------------------------- */

/* Losses on the logits z of each image (true label y, or target t):
 *   FC_LOSS_CE           logsumexp(z) - z[y]   (untargeted attacks ascend it)
 *   FC_LOSS_CE_TARGETED  logsumexp(z) - z[t]   (targeted attacks descend it)
 *   FC_LOSS_MARGIN       max_{j != y} z[j] - z[y]  (> 0 means misclassified) */
typedef enum fc_loss_kind {
    FC_LOSS_CE = 0,
    FC_LOSS_CE_TARGETED = 1,
    FC_LOSS_MARGIN = 2,
} fc_loss_kind;

typedef struct fc_loss {
    fc_loss_kind kind;
    const int64_t *labels;   /* N labels: true ones, or the targets for CE_TARGETED */
} fc_loss;

/* What the first graph output is.  When the model ends in Softmax or
 * LogSoftmax (over the last axis), losses use that node's input as logits,
 * which gives the loss on the model's log-probabilities exactly and without
 * the round trip through log(softmax). */
typedef enum fc_output_kind {
    FC_OUT_LOGITS = 0,
    FC_OUT_SOFTMAX = 1,
    FC_OUT_LOGSOFTMAX = 2,
} fc_output_kind;

/* The kind of g's first output, and (if logits_value is not NULL) the value
 * index that holds the logits. */
fc_output_kind fc_graph_output_kind(const fc_graph *g, int *logits_value);

/* Gradient of sum_i loss_i with respect to the model's single float input.
 * input: [N, ...] as for fc_engine_run.  On success: *grad (owned, same shape
 * as input), *logits (owned [N, C], may be NULL if not wanted) and *loss_sum
 * (may be NULL).  Fails with FC_ERR_UNSUPPORTED naming an op that has no
 * backward in this engine, or a model that is not a single-input classifier.
 *
 * On q8 and q8-ref the gradient is the straight-through estimator (STE) of
 * the int8 model (src/engines/q8/q8_grad.h):
 *  - the forward pass, hence *logits and *loss_sum, is the engine's own,
 *    bit-identical to fc_engine_run on the same batch;
 *  - backward, each quantization q = saturate(round(v / s) + z) counts as
 *    the identity on the real value (q - z) * s where the saturation is
 *    inactive and as 0 where it clamps (rounding has derivative 1,
 *    saturation 0; an integer op's output at qmin or qmax counts as
 *    clamped, which covers the Relu / ReLU6 folded into it);
 *  - every integer op (QLinearConv, QGemm, QLinearMatMul, QLinearAdd,
 *    QLinear(Global)AveragePool, QLinearConcat, ConvInteger,
 *    MatMulInteger, and MaxPool / Flatten / Reshape ... on 8-bit tensors)
 *    passes the gradient of the equivalent float op at its dequantized
 *    inputs and weights (q8-ref with f32-ref's backward kernels, q8 with
 *    f32's, so the two agree to float rounding);
 *  - scales and zero points are constants, also the run-time ones of
 *    DynamicQuantizeLinear.
 * So the gradient reaching the float input through the first
 * QuantizeLinear is dL/d(its real output) wherever the input lies inside
 * the representable range, 0 outside. */
fc_status fc_engine_grad(fc_engine *e, const fc_tensor *input, const fc_loss *loss,
                         fc_tensor *grad, fc_tensor *logits, double *loss_sum, fc_err *err);

/* The loss of one image and its gradient with respect to the logits z[0..c-1]
 * (dz may be NULL). Computed in double. Shared by the engine and tests. */
double fc_loss_eval(const fc_loss *loss, int64_t label, const float *z, int64_t c, float *dz);

/* A process-wide guard against models that are well-formed but enormous in
 * compute: a run whose plan needs more than `per_image` operations per
 * image (fc_plan_flops) fails with FC_ERR_LIMIT before any kernel runs.
 * 0 (the default) disables it.  Set once at start-up, before engines run
 * (the CLI's --max-flops); not synchronised. */
void fc_engine_set_max_flops(double per_image);

/* Names of all engine kinds, NULL-terminated. */
const char *const *fc_engine_kinds(void);
/* Whether fc_engine_create accepts `kind`.  Besides the four engines this
 * is "test-faulty" when the environment sets FLIPCHECK_TEST_FAULTS=1: the
 * f32 engine, except that a batch whose first value is NaN crashes the
 * process (SIGSEGV) and one whose first value is +Inf hangs.  It exists to
 * prove that the suites record crashes and hangs (tests/test_suites.c). */
bool fc_engine_kind_known(const char *kind);

/* For `info`: whether engine `kind` implements (domain, op_type).  The
 * int8 engines count the fp32 kernels they fall back to. */
int fc_engine_supports_op(const char *kind, const char *domain, const char *op_type);

/* ---- int8 engines (q8, q8-ref) ---------------------------------------
 * They run a QDQ model as ONNX Runtime does: at creation, each group
 * DequantizeLinear -> op -> QuantizeLinear that ONNX Runtime fuses becomes
 * one integer op (src/onnx/fc_qdq.h), in a copy of the graph the engine
 * owns (the caller's graph is still only borrowed).  Ops that are not
 * quantized run with the fp32 kernels (q8-ref: f32-ref's, q8: f32's). */

/* Number of QDQ groups fused into integer ops (0 for the fp32 engines and
 * for models without QDQ groups). */
int fc_engine_qdq_fused(const fc_engine *e);

/* The ops that run in float between a DequantizeLinear and a
 * QuantizeLinear after fusion ("float islands"), as a histogram "Mul 2,
 * Sigmoid 1" in buf (truncated to size; "" when none).  Returns the number
 * of such nodes, -1 on allocation failure. */
int fc_engine_float_islands(const fc_engine *e, char *buf, size_t size);

#endif
