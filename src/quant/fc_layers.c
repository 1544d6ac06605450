/* Per-layer fp32 vs int8 comparison (see fc_layers.h).
 *
 * Each chunk of images runs twice: first on the int8 engine, whose
 * observer copies every paired 8-bit activation into the pair's buffer
 * (one byte per element, the cheaper side to keep), then on the fp32
 * engine, whose observer dequantizes the stored bytes as the matching
 * float activation arrives and adds to the pair's sums.  Observed tensors
 * are appended in call order, so models run image by image (batch fixed to
 * 1) line up with batched ones element for element. */
#include "fc_layers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "engines/fc_engine.h"

#define DEFAULT_BATCH 64
#define QDQ_INPUT_SUFFIX "_QuantizeLinear_Input"
#define QOP_SUFFIX "_quantized"

typedef struct pair {
    int qv, fv;               /* value in the int8 engine's graph, in the fp32 graph */
    int next;                 /* next pair reading the same fp32 value, -1 */
    float scale;
    int32_t zp, qmin, qmax;
    fc_dtype qt;
    uint8_t *buf;             /* this chunk's 8-bit values */
    size_t cap, qlen, flen;   /* bytes held, stored, consumed by the fp32 side */
    char why[200];            /* non-empty: left out, and why */
    double sx2, se2, sxd, sd2, max_abs;
    int64_t count, sat;
} pair;

typedef struct cmp {
    const fc_graph *fg;       /* fp32 */
    const fc_graph *qg;       /* int8, as loaded (finds the QuantizeLinear of a value) */
    const fc_graph *ug;       /* int8, as the engine runs it (fused) */
    int *qscale, *qzp;        /* per ug value: its scale/zero-point value, -2 = not 8-bit */
    int *by_qv;               /* per ug value: pair index or -1 */
    int *by_fv;               /* per fg value: first pair or -1 */
    int *readers, *reader;    /* per fg value: reader count, and one reader */
    pair *pairs;
    int n_pairs;
    fc_layer_unpaired *unp;
    int n_unp;
} cmp;

static bool is_op(const fc_node *n, const char *op)
{
    return (n->domain[0] == '\0' || strcmp(n->domain, "com.microsoft") == 0) &&
           strcmp(n->op_type, op) == 0;
}

static int in_at(const fc_node *n, int i) { return i < n->n_inputs ? n->inputs[i] : -1; }

/* ---- which values are 8-bit, with which parameters -------------------- */

/* Integer ops and the inputs holding their output scale and zero point. */
static const struct { const char *op; int scale, zp; } qlinear_ops[] = {
    {"QuantizeLinear", 1, 2},          {"QLinearConv", 6, 7},
    {"QLinearMatMul", 6, 7},           {"QGemm", 7, 8},
    {"QLinearAdd", 6, 7},              {"QLinearMul", 6, 7},
    {"QLinearGlobalAveragePool", 3, 4}, {"QLinearAveragePool", 3, 4},
    {"QLinearConcat", 0, 1},           {"QLinearSigmoid", 3, 4},
    {"QLinearLeakyRelu", 3, 4},
};

/* Ops that move 8-bit values without changing what they mean. */
static const char *const passthrough_ops[] = {"MaxPool", "Flatten", "Reshape", "Transpose",
                                              "Squeeze", "Unsqueeze", "Gather", "Identity"};

static void find_8bit_values(cmp *c)
{
    const fc_graph *g = c->ug;
    for (int v = 0; v < g->n_values; v++)
        c->qscale[v] = c->qzp[v] = -2;
    for (int i = 0; i < g->n_nodes; i++) {
        const fc_node *n = &g->nodes[i];
        int y = n->n_outputs > 0 ? n->outputs[0] : -1;
        if (y < 0)
            continue;
        for (size_t k = 0; k < sizeof qlinear_ops / sizeof qlinear_ops[0]; k++)
            if (is_op(n, qlinear_ops[k].op) && in_at(n, qlinear_ops[k].scale) >= 0) {
                c->qscale[y] = in_at(n, qlinear_ops[k].scale);
                c->qzp[y] = in_at(n, qlinear_ops[k].zp);
            }
        int x = in_at(n, 0);
        for (size_t k = 0; k < sizeof passthrough_ops / sizeof passthrough_ops[0]; k++)
            if (x >= 0 && c->qscale[x] != -2 && is_op(n, passthrough_ops[k])) {
                c->qscale[y] = c->qscale[x];
                c->qzp[y] = c->qzp[x];
            }
    }
}

