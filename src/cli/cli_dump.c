/* infer --dump-layers DIR: every tensor an engine computes, as .npy, with
 * an index.json saying what each is (cli_compare.h has the format). */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_compare.h"
#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "core/fc_npy.h"

struct cli_dump {
    char dir[1024];
    const fc_graph *orig;
    fc_engine *e;
    cJSON *index;
    unsigned char *seen;   /* per value of the engine's graph */
    int n_seen;
    int count;
};

/* Where the output scale and zero point of an 8-bit producing op sit. */
static const struct {
    const char *op;
    int scale, zp;
} qout[] = {
    {"QLinearConv", 6, 7},        {"QLinearMatMul", 6, 7},       {"QGemm", 7, 8},
    {"QLinearAdd", 6, 7},         {"QLinearGlobalAveragePool", 3, 4},
    {"QLinearAveragePool", 3, 4}, {"QLinearConcat", 0, 1},       {"QuantizeLinear", 1, 2},
};
/* Ops that move 8-bit values without changing their quantization. */
static const char *const passthrough[] = {"MaxPool", "Flatten", "Reshape", "Transpose",
                                          "Squeeze", "Unsqueeze", "Gather"};

static bool const_scalar(const fc_graph *g, int v, double *out)
{
    if (v < 0 || v >= g->n_values || !g->values[v].init || g->values[v].init->numel != 1)
        return false;
    const fc_tensor *t = g->values[v].init;
    switch (t->dtype) {
    case FC_DT_F32: *out = *(const float *)t->data; return true;
    case FC_DT_U8: *out = *(const uint8_t *)t->data; return true;
    case FC_DT_I8: *out = *(const int8_t *)t->data; return true;
    default: return false;
    }
}

/* Scale and zero point of 8-bit value v, from its producer (following
 * pass-through ops back); false when not constant or unknown. */
static bool quant_of(const fc_graph *g, int v, double *scale, double *zp, int depth)
{
    int p = v >= 0 ? g->values[v].producer : -1;
    if (p < 0 || depth > 64)
        return false;
    const fc_node *n = &g->nodes[p];
    for (size_t i = 0; i < sizeof qout / sizeof qout[0]; i++)
        if (!strcmp(n->op_type, qout[i].op)) {
            int si = qout[i].scale < n->n_inputs ? n->inputs[qout[i].scale] : -1;
            int zi = qout[i].zp < n->n_inputs ? n->inputs[qout[i].zp] : -1;
            *zp = 0;
            return const_scalar(g, si, scale) && (zi < 0 || const_scalar(g, zi, zp));
        }
    for (size_t i = 0; i < sizeof passthrough / sizeof passthrough[0]; i++)
        if (!strcmp(n->op_type, passthrough[i]) && n->n_inputs > 0)
            return quant_of(g, n->inputs[0], scale, zp, depth + 1);
    return false;
}

/* The float tensor an 8-bit value stands for: the input of the original
 * graph's QuantizeLinear that wrote it, else the name without ONNX
 * Runtime's "_quantized" suffix. */
static void stands_for(const cli_dump *d, const fc_graph *g, int v, char *buf, size_t size)
{
    buf[0] = '\0';
    if (v < d->orig->n_values && !strcmp(d->orig->values[v].name, g->values[v].name)) {
        int p = d->orig->values[v].producer;
        if (p >= 0 && !strcmp(d->orig->nodes[p].op_type, "QuantizeLinear") &&
            d->orig->nodes[p].n_inputs > 0 && d->orig->nodes[p].inputs[0] >= 0) {
            snprintf(buf, size, "%s", d->orig->values[d->orig->nodes[p].inputs[0]].name);
            return;
        }
    }
    const char *name = g->values[v].name;
    size_t n = strlen(name), s = strlen("_quantized");
    if (n > s && !strcmp(name + n - s, "_quantized"))
        snprintf(buf, size, "%.*s", (int)(n - s), name);
}

