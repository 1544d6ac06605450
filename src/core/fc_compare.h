/* Two output tensors of the same shape, row by row (row = axis 0): the
 * numbers cross-runtime consistency is judged by.  Shared by `flipcheck
 * compare` and the consistency suite. */
#ifndef FC_COMPARE_H
#define FC_COMPARE_H

#include <stdint.h>

#include "fc_status.h"
#include "fc_tensor.h"

#define FC_DIFF_MAX_ROWS 20

typedef struct fc_diff_row {
    int64_t row, col;   /* where the row's largest abs error is */
    double err;
} fc_diff_row;

typedef struct fc_diff {
    int64_t rows;
    double max_abs;          /* +inf when NaN appears on one side only */
    double max_rel;          /* |a - b| / max(|b|, 1e-6) */
    double rel_l2;           /* ||a - b|| / ||b|| over finite differences */
    double cosine;
    double top1_agreement;   /* rows whose argmax agree */
    int64_t rows_over;       /* rows whose largest abs error is over the threshold */
    int n_shown;
    fc_diff_row shown[FC_DIFF_MAX_ROWS];   /* the first rows over it */
} fc_diff;

/* ours vs ref (float32, same shape; FC_ERR_SHAPE naming both otherwise). */
fc_status fc_diff_outputs(const fc_tensor *ours, const fc_tensor *ref, double max_abs,
                          fc_diff *out, fc_err *err);

#endif
