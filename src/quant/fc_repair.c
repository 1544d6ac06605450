/* Mixed-precision repair (see fc_repair.h). */
#include "fc_repair.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "core/fc_alloc.h"
#include "engines/fc_engine.h"
#include "fc_layers.h"
#include "fc_qplan.h"

static const char *gname(const fc_graph *g) { return g->path ? g->path : "model"; }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int64_t argmax_ok(const float *row, int64_t n)
{
    int64_t best = 0;
    for (int64_t k = 0; k < n; k++) {
        if (!isfinite(row[k]))
            return -1;
        if (row[k] > row[best])
            best = k;
    }
    return best;
}

fc_status fc_repair_accuracy(const fc_graph *g, const char *kind, const fc_tensor *x,
                             const int64_t *labels, int64_t batch, double *acc, fc_err *err)
{
    *acc = 0.0;
    if (batch <= 0)
        batch = 64;
    if (x->rank < 1 || x->dims[0] < 1 || g->n_outputs < 1)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: no inputs to measure accuracy on",
                          gname(g));
    fc_engine *e = NULL;
    fc_status st = fc_engine_create(g, kind, &e, err);
    fc_tensor *outs = st ? NULL : fc_calloc((size_t)g->n_outputs, sizeof *outs);
    if (!st && !outs)
        st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory measuring accuracy", gname(g));
    int64_t n = x->dims[0], right = 0;
    size_t per = x->numel / (size_t)n;
    for (int64_t b = 0; !st && b < n; b += batch) {
        int64_t cnt = n - b < batch ? n - b : batch;
        fc_tensor view = *x;
        view.dims[0] = cnt;
        view.numel = per * (size_t)cnt;
        view.owns_data = false;
        view.data = (float *)x->data + (size_t)b * per;
        if ((st = fc_engine_run(e, &view, 1, outs, g->n_outputs, err)))
            break;
        const fc_tensor *y = &outs[0];
        if (y->dtype != FC_DT_F32 || y->rank < 1 || y->dims[0] != cnt || y->numel == 0 ||
            y->numel % (size_t)cnt)
            st = fc_err_set(err, FC_ERR_SHAPE, "%s: first output is not float scores [N, classes]",
                            gname(g));
        int64_t classes = st ? 0 : (int64_t)(y->numel / (size_t)cnt);
        for (int64_t i = 0; !st && i < cnt; i++)
            right += argmax_ok((const float *)y->data + i * classes, classes) == labels[b + i];
        for (int k = 0; k < g->n_outputs; k++)
            fc_tensor_release(&outs[k]);
    }
    fc_free(outs);
    fc_engine_free(e);
    if (!st)
        *acc = (double)right / (double)n;
    return st;
}

/* Quantizes with the current keep list on the shared statistics.  *empty:
 * the list left nothing to quantize (no model, not an error). */
static fc_status build_step(const fc_graph *g, const fc_qplan_stats *s, const fc_quant_options *q,
                            fc_graph **out, fc_quant_summary *sum, bool *empty, fc_err *err)
{
    fc_qplan p;
    fc_status st = fc_qplan_build_with(&p, g, s, q, err);
    *empty = st == FC_ERR_UNSUPPORTED && p.role && p.sum.quantized_ops == 0;
    if (*empty)
        st = FC_OK;
    else if (!st)
        st = fc_qplan_rewrite(&p, out, err);
    if (!st)
        *sum = p.sum;
    fc_qplan_free(&p);
    return st;
}

typedef struct repair_ctx {
    const fc_graph *g;
    const fc_tensor *x;
    const int64_t *labels;
    const fc_repair_opts *o;
    const char *engine;
    fc_qplan_stats s;
    const char **names;       /* keep list: the caller's, then the result's kept[] */
    int n_names;
} repair_ctx;

/* One step: build with the current list, measure, record in r->steps[k].
 * *empty: nothing was left to quantize (the step is not recorded). */
