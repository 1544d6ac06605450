/* Input gradients: a forward pass that keeps every intermediate, the loss on
 * the logits, then the nodes in reverse order through each engine's backward
 * kernels.  Only values that depend on the input get gradients: float32
 * ones, and in the int8 engines also the uint8/int8/int32 ones (gradients
 * per unit of the integer, see fc_backward_fn in fc_kernel.h). */
#include <math.h>
#include <string.h>

#include "../core/fc_alloc.h"
#include "fc_engine_internal.h"

double fc_loss_eval(const fc_loss *loss, int64_t label, const float *z, int64_t c, float *dz)
{
    if (loss->kind == FC_LOSS_MARGIN) {
        int64_t best = -1;
        for (int64_t j = 0; j < c; j++)
            if (j != label && (best < 0 || z[j] > z[best]))
                best = j;
        if (dz) {
            for (int64_t j = 0; j < c; j++)
                dz[j] = 0.0f;
            if (best >= 0)
                dz[best] = 1.0f;
            dz[label] = -1.0f;
        }
        return best >= 0 ? (double)z[best] - (double)z[label] : -(double)z[label];
    }
    /* Cross-entropy: logsumexp(z) - z[label], softmax(z) - onehot as gradient. */
    double mx = -INFINITY;
    for (int64_t j = 0; j < c; j++)
        mx = z[j] > mx ? z[j] : mx;
    double sum = 0.0;
    for (int64_t j = 0; j < c; j++)
        sum += exp((double)z[j] - mx);
    double lse = mx + log(sum);
    if (dz)
        for (int64_t j = 0; j < c; j++)
            dz[j] = (float)(exp((double)z[j] - lse) - (j == label ? 1.0 : 0.0));
    return lse - (double)z[label];
}

fc_output_kind fc_graph_output_kind(const fc_graph *g, int *logits_value)
{
    int v = g->n_outputs > 0 ? g->outputs[0] : -1;
    if (logits_value)
        *logits_value = v;
    if (v < 0 || g->values[v].producer < 0)
        return FC_OUT_LOGITS;
    const fc_node *n = &g->nodes[g->values[v].producer];
    bool sm = strcmp(n->op_type, "Softmax") == 0, lsm = strcmp(n->op_type, "LogSoftmax") == 0;
    if (n->domain[0] || (!sm && !lsm) || n->n_inputs < 1 || n->inputs[0] < 0)
        return FC_OUT_LOGITS;
    /* Only the last axis is a class axis we can reason about.  An output
     * whose rank the file leaves undeclared (-1) may still be [N,C]: the
     * loss then checks the planned rank of the logits. */
    int64_t axis = n->opset >= 13 ? -1 : 1;
    if (fc_attr_get_int(n, "axis", axis, &axis, NULL))
        return FC_OUT_LOGITS;
    int rank = g->values[v].rank;
    if (!(axis == -1 || ((rank == 2 || rank < 0) && axis == 1)))
        return FC_OUT_LOGITS;
    if (logits_value)
        *logits_value = n->inputs[0];
    return sm ? FC_OUT_SOFTMAX : FC_OUT_LOGSOFTMAX;
}

typedef struct grad_run {
    fc_engine *e;
    const fc_tensor *input;
    fc_tensor *computed;      /* forward values, all kept */
    fc_tensor *grads;         /* per value */
    int *input_slot;
    bool *needs;              /* per value: depends on the input and carries a gradient */
    bool int_grads;           /* integer values carry gradients (the int8 engines) */
} grad_run;

static void run_free(grad_run *r, int n_values)
{
    for (int v = 0; r->computed && v < n_values; v++)
        fc_tensor_release(&r->computed[v]);
    for (int v = 0; r->grads && v < n_values; v++)
        fc_tensor_release(&r->grads[v]);
    fc_free(r->computed);
    fc_free(r->grads);
    fc_free(r->input_slot);
    fc_free(r->needs);
}

static fc_status forward_keep(grad_run *r, fc_err *err)
{
    fc_engine *e = r->e;
    const fc_graph *g = e->g;
    fc_status st = FC_OK;
    for (int i = 0; i < g->n_nodes && !st; i++) {
        if (e->plan->node_folded[i])
            continue;
        int p = e->absorbed_by[i];
        if (p >= 0 && !e->plan->node_folded[p]) {
            /* The producer clamped in place: our output is a view of its. */
            int from = g->nodes[i].inputs[0], to = g->nodes[i].outputs[0];
            r->computed[to] = r->computed[from];
            r->computed[to].owns_data = false;
            continue;
        }
        st = fc_exec_node(e, i, r->input, r->computed, r->input_slot, err);
    }
    return st;
}

static bool is_int_grad_dtype(fc_dtype dt)
{
    return dt == FC_DT_U8 || dt == FC_DT_I8 || dt == FC_DT_I32;
}

