/* Carrying out a quantization plan (see fc_qplan.h): a clone of the fp32
 * graph whose node list is rebuilt in order, with
 *   - weight / bias / constant DequantizeLinear nodes just before the first
 *     node that reads them (their int8/int32/uint8 initializers replace
 *     the float ones, which the final compaction drops);
 *   - after each node (and before all, for the graph input), a
 *     QuantizeLinear -> DequantizeLinear pair on every value it writes
 *     that the plan quantizes; readers read the DQ's output.
 * Names are shorter than ONNX Runtime's on purpose (names are a good
 * part of a small model's file).  For an activation X: initializers
 * X_scale and X_zp, node X_Q writing X_q, node X_DQ writing X_dq (for a
 * graph output X, its producer writes X_f and X_DQ writes X itself, so
 * the output keeps its name).  For a weight or bias W: initializers W_q
 * and W_scale, node W_DQ writing W_dq.  Weights (int8) and biases (int32) carry
 * no zero point input: it is 0, which is also DequantizeLinear's default;
 * ONNX Runtime writes explicit zeros, 5 bytes per channel we save. */
#include <stdio.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "fc_qplan.h"
#include "fc_quant_internal.h"

typedef struct rw {
    fc_qplan *p;
    fc_graph *out;
    fc_qnodes nodes;
    int *write_of, *read_of, *q_of;   /* per old value with a Q/DQ pair */
    int *sc, *zpv;                    /* per old value owning params: its initializers */
    int *wdq, *wdq_axis, *wscale;     /* per old initializer: DQ output, axis, scale value */
} rw;

#define AXIS_CONST (-2)   /* wdq_axis of a uint8 constant */

static const char *vname(const rw *r, int v) { return r->out->values[v].name; }

/* Adds the initializers of a quantized constant (q, its scale s, and its
 * zero point z unless `with_zp` is false) and its DQ node; *dq is the
 * DQ's output.  Takes q, s, z over. */
static fc_status add_dq_const(rw *r, int v, fc_tensor *q, fc_tensor *s, fc_tensor *z, bool with_zp,
                              int axis, int *dq, int *scale_value, fc_err *err)
{
    int ins[3] = {-1, -1, -1};
    char base[512];
    snprintf(base, sizeof base, "%s", vname(r, v));
    if (!with_zp)
        fc_tensor_release(z);
    fc_status st = fc_qgraph_value(r->out, base, "_q", q, &ins[0], err);
    if (st) {
        fc_tensor_release(s);
        fc_tensor_release(z);
        return st;
    }
    if ((st = fc_qgraph_value(r->out, base, "_scale", s, &ins[1], err))) {
        fc_tensor_release(z);
        return st;
    }
    if ((with_zp && (st = fc_qgraph_value(r->out, base, "_zp", z, &ins[2], err))) ||
        (st = fc_qgraph_value(r->out, base, "_dq", NULL, dq, err)))
        return st;
    char name[544];
    snprintf(name, sizeof name, "%s_DQ", base);
    if (scale_value)
        *scale_value = ins[1];
    r->p->sum.weights++;
    return fc_qnodes_add(&r->nodes, name, "DequantizeLinear", r->out->opset, ins,
                         with_zp ? 3 : 2, *dq, axis >= 0 ? axis : -1, err);
}

/* The DQ output reading weight (axis >= 0 or -1) or uint8 constant
 * (AXIS_CONST) v, made once per value and axis; *scale_value is the value
 * holding its scales. */
static fc_status weight_dq(rw *r, int v, int axis, int *dq, int *scale_value, fc_err *err)
{
    if (r->wdq[v] >= 0 && r->wdq_axis[v] == axis) {
        *dq = r->wdq[v];
        *scale_value = r->wscale[v];
        return FC_OK;
    }
    const fc_tensor *w = r->p->g->values[v].init;
    fc_tensor q, s, z;
    fc_status st = axis == AXIS_CONST ? fc_qparams_const_u8(w, &q, &s, &z, err)
                                      : fc_qparams_weight(w, axis, &q, &s, &z, err);
    if (!st)
        st = add_dq_const(r, v, &q, &s, &z, axis == AXIS_CONST, axis, dq, scale_value, err);
    if (!st && r->wdq[v] < 0) {
        r->wdq[v] = *dq;
        r->wdq_axis[v] = axis;
        r->wscale[v] = *scale_value;
    }
    return st;
}

