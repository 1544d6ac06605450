/* The op table and fc_plan_create: shape inference over a whole graph for
 * concrete input shapes, folding small integer shape computations.
 *
 * One pass in node order (the loader sorted the nodes topologically): each
 * node's inputs already have info, its op's infer function fills its
 * outputs, every output's element count is checked against the caps, and a
 * node whose inputs are all constant (Shape: whose input dims are known) and
 * whose outputs are small is folded into plan-owned constants. */
#include "fc_plan.h"

#include <string.h>

#include "../core/fc_alloc.h"
#include "fc_ops_internal.h"

#define OP(n, i, f) {.domain = "", .name = (n), .infer = (i), .fold = (f)}
/* ONNX Runtime's contrib ops (fc_ops_quant.c). */
#define MS(n, i) {.domain = "com.microsoft", .name = (n), .infer = (i), .fold = NULL}

/* Sorted by name, then domain (strcmp order; names are unique across the
 * domains): fc_op_find bisects it. */
static const fc_op_def op_table[] = {
    OP("Add", fc_infer_binary, fc_fold_binary),
    OP("AveragePool", fc_infer_averagepool, NULL),
    OP("BatchNormalization", fc_infer_batchnorm, NULL),
    OP("Cast", fc_infer_cast, fc_fold_cast),
    OP("Clip", fc_infer_clip, NULL),
    OP("Concat", fc_infer_concat, fc_fold_concat),
    OP("Constant", fc_infer_constant, fc_fold_constant),
    OP("ConstantOfShape", fc_infer_constant_of_shape, fc_fold_constant_of_shape),
    OP("Conv", fc_infer_conv, NULL),
    OP("ConvInteger", fc_infer_convinteger, NULL),
    OP("DequantizeLinear", fc_infer_dequantizelinear, NULL),
    OP("Div", fc_infer_binary, fc_fold_binary),
    OP("Dropout", fc_infer_dropout, NULL),
    OP("DynamicQuantizeLinear", fc_infer_dynamicquantizelinear, NULL),
    OP("Flatten", fc_infer_flatten, fc_fold_copy),
    OP("Gather", fc_infer_gather, fc_fold_gather),
    OP("Gemm", fc_infer_gemm, NULL),
    OP("GlobalAveragePool", fc_infer_global_pool, NULL),
    OP("GlobalMaxPool", fc_infer_global_pool, NULL),
    OP("Identity", fc_infer_identity, fc_fold_copy),
    OP("LeakyRelu", fc_infer_leakyrelu, NULL),
    OP("LogSoftmax", fc_infer_softmax, NULL),
    OP("MatMul", fc_infer_matmul, NULL),
    OP("MatMulInteger", fc_infer_matmulinteger, NULL),
    OP("MaxPool", fc_infer_maxpool, NULL),
    OP("Mul", fc_infer_binary, fc_fold_binary),
    OP("Pad", fc_infer_pad, NULL),
    MS("QGemm", fc_infer_qgemm),
    MS("QLinearAdd", fc_infer_qlinearadd),
    MS("QLinearAveragePool", fc_infer_qlinearavgpool),
    MS("QLinearConcat", fc_infer_qlinearconcat),
    OP("QLinearConv", fc_infer_qlinearconv, NULL),
    MS("QLinearGlobalAveragePool", fc_infer_qlinearglobalavgpool),
    OP("QLinearMatMul", fc_infer_qlinearmatmul, NULL),
    OP("QuantizeLinear", fc_infer_quantizelinear, NULL),
    OP("ReduceMean", fc_infer_reducemean, NULL),
    OP("Relu", fc_infer_unary, NULL),
    OP("Reshape", fc_infer_reshape, fc_fold_copy),
    OP("Shape", fc_infer_shape, fc_fold_shape),
    OP("Sigmoid", fc_infer_unary, NULL),
    OP("Softmax", fc_infer_softmax, NULL),
    OP("Squeeze", fc_infer_squeeze, fc_fold_copy),
    OP("Sub", fc_infer_binary, fc_fold_binary),
    OP("Tanh", fc_infer_unary, NULL),
    OP("Transpose", fc_infer_transpose, NULL),
    OP("Unsqueeze", fc_infer_unsqueeze, fc_fold_copy),
};

