/* The intermediate representation every engine runs: a loaded ONNX graph.
 *
 * Data flow: fc_onnx_load() (fc_onnx.h) turns a file into an fc_graph, which
 * is immutable afterwards.  fc_plan_create() (fc_plan.h) specialises it to
 * concrete input shapes: shapes of every value, constant-folded shape
 * subgraphs.  Engines (src/engines) execute a plan.
 *
 * Ownership: the fc_graph owns every string, array and tensor reachable from
 * it; fc_graph_free() releases all of it.  Nothing in here is shared. */
#ifndef FC_IR_H
#define FC_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/fc_status.h"
#include "../core/fc_tensor.h"

typedef enum fc_attr_type {
    FC_ATTR_UNDEFINED = 0,
    FC_ATTR_FLOAT = 1,
    FC_ATTR_INT = 2,
    FC_ATTR_STRING = 3,
    FC_ATTR_TENSOR = 4,
    FC_ATTR_GRAPH = 5,      /* kept only so the op can be refused by name */
    FC_ATTR_FLOATS = 6,
    FC_ATTR_INTS = 7,
    FC_ATTR_STRINGS = 8,
} fc_attr_type;   /* numbering of onnx.AttributeProto.AttributeType */

typedef struct fc_attr {
    char *name;
    fc_attr_type type;
    float f;               /* FLOAT */
    int64_t i;             /* INT */
    char *s;               /* STRING (NUL-terminated; bytes with NUL are refused) */
    float *floats;         /* FLOATS, n elements */
    int64_t *ints;         /* INTS, n elements */
    size_t n;
    fc_tensor *t;          /* TENSOR */
} fc_attr;

/* A named value (edge) of the graph. */
typedef struct fc_value {
    char *name;
    fc_dtype dtype;           /* FC_DT_UNDEFINED until known */
    int rank;                 /* -1 when not declared in the file */
    int64_t dims[FC_MAX_RANK];/* declared dims; -1 = symbolic (dim_param) or unknown */
    fc_tensor *init;          /* initializer or Constant-node data, else NULL */
    bool is_input;            /* a graph input fed at run time (not an initializer) */
    bool is_output;           /* a graph output */
    int producer;             /* index of the node that writes it, -1 if none */
} fc_value;

typedef struct fc_node {
    char *name;               /* may be "" in files; fc_node_label() gives a usable label */
    char *op_type;
    char *domain;             /* "" for the default ONNX domain */
    int64_t opset;            /* opset version of this node's domain in the model */
    int n_inputs;
    int *inputs;              /* value indices; -1 for an omitted optional input */
    int n_outputs;
    int *outputs;             /* value indices; -1 for an omitted optional output */
    int n_attrs;
    fc_attr *attrs;
} fc_node;

typedef struct fc_graph {
    char *path;               /* the file it came from (for messages) */
    char *name;
    char *producer;           /* producer_name + version, may be "" */
    int64_t ir_version;
    int64_t opset;            /* default-domain opset */
    int64_t ms_opset;         /* com.microsoft opset, 0 if not imported */
    int n_values;
    fc_value *values;
    int n_nodes;
    fc_node *nodes;           /* topologically sorted */
    int n_inputs;
    int *inputs;              /* value indices of run-time inputs, in file order */
    int n_outputs;
    int *outputs;             /* value indices of graph outputs, in file order */
} fc_graph;

/* Frees what one node owns and zeroes it (the loader drops nodes). */
void fc_node_clear(fc_node *n);

/* Frees the graph and everything it owns.  NULL is allowed. */
void fc_graph_free(fc_graph *g);

/* "Conv 'conv1'" or "Conv #3" when the node has no name; into buf. */
const char *fc_node_label(const fc_graph *g, int node_index, char *buf, size_t size);

/* Attribute lookup.  fc_attr_find returns NULL when absent.  The typed
 * getters store the default when the attribute is absent, and fail with
 * FC_ERR_PARSE (naming the node and attribute) when it has the wrong type.
 * Arrays returned point into the graph (owned by it). */
const fc_attr *fc_attr_find(const fc_node *n, const char *name);
fc_status fc_attr_get_int(const fc_node *n, const char *name, int64_t dflt,
                          int64_t *out, fc_err *err);
fc_status fc_attr_get_float(const fc_node *n, const char *name, float dflt,
                            float *out, fc_err *err);
fc_status fc_attr_get_string(const fc_node *n, const char *name, const char *dflt,
                             const char **out, fc_err *err);
/* INTS / FLOATS: *count = 0 and *out = NULL when absent. */
fc_status fc_attr_get_ints(const fc_node *n, const char *name,
                           const int64_t **out, size_t *count, fc_err *err);
fc_status fc_attr_get_floats(const fc_node *n, const char *name,
                             const float **out, size_t *count, fc_err *err);

/* Index of the value with that name, or -1. Linear scan: for tests and CLI. */
int fc_graph_find_value(const fc_graph *g, const char *name);

/* Whether an image's output can depend on the other images of its batch
 * (dynamic quantization: one activation scale over the whole batch).  *why
 * (may be NULL) gets a one-line reason, "" when not. */
bool fc_graph_batch_dependent(const fc_graph *g, const char **why);

/* ---- rewriting graphs ---------------------------------------------------
 * For graph rewrites done on a private copy (the QDQ fusion of the q8
 * engines, fc_qdq.c).  A loaded graph is never edited: clone it first. */

/* Deep copy of g: every string, attribute and tensor is duplicated, value
 * and node indices stay the same.  On success *out is owned by the caller
 * (fc_graph_free). */
fc_status fc_graph_clone(const fc_graph *g, fc_graph **out, fc_err *err);

/* Writes into buf a value name that g does not use yet: `base`, or
 * `base_1`, `base_2`, ... (linear scans: meant for a handful of new values). */
const char *fc_graph_unique_name(const fc_graph *g, const char *base, char *buf, size_t size);

/* Appends a value called `name` (FC_ERR_INVALID_ARG if it exists).  When
 * init is non-NULL the value becomes an initializer and the graph takes the
 * tensor over (*init is reset to empty, also on failure it is released). */
fc_status fc_graph_add_value(fc_graph *g, const char *name, fc_tensor *init, int *index,
                             fc_err *err);

/* Replaces node n's op type and domain ("" or "com.microsoft") and opset. */
fc_status fc_node_set_op(fc_node *n, const char *op_type, const char *domain, int64_t opset,
                         fc_err *err);
/* Replaces node n's input and output lists (copied; -1 = omitted).  The
 * caller keeps the node list topologically sorted and calls
 * fc_graph_update_producers when outputs moved. */
fc_status fc_node_set_io(fc_node *n, const int *inputs, int n_inputs, const int *outputs,
                         int n_outputs, fc_err *err);
/* Removes attribute `name` from n if present. */
void fc_node_remove_attr(fc_node *n, const char *name);

/* Drops every node i with remove[i] (the order of the others is kept, so a
 * sorted graph stays sorted) and recomputes the producers. */
fc_status fc_graph_remove_nodes(fc_graph *g, const bool *remove, fc_err *err);
/* Recomputes values[v].producer from the node list. */
void fc_graph_update_producers(fc_graph *g);

#endif
