/* STE backward of QuantizeLinear, DequantizeLinear and
 * DynamicQuantizeLinear, and the ops the int8 engines run on 8-bit tensors
 * with the float kernels (q8_grad.h). */
#include <string.h>

#include "../../core/fc_alloc.h"
#include "q8_grad.h"

/* gout[0] and gin[0], both present, float32 and shaped like out[0] and
 * in[0]; *go = false when there is nothing to do. */
static fc_status elementwise_start(const fc_grad_ctx *k, bool *go, fc_err *err)
{
    const fc_tensor *x = fc_q8g_in(k, 0), *gy = fc_q8g_gout(k, 0);
    fc_tensor *gx = fc_q8g_gin(k, 0);
    *go = false;
    if (!gy || !gx)
        return FC_OK;
    const fc_tensor *y = k->out[0];
    if (!x || !y || gy->dtype != FC_DT_F32 || gx->dtype != FC_DT_F32 || x->numel != y->numel ||
        gy->numel != y->numel || gx->numel != x->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: gradients do not match the tensors",
                          k->node->op_type);
    *go = true;
    return FC_OK;
}

/* Whether y = saturate(round_half_even(v) + z) leaves the saturation
 * inactive: the STE's mask (rounding passes, saturation cuts). */
static bool unsaturated(float v, int32_t zp, int32_t qmin, int32_t qmax)
{
    double r = (double)fc_q8_round_half_even(v) + (double)zp;   /* NaN: false */
    return r >= (double)qmin && r <= (double)qmax;
}

/* y = saturate(round(x / s) + z): dx = dy / s where the saturation is
 * inactive, else 0. */
fc_status fc_q8_quantizelinear_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                    fc_err *err)
{
    (void)flt;
    bool go;
    fc_status st = elementwise_start(k, &go, err);
    if (st || !go)
        return st;
    const fc_tensor *x = k->in[0], *s = fc_q8g_in(k, 1), *z = fc_q8g_in(k, 2), *y = k->out[0];
    if (x->dtype != FC_DT_F32 || !s || s->dtype != FC_DT_F32 ||
        (y->dtype != FC_DT_U8 && y->dtype != FC_DT_I8))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "QuantizeLinear: no gradient for these types");
    int64_t axis;
    fc_q8g_axis w;
    if ((st = fc_attr_get_int(k->node, "axis", 1, &axis, err)) ||
        (st = fc_q8g_axis_of(x, s->numel, axis, "QuantizeLinear", &w, err)))
        return st;
    int32_t qmin, qmax;
    fc_q8_range(y->dtype, &qmin, &qmax);
    const float *xs = x->data, *gy = k->gout[0]->data;
    float *gx = k->gin[0]->data;
    for (size_t i = 0; i < x->numel; i++) {
        size_t a = fc_q8g_axis_at(&w, i);
        float sc = fc_q8_scale_at(s, a);
        if (unsaturated(xs[i] / sc, fc_q8_zp_at(z, a), qmin, qmax))   /* the forward's division */
            gx[i] += gy[i] / sc;
    }
    return FC_OK;
}

/* y = (x - z) s: dx = dy * s. */
fc_status fc_q8_dequantizelinear_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                      fc_err *err)
{
    (void)flt;
    bool go;
    fc_status st = elementwise_start(k, &go, err);
    if (st || !go)
        return st;
    const fc_tensor *x = k->in[0], *s = fc_q8g_in(k, 1);
    if (!s || s->dtype != FC_DT_F32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "DequantizeLinear: no gradient for a "
                          "non-float scale");
    int64_t axis;
    fc_q8g_axis w;
    if ((st = fc_attr_get_int(k->node, "axis", 1, &axis, err)) ||
        (st = fc_q8g_axis_of(x, s->numel, axis, "DequantizeLinear", &w, err)))
        return st;
    const float *gy = k->gout[0]->data;
    float *gx = k->gin[0]->data;
    for (size_t i = 0; i < x->numel; i++)
        gx[i] += gy[i] * fc_q8_scale_at(s, fc_q8g_axis_at(&w, i));
    return FC_OK;
}

