/* QDQ fusion (see fc_qdq.h).  Two passes: the groups are matched on the
 * input graph, and the copy is edited in place: the group's op node
 * becomes the integer op (same position, so the order stays topological),
 * its Q (and a redundant Relu/Clip) is dropped, then every
 * DequantizeLinear nobody reads any more.  Value indices are those of the
 * input graph (fc_graph_clone keeps them); new values (zero points that a
 * DQ or Q left implicit) are appended. */
#include "fc_qdq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/fc_alloc.h"
#include "fc_opattr.h"

/* Quantization parameters of one DequantizeLinear or QuantizeLinear. */
typedef struct qp {
    int node;              /* its node index */
    int x, scale, zp;      /* value indices; zp -1 when omitted */
    int y;                 /* its output value */
    fc_dtype dt;           /* the integer type (uint8, int8; int32 for a bias) */
    size_t n;              /* number of scale values */
    int axis;              /* normalized axis when n > 1 */
} qp;

typedef struct ctx {
    const fc_graph *g;     /* matched */
    fc_graph *out;         /* edited */
    int *n_cons, *cons;    /* per value of g: readers, and the last reader */
    bool *drop;            /* per node: remove from out */
    int zero[2];           /* out's scalar zero point values (uint8, int8), -1 until made */
    int n_fused;
} ctx;

static bool is_op(const fc_node *n, const char *op)
{
    return n->domain[0] == '\0' && strcmp(n->op_type, op) == 0;
}

static const fc_tensor *init_of(const fc_graph *g, int v)
{
    return v >= 0 ? g->values[v].init : NULL;
}

static int in_at(const fc_node *n, int i) { return i < n->n_inputs ? n->inputs[i] : -1; }

/* The integer type of a value a DQ reads: its initializer's, the zero
 * point type of the Q that writes it, or the declared one. */
static fc_dtype value_dtype(const fc_graph *g, int v)
{
    if (g->values[v].init)
        return g->values[v].init->dtype;
    int p = g->values[v].producer;
    if (p >= 0 && is_op(&g->nodes[p], "QuantizeLinear")) {
        const fc_tensor *z = init_of(g, in_at(&g->nodes[p], 2));
        return z ? z->dtype : in_at(&g->nodes[p], 2) < 0 ? FC_DT_U8 : FC_DT_UNDEFINED;
    }
    return g->values[v].dtype;
}

/* Common part of DQ and Q: constant float scale, constant zero point of
 * one value per scale value. */
static bool read_params(const fc_graph *g, int node, qp *q)
{
    const fc_node *n = &g->nodes[node];
    if (n->n_inputs < 2 || n->n_outputs != 1 || n->outputs[0] < 0 || fc_attr_find(n, "block_size"))
        return false;
    q->node = node;
    q->x = n->inputs[0];
    q->scale = n->inputs[1];
    q->zp = in_at(n, 2);
    q->y = n->outputs[0];
    const fc_tensor *s = init_of(g, q->scale), *z = init_of(g, q->zp);
    if (q->x < 0 || !s || s->dtype != FC_DT_F32 || s->numel < 1 || (q->zp >= 0 && !z))
        return false;
    q->n = s->numel;
    q->axis = -1;
    return !z || z->numel == s->numel;
}

/* The DequantizeLinear writing value v, if it is one we can fuse. */
static bool read_dq(const ctx *c, int v, qp *q)
{
    const fc_graph *g = c->g;
    int p = v >= 0 ? g->values[v].producer : -1;
    if (p < 0 || !is_op(&g->nodes[p], "DequantizeLinear") || !read_params(g, p, q))
        return false;
    const fc_tensor *z = init_of(g, q->zp);
    q->dt = z ? z->dtype : value_dtype(g, q->x);
    if (q->dt != FC_DT_U8 && q->dt != FC_DT_I8 && q->dt != FC_DT_I32)
        return false;
    if (q->n > 1) {
        /* Per axis: only for constant tensors (weights). */
        const fc_tensor *x = init_of(g, q->x);
        int64_t axis;
        if (!x || g->nodes[p].opset < 13 ||
            fc_attr_get_int(&g->nodes[p], "axis", 1, &axis, NULL) ||
            fc_axis_normalize(axis, x->rank, &q->axis, NULL) || (size_t)x->dims[q->axis] != q->n)
            return false;
    }
    return true;
}