#define N_OPS ((int)(sizeof op_table / sizeof op_table[0]))

const fc_op_def *fc_op_table(int *count)
{
    if (count)
        *count = N_OPS;
    return op_table;
}

static int cmp_def(const char *domain, const char *name, const fc_op_def *d)
{
    int c = strcmp(name, d->name);
    return c ? c : strcmp(domain, d->domain);
}

const fc_op_def *fc_op_find(const char *domain, const char *op_type)
{
    if (!op_type)
        return NULL;
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    int lo = 0, hi = N_OPS;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = cmp_def(domain, op_type, &op_table[mid]);
        if (c == 0)
            return &op_table[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void fc_plan_free(fc_plan *p)
{
    if (!p)
        return;
    for (int v = 0; p->folded && v < p->graph->n_values; v++)
        fc_tensor_release(&p->folded[v]);
    fc_free(p->vals);
    fc_free(p->folded);
    fc_free(p->node_folded);
    fc_free(p);
}

/* State of one fc_plan_create call. */
typedef struct builder {
    const fc_graph *g;
    fc_plan *p;
    bool *known;                 /* per value: vals[v] is filled */
    const fc_vinfo **ins;        /* scratch, max node inputs */
    fc_vinfo *outs;              /* scratch, max node outputs */
    fc_tensor *fold_out;         /* scratch, max node outputs */
} builder;

static const char *gpath(const fc_graph *g) { return g->path ? g->path : "model"; }

/* dtype, rank and element count of a tensor we are about to trust. */
static fc_status check_info(const fc_vinfo *vi, const char *name, fc_err *err)
{
    if (!fc_dtype_supported(vi->dtype))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "'%s' has unsupported data type %d", name,
                          (int)vi->dtype);
    size_t numel;
    return fc_shape_numel(vi->rank, vi->dims, &numel, name, err);
}

/* A run-time input against what the model declares (-1 = any). */
static fc_status check_input(const fc_graph *g, int i, const fc_vinfo *given, fc_err *err)
{
    const fc_value *d = &g->values[g->inputs[i]];
    fc_status st = check_info(given, d->name, err);
    if (st)
        return st;
    if (d->rank > FC_MAX_RANK)
        return fc_err_set(err, FC_ERR_LIMIT, "input '%s' declares rank %d", d->name, d->rank);
    if (d->dtype != FC_DT_UNDEFINED && d->dtype != given->dtype)
        return fc_err_set(err, FC_ERR_SHAPE, "input '%s' has type %s, the model declares %s",
                          d->name, fc_dtype_name(given->dtype), fc_dtype_name(d->dtype));
    bool ok = d->rank < 0 || d->rank == given->rank;
    for (int k = 0; ok && d->rank >= 0 && k < d->rank; k++)
        ok = d->dims[k] < 0 || d->dims[k] == given->dims[k];
    if (!ok) {
        char sg[128], sd[128];
        return fc_err_set(err, FC_ERR_SHAPE, "input '%s' has shape %s, the model declares %s",
                          d->name, fc_dims_str(given->rank, given->dims, sg, sizeof sg),
                          fc_dims_str(d->rank, d->dims, sd, sizeof sd));
    }
    const fc_tensor *t = given->value;
    if (t) {
        bool same = t->dtype == given->dtype && t->rank == given->rank;
        for (int k = 0; same && k < t->rank; k++)
            same = t->dims[k] == given->dims[k];
        if (!same)
            return fc_err_set(err, FC_ERR_INVALID_ARG,
                              "input '%s': the value given does not match its shape", d->name);
    }
    return FC_OK;
}

/* Folds node i when its op can and all it needs is constant.  On success
 * either every listed output has a plan-owned value or nothing changed. */
static fc_status try_fold(builder *b, int i, const fc_op_def *def, fc_err *err)
{
    const fc_node *n = &b->g->nodes[i];
    fc_plan *p = b->p;
    /* Shape needs only dims, which inference always knows. */
    if (def->fold != fc_fold_shape)
        for (int j = 0; j < n->n_inputs; j++)
            if (b->ins[j] && !b->ins[j]->value)
                return FC_OK;
    for (int j = 0; j < n->n_outputs; j++)
        if (n->outputs[j] >= 0 && fc_opi_numel(&b->outs[j]) > FC_MAX_FOLD_ELEMS)
            return FC_OK;
    memset(b->fold_out, 0, (size_t)n->n_outputs * sizeof *b->fold_out);
    fc_status st = def->fold(n, b->ins, b->outs, b->fold_out, err);
    bool all = true;
    for (int j = 0; !st && j < n->n_outputs; j++) {
        const fc_tensor *t = &b->fold_out[j];
        if (n->outputs[j] < 0)
            continue;
        if (!t->data) {
            all = false;   /* declined */
            continue;
        }
        bool same = t->dtype == b->outs[j].dtype && t->rank == b->outs[j].rank;
        for (int k = 0; same && k < t->rank; k++)
            same = t->dims[k] == b->outs[j].dims[k];
        if (!same)
            st = fc_err_set(err, FC_ERR_INTERNAL, "folded output %d differs from its inferred shape", j);
    }
    for (int j = 0; j < n->n_outputs; j++) {
        int v = n->outputs[j];
        if (!st && all && v >= 0) {
            p->folded[v] = b->fold_out[j];
            b->outs[j].value = &p->folded[v];
        } else {
            fc_tensor_release(&b->fold_out[j]);
        }
    }
    if (!st && all)
        p->node_folded[i] = true;
    return st;
}

static fc_status unsupported_op(const fc_graph *g, int i, fc_err *err)
{
    const fc_node *n = &g->nodes[i];
    const char *dot = n->domain[0] ? "." : "";
    if (n->name && n->name[0])
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "unsupported op '%s%s%s' (node '%s')",
                          n->domain, dot, n->op_type, n->name);
    return fc_err_set(err, FC_ERR_UNSUPPORTED, "unsupported op '%s%s%s' (node #%d)", n->domain,
                      dot, n->op_type, i);
}

