/* ONNX ModelProto -> fc_graph.
 *
 * The protobuf-c unpacker only guarantees well-formed protobuf; everything
 * ONNX-level is checked here: opsets, names that refer to nothing, values
 * written twice, cycles, caps on counts and sizes.  Nodes come out in
 * topological order whatever order the file had. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../core/fc_alloc.h"
#include "../core/fc_file.h"
#include "../core/fc_limits.h"
#include "fc_onnx.h"
#include "fc_onnx_internal.h"

#define OPSET_MIN 7
#define OPSET_MAX 17

/* Open-addressing map from value name to index in g->values. */
typedef struct name_map {
    int *slots;          /* -1 empty, else value index */
    size_t mask;
} name_map;

typedef struct loader {
    fc_onnx_ctx ctx;
    fc_graph *g;
    name_map map;
    int cap_values;
} loader;

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static int map_find(const loader *L, const char *name)
{
    for (size_t i = hash_name(name) & L->map.mask;; i = (i + 1) & L->map.mask) {
        int v = L->map.slots[i];
        if (v < 0)
            return -1;
        if (strcmp(L->g->values[v].name, name) == 0)
            return v;
    }
}

/* Index of a new value called name; the caller checked it is absent. */
static fc_status value_add(loader *L, const char *name, int *out, fc_err *err)
{
    fc_graph *g = L->g;
    if (g->n_values >= L->cap_values)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: value table full", L->ctx.label);
    fc_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = fc_strdup(name);
    if (!v->name)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", L->ctx.label);
    v->rank = -1;
    v->producer = -1;
    for (int k = 0; k < FC_MAX_RANK; k++)
        v->dims[k] = -1;
    size_t i = hash_name(name) & L->map.mask;
    while (L->map.slots[i] >= 0)
        i = (i + 1) & L->map.mask;
    L->map.slots[i] = g->n_values;
    *out = g->n_values++;
    return FC_OK;
}

static fc_status check_name(const loader *L, const char *name, const char *what, fc_err *err)
{
    if (!name || !name[0])
        return fc_err_set(err, FC_ERR_PARSE, "%s: %s has an empty name", L->ctx.label, what);
    return FC_OK;
}

/* ---- declared types of graph inputs and outputs ---- */

static fc_status read_value_info(loader *L, const Onnx__ValueInfoProto *vi, fc_value *v,
                                 const char *role, fc_err *err)
{
    const char *name = v->name;
    if (!vi->type)
        return FC_OK;   /* untyped: left to shape inference */
    if (vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: %s '%s' is not a tensor (sequences, "
                          "maps and optionals are not supported)", L->ctx.label, role, name);
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    if (tt->has_elem_type && tt->elem_type != 0) {
        if (!fc_dtype_supported(tt->elem_type))
            return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: %s '%s' has element type %d, not "
                              "supported", L->ctx.label, role, name, (int)tt->elem_type);
        v->dtype = (fc_dtype)tt->elem_type;
    }
    if (!tt->shape)
        return FC_OK;
    if (tt->shape->n_dim > FC_MAX_RANK)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: %s '%s' has rank %zu, the cap is %d",
                          L->ctx.label, role, name, tt->shape->n_dim, FC_MAX_RANK);
    v->rank = (int)tt->shape->n_dim;
    for (int k = 0; k < v->rank; k++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
        v->dims[k] = -1;
        if (!d || d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            continue;
        if (d->dim_value < 0)
            return fc_err_set(err, FC_ERR_PARSE, "%s: %s '%s': dim %d = %lld is negative",
                              L->ctx.label, role, name, k, (long long)d->dim_value);
        if ((uint64_t)d->dim_value > FC_MAX_TENSOR_ELEMS)
            return fc_err_set(err, FC_ERR_LIMIT, "%s: %s '%s': dim %d = %lld is over the cap "
                              "of %llu elements", L->ctx.label, role, name, k,
                              (long long)d->dim_value, (unsigned long long)FC_MAX_TENSOR_ELEMS);
        v->dims[k] = d->dim_value;
    }
    size_t numel;
    int64_t dims[FC_MAX_RANK];
    for (int k = 0; k < v->rank; k++)
        dims[k] = v->dims[k] < 0 ? 1 : v->dims[k];
    char what[200];
    snprintf(what, sizeof what, "%s: %s '%.100s'", L->ctx.label, role, name);
    return fc_shape_numel(v->rank, dims, &numel, what, err);
}