/* "0007_conv1_output.npy": a counter keeps names unique, the rest is the
 * tensor name with anything outside [A-Za-z0-9._-] replaced. */
static void file_name(int k, const char *name, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%04d_", k);
    for (const char *p = name; *p && (size_t)n + 5 < size && n < 100; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || (c == '.' && n > 5);
        buf[n++] = ok ? c : '_';
    }
    snprintf(buf + n, size - (size_t)n, ".npy");
}

static fc_status on_value(const fc_graph *g, int node, int v, const fc_tensor *t, void *user,
                          fc_err *err)
{
    cli_dump *d = user;
    if (v < d->n_seen && d->seen[v])
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%s: value '%s' computed twice: the model runs image by image (batch "
                          "fixed to 1); dump one image at a time", g->path, g->values[v].name);
    if (v < d->n_seen)
        d->seen[v] = 1;
    char file[128], path[1200];
    file_name(d->count++, g->values[v].name, file, sizeof file);
    snprintf(path, sizeof path, "%s/%s", d->dir, file);
    fc_status st = fc_npy_write(path, t, err);
    if (st)
        return st;
    cJSON *o = cJSON_CreateObject(), *shape = cJSON_CreateArray();
    if (!o || !shape) {
        cJSON_Delete(o);
        cJSON_Delete(shape);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory writing the dump index");
    }
    cJSON_AddItemToArray(d->index, o);
    cJSON_AddStringToObject(o, "name", g->values[v].name);
    cJSON_AddStringToObject(o, "node", g->nodes[node].name);
    cJSON_AddStringToObject(o, "op", g->nodes[node].op_type);
    cJSON_AddStringToObject(o, "dtype", fc_dtype_name(t->dtype));
    for (int i = 0; i < t->rank; i++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->dims[i]));
    cJSON_AddItemToObject(o, "shape", shape);
    cJSON_AddStringToObject(o, "file", file);
    double scale, zp;
    if ((t->dtype == FC_DT_U8 || t->dtype == FC_DT_I8) && quant_of(g, v, &scale, &zp, 0)) {
        cJSON_AddNumberToObject(o, "scale", scale);
        cJSON_AddNumberToObject(o, "zero_point", zp);
        char sf[512];
        stands_for(d, g, v, sf, sizeof sf);
        if (sf[0])
            cJSON_AddStringToObject(o, "stands_for", sf);
    }
    return FC_OK;
}

fc_status cli_dump_start(const char *dir, const fc_graph *orig, fc_engine *e, cli_dump **out,
                         fc_err *err)
{
    *out = NULL;
    fc_status st = fc_file_mkdirs(dir, err);
    if (st)
        return st;
    cli_dump *d = fc_calloc(1, sizeof *d);
    const fc_graph *g = fc_engine_graph(e);
    if (d) {
        d->n_seen = g->n_values;
        d->seen = fc_calloc(g->n_values ? (size_t)g->n_values : 1, 1);
        d->index = cJSON_CreateArray();
    }
    if (!d || !d->seen || !d->index) {
        if (d) {
            fc_free(d->seen);
            cJSON_Delete(d->index);
        }
        fc_free(d);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory starting the dump");
    }
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    d->orig = orig;
    d->e = e;
    fc_engine_set_observer(e, on_value, d);
    *out = d;
    return FC_OK;
}

fc_status cli_dump_finish(cli_dump *d, bool ok, fc_err *err)
{
    if (!d)
        return FC_OK;
    fc_engine_set_observer(d->e, NULL, NULL);
    fc_status st = FC_OK;
    if (ok) {
        char *text = cJSON_Print(d->index);
        char path[1200];
        snprintf(path, sizeof path, "%s/index.json", d->dir);
        st = text ? fc_file_write_atomic(path, text, strlen(text), err)
                  : fc_err_set(err, FC_ERR_NOMEM, "out of memory writing %s", path);
        fc_free(text);
    }
    cJSON_Delete(d->index);
    fc_free(d->seen);
    fc_free(d);
    return st;
}
