/* fc_graph -> ONNX file: the writer behind `flipcheck quantize` (and any
 * tool that saves a rewritten graph).
 *
 * Writes a ModelProto with protobuf-c from the same generated bindings the
 * loader uses: ir_version, opset imports (the default domain, plus
 * com.microsoft when the graph uses it), nodes with their attributes,
 * initializers as raw_data (little-endian), graph inputs/outputs with their
 * element type and shape (a -1 dim is written as a symbolic dim: "N" on
 * axis 0, "d<k>" elsewhere; rank -1 as no shape).  Values whose data the
 * loader took from Constant nodes are written as initializers, which load
 * back as the same values.  ir_version is the graph's (8 when unknown), at
 * least 4 (the first where initializers need not be graph inputs);
 * producer_name is "flipcheck".  fc_onnx_load() of the written file gives
 * back an equivalent graph: same nodes, values and data, bit for bit.
 *
 * Refused with FC_ERR_UNSUPPORTED naming the node: attributes whose content
 * the IR does not keep (subgraphs, string lists).  FC_ERR_INVALID_ARG: a
 * graph whose indices are out of range or a node reading a value nothing
 * provides.
 *
 * Ownership: the graph is only read.  fc_onnx_serialize hands the caller a
 * buffer to release with fc_free. */
#ifndef FC_ONNX_WRITE_H
#define FC_ONNX_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/fc_status.h"
#include "fc_ir.h"

/* The serialized ModelProto in *bytes (fc_malloc'd, caller frees), *len. */
fc_status fc_onnx_serialize(const fc_graph *g, uint8_t **bytes, size_t *len, fc_err *err);

/* Serializes and writes to path atomically (a temporary file in the same
 * folder, then rename), so a failed write never leaves half a model.
 * FC_ERR_IO names the path when it cannot be written. */
fc_status fc_onnx_save(const fc_graph *g, const char *path, fc_err *err);

#endif
