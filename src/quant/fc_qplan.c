/* Planning a quantization (see fc_qplan.h and fc_quantize.h for the rules). */
#include "fc_qplan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "fc_quant_internal.h"

static const char *gname(const fc_graph *g) { return g->path ? g->path : "model"; }

static bool is_op(const fc_node *n, const char *op)
{
    return n->domain[0] == '\0' && strcmp(n->op_type, op) == 0;
}

static int in_at(const fc_node *n, int j) { return j < n->n_inputs ? n->inputs[j] : -1; }

/* A float activation: computed or fed at run time as float32. */
static bool is_act(const fc_qplan *p, int v)
{
    if (v < 0)
        return false;
    const fc_value *val = &p->g->values[v];
    return !val->init && p->s.seen[v] && !(val->is_input && val->is_output);
}

static const fc_tensor *float_init(const fc_qplan *p, int v)
{
    const fc_tensor *t = v >= 0 ? p->g->values[v].init : NULL;
    return t && t->dtype == FC_DT_F32 && t->numel > 0 ? t : NULL;
}

static bool one_output(const fc_qplan *p, const fc_node *n)
{
    return n->n_outputs == 1 && is_act(p, n->outputs[0]);
}

static bool classify_conv(const fc_qplan *p, const fc_node *n, int *k, int *axis)
{
    const fc_tensor *w = float_init(p, in_at(n, 1)), *b = float_init(p, in_at(n, 2));
    if (n->n_inputs < 2 || n->n_inputs > 3 || !one_output(p, n) || !is_act(p, n->inputs[0]) ||
        !w || w->rank < 3 || (in_at(n, 2) >= 0 && (!b || b->numel != (size_t)w->dims[0])))
        return false;
    k[0] = FC_QK_ACT;
    k[1] = FC_QK_WEIGHT;
    if (n->n_inputs == 3)
        k[2] = in_at(n, 2) >= 0 ? FC_QK_BIAS : FC_QK_NONE;
    *axis = p->per_channel ? 0 : -1;
    return true;
}

static bool classify_gemm(const fc_qplan *p, const fc_node *n, int *k, int *axis)
{
    int64_t tb;
    float alpha, beta;
    if (n->n_inputs < 2 || n->n_inputs > 3 || !one_output(p, n) || !is_act(p, n->inputs[0]) ||
        fc_attr_get_int(n, "transB", 0, &tb, NULL) ||
        fc_attr_get_float(n, "alpha", 1.0f, &alpha, NULL) ||
        fc_attr_get_float(n, "beta", 1.0f, &beta, NULL) || alpha != 1.0f)
        return false;
    const fc_tensor *w = float_init(p, n->inputs[1]), *b = float_init(p, in_at(n, 2));
    k[0] = FC_QK_ACT;
    *axis = -1;
    if (w && w->rank == 2) {
        k[1] = FC_QK_WEIGHT;
        *axis = p->per_channel ? (tb ? 0 : 1) : -1;
    } else if (is_act(p, n->inputs[1])) {
        k[1] = FC_QK_ACT;
    } else {
        return false;
    }
    if (n->n_inputs == 3) {
        k[2] = FC_QK_NONE;
        if (in_at(n, 2) >= 0) {
            /* The int32 bias is one value per output column. */
            size_t cols = w ? (size_t)w->dims[tb ? 0 : 1] : 0;
            if (k[1] != FC_QK_WEIGHT || beta != 1.0f || !b || b->numel != cols)
                return false;
            k[2] = FC_QK_BIAS;
        }
    }
    return true;
}

static bool classify_matmul(const fc_qplan *p, const fc_node *n, int *k, int *axis)
{
    if (n->n_inputs != 2 || !one_output(p, n) || !is_act(p, n->inputs[0]))
        return false;
    const fc_tensor *w = float_init(p, n->inputs[1]);
    k[0] = FC_QK_ACT;
    *axis = -1;
    if (w) {
        k[1] = FC_QK_WEIGHT;
        *axis = p->per_channel && w->rank == 2 ? 1 : -1;
        return true;
    }
    k[1] = FC_QK_ACT;
    return is_act(p, n->inputs[1]);
}

