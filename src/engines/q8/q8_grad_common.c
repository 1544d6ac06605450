/* The bridge every STE backward of the int8 engines goes through
 * (q8_grad.h): dequantize the operands of an integer op, run the backward
 * kernel of the equivalent float op on them, and bring its gradients back
 * to units of the integers. */
#include <string.h>

#include "../../core/fc_alloc.h"
#include "q8_grad.h"

const fc_kernel_def *fc_q8g_find(const fc_kernel_table *t, const char *op)
{
    for (int i = 0; i < t->count; i++)
        if (t->defs[i].domain[0] == '\0' && strcmp(t->defs[i].name, op) == 0)
            return &t->defs[i];
    return NULL;
}

const fc_tensor *fc_q8g_in(const fc_grad_ctx *k, int i)
{
    return (i >= 0 && i < k->n_in) ? k->in[i] : NULL;
}

fc_tensor *fc_q8g_gin(const fc_grad_ctx *k, int i)
{
    return (i >= 0 && i < k->n_in && k->gin) ? k->gin[i] : NULL;
}

const fc_tensor *fc_q8g_gout(const fc_grad_ctx *k, int j)
{
    return (j >= 0 && j < k->n_out && k->gout) ? k->gout[j] : NULL;
}

fc_status fc_q8g_axis_of(const fc_tensor *x, size_t count, int64_t axis, const char *op,
                         fc_q8g_axis *w, fc_err *err)
{
    w->inner = 1;
    w->n = count;
    if (count <= 1)
        return FC_OK;
    int a;
    fc_status st = fc_axis_normalize(axis, x->rank, &a, err);
    if (st)
        return st;
    if ((size_t)x->dims[a] != count)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: %zu quantization parameters for axis %d "
                          "of size %lld", op, count, a, (long long)x->dims[a]);
    for (int d = a + 1; d < x->rank; d++)
        w->inner *= (size_t)x->dims[d];
    return FC_OK;
}

static bool is_int(fc_dtype dt)
{
    return dt == FC_DT_U8 || dt == FC_DT_I8 || dt == FC_DT_I32;
}

/* out = float32(x - zp) * scale, ONNX DequantizeLinear (scale and zp may be
 * NULL: 1 and 0).  A float32 x is taken as it is. */
static fc_status dequantize(const char *op, const fc_tensor *x, const fc_tensor *scale,
                            const fc_tensor *zp, int64_t axis, fc_tensor *out, fc_err *err)
{
    if (x->dtype != FC_DT_F32 && !is_int(x->dtype))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no gradient through dtype %s", op,
                          fc_dtype_name(x->dtype));
    if ((scale && scale->dtype != FC_DT_F32) || (zp && !is_int(zp->dtype)))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: unexpected quantization parameter "
                          "types", op);
    fc_q8g_axis ws = {1, 1}, wz = {1, 1};
    fc_status st = FC_OK;
    if ((scale && (st = fc_q8g_axis_of(x, scale->numel, axis, op, &ws, err))) ||
        (zp && (st = fc_q8g_axis_of(x, zp->numel, axis, op, &wz, err))) ||
        (st = fc_tensor_alloc(out, FC_DT_F32, x->rank, x->dims, err)))
        return st;
    float *d = out->data;
    if (x->dtype == FC_DT_F32) {
        memcpy(d, x->data, x->numel * sizeof *d);
        return FC_OK;
    }
    for (size_t i = 0; i < x->numel; i++) {
        /* In int64: an int32 x minus its zero point may leave int32. */
        int64_t q = (int64_t)fc_q8_load(x, i) - (zp ? fc_q8_zp_at(zp, fc_q8g_axis_at(&wz, i)) : 0);
        d[i] = scale ? (float)q * fc_q8_scale_at(scale, fc_q8g_axis_at(&ws, i)) : (float)q;
    }
    return FC_OK;
}

#define OP_NAME_MAX 32

/* What the float op sees, and the buffers behind it. */
typedef struct bridge {
    fc_node node;
    char op[OP_NAME_MAX];
    char domain[1];
    fc_tensor fin[FC_MAX_NODE_IO], fgin[FC_MAX_NODE_IO], fout, fgout;
    const fc_tensor *in[FC_MAX_NODE_IO], *out[1], *gout[1];
    fc_tensor *gin[FC_MAX_NODE_IO];
} bridge;

static void bridge_free(bridge *b)
{
    for (int i = 0; i < FC_MAX_NODE_IO; i++) {
        fc_tensor_release(&b->fin[i]);
        fc_tensor_release(&b->fgin[i]);
    }
    fc_tensor_release(&b->fout);
    fc_tensor_release(&b->fgout);
}

/* fgout = gy * mask / y_scale for a quantized y, gy / y_scale for a float
 * one, gy for raw int32; fout = y as float (dequantized). */
