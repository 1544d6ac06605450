/* Post-training static quantization (see fc_quantize.h): plan on the
 * calibration statistics (fc_qplan.c), then rewrite (fc_qrewrite.c). */
#include "fc_quantize.h"

#include <string.h>

#include "fc_qplan.h"

fc_status fc_quantize_graph_ex(const fc_graph *fp32, const fc_tensor *calib,
                               const fc_quant_options *opt, fc_graph **out,
                               fc_quant_summary *summary, fc_err *err)
{
    *out = NULL;
    if (summary)
        memset(summary, 0, sizeof *summary);
    fc_qplan p;
    fc_status st = fc_qplan_build(&p, fp32, calib, opt, err);
    if (!st)
        st = fc_qplan_rewrite(&p, out, err);
    if (!st && summary)
        *summary = p.sum;
    fc_qplan_free(&p);
    return st;
}

fc_status fc_quantize_graph(const fc_graph *fp32, const fc_tensor *calib,
                            const fc_quant_options *opt, fc_graph **out, fc_err *err)
{
    return fc_quantize_graph_ex(fp32, calib, opt, out, NULL, err);
}
