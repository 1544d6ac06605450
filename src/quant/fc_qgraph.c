/* Graph building blocks of the quantizer (see fc_quant_internal.h). */
#include <stdio.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "fc_quant_internal.h"

static fc_status grow(fc_qnodes *l, fc_err *err)
{
    if (l->n < l->cap)
        return FC_OK;
    if (l->n >= FC_MAX_NODES)
        return fc_err_set(err, FC_ERR_LIMIT, "quantized graph: more than %d nodes", FC_MAX_NODES);
    int cap = l->cap ? 2 * l->cap : 64;
    fc_node *v = fc_realloc(l->v, (size_t)cap * sizeof *v);
    if (!v)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the quantized graph");
    l->v = v;
    l->cap = cap;
    return FC_OK;
}

fc_status fc_qnodes_take(fc_qnodes *l, fc_node *n, fc_err *err)
{
    fc_status st = grow(l, err);
    if (st)
        return st;
    l->v[l->n++] = *n;
    memset(n, 0, sizeof *n);
    return FC_OK;
}

fc_status fc_qnodes_add(fc_qnodes *l, const char *name, const char *op, int64_t opset,
                        const int *ins, int n_in, int out, int axis, fc_err *err)
{
    fc_status st = grow(l, err);
    if (st)
        return st;
    fc_node *n = &l->v[l->n];
    memset(n, 0, sizeof *n);
    n->opset = opset;
    n->name = fc_strdup(name);
    n->op_type = fc_strdup(op);
    n->domain = fc_strdup("");
    n->inputs = fc_malloc((size_t)n_in * sizeof *n->inputs);
    n->outputs = fc_malloc(sizeof *n->outputs);
    bool ok = n->name && n->op_type && n->domain && n->inputs && n->outputs;
    if (ok && axis >= 0) {
        n->attrs = fc_calloc(1, sizeof *n->attrs);
        ok = n->attrs && (n->attrs[0].name = fc_strdup("axis")) != NULL;
        if (ok) {
            n->n_attrs = 1;
            n->attrs[0].type = FC_ATTR_INT;
            n->attrs[0].i = axis;
        }
    }
    if (!ok) {
        fc_node_clear(n);   /* frees the partial node, attrs included */
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory adding %s node '%s'", op, name);
    }
    memcpy(n->inputs, ins, (size_t)n_in * sizeof *ins);
    n->n_inputs = n_in;
    n->outputs[0] = out;
    n->n_outputs = 1;
    l->n++;
    return FC_OK;
}

void fc_qnodes_free(fc_qnodes *l)
{
    for (int i = 0; l->v && i < l->n; i++)
        fc_node_clear(&l->v[i]);
    fc_free(l->v);
    memset(l, 0, sizeof *l);
}

fc_status fc_qgraph_value(fc_graph *g, const char *base, const char *suffix, fc_tensor *init,
                          int *index, fc_err *err)
{
    char want[512], name[544];
    snprintf(want, sizeof want, "%s%s", base, suffix);
    fc_graph_unique_name(g, want, name, sizeof name);
    return fc_graph_add_value(g, name, init, index, err);
}

fc_status fc_qgraph_scalar_f32(fc_graph *g, const char *base, const char *suffix, float f,
                               int *index, fc_err *err)
{
    fc_tensor t;
    fc_status st = fc_tensor_alloc(&t, FC_DT_F32, 0, NULL, err);
    if (st)
        return st;
    *(float *)t.data = f;
    return fc_qgraph_value(g, base, suffix, &t, index, err);
}

fc_status fc_qgraph_scalar_u8(fc_graph *g, const char *base, const char *suffix, uint8_t u,
                              int *index, fc_err *err)
{
    fc_tensor t;
    fc_status st = fc_tensor_alloc(&t, FC_DT_U8, 0, NULL, err);
    if (st)
        return st;
    *(uint8_t *)t.data = u;
    return fc_qgraph_value(g, base, suffix, &t, index, err);
}

static void remap_list(int *idx, int n, const int *map)
{
    for (int i = 0; i < n; i++)
        if (idx[i] >= 0)
            idx[i] = map[idx[i]];
}

fc_status fc_qgraph_compact(fc_graph *g, fc_err *err)
{
    size_t nv = g->n_values > 0 ? (size_t)g->n_values : 1;
    int *map = fc_malloc(nv * sizeof *map);
    if (!map)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory compacting the quantized graph");
    for (int v = 0; v < g->n_values; v++)
        map[v] = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const fc_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] >= 0)
                map[n->inputs[j]] = 1;
        for (int j = 0; j < n->n_outputs; j++)
            if (n->outputs[j] >= 0)
                map[n->outputs[j]] = 1;
    }
    for (int i = 0; i < g->n_inputs; i++)
        map[g->inputs[i]] = 1;
    for (int i = 0; i < g->n_outputs; i++)
        map[g->outputs[i]] = 1;
    int k = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (!map[v]) {
            map[v] = -1;
            fc_free(g->values[v].name);
            if (g->values[v].init) {
                fc_tensor_release(g->values[v].init);
                fc_free(g->values[v].init);
            }
            continue;
        }
        g->values[k] = g->values[v];
        map[v] = k++;
    }
    g->n_values = k;
    for (int i = 0; i < g->n_nodes; i++) {
        remap_list(g->nodes[i].inputs, g->nodes[i].n_inputs, map);
        remap_list(g->nodes[i].outputs, g->nodes[i].n_outputs, map);
    }
    remap_list(g->inputs, g->n_inputs, map);
    remap_list(g->outputs, g->n_outputs, map);
    fc_free(map);
    fc_graph_update_producers(g);
    return FC_OK;
}
