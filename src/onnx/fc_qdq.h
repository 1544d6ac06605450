/* QDQ fusion: the graph rewrite with which the int8 engines run a QDQ
 * model (QuantizeLinear / DequantizeLinear around float ops, as ONNX
 * Runtime's quantize_static writes it) the way ONNX Runtime executes it.
 *
 * ONNX Runtime does not run such a model in float: its QDQ transformer
 * replaces each group "DequantizeLinear inputs -> op -> QuantizeLinear"
 * with one integer kernel.  fc_qdq_fuse does the same on a copy of the
 * graph:
 *
 *   DQ(x), DQ(w)[, DQ(int32 b)] -> Conv -> Q       => QLinearConv (b used as int32)
 *   DQ(a), DQ(b)[, DQ(int32 c)] -> Gemm [-> Q]     => com.microsoft.QGemm (float out without Q)
 *   DQ(a), DQ(b) -> MatMul -> Q                     => QLinearMatMul
 *   DQ(a), DQ(b) -> Add -> Q                        => com.microsoft.QLinearAdd
 *   DQ -> GlobalAveragePool -> Q                    => com.microsoft.QLinearGlobalAveragePool
 *   DQ -> AveragePool -> Q                          => com.microsoft.QLinearAveragePool
 *   DQ... -> Concat -> Q                            => com.microsoft.QLinearConcat
 *   DQ -> MaxPool | Flatten | Reshape | Transpose | Squeeze | Unsqueeze | Gather -> Q
 *      with equal scale and zero point (MaxPool: positive scale)
 *                                                   => the same op on the 8-bit tensor
 *
 * A Relu, or a Clip whose range the Q's saturation already enforces,
 * between the op and its Q is dropped as ONNX Runtime drops it.  Groups
 * must have constant scales and zero points (per tensor; weights also per
 * output channel), the op's output read only by its Q, and the integer
 * types ONNX Runtime's selectors accept.  Anything else stays as it is and
 * runs in float between its DQ and Q ("float islands").  DequantizeLinear
 * nodes left without readers are removed; the node order stays
 * topological (a fused op takes its op's place). */
#ifndef FC_QDQ_H
#define FC_QDQ_H

#include "../core/fc_status.h"
#include "fc_ir.h"

/* Rewrites a copy of `in` (which is not modified).  On success *n_fused is
 * the number of groups replaced and *out the rewritten graph, owned by the
 * caller (fc_graph_free); when no group matches, *out is NULL and *n_fused
 * 0: run `in` itself.  Fails only on allocation failure (FC_ERR_NOMEM). */
fc_status fc_qdq_fuse(const fc_graph *in, fc_graph **out, int *n_fused, fc_err *err);

#endif
