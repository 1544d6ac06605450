/* A plan's compute, estimated from its shapes: what --max-flops guards.
 * Only the ops whose cost grows with a weight or window size are counted
 * precisely (convolutions, matrix products, pooling windows); every other
 * node counts one operation per output element. */
#include <math.h>
#include <string.h>

#include "fc_plan.h"

static double numel_of(const fc_vinfo *v)
{
    double n = 1;
    for (int d = 0; d < v->rank; d++)
        n *= (double)v->dims[d];
    return n;
}

static bool is_any(const char *op, const char *const *names)
{
    for (; *names; names++)
        if (!strcmp(op, *names))
            return true;
    return false;
}

static double node_flops(const fc_plan *p, const fc_node *n)
{
    static const char *const convs[] = {"Conv", "ConvInteger", "QLinearConv", "ConvTranspose",
                                        NULL};
    static const char *const mms[] = {"Gemm", "QGemm", "MatMul", "MatMulInteger",
                                      "QLinearMatMul", NULL};
    static const char *const pools[] = {"MaxPool", "AveragePool", "QLinearAveragePool", NULL};
    double out = 0;
    for (int j = 0; j < n->n_outputs; j++)
        if (n->outputs[j] >= 0)
            out += numel_of(&p->vals[n->outputs[j]]);
    if (is_any(n->op_type, convs)) {
        /* QLinearConv's weight is input 3, the others' input 1:
         * [Cout, Cin/group, k...], one MAC per weight element per output. */
        int wi = !strcmp(n->op_type, "QLinearConv") ? 3 : 1;
        if (wi < n->n_inputs && n->inputs[wi] >= 0) {
            const fc_vinfo *w = &p->vals[n->inputs[wi]];
            double per = 1;
            for (int d = 1; d < w->rank; d++)
                per *= (double)w->dims[d];
            return 2 * out * per;
        }
    }
    if (is_any(n->op_type, mms)) {
        /* A [M,K] x B [K,N] -> [M,N]: K = sqrt(|A| |B| / |Y|) whatever the
         * transposes or the batch broadcast. */
        int ai = 0, bi = !strcmp(n->op_type, "QLinearMatMul") || !strcmp(n->op_type, "QGemm") ? 3 : 1;
        if (bi < n->n_inputs && n->inputs[ai] >= 0 && n->inputs[bi] >= 0 && out > 0) {
            double k = sqrt(numel_of(&p->vals[n->inputs[ai]]) *
                            numel_of(&p->vals[n->inputs[bi]]) / out);
            return 2 * out * k;
        }
    }
    if (is_any(n->op_type, pools)) {
        const fc_attr *a = fc_attr_find(n, "kernel_shape");
        double per = 1;
        for (size_t d = 0; a && a->type == FC_ATTR_INTS && d < a->n; d++)
            per *= (double)a->ints[d];
        return out * per;
    }
    return out;
}

double fc_plan_flops(const fc_plan *p)
{
    double total = 0;
    for (int i = 0; i < p->graph->n_nodes; i++)
        if (!p->node_folded[i])
            total += node_flops(p, &p->graph->nodes[i]);
    return total;
}