static bool per_tensor_8bit(const qp *q)
{
    return q->n == 1 && (q->dt == FC_DT_U8 || q->dt == FC_DT_I8);
}

/* The one reader of value v (-1 if none, several, or v is a graph output). */
static int sole_reader(const ctx *c, int v)
{
    if (v < 0 || c->n_cons[v] != 1 || c->g->values[v].is_output)
        return -1;
    return c->cons[v];
}

static float scalar_f(const fc_tensor *t) { return ((const float *)t->data)[0]; }

static int32_t zp_value(const fc_graph *g, const qp *q, size_t i)
{
    const fc_tensor *z = init_of(g, q->zp);
    if (!z)
        return 0;
    return (int32_t)fc_tensor_get_i64(z, z->numel == 1 ? 0 : i);
}

/* A Relu, or a Clip with constant bounds, that Q's saturation makes
 * redundant: the dequantized range of Q, [(qmin - zp) s, (qmax - zp) s]
 * (exact in double), lies within the clip range. */
static bool clip_redundant(const ctx *c, const fc_node *n, const qp *q)
{
    const fc_graph *g = c->g;
    const fc_tensor *s = init_of(g, q->scale);
    double scale = scalar_f(s);
    if (!(scale > 0.0))
        return false;
    double qmin = q->dt == FC_DT_I8 ? -128.0 : 0.0, qmax = q->dt == FC_DT_I8 ? 127.0 : 255.0;
    double zp = zp_value(g, q, 0), lo = (qmin - zp) * scale, hi = (qmax - zp) * scale;
    float cmin = -INFINITY, cmax = INFINITY;
    if (is_op(n, "Relu")) {
        cmin = 0.0f;
    } else if (n->opset < 11) {
        if (fc_attr_get_float(n, "min", cmin, &cmin, NULL) ||
            fc_attr_get_float(n, "max", cmax, &cmax, NULL))
            return false;
    } else {
        for (int i = 1; i < 3; i++) {
            int v = in_at(n, i);
            const fc_tensor *t = init_of(g, v);
            if (v >= 0 && (!t || t->dtype != FC_DT_F32 || t->numel != 1))
                return false;
            if (t)
                *(i == 1 ? &cmin : &cmax) = scalar_f(t);
        }
    }
    return (double)cmin <= lo && (double)cmax >= hi;
}

/* The QuantizeLinear that alone reads the output of node `t` (possibly
 * through a redundant Relu/Clip, returned in *act, else -1). */
static bool read_q(const ctx *c, int t, qp *q, int *act)
{
    const fc_graph *g = c->g;
    const fc_node *n = &g->nodes[t];
    *act = -1;
    if (n->n_outputs != 1)
        return false;
    int r = sole_reader(c, n->outputs[0]);
    if (r < 0)
        return false;
    const fc_node *rn = &g->nodes[r];
    if ((is_op(rn, "Relu") || is_op(rn, "Clip")) && rn->n_outputs == 1) {
        *act = r;
        r = sole_reader(c, rn->outputs[0]);
        if (r < 0)
            return false;
        rn = &g->nodes[r];
    }
    if (!is_op(rn, "QuantizeLinear") || in_at(rn, 0) != g->nodes[*act >= 0 ? *act : t].outputs[0] ||
        !read_params(g, r, q) || q->n != 1)
        return false;
    const fc_tensor *z = init_of(g, q->zp);
    q->dt = z ? z->dtype : FC_DT_U8;
    if (!per_tensor_8bit(q))
        return false;
    return *act < 0 || clip_redundant(c, &g->nodes[*act], q);
}

static bool same_params(const ctx *c, const qp *a, const qp *b)
{
    const fc_graph *g = c->g;
    return a->dt == b->dt && a->n == 1 && b->n == 1 &&
           scalar_f(init_of(g, a->scale)) == scalar_f(init_of(g, b->scale)) &&
           zp_value(g, a, 0) == zp_value(g, b, 0);
}