/* ---- initializers, inputs, outputs ---- */

static fc_status add_initializers(loader *L, const Onnx__GraphProto *gp, fc_err *err)
{
    if (gp->n_sparse_initializer)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: sparse initializers are not supported",
                          L->ctx.label);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        fc_status st = check_name(L, tp->name, "an initializer", err);
        if (st)
            return st;
        if (map_find(L, tp->name) >= 0)
            return fc_err_set(err, FC_ERR_PARSE, "%s: initializer '%s' is defined twice",
                              L->ctx.label, tp->name);
        int v;
        if ((st = value_add(L, tp->name, &v, err)))
            return st;
        fc_tensor *t = fc_calloc(1, sizeof *t);
        if (!t)
            return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", L->ctx.label);
        char what[160];
        snprintf(what, sizeof what, "initializer '%.120s'", tp->name);
        if ((st = fc_onnx_decode_tensor(&L->ctx, tp, what, t, err))) {
            fc_free(t);
            return st;
        }
        fc_value *val = &L->g->values[v];
        val->init = t;
        val->dtype = t->dtype;
        val->rank = t->rank;
        memcpy(val->dims, t->dims, sizeof val->dims);
    }
    return FC_OK;
}

static fc_status add_inputs(loader *L, const Onnx__GraphProto *gp, fc_err *err)
{
    fc_graph *g = L->g;
    g->inputs = fc_calloc(gp->n_input ? gp->n_input : 1, sizeof *g->inputs);
    if (!g->inputs)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", L->ctx.label);
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        fc_status st = check_name(L, vi->name, "a graph input", err);
        if (st)
            return st;
        int v = map_find(L, vi->name);
        if (v >= 0 && g->values[v].init)
            continue;   /* IR < 4 lists initializers as inputs: not fed at run time */
        if (v >= 0)
            return fc_err_set(err, FC_ERR_PARSE, "%s: graph input '%s' is listed twice",
                              L->ctx.label, vi->name);
        if ((st = value_add(L, vi->name, &v, err)))
            return st;
        g->values[v].is_input = true;
        if ((st = read_value_info(L, vi, &g->values[v], "input", err)))
            return st;
        g->inputs[g->n_inputs++] = v;
    }
    return FC_OK;
}

static fc_status add_outputs(loader *L, const Onnx__GraphProto *gp, fc_err *err)
{
    fc_graph *g = L->g;
    if (gp->n_output == 0)
        return fc_err_set(err, FC_ERR_PARSE, "%s: the graph has no outputs", L->ctx.label);
    if (gp->n_output > FC_MAX_NODE_IO)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: %zu graph outputs, the cap is %d", L->ctx.label,
                          gp->n_output, FC_MAX_NODE_IO);
    g->outputs = fc_calloc(gp->n_output, sizeof *g->outputs);
    if (!g->outputs)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", L->ctx.label);
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        fc_status st = check_name(L, vi->name, "a graph output", err);
        if (st)
            return st;
        int v = map_find(L, vi->name);
        if (v < 0)
            return fc_err_set(err, FC_ERR_PARSE, "%s: graph output '%s' is not computed by any "
                              "node, initializer or input", L->ctx.label, vi->name);
        if (g->values[v].is_output)
            return fc_err_set(err, FC_ERR_PARSE, "%s: graph output '%s' is listed twice",
                              L->ctx.label, vi->name);
        fc_value tmp = g->values[v];
        if (!tmp.init && !tmp.is_input) {
            if ((st = read_value_info(L, vi, &tmp, "output", err)))
                return st;
            g->values[v].dtype = tmp.dtype;
            g->values[v].rank = tmp.rank;
            memcpy(g->values[v].dims, tmp.dims, sizeof tmp.dims);
        }
        g->values[v].is_output = true;
        g->outputs[g->n_outputs++] = v;
    }
    return FC_OK;
}

