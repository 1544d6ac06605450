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

/* ---- rewriting graphs ---------------------------------------------------- */

/* Copies n ints (n may be 0: then *dst is NULL). */
static bool dup_ints(int **dst, const int *src, int n)
{
    *dst = NULL;
    if (n <= 0)
        return true;
    *dst = fc_malloc((size_t)n * sizeof **dst);
    if (*dst)
        memcpy(*dst, src, (size_t)n * sizeof **dst);
    return *dst != NULL;
}

static bool attr_copy(fc_attr *d, const fc_attr *s)
{
    memset(d, 0, sizeof *d);
    d->type = s->type;
    d->f = s->f;
    d->i = s->i;
    d->n = s->n;
    d->name = fc_strdup(s->name);
    bool ok = d->name != NULL;
    if (ok && s->s)
        ok = (d->s = fc_strdup(s->s)) != NULL;
    if (ok && s->floats && s->n) {
        ok = (d->floats = fc_malloc(s->n * sizeof *d->floats)) != NULL;
        if (ok)
            memcpy(d->floats, s->floats, s->n * sizeof *d->floats);
    }
    if (ok && s->ints && s->n) {
        ok = (d->ints = fc_malloc(s->n * sizeof *d->ints)) != NULL;
        if (ok)
            memcpy(d->ints, s->ints, s->n * sizeof *d->ints);
    }
    if (ok && s->t) {
        ok = (d->t = fc_calloc(1, sizeof *d->t)) != NULL &&
             fc_tensor_copy(d->t, s->t, NULL) == FC_OK;
    }
    return ok;   /* on failure the caller releases d (attr_release frees partial copies) */
}

static bool node_copy(fc_node *d, const fc_node *s)
{
    memset(d, 0, sizeof *d);
    d->opset = s->opset;
    d->n_inputs = s->n_inputs;
    d->n_outputs = s->n_outputs;
    bool ok = (d->name = fc_strdup(s->name ? s->name : "")) != NULL &&
              (d->op_type = fc_strdup(s->op_type)) != NULL &&
              (d->domain = fc_strdup(s->domain ? s->domain : "")) != NULL &&
              dup_ints(&d->inputs, s->inputs, s->n_inputs) &&
              dup_ints(&d->outputs, s->outputs, s->n_outputs);
    if (ok && s->n_attrs > 0) {
        d->attrs = fc_calloc((size_t)s->n_attrs, sizeof *d->attrs);
        ok = d->attrs != NULL;
        for (int a = 0; ok && a < s->n_attrs; a++) {
            d->n_attrs = a + 1;   /* so a partial copy is released */
            ok = attr_copy(&d->attrs[a], &s->attrs[a]);
        }
    }
    return ok;
}

fc_status fc_graph_clone(const fc_graph *g, fc_graph **out, fc_err *err)
{
    *out = NULL;
    fc_graph *c = fc_calloc(1, sizeof *c);
    bool ok = c != NULL;
    if (ok) {
        c->ir_version = g->ir_version;
        c->opset = g->opset;
        c->ms_opset = g->ms_opset;
        ok = (!g->path || (c->path = fc_strdup(g->path))) &&
             (!g->name || (c->name = fc_strdup(g->name))) &&
             (!g->producer || (c->producer = fc_strdup(g->producer))) &&
             dup_ints(&c->inputs, g->inputs, g->n_inputs) &&
             dup_ints(&c->outputs, g->outputs, g->n_outputs);
        c->n_inputs = ok ? g->n_inputs : 0;
        c->n_outputs = ok ? g->n_outputs : 0;
    }
    if (ok && g->n_values > 0) {
        c->values = fc_calloc((size_t)g->n_values, sizeof *c->values);
        ok = c->values != NULL;
        for (int v = 0; ok && v < g->n_values; v++) {
            const fc_value *s = &g->values[v];
            fc_value *d = &c->values[v];
            c->n_values = v + 1;
            *d = *s;
            d->name = NULL;
            d->init = NULL;
            ok = (d->name = fc_strdup(s->name)) != NULL;
            if (ok && s->init) {
                ok = (d->init = fc_calloc(1, sizeof *d->init)) != NULL &&
                     fc_tensor_copy(d->init, s->init, NULL) == FC_OK;
            }
        }
    }
    if (ok && g->n_nodes > 0) {
        c->nodes = fc_calloc((size_t)g->n_nodes, sizeof *c->nodes);
        ok = c->nodes != NULL;
        for (int i = 0; ok && i < g->n_nodes; i++) {
            c->n_nodes = i + 1;
            ok = node_copy(&c->nodes[i], &g->nodes[i]);
        }
    }
    if (!ok) {
        fc_graph_free(c);
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory copying the graph",
                          g->path ? g->path : "model");
    }
    *out = c;
    return FC_OK;
}

