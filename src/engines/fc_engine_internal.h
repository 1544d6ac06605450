/* Private to the executor (fc_engine.c: forward, fc_engine_grad.c:
 * backward): the engine struct and the steps both passes share. */
#ifndef FC_ENGINE_INTERNAL_H
#define FC_ENGINE_INTERNAL_H

#include <stdbool.h>

#include "../onnx/fc_plan.h"
#include "fc_engine.h"
#include "fc_kernel.h"

struct fc_engine {
    const fc_graph *g;
    const fc_kernel_table *table;
    const fc_kernel_def **kernels;  /* per node; NULL for nodes never run here */
    int *last_use;                  /* per value: last node index reading it */
    int *absorbed_by;               /* per node: producer that fused it, or -1 */
    float *act_min, *act_max;       /* per producer node: fused clamp bounds */
    bool *has_act;                  /* per producer node */
    fc_workspace *ws;
    fc_plan *plan;                  /* cached for the last input shapes */
    bool plan_reusable;             /* false when int inputs feed shape data */
    fc_graph *owned;                /* the int8 engines' QDQ-fused copy (g points to it), or NULL */
    int n_fused;                    /* QDQ groups fused into integer ops */
    fc_value_observer observer;     /* fc_engine_set_observer, or NULL */
    void *observer_user;
};

/* The test-only engine (fc_engine_faulty.c). */
extern const fc_kernel_table fc_kernels_test_faulty;
bool fc_engine_faults_enabled(void);
void fc_engine_fault_inject(const fc_tensor *input);

/* Makes e->plan match the shapes of `inputs` (one per graph input). */
fc_status fc_exec_ensure_plan(fc_engine *e, const fc_tensor *inputs, fc_err *err);

/* Where the data of value v lives during a run: an initializer, a folded
 * constant, a graph input, or computed[v]; NULL if not yet computed. */
const fc_tensor *fc_exec_value(const fc_engine *e, const fc_tensor *inputs,
                              const fc_tensor *computed, const int *input_slot, int v);

/* Allocates node i's outputs in computed[] and runs its forward kernel. */
fc_status fc_exec_node(fc_engine *e, int i, const fc_tensor *inputs, fc_tensor *computed,
                       const int *input_slot, fc_err *err);

#endif