/* ---- nodes ---- */

static fc_status convert_attr(loader *L, const Onnx__AttributeProto *ap, const char *node,
                              fc_attr *a, fc_err *err)
{
    const char *label = L->ctx.label;
    fc_status st = FC_OK;
    if (!ap->name || !ap->name[0])
        return fc_err_set(err, FC_ERR_PARSE, "%s: node %s: an attribute has no name", label, node);
    if (!(a->name = fc_strdup(ap->name)))
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", label);
    if (ap->ref_attr_name && ap->ref_attr_name[0])
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: node %s: attribute '%s' refers to a "
                          "function attribute", label, node, ap->name);
    int type = ap->has_type ? (int)ap->type : 0;
    if (type == 0) {   /* IR < 2 files: infer the type from what is present */
        type = ap->has_f ? FC_ATTR_FLOAT : ap->has_i ? FC_ATTR_INT : ap->has_s ? FC_ATTR_STRING
               : ap->t ? FC_ATTR_TENSOR : ap->g ? FC_ATTR_GRAPH : ap->n_floats ? FC_ATTR_FLOATS
               : ap->n_ints ? FC_ATTR_INTS : ap->n_strings ? FC_ATTR_STRINGS : 0;
    }
    a->type = (fc_attr_type)type;
    switch (type) {
    case FC_ATTR_FLOAT: a->f = ap->f; break;
    case FC_ATTR_INT: a->i = ap->i; break;
    case FC_ATTR_STRING:
        if (ap->s.len > 4096 || (ap->s.len && memchr(ap->s.data, 0, ap->s.len)))
            return fc_err_set(err, FC_ERR_PARSE, "%s: node %s: attribute '%s' is not a short "
                              "text string", label, node, ap->name);
        if (!(a->s = fc_malloc(ap->s.len + 1)))
            return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", label);
        if (ap->s.len)
            memcpy(a->s, ap->s.data, ap->s.len);
        a->s[ap->s.len] = 0;
        break;
    case FC_ATTR_FLOATS:
    case FC_ATTR_INTS: {
        size_t n = type == FC_ATTR_FLOATS ? ap->n_floats : ap->n_ints;
        if (n > FC_MAX_ATTR_ELEMS)
            return fc_err_set(err, FC_ERR_LIMIT, "%s: node %s: attribute '%s' has %zu elements, "
                              "the cap is %u", label, node, ap->name, n, FC_MAX_ATTR_ELEMS);
        a->n = n;
        size_t es = type == FC_ATTR_FLOATS ? sizeof(float) : sizeof(int64_t);
        void *dst = fc_malloc(n ? n * es : 1);
        if (!dst)
            return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", label);
        if (n)
            memcpy(dst, type == FC_ATTR_FLOATS ? (void *)ap->floats : (void *)ap->ints, n * es);
        if (type == FC_ATTR_FLOATS)
            a->floats = dst;
        else
            a->ints = dst;
        break;
    }
    case FC_ATTR_TENSOR: {
        if (!ap->t)
            return fc_err_set(err, FC_ERR_PARSE, "%s: node %s: tensor attribute '%s' is empty",
                              label, node, ap->name);
        if (!(a->t = fc_calloc(1, sizeof *a->t)))
            return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", label);
        char what[200];
        snprintf(what, sizeof what, "node %.100s: attribute '%.60s'", node, ap->name);
        if ((st = fc_onnx_decode_tensor(&L->ctx, ap->t, what, a->t, err))) {
            fc_free(a->t);
            a->t = NULL;
        }
        break;
    }
    case FC_ATTR_GRAPH: case FC_ATTR_STRINGS: case 9: case 10: case 11: case 12: case 13:
    case 14:
        /* Kept by type only: ops that need them (If, Loop, ...) are refused
         * by name later, which is a clearer message than one here. */
        if (type > FC_ATTR_STRINGS)
            a->type = FC_ATTR_GRAPH;
        break;
    default:
        return fc_err_set(err, FC_ERR_PARSE, "%s: node %s: attribute '%s' has unknown type %d",
                          label, node, ap->name, type);
    }
    return st;
}