static fc_status run_step(repair_ctx *c, fc_repair_result *r, int k, fc_graph **model,
                          bool *empty, fc_err *err)
{
    double t0 = now();
    fc_quant_options q = c->o->quant;
    q.keep_float = c->names;
    q.n_keep_float = c->n_names;
    fc_quant_summary sum;
    fc_status st = build_step(c->g, &c->s, &q, model, &sum, empty, err);
    if (st || *empty)
        return st;
    fc_repair_step *s = &r->steps[k];
    if ((st = fc_repair_accuracy(*model, c->engine, c->x, c->labels, q.batch, &s->accuracy,
                                 err)))
        return st;
    s->drop = r->fp32_accuracy - s->accuracy;
    s->seconds = now() - t0;
    r->summary = sum;
    r->n_steps = k + 1;
    if (c->o->progress)
        c->o->progress(s, k, c->o->user);
    return FC_OK;
}

/* Layers of the full-int8 model worst first; the ones already kept by the
 * caller are not offered again. */
static fc_status rank(repair_ctx *c, const fc_graph *q8, fc_layer_report *rep, fc_err *err)
{
    fc_layer_opts lo = {.batch = c->o->quant.batch, .f32_engine = "f32", .q8_engine = c->engine};
    return fc_layer_compare(c->g, q8, c->x, &lo, rep, err);
}

static double noise_of(double sqnr_db)
{
    return isfinite(sqnr_db) ? pow(10.0, -sqnr_db / 10.0) : sqnr_db > 0 ? 0.0 : 1.0;
}

/* score[l] for each layer of rep: its ADDED_NOISE (fc_repair.h).  Walks
 * the fp32 graph in node order (ONNX's topological order) carrying per
 * value the relative error of the nearest layers upstream. */
static fc_status added_noise(const fc_graph *g, const fc_layer_report *rep, double *score,
                             fc_err *err)
{
    size_t nv = g->n_values > 0 ? (size_t)g->n_values : 1;
    double *noise = fc_calloc(nv, sizeof *noise);
    int *layer_of = fc_malloc(nv * sizeof *layer_of);
    if (!noise || !layer_of) {
        fc_free(noise);
        fc_free(layer_of);
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory ranking layers", gname(g));
    }
    for (int v = 0; v < g->n_values; v++)
        layer_of[v] = -1;
    for (int l = 0; l < rep->n_layers; l++) {
        int v = fc_graph_find_value(g, rep->layers[l].layer);
        score[l] = 0.0;
        if (v >= 0) {
            layer_of[v] = l;
            noise[v] = noise_of(rep->layers[l].sqnr_db);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const fc_node *n = &g->nodes[i];
        double in = 0.0;
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] >= 0 && noise[n->inputs[j]] > in)
                in = noise[n->inputs[j]];
        for (int j = 0; j < n->n_outputs; j++) {
            int v = n->outputs[j];
            if (v < 0)
                continue;
            if (layer_of[v] >= 0)
                score[layer_of[v]] = noise[v] - in;
            else
                noise[v] = in;
        }
    }
    fc_free(noise);
    fc_free(layer_of);
    return FC_OK;
}

/* order[]: rep's layer indices, most sensitive first under c->o->rank. */
static fc_status rank_order(const repair_ctx *c, const fc_layer_report *rep, int *order,
                            double *score, fc_err *err)
{
    for (int l = 0; l < rep->n_layers; l++)
        order[l] = l;   /* rep is lowest SQNR first already */
    fc_status st = added_noise(c->g, rep, score, err);
    if (st || c->o->rank == FC_REPAIR_RANK_SQNR)
        return st;
    /* Insertion sort, stable: ties keep the SQNR order; few layers. */
    for (int a = 1; a < rep->n_layers; a++) {
        int x = order[a], b = a;
        for (; b > 0 && score[order[b - 1]] < score[x]; b--)
            order[b] = order[b - 1];
        order[b] = x;
    }
    return FC_OK;
}

static bool already_kept(const repair_ctx *c, const char *name)
{
    for (int k = 0; k < c->n_names; k++)
        if (!strcmp(c->names[k], name))
            return true;
    return false;
}

