/* Private to the op definitions (fc_ops_*.c) and the table in fc_plan.c:
 * the per-op infer/fold functions and the helpers they share.
 *
 * Conventions every infer function follows:
 *  - it checks the node's input/output counts first (fc_opi_io), so in[i]
 *    may be read for every i below the op's minimum input count;
 *  - it fills out[j] for every output the op can produce that the node
 *    lists (omitted outputs included: the caller ignores those);
 *  - messages name the problem only; fc_plan_create prefixes the node.
 *
 * A fold function may decline (e.g. Add on float data, which is kernel
 * math, not shape data) by returning FC_OK with out[0].data == NULL; the
 * node then runs in the engine as usual. */
#ifndef FC_OPS_INTERNAL_H
#define FC_OPS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fc_opattr.h"
#include "fc_plan.h"

#define FC_OP_INFER(name) \
    fc_status name(const fc_node *node, const fc_vinfo *const *in, fc_vinfo *out, fc_err *err)
#define FC_OP_FOLD(name)                                                                   \
    fc_status name(const fc_node *node, const fc_vinfo *const *in, const fc_vinfo *out_info, \
                   fc_tensor *out, fc_err *err)

/* fc_ops_nn.c */
FC_OP_INFER(fc_infer_conv);
FC_OP_INFER(fc_infer_gemm);
FC_OP_INFER(fc_infer_matmul);
FC_OP_INFER(fc_infer_maxpool);
FC_OP_INFER(fc_infer_averagepool);
FC_OP_INFER(fc_infer_global_pool);
FC_OP_INFER(fc_infer_batchnorm);
FC_OP_INFER(fc_infer_softmax);
FC_OP_INFER(fc_infer_reducemean);

/* fc_ops_elementwise.c */
FC_OP_INFER(fc_infer_binary);
FC_OP_FOLD(fc_fold_binary);
FC_OP_INFER(fc_infer_unary);
FC_OP_INFER(fc_infer_leakyrelu);
FC_OP_INFER(fc_infer_clip);

/* fc_ops_shape.c */
FC_OP_INFER(fc_infer_shape);
FC_OP_FOLD(fc_fold_shape);
FC_OP_INFER(fc_infer_gather);
FC_OP_FOLD(fc_fold_gather);
FC_OP_INFER(fc_infer_unsqueeze);
FC_OP_INFER(fc_infer_squeeze);
FC_OP_INFER(fc_infer_concat);
FC_OP_FOLD(fc_fold_concat);
FC_OP_INFER(fc_infer_reshape);
FC_OP_INFER(fc_infer_flatten);
FC_OP_FOLD(fc_fold_copy);      /* same bytes, new dims: Reshape, Flatten, (Un)Squeeze, Identity */

/* fc_ops_data.c */
FC_OP_INFER(fc_infer_transpose);
FC_OP_INFER(fc_infer_identity);
FC_OP_INFER(fc_infer_cast);
FC_OP_FOLD(fc_fold_cast);
FC_OP_INFER(fc_infer_dropout);
FC_OP_INFER(fc_infer_pad);
FC_OP_INFER(fc_infer_constant);
FC_OP_FOLD(fc_fold_constant);
FC_OP_INFER(fc_infer_constant_of_shape);
FC_OP_FOLD(fc_fold_constant_of_shape);

/* fc_ops_quant.c */
FC_OP_INFER(fc_infer_quantizelinear);
FC_OP_INFER(fc_infer_dequantizelinear);
FC_OP_INFER(fc_infer_dynamicquantizelinear);
FC_OP_INFER(fc_infer_matmulinteger);
FC_OP_INFER(fc_infer_qlinearmatmul);
FC_OP_INFER(fc_infer_qgemm);
FC_OP_INFER(fc_infer_convinteger);
FC_OP_INFER(fc_infer_qlinearconv);
FC_OP_INFER(fc_infer_qlinearadd);
FC_OP_INFER(fc_infer_qlinearglobalavgpool);
FC_OP_INFER(fc_infer_qlinearavgpool);
FC_OP_INFER(fc_infer_qlinearconcat);

/* fc_ops_common.c: helpers */

/* Checks min_in <= n_inputs <= max_in with inputs 0..min_in-1 present, and
 * 1 <= n_outputs <= max_out. */
fc_status fc_opi_io(const fc_node *node, const fc_vinfo *const *in, int min_in, int max_in,
                    int max_out, fc_err *err);
/* Input i when the node lists it and it is not omitted, else NULL. */
const fc_vinfo *fc_opi_opt(const fc_node *node, const fc_vinfo *const *in, int i);
/* True when output j is listed and not omitted. */
bool fc_opi_has_out(const fc_node *node, int j);

void fc_opi_set(fc_vinfo *out, fc_dtype dt, int rank, const int64_t *dims);
void fc_opi_same(fc_vinfo *out, const fc_vinfo *in);

bool fc_opi_is_float(fc_dtype dt);          /* F32, F64 */
bool fc_opi_is_int(fc_dtype dt);            /* U8, I8, I32, I64 */
size_t fc_opi_numel(const fc_vinfo *v);     /* product of (already validated) dims */

/* FC_ERR_SHAPE unless `v` has a float dtype; `what` names the input. */
fc_status fc_opi_need_float(const fc_vinfo *v, const char *what, fc_err *err);
/* FC_ERR_SHAPE unless a and b share a dtype. */
fc_status fc_opi_same_dtype(const fc_vinfo *a, const char *what_a, const fc_vinfo *b,
                            const char *what_b, fc_err *err);
/* FC_ERR_SHAPE unless v has rank r. */
fc_status fc_opi_need_rank(const fc_vinfo *v, int r, const char *what, fc_err *err);

/* Reads a constant int64/int32 tensor input of at most `max` elements into
 * vals.  FC_ERR_UNSUPPORTED when it is not constant: `role` names what the
 * input decides ("output shape") and `input` its ONNX name ("shape"). */
fc_status fc_opi_const_ints(const fc_vinfo *v, const char *role, const char *input,
                            size_t max, int64_t *vals, size_t *n, fc_err *err);

/* Normalises a list of axes against `rank` into a bitmask; FC_ERR_SHAPE on
 * a repeated or out-of-range axis. */
fc_status fc_opi_axes_mask(const int64_t *axes, size_t n, int rank, unsigned *mask,
                           fc_err *err);

/* Allocates out for the inferred info (owned). */
fc_status fc_opi_fold_alloc(fc_tensor *out, const fc_vinfo *info, fc_err *err);
/* Stores v into element i of an integer tensor with two's-complement
 * wraparound (the rule the engines use). */
void fc_opi_store_int(fc_tensor *t, size_t i, int64_t v);

#endif
