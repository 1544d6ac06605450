/* The executor shared by every engine: engines differ only in their kernel
 * table.  It specialises the graph to the input shapes (fc_plan), allocates
 * each node's outputs, calls the engine's kernel, frees intermediates after
 * their last use, and fuses Relu/Clip into producers that can clamp. */
#include "fc_engine.h"

#include <string.h>

#include <stdio.h>

#include "../core/fc_alloc.h"
#include "../onnx/fc_plan.h"
#include "../onnx/fc_qdq.h"
#include "fc_engine_internal.h"
#include "fc_kernel.h"
#include "fc_workspace.h"

static const fc_kernel_table *const tables[] = {&fc_kernels_f32, &fc_kernels_f32_ref,
                                                &fc_kernels_q8, &fc_kernels_q8_ref};
static const char *const kind_names[] = {"f32", "f32-ref", "q8", "q8-ref", NULL};

/* fc_engine_set_max_flops: set once by the CLI before any engine runs. */
static double max_flops_per_image;

/* The int8 engines run QDQ models as ONNX Runtime does: fused (fc_qdq.h). */
static bool is_int8(const fc_kernel_table *t)
{
    return t == &fc_kernels_q8 || t == &fc_kernels_q8_ref;
}

const char *const *fc_engine_kinds(void) { return kind_names; }

static const fc_kernel_table *table_for(const char *kind)
{
    if (fc_engine_faults_enabled() && !strcmp(kind, fc_kernels_test_faulty.engine))
        return &fc_kernels_test_faulty;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (strcmp(tables[i]->engine, kind) == 0)
            return tables[i];
    return NULL;
}

bool fc_engine_kind_known(const char *kind)
{
    return kind && table_for(kind) != NULL;
}

static bool same_domain(const char *a, const char *b)
{
    if (strcmp(a, "ai.onnx") == 0)
        a = "";
    if (strcmp(b, "ai.onnx") == 0)
        b = "";
    return strcmp(a, b) == 0;
}

/* The kernel of (domain, op) in t, else in its fallback chain. */
static const fc_kernel_def *find_kernel(const fc_kernel_table *t, const char *domain,
                                        const char *op)
{
    for (; t; t = t->fallback)
        for (int i = 0; i < t->count; i++)
            if (strcmp(t->defs[i].name, op) == 0 && same_domain(t->defs[i].domain, domain))
                return &t->defs[i];
    return NULL;
}

int fc_engine_supports_op(const char *kind, const char *domain, const char *op_type)
{
    const fc_kernel_table *t = table_for(kind);
    return t && find_kernel(t, domain, op_type) != NULL;
}

const char *fc_engine_kind(const fc_engine *e) { return e->table->engine; }

const fc_graph *fc_engine_graph(const fc_engine *e) { return e->g; }

void fc_engine_free(fc_engine *e)
{
    if (!e)
        return;
    fc_free(e->kernels);
    fc_free(e->last_use);
    fc_free(e->absorbed_by);
    fc_free(e->act_min);
    fc_free(e->act_max);
    fc_free(e->has_act);
    fc_workspace_free(e->ws);
    fc_plan_free(e->plan);   /* before the graph it borrows */
    fc_graph_free(e->owned);
    fc_free(e);
}

static int consumer_count(const fc_graph *g, int v)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_inputs; j++)
            count += g->nodes[i].inputs[j] == v;
    return count;
}

/* Constant scalar bound of a Clip input, or the default when omitted. */
static bool clip_bound(const fc_graph *g, const fc_node *n, int idx, float dflt, float *out)
{
    if (idx >= n->n_inputs || n->inputs[idx] < 0) {
        *out = dflt;
        return true;
    }
    const fc_tensor *t = g->values[n->inputs[idx]].init;
    if (!t || t->dtype != FC_DT_F32 || t->numel != 1)
        return false;
    *out = ((const float *)t->data)[0];
    return true;
}