bool fc_qplan_classify(const fc_qplan *p, int i, int *k, int *axis)
{
    const fc_node *n = &p->g->nodes[i];
    *axis = -1;
    for (int j = 0; j < n->n_inputs; j++)
        k[j] = FC_QK_NONE;
    if (n->domain[0] != '\0')
        return false;
    if (is_op(n, "Conv"))
        return classify_conv(p, n, k, axis);
    if (is_op(n, "Gemm"))
        return classify_gemm(p, n, k, axis);
    if (is_op(n, "MatMul"))
        return classify_matmul(p, n, k, axis);
    if (is_op(n, "Add")) {
        if (n->n_inputs != 2 || !one_output(p, n))
            return false;
        for (int j = 0; j < 2; j++)
            k[j] = is_act(p, n->inputs[j]) ? FC_QK_ACT
                   : float_init(p, n->inputs[j]) ? FC_QK_CONST : FC_QK_NONE;
        return (k[0] == FC_QK_ACT && k[1] != FC_QK_NONE) ||
               (k[1] == FC_QK_ACT && k[0] != FC_QK_NONE);
    }
    if (is_op(n, "GlobalAveragePool") || is_op(n, "AveragePool")) {
        k[0] = FC_QK_ACT;
        return n->n_inputs == 1 && one_output(p, n) && is_act(p, n->inputs[0]);
    }
    if (is_op(n, "Concat")) {
        if (n->n_inputs < 1 || n->n_inputs > (FC_MAX_NODE_IO - 2) / 3 || !one_output(p, n))
            return false;
        for (int j = 0; j < n->n_inputs; j++) {
            if (!is_act(p, n->inputs[j]))
                return false;
            k[j] = FC_QK_ACT;
        }
        return true;
    }
    return false;
}

static bool is_move_op(const fc_node *n)
{
    static const char *const ops[] = {"MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze",
                                      "Unsqueeze"};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (is_op(n, ops[k]))
            return true;
    return false;
}

/* Ops that only move data: quantized when their input is, with its scale. */
static bool is_move(const fc_qplan *p, int i)
{
    const fc_node *n = &p->g->nodes[i];
    /* MaxPool's optional Indices output would leave the group. */
    return is_move_op(n) && n->n_inputs >= 1 && n->n_outputs == 1 && is_act(p, n->inputs[0]) &&
           p->param_of[n->inputs[0]] >= 0 && is_act(p, n->outputs[0]) && !p->keep[n->outputs[0]];
}

/* A Relu, or a Clip with constant bounds and min <= 0, whose range the
 * Q's saturation can take over (see fc_quantize.h). */
static bool foldable(const fc_qplan *p, int r)
{
    const fc_node *n = &p->g->nodes[r];
    if (n->n_inputs < 1 || n->n_outputs != 1 || !is_act(p, n->outputs[0]))
        return false;
    if (is_op(n, "Relu"))
        return n->n_inputs == 1;
    if (!is_op(n, "Clip"))
        return false;
    float lo = -INFINITY, hi = INFINITY;
    if (n->opset < 11) {
        if (fc_attr_get_float(n, "min", lo, &lo, NULL) ||
            fc_attr_get_float(n, "max", hi, &hi, NULL))
            return false;
    } else {
        for (int j = 1; j < n->n_inputs && j < 3; j++) {
            int v = n->inputs[j];
            const fc_tensor *t = float_init(p, v);
            if (v >= 0 && (!t || t->numel != 1))
                return false;
            if (t)
                *(j == 1 ? &lo : &hi) = ((const float *)t->data)[0];
        }
    }
    return lo <= 0.0f && lo <= hi;
}

/* Would quantizing node n (input kinds `kinds`, folding node `fold` or
 * -1) give a value kept in float a Q/DQ pair?  Then n stays float. */
static bool touches_kept(const fc_qplan *p, const fc_node *n, const int *kinds, int fold)
{
    for (int j = 0; j < n->n_inputs; j++)
        if (kinds[j] == FC_QK_ACT && p->keep[n->inputs[j]])
            return true;
    return p->keep[n->outputs[0]] || (fold >= 0 && p->keep[p->g->nodes[fold].outputs[0]]);
}

static void mark(fc_qplan *p, int v)
{
    if (p->param_of[v] < 0)
        p->param_of[v] = v;
}

/* Roles: compute ops first (with their activations), then the data-moving
 * ops in graph order, so a move op whose input a later op quantizes is
 * quantized too (no float op between a DQ and a Q). */