/* Constant per-tensor scale and zero point of 8-bit value v into p, or a
 * reason in p->why. */
static void read_params(const cmp *c, int v, pair *p)
{
    const fc_tensor *s = c->ug->values[c->qscale[v]].init;
    const fc_tensor *z = c->qzp[v] >= 0 ? c->ug->values[c->qzp[v]].init : NULL;
    if (!s || s->dtype != FC_DT_F32 || s->numel != 1 || (c->qzp[v] >= 0 && (!z || z->numel != 1))) {
        snprintf(p->why, sizeof p->why, "its scale or zero point is not a per-tensor constant");
        return;
    }
    p->scale = ((const float *)s->data)[0];
    p->qt = z ? z->dtype : FC_DT_U8;
    if (p->qt == FC_DT_U8) {
        p->zp = z ? ((const uint8_t *)z->data)[0] : 0;
        p->qmin = 0;
        p->qmax = 255;
    } else if (p->qt == FC_DT_I8) {
        p->zp = ((const int8_t *)z->data)[0];
        p->qmin = -128;
        p->qmax = 127;
    } else {
        snprintf(p->why, sizeof p->why, "its zero point is %s, not an 8-bit type",
                 fc_dtype_name(p->qt));
    }
    if (!p->why[0] && !(p->scale > 0.0f && isfinite(p->scale)))
        snprintf(p->why, sizeof p->why, "its scale %g is not a positive number", p->scale);
}

/* ---- pairing with the fp32 model -------------------------------------- */

static bool strip_suffix(const char *name, const char *suffix, char *buf, size_t size)
{
    size_t n = strlen(name), k = strlen(suffix);
    if (n <= k || strcmp(name + n - k, suffix) != 0 || n - k >= size)
        return false;
    memcpy(buf, name, n - k);
    buf[n - k] = 0;
    return true;
}

/* When a quantizer renames a value to keep its name for the dequantized
 * result (graph outputs: x -> "x_QuantizeLinear_Input" or "x_f" -> Q ->
 * DQ -> x), the fp32 value is the one named after the DequantizeLinear
 * reading the Q's output `qv` (a value of the loaded int8 model). */
static int renamed_output(const cmp *c, int qv)
{
    const fc_graph *q = c->qg;
    for (int i = 0; i < q->n_nodes; i++) {
        const fc_node *n = &q->nodes[i];
        if (is_op(n, "DequantizeLinear") && n->n_inputs >= 1 && n->inputs[0] == qv &&
            n->n_outputs >= 1 && n->outputs[0] >= 0) {
            int fv = fc_graph_find_value(c->fg, q->values[n->outputs[0]].name);
            if (fv >= 0)
                return fv;
        }
    }
    return -1;
}

/* The fp32 value that 8-bit value v (a name in the int8 model) stands for,
 * or -1 with the reason in why. */
static int partner(const cmp *c, int v, char *why, size_t size)
{
    const char *name = c->ug->values[v].name;
    char base[512];
    int ov = fc_graph_find_value(c->qg, name);
    int p = ov >= 0 ? c->qg->values[ov].producer : -1;
    if (p >= 0 && is_op(&c->qg->nodes[p], "QuantizeLinear") && c->qg->nodes[p].inputs[0] >= 0) {
        const char *x = c->qg->values[c->qg->nodes[p].inputs[0]].name;
        int fv = fc_graph_find_value(c->fg, x);
        if (fv < 0 && strip_suffix(x, QDQ_INPUT_SUFFIX, base, sizeof base))
            fv = fc_graph_find_value(c->fg, base);
        if (fv < 0)
            fv = renamed_output(c, ov);
        if (fv < 0)
            snprintf(why, size, "its QuantizeLinear reads '%.150s', which the fp32 model does "
                     "not have", x);
        return fv;
    }
    int fv = fc_graph_find_value(c->fg, name);
    if (fv < 0 && strip_suffix(name, QOP_SUFFIX, base, sizeof base)) {
        fv = fc_graph_find_value(c->fg, base);
        /* ONNX Runtime folds a Relu/Clip after the op into its output range. */
        int r = fv >= 0 && c->readers[fv] == 1 ? c->reader[fv] : -1;
        if (r >= 0 && (is_op(&c->fg->nodes[r], "Relu") || is_op(&c->fg->nodes[r], "Clip")) &&
            c->fg->nodes[r].n_outputs >= 1 && c->fg->nodes[r].outputs[0] >= 0)
            fv = c->fg->nodes[r].outputs[0];
    }
    if (fv < 0)
        snprintf(why, size, "the fp32 model has no value '%.150s'%s", name,
                 strip_suffix(name, QOP_SUFFIX, base, sizeof base) ? " (nor without _quantized)"
                                                                   : "");
    return fv;
}