/* The copy to edit, made at the first group that matches (a graph with
 * nothing to fuse is never copied). */
static fc_status ensure_out(ctx *c, fc_err *err)
{
    return c->out ? FC_OK : fc_graph_clone(c->g, &c->out, err);
}

/* The zero point input of q in the output graph: its own, or a scalar 0
 * of its type made once. */
static fc_status zp_input(ctx *c, const qp *q, int *v, fc_err *err)
{
    if (q->zp >= 0) {
        *v = q->zp;
        return FC_OK;
    }
    int slot = q->dt == FC_DT_I8;
    if (c->zero[slot] < 0) {
        fc_tensor t;
        fc_status st = ensure_out(c, err);
        if (st || (st = fc_tensor_alloc(&t, q->dt, 0, NULL, err)))
            return st;
        char name[96];
        fc_graph_unique_name(c->out, slot ? "fc_qdq_zero_i8" : "fc_qdq_zero_u8", name, sizeof name);
        if ((st = fc_graph_add_value(c->out, name, &t, &c->zero[slot], err)))
            return st;
    }
    *v = c->zero[slot];
    return FC_OK;
}

/* Turns node t of out into op(ins) -> y_value, dropping q_node and act. */
static fc_status rewrite(ctx *c, int t, const char *op, bool ms, const int *ins, int n_in,
                         int y_value, int q_node, int act, fc_err *err)
{
    fc_status st = ensure_out(c, err);
    if (st)
        return st;
    fc_graph *o = c->out;
    int64_t opset = ms ? (o->ms_opset > 0 ? o->ms_opset : 1) : o->opset;
    fc_node *n = &o->nodes[t];
    if ((st = fc_node_set_op(n, op, ms ? "com.microsoft" : "", opset, err)) ||
        (st = fc_node_set_io(n, ins, n_in, &y_value, 1, err)))
        return st;
    /* Gemm's beta is not a QGemm attribute (C is scaled like the product). */
    if (ms && strcmp(op, "QGemm") == 0)
        fc_node_remove_attr(n, "beta");
    if (ms && o->ms_opset <= 0)
        o->ms_opset = 1;
    if (q_node >= 0)
        c->drop[q_node] = true;
    if (act >= 0)
        c->drop[act] = true;
    c->n_fused++;
    return FC_OK;
}

/* Appends x, scale, zero point of q to ins. */
static fc_status push3(ctx *c, const qp *q, int *ins, int *k, fc_err *err)
{
    ins[(*k)++] = q->x;
    ins[(*k)++] = q->scale;
    return zp_input(c, q, &ins[(*k)++], err);
}

/* A weight DQ: constant, per tensor or per `axis` (normalized against the
 * weight's rank). */
static bool weight_ok(const ctx *c, const qp *w, int axis)
{
    const fc_tensor *x = init_of(c->g, w->x);
    if (!x || (w->dt != FC_DT_U8 && w->dt != FC_DT_I8))
        return false;
    return w->n == 1 || w->axis == axis;
}

/* An int32 bias DQ with zero points 0, read as the int32 tensor. */
static bool bias_ok(const ctx *c, const qp *b)
{
    if (b->dt != FC_DT_I32 || !init_of(c->g, b->x))
        return false;
    for (size_t i = 0; i < b->n; i++)
        if (zp_value(c->g, b, i) != 0)
            return false;
    return true;
}

static fc_status fuse_conv(ctx *c, int t, fc_err *err)
{
    const fc_node *n = &c->g->nodes[t];
    qp x, w, b, y;
    int act, ins[9], k = 0;
    bool has_b = in_at(n, 2) >= 0;
    if (n->n_inputs < 2 || !read_dq(c, n->inputs[0], &x) || !per_tensor_8bit(&x) ||
        !read_dq(c, n->inputs[1], &w) || !weight_ok(c, &w, 0) ||
        (has_b && (!read_dq(c, n->inputs[2], &b) || !bias_ok(c, &b))) ||
        !read_q(c, t, &y, &act) || x.dt != y.dt || (x.dt == FC_DT_I8 && w.dt != FC_DT_I8))
        return FC_OK;
    fc_status st;
    if ((st = push3(c, &x, ins, &k, err)) || (st = push3(c, &w, ins, &k, err)))
        return st;
    ins[k++] = y.scale;
    if ((st = zp_input(c, &y, &ins[k++], err)))
        return st;
    if (has_b)
        ins[k++] = b.x;
    return rewrite(c, t, "QLinearConv", false, ins, k, y.y, y.node, act, err);
}