/* The int8 engines say so by flagging their own kernels. */
static bool table_has_int_grads(const fc_kernel_table *t)
{
    for (int i = 0; i < t->count; i++)
        if (t->defs[i].flags & FC_KERNEL_INT_GRADS)
            return true;
    return false;
}

static bool carries_grad(const grad_run *r, fc_dtype dt)
{
    return dt == FC_DT_F32 || (r->int_grads && is_int_grad_dtype(dt));
}

static void mark_needs(grad_run *r)
{
    const fc_graph *g = r->e->g;
    r->needs[g->inputs[0]] = true;
    for (int i = 0; i < g->n_nodes; i++) {
        if (r->e->plan->node_folded[i])
            continue;
        const fc_node *n = &g->nodes[i];
        bool any = false;
        for (int j = 0; j < n->n_inputs; j++)
            any |= n->inputs[j] >= 0 && r->needs[n->inputs[j]];
        for (int j = 0; any && j < n->n_outputs; j++) {
            int v = n->outputs[j];
            if (v >= 0 && carries_grad(r, r->e->plan->vals[v].dtype))
                r->needs[v] = true;
        }
    }
}

static fc_status ensure_grad(grad_run *r, int v, fc_err *err)
{
    if (r->grads[v].data)
        return FC_OK;
    const fc_vinfo *vi = &r->e->plan->vals[v];
    return fc_tensor_alloc(&r->grads[v], FC_DT_F32, vi->rank, vi->dims, err);
}

static fc_status backward_node(grad_run *r, int i, fc_err *err)
{
    fc_engine *e = r->e;
    const fc_graph *g = e->g;
    const fc_node *n = &g->nodes[i];
    const fc_tensor *in[FC_MAX_NODE_IO], *out[FC_MAX_NODE_IO], *gout[FC_MAX_NODE_IO];
    fc_tensor *gin[FC_MAX_NODE_IO];
    bool any_out = false, any_in = false;
    for (int j = 0; j < n->n_outputs; j++) {
        int v = n->outputs[j];
        out[j] = v >= 0 ? &r->computed[v] : NULL;
        gout[j] = v >= 0 && r->grads[v].data ? &r->grads[v] : NULL;
        any_out |= gout[j] != NULL;
    }
    if (!any_out)
        return FC_OK;
    for (int j = 0; j < n->n_inputs; j++) {
        int v = n->inputs[j];
        in[j] = v >= 0 ? fc_exec_value(e, r->input, r->computed, r->input_slot, v) : NULL;
        gin[j] = NULL;
        if (v >= 0 && r->needs[v]) {
            fc_status st = ensure_grad(r, v, err);
            if (st)
                return st;
            gin[j] = &r->grads[v];
            any_in = true;
        }
    }
    if (!any_in)
        return FC_OK;
    char label[160];
    if (!e->kernels[i]->backward)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: node %s: op '%s' has no gradient in "
                          "engine %s", g->path, fc_node_label(g, i, label, sizeof label),
                          n->op_type, e->table->engine);
    /* Gradients of integer tensors only go to kernels that expect them. */
    for (int j = 0; j < n->n_inputs + n->n_outputs; j++) {
        bool is_in = j < n->n_inputs;
        const fc_tensor *t = is_in ? (gin[j] ? in[j] : NULL)
                                   : (gout[j - n->n_inputs] ? out[j - n->n_inputs] : NULL);
        if (t && t->dtype != FC_DT_F32 && !(e->kernels[i]->flags & FC_KERNEL_INT_GRADS))
            return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: node %s: op '%s' has no gradient "
                              "through its %s %s %d in engine %s", g->path,
                              fc_node_label(g, i, label, sizeof label), n->op_type,
                              fc_dtype_name(t->dtype), is_in ? "input" : "output",
                              is_in ? j : j - n->n_inputs, e->table->engine);
    }
    fc_grad_ctx k = {.node = n, .in = in, .n_in = n->n_inputs, .out = out,
                     .n_out = n->n_outputs, .gout = gout, .gin = gin, .ws = e->ws};
    fc_status st = e->kernels[i]->backward(&k, err);
    if (st)
        fc_err_prefix(err, "%s: node %s (backward): ", g->path,
                      fc_node_label(g, i, label, sizeof label));
    return st;
}

static fc_status loss_grad(grad_run *r, int lv, const fc_loss *loss, fc_tensor *logits,
                           double *loss_sum, fc_err *err)
{
    const fc_graph *g = r->e->g;
    const fc_tensor *z = fc_exec_value(r->e, r->input, r->computed, r->input_slot, lv);
    if (!z || z->dtype != FC_DT_F32 || z->rank != 2 || z->dims[0] != r->input->dims[0] ||
        z->dims[1] < 1)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: gradients need float logits [N,C] "
                          "from the first output", g->path);
    const int64_t n = z->dims[0], c = z->dims[1];
    for (int64_t i = 0; i < n; i++)
        if (loss->labels[i] < 0 || loss->labels[i] >= c)
            return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: label %lld of image %lld is outside "
                              "0..%lld", g->path, (long long)loss->labels[i], (long long)i,
                              (long long)(c - 1));
    fc_status st = ensure_grad(r, lv, err);
    if (st)
        return st;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += fc_loss_eval(loss, loss->labels[i], (const float *)z->data + i * c, c,
                            (float *)r->grads[lv].data + i * c);
    if (loss_sum)
        *loss_sum = sum;
    if (logits)
        st = fc_tensor_copy(logits, z, err);
    return st;
}