/* The int32 bias DQ for node i (n: its copy being rewired), whose input 2
 * is old value b: its scale is the input's scale times the weight's
 * scales (value wsv). */
static fc_status bias_dq(rw *r, int i, fc_node *n, int b, int wsv, fc_err *err)
{
    int x = r->p->param_of[r->p->g->nodes[i].inputs[0]];
    if (x < 0 || wsv < 0)
        return fc_err_set(err, FC_ERR_INTERNAL, "bias '%s' without quantized input or weight",
                          vname(r, b));
    const fc_tensor *ws = r->out->values[wsv].init;
    fc_tensor q, s, z;
    fc_status st = fc_qparams_bias(r->p->g->values[b].init, r->p->scale[x], ws, &q, &s, &z, err);
    int dq = -1;
    if (!st)
        st = add_dq_const(r, b, &q, &s, &z, false, ws->rank > 0 ? 0 : -1, &dq, NULL, err);
    if (!st)
        n->inputs[2] = dq;
    return st;
}

/* The initializers and values of every Q/DQ pair, made before any node is
 * emitted so producers and readers can be rewired as they come. */
static fc_status make_pairs(rw *r, fc_err *err)
{
    const fc_qplan *p = r->p;
    int n_old = p->g->n_values;
    fc_status st = FC_OK;
    for (int v = 0; !st && v < n_old; v++) {
        if (p->param_of[v] != v)
            continue;
        char base[512];
        snprintf(base, sizeof base, "%s", vname(r, v));
        if (!(st = fc_qgraph_scalar_f32(r->out, base, "_scale", p->scale[v], &r->sc[v], err)))
            st = fc_qgraph_scalar_u8(r->out, base, "_zp", p->zp[v], &r->zpv[v], err);
    }
    for (int v = 0; !st && v < n_old; v++) {
        if (p->param_of[v] < 0)
            continue;
        char base[512];
        snprintf(base, sizeof base, "%s", vname(r, v));
        r->write_of[v] = r->read_of[v] = v;
        st = fc_qgraph_value(r->out, base, "_q", NULL, &r->q_of[v], err);
        if (!st && p->g->values[v].is_output)
            st = fc_qgraph_value(r->out, base, "_f", NULL, &r->write_of[v], err);
        else if (!st)
            st = fc_qgraph_value(r->out, base, "_dq", NULL, &r->read_of[v], err);
    }
    return st;
}

static fc_status emit_pair(rw *r, int v, fc_err *err)
{
    int p = r->p->param_of[v];
    char base[512], name[544];
    snprintf(base, sizeof base, "%s", vname(r, v));
    int qin[3] = {r->write_of[v], r->sc[p], r->zpv[p]};
    int dqin[3] = {r->q_of[v], r->sc[p], r->zpv[p]};
    snprintf(name, sizeof name, "%s_Q", base);
    fc_status st = fc_qnodes_add(&r->nodes, name, "QuantizeLinear", r->out->opset, qin, 3,
                                 r->q_of[v], -1, err);
    snprintf(name, sizeof name, "%s_DQ", base);
    if (!st)
        st = fc_qnodes_add(&r->nodes, name, "DequantizeLinear", r->out->opset, dqin, 3,
                           r->read_of[v], -1, err);
    return st;
}

/* Rewires node i of out (inputs, outputs, weights) and moves it into the
 * new node list, followed by the pairs on its outputs. */