static fc_status fuse_gemm(ctx *c, int t, fc_err *err)
{
    const fc_node *n = &c->g->nodes[t];
    qp a, w, b, y;
    int act = -1, ins[9], k = 0;
    int64_t tb;
    float beta;
    bool has_b = in_at(n, 2) >= 0;
    if (n->n_inputs < 2 || fc_attr_get_int(n, "transB", 0, &tb, NULL) ||
        fc_attr_get_float(n, "beta", 1.0f, &beta, NULL) || (has_b && beta != 1.0f) ||
        !read_dq(c, n->inputs[0], &a) || !per_tensor_8bit(&a) ||
        !read_dq(c, n->inputs[1], &w) || (w.dt != FC_DT_U8 && w.dt != FC_DT_I8) ||
        (w.n > 1 && !weight_ok(c, &w, tb ? 0 : 1)) || (a.dt == FC_DT_I8 && w.dt != FC_DT_I8) ||
        (has_b && (!read_dq(c, n->inputs[2], &b) || !bias_ok(c, &b))))
        return FC_OK;
    /* Q is optional: without one, QGemm writes float.  But a Q reading
     * the output makes it required, and it must be the only reader. */
    bool quantized = read_q(c, t, &y, &act);
    if (quantized && y.dt != a.dt)
        return FC_OK;
    if (!quantized) {
        /* As ONNX Runtime: no float-output QGemm when a Q reads the output
         * (through a Relu/Clip that is the only reader, too). */
        act = -1;
        int v = n->outputs[0], r = sole_reader(c, v);
        if (r >= 0 && (is_op(&c->g->nodes[r], "Relu") || is_op(&c->g->nodes[r], "Clip")))
            return FC_OK;
        for (int j = 0; j < c->g->n_nodes; j++)
            for (int i = 0; i < c->g->nodes[j].n_inputs; i++)
                if (c->g->nodes[j].inputs[i] == v && is_op(&c->g->nodes[j], "QuantizeLinear"))
                    return FC_OK;
    }
    fc_status st;
    if ((st = push3(c, &a, ins, &k, err)) || (st = push3(c, &w, ins, &k, err)))
        return st;
    ins[k++] = has_b ? b.x : -1;
    if (quantized) {
        ins[k++] = y.scale;
        if ((st = zp_input(c, &y, &ins[k++], err)))
            return st;
    }
    while (k > 6 && ins[k - 1] < 0)
        k--;
    return rewrite(c, t, "QGemm", true, ins, k, quantized ? y.y : n->outputs[0],
                   quantized ? y.node : -1, act, err);
}

static fc_status fuse_matmul(ctx *c, int t, fc_err *err)
{
    const fc_node *n = &c->g->nodes[t];
    qp a, w, y;
    int act, ins[8], k = 0;
    if (n->n_inputs != 2 || !read_dq(c, n->inputs[0], &a) || !per_tensor_8bit(&a) ||
        !read_dq(c, n->inputs[1], &w) || (w.dt != FC_DT_U8 && w.dt != FC_DT_I8) ||
        !read_q(c, t, &y, &act) || y.dt != a.dt || (a.dt == FC_DT_I8 && w.dt != FC_DT_I8))
        return FC_OK;
    if (w.n > 1) {   /* per column of a 2-D constant b */
        const fc_tensor *wx = init_of(c->g, w.x);
        if (!wx || wx->rank != 2 || w.axis != 1)
            return FC_OK;
    }
    fc_status st;
    if ((st = push3(c, &a, ins, &k, err)) || (st = push3(c, &w, ins, &k, err)))
        return st;
    ins[k++] = y.scale;
    if ((st = zp_input(c, &y, &ins[k++], err)))
        return st;
    return rewrite(c, t, "QLinearMatMul", false, ins, k, y.y, y.node, act, err);
}

