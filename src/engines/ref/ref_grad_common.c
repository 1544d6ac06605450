/* Helpers shared by the f32-ref backward kernels: access to the gradient
 * slots, the executor's shape promises, and double accumulators. */
#include "../../core/fc_alloc.h"
#include "ref_internal.h"

const fc_tensor *fc_ref_fwd_in(const fc_grad_ctx *k, int i)
{
    return (i >= 0 && i < k->n_in) ? k->in[i] : NULL;
}

fc_tensor *fc_ref_gin(const fc_grad_ctx *k, int i)
{
    return (i >= 0 && i < k->n_in && k->gin) ? k->gin[i] : NULL;
}

const fc_tensor *fc_ref_gout(const fc_grad_ctx *k, int j)
{
    return (j >= 0 && j < k->n_out && k->gout) ? k->gout[j] : NULL;
}

fc_status fc_ref_grad_check(const fc_grad_ctx *k, fc_err *err)
{
    const char *op = k->node->op_type;
    for (int j = 0; j < k->n_out; j++) {
        const fc_tensor *gy = fc_ref_gout(k, j), *y = k->out[j];
        if (!gy)
            continue;
        if (!y || gy->dtype != FC_DT_F32 || gy->numel != y->numel || (gy->numel && !gy->data))
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: gradient of output %d does not match "
                              "the output", op, j);
    }
    for (int i = 0; i < k->n_in; i++) {
        const fc_tensor *gx = fc_ref_gin(k, i), *x = k->in[i];
        if (!gx)
            continue;
        if (!x || gx->dtype != FC_DT_F32 || gx->numel != x->numel || (gx->numel && !gx->data) ||
            (x->numel && !x->data))
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: gradient of input %d does not match "
                              "the input", op, i);
    }
    return FC_OK;
}

void fc_ref_acc_free(int n, double **acc)
{
    for (int i = 0; i < n; i++) {
        fc_free(acc[i]);
        acc[i] = NULL;
    }
}

fc_status fc_ref_acc_alloc(const fc_grad_ctx *k, int n, double **acc, fc_err *err)
{
    for (int i = 0; i < n; i++)
        acc[i] = NULL;
    for (int i = 0; i < n; i++) {
        const fc_tensor *gx = fc_ref_gin(k, i);
        if (!gx)
            continue;
        /* calloc of at least one element, so an empty input still gets a
         * non-NULL buffer and "wanted" stays distinguishable from "not". */
        acc[i] = fc_calloc(gx->numel ? gx->numel : 1, sizeof **acc);
        if (!acc[i]) {
            fc_ref_acc_free(n, acc);
            return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory for gradient sums",
                              k->node->op_type);
        }
    }
    return FC_OK;
}

void fc_ref_acc_flush(const fc_grad_ctx *k, int n, double **acc)
{
    for (int i = 0; i < n; i++) {
        fc_tensor *gx = fc_ref_gin(k, i);
        if (gx && acc[i]) {
            float *g = gx->data;
            for (size_t e = 0; e < gx->numel; e++)
                g[e] = (float)((double)g[e] + acc[i][e]);
        }
    }
    fc_ref_acc_free(n, acc);
}
