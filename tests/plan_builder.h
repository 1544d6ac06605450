/* A graph builder for the plan tests: builds an fc_graph exactly as the
 * loader would (fc_graph_free releases everything), plans it and inspects
 * the result.  Header-only; each test file gets its own graph `g`, plan `p`
 * and error `err`, reset by the teardown fixture. */
#ifndef FC_TEST_PLAN_BUILDER_H
#define FC_TEST_PLAN_BUILDER_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "onnx/fc_opattr.h"
#include "onnx/fc_plan.h"

static fc_graph *g;
static fc_plan *p;
static fc_err err;

/* ---- a test-local graph builder ---------------------------------------- */

static inline void *grow(void *ptr, int count, size_t elem)
{
    void *q = fc_realloc(ptr, (size_t)(count + 1) * elem);
    ck_assert_ptr_nonnull(q);
    memset((char *)q + (size_t)count * elem, 0, elem);
    return q;
}

static inline void new_graph(int64_t opset)
{
    g = fc_calloc(1, sizeof *g);
    ck_assert_ptr_nonnull(g);
    g->path = fc_strdup("test.onnx");
    g->name = fc_strdup("g");
    g->producer = fc_strdup("");
    g->opset = opset;
    fc_err_clear(&err);
}

static inline void teardown(void)
{
    fc_plan_free(p);
    p = NULL;
    fc_graph_free(g);
    g = NULL;
}

/* Plans borrow the graph, so any change to it drops the current plan. */
static inline void drop_plan(void)
{
    fc_plan_free(p);
    p = NULL;
}

static inline int val(const char *name)
{
    drop_plan();
    int v = fc_graph_find_value(g, name);
    if (v >= 0)
        return v;
    g->values = grow(g->values, g->n_values, sizeof *g->values);
    fc_value *x = &g->values[g->n_values];
    x->name = fc_strdup(name);
    x->rank = -1;
    x->producer = -1;
    return g->n_values++;
}

/* "1,3,N,8": N (symbolic) is -1; "?" is an undeclared rank; "" a scalar. */
static inline int parse_dims(const char *s, int64_t *dims)
{
    if (strcmp(s, "?") == 0)
        return -1;
    int r = 0;
    while (*s) {
        dims[r++] = *s == 'N' ? -1 : strtoll(s, NULL, 10);
        s = strchr(s, ',');
        if (!s)
            break;
        s++;
    }
    return r;
}

static inline void input(const char *name, fc_dtype dt, const char *shape)
{
    int v = val(name);
    g->values[v].dtype = dt;
    g->values[v].rank = parse_dims(shape, g->values[v].dims);
    g->values[v].is_input = true;
    g->inputs = grow(g->inputs, g->n_inputs, sizeof *g->inputs);
    g->inputs[g->n_inputs++] = v;
}

static inline fc_tensor *init(const char *name, fc_dtype dt, const char *shape)
{
    int64_t dims[FC_MAX_RANK];
    int v = val(name);
    fc_tensor *t = fc_calloc(1, sizeof *t);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(fc_tensor_alloc(t, dt, parse_dims(shape, dims), dims, &err), FC_OK);
    g->values[v].init = t;
    g->values[v].dtype = dt;
    return t;
}

static inline void init_i64(const char *name, const char *shape, const int64_t *vals)
{
    fc_tensor *t = init(name, FC_DT_I64, shape);
    memcpy(t->data, vals, t->numel * sizeof *vals);
}

static inline void output(const char *name)
{
    int v = val(name);
    g->values[v].is_output = true;
    g->outputs = grow(g->outputs, g->n_outputs, sizeof *g->outputs);
    g->outputs[g->n_outputs++] = v;
}

