/* What an engine implementer sees: the kernel signature and the per-engine
 * op table.  Kernels never allocate their outputs (the executor does, with
 * the shapes of the plan) and take scratch memory from the workspace. */
#ifndef FC_KERNEL_H
#define FC_KERNEL_H

#include <stddef.h>

#include "../core/fc_status.h"
#include "../core/fc_tensor.h"
#include "../onnx/fc_ir.h"

/* Scratch buffers owned by the engine, reused across nodes and runs.
 * fc_workspace_get returns at least `bytes` bytes for slot 0..3, valid until
 * the next call for the same slot; contents are not preserved; NULL on
 * allocation failure (then return FC_ERR_NOMEM). */
typedef struct fc_workspace fc_workspace;
#define FC_WORKSPACE_SLOTS 4
void *fc_workspace_get(fc_workspace *ws, int slot, size_t bytes);

typedef struct fc_kernel_ctx {
    const fc_node *node;
    const fc_tensor *const *in;   /* n_in entries, NULL for omitted optional inputs */
    int n_in;
    fc_tensor *const *out;        /* n_out entries, allocated (zeroed) with inferred
                                     dtype and dims; NULL for omitted outputs */
    int n_out;
    fc_workspace *ws;
    /* Activation the executor fused into this node (only for kernels whose
     * def has FC_KERNEL_FUSES_ACTIVATION): apply clamp(y, act_min, act_max)
     * to every output element after bias.  Relu is [0, +inf], Clip/ReLU6 is
     * [min, max].  act == FC_ACT_NONE means nothing to apply. */
    enum { FC_ACT_NONE = 0, FC_ACT_CLAMP = 1 } act;
    float act_min, act_max;
} fc_kernel_ctx;

/* Computes the node's outputs.  Shapes were validated by the op's infer
 * function; kernels fail only for dtypes they do not implement
 * (FC_ERR_UNSUPPORTED) or allocation failure. */
typedef fc_status (*fc_forward_fn)(const fc_kernel_ctx *k, fc_err *err);

#define FC_KERNEL_FUSES_ACTIVATION 1u  /* kernel honours fc_kernel_ctx.act */
/* The backward takes gradients of uint8/int8/int32 tensors (the int8
 * engines' straight-through estimator, see fc_backward_fn). */
#define FC_KERNEL_INT_GRADS 2u

/* Backward pass of one node (gradients with respect to its inputs).
 *
 * in/out are the tensors of the forward pass (all kept alive for the
 * backward pass).  gout[j] is dLoss/d out[j] (same shape as out[j]), NULL
 * when no gradient reaches that output.  gin[i] is dLoss/d in[i], NULL when
 * no gradient is wanted for that input (weights, constants, integer
 * tensors); when non-NULL it is a float32 tensor of in[i]'s shape into which
 * the kernel ADDS its contribution (a value read by several nodes sums the
 * gradients of all of them).
 *
 * Fused activations: when the executor fused a Relu/Clip into a producer,
 * the producer's out[0] already holds the clamped values and the Relu/Clip
 * node's backward runs on its own (in[0] and out[0] then hold the same,
 * clamped, data), so activation backward kernels must derive their mask
 * from out[0] (y > 0 for Relu, lo < y < hi for Clip), never from in[0].
 *
 * Integer tensors: in an engine whose own table has FC_KERNEL_INT_GRADS
 * kernels (q8, q8-ref) uint8, int8 and int32 values that depend on the
 * input carry gradients too, always float32, in units of the stored
 * integer: dLoss/dq with q read as a real number.  Only kernels with the
 * flag are handed such gradients (the executor refuses the others), and
 * each converts at its own quantization parameters: QuantizeLinear's
 * backward is dx = dq / scale, DequantizeLinear's dq = dx * scale,
 * QLinearConv's dx_q = x_scale * ConvT(dy_q * mask / y_scale).  Per unit
 * of the integer rather than of the real value (q - zp) * scale because
 * ConvInteger and MatMulInteger do not know their inputs' scales; the
 * chain rule makes the gradient of the float input the same either way. */
typedef struct fc_grad_ctx {
    const fc_node *node;
    const fc_tensor *const *in;
    int n_in;
    const fc_tensor *const *out;
    int n_out;
    const fc_tensor *const *gout;
    fc_tensor *const *gin;
    fc_workspace *ws;
} fc_grad_ctx;

typedef fc_status (*fc_backward_fn)(const fc_grad_ctx *k, fc_err *err);

typedef struct fc_kernel_def {
    const char *domain;           /* "" for ONNX ops */
    const char *name;
    fc_forward_fn forward;
    unsigned flags;               /* FC_KERNEL_* */
    fc_backward_fn backward;      /* NULL: no gradient through this op */
} fc_kernel_def;

typedef struct fc_kernel_table {
    const char *engine;           /* "f32", "f32-ref", "q8", "q8-ref" */
    const fc_kernel_def *defs;
    int count;
    /* Where ops missing from defs are looked up (NULL: nowhere).  The int8
     * engines run the float ops of a quantized model (Softmax, the float
     * islands between DequantizeLinear and QuantizeLinear, the Cast/Mul/Add
     * of dynamically quantized models) with the fp32 kernels. */
    const struct fc_kernel_table *fallback;
} fc_kernel_table;

extern const fc_kernel_table fc_kernels_f32_ref;   /* src/engines/ref/ */
extern const fc_kernel_table fc_kernels_f32;       /* src/engines/f32/ */
extern const fc_kernel_table fc_kernels_q8_ref;    /* src/engines/q8/, falls back to f32-ref */
extern const fc_kernel_table fc_kernels_q8;        /* src/engines/q8/, falls back to f32 */

#endif
