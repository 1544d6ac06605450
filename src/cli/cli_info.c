/* flipcheck info MODEL.onnx [--json]: what a model is and whether
 * flipcheck can run it (naming each op it cannot). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "core/fc_sha256.h"
#include "engines/fc_engine.h"
#include "onnx/fc_plan.h"

static const char usage[] =
    "usage: flipcheck info MODEL.onnx [--json]\n"
    "\n"
    "Prints the model's inputs and outputs with shapes (a symbolic batch shows\n"
    "as N), opset, producer, op histogram, parameter count, and whether each\n"
    "engine supports every op (naming the ones it does not).  Shapes are\n"
    "checked by running shape inference at batch 1 and 2.\n"
    "\n"
    "options:\n"
    "  --json   print one JSON object instead of text\n";

typedef struct op_count {
    const char *domain;
    const char *op;
    long count;
    bool known;          /* in the op table (shape inference exists) */
} op_count;

typedef struct info {
    const fc_graph *g;
    op_count *ops;
    int n_ops;
    size_t params, param_bytes;
    fc_plan *p1, *p2;    /* probes at batch 1 and 2; NULL if inference failed */
    fc_err probe_err;
    bool all_supported;
    /* int8: what the int8 engines make of the model */
    bool quantized;           /* any quantize/dequantize or integer op */
    int fused;                /* QDQ groups fused into integer ops, -1 if the engine failed */
    int islands;              /* float ops left between DequantizeLinear and QuantizeLinear */
    char island_ops[256];
    bool batch_dependent;
    const char *batch_why;
    char sha256[65];          /* of the file, "" when it could not be read again */
} info;

/* Ops whose presence makes a model an int8 model. */
static bool is_quant_op(const char *op)
{
    static const char *const ops[] = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                                      "QLinearConv",    "QLinearMatMul",    "MatMulInteger",
                                      "ConvInteger",    "QGemm",            "QLinearAdd"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(op, ops[i]))
            return true;
    return false;
}

static void gather_int8(info *in)
{
    const fc_graph *g = in->g;
    for (int i = 0; i < g->n_nodes; i++)
        in->quantized = in->quantized || is_quant_op(g->nodes[i].op_type);
    in->batch_dependent = fc_graph_batch_dependent(g, &in->batch_why);
    in->fused = -1;
    fc_engine *e = NULL;
    fc_err err = {0};
    if (in->quantized && !fc_engine_create(g, "q8-ref", &e, &err)) {
        in->fused = fc_engine_qdq_fused(e);
        in->islands = fc_engine_float_islands(e, in->island_ops, sizeof in->island_ops);
        fc_engine_free(e);
    }
}

static int cmp_ops(const void *a, const void *b)
{
    const op_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int d = strcmp(x->domain, y->domain);
    return d ? d : strcmp(x->op, y->op);
}

static bool gather(info *in)
{
    const fc_graph *g = in->g;
    in->ops = fc_calloc(g->n_nodes ? (size_t)g->n_nodes : 1, sizeof *in->ops);
    if (!in->ops)
        return false;
    for (int i = 0; i < g->n_nodes; i++) {
        const fc_node *n = &g->nodes[i];
        int k = 0;
        while (k < in->n_ops && (strcmp(in->ops[k].op, n->op_type) ||
                                 strcmp(in->ops[k].domain, n->domain)))
            k++;
        if (k == in->n_ops) {
            in->ops[k].domain = n->domain;
            in->ops[k].op = n->op_type;
            in->ops[k].known = fc_op_find(n->domain, n->op_type) != NULL;
            in->n_ops++;
        }
        in->ops[k].count++;
    }
    qsort(in->ops, (size_t)in->n_ops, sizeof *in->ops, cmp_ops);
    /* Parameters: every element of every initializer and Constant node
     * (shape constants are a handful of elements; not worth guessing). */
    for (int v = 0; v < g->n_values; v++) {
        const fc_tensor *t = g->values[v].init;
        if (t) {
            in->params += t->numel;
            in->param_bytes += fc_tensor_bytes(t);
        }
    }
    gather_int8(in);
    /* Supported: every engine of the model's kind runs every op (an int8
     * model is for the int8 engines; the fp32 ones lack QuantizeLinear). */
    in->all_supported = true;
    for (int k = 0; k < in->n_ops; k++) {
        if (!in->ops[k].known)
            in->all_supported = false;
        for (const char *const *e = fc_engine_kinds(); *e; e++)
            if ((!in->quantized || !strncmp(*e, "q8", 2)) &&
                !fc_engine_supports_op(*e, in->ops[k].domain, in->ops[k].op))
                in->all_supported = false;
    }
    fc_err_clear(&in->probe_err);
    fc_status st = fc_plan_create_probe(g, 1, &in->p1, &in->probe_err);
    if (!st)
        st = fc_plan_create_probe(g, 2, &in->p2, &in->probe_err);
    if (st) {
        in->probe_err.status = st;
        fc_plan_free(in->p1);
        in->p1 = NULL;
        in->all_supported = false;
    }
    return true;
}