static fc_status add_unpaired(cmp *c, const char *qvalue, const char *why, fc_err *err)
{
    fc_layer_unpaired *u = fc_realloc(c->unp, ((size_t)c->n_unp + 1) * sizeof *u);
    if (!u)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory comparing layers");
    c->unp = u;
    u = &c->unp[c->n_unp];
    u->qvalue = fc_strdup(qvalue);
    u->reason = fc_strdup(why);
    if (!u->qvalue || !u->reason) {
        fc_free(u->qvalue);
        fc_free(u->reason);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory comparing layers");
    }
    c->n_unp++;
    return FC_OK;
}

static fc_status make_pairs(cmp *c, fc_err *err)
{
    const fc_graph *fg = c->fg, *ug = c->ug;
    for (int i = 0; i < fg->n_nodes; i++)
        for (int j = 0; j < fg->nodes[i].n_inputs; j++) {
            int v = fg->nodes[i].inputs[j];
            if (v >= 0) {
                c->readers[v]++;
                c->reader[v] = i;
            }
        }
    find_8bit_values(c);
    c->pairs = fc_calloc((size_t)(ug->n_values > 0 ? ug->n_values : 1), sizeof *c->pairs);
    if (!c->pairs)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory comparing layers");
    for (int v = 0; v < ug->n_values; v++)
        c->by_qv[v] = -1;
    for (int v = 0; v < fg->n_values; v++)
        c->by_fv[v] = -1;
    /* In node order, so equal SQNRs keep the graph's order. */
    for (int i = 0; i < ug->n_nodes; i++) {
        int v = ug->nodes[i].n_outputs > 0 ? ug->nodes[i].outputs[0] : -1;
        if (v < 0 || c->qscale[v] == -2)
            continue;
        pair *p = &c->pairs[c->n_pairs];
        memset(p, 0, sizeof *p);
        read_params(c, v, p);
        int fv = p->why[0] ? -1 : partner(c, v, p->why, sizeof p->why);
        if (fv >= 0 && !fg->values[fv].is_input && fg->values[fv].producer < 0)
            snprintf(p->why, sizeof p->why, "its fp32 value '%.150s' is a constant",
                     fg->values[fv].name);
        if (p->why[0]) {
            fc_status st = add_unpaired(c, ug->values[v].name, p->why, err);
            if (st)
                return st;
            continue;
        }
        p->qv = v;
        p->fv = fv;
        p->next = c->by_fv[fv];
        c->by_fv[fv] = c->n_pairs;
        c->by_qv[v] = c->n_pairs++;
    }
    return FC_OK;
}

/* ---- observing and accumulating ---------------------------------------- */

static fc_status on_q8(const fc_graph *g, int node, int value, const fc_tensor *t, void *user,
                       fc_err *err)
{
    (void)g;
    (void)node;
    cmp *c = user;
    int k = c->by_qv[value];
    if (k < 0)
        return FC_OK;
    pair *p = &c->pairs[k];
    if (p->why[0])
        return FC_OK;
    if (t->dtype != p->qt) {
        snprintf(p->why, sizeof p->why, "the engine computed it as %s, its zero point is %s",
                 fc_dtype_name(t->dtype), fc_dtype_name(p->qt));
        return FC_OK;
    }
    size_t need;
    if (!fc_add_size(p->qlen, t->numel, &need))
        return fc_err_set(err, FC_ERR_LIMIT, "layer '%s': too many values",
                          c->ug->values[value].name);
    if (need > p->cap) {
        size_t cap = p->cap * 2 > need ? p->cap * 2 : need;
        uint8_t *b = fc_realloc(p->buf, cap);
        if (!b)
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory keeping layer '%s'",
                              c->ug->values[value].name);
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->qlen, t->data, t->numel);
    p->qlen = need;
    return FC_OK;
}