static fc_status node_label_of(const Onnx__NodeProto *np, size_t i, char *buf, size_t size)
{
    if (np->name && np->name[0])
        snprintf(buf, size, "%.60s '%.80s'", str_or_empty(np->op_type), np->name);
    else
        snprintf(buf, size, "%.60s #%zu", str_or_empty(np->op_type), i);
    return FC_OK;
}

static int64_t domain_opset(const Onnx__ModelProto *m, const char *domain)
{
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        const char *d = str_or_empty(o->domain);
        if (strcmp(d, "ai.onnx") == 0)
            d = "";
        if (strcmp(d, domain) == 0)
            return o->has_version ? o->version : 0;
    }
    return 0;
}

/* First pass: copy the node and register the values it writes. */
static fc_status add_node(loader *L, const Onnx__ModelProto *m, const Onnx__NodeProto *np,
                          size_t idx, fc_node *n, fc_err *err)
{
    const char *label = L->ctx.label;
    char nl[160];
    node_label_of(np, idx, nl, sizeof nl);
    if (!np->op_type || !np->op_type[0])
        return fc_err_set(err, FC_ERR_PARSE, "%s: node #%zu has no op_type", label, idx);
    if (np->n_input > FC_MAX_NODE_IO || np->n_output > FC_MAX_NODE_IO ||
        np->n_attribute > FC_MAX_NODE_IO)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: node %s has more than %d inputs, outputs or "
                          "attributes", label, nl, FC_MAX_NODE_IO);
    const char *domain = str_or_empty(np->domain);
    if (strcmp(domain, "ai.onnx") == 0)
        domain = "";
    n->name = fc_strdup(str_or_empty(np->name));
    n->op_type = fc_strdup(np->op_type);
    n->domain = fc_strdup(domain);
    n->inputs = fc_calloc(np->n_input ? np->n_input : 1, sizeof *n->inputs);
    n->outputs = fc_calloc(np->n_output ? np->n_output : 1, sizeof *n->outputs);
    n->attrs = fc_calloc(np->n_attribute ? np->n_attribute : 1, sizeof *n->attrs);
    if (!n->name || !n->op_type || !n->domain || !n->inputs || !n->outputs || !n->attrs)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", label);
    n->opset = domain_opset(m, domain);
    n->n_inputs = (int)np->n_input;
    for (size_t j = 0; j < np->n_input; j++)
        n->inputs[j] = -1;   /* resolved in the second pass */
    fc_status st;
    for (size_t j = 0; j < np->n_attribute; j++) {
        n->n_attrs = (int)j + 1;
        if ((st = convert_attr(L, np->attribute[j], nl, &n->attrs[j], err)))
            return st;
        for (size_t k = 0; k < j; k++)
            if (strcmp(n->attrs[k].name, n->attrs[j].name) == 0)
                return fc_err_set(err, FC_ERR_PARSE, "%s: node %s: attribute '%s' given twice",
                                  label, nl, n->attrs[j].name);
    }
    for (size_t j = 0; j < np->n_output; j++) {
        n->n_outputs = (int)j + 1;
        n->outputs[j] = -1;
        const char *name = np->output[j];
        if (!name || !name[0])
            continue;   /* an omitted optional output */
        int v = map_find(L, name);
        if (v >= 0)
            return fc_err_set(err, FC_ERR_PARSE, "%s: node %s writes '%s', which is already %s",
                              label, nl, name,
                              L->g->values[v].init       ? "an initializer"
                              : L->g->values[v].is_input ? "a graph input"
                                                         : "written by another node");
        if ((st = value_add(L, name, &v, err)))
            return st;
        L->g->values[v].producer = (int)idx;
        n->outputs[j] = v;
    }
    return FC_OK;
}