static fc_status plan_node(builder *b, int i, const fc_op_def *def, fc_err *err)
{
    const fc_graph *g = b->g;
    const fc_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_inputs; j++) {
        int v = n->inputs[j];
        b->ins[j] = NULL;
        if (v < 0)
            continue;
        if (v >= g->n_values || !b->known[v])
            return fc_err_set(err, FC_ERR_INTERNAL, "input %d ('%s') has no shape yet", j,
                              v < g->n_values ? g->values[v].name : "?");
        b->ins[j] = &b->p->vals[v];
    }
    memset(b->outs, 0, (size_t)n->n_outputs * sizeof *b->outs);
    fc_status st = def->infer(n, b->ins, b->outs, err);
    if (st)
        return st;
    for (int j = 0; j < n->n_outputs; j++) {
        int v = n->outputs[j];
        if (v < 0)
            continue;
        bool twice = v >= g->n_values || b->known[v];
        for (int k = 0; k < j; k++)
            twice = twice || n->outputs[k] == v;
        if (twice)
            return fc_err_set(err, FC_ERR_INTERNAL, "output %d is written twice", j);
        const fc_value *decl = &g->values[v];
        if ((st = check_info(&b->outs[j], decl->name, err)))
            return st;
        if (decl->is_output && decl->dtype != FC_DT_UNDEFINED && decl->dtype != b->outs[j].dtype)
            return fc_err_set(err, FC_ERR_SHAPE, "output '%s' has type %s, the model declares %s",
                              decl->name, fc_dtype_name(b->outs[j].dtype),
                              fc_dtype_name(decl->dtype));
    }
    if (def->fold && (st = try_fold(b, i, def, err)))
        return st;
    for (int j = 0; j < n->n_outputs; j++)
        if (n->outputs[j] >= 0) {
            b->p->vals[n->outputs[j]] = b->outs[j];
            b->known[n->outputs[j]] = true;
        }
    return FC_OK;
}

