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

typedef struct fc_engine fc_engine;

/* kind: "f32" (OpenBLAS) or "f32-ref" (plain loops, double accumulation).
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

/* Names of all engine kinds, NULL-terminated. */
const char *const *fc_engine_kinds(void);

/* For `info`: whether engine `kind` implements (domain, op_type). */
int fc_engine_supports_op(const char *kind, const char *domain, const char *op_type);

#endif