/* Second pass: every input names a value that exists. */
static fc_status resolve_inputs(loader *L, const Onnx__NodeProto *np, size_t idx, fc_node *n,
                                fc_err *err)
{
    for (size_t j = 0; j < np->n_input; j++) {
        const char *name = np->input[j];
        if (!name || !name[0])
            continue;
        int v = map_find(L, name);
        if (v < 0) {
            char nl[160];
            node_label_of(np, idx, nl, sizeof nl);
            return fc_err_set(err, FC_ERR_PARSE, "%s: node %s reads '%s', which no node, "
                              "initializer or graph input provides (missing initializer?)",
                              L->ctx.label, nl, name);
        }
        n->inputs[j] = v;
    }
    return FC_OK;
}

/* A Constant holding a tensor is data, not computation: it becomes the
 * value's initializer and the node disappears, so weights exported as
 * Constants are treated like any other weights. */
static bool constant_to_init(fc_graph *g, fc_node *n)
{
    if (strcmp(n->op_type, "Constant") != 0 || n->domain[0] || n->n_attrs != 1 ||
        n->n_outputs != 1 || n->outputs[0] < 0 || n->n_inputs != 0)
        return false;
    fc_attr *a = &n->attrs[0];
    if (strcmp(a->name, "value") != 0 || a->type != FC_ATTR_TENSOR || !a->t)
        return false;
    fc_value *v = &g->values[n->outputs[0]];
    v->init = a->t;
    a->t = NULL;
    v->dtype = v->init->dtype;
    v->rank = v->init->rank;
    memcpy(v->dims, v->init->dims, sizeof v->dims);
    v->producer = -1;
    return true;
}

/* Kahn's algorithm; ties keep file order.  Refuses cycles by naming a node
 * on one. */
static fc_status topo_sort(loader *L, fc_err *err)
{
    fc_graph *g = L->g;
    int nn = g->n_nodes;
    if (nn == 0)
        return FC_OK;
    size_t n_edges = 0;
    for (int i = 0; i < nn; i++)
        n_edges += (size_t)g->nodes[i].n_inputs;
    int *indeg = fc_calloc((size_t)nn, sizeof *indeg);
    int *first = fc_calloc((size_t)nn + 1, sizeof *first);   /* CSR of consumers */
    int *cons = fc_calloc(n_edges ? n_edges : 1, sizeof *cons);
    int *queue = fc_calloc((size_t)nn, sizeof *queue);
    int *order = fc_calloc((size_t)nn, sizeof *order);
    fc_node *sorted = fc_calloc((size_t)nn, sizeof *sorted);
    fc_status st = FC_OK;
    if (!indeg || !first || !cons || !queue || !order || !sorted) {
        st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory sorting the graph", L->ctx.label);
        goto done;
    }
    for (int i = 0; i < nn; i++)
        for (int j = 0; j < g->nodes[i].n_inputs; j++) {
            int v = g->nodes[i].inputs[j];
            if (v >= 0 && g->values[v].producer >= 0) {
                indeg[i]++;
                first[g->values[v].producer + 1]++;
            }
        }
    for (int i = 0; i < nn; i++)
        first[i + 1] += first[i];
    {
        int *fill = order;   /* borrowed as a cursor array before it holds the order */
        memcpy(fill, first, (size_t)nn * sizeof *fill);
        for (int i = 0; i < nn; i++)
            for (int j = 0; j < g->nodes[i].n_inputs; j++) {
                int v = g->nodes[i].inputs[j];
                if (v >= 0 && g->values[v].producer >= 0)
                    cons[fill[g->values[v].producer]++] = i;
            }
    }
    /* A min-ordered queue would keep file order strictly; a FIFO seeded in
     * file order is enough for stable, deterministic output. */
    int head = 0, tail = 0;
    for (int i = 0; i < nn; i++)
        if (indeg[i] == 0)
            queue[tail++] = i;
    int done_count = 0;
    while (head < tail) {
        int i = queue[head++];
        order[done_count++] = i;
        for (int e = first[i]; e < first[i + 1]; e++)
            if (--indeg[cons[e]] == 0)
                queue[tail++] = cons[e];
    }
    if (done_count < nn) {
        int stuck = 0;
        while (stuck < nn && indeg[stuck] == 0)
            stuck++;
        char nl[160];
        st = fc_err_set(err, FC_ERR_PARSE, "%s: the graph has a cycle: node %s and %d "
                        "other(s) wait on each other's outputs", L->ctx.label,
                        fc_node_label(g, stuck, nl, sizeof nl), nn - done_count - 1);
        goto done;
    }
    /* New index of each old node, to renumber producers. */
    for (int k = 0; k < nn; k++)
        queue[order[k]] = k;
    for (int k = 0; k < nn; k++)
        sorted[k] = g->nodes[order[k]];
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].producer >= 0)
            g->values[v].producer = queue[g->values[v].producer];
    fc_free(g->nodes);
    g->nodes = sorted;
    sorted = NULL;