/* Clamp bounds of a Relu or float Clip node, if they are known up front. */
static bool activation_bounds(const fc_graph *g, const fc_node *n, float *lo, float *hi)
{
    if (n->domain[0] != '\0' || n->n_outputs != 1)
        return false;
    if (strcmp(n->op_type, "Relu") == 0) {
        *lo = 0.0f;
        *hi = __builtin_inff();
        return true;
    }
    if (strcmp(n->op_type, "Clip") != 0)
        return false;
    if (n->opset < 11) {
        float mn = -__builtin_inff(), mx = __builtin_inff();
        if (fc_attr_get_float(n, "min", mn, &mn, NULL) ||
            fc_attr_get_float(n, "max", mx, &mx, NULL))
            return false;
        *lo = mn;
        *hi = mx;
        return true;
    }
    return clip_bound(g, n, 1, -__builtin_inff(), lo) &&
           clip_bound(g, n, 2, __builtin_inff(), hi);
}

/* Marks activation nodes that a preceding fusing kernel can absorb: the
 * activation must be the only reader of a float output that is not a graph
 * output (else the pre-activation value would be lost). */
static void plan_fusion(fc_engine *e)
{
    const fc_graph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const fc_node *n = &g->nodes[i];
        float lo, hi;
        if (n->n_inputs < 1 || n->inputs[0] < 0 || !activation_bounds(g, n, &lo, &hi))
            continue;
        int v = n->inputs[0];
        int p = g->values[v].producer;
        if (p < 0 || !e->kernels[p] || !(e->kernels[p]->flags & FC_KERNEL_FUSES_ACTIVATION))
            continue;
        /* Only float outputs are clamped in place: the int8 kernels never
         * fuse, and a value declared with an integer type is left alone. */
        if (g->values[v].dtype != FC_DT_UNDEFINED && g->values[v].dtype != FC_DT_F32)
            continue;
        if (e->has_act[p] || g->nodes[p].n_outputs != 1 || g->values[v].is_output ||
            consumer_count(g, v) != 1)
            continue;
        e->absorbed_by[i] = p;
        e->has_act[p] = true;
        e->act_min[p] = lo;
        e->act_max[p] = hi;
    }
}

fc_status fc_engine_create(const fc_graph *g, const char *kind, fc_engine **out,
                           fc_err *err)
{
    *out = NULL;
    const fc_kernel_table *t = table_for(kind ? kind : "");
    if (!t)
        return fc_err_set(err, FC_ERR_INVALID_ARG,
                          "unknown engine '%s' (expected f32, f32-ref, q8 or q8-ref)",
                          kind ? kind : "");
    fc_engine *e = fc_calloc(1, sizeof *e);
    if (!e)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory creating engine",
                          g->path ? g->path : "model");
    e->table = t;
    /* The int8 engines run their own rewritten copy when the model has QDQ
     * groups; the caller's graph is only borrowed either way. */
    if (is_int8(t)) {
        fc_status st = fc_qdq_fuse(g, &e->owned, &e->n_fused, err);
        if (st) {
            fc_engine_free(e);
            return st;
        }
        if (e->owned)
            g = e->owned;
    }
    e->g = g;
    size_t nn = g->n_nodes ? (size_t)g->n_nodes : 1;
    size_t nv = g->n_values ? (size_t)g->n_values : 1;
    e->kernels = fc_calloc(nn, sizeof *e->kernels);
    e->last_use = fc_calloc(nv, sizeof *e->last_use);
    e->absorbed_by = fc_calloc(nn, sizeof *e->absorbed_by);
    e->act_min = fc_calloc(nn, sizeof *e->act_min);
    e->act_max = fc_calloc(nn, sizeof *e->act_max);
    e->has_act = fc_calloc(nn, sizeof *e->has_act);
    e->ws = fc_workspace_create();
    if (!e->kernels || !e->last_use || !e->absorbed_by || !e->act_min || !e->act_max ||
        !e->has_act || !e->ws) {
        /* The message first: g may be the fused copy the free releases. */
        fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory creating engine",
                   g->path ? g->path : "model");
        fc_engine_free(e);
        return FC_ERR_NOMEM;
    }
    for (int v = 0; v < g->n_values; v++)
        e->last_use[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const fc_node *n = &g->nodes[i];
        e->absorbed_by[i] = -1;
        e->kernels[i] = find_kernel(t, n->domain, n->op_type);
        if (!e->kernels[i] || !fc_op_find(n->domain, n->op_type)) {
            char label[160];
            fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: node %s: op '%s%s%s' is not supported by engine %s",
                       g->path ? g->path : "model", fc_node_label(g, i, label, sizeof label),
                       n->domain, n->domain[0] ? "." : "", n->op_type, t->engine);
            fc_engine_free(e);
            return err ? err->status : FC_ERR_UNSUPPORTED;
        }
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] >= 0)
                e->last_use[n->inputs[j]] = i;
    }
    plan_fusion(e);
    *out = e;
    return FC_OK;
}