static void assign_roles(fc_qplan *p, int *kinds)
{
    const fc_graph *g = p->g;
    for (int i = 0; i < g->n_nodes; i++) {
        int axis;
        if (p->role[i] == FC_QR_FOLDED || !fc_qplan_classify(p, i, kinds, &axis))
            continue;
        const fc_node *n = &g->nodes[i];
        int y = n->outputs[0], fold = -1;
        if (p->readers[y] == 1 && !g->values[y].is_output) {
            int r = p->reader[y];
            if (in_at(&g->nodes[r], 0) == y && foldable(p, r))
                fold = r;
        }
        if (touches_kept(p, n, kinds, fold))
            continue;
        p->role[i] = FC_QR_COMPUTE;
        for (int j = 0; j < n->n_inputs; j++)
            if (kinds[j] == FC_QK_ACT)
                mark(p, n->inputs[j]);
        if (fold >= 0) {
            p->role[fold] = FC_QR_FOLDED;
            p->fold_out[i] = y = g->nodes[fold].outputs[0];
            p->sum.folded_activations++;
        }
        mark(p, y);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (p->role[i] != FC_QR_FLOAT || !is_move(p, i))
            continue;
        p->role[i] = FC_QR_MOVE;
        p->param_of[g->nodes[i].outputs[0]] = p->param_of[g->nodes[i].inputs[0]];
    }
    /* A reshape whose output is quantized but whose input is not (ONNX
     * Runtime leaves the mlp's leading Flatten in float): quantizing the
     * input with the same scale runs it on the 8-bit tensor instead; the
     * values, and so their range, are the same. */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const fc_node *n = &g->nodes[i];
        if (p->role[i] != FC_QR_FLOAT || is_op(n, "MaxPool") || n->n_inputs < 1 ||
            n->n_outputs != 1 || !is_act(p, n->inputs[0]) || p->param_of[n->inputs[0]] >= 0)
            continue;
        int in = n->inputs[0], y = n->outputs[0];
        if (!is_move_op(n) || !is_act(p, y) || p->param_of[y] != y || p->keep[in])
            continue;
        p->role[i] = FC_QR_MOVE;
        for (int v = 0; v < g->n_values; v++)
            if (p->param_of[v] == y)
                p->param_of[v] = in;
        p->param_of[in] = in;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        p->sum.quantized_ops += p->role[i] == FC_QR_COMPUTE || p->role[i] == FC_QR_MOVE;
        p->sum.float_ops += p->role[i] == FC_QR_FLOAT;
    }
    for (int v = 0; v < g->n_values; v++)
        p->sum.activations += p->param_of[v] >= 0;
}

static fc_status check_inputs(const fc_graph *g, const fc_tensor *calib, fc_quant_options *o,
                              fc_err *err)
{
    if (o->method == FC_CALIB_NONE)
        o->method = FC_CALIB_MINMAX;
    if (o->method != FC_CALIB_MINMAX && o->method != FC_CALIB_PERCENTILE &&
        o->method != FC_CALIB_ENTROPY)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "unknown calibration method %d", (int)o->method);
    if (o->percentile == 0.0)
        o->percentile = 99.99;
    if (!(o->percentile > 0.0 && o->percentile <= 100.0))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "percentile %g is not in (0, 100]",
                          o->percentile);
    if (o->batch == 0)
        o->batch = 64;
    if (o->batch < 0)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "calibration batch %lld is not positive",
                          (long long)o->batch);
    if (g->opset < 10)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: opset %lld has no QuantizeLinear "
                          "(needs 10 or later)", gname(g), (long long)g->opset);
    for (int i = 0; i < g->n_nodes; i++) {
        const char *op = g->nodes[i].op_type;
        if (strstr(op, "QuantizeLinear") || strstr(op, "DequantizeLinear") ||
            !strncmp(op, "QLinear", 7) || strstr(op, "Integer")) {
            char label[160];
            return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: already quantized (node %s)",
                              gname(g), fc_node_label(g, i, label, sizeof label));
        }
    }
    if (g->n_inputs != 1)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: has %d graph inputs; calibration feeds "
                          "models with one input", gname(g), g->n_inputs);
    const fc_value *in = &g->values[g->inputs[0]];
    if (in->dtype != FC_DT_F32 && in->dtype != FC_DT_UNDEFINED)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: input '%s' is %s, not float32: nothing "
                          "to calibrate", gname(g), in->name, fc_dtype_name(in->dtype));
    if (!calib)
        return FC_OK;   /* statistics given (fc_qplan_build_with) */
    bool fits = calib->dtype == FC_DT_F32 && calib->rank >= 1 && calib->dims[0] >= 1 &&
                (in->rank < 0 || in->rank == calib->rank);
    for (int d = 1; fits && in->rank > 0 && d < in->rank; d++)
        fits = in->dims[d] < 0 || in->dims[d] == calib->dims[d];
    if (!fits) {
        char s[128];
        return fc_err_set(err, FC_ERR_SHAPE, "%s: calibration data %s %s does not fit input '%s' "
                          "(rank %d)", gname(g), fc_dtype_name(calib->dtype),
                          fc_dims_str(calib->rank, calib->dims, s, sizeof s), in->name, in->rank);
    }
    return FC_OK;
}