done:
    fc_free(indeg);
    fc_free(first);
    fc_free(cons);
    fc_free(queue);
    fc_free(order);
    fc_free(sorted);
    return st;
}

static fc_status build_nodes(loader *L, const Onnx__ModelProto *m, fc_err *err)
{
    const Onnx__GraphProto *gp = m->graph;
    fc_graph *g = L->g;
    fc_status st;
    g->nodes = fc_calloc(gp->n_node ? gp->n_node : 1, sizeof *g->nodes);
    if (!g->nodes)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", L->ctx.label);
    for (size_t i = 0; i < gp->n_node; i++) {
        g->n_nodes = (int)i + 1;
        if ((st = add_node(L, m, gp->node[i], i, &g->nodes[i], err)))
            return st;
    }
    for (size_t i = 0; i < gp->n_node; i++)
        if ((st = resolve_inputs(L, gp->node[i], i, &g->nodes[i], err)))
            return st;
    /* Drop Constant nodes that became initializers, renumbering producers. */
    int kept = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (constant_to_init(g, &g->nodes[i])) {
            fc_node_clear(&g->nodes[i]);
            continue;
        }
        if (kept != i) {
            g->nodes[kept] = g->nodes[i];
            memset(&g->nodes[i], 0, sizeof g->nodes[i]);
            for (int j = 0; j < g->nodes[kept].n_outputs; j++)
                if (g->nodes[kept].outputs[j] >= 0)
                    g->values[g->nodes[kept].outputs[j]].producer = kept;
        }
        kept++;
    }
    g->n_nodes = kept;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_inputs; j++)
            if (g->nodes[i].inputs[j] >= 0 && g->values[g->nodes[i].inputs[j]].producer == i) {
                char nl[160];
                return fc_err_set(err, FC_ERR_PARSE, "%s: the graph has a cycle (node %s reads "
                                  "its own output)", L->ctx.label,
                                  fc_node_label(g, i, nl, sizeof nl));
            }
    return topo_sort(L, err);
}

/* ---- model ---- */

static fc_status check_opsets(loader *L, const Onnx__ModelProto *m, fc_err *err)
{
    fc_graph *g = L->g;
    bool have_default = false;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *d = str_or_empty(m->opset_import[i]->domain);
        if (d[0] == 0 || strcmp(d, "ai.onnx") == 0)
            have_default = true;
    }
    if (!have_default)
        return fc_err_set(err, FC_ERR_PARSE, "%s: opset_import has no entry for the default "
                          "ONNX domain", L->ctx.label);
    g->opset = domain_opset(m, "");
    g->ms_opset = domain_opset(m, "com.microsoft");
    if (g->opset < OPSET_MIN || g->opset > OPSET_MAX)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: opset %lld is outside the supported "
                          "%d..%d", L->ctx.label, (long long)g->opset, OPSET_MIN, OPSET_MAX);
    return FC_OK;
}