void fc_engine_set_observer(fc_engine *e, fc_value_observer cb, void *user)
{
    e->observer = cb;
    e->observer_user = user;
    /* A fused activation would hide its producer's true output. */
    for (int i = 0; i < e->g->n_nodes; i++) {
        e->absorbed_by[i] = -1;
        e->has_act[i] = false;
    }
    if (!cb)
        plan_fusion(e);
}

/* Is the cached plan valid for these inputs? */
static bool plan_matches(const fc_engine *e, const fc_tensor *inputs)
{
    if (!e->plan || !e->plan_reusable)
        return false;
    for (int i = 0; i < e->g->n_inputs; i++) {
        const fc_vinfo *vi = &e->plan->vals[e->g->inputs[i]];
        if (vi->dtype != inputs[i].dtype || vi->rank != inputs[i].rank)
            return false;
        for (int d = 0; d < vi->rank; d++)
            if (vi->dims[d] != inputs[i].dims[d])
                return false;
    }
    return true;
}

fc_status fc_exec_ensure_plan(fc_engine *e, const fc_tensor *inputs, fc_err *err)
{
    if (plan_matches(e, inputs))
        return FC_OK;
    fc_plan_free(e->plan);
    e->plan = NULL;
    const fc_graph *g = e->g;
    fc_vinfo *vi = fc_calloc(g->n_inputs ? (size_t)g->n_inputs : 1, sizeof *vi);
    if (!vi)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory planning %s", g->path);
    /* Integer run-time inputs may carry shapes (Reshape targets, Pad
     * amounts), so their values take part in inference and such a plan is
     * rebuilt every run. */
    e->plan_reusable = true;
    for (int i = 0; i < g->n_inputs; i++) {
        vi[i].dtype = inputs[i].dtype;
        vi[i].rank = inputs[i].rank;
        memcpy(vi[i].dims, inputs[i].dims, sizeof vi[i].dims);
        if (inputs[i].dtype == FC_DT_I64 || inputs[i].dtype == FC_DT_I32) {
            vi[i].value = &inputs[i];
            e->plan_reusable = false;
        }
    }
    fc_status st = fc_plan_create(g, vi, g->n_inputs, &e->plan, err);
    fc_free(vi);
    if (st || !(max_flops_per_image > 0))
        return st;
    /* A well-formed model can still ask for days of compute (a Conv with a
     * huge kernel): refuse it before running, per image of the batch. */
    int64_t batch = g->n_inputs && inputs[0].rank > 0 && inputs[0].dims[0] > 0 ? inputs[0].dims[0] : 1;
    double per_image = fc_plan_flops(e->plan) / (double)batch;
    if (per_image > max_flops_per_image) {
        fc_plan_free(e->plan);
        e->plan = NULL;
        return fc_err_set(err, FC_ERR_LIMIT,
                          "%s: needs %.3g operations per image, over the limit of %.3g "
                          "(--max-flops)", g->path, per_image, max_flops_per_image);
    }
    return FC_OK;
}

void fc_engine_set_max_flops(double per_image)
{
    max_flops_per_image = per_image;
}

/* Where the data of value v lives during a run. */
const fc_tensor *fc_exec_value(const fc_engine *e, const fc_tensor *inputs,
                              const fc_tensor *computed, const int *input_slot, int v)
{
    const fc_graph *g = e->g;
    if (g->values[v].init)
        return g->values[v].init;
    if (e->plan->folded[v].data)
        return &e->plan->folded[v];
    if (input_slot[v] >= 0)
        return &inputs[input_slot[v]];
    if (computed[v].data)
        return &computed[v];
    return NULL;
}

