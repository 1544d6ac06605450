#include "fc_ir.h"

#include <stdio.h>
#include <string.h>

#include "../core/fc_alloc.h"

static void attr_release(fc_attr *a)
{
    fc_free(a->name);
    fc_free(a->s);
    fc_free(a->floats);
    fc_free(a->ints);
    if (a->t) {
        fc_tensor_release(a->t);
        fc_free(a->t);
    }
}

void fc_node_clear(fc_node *n)
{
    fc_free(n->name);
    fc_free(n->op_type);
    fc_free(n->domain);
    fc_free(n->inputs);
    fc_free(n->outputs);
    for (int a = 0; n->attrs && a < n->n_attrs; a++)
        attr_release(&n->attrs[a]);
    fc_free(n->attrs);
    memset(n, 0, sizeof *n);
}

void fc_graph_free(fc_graph *g)
{
    if (!g)
        return;
    for (int i = 0; g->values && i < g->n_values; i++) {
        fc_free(g->values[i].name);
        if (g->values[i].init) {
            fc_tensor_release(g->values[i].init);
            fc_free(g->values[i].init);
        }
    }
    for (int i = 0; g->nodes && i < g->n_nodes; i++)
        fc_node_clear(&g->nodes[i]);
    fc_free(g->values);
    fc_free(g->nodes);
    fc_free(g->inputs);
    fc_free(g->outputs);
    fc_free(g->path);
    fc_free(g->name);
    fc_free(g->producer);
    fc_free(g);
}

const char *fc_node_label(const fc_graph *g, int node_index, char *buf, size_t size)
{
    const fc_node *n = &g->nodes[node_index];
    if (n->name && n->name[0])
        snprintf(buf, size, "%s '%s'", n->op_type, n->name);
    else
        snprintf(buf, size, "%s #%d", n->op_type, node_index);
    return buf;
}

const fc_attr *fc_attr_find(const fc_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

static const fc_attr *find_typed(const fc_node *n, const char *name, fc_attr_type type,
                                 fc_status *st, fc_err *err)
{
    *st = FC_OK;
    const fc_attr *a = fc_attr_find(n, name);
    if (a && a->type != type) {
        *st = fc_err_set(err, FC_ERR_PARSE, "%s node '%s': attribute '%s' has type %d, expected %d",
                         n->op_type, n->name ? n->name : "", name, (int)a->type, (int)type);
        return NULL;
    }
    return a;
}

fc_status fc_attr_get_int(const fc_node *n, const char *name, int64_t dflt,
                          int64_t *out, fc_err *err)
{
    fc_status st;
    const fc_attr *a = find_typed(n, name, FC_ATTR_INT, &st, err);
    *out = a ? a->i : dflt;
    return st;
}

fc_status fc_attr_get_float(const fc_node *n, const char *name, float dflt,
                            float *out, fc_err *err)
{
    fc_status st;
    const fc_attr *a = find_typed(n, name, FC_ATTR_FLOAT, &st, err);
    *out = a ? a->f : dflt;
    return st;
}

fc_status fc_attr_get_string(const fc_node *n, const char *name, const char *dflt,
                             const char **out, fc_err *err)
{
    fc_status st;
    const fc_attr *a = find_typed(n, name, FC_ATTR_STRING, &st, err);
    *out = a ? a->s : dflt;
    return st;
}

fc_status fc_attr_get_ints(const fc_node *n, const char *name,
                           const int64_t **out, size_t *count, fc_err *err)
{
    fc_status st;
    const fc_attr *a = find_typed(n, name, FC_ATTR_INTS, &st, err);
    *out = a ? a->ints : NULL;
    *count = a ? a->n : 0;
    return st;
}

fc_status fc_attr_get_floats(const fc_node *n, const char *name,
                             const float **out, size_t *count, fc_err *err)
{
    fc_status st;
    const fc_attr *a = find_typed(n, name, FC_ATTR_FLOATS, &st, err);
    *out = a ? a->floats : NULL;
    *count = a ? a->n : 0;
    return st;
}

int fc_graph_find_value(const fc_graph *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0)
            return i;
    return -1;
}
