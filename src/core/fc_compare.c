#include "fc_compare.h"

#include <math.h>
#include <string.h>

fc_status fc_diff_outputs(const fc_tensor *ours, const fc_tensor *ref, double max_abs,
                          fc_diff *out, fc_err *err)
{
    memset(out, 0, sizeof *out);
    char s1[128], s2[128];
    bool same = ref->rank == ours->rank && ours->dtype == FC_DT_F32 && ref->dtype == FC_DT_F32;
    for (int d = 0; same && d < ref->rank; d++)
        same = ref->dims[d] == ours->dims[d];
    if (!same)
        return fc_err_set(err, FC_ERR_SHAPE, "reference is %s %s, the output is %s %s",
                          fc_dtype_name(ref->dtype), fc_dims_str(ref->rank, ref->dims, s1, sizeof s1),
                          fc_dtype_name(ours->dtype),
                          fc_dims_str(ours->rank, ours->dims, s2, sizeof s2));
    int64_t rows = ours->rank >= 1 ? ours->dims[0] : 1;
    int64_t cols = rows ? (int64_t)ours->numel / rows : 0;
    const float *a = ours->data, *b = ref->data;
    double dd = 0, bb = 0, aa = 0, ab = 0;
    int64_t agree = 0;
    for (int64_t r = 0; r < rows; r++) {
        double row_err = 0;
        int64_t row_col = 0, ta = 0, tb = 0;
        for (int64_t c = 0; c < cols; c++) {
            double x = a[r * cols + c], y = b[r * cols + c], d = fabs(x - y);
            if (isnan(d))   /* NaN on one side only is the largest error */
                d = isnan(x) && isnan(y) ? 0 : INFINITY;
            if (d > row_err) {
                row_err = d;
                row_col = c;
            }
            double rel = d / (fabs(y) > 1e-6 ? fabs(y) : 1e-6);
            out->max_rel = rel > out->max_rel ? rel : out->max_rel;
            if (isfinite(d)) {
                dd += d * d;
                bb += y * y;
                aa += x * x;
                ab += x * y;
            }
            ta = a[r * cols + c] > a[r * cols + ta] ? c : ta;
            tb = b[r * cols + c] > b[r * cols + tb] ? c : tb;
        }
        agree += ta == tb;
        out->max_abs = row_err > out->max_abs ? row_err : out->max_abs;
        if (row_err > max_abs) {
            if (out->n_shown < FC_DIFF_MAX_ROWS)
                out->shown[out->n_shown++] = (fc_diff_row){r, row_col, row_err};
            out->rows_over++;
        }
    }
    out->rows = rows;
    out->rel_l2 = bb > 0 ? sqrt(dd / bb) : (dd > 0 ? INFINITY : 0);
    out->cosine = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1 : 0);
    out->top1_agreement = rows ? (double)agree / (double)rows : 1;
    return FC_OK;
}