static fc_status alloc_plan(fc_qplan *p, fc_err *err)
{
    const fc_graph *g = p->g;
    size_t nv = g->n_values > 0 ? (size_t)g->n_values : 1;
    size_t nn = g->n_nodes > 0 ? (size_t)g->n_nodes : 1;
    p->readers = fc_calloc(nv, sizeof *p->readers);
    p->reader = fc_calloc(nv, sizeof *p->reader);
    p->param_of = fc_malloc(nv * sizeof *p->param_of);
    p->scale = fc_calloc(nv, sizeof *p->scale);
    p->zp = fc_calloc(nv, sizeof *p->zp);
    p->role = fc_calloc(nn, sizeof *p->role);
    p->fold_out = fc_malloc(nn * sizeof *p->fold_out);
    p->keep = fc_calloc(nv, sizeof *p->keep);
    if (!p->readers || !p->reader || !p->param_of || !p->scale || !p->zp || !p->role ||
        !p->fold_out || !p->keep)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory planning the quantization",
                          gname(g));
    for (int v = 0; v < g->n_values; v++)
        p->param_of[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        p->fold_out[i] = -1;
        for (int j = 0; j < g->nodes[i].n_inputs; j++)
            if (g->nodes[i].inputs[j] >= 0) {
                p->readers[g->nodes[i].inputs[j]]++;
                p->reader[g->nodes[i].inputs[j]] = i;
            }
    }
    return FC_OK;
}

/* Scales of the values that own one; histograms first when the method
 * needs them (not for graph outputs, which keep min/max). */
static fc_status compute_scales(fc_qplan *p, fc_engine *e, const fc_tensor *calib, fc_err *err)
{
    const fc_graph *g = p->g;
    fc_calib_method m = p->opt.method;
    fc_status st = FC_OK;
    if (!p->borrowed_stats && (m == FC_CALIB_PERCENTILE || m == FC_CALIB_ENTROPY)) {
        bool any = false;
        for (int v = 0; !st && v < g->n_values; v++)
            if (p->param_of[v] == v && !g->values[v].is_output) {
                st = fc_calib_want_hist(&p->s, v, err);
                any = true;
            }
        if (!st && any)
            st = fc_calib_run(e, g, calib, p->opt.batch, true, &p->s, err);
    }
    for (int v = 0; !st && v < g->n_values; v++) {
        if (p->param_of[v] != v)
            continue;
        float lo, hi;
        if (p->range_lo) {
            lo = p->range_lo[v];
            hi = p->range_hi[v];
        } else {
            fc_calib_range(&p->s, v, g->values[v].is_output ? FC_CALIB_MINMAX : m,
                           p->opt.percentile, &lo, &hi);
        }
        fc_qparams_u8(lo, hi, &p->scale[v], &p->zp[v]);
    }
    return st;
}

/* The values named in opt.keep_float (a node name stands for its outputs). */
static fc_status resolve_keep(fc_qplan *p, fc_err *err)
{
    const fc_graph *g = p->g;
    if (p->opt.n_keep_float < 0 || (p->opt.n_keep_float > 0 && !p->opt.keep_float))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: bad list of layers to keep in float",
                          gname(g));
    for (int k = 0; k < p->opt.n_keep_float; k++) {
        const char *name = p->opt.keep_float[k];
        int v = name ? fc_graph_find_value(g, name) : -1;
        if (v >= 0) {
            p->keep[v] = true;
            continue;
        }
        bool found = false;
        for (int i = 0; name && i < g->n_nodes; i++)
            if (g->nodes[i].name && g->nodes[i].name[0] && !strcmp(g->nodes[i].name, name)) {
                for (int j = 0; j < g->nodes[i].n_outputs; j++)
                    if (g->nodes[i].outputs[j] >= 0)
                        p->keep[g->nodes[i].outputs[j]] = true;
                found = true;
            }
        if (!found)
            return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: no value or node named '%s' to keep "
                              "in float", gname(g), name ? name : "(null)");
    }
    return FC_OK;
}