static void op_key(const op_count *o, char *buf, size_t size)
{
    if (o->domain[0])
        snprintf(buf, size, "%s:%s", cli_tty(o->domain), cli_tty(o->op));
    else
        snprintf(buf, size, "%s", cli_tty(o->op));
}

/* The shape of value v as inference found it: axes that differ between the
 * batch-1 and batch-2 probes are the batch (N).  Falls back to the declared
 * shape when inference failed. */
static fc_value inferred(const info *in, int v)
{
    fc_value out = in->g->values[v];
    if (!in->p1 || !in->p2)
        return out;
    const fc_vinfo *a = &in->p1->vals[v], *b = &in->p2->vals[v];
    out.dtype = a->dtype;
    out.rank = a->rank;
    for (int i = 0; i < a->rank; i++)
        out.dims[i] = (b->rank == a->rank && a->dims[i] == b->dims[i]) ? a->dims[i] : -1;
    return out;
}

static void print_text(const info *in, const char *path)
{
    const fc_graph *g = in->g;
    char buf[256];
    printf("model: %s\n", cli_tty(path));
    printf("sha256: %s\n", in->sha256[0] ? in->sha256 : "(unreadable)");
    printf("producer: %s, ir_version %lld, opset %lld\n", g->producer[0] ? cli_tty(g->producer) : "unknown",
           (long long)g->ir_version, (long long)g->opset);
    printf("inputs:\n");
    for (int i = 0; i < g->n_inputs; i++) {
        const fc_value *v = &g->values[g->inputs[i]];
        printf("  %s %s %s\n", cli_tty(v->name), fc_dtype_name(v->dtype),
               cli_value_shape_str(v, buf, sizeof buf));
    }
    printf("outputs:\n");
    for (int i = 0; i < g->n_outputs; i++) {
        fc_value v = inferred(in, g->outputs[i]);
        printf("  %s %s %s\n", cli_tty(v.name), fc_dtype_name(v.dtype),
               cli_value_shape_str(&v, buf, sizeof buf));
    }
    printf("ops (%d nodes):", g->n_nodes);
    for (int k = 0; k < in->n_ops; k++) {
        op_key(&in->ops[k], buf, sizeof buf);
        printf("%s %s %ld", k ? "," : "", buf, in->ops[k].count);
    }
    printf("\nparameters: %zu (%zu bytes)\n", in->params, in->param_bytes);
    if (in->p1)
        printf("shape check (batch 1 and 2): ok\n");
    else
        printf("shape check (batch 1 and 2): %s: %s\n", fc_status_name(in->probe_err.status),
               cli_tty(cli_strip_file(in->probe_err.msg, path)));
    int unknown = 0;
    for (int k = 0; k < in->n_ops; k++)
        if (!in->ops[k].known) {
            op_key(&in->ops[k], buf, sizeof buf);
            printf("%s%s", unknown++ ? ", " : "ops flipcheck does not support: ", buf);
        }
    if (unknown)
        printf("\n");
    for (const char *const *e = fc_engine_kinds(); *e; e++) {
        printf("engine %s: ", *e);
        int missing = 0;
        for (int k = 0; k < in->n_ops; k++)
            if (!fc_engine_supports_op(*e, in->ops[k].domain, in->ops[k].op)) {
                op_key(&in->ops[k], buf, sizeof buf);
                printf("%s%s", missing++ ? ", " : "not supported: ", buf);
            }
        printf("%s\n", missing ? "" : "supported");
    }
    printf("supported: %s%s\n", in->all_supported ? "yes" : "no",
           in->quantized ? " (int8 model: on the int8 engines)" : "");
    if (in->quantized) {
        if (in->fused >= 0)
            printf("int8: %d QDQ group%s fused into integer ops; float islands: %s\n", in->fused,
                   in->fused == 1 ? "" : "s", in->islands > 0 ? cli_tty(in->island_ops) : "none");
        printf("batch dependence: %s\n", in->batch_dependent ? cli_tty(in->batch_why) : "none");
    }
}

/* cJSON_Add* return NULL when out of memory; every call is checked
 * through this so a failure anywhere becomes one error. */
#define J(expr) do { if (!(expr)) goto nomem; } while (0)

