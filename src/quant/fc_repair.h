/* Mixed-precision repair: quantize, and when the int8 model loses more
 * than `max_drop` accuracy on the (labelled) calibration data, keep the
 * most sensitive layers in float, one at a time, until it does not.
 *
 *   1. calibrate once (fc_qplan_calibrate: min/max, and histograms of
 *      every activation for percentile/entropy); every later step plans on
 *      these statistics, so no step recalibrates;
 *   2. fp32 accuracy (f32 engine) and full-int8 accuracy (the q8 engine on
 *      the QDQ graph) on the calibration inputs;
 *   3. rank the quantized layers of the full-int8 model (once) with
 *      fc_layer_compare on the same inputs, by one of (fc_repair_rank):
 *      ADDED_NOISE (default)  the relative error power a layer adds to
 *          what its inputs already carry: 10^(-SQNR/10) of the layer minus
 *          the largest of its nearest upstream layers' (a graph input, a
 *          weight, or an exact layer carry 0); largest first;
 *      SQNR  the layer's own SQNR, lowest first.
 *      Errors accumulate down the network, so the lowest SQNRs are the
 *      last layers whatever went wrong earlier: on the bundled mobilenet
 *      with entropy calibration, SQNR ranking keeps 9 layers (all but one
 *      op) in float before it reaches the one layer whose clipped range
 *      costs the 15 points, which ADDED_NOISE ranks first (docs/quantize.md);
 *   4. while the drop (fp32 accuracy - int8 accuracy) exceeds max_drop and
 *      a ranked layer is left: add the next one to opt.keep_float (see
 *      fc_quantize.h: the value gets no Q/DQ pair, its writer and readers
 *      run as float islands), rebuild, re-measure.
 * The first model that meets the target is the result.  When all ranked
 * layers are in float and it still misses, the result says so (met =
 * false) and holds no model: a model that misses the target it was asked
 * for is not handed out as if it met it.
 *
 * Ownership: the inputs are only read; the result's strings, steps and
 * model are owned by the result (fc_repair_result_free). */
#ifndef FC_REPAIR_H
#define FC_REPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fc_status.h"
#include "core/fc_tensor.h"
#include "fc_quantize.h"
#include "onnx/fc_ir.h"

typedef struct fc_repair_step {
    const char *layer;      /* the layer put in float at this step (the
                             * result's kept[]); NULL for step 0, full int8 */
    double sqnr_db;         /* its SQNR in the full-int8 model (0 for step 0) */
    double added_noise;     /* its ADDED_NOISE score (0 for step 0) */
    double accuracy;        /* int8 accuracy with kept[0 .. step-1] in float */
    double drop;            /* fp32 accuracy - accuracy */
    double seconds;         /* plan + rewrite + engine + evaluation */
} fc_repair_step;

typedef enum fc_repair_rank {
    FC_REPAIR_RANK_ADDED_NOISE = 0,
    FC_REPAIR_RANK_SQNR
} fc_repair_rank;

/* Called after each step (e.g. to print progress); may be NULL. */
typedef void (*fc_repair_progress)(const fc_repair_step *step, int index, void *user);

typedef struct fc_repair_opts {
    fc_quant_options quant;   /* its keep_float is the starting list (usually empty) */
    double max_drop;          /* allowed accuracy drop, a fraction (0.01 = 1 point); >= 0 */
    fc_repair_rank rank;
    const char *q8_engine;    /* engine measuring int8 accuracy; default "q8" */
    fc_repair_progress progress;
    void *user;
} fc_repair_opts;

typedef struct fc_repair_result {
    int64_t images;
    double fp32_accuracy;
    bool met;                 /* the last step's drop <= max_drop */
    int n_steps;              /* step 0 (full int8) and one per layer kept */
    fc_repair_step *steps;
    int n_kept;               /* == n_steps - 1 */
    char **kept;              /* the layers put in float, in order */
    int n_ranked;             /* layers the ranking had to offer */
    fc_graph *model;          /* met: the QDQ graph of the last step; else NULL */
    fc_quant_summary summary; /* of that model */
    double calib_seconds, rank_seconds, total_seconds;
} fc_repair_result;

/* calib: [N, ...] float32 model inputs (preprocessed); labels: N class
 * indices (argmax of the graph's first output).  Fails with
 * FC_ERR_INVALID_ARG on a bad max_drop or NULL labels, and with the
 * quantizer's, the comparison's and the engines' errors.  *out is zeroed
 * first; on failure nothing is left to free. */
fc_status fc_repair_quantize(const fc_graph *fp32, const fc_tensor *calib, const int64_t *labels,
                             const fc_repair_opts *opt, fc_repair_result *out, fc_err *err);

void fc_repair_result_free(fc_repair_result *r);   /* NULL allowed; leaves *r empty */

/* Top-1 accuracy of g on engine `kind` over inputs x ([N, ...]) run
 * `batch` at a time (default 64 when <= 0); a row whose scores are not
 * all finite counts as wrong. */
fc_status fc_repair_accuracy(const fc_graph *g, const char *kind, const fc_tensor *x,
                             const int64_t *labels, int64_t batch, double *acc, fc_err *err);

#endif
