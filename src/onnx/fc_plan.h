/* Shape inference and constant folding: a graph specialised to concrete
 * input shapes.
 *
 * Why per concrete shape: PyTorch exports compute reshape targets from
 * x.shape[0] (Shape -> Gather -> Unsqueeze -> Concat -> Reshape).  With the
 * batch size known, that subgraph folds to constants, so engines only ever
 * see static shapes.  Engines cache one plan per input shape.
 *
 * The op table (fc_op_def, one entry per supported op) lives here because
 * shape inference belongs to the IR; engines register their forward (and
 * later backward) kernels in their own tables keyed by the same names. */
#ifndef FC_PLAN_H
#define FC_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/fc_status.h"
#include "../core/fc_tensor.h"
#include "fc_ir.h"

/* What is known about one value for one run. */
typedef struct fc_vinfo {
    fc_dtype dtype;
    int rank;                      /* always >= 0 after successful inference */
    int64_t dims[FC_MAX_RANK];     /* concrete, >= 0 */
    const fc_tensor *value;        /* constant contents (initializer or folded), or NULL */
} fc_vinfo;

/* Shape inference for one node: fill out[0..n_outputs-1] dtype/rank/dims
 * from in[0..n_inputs-1] (in[i] is NULL for an omitted optional input).
 * in[i]->value is non-NULL when that input is constant (weights, shape
 * tensors).  Must validate everything a kernel relies on (ranks, attribute
 * ranges, broadcastability) and fail with FC_ERR_SHAPE / FC_ERR_UNSUPPORTED
 * naming the problem; the caller prefixes the node label. */
typedef fc_status (*fc_infer_fn)(const fc_node *node, const fc_vinfo *const *in,
                                 fc_vinfo *out, fc_err *err);

/* Constant folding: compute out[] (owned tensors, shapes as inferred) from
 * constant inputs.  Only ops that move small integer shape data have one. */
typedef fc_status (*fc_fold_fn)(const fc_node *node, const fc_vinfo *const *in,
                                const fc_vinfo *out_info, fc_tensor *out, fc_err *err);

typedef struct fc_op_def {
    const char *domain;            /* "" or "com.microsoft" */
    const char *name;              /* op_type */
    fc_infer_fn infer;
    fc_fold_fn fold;               /* NULL if never folded */
} fc_op_def;

/* The op definition for (domain, op_type), or NULL if flipcheck does not
 * support the op.  "ai.onnx" is treated as "". */
const fc_op_def *fc_op_find(const char *domain, const char *op_type);
/* All definitions (sorted by name, then domain), for `info` and tests. */
const fc_op_def *fc_op_table(int *count);

typedef struct fc_plan {
    const fc_graph *graph;         /* borrowed; must outlive the plan */
    fc_vinfo *vals;                /* n_values entries, indexed like graph->values */
    fc_tensor *folded;             /* n_values entries; data != NULL where folded here (owned) */
    bool *node_folded;             /* n_nodes: true if the node need not run */
} fc_plan;

/* Specialises g to the given shapes of its run-time inputs (in graph input
 * order; dtype/rank/dims are read, and `value` when non-NULL: the contents
 * of an integer input that may carry shape data, borrowed for the plan's
 * lifetime and exposed as vals[v].value).  Checks each against the declared
 * input (rank, dtype, fixed dims) and every op against the table.
 * On success *out is owned by the caller (fc_plan_free). */
fc_status fc_plan_create(const fc_graph *g, const fc_vinfo *inputs, int n_inputs,
                         fc_plan **out, fc_err *err);
void fc_plan_free(fc_plan *p);

/* Shapes for a "probe" batch: every symbolic input dim set to `batch`.
 * Used by `info` and load-time validation. */
fc_status fc_plan_create_probe(const fc_graph *g, int64_t batch, fc_plan **out,
                               fc_err *err);

/* Estimated floating-point (or integer) operations of one run of the plan:
 * 2 per multiply-accumulate of convolutions and matrix products, the
 * window size per pooled output, one per output element of anything else. */
double fc_plan_flops(const fc_plan *p);

#endif