static fc_status emit_node(rw *r, int i, int *kinds, fc_err *err)
{
    const fc_qplan *p = r->p;
    fc_node *n = &r->out->nodes[i];
    int axis = -1;
    bool compute = p->role[i] == FC_QR_COMPUTE;
    if (compute && !fc_qplan_classify(p, i, kinds, &axis))
        return fc_err_set(err, FC_ERR_INTERNAL, "node %d is no longer quantizable",
                          i);
    fc_status st = FC_OK;
    int wscale = -1, unused;
    for (int j = 0; !st && j < n->n_inputs; j++) {
        int v = n->inputs[j];
        if (v < 0)
            continue;
        int k = compute ? kinds[j] : FC_QK_NONE;
        if (k == FC_QK_WEIGHT)
            st = weight_dq(r, v, axis, &n->inputs[j], &wscale, err);
        else if (k == FC_QK_CONST)
            st = weight_dq(r, v, AXIS_CONST, &n->inputs[j], &unused, err);
        else if (k != FC_QK_BIAS && p->param_of[v] >= 0)
            n->inputs[j] = r->read_of[v];
    }
    if (!st && compute && n->n_inputs > 2 && kinds[2] == FC_QK_BIAS)
        st = bias_dq(r, i, n, p->g->nodes[i].inputs[2], wscale, err);
    if (st)
        return st;
    if (p->fold_out[i] >= 0)
        n->outputs[0] = p->fold_out[i];
    int n_out = n->n_outputs, outs[FC_MAX_NODE_IO];
    for (int j = 0; j < n_out; j++) {
        outs[j] = n->outputs[j];
        if (outs[j] >= 0 && p->param_of[outs[j]] >= 0)
            n->outputs[j] = r->write_of[outs[j]];
    }
    if ((st = fc_qnodes_take(&r->nodes, n, err)))
        return st;
    for (int j = 0; !st && j < n_out; j++)
        if (outs[j] >= 0 && p->param_of[outs[j]] >= 0)
            st = emit_pair(r, outs[j], err);
    return st;
}

static fc_status alloc_rw(rw *r, fc_err *err)
{
    size_t nv = r->p->g->n_values > 0 ? (size_t)r->p->g->n_values : 1;
    int **arrays[] = {&r->write_of, &r->read_of, &r->q_of, &r->sc, &r->zpv,
                      &r->wdq, &r->wdq_axis, &r->wscale};
    for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++) {
        *arrays[a] = fc_malloc(nv * sizeof **arrays[a]);
        if (!*arrays[a])
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory rewriting the graph");
        for (size_t v = 0; v < nv; v++)
            (*arrays[a])[v] = -1;
    }
    return FC_OK;
}

static void free_rw(rw *r)
{
    fc_free(r->write_of);
    fc_free(r->read_of);
    fc_free(r->q_of);
    fc_free(r->sc);
    fc_free(r->zpv);
    fc_free(r->wdq);
    fc_free(r->wdq_axis);
    fc_free(r->wscale);
    fc_qnodes_free(&r->nodes);
}

fc_status fc_qplan_rewrite(fc_qplan *p, fc_graph **out, fc_err *err)
{
    *out = NULL;
    rw r = {.p = p};
    const fc_graph *g = p->g;
    int *kinds = fc_malloc(FC_MAX_NODE_IO * sizeof *kinds);
    fc_status st = kinds ? alloc_rw(&r, err)
                         : fc_err_set(err, FC_ERR_NOMEM, "out of memory rewriting the graph");
    if (!st)
        st = fc_graph_clone(g, &r.out, err);
    if (!st)
        st = make_pairs(&r, err);
    for (int i = 0; !st && i < g->n_inputs; i++)
        if (p->param_of[g->inputs[i]] >= 0)
            st = emit_pair(&r, g->inputs[i], err);
    for (int i = 0; !st && i < g->n_nodes; i++)
        if (p->role[i] != FC_QR_FOLDED)
            st = emit_node(&r, i, kinds, err);
    if (!st) {
        /* Swap in the new node list; what is left in the old one (the
         * removed activations) is freed with it. */
        for (int i = 0; i < r.out->n_nodes; i++)
            fc_node_clear(&r.out->nodes[i]);
        fc_free(r.out->nodes);
        r.out->nodes = r.nodes.v;
        r.out->n_nodes = r.nodes.n;
        memset(&r.nodes, 0, sizeof r.nodes);
        st = fc_qgraph_compact(r.out, err);
    }
    if (st) {
        fc_err_prefix(err, "%s: quantizing: ", g->path ? g->path : "model");
        fc_graph_free(r.out);
    } else {
        *out = r.out;
    }
    free_rw(&r);
    fc_free(kinds);
    return st;
}
