/* Calibration statistics for post-training quantization (fc_quantize.h):
 * what each float value of an fp32 graph holds over the calibration
 * inputs, and the real range each method derives from that.
 *
 * Two passes over the calibration data, because a histogram needs its
 * range before the first element goes in:
 *   1. fc_calib_run(..., histograms = false): per value min and max;
 *   2. only for percentile/entropy, after fc_calib_want_hist() marked the
 *      values that need one: fc_calib_run(..., histograms = true) fills
 *      FC_CALIB_BINS counts of |x| over [0, amax], amax = max(|min|, |max|)
 *      from pass 1 (so no bin ever needs to move).
 * Non-finite elements are skipped (they carry no range).
 *
 * Ownership: fc_calib_stats owns its arrays (fc_calib_stats_free). */
#ifndef FC_CALIB_H
#define FC_CALIB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fc_status.h"
#include "core/fc_tensor.h"
#include "engines/fc_engine.h"
#include "io/fc_config.h"
#include "onnx/fc_ir.h"

#define FC_CALIB_BINS 2048

typedef struct fc_calib_stats {
    int n_values;       /* the graph's */
    bool *seen;         /* per value: held float32 data (graph input or node output) */
    float *min, *max;   /* finite elements seen; min > max when none was finite */
    double **hist;      /* per value: NULL, or FC_CALIB_BINS counts of |x| over [0, amax] */
    double *zeros;      /* per value with a histogram: elements exactly 0 (also in bin 0) */
    int64_t images;     /* calibration inputs run */
} fc_calib_stats;

/* Zeroed arrays for g's values. */
fc_status fc_calib_stats_init(fc_calib_stats *s, const fc_graph *g, fc_err *err);
void fc_calib_stats_free(fc_calib_stats *s);   /* NULL allowed; leaves *s empty */

/* Asks for a histogram of value v in the next histogram pass. */
fc_status fc_calib_want_hist(fc_calib_stats *s, int v, fc_err *err);

/* Runs calib ([N, ...] float32 for g's single input) through e (an fp32
 * engine on g) `batch` inputs at a time, observing every value: min/max,
 * or (histograms) the wanted histograms.  The engine's observer is
 * removed again before returning. */
fc_status fc_calib_run(fc_engine *e, const fc_graph *g, const fc_tensor *calib, int64_t batch,
                       bool histograms, fc_calib_stats *s, fc_err *err);

/* max(|min|, |max|) of value v (0 when nothing finite was seen). */
double fc_calib_amax(const fc_calib_stats *s, int v);

/* The threshold T on |x| below which `pct` percent of the histogram's
 * mass lies: the upper edge of the first bin where the cumulative count
 * reaches pct/100 of the total.  0 for an empty histogram. */
double fc_calib_percentile_threshold(const double *hist, int bins, double amax, double pct);

/* TensorRT's entropy calibration on a histogram of |x|: for each candidate
 * of i >= levels bins, the reference P is bins [0, i) with everything
 * beyond folded into bin i-1; the candidate Q merges bins [0, i) (without
 * the folded outliers) into `levels` groups and spreads each group's mass
 * evenly over the bins of the group that P holds (empty ones stay empty).
 * Returns the upper edge of the i minimising KL(P || Q); a bin that P
 * holds and Q does not costs p log(p / 1e-8).  0 for an empty histogram;
 * amax when bins <= levels. */
double fc_calib_entropy_threshold(const double *hist, int bins, double amax, int levels);

/* The real range [*lo, *hi] for value v:
 *   MINMAX      [min, max]
 *   PERCENTILE  [max(min, -T), min(max, T)], T = the pct percentile of |x|
 *   ENTROPY     the same with T from fc_calib_entropy_threshold, with 256
 *               levels for a value that is never negative (uint8 spends all
 *               its codes on [0, T]) and 128 otherwise (half the codes on
 *               each side of 0), on the histogram without its exact zeros:
 *               0 is always exactly representable (the range includes it
 *               and the zero point is an integer), and the spike the zeros
 *               make in bin 0 (about half of a ReLU's outputs) makes every
 *               candidate that merges bin 0 look costly, which drove the
 *               thresholds to the first candidate (amax/8) and the peer
 *               mobilenet to 62% accuracy; without them, 79%, and the other
 *               peers within 0.2 points of fp32
 * Percentile and entropy fall back to min/max for a value without a
 * histogram.  [0, 0] when nothing finite was seen. */
void fc_calib_range(const fc_calib_stats *s, int v, fc_calib_method m, double pct, float *lo,
                    float *hi);

#endif