static fc_status grad_once(fc_engine *e, const fc_tensor *input, const fc_loss *loss,
                           fc_tensor *grad, fc_tensor *logits, double *loss_sum, fc_err *err)
{
    const fc_graph *g = e->g;
    fc_status st = fc_exec_ensure_plan(e, input, err);
    if (st)
        return st;
    size_t nv = g->n_values ? (size_t)g->n_values : 1;
    grad_run r = {.e = e, .input = input, .int_grads = table_has_int_grads(e->table)};
    r.computed = fc_calloc(nv, sizeof *r.computed);
    r.grads = fc_calloc(nv, sizeof *r.grads);
    r.input_slot = fc_malloc(nv * sizeof *r.input_slot);
    r.needs = fc_calloc(nv, sizeof *r.needs);
    if (!r.computed || !r.grads || !r.input_slot || !r.needs) {
        run_free(&r, g->n_values);
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory for gradients", g->path);
    }
    for (int v = 0; v < g->n_values; v++)
        r.input_slot[v] = -1;
    r.input_slot[g->inputs[0]] = 0;
    int lv;
    fc_graph_output_kind(g, &lv);
    st = forward_keep(&r, err);
    if (!st) {
        mark_needs(&r);
        st = loss_grad(&r, lv, loss, logits, loss_sum, err);
    }
    int last = lv >= 0 ? g->values[lv].producer : -1;
    for (int i = last; !st && i >= 0; i--) {
        if (e->plan->node_folded[i])
            continue;
        st = backward_node(&r, i, err);
        for (int j = 0; j < g->nodes[i].n_outputs; j++)
            if (g->nodes[i].outputs[j] >= 0)
                fc_tensor_release(&r.grads[g->nodes[i].outputs[j]]);
    }
    int vin = g->inputs[0];
    if (!st && !r.grads[vin].data)   /* the logits do not depend on the input */
        st = ensure_grad(&r, vin, err);
    if (!st) {
        *grad = r.grads[vin];
        memset(&r.grads[vin], 0, sizeof r.grads[vin]);
    } else if (logits) {
        fc_tensor_release(logits);
    }
    run_free(&r, g->n_values);
    return st;
}

fc_status fc_engine_grad(fc_engine *e, const fc_tensor *input, const fc_loss *loss,
                         fc_tensor *grad, fc_tensor *logits, double *loss_sum, fc_err *err)
{
    const fc_graph *g = e->g;
    memset(grad, 0, sizeof *grad);
    if (logits)
        memset(logits, 0, sizeof *logits);
    if (g->n_inputs != 1 || input->dtype != FC_DT_F32 || input->rank < 1)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: gradients need a model with one float "
                          "input", g->path);
    if (!loss || !loss->labels)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "fc_engine_grad: no labels");
    const fc_value *decl = &g->values[g->inputs[0]];
    int64_t n = input->dims[0];
    if (!(decl->rank >= 1 && decl->dims[0] == 1 && n > 1))
        return grad_once(e, input, loss, grad, logits, loss_sum, err);
    /* A model fixed to batch 1: one image at a time, results stacked. */
    fc_status st = fc_tensor_alloc(grad, FC_DT_F32, input->rank, input->dims, err);
    size_t per = input->numel / (size_t)n;
    double total = 0.0;
    for (int64_t b = 0; b < n && !st; b++) {
        fc_tensor view = *input, gi = {0}, zi = {0};
        view.dims[0] = 1;
        view.numel = per;
        view.owns_data = false;
        view.data = (float *)input->data + (size_t)b * per;
        fc_loss one = {loss->kind, loss->labels + b};
        double ls = 0.0;
        st = grad_once(e, &view, &one, &gi, logits ? &zi : NULL, &ls, err);
        if (!st) {
            memcpy((float *)grad->data + (size_t)b * per, gi.data, per * sizeof(float));
            total += ls;
            if (logits && b == 0) {
                int64_t dims[2] = {n, zi.dims[1]};
                st = fc_tensor_alloc(logits, FC_DT_F32, 2, dims, err);
            }
            if (!st && logits)
                memcpy((float *)logits->data + b * zi.dims[1], zi.data,
                       (size_t)zi.dims[1] * sizeof(float));
        }
        fc_tensor_release(&gi);
        fc_tensor_release(&zi);
    }
    if (st) {
        fc_tensor_release(grad);
        if (logits)
            fc_tensor_release(logits);
        return st;
    }
    if (loss_sum)
        *loss_sum = total;
    return FC_OK;
}