static fc_status fuse_add(ctx *c, int t, fc_err *err)
{
    const fc_node *n = &c->g->nodes[t];
    qp a, b, y;
    int act, ins[8], k = 0;
    if (n->n_inputs != 2 || !read_dq(c, n->inputs[0], &a) || !per_tensor_8bit(&a) ||
        !read_dq(c, n->inputs[1], &b) || !per_tensor_8bit(&b) || !read_q(c, t, &y, &act) ||
        a.dt != b.dt || a.dt != y.dt)
        return FC_OK;
    fc_status st;
    if ((st = push3(c, &a, ins, &k, err)) || (st = push3(c, &b, ins, &k, err)))
        return st;
    ins[k++] = y.scale;
    if ((st = zp_input(c, &y, &ins[k++], err)))
        return st;
    return rewrite(c, t, "QLinearAdd", true, ins, k, y.y, y.node, act, err);
}

/* GlobalAveragePool / AveragePool: one DQ in, one Q out, one type. */
static fc_status fuse_pool(ctx *c, int t, const char *op, fc_err *err)
{
    const fc_node *n = &c->g->nodes[t];
    qp x, y;
    int act, ins[5], k = 0;
    if (n->n_inputs != 1 || !read_dq(c, n->inputs[0], &x) || !per_tensor_8bit(&x) ||
        !read_q(c, t, &y, &act) || x.dt != y.dt)
        return FC_OK;
    fc_status st = push3(c, &x, ins, &k, err);
    if (st)
        return st;
    ins[k++] = y.scale;
    if ((st = zp_input(c, &y, &ins[k++], err)))
        return st;
    return rewrite(c, t, op, true, ins, k, y.y, y.node, act, err);
}

static fc_status fuse_concat(ctx *c, int t, fc_err *err)
{
    const fc_node *n = &c->g->nodes[t];
    qp y;
    int act;
    if (n->n_inputs < 1 || n->n_inputs > (FC_MAX_NODE_IO - 2) / 3 || !read_q(c, t, &y, &act))
        return FC_OK;
    for (int i = 0; i < n->n_inputs; i++) {
        qp x;
        if (!read_dq(c, n->inputs[i], &x) || !per_tensor_8bit(&x) || x.dt != y.dt)
            return FC_OK;
    }
    int *ins = fc_malloc((size_t)(2 + 3 * n->n_inputs) * sizeof *ins), k = 0;
    if (!ins)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory fusing Concat");
    ins[k++] = y.scale;
    fc_status st = zp_input(c, &y, &ins[k++], err);
    for (int i = 0; !st && i < n->n_inputs; i++) {
        qp x;
        read_dq(c, n->inputs[i], &x);
        st = push3(c, &x, ins, &k, err);
    }
    if (!st)
        st = rewrite(c, t, "QLinearConcat", true, ins, k, y.y, y.node, act, err);
    fc_free(ins);
    return st;
}

/* Ops that only move data: DQ -> op -> Q with one set of parameters runs
 * the op on the 8-bit tensor; other inputs (Reshape's shape, Gather's
 * indices) stay. */
static fc_status fuse_drop(ctx *c, int t, bool positive_scale, fc_err *err)
{
    const fc_node *n = &c->g->nodes[t];
    qp x, y;
    int act;
    if (n->n_inputs < 1 || n->n_outputs != 1 || !read_dq(c, n->inputs[0], &x) ||
        !per_tensor_8bit(&x) || !read_q(c, t, &y, &act) || act >= 0 || !same_params(c, &x, &y) ||
        (positive_scale && !(scalar_f(init_of(c->g, y.scale)) > 0.0f)))
        return FC_OK;
    int *ins = fc_malloc((size_t)n->n_inputs * sizeof *ins);
    if (!ins)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory fusing %s", n->op_type);
    memcpy(ins, n->inputs, (size_t)n->n_inputs * sizeof *ins);
    ins[0] = x.x;
    fc_status st = rewrite(c, t, n->op_type, false, ins, n->n_inputs, y.y, y.node, -1, err);
    fc_free(ins);
    return st;
}