static cJSON *unsupported_list(const info *in, const char *engine)
{
    cJSON *arr = cJSON_CreateArray();
    char key[256];
    for (int k = 0; arr && k < in->n_ops; k++) {
        bool ok = engine ? fc_engine_supports_op(engine, in->ops[k].domain, in->ops[k].op)
                         : in->ops[k].known;
        if (ok)
            continue;
        op_key(&in->ops[k], key, sizeof key);
        cJSON *s = cJSON_CreateString(key);
        if (!cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *values_json(const info *in, const int *idx, int n, bool use_inferred)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (int i = 0; i < n; i++) {
        fc_value v = use_inferred ? inferred(in, idx[i]) : in->g->values[idx[i]];
        cJSON *o = cJSON_CreateObject();
        if (!cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            goto nomem;
        }
        J(cJSON_AddStringToObject(o, "name", v.name));
        J(cJSON_AddStringToObject(o, "dtype", fc_dtype_name(v.dtype)));
        cJSON *shape = cli_value_shape_json(&v);
        if (!cJSON_AddItemToObject(o, "shape", shape)) {
            cJSON_Delete(shape);
            goto nomem;
        }
    }
    return arr;
nomem:
    cJSON_Delete(arr);
    return NULL;
}

static bool add_item(cJSON *obj, const char *key, cJSON *item)
{
    if (item && cJSON_AddItemToObject(obj, key, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static bool print_json(const info *in, const char *path)
{
    const fc_graph *g = in->g;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return false;
    J(cJSON_AddStringToObject(root, "model", path));
    J(cJSON_AddStringToObject(root, "graph_name", g->name ? g->name : ""));
    J(cJSON_AddStringToObject(root, "producer", g->producer ? g->producer : ""));
    J(cJSON_AddNumberToObject(root, "ir_version", (double)g->ir_version));
    J(cJSON_AddNumberToObject(root, "opset", (double)g->opset));
    J(add_item(root, "inputs", values_json(in, g->inputs, g->n_inputs, false)));
    J(add_item(root, "outputs", values_json(in, g->outputs, g->n_outputs, true)));
    J(cJSON_AddNumberToObject(root, "nodes", g->n_nodes));
    cJSON *ops = cJSON_AddObjectToObject(root, "ops");
    J(ops);
    for (int k = 0; k < in->n_ops; k++) {
        char key[256];
        op_key(&in->ops[k], key, sizeof key);
        J(cJSON_AddNumberToObject(ops, key, (double)in->ops[k].count));
    }
    J(cJSON_AddNumberToObject(root, "parameters", (double)in->params));
    J(cJSON_AddNumberToObject(root, "parameter_bytes", (double)in->param_bytes));
    cJSON *sc = cJSON_AddObjectToObject(root, "shape_check");
    J(sc);
    J(cJSON_AddBoolToObject(sc, "ok", in->p1 != NULL));
    if (!in->p1) {
        J(cJSON_AddStringToObject(sc, "status", fc_status_name(in->probe_err.status)));
        J(cJSON_AddStringToObject(sc, "error", in->probe_err.msg));
    }
    cJSON *engines = cJSON_AddObjectToObject(root, "engines");
    J(engines);
    for (const char *const *e = fc_engine_kinds(); *e; e++) {
        cJSON *eo = cJSON_AddObjectToObject(engines, *e);
        J(eo);
        cJSON *list = unsupported_list(in, *e);
        J(list);
        J(cJSON_AddBoolToObject(eo, "supported", cJSON_GetArraySize(list) == 0));
        J(add_item(eo, "unsupported_ops", list));
    }
    J(add_item(root, "unsupported_ops", unsupported_list(in, NULL)));
    J(cJSON_AddBoolToObject(root, "supported", in->all_supported));
    J(cJSON_AddStringToObject(root, "sha256", in->sha256));
    cJSON *q = cJSON_AddObjectToObject(root, "int8");
    J(q);
    J(cJSON_AddBoolToObject(q, "quantized", in->quantized));
    J(cJSON_AddNumberToObject(q, "qdq_groups_fused", in->fused));
    J(cJSON_AddNumberToObject(q, "float_island_nodes", in->islands));
    J(cJSON_AddStringToObject(q, "float_island_ops", in->island_ops));
    J(cJSON_AddBoolToObject(q, "batch_dependent", in->batch_dependent));
    J(cJSON_AddStringToObject(q, "batch_dependence", in->batch_why));
    bool ok = cli_print_json(root);
    cJSON_Delete(root);
    return ok;
nomem:
    cJSON_Delete(root);
    return false;
}

int cli_info_main(int argc, char **argv)
{
    static const cli_opt opts[] = {{"--json", false}};
    cli_parser p;
    cli_parser_init(&p, "info", argc, argv, opts, 1);
    const char *model = NULL, *val;
    bool json = false;
    for (int k; (k = cli_next(&p, &val)) != CLI_ARG_END;) {
        if (k == CLI_ARG_ERR)
            return CLI_EXIT_USAGE;
        if (k == CLI_ARG_HELP) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (k == 0)
            json = true;
        else if (model)
            return cli_usage_error("info", "unexpected argument '%s' (one MODEL.onnx)", val);
        else
            model = val;
    }
    if (!model)
        return cli_usage_error("info", "missing MODEL.onnx");

    fc_graph *g = NULL;
    if (!cli_load_model(model, &g))
        return CLI_EXIT_USAGE;
    info in;
    memset(&in, 0, sizeof in);
    in.g = g;
    fc_sha256_file(model, in.sha256, NULL);
    bool ok = gather(&in) && (json ? print_json(&in, model) : (print_text(&in, model), true));
    fc_plan_free(in.p1);
    fc_plan_free(in.p2);
    fc_free(in.ops);
    fc_graph_free(g);
    if (!ok) {
        fc_err err;
        fc_err_set(&err, FC_ERR_NOMEM, "out of memory describing the model");
        return cli_report(model, &err);
    }
    return CLI_EXIT_OK;
}