static void accumulate(pair *p, const float *x, size_t n)
{
    if (p->why[0])
        return;
    if (n > p->qlen - p->flen) {
        snprintf(p->why, sizeof p->why, "its fp32 value has more elements than it (shapes "
                 "differ)");
        return;
    }
    const uint8_t *b = p->buf + p->flen;
    double lo = ((double)(p->qmin - p->zp) - 0.5) * p->scale;
    double hi = ((double)(p->qmax - p->zp) + 0.5) * p->scale;
    double sx2 = 0, se2 = 0, sxd = 0, sd2 = 0, mx = p->max_abs;
    int64_t sat = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t q = p->qt == FC_DT_U8 ? (int32_t)b[i] : (int32_t)(int8_t)b[i];
        /* In float, as DequantizeLinear computes it. */
        double d = (double)((float)(q - p->zp) * p->scale), xi = x[i], e = d - xi;
        sx2 += xi * xi;
        se2 += e * e;
        sxd += xi * d;
        sd2 += d * d;
        if (fabs(e) > mx)
            mx = fabs(e);
        sat += (q == p->qmin && xi < lo) || (q == p->qmax && xi > hi);
    }
    p->sx2 += sx2;
    p->se2 += se2;
    p->sxd += sxd;
    p->sd2 += sd2;
    p->max_abs = mx;
    p->sat += sat;
    p->count += (int64_t)n;
    p->flen += n;
}

static fc_status on_f32(const fc_graph *g, int node, int value, const fc_tensor *t, void *user,
                        fc_err *err)
{
    (void)g;
    (void)node;
    (void)err;
    cmp *c = user;
    for (int k = c->by_fv[value]; k >= 0; k = c->pairs[k].next) {
        if (t->dtype != FC_DT_F32) {
            snprintf(c->pairs[k].why, sizeof c->pairs[k].why, "its fp32 value is %s, not float",
                     fc_dtype_name(t->dtype));
            continue;
        }
        accumulate(&c->pairs[k], t->data, t->numel);
    }
    return FC_OK;
}

/* One chunk through both engines. */
static fc_status run_chunk(cmp *c, fc_engine *qe, fc_engine *fe, const fc_tensor *x, fc_err *err)
{
    fc_tensor qout[FC_MAX_NODE_IO], fout[FC_MAX_NODE_IO];
    int nq = c->ug->n_outputs, nf = c->fg->n_outputs;
    if (nq > FC_MAX_NODE_IO || nf > FC_MAX_NODE_IO)
        return fc_err_set(err, FC_ERR_LIMIT, "more than %d graph outputs", FC_MAX_NODE_IO);
    memset(qout, 0, sizeof qout);
    memset(fout, 0, sizeof fout);
    fc_status st = fc_engine_run(qe, x, 1, qout, nq, err);
    if (st)
        return st;
    for (int k = 0; k < nq; k++)
        fc_tensor_release(&qout[k]);
    /* The fp32 model's input is no node's output: feed its pairs here. */
    int in = c->fg->inputs[0];
    on_f32(c->fg, -1, in, x, c, err);
    if ((st = fc_engine_run(fe, x, 1, fout, nf, err)))
        return st;
    for (int k = 0; k < nf; k++)
        fc_tensor_release(&fout[k]);
    for (int k = 0; k < c->n_pairs; k++) {
        pair *p = &c->pairs[k];
        if (!p->why[0] && p->flen != p->qlen)
            snprintf(p->why, sizeof p->why, "%zu 8-bit values but %zu fp32 values per chunk "
                     "(shapes differ)", p->qlen, p->flen);
        p->qlen = p->flen = 0;
    }
    return FC_OK;
}

/* ---- the report ------------------------------------------------------- */

static const char *producer_op(const fc_graph *g, int v)
{
    int p = g->values[v].producer;
    return p >= 0 ? g->nodes[p].op_type : g->values[v].is_input ? "input" : "constant";
}

