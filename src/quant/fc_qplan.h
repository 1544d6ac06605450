/* The quantizer's plan (fc_qplan.c) and the rewrite that carries it out
 * (fc_qrewrite.c): which nodes run quantized, which values get a Q/DQ
 * pair and with which scale.  Internal to src/quant.
 *
 * Value and node indices are those of the fp32 graph; the rewrite works on
 * a clone, which keeps them (new values are appended, unused ones are
 * compacted away at the very end). */
#ifndef FC_QPLAN_H
#define FC_QPLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "fc_calib.h"
#include "fc_quantize.h"

enum { FC_QR_FLOAT = 0, FC_QR_COMPUTE, FC_QR_MOVE, FC_QR_FOLDED };   /* node roles */
enum { FC_QK_NONE = 0, FC_QK_ACT, FC_QK_WEIGHT, FC_QK_BIAS, FC_QK_CONST };   /* input kinds */

typedef struct fc_qplan {
    const fc_graph *g;
    fc_quant_options opt;     /* with defaults filled in */
    bool per_channel;         /* per-channel weights (asked for, and opset >= 13) */
    fc_calib_stats s;
    int *readers;             /* per value: node inputs reading it */
    char *role;               /* per node: FC_QR_* */
    int *fold_out;            /* per node: the output of its removed activation, else -1 */
    int *param_of;            /* per value: -1 (stays float) or the value whose scale it uses */
    float *scale;             /* per value with param_of[v] == v */
    uint8_t *zp;
    fc_quant_summary sum;
} fc_qplan;

/* Kinds of node i's inputs (kinds has n_inputs entries) and its weight
 * axis (-1 per tensor) when node i can run quantized; false otherwise. */
bool fc_qplan_classify(const fc_qplan *p, int i, int *kinds, int *axis);

/* Checks the inputs, calibrates, decides roles and computes the scales. */
fc_status fc_qplan_build(fc_qplan *p, const fc_graph *g, const fc_tensor *calib,
                         const fc_quant_options *opt, fc_err *err);
void fc_qplan_free(fc_qplan *p);

/* The QDQ graph for a built plan (*out owned by the caller). */
fc_status fc_qplan_rewrite(fc_qplan *p, fc_graph **out, fc_err *err);

#endif