static fc_status check_counts(loader *L, const Onnx__GraphProto *gp, fc_err *err)
{
    if (gp->n_node > FC_MAX_NODES)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: %zu nodes, the cap is %d", L->ctx.label,
                          gp->n_node, FC_MAX_NODES);
    size_t total = gp->n_initializer;
    bool ok = fc_add_size(total, gp->n_input, &total);
    for (size_t i = 0; ok && i < gp->n_node; i++)
        ok = fc_add_size(total, gp->node[i]->n_output, &total);
    if (!ok || total > FC_MAX_VALUES)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: more than %d named values", L->ctx.label,
                          FC_MAX_VALUES);
    L->cap_values = (int)total;
    size_t slots = 16;
    while (slots < 2 * total)
        slots *= 2;
    L->map.slots = fc_malloc(slots * sizeof *L->map.slots);
    L->g->values = fc_calloc(total ? total : 1, sizeof *L->g->values);
    if (!L->map.slots || !L->g->values)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", L->ctx.label);
    memset(L->map.slots, 0xff, slots * sizeof *L->map.slots);
    L->map.mask = slots - 1;
    return FC_OK;
}

static fc_status build_graph(loader *L, const Onnx__ModelProto *m, fc_err *err)
{
    fc_graph *g = L->g;
    fc_status st;
    if (!m->graph)
        return fc_err_set(err, FC_ERR_PARSE, "%s: the model has no graph", L->ctx.label);
    const Onnx__GraphProto *gp = m->graph;
    g->ir_version = m->has_ir_version ? m->ir_version : 0;
    char producer[256];
    snprintf(producer, sizeof producer, "%.120s%s%.120s", str_or_empty(m->producer_name),
             m->producer_version && m->producer_version[0] ? " " : "",
             str_or_empty(m->producer_version));
    g->name = fc_strdup(str_or_empty(gp->name));
    g->producer = fc_strdup(producer);
    if (!g->name || !g->producer)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", L->ctx.label);
    if ((st = check_opsets(L, m, err)) || (st = check_counts(L, gp, err)) ||
        (st = add_initializers(L, gp, err)) || (st = add_inputs(L, gp, err)) ||
        (st = build_nodes(L, m, err)) || (st = add_outputs(L, gp, err)))
        return st;
    return FC_OK;
}

fc_status fc_onnx_load_bytes(const uint8_t *bytes, size_t len, const char *dir,
                             const char *label, fc_graph **out, fc_err *err)
{
    if (!out)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "fc_onnx_load_bytes: no output");
    *out = NULL;
    if (!label)
        label = "<memory>";
    if (!bytes || len == 0)
        return fc_err_set(err, FC_ERR_PARSE, "%s: empty file, not an ONNX model", label);
    if (len > FC_MAX_MODEL_BYTES)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: %zu bytes, the model cap is %llu", label, len,
                          (unsigned long long)FC_MAX_MODEL_BYTES);
    fc_pb_alloc pa;
    fc_pb_alloc_init(&pa);
    Onnx__ModelProto *m = onnx__model_proto__unpack(&pa.base, len, bytes);
    if (!m) {
        if (pa.failed)
            return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory decoding the model", label);
        return fc_err_set(err, FC_ERR_PARSE, "%s: not an ONNX model (the protobuf does not "
                          "decode as onnx.ModelProto; truncated or corrupt?)", label);
    }
    loader L = {.ctx = {.label = label, .dir = dir}};
    fc_status st = FC_OK;
    L.g = fc_calloc(1, sizeof *L.g);
    if (!L.g || !(L.g->path = fc_strdup(label)))
        st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", label);
    if (!st)
        st = build_graph(&L, m, err);
    onnx__model_proto__free_unpacked(m, &pa.base);
    fc_free(L.map.slots);
    if (st) {
        fc_graph_free(L.g);
        return st;
    }
    *out = L.g;
    return FC_OK;
}

fc_status fc_onnx_load(const char *path, fc_graph **out, fc_err *err)
{
    if (!out || !path)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "fc_onnx_load: missing argument");
    *out = NULL;
    uint8_t *buf;
    size_t len;
    fc_status st = fc_file_read_all(path, FC_MAX_MODEL_BYTES, "model", &buf, &len, err);
    if (st)
        return st;
    /* External data is looked up next to the model file. */
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    st = fc_onnx_load_bytes(buf, len, dir, path, out, err);
    fc_free(buf);
    return st;
}