static fc_status output_side(const fc_grad_ctx *k, bridge *b, int y_scale, int y_zp,
                             fc_err *err)
{
    const char *op = k->node->op_type;
    const fc_tensor *y = k->out[0], *gy = fc_q8g_gout(k, 0);
    const fc_tensor *ys = fc_q8g_in(k, y_scale), *yz = fc_q8g_in(k, y_zp);
    if (ys && (ys->dtype != FC_DT_F32 || ys->numel != 1))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no gradient with a per-axis output scale",
                          op);
    fc_status st = dequantize(op, y, y->dtype == FC_DT_I32 ? NULL : ys, yz, 1, &b->fout, err);
    if (st || (st = fc_tensor_alloc(&b->fgout, FC_DT_F32, y->rank, y->dims, err)))
        return st;
    const float s = ys && y->dtype != FC_DT_I32 ? fc_q8_scale_at(ys, 0) : 1.0f;
    const float *g = gy->data;
    float *d = b->fgout.data;
    if (y->dtype == FC_DT_U8 || y->dtype == FC_DT_I8) {
        int32_t qmin, qmax;
        fc_q8_range(y->dtype, &qmin, &qmax);
        for (size_t i = 0; i < y->numel; i++) {
            int32_t q = fc_q8_load(y, i);
            d[i] = q > qmin && q < qmax ? g[i] / s : 0.0f;
        }
    } else {
        for (size_t i = 0; i < y->numel; i++)
            d[i] = g[i] / s;
    }
    return FC_OK;
}

/* gin[x] += scale * fgin: back from real units to the integer's. */
static fc_status scale_back(const fc_grad_ctx *k, const fc_q8g_operand *o, const fc_tensor *fg,
                            fc_err *err)
{
    fc_tensor *gx = fc_q8g_gin(k, o->x);
    const fc_tensor *x = fc_q8g_in(k, o->x), *s = fc_q8g_in(k, o->scale);
    if (gx->dtype != FC_DT_F32 || gx->numel != fg->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: gradient of input %d does not match it",
                          k->node->op_type, o->x);
    fc_q8g_axis w = {1, 1};
    fc_status st = s ? fc_q8g_axis_of(x, s->numel, o->axis, k->node->op_type, &w, err) : FC_OK;
    if (st)
        return st;
    float *d = gx->data;
    const float *g = fg->data;
    for (size_t i = 0; i < gx->numel; i++)
        d[i] += s && x->dtype != FC_DT_F32 ? g[i] * fc_q8_scale_at(s, fc_q8g_axis_at(&w, i))
                                           : g[i];
    return FC_OK;
}

fc_status fc_q8g_through_float(const fc_grad_ctx *k, const fc_kernel_table *flt, const char *op,
                               const fc_q8g_operand *ops, int n_ops, int y_scale, int y_zp,
                               fc_err *err)
{
    const char *qop = k->node->op_type;
    bool wanted = false;
    for (int j = 0; j < n_ops; j++)
        wanted = wanted || fc_q8g_gin(k, ops[j].x) != NULL;
    if (!wanted || !fc_q8g_gout(k, 0))
        return FC_OK;
    const fc_kernel_def *def = fc_q8g_find(flt, op);
    if (!def || !def->backward)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: engine %s has no gradient of %s", qop,
                          flt->engine, op);
    if (n_ops > FC_MAX_NODE_IO || !k->out[0] || strlen(op) >= OP_NAME_MAX)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: bad gradient bridge", qop);
    bridge *b = fc_calloc(1, sizeof *b);
    if (!b)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory for gradients", qop);
    fc_status st = output_side(k, b, y_scale, y_zp, err);
    for (int j = 0; j < n_ops && !st; j++) {
        const fc_tensor *x = fc_q8g_in(k, ops[j].x);
        if (!x)
            continue;   /* an omitted optional input stays omitted */
        st = dequantize(qop, x, fc_q8g_in(k, ops[j].scale), fc_q8g_in(k, ops[j].zp), ops[j].axis,
                        &b->fin[j], err);
        b->in[j] = &b->fin[j];
        if (!st && fc_q8g_gin(k, ops[j].x)) {
            st = fc_tensor_alloc(&b->fgin[j], FC_DT_F32, x->rank, x->dims, err);
            b->gin[j] = &b->fgin[j];
        }
    }
    if (!st) {
        /* The float op with the integer op's attributes, which use the same
         * names; contrib ops (com.microsoft) mirror the opset-13 float ops. */
        b->node = *k->node;
        strcpy(b->op, op);
        b->node.op_type = b->op;
        b->node.domain = b->domain;
        if (k->node->domain[0])
            b->node.opset = 13;
        b->node.n_inputs = n_ops;
        b->node.n_outputs = 1;
        b->out[0] = &b->fout;
        b->gout[0] = &b->fgout;
        fc_grad_ctx fk = {.node = &b->node, .in = b->in, .n_in = n_ops, .out = b->out,
                          .n_out = 1, .gout = b->gout, .gin = b->gin, .ws = k->ws};
        st = def->backward(&fk, err);
    }
    for (int j = 0; j < n_ops && !st; j++)
        if (b->gin[j])
            st = scale_back(k, &ops[j], &b->fgin[j], err);
    bridge_free(b);
    fc_free(b);
    return st;
}