fc_status fc_exec_node(fc_engine *e, int i, const fc_tensor *inputs, fc_tensor *computed,
                       const int *input_slot, fc_err *err)
{
    const fc_graph *g = e->g;
    const fc_node *n = &g->nodes[i];
    const fc_tensor *in_ptrs[FC_MAX_NODE_IO];
    fc_tensor *out_ptrs[FC_MAX_NODE_IO];
    char label[160];
    fc_status st = FC_OK;

    for (int j = 0; j < n->n_inputs; j++) {
        in_ptrs[j] = NULL;
        if (n->inputs[j] < 0)
            continue;
        in_ptrs[j] = fc_exec_value(e, inputs, computed, input_slot, n->inputs[j]);
        if (!in_ptrs[j])
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: node %s: input %d has no data",
                              g->path, fc_node_label(g, i, label, sizeof label), j);
    }
    for (int j = 0; j < n->n_outputs; j++) {
        out_ptrs[j] = NULL;
        int v = n->outputs[j];
        if (v < 0)
            continue;
        const fc_vinfo *vi = &e->plan->vals[v];
        st = fc_tensor_alloc(&computed[v], vi->dtype, vi->rank, vi->dims, err);
        if (st) {
            fc_err_prefix(err, "%s: node %s: output: ", g->path,
                          fc_node_label(g, i, label, sizeof label));
            return st;
        }
        out_ptrs[j] = &computed[v];
    }
    fc_kernel_ctx k = {
        .node = n, .in = in_ptrs, .n_in = n->n_inputs, .out = out_ptrs,
        .n_out = n->n_outputs, .ws = e->ws,
        .act = e->has_act[i] ? FC_ACT_CLAMP : FC_ACT_NONE,
        .act_min = e->act_min[i], .act_max = e->act_max[i],
    };
    st = e->kernels[i]->forward(&k, err);
    if (st)
        fc_err_prefix(err, "%s: node %s: ", g->path, fc_node_label(g, i, label, sizeof label));
    return st;
}

/* One pass of the graph on inputs whose shapes the plan accepts. */
static fc_status run_once(fc_engine *e, const fc_tensor *inputs, fc_tensor *outputs,
                          fc_err *err)
{
    const fc_graph *g = e->g;
    fc_status st = fc_exec_ensure_plan(e, inputs, err);
    if (st)
        return st;
    size_t nv = g->n_values ? (size_t)g->n_values : 1;
    fc_tensor *computed = fc_calloc(nv, sizeof *computed);
    int *input_slot = fc_malloc(nv * sizeof *input_slot);
    if (!computed || !input_slot) {
        fc_free(computed);
        fc_free(input_slot);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory running %s", g->path);
    }
    for (int v = 0; v < g->n_values; v++)
        input_slot[v] = -1;
    for (int i = 0; i < g->n_inputs; i++)
        input_slot[g->inputs[i]] = i;

    for (int i = 0; i < g->n_nodes && !st; i++) {
        if (e->plan->node_folded[i])
            continue;
        int p = e->absorbed_by[i];
        if (p >= 0 && !e->plan->node_folded[p]) {
            /* The producer already clamped: hand its tensor to our output. */
            int from = g->nodes[i].inputs[0], to = g->nodes[i].outputs[0];
            computed[to] = computed[from];
            memset(&computed[from], 0, sizeof computed[from]);
            continue;
        }
        st = fc_exec_node(e, i, inputs, computed, input_slot, err);
        for (int j = 0; !st && e->observer && j < g->nodes[i].n_outputs; j++) {
            int v = g->nodes[i].outputs[j];
            if (v >= 0 && computed[v].data)
                st = e->observer(g, i, v, &computed[v], e->observer_user, err);
        }
        /* Drop intermediates nobody reads any more. */
        for (int j = 0; !st && j < g->nodes[i].n_inputs; j++) {
            int v = g->nodes[i].inputs[j];
            if (v >= 0 && e->last_use[v] == i && !g->values[v].is_output)
                fc_tensor_release(&computed[v]);
        }
    }
    for (int o = 0; o < g->n_outputs && !st; o++) {
        int v = g->outputs[o];
        if (computed[v].data) {
            outputs[o] = computed[v];
            memset(&computed[v], 0, sizeof computed[v]);
            continue;
        }
        const fc_tensor *src = fc_exec_value(e, inputs, computed, input_slot, v);
        if (!src)
            st = fc_err_set(err, FC_ERR_INTERNAL, "%s: output '%s' was not computed",
                            g->path, g->values[v].name);
        else
            st = fc_tensor_copy(&outputs[o], src, err);
    }
    if (st)
        for (int o = 0; o < g->n_outputs; o++)
            fc_tensor_release(&outputs[o]);
    for (int v = 0; v < g->n_values; v++)
        fc_tensor_release(&computed[v]);
    fc_free(computed);
    fc_free(input_slot);
    return st;
}