static fc_status repair_loop(repair_ctx *c, fc_repair_result *r, fc_graph **model, fc_err *err)
{
    double t0 = now();
    fc_layer_report rep = {0};
    fc_status st = rank(c, *model, &rep, err);
    int n_user = c->n_names, *order = NULL;
    double *score = NULL;
    if (!st) {
        size_t cap = (size_t)rep.n_layers + 1;
        fc_repair_step *steps = fc_realloc(r->steps, cap * sizeof *r->steps);
        if (steps)
            r->steps = steps;
        r->kept = fc_calloc(cap, sizeof *r->kept);
        c->names = fc_calloc(cap + (size_t)n_user, sizeof *c->names);
        order = fc_calloc(cap, sizeof *order);
        score = fc_calloc(cap, sizeof *score);
        if (!steps || !r->kept || !c->names || !order || !score)
            st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory repairing", gname(c->g));
        else
            for (int k = 0; k < n_user; k++)
                c->names[k] = c->o->quant.keep_float[k];
    }
    if (!st)
        st = rank_order(c, &rep, order, score, err);
    r->rank_seconds = now() - t0;
    for (int i = 0; !st && i < rep.n_layers; i++)
        r->n_ranked += !already_kept(c, rep.layers[i].layer);
    for (int i = 0; !st && i < rep.n_layers; i++) {
        if (r->steps[r->n_steps - 1].drop <= c->o->max_drop)
            break;
        const fc_layer_stat *l = &rep.layers[order[i]];
        if (already_kept(c, l->layer))
            continue;
        char *name = fc_strdup(l->layer);
        if (!name) {
            st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory repairing", gname(c->g));
            break;
        }
        r->kept[r->n_kept++] = name;
        c->names[c->n_names++] = name;
        fc_graph_free(*model);
        *model = NULL;
        int k = r->n_steps;
        memset(&r->steps[k], 0, sizeof r->steps[k]);
        r->steps[k].layer = name;
        r->steps[k].sqnr_db = l->sqnr_db;
        r->steps[k].added_noise = score[order[i]];
        bool empty;
        st = run_step(c, r, k, model, &empty, err);
        if (!st && empty) {
            /* Everything left is in float: the previous step's model was
             * the last one with int8 layers, and it missed. */
            fc_free(name);
            r->kept[--r->n_kept] = NULL;
            c->n_names--;
            break;
        }
    }
    fc_layer_report_free(&rep);
    fc_free(order);
    fc_free(score);
    return st;
}

fc_status fc_repair_quantize(const fc_graph *fp32, const fc_tensor *calib, const int64_t *labels,
                             const fc_repair_opts *opt, fc_repair_result *out, fc_err *err)
{
    memset(out, 0, sizeof *out);
    if (!labels)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: the repair needs labelled calibration "
                          "data to measure accuracy", gname(fp32));
    if (!(opt->max_drop >= 0.0 && opt->max_drop <= 1.0))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "maximum accuracy drop %g is not in [0, 1]",
                          opt->max_drop);
    double t0 = now();
    repair_ctx c = {.g = fp32, .x = calib, .labels = labels, .o = opt,
                    .engine = opt->q8_engine ? opt->q8_engine : "q8",
                    .names = (const char **)opt->quant.keep_float,
                    .n_names = opt->quant.n_keep_float};
    fc_graph *model = NULL;
    fc_status st = fc_qplan_calibrate(fp32, calib, &opt->quant, &c.s, err);
    out->calib_seconds = now() - t0;
    out->images = c.s.s.images;
    if (!st)
        st = fc_repair_accuracy(fp32, "f32", calib, labels, opt->quant.batch, &out->fp32_accuracy,
                                err);
    if (!st) {
        out->steps = fc_calloc(1, sizeof *out->steps);
        if (!out->steps)
            st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory repairing", gname(fp32));
    }
    bool empty = false;
    if (!st)
        st = run_step(&c, out, 0, &model, &empty, err);
    if (!st && empty)
        st = fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: nothing to quantize outside the layers "
                        "kept in float", gname(fp32));
    if (!st && out->steps[0].drop > opt->max_drop)
        st = repair_loop(&c, out, &model, err);
    if (c.names != (const char **)opt->quant.keep_float)
        fc_free(c.names);
    fc_qplan_stats_free(&c.s);
    if (st) {
        fc_graph_free(model);
        fc_repair_result_free(out);
        return st;
    }
    out->met = out->steps[out->n_steps - 1].drop <= opt->max_drop;
    if (out->met)
        out->model = model;
    else
        fc_graph_free(model);
    out->total_seconds = now() - t0;
    return FC_OK;
}

void fc_repair_result_free(fc_repair_result *r)
{
    if (!r)
        return;
    for (int k = 0; k < r->n_kept; k++)
        fc_free(r->kept[k]);
    fc_free(r->kept);
    fc_free(r->steps);
    fc_graph_free(r->model);
    memset(r, 0, sizeof *r);
}
