/* Attribute decoding shared by shape inference and every engine's kernels,
 * so that the geometry of a Conv or a pool is computed in exactly one place. */
#ifndef FC_OPATTR_H
#define FC_OPATTR_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/fc_status.h"
#include "../core/fc_tensor.h"
#include "fc_ir.h"

#define FC_MAX_SPATIAL 3

/* Window geometry of Conv, MaxPool, AveragePool (N-d, up to 3 spatial dims).
 * Input layout [N, C, D1..Dk]; pads are begin/end per spatial axis, already
 * resolved from auto_pad (SAME_UPPER, SAME_LOWER, VALID, NOTSET). */
typedef struct fc_window {
    int nsp;                              /* number of spatial dims, 1..3 */
    int64_t in[FC_MAX_SPATIAL];           /* input spatial dims */
    int64_t kernel[FC_MAX_SPATIAL];
    int64_t stride[FC_MAX_SPATIAL];
    int64_t dilation[FC_MAX_SPATIAL];
    int64_t pad_begin[FC_MAX_SPATIAL];
    int64_t pad_end[FC_MAX_SPATIAL];
    int64_t out[FC_MAX_SPATIAL];          /* output spatial dims */
    bool ceil_mode;                       /* pools only */
    bool count_include_pad;               /* AveragePool only */
} fc_window;

/* Decodes kernel_shape (or takes `kernel` when the op gets it from the
 * weight, i.e. Conv: pass the weight's spatial dims; pools: pass NULL),
 * strides, dilations, pads, auto_pad, ceil_mode, count_include_pad, and
 * computes the output dims with ONNX's formulas.  Fails with FC_ERR_SHAPE on
 * non-positive strides/dilations/kernel, negative pads, or an empty output. */
fc_status fc_window_decode(const fc_node *node, int nsp, const int64_t *in_spatial,
                           const int64_t *kernel, bool is_pool, fc_window *w,
                           fc_err *err);

/* Numpy-style broadcast of two shapes into out (rank = max).  FC_ERR_SHAPE
 * when incompatible. */
fc_status fc_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b,
                             int *rout, int64_t *out, fc_err *err);

/* Normalises an axis in [-rank, rank-1] to [0, rank-1]; FC_ERR_SHAPE outside. */
fc_status fc_axis_normalize(int64_t axis, int rank, int *out, fc_err *err);

#endif