static inline int split(const char *list, int **out)
{
    int n = 0;
    *out = fc_calloc(1, sizeof **out);
    ck_assert_ptr_nonnull(*out);
    for (const char *s = list; *list;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char name[64];
        ck_assert_uint_lt(len, sizeof name);
        memcpy(name, s, len);
        name[len] = '\0';
        *out = grow(*out, n, sizeof **out);
        (*out)[n++] = len ? val(name) : -1;
        if (!e)
            break;
        s = e + 1;
    }
    return n;
}

/* Node named after its first output; pointer valid until the next node(). */
static inline fc_node *node(const char *op, const char *ins, const char *outs)
{
    g->nodes = grow(g->nodes, g->n_nodes, sizeof *g->nodes);
    fc_node *n = &g->nodes[g->n_nodes];
    n->op_type = fc_strdup(op);
    n->domain = fc_strdup("");
    n->opset = g->opset;
    n->n_inputs = split(ins, &n->inputs);
    n->n_outputs = split(outs, &n->outputs);
    n->name = fc_strdup(g->values[n->outputs[0]].name);
    for (int j = 0; j < n->n_outputs; j++)
        if (n->outputs[j] >= 0)
            g->values[n->outputs[j]].producer = g->n_nodes;
    g->n_nodes++;
    return n;
}

static inline fc_attr *attr(fc_node *n, const char *name, fc_attr_type type)
{
    drop_plan();
    n->attrs = grow(n->attrs, n->n_attrs, sizeof *n->attrs);
    fc_attr *a = &n->attrs[n->n_attrs++];
    a->name = fc_strdup(name);
    a->type = type;
    return a;
}

static inline void attr_i(fc_node *n, const char *name, int64_t v) { attr(n, name, FC_ATTR_INT)->i = v; }
static inline void attr_f(fc_node *n, const char *name, float v) { attr(n, name, FC_ATTR_FLOAT)->f = v; }
static inline void attr_s(fc_node *n, const char *name, const char *v)
{
    attr(n, name, FC_ATTR_STRING)->s = fc_strdup(v);
}
/* INTS from "a,b,c". */
static inline void attr_is(fc_node *n, const char *name, const char *list)
{
    fc_attr *a = attr(n, name, FC_ATTR_INTS);
    int64_t v[16];
    int count = parse_dims(list, v);
    a->ints = fc_calloc((size_t)count + 1, sizeof *a->ints);
    ck_assert_ptr_nonnull(a->ints);
    memcpy(a->ints, v, (size_t)count * sizeof *v);
    a->n = (size_t)count;
}

/* ---- running and inspecting plans -------------------------------------- */

static inline fc_status plan(int64_t batch)
{
    fc_plan_free(p);
    p = NULL;
    fc_err_clear(&err);
    return fc_plan_create_probe(g, batch, &p, &err);
}

static inline void plan_ok(int64_t batch)
{
    fc_status st = plan(batch);
    ck_assert_msg(st == FC_OK, "plan failed: %s", err.msg);
}

static inline void plan_fails(fc_status want, const char *needle)
{
    fc_status st = plan(1);
    ck_assert_msg(st == want, "status %s, expected %s (%s)", fc_status_name(st),
                  fc_status_name(want), err.msg);
    ck_assert_msg(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
    ck_assert_ptr_null(p);
}

static inline const fc_vinfo *info(const char *name)
{
    int v = fc_graph_find_value(g, name);
    ck_assert_int_ge(v, 0);
    return &p->vals[v];
}

static inline const char *shape(const char *name)
{
    static char buf[128];
    const fc_vinfo *vi = info(name);
    return fc_dims_str(vi->rank, vi->dims, buf, sizeof buf);
}

static inline bool folded(const char *name)
{
    return p->folded[fc_graph_find_value(g, name)].data != NULL;
}

static inline int64_t folded_at(const char *name, size_t i)
{
    const fc_vinfo *vi = info(name);
    ck_assert_ptr_nonnull(vi->value);
    ck_assert_uint_lt(i, vi->value->numel);
    return fc_tensor_get_i64(vi->value, i);
}


#endif