static fc_status fuse_node(ctx *c, int t, fc_err *err)
{
    const fc_node *n = &c->g->nodes[t];
    if (n->domain[0] != '\0')
        return FC_OK;
    const char *op = n->op_type;
    if (strcmp(op, "Conv") == 0)
        return fuse_conv(c, t, err);
    if (strcmp(op, "Gemm") == 0)
        return fuse_gemm(c, t, err);
    if (strcmp(op, "MatMul") == 0)
        return fuse_matmul(c, t, err);
    if (strcmp(op, "Add") == 0)
        return fuse_add(c, t, err);
    if (strcmp(op, "GlobalAveragePool") == 0)
        return fuse_pool(c, t, "QLinearGlobalAveragePool", err);
    if (strcmp(op, "AveragePool") == 0)
        return fuse_pool(c, t, "QLinearAveragePool", err);
    if (strcmp(op, "Concat") == 0)
        return fuse_concat(c, t, err);
    if (strcmp(op, "MaxPool") == 0)
        return fuse_drop(c, t, true, err);
    static const char *const moves[] = {"Flatten", "Reshape", "Transpose", "Squeeze",
                                        "Unsqueeze", "Gather"};
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++)
        if (strcmp(op, moves[i]) == 0)
            return fuse_drop(c, t, false, err);
    return FC_OK;
}

/* Drops every DequantizeLinear of out whose output nobody reads now. */
static fc_status drop_dead_dq(ctx *c, fc_err *err)
{
    fc_graph *o = c->out;
    int *readers = fc_calloc(o->n_values > 0 ? (size_t)o->n_values : 1, sizeof *readers);
    if (!readers)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory fusing QDQ groups");
    for (int i = 0; i < o->n_nodes; i++)
        for (int j = 0; !c->drop[i] && j < o->nodes[i].n_inputs; j++)
            if (o->nodes[i].inputs[j] >= 0)
                readers[o->nodes[i].inputs[j]]++;
    for (int i = 0; i < o->n_nodes; i++) {
        const fc_node *n = &o->nodes[i];
        if (!c->drop[i] && is_op(n, "DequantizeLinear") && n->n_outputs == 1 &&
            n->outputs[0] >= 0 && readers[n->outputs[0]] == 0 && !o->values[n->outputs[0]].is_output)
            c->drop[i] = true;
    }
    fc_free(readers);
    return FC_OK;
}

fc_status fc_qdq_fuse(const fc_graph *in, fc_graph **out, int *n_fused, fc_err *err)
{
    *out = NULL;
    *n_fused = 0;
    size_t nv = in->n_values > 0 ? (size_t)in->n_values : 1;
    size_t nn = in->n_nodes > 0 ? (size_t)in->n_nodes : 1;
    ctx c = {.g = in, .zero = {-1, -1}};
    c.n_cons = fc_calloc(nv, sizeof *c.n_cons);
    c.cons = fc_calloc(nv, sizeof *c.cons);
    c.drop = fc_calloc(nn, sizeof *c.drop);
    fc_status st = FC_OK;
    if (!c.n_cons || !c.cons || !c.drop)
        st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory fusing QDQ groups",
                        in->path ? in->path : "model");
    for (int i = 0; !st && i < in->n_nodes; i++)
        for (int j = 0; j < in->nodes[i].n_inputs; j++) {
            int v = in->nodes[i].inputs[j];
            if (v >= 0) {
                c.n_cons[v]++;
                c.cons[v] = i;
            }
        }
    /* Match on `in`, edit the copy. */
    for (int i = 0; !st && i < in->n_nodes; i++)
        if (!c.drop[i])
            st = fuse_node(&c, i, err);
    if (!st && c.out && c.n_fused > 0 && !(st = drop_dead_dq(&c, err)))
        st = fc_graph_remove_nodes(c.out, c.drop, err);
    fc_free(c.n_cons);
    fc_free(c.cons);
    fc_free(c.drop);
    if (st || c.n_fused == 0) {
        fc_graph_free(c.out);
        return st;
    }
    *out = c.out;
    *n_fused = c.n_fused;
    return FC_OK;
}