/* As QuantizeLinear with the scale and zero point the forward computed
 * (outputs 1 and 2), which are constants for the STE: their own
 * gradients, if any reached them, are dropped. */
fc_status fc_q8_dynamicquantizelinear_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                           fc_err *err)
{
    (void)flt;
    bool go;
    fc_status st = elementwise_start(k, &go, err);
    if (st || !go)
        return st;
    const fc_tensor *x = k->in[0], *ys = k->n_out > 1 ? k->out[1] : NULL;
    const fc_tensor *yz = k->n_out > 2 ? k->out[2] : NULL;
    if (x->dtype != FC_DT_F32 || !ys || ys->dtype != FC_DT_F32 || ys->numel != 1 || !yz ||
        yz->dtype != FC_DT_U8 || yz->numel != 1)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "DynamicQuantizeLinear: no gradient without "
                          "its float input and its scale and zero point outputs");
    const float sc = ((const float *)ys->data)[0];
    const int32_t zp = ((const uint8_t *)yz->data)[0];
    const float *xs = x->data, *gy = k->gout[0]->data;
    float *gx = k->gin[0]->data;
    for (size_t i = 0; i < x->numel; i++)
        if (unsaturated(xs[i] / sc, zp, 0, 255))
            gx[i] += gy[i] / sc;
    return FC_OK;
}

fc_status fc_q8_float_forward(const fc_kernel_ctx *k, const fc_kernel_table *flt, fc_err *err)
{
    const fc_kernel_def *def = fc_q8g_find(flt, k->node->op_type);
    if (!def)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: not in the %s table", k->node->op_type,
                          flt->engine);
    return def->forward(k, err);
}

/* A float32 copy of an integer tensor, values as they are. */
static fc_status as_float(const char *op, const fc_tensor *t, fc_tensor *out, fc_err *err)
{
    if (t->dtype != FC_DT_U8 && t->dtype != FC_DT_I8 && t->dtype != FC_DT_I32)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no gradient through dtype %s", op,
                          fc_dtype_name(t->dtype));
    fc_status st = fc_tensor_alloc(out, FC_DT_F32, t->rank, t->dims, err);
    float *d = out->data;
    for (size_t i = 0; !st && i < t->numel; i++)
        d[i] = (float)fc_q8_load(t, i);
    return st;
}

fc_status fc_q8_float_grad(const fc_grad_ctx *k, const fc_kernel_table *flt, fc_err *err)
{
    const char *op = k->node->op_type;
    const fc_kernel_def *def = fc_q8g_find(flt, op);
    if (!def || !def->backward)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: engine %s has no gradient of it", op,
                          flt->engine);
    if (k->n_in > FC_MAX_NODE_IO || k->n_out > FC_MAX_NODE_IO)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: too many inputs or outputs", op);
    /* Float copies of the integer tensors that gradients pass through;
     * the others (shapes, indices, float tensors) go as they are. */
    const size_t n = (size_t)k->n_in + (size_t)k->n_out;
    fc_tensor *copies = fc_calloc(n ? n : 1, sizeof *copies);
    const fc_tensor **ptrs = fc_calloc(n ? n : 1, sizeof *ptrs);
    if (!copies || !ptrs) {
        fc_free(copies);
        fc_free(ptrs);
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory for gradients", op);
    }
    fc_status st = FC_OK;
    for (size_t j = 0; j < n && !st; j++) {
        bool is_in = j < (size_t)k->n_in;
        int at = is_in ? (int)j : (int)(j - (size_t)k->n_in);
        const fc_tensor *t = is_in ? k->in[at] : k->out[at];
        bool grad = is_in ? fc_q8g_gin(k, at) != NULL : fc_q8g_gout(k, at) != NULL;
        ptrs[j] = t;
        if (t && grad && t->dtype != FC_DT_F32) {
            st = as_float(op, t, &copies[j], err);
            ptrs[j] = &copies[j];
        }
    }
    if (!st) {
        fc_grad_ctx fk = *k;
        fk.in = ptrs;
        fk.out = ptrs + k->n_in;
        st = def->backward(&fk, err);
    }
    for (size_t j = 0; j < n; j++)
        fc_tensor_release(&copies[j]);
    fc_free(copies);
    fc_free(ptrs);
    return st;
}
