/* flipcheck compare (cli_compare.c, cli_compare_out.c, cli_compare_layers.c)
 * and the layer dumps of `infer --dump-layers` (cli_dump.c).
 *
 * Dump format (docs/layer-dumps.md): DIR/index.json, an array in the order
 * the values were computed (topological), one object per tensor:
 *   {"name", "node", "op", "dtype", "shape", "file"[, "scale", "zero_point",
 *    "stands_for"]}
 * and DIR/<file> the tensor as .npy.  "file" is a plain file name inside
 * DIR made from the tensor name (never a path).  8-bit tensors carry their
 * quantization and, when known, the float tensor they stand for, so an
 * int8 dump compares with an fp32 one after dequantization. */
#ifndef CLI_COMPARE_H
#define CLI_COMPARE_H

#include <stdbool.h>

#include "core/fc_status.h"
#include "core/fc_tensor.h"
#include "engines/fc_engine.h"
#include "onnx/fc_ir.h"

/* Compares `ours` (an output) with the reference tensor file and prints;
 * returns the exit code (0 within max_abs everywhere, 1 not, 2 bad input). */
int cli_compare_outputs(const fc_tensor *ours, const char *model, const char *ref_path,
                        double max_abs, bool json);

/* Compares two dump folders; returns the exit code. */
int cli_compare_layers(const char *dir_a, const char *dir_b, double max_abs, bool json);

typedef struct cli_dump cli_dump;
/* Starts dumping every value e computes into dir (created).  orig is the
 * model's own graph (the int8 engines run a fused copy of it; value indices
 * are shared).  The engine must outlive the dump. */
fc_status cli_dump_start(const char *dir, const fc_graph *orig, fc_engine *e, cli_dump **out,
                         fc_err *err);
/* Writes index.json, removes the observer and frees the dump (NULL allowed).
 * `ok` false (the run failed) still frees but writes nothing. */
fc_status cli_dump_finish(cli_dump *d, bool ok, fc_err *err);

#endif