/* fc_qplan_build (calib given) or fc_qplan_build_with (stats given). */
static fc_status build(fc_qplan *p, const fc_graph *g, const fc_tensor *calib,
                       const fc_qplan_stats *stats, const fc_quant_options *opt, fc_err *err)
{
    memset(p, 0, sizeof *p);
    p->g = g;
    if (opt)
        p->opt = *opt;
    fc_status st = check_inputs(g, calib, &p->opt, err);
    if (st)
        return st;
    p->per_channel = !p->opt.per_tensor_weights && g->opset >= 13;
    if ((st = alloc_plan(p, err)) || (st = resolve_keep(p, err)))
        return st;
    if (stats) {
        if (stats->s.n_values != g->n_values || !stats->lo || !stats->hi)
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: statistics of another graph", gname(g));
        p->s = stats->s;
        p->borrowed_stats = true;
        p->range_lo = stats->lo;
        p->range_hi = stats->hi;
    } else if ((st = fc_calib_stats_init(&p->s, g, err))) {
        return st;
    }
    fc_engine *e = NULL;
    int *kinds = fc_malloc(FC_MAX_NODE_IO * sizeof *kinds);
    if (!kinds)
        st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory planning the quantization", gname(g));
    if (!st && !stats)
        st = fc_engine_create(g, "f32", &e, err);
    if (!st && !stats)
        st = fc_calib_run(e, g, calib, p->opt.batch, false, &p->s, err);
    if (!st) {
        p->sum.images = p->s.images;
        assign_roles(p, kinds);
        if (p->sum.quantized_ops == 0)
            st = fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: nothing to quantize: no Conv, Gemm, "
                            "MatMul, Add, pooling or Concat node with float inputs%s", gname(g),
                            p->opt.n_keep_float > 0 ? " outside the layers kept in float" : "");
    }
    if (!st)
        st = compute_scales(p, e, calib, err);
    fc_engine_free(e);
    fc_free(kinds);
    return st;
}

fc_status fc_qplan_build(fc_qplan *p, const fc_graph *g, const fc_tensor *calib,
                         const fc_quant_options *opt, fc_err *err)
{
    return build(p, g, calib, NULL, opt, err);
}

fc_status fc_qplan_build_with(fc_qplan *p, const fc_graph *g, const fc_qplan_stats *st,
                              const fc_quant_options *opt, fc_err *err)
{
    return build(p, g, NULL, st, opt, err);
}

static bool is_activation(const fc_graph *g, const fc_calib_stats *s, int v)
{
    const fc_value *val = &g->values[v];
    return !val->init && s->seen[v] && !(val->is_input && val->is_output);
}

fc_status fc_qplan_calibrate(const fc_graph *g, const fc_tensor *calib,
                             const fc_quant_options *opt, fc_qplan_stats *qs, fc_err *err)
{
    memset(qs, 0, sizeof *qs);
    fc_calib_stats *s = &qs->s;
    fc_quant_options o = {0};
    if (opt)
        o = *opt;
    fc_status st = check_inputs(g, calib, &o, err);
    if (st || (st = fc_calib_stats_init(s, g, err)))
        return st;
    size_t nv = g->n_values > 0 ? (size_t)g->n_values : 1;
    qs->lo = fc_calloc(nv, sizeof *qs->lo);
    qs->hi = fc_calloc(nv, sizeof *qs->hi);
    if (!qs->lo || !qs->hi)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory calibrating", gname(g));
    fc_engine *e = NULL;
    bool hist = o.method == FC_CALIB_PERCENTILE || o.method == FC_CALIB_ENTROPY, any = false;
    if (!(st = fc_engine_create(g, "f32", &e, err)))
        st = fc_calib_run(e, g, calib, o.batch, false, s, err);
    for (int v = 0; !st && hist && v < g->n_values; v++)
        if (is_activation(g, s, v) && !g->values[v].is_output) {
            st = fc_calib_want_hist(s, v, err);
            any = true;
        }
    if (!st && any)
        st = fc_calib_run(e, g, calib, o.batch, true, s, err);
    fc_engine_free(e);
    for (int v = 0; !st && v < g->n_values; v++)
        if (is_activation(g, s, v))
            fc_calib_range(s, v, g->values[v].is_output ? FC_CALIB_MINMAX : o.method,
                           o.percentile, &qs->lo[v], &qs->hi[v]);
    return st;
}

void fc_qplan_stats_free(fc_qplan_stats *st)
{
    fc_calib_stats_free(&st->s);
    fc_free(st->lo);
    fc_free(st->hi);
    memset(st, 0, sizeof *st);
}

void fc_qplan_free(fc_qplan *p)
{
    if (!p->borrowed_stats)
        fc_calib_stats_free(&p->s);
    fc_free(p->readers);
    fc_free(p->reader);
    fc_free(p->role);
    fc_free(p->fold_out);
    fc_free(p->param_of);
    fc_free(p->scale);
    fc_free(p->zp);
    fc_free(p->keep);
    memset(p, 0, sizeof *p);
}
