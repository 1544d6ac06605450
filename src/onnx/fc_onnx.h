/* ONNX file -> fc_graph (fc_ir.h), and ONNX TensorProto files -> fc_tensor.
 *
 * Files are untrusted: every size is checked against fc_limits.h before it
 * is allocated, every index and name reference is validated, and any problem
 * is an fc_status with a message naming the file and the node or field.
 * External data is read only from inside the model's folder (no absolute
 * paths, no "..", no symlink that leads out). */
#ifndef FC_ONNX_H
#define FC_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "../core/fc_status.h"
#include "../core/fc_tensor.h"
#include "fc_ir.h"

/* Loads and validates a model: opset 7..17 for the default domain, known
 * value references, a DAG (cycles refused), topologically sorted nodes,
 * initializers decoded (raw_data or typed fields or external data), Constant
 * nodes turned into initializer-like values (fc_value.init).  Does not check
 * that ops are supported (fc_plan / engines do, naming the op).
 * On success *out is a new graph the caller frees with fc_graph_free. */
fc_status fc_onnx_load(const char *path, fc_graph **out, fc_err *err);

/* Same, from bytes in memory (fuzzing, tests).  `dir` is the folder used to
 * resolve external data; NULL refuses all external data. `label` names the
 * source in messages. */
fc_status fc_onnx_load_bytes(const uint8_t *bytes, size_t len, const char *dir,
                             const char *label, fc_graph **out, fc_err *err);

/* Reads a serialized onnx.TensorProto (.pb, the format of ONNX test data)
 * into an owned tensor (caller releases with fc_tensor_release). */
fc_status fc_onnx_read_tensor_pb(const char *path, fc_tensor *out, fc_err *err);

#endif