/* True when the model declares batch 1 but is given a larger batch. */
static bool needs_per_image(const fc_graph *g, const fc_tensor *inputs)
{
    if (g->n_inputs != 1)
        return false;
    const fc_value *in = &g->values[g->inputs[0]];
    return in->rank >= 1 && in->dims[0] == 1 && inputs[0].rank == in->rank &&
           inputs[0].dims[0] > 1;
}

/* Runs each image alone and stacks the outputs along axis 0. */
static fc_status run_per_image(fc_engine *e, const fc_tensor *input, fc_tensor *outputs,
                               fc_err *err)
{
    const fc_graph *g = e->g;
    int64_t n = input->dims[0];
    size_t per_image = input->numel / (size_t)n;
    size_t esize = fc_dtype_size(input->dtype);
    fc_tensor one[FC_MAX_NODE_IO];
    fc_status st = FC_OK;
    for (int64_t b = 0; b < n && !st; b++) {
        fc_tensor view = *input;
        view.dims[0] = 1;
        view.numel = per_image;
        view.owns_data = false;
        view.data = (char *)input->data + (size_t)b * per_image * esize;
        memset(one, 0, sizeof one);
        st = run_once(e, &view, one, err);
        for (int o = 0; o < g->n_outputs && !st; o++) {
            if (one[o].rank < 1 || one[o].dims[0] != 1) {
                st = fc_err_set(err, FC_ERR_SHAPE,
                                "%s: batch-1 model output '%s' has no leading dimension 1, "
                                "cannot run a batch of %lld image by image",
                                g->path, g->values[g->outputs[o]].name, (long long)n);
                break;
            }
            if (b == 0) {
                int64_t dims[FC_MAX_RANK];
                memcpy(dims, one[o].dims, sizeof dims);
                dims[0] = n;
                st = fc_tensor_alloc(&outputs[o], one[o].dtype, one[o].rank, dims, err);
                if (st)
                    break;
            }
            size_t bytes = fc_tensor_bytes(&one[o]);
            if (bytes * (size_t)n != fc_tensor_bytes(&outputs[o])) {
                st = fc_err_set(err, FC_ERR_SHAPE, "%s: output '%s' changes shape between images",
                                g->path, g->values[g->outputs[o]].name);
                break;
            }
            memcpy((char *)outputs[o].data + (size_t)b * bytes, one[o].data, bytes);
        }
        for (int o = 0; o < g->n_outputs; o++)
            fc_tensor_release(&one[o]);
    }
    if (st)
        for (int o = 0; o < g->n_outputs; o++)
            fc_tensor_release(&outputs[o]);
    return st;
}

fc_status fc_engine_run(fc_engine *e, const fc_tensor *inputs, int n_inputs,
                        fc_tensor *outputs, int n_outputs, fc_err *err)
{
    const fc_graph *g = e->g;
    if (n_inputs != g->n_inputs)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: model takes %d input(s), %d given",
                          g->path, g->n_inputs, n_inputs);
    if (n_outputs != g->n_outputs || n_outputs > FC_MAX_NODE_IO)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: model has %d output(s), room for %d given",
                          g->path, g->n_outputs, n_outputs);
    for (int o = 0; o < n_outputs; o++)
        memset(&outputs[o], 0, sizeof outputs[o]);
    if (e->table == &fc_kernels_test_faulty && n_inputs > 0)
        fc_engine_fault_inject(&inputs[0]);
    if (needs_per_image(g, inputs))
        return run_per_image(e, &inputs[0], outputs, err);
    return run_once(e, inputs, outputs, err);
}

