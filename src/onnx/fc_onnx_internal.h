/* Private to the ONNX loader (fc_onnx.c, fc_onnx_tensor.c). */
#ifndef FC_ONNX_INTERNAL_H
#define FC_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "onnx.pb-c.h"

#include "../core/fc_status.h"
#include "../core/fc_tensor.h"

/* What one load knows about where it reads from. */
typedef struct fc_onnx_ctx {
    const char *label;          /* the file, for messages */
    const char *dir;            /* folder for external data; NULL refuses it */
    uint64_t external_bytes;    /* read from external files so far (capped) */
} fc_onnx_ctx;

/* protobuf-c allocator on top of fc_malloc, so injected allocation failures
 * reach the unpacker too and are reported as FC_ERR_NOMEM, not as "parse". */
typedef struct fc_pb_alloc {
    ProtobufCAllocator base;
    bool failed;
} fc_pb_alloc;
void fc_pb_alloc_init(fc_pb_alloc *a);

/* TensorProto -> owned fc_tensor.  `what` names the tensor in messages
 * ("initializer 'conv1.weight'"). Raw data, typed fields or external data. */
fc_status fc_onnx_decode_tensor(fc_onnx_ctx *c, const Onnx__TensorProto *tp, const char *what,
                                fc_tensor *out, fc_err *err);

#endif