static void finish_stat(const pair *p, fc_layer_stat *s)
{
    s->scale = p->scale;
    s->zero_point = p->zp;
    s->qtype = p->qt;
    s->count = p->count;
    s->max_abs = p->max_abs;
    s->sqnr_db = p->se2 > 0 ? 10.0 * log10(p->sx2 / p->se2) : INFINITY;
    if (p->sx2 > 0 && p->sd2 > 0)
        s->cosine = p->sxd / sqrt(p->sx2 * p->sd2);
    else
        s->cosine = p->sx2 == p->sd2 ? 1.0 : 0.0;
    s->saturated = p->count ? (double)p->sat / (double)p->count : 0.0;
}

/* Worst first: NaN, then ascending SQNR; ties keep graph order. */
static int by_sqnr(const void *a, const void *b)
{
    const fc_layer_stat *x = a, *y = b;
    bool nx = isnan(x->sqnr_db), ny = isnan(y->sqnr_db);
    if (nx != ny)
        return nx ? -1 : 1;
    if (!nx && x->sqnr_db != y->sqnr_db)
        return x->sqnr_db < y->sqnr_db ? -1 : 1;
    return 0;
}

static fc_status build_report(cmp *c, fc_layer_report *out, fc_err *err)
{
    out->layers = fc_calloc((size_t)(c->n_pairs > 0 ? c->n_pairs : 1), sizeof *out->layers);
    if (!out->layers)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory comparing layers");
    for (int k = 0; k < c->n_pairs; k++) {
        pair *p = &c->pairs[k];
        if (!p->why[0] && p->count == 0)
            snprintf(p->why, sizeof p->why, "the engines never computed it");
        if (p->why[0]) {
            fc_status st = add_unpaired(c, c->ug->values[p->qv].name, p->why, err);
            if (st)
                return st;
            continue;
        }
        fc_layer_stat *s = &out->layers[out->n_layers++];
        int qp = c->ug->values[p->qv].producer;
        s->layer = fc_strdup(c->fg->values[p->fv].name);
        s->fp32_op = fc_strdup(producer_op(c->fg, p->fv));
        s->qvalue = fc_strdup(c->ug->values[p->qv].name);
        s->op = fc_strdup(qp >= 0 ? c->ug->nodes[qp].op_type : "?");
        if (!s->layer || !s->fp32_op || !s->qvalue || !s->op)
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory comparing layers");
        finish_stat(p, s);
    }
    /* qsort is not stable: the pairs are in graph order, so break ties by
     * position through a stable insertion sort instead (a few dozen rows). */
    for (int i = 1; i < out->n_layers; i++) {
        fc_layer_stat t = out->layers[i];
        int j = i;
        for (; j > 0 && by_sqnr(&t, &out->layers[j - 1]) < 0; j--)
            out->layers[j] = out->layers[j - 1];
        out->layers[j] = t;
    }
    out->unpaired = c->unp;
    out->n_unpaired = c->n_unp;
    c->unp = NULL;
    c->n_unp = 0;
    return FC_OK;
}

void fc_layer_report_free(fc_layer_report *r)
{
    if (!r)
        return;
    for (int i = 0; r->layers && i < r->n_layers; i++) {
        fc_free(r->layers[i].layer);
        fc_free(r->layers[i].fp32_op);
        fc_free(r->layers[i].qvalue);
        fc_free(r->layers[i].op);
    }
    for (int i = 0; r->unpaired && i < r->n_unpaired; i++) {
        fc_free(r->unpaired[i].qvalue);
        fc_free(r->unpaired[i].reason);
    }
    fc_free(r->layers);
    fc_free(r->unpaired);
    memset(r, 0, sizeof *r);
}

/* ---- entry point ------------------------------------------------------ */

static fc_status check_args(const fc_graph *fp32, const fc_graph *q8, const fc_tensor *input,
                            fc_err *err)
{
    const char *fpath = fp32->path ? fp32->path : "fp32 model";
    const char *qpath = q8->path ? q8->path : "int8 model";
    if (fp32->n_inputs != 1)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: has %d inputs; the layer comparison "
                          "needs a model with one", fpath, fp32->n_inputs);
    if (q8->n_inputs != 1)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: has %d inputs; the layer comparison "
                          "needs a model with one", qpath, q8->n_inputs);
    if (input->dtype != FC_DT_F32 || input->rank < 1 || input->dims[0] < 1 || !input->data)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "the input must be a float32 [N, ...] batch "
                          "with N > 0");
    return FC_OK;
}

