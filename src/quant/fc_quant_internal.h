/* Pieces of the quantizer shared between its files (not for other modules):
 * the arithmetic of scales and zero points (fc_qparams.c) and the graph
 * building blocks (fc_qgraph.c).  fc_quantize.c plans and rewrites.
 *
 * The arithmetic follows ONNX Runtime's quantize_static (quant_utils.py)
 * so that our files read like its files:
 *   activations  uint8, rmin = min(lo, 0), rmax = max(hi, 0),
 *                scale = (rmax - rmin) / 255 (in double, stored as float),
 *                zero point = round(-rmin / scale) (half to even);
 *                a scale below FLT_MIN (a constant-zero tensor) becomes 1
 *                with zero point 0, so the scale is always > 0
 *   weights      int8 symmetric over [-127, 127]: scale = max|w| / 127 per
 *                output channel (or per tensor), zero point 0,
 *                q = clamp(round(w / scale))  (float division, as numpy)
 *   biases       int32, scale = input scale * weight scale (float32
 *                product: exactly what the integer kernels assume),
 *                q = round(b / scale) saturated to int32
 *
 * Ownership: every fc_tensor out-parameter is allocated here and owned by
 * the caller (fc_tensor_release), also left empty on failure. */
#ifndef FC_QUANT_INTERNAL_H
#define FC_QUANT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fc_status.h"
#include "core/fc_tensor.h"
#include "onnx/fc_ir.h"

/* ---- fc_qparams.c ---- */

/* uint8 asymmetric scale and zero point for the real range [lo, hi]. */
void fc_qparams_u8(float lo, float hi, float *scale, uint8_t *zp);

/* Symmetric int8 quantization of a float32 weight: per channel along
 * `axis` (scale and zero point 1-D of dims[axis]), or per tensor when
 * axis < 0 (rank-0 scale and zero point). */
fc_status fc_qparams_weight(const fc_tensor *w, int axis, fc_tensor *q, fc_tensor *scale,
                            fc_tensor *zp, fc_err *err);

/* int32 bias for an op whose input has scale x_scale and whose weight
 * has scales w_scale (numel 1, or b->numel).  q is 1-D [b->numel]; scale
 * and zero point (int32 zeros) have w_scale's shape. */
fc_status fc_qparams_bias(const fc_tensor *b, float x_scale, const fc_tensor *w_scale,
                          fc_tensor *q, fc_tensor *scale, fc_tensor *zp, fc_err *err);

/* A float32 constant read where an activation is expected (an Add
 * operand): uint8 per tensor over its own min and max. */
fc_status fc_qparams_const_u8(const fc_tensor *c, fc_tensor *q, fc_tensor *scale, fc_tensor *zp,
                              fc_err *err);

/* ---- fc_qgraph.c ---- */

/* A node list under construction (it becomes the graph's nodes). */
typedef struct fc_qnodes {
    fc_node *v;
    int n, cap;
} fc_qnodes;

/* Appends *n, taking over what it owns (*n is zeroed). */
fc_status fc_qnodes_take(fc_qnodes *l, fc_node *n, fc_err *err);
/* Appends a new default-domain node op(ins) -> out with the given opset;
 * axis >= 0 adds the INT attribute "axis". */
fc_status fc_qnodes_add(fc_qnodes *l, const char *name, const char *op, int64_t opset,
                        const int *ins, int n_in, int out, int axis, fc_err *err);
void fc_qnodes_free(fc_qnodes *l);

/* Appends a value named base + suffix (made unique), an initializer
 * holding *init (taken over, also on failure) when init is not NULL. */
fc_status fc_qgraph_value(fc_graph *g, const char *base, const char *suffix, fc_tensor *init,
                          int *index, fc_err *err);

/* A rank-0 initializer value: float32 f, or uint8 u. */
fc_status fc_qgraph_scalar_f32(fc_graph *g, const char *base, const char *suffix, float f,
                               int *index, fc_err *err);
fc_status fc_qgraph_scalar_u8(fc_graph *g, const char *base, const char *suffix, uint8_t u,
                              int *index, fc_err *err);

/* Drops every value no node reads or writes and that is not a graph input
 * or output (the float weights that were replaced, outputs of folded
 * activations), renumbering the rest; recomputes producers. */
fc_status fc_qgraph_compact(fc_graph *g, fc_err *err);

#endif