int fc_engine_qdq_fused(const fc_engine *e) { return e->n_fused; }

static bool is_qdq(const fc_node *n, const char *op)
{
    return (n->domain[0] == '\0' || strcmp(n->domain, "ai.onnx") == 0) &&
           strcmp(n->op_type, op) == 0;
}

/* Marks in island[] the nodes (other than Q/DQ) on a path from a
 * DequantizeLinear to a QuantizeLinear: what runs in float inside the
 * quantized part of the model.  mark: per value, bit 1 = computed from a
 * DQ output through such nodes, bit 2 = feeds a Q through such nodes. */
static void find_islands(const fc_graph *g, unsigned char *mark, bool *island)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const fc_node *n = &g->nodes[i];
        bool from = is_qdq(n, "DequantizeLinear");
        for (int j = 0; !from && !is_qdq(n, "QuantizeLinear") && j < n->n_inputs; j++)
            from = n->inputs[j] >= 0 && (mark[n->inputs[j]] & 1);
        for (int j = 0; from && j < n->n_outputs; j++)
            if (n->outputs[j] >= 0)
                mark[n->outputs[j]] |= 1;
    }
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const fc_node *n = &g->nodes[i];
        bool q = is_qdq(n, "QuantizeLinear"), to = q;
        for (int j = 0; !to && !is_qdq(n, "DequantizeLinear") && j < n->n_outputs; j++)
            to = n->outputs[j] >= 0 && (mark[n->outputs[j]] & 2);
        for (int j = 0; to && j < (q ? 1 : n->n_inputs); j++)
            if (n->inputs[j] >= 0)
                mark[n->inputs[j]] |= 2;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const fc_node *n = &g->nodes[i];
        bool from = false, to = false;
        for (int j = 0; j < n->n_inputs; j++)
            from = from || (n->inputs[j] >= 0 && (mark[n->inputs[j]] & 1));
        for (int j = 0; j < n->n_outputs; j++)
            to = to || (n->outputs[j] >= 0 && (mark[n->outputs[j]] & 2));
        island[i] = from && to && !is_qdq(n, "DequantizeLinear") && !is_qdq(n, "QuantizeLinear");
    }
}

static bool same_op(const fc_node *a, const fc_node *b)
{
    return strcmp(a->op_type, b->op_type) == 0 && strcmp(a->domain, b->domain) == 0;
}

int fc_engine_float_islands(const fc_engine *e, char *buf, size_t size)
{
    const fc_graph *g = e->g;
    if (buf && size)
        buf[0] = '\0';
    unsigned char *mark = fc_calloc(g->n_values > 0 ? (size_t)g->n_values : 1, 1);
    bool *island = fc_calloc(g->n_nodes > 0 ? (size_t)g->n_nodes : 1, sizeof *island);
    if (!mark || !island) {
        fc_free(mark);
        fc_free(island);
        return -1;
    }
    find_islands(g, mark, island);
    /* Histogram in order of first appearance: "Mul 2, Sigmoid 1". */
    int total = 0;
    size_t used = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!island[i])
            continue;
        total++;
        bool first = true;
        for (int p = 0; p < i && first; p++)
            first = !(island[p] && same_op(&g->nodes[p], &g->nodes[i]));
        if (!first || !buf || used >= size)
            continue;
        int count = 0;
        for (int q = i; q < g->n_nodes; q++)
            count += island[q] && same_op(&g->nodes[q], &g->nodes[i]);
        const fc_node *n = &g->nodes[i];
        int w = snprintf(buf + used, size - used, "%s%s%s%s %d", used ? ", " : "", n->domain,
                         n->domain[0] ? "." : "", n->op_type, count);
        used += w > 0 ? (size_t)w : 0;
    }
    fc_free(mark);
    fc_free(island);
    return total;
}