const char *fc_graph_unique_name(const fc_graph *g, const char *base, char *buf, size_t size)
{
    snprintf(buf, size, "%s", base);
    for (unsigned k = 1; fc_graph_find_value(g, buf) >= 0; k++)
        snprintf(buf, size, "%s_%u", base, k);
    return buf;
}

fc_status fc_graph_add_value(fc_graph *g, const char *name, fc_tensor *init, int *index,
                             fc_err *err)
{
    fc_status st = FC_OK;
    if (fc_graph_find_value(g, name) >= 0)
        st = fc_err_set(err, FC_ERR_INVALID_ARG, "value '%s' already exists", name);
    else if (g->n_values >= FC_MAX_VALUES)
        st = fc_err_set(err, FC_ERR_LIMIT, "more than %d values", FC_MAX_VALUES);
    fc_value *vals = NULL;
    char *dup = NULL;
    fc_tensor *t = NULL;
    if (!st) {
        vals = fc_realloc(g->values, ((size_t)g->n_values + 1) * sizeof *vals);
        if (vals)
            g->values = vals;
        dup = fc_strdup(name);
        t = init ? fc_calloc(1, sizeof *t) : NULL;
        if (!vals || !dup || (init && !t))
            st = fc_err_set(err, FC_ERR_NOMEM, "out of memory adding value '%s'", name);
    }
    if (st) {
        fc_free(dup);
        fc_free(t);
        if (init)
            fc_tensor_release(init);
        return st;
    }
    fc_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = dup;
    v->rank = -1;
    v->producer = -1;
    for (int k = 0; k < FC_MAX_RANK; k++)
        v->dims[k] = -1;
    if (init) {
        *t = *init;
        memset(init, 0, sizeof *init);
        v->init = t;
        v->dtype = t->dtype;
        v->rank = t->rank;
        memcpy(v->dims, t->dims, sizeof v->dims);
    }
    *index = g->n_values++;
    return FC_OK;
}

fc_status fc_node_set_op(fc_node *n, const char *op_type, const char *domain, int64_t opset,
                         fc_err *err)
{
    char *op = fc_strdup(op_type), *dom = fc_strdup(domain ? domain : "");
    if (!op || !dom) {
        fc_free(op);
        fc_free(dom);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory renaming node to %s", op_type);
    }
    fc_free(n->op_type);
    fc_free(n->domain);
    n->op_type = op;
    n->domain = dom;
    n->opset = opset;
    return FC_OK;
}

fc_status fc_node_set_io(fc_node *n, const int *inputs, int n_inputs, const int *outputs,
                         int n_outputs, fc_err *err)
{
    int *in = NULL, *out = NULL;
    if (!dup_ints(&in, inputs, n_inputs) || !dup_ints(&out, outputs, n_outputs)) {
        fc_free(in);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory rewiring node %s", n->op_type);
    }
    fc_free(n->inputs);
    fc_free(n->outputs);
    n->inputs = in;
    n->n_inputs = n_inputs;
    n->outputs = out;
    n->n_outputs = n_outputs;
    return FC_OK;
}

void fc_node_remove_attr(fc_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++) {
        if (strcmp(n->attrs[i].name, name) != 0)
            continue;
        attr_release(&n->attrs[i]);
        memmove(&n->attrs[i], &n->attrs[i + 1], (size_t)(n->n_attrs - i - 1) * sizeof *n->attrs);
        n->n_attrs--;
        return;
    }
}

void fc_graph_update_producers(fc_graph *g)
{
    for (int v = 0; v < g->n_values; v++)
        g->values[v].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_outputs; j++)
            if (g->nodes[i].outputs[j] >= 0)
                g->values[g->nodes[i].outputs[j]].producer = i;
}

fc_status fc_graph_remove_nodes(fc_graph *g, const bool *remove, fc_err *err)
{
    (void)err;   /* compaction in place cannot fail; kept for symmetry */
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (remove[i]) {
            fc_node_clear(&g->nodes[i]);
            continue;
        }
        if (k != i)
            g->nodes[k] = g->nodes[i];
        k++;
    }
    g->n_nodes = k;
    fc_graph_update_producers(g);
    return FC_OK;
}

bool fc_graph_batch_dependent(const fc_graph *g, const char **why)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const fc_node *n = &g->nodes[i];
        /* One scale and zero point over the whole input tensor, batch included. */
        if (!strcmp(n->op_type, "DynamicQuantizeLinear") && !n->domain[0]) {
            if (why)
                *why = "DynamicQuantizeLinear quantizes each batch with one scale over all its images";
            return true;
        }
    }
    if (why)
        *why = "";
    return false;
}
