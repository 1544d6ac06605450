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
    fc_calib_stats s;         /* owned, or borrowed (fc_qplan_build_with) */
    bool borrowed_stats;
    const float *range_lo, *range_hi;   /* borrowed ranges per value, or NULL */
    bool *keep;               /* per value: named in opt.keep_float (or written by a named node) */
    int *readers;             /* per value: node inputs reading it */
    int *reader;              /* per value: the last node reading it */
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

/* Calibration for many plans on the same data (the mixed-precision
 * repair, fc_repair.h): the min/max pass and, for percentile and entropy,
 * histograms of every float activation (not only those one plan
 * quantizes, since keeping layers in float changes which values own a
 * scale), and every activation's range under the method, computed once
 * (an entropy threshold is a search over the histogram: about 0.1 s per
 * value, the bulk of a repair step otherwise). */
typedef struct fc_qplan_stats {
    fc_calib_stats s;
    float *lo, *hi;           /* per value; [0, 0] for values that are not activations */
} fc_qplan_stats;

/* *st is the caller's (fc_qplan_stats_free), also on failure. */
fc_status fc_qplan_calibrate(const fc_graph *g, const fc_tensor *calib,
                             const fc_quant_options *opt, fc_qplan_stats *st, fc_err *err);
void fc_qplan_stats_free(fc_qplan_stats *st);   /* leaves *st empty */

/* fc_qplan_build on statistics from fc_qplan_calibrate (same graph, same
 * method and percentile): no engine runs.  The plan borrows *st, which
 * must outlive it.  Same scales as fc_qplan_build gives for the same
 * options. */
fc_status fc_qplan_build_with(fc_qplan *p, const fc_graph *g, const fc_qplan_stats *st,
                              const fc_quant_options *opt, fc_err *err);

/* The QDQ graph for a built plan (*out owned by the caller). */
fc_status fc_qplan_rewrite(fc_qplan *p, fc_graph **out, fc_err *err);

#endif