static fc_status plan_graph(builder *b, const fc_vinfo *inputs, fc_err *err)
{
    const fc_graph *g = b->g;
    fc_plan *p = b->p;
    fc_status st;
    for (int v = 0; v < g->n_values; v++) {
        const fc_tensor *t = g->values[v].init;
        if (!t)
            continue;
        fc_opi_set(&p->vals[v], t->dtype, t->rank, t->dims);
        p->vals[v].value = t;
        if ((st = check_info(&p->vals[v], g->values[v].name, err)))
            return st;
        b->known[v] = true;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if ((st = check_input(g, i, &inputs[i], err)))
            return st;
        p->vals[v] = inputs[i];
        b->known[v] = true;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const fc_op_def *def = fc_op_find(g->nodes[i].domain, g->nodes[i].op_type);
        if (!def)
            return unsupported_op(g, i, err);
        if ((st = plan_node(b, i, def, err))) {
            char label[160];
            fc_err_prefix(err, "node %s: ", fc_node_label(g, i, label, sizeof label));
            return st;
        }
    }
    for (int o = 0; o < g->n_outputs; o++)
        if (!b->known[g->outputs[o]])
            return fc_err_set(err, FC_ERR_PARSE, "graph output '%s' is never computed",
                              g->values[g->outputs[o]].name);
    return FC_OK;
}

fc_status fc_plan_create(const fc_graph *g, const fc_vinfo *inputs, int n_inputs,
                         fc_plan **out, fc_err *err)
{
    if (!out || !g || (n_inputs && !inputs))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "fc_plan_create: missing argument");
    *out = NULL;
    if (n_inputs != g->n_inputs)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: %d inputs given, the model has %d",
                          gpath(g), n_inputs, g->n_inputs);
    int max_in = 1, max_out = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].n_inputs > max_in)
            max_in = g->nodes[i].n_inputs;
        if (g->nodes[i].n_outputs > max_out)
            max_out = g->nodes[i].n_outputs;
    }
    size_t nv = g->n_values > 0 ? (size_t)g->n_values : 1;
    size_t nn = g->n_nodes > 0 ? (size_t)g->n_nodes : 1;
    builder b = {.g = g};
    fc_plan *p = fc_calloc(1, sizeof *p);
    if (p) {
        p->graph = g;
        p->vals = fc_calloc(nv, sizeof *p->vals);
        p->folded = fc_calloc(nv, sizeof *p->folded);
        p->node_folded = fc_calloc(nn, sizeof *p->node_folded);
    }
    b.p = p;
    b.known = fc_calloc(nv, sizeof *b.known);
    b.ins = fc_calloc((size_t)max_in, sizeof *b.ins);
    b.outs = fc_calloc((size_t)max_out, sizeof *b.outs);
    b.fold_out = fc_calloc((size_t)max_out, sizeof *b.fold_out);
    fc_status st;
    if (!p || !p->vals || !p->folded || !p->node_folded || !b.known || !b.ins || !b.outs ||
        !b.fold_out) {
        st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory planning the graph", gpath(g));
    } else if ((st = plan_graph(&b, inputs, err))) {
        fc_err_prefix(err, "%s: ", gpath(g));
    }
    fc_free(b.known);
    fc_free(b.ins);
    fc_free(b.outs);
    fc_free(b.fold_out);
    if (st) {
        fc_plan_free(p);
        return st;
    }
    *out = p;
    return FC_OK;
}

fc_status fc_plan_create_probe(const fc_graph *g, int64_t batch, fc_plan **out, fc_err *err)
{
    if (!out || !g || batch < 0)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "fc_plan_create_probe: bad argument");
    *out = NULL;
    fc_vinfo *vi = fc_calloc(g->n_inputs > 0 ? (size_t)g->n_inputs : 1, sizeof *vi);
    if (!vi)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory planning the graph", gpath(g));
    fc_status st = FC_OK;
    for (int i = 0; i < g->n_inputs && !st; i++) {
        const fc_value *d = &g->values[g->inputs[i]];
        if (d->dtype == FC_DT_UNDEFINED)
            st = fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: input '%s' has no declared type",
                            gpath(g), d->name);
        else if (d->rank < 0)
            st = fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: input '%s' has no declared shape",
                            gpath(g), d->name);
        else if (d->rank > FC_MAX_RANK)
            st = fc_err_set(err, FC_ERR_LIMIT, "%s: input '%s' declares rank %d", gpath(g),
                            d->name, d->rank);
        if (st)
            break;
        vi[i].dtype = d->dtype;
        vi[i].rank = d->rank;
        for (int k = 0; k < d->rank; k++)
            vi[i].dims[k] = d->dims[k] < 0 ? batch : d->dims[k];
    }
    if (!st)
        st = fc_plan_create(g, vi, g->n_inputs, out, err);
    fc_free(vi);
    return st;
}