static void cmp_free(cmp *c)
{
    for (int k = 0; c->pairs && k < c->n_pairs; k++)
        fc_free(c->pairs[k].buf);
    for (int i = 0; c->unp && i < c->n_unp; i++) {
        fc_free(c->unp[i].qvalue);
        fc_free(c->unp[i].reason);
    }
    fc_free(c->unp);
    fc_free(c->pairs);
    fc_free(c->qscale);
    fc_free(c->qzp);
    fc_free(c->by_qv);
    fc_free(c->by_fv);
    fc_free(c->readers);
    fc_free(c->reader);
}

fc_status fc_layer_compare(const fc_graph *fp32, const fc_graph *q8, const fc_tensor *input,
                           const fc_layer_opts *opts, fc_layer_report *out, fc_err *err)
{
    if (!out)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "fc_layer_compare: no output");
    memset(out, 0, sizeof *out);
    if (!fp32 || !q8 || !input)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "fc_layer_compare: missing argument");
    fc_status st = check_args(fp32, q8, input, err);
    if (st)
        return st;
    fc_layer_opts o = opts ? *opts : (fc_layer_opts){0};
    int64_t batch = o.batch > 0 ? o.batch : DEFAULT_BATCH;
    fc_engine *fe = NULL, *qe = NULL;
    cmp c = {.fg = fp32, .qg = q8};
    if ((st = fc_engine_create(fp32, o.f32_engine ? o.f32_engine : "f32", &fe, err)) ||
        (st = fc_engine_create(q8, o.q8_engine ? o.q8_engine : "q8-ref", &qe, err)))
        goto done;
    c.ug = fc_engine_graph(qe);
    size_t nu = (size_t)(c.ug->n_values > 0 ? c.ug->n_values : 1);
    size_t nf = (size_t)(fp32->n_values > 0 ? fp32->n_values : 1);
    c.qscale = fc_malloc(nu * sizeof *c.qscale);
    c.qzp = fc_malloc(nu * sizeof *c.qzp);
    c.by_qv = fc_malloc(nu * sizeof *c.by_qv);
    c.by_fv = fc_malloc(nf * sizeof *c.by_fv);
    c.readers = fc_calloc(nf, sizeof *c.readers);
    c.reader = fc_calloc(nf, sizeof *c.reader);
    if (!c.qscale || !c.qzp || !c.by_qv || !c.by_fv || !c.readers || !c.reader) {
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory comparing layers");
        goto done;
    }
    if ((st = make_pairs(&c, err)))
        goto done;
    if (c.n_pairs == 0) {
        st = fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no 8-bit activation with a constant scale "
                        "pairs with a value of %s%s%s%s", q8->path ? q8->path : "int8 model",
                        fp32->path ? fp32->path : "the fp32 model",
                        c.n_unp ? " (first: '" : " (dynamic quantization is not compared)",
                        c.n_unp ? c.unp[0].qvalue : "", c.n_unp ? "')" : "");
        goto done;
    }
    fc_engine_set_observer(qe, on_q8, &c);
    fc_engine_set_observer(fe, on_f32, &c);
    size_t per = input->numel / (size_t)input->dims[0];
    for (int64_t s = 0; s < input->dims[0] && !st; s += batch) {
        int64_t cnt = input->dims[0] - s < batch ? input->dims[0] - s : batch;
        fc_tensor view = *input;
        view.dims[0] = cnt;
        view.numel = per * (size_t)cnt;
        view.owns_data = false;
        view.data = (float *)input->data + (size_t)s * per;
        st = run_chunk(&c, qe, fe, &view, err);
    }
    if (!st)
        st = build_report(&c, out, err);
    out->n_images = input->dims[0];
done:
    if (st)
        fc_layer_report_free(out);
    cmp_free(&c);
    fc_engine_free(qe);
    fc_engine_free(fe);
    return st;
}
