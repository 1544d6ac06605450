/* flipcheck layers: where does the int8 twin of a model lose the signal?
 * Per quantized layer SQNR, max abs error, cosine and saturation between
 * the fp32 activation and the dequantized 8-bit one (src/quant/fc_layers.h),
 * worst layer first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "engines/fc_engine.h"
#include "io/fc_dataset.h"
#include "io/fc_preproc.h"
#include "quant/fc_layers.h"
#include "quant/fc_quantize.h"

#define CLI_MAX_BATCH 65536L

static const char usage[] =
    "usage: flipcheck layers --model MODEL.onnx (--quantized Q.onnx | --calib DIR)\n"
    "                        [--calib-method minmax|percentile|entropy] [--json]\n"
    "                        [--engine q8-ref|q8] [--batch N] [--max-images N]\n"
    "                        [--resize bilinear] [--mean M] [--std S] [--scale K] [--bgr]\n"
    "                        [--max-pixels N] DATA...\n"
    "\n"
    "Runs the fp32 model and its int8 twin on the same images and compares, for\n"
    "every quantized layer, the fp32 activation with the dequantized 8-bit one:\n"
    "SQNR in dB (10 log10 of signal over error energy), max abs error, cosine\n"
    "similarity, and the fraction of saturated values (the 8-bit value sits at\n"
    "its type's min or max and the fp32 value lies beyond the representable\n"
    "range by more than half a step: clipped, not rounded).  Worst layer (lowest\n"
    "SQNR) first.  Layers of QDQ files are the QuantizeLinear inputs; QOperator\n"
    "files are paired by value name (without ONNX Runtime's _quantized suffix).\n"
    "\n"
    "  DATA           image folders (DIR/<class>/*.png), PNG files, or .npy of\n"
    "                 uint8 [N,C,H,W] (divided by 255) or float32 (as is)\n"
    "\n"
    "options:\n"
    "  --model FILE     the fp32 ONNX model (required)\n"
    "  --quantized FILE its int8 twin (QDQ or QOperator ONNX file)\n"
    "  --calib DIR      quantize the model in memory (as flipcheck's quantizer does:\n"
    "                   uint8 activations, int8 per-channel weights), calibrated on\n"
    "                   the images of DIR (folder, PNG or .npy, same preprocessing)\n"
    "  --calib-method M minmax (default), percentile (99.99) or entropy\n"
    "  --json           a JSON array, one object per layer, worst first\n"
    "  --engine E       the int8 engine: q8-ref (default) or q8\n"
    "  --batch N        images run together (default 64)\n"
    "  --max-images N   use only the first N images of DATA\n"
    "  --resize bilinear, --mean M, --std S, --scale K, --bgr, --max-pixels N\n"
    "                   preprocessing, as for flipcheck infer\n";

enum { O_MODEL, O_QUANT, O_CALIB, O_METHOD, O_JSON, O_ENGINE, O_BATCH, O_MAXIMG, O_RESIZE, O_MEAN,
       O_STD, O_SCALE, O_BGR, O_MAXPX, O_COUNT };

typedef struct layers_args {
    const char *model, *quantized, *calib, *engine;
    fc_calib_method method;
    long batch, max_images, max_pixels;
    bool json, resize;
    fc_preproc pre;
    const char **data;   /* borrowed from argv */
    int n_data;
} layers_args;

/* A one-number list covers every channel. */
static void spread(float *v, int n_given, int n)
{
    if (n_given == 1)
        for (int c = 1; c < n; c++)
            v[c] = v[0];
}

static int parse_value(layers_args *a, int k, const char *v, int *n_mean, int *n_std)
{
    fc_err perr;
    switch (k) {
    case O_MODEL: a->model = v; break;
    case O_QUANT: a->quantized = v; break;
    case O_CALIB: a->calib = v; break;
    case O_METHOD:
        if (!strcmp(v, "minmax"))
            a->method = FC_CALIB_MINMAX;
        else if (!strcmp(v, "percentile"))
            a->method = FC_CALIB_PERCENTILE;
        else if (!strcmp(v, "entropy"))
            a->method = FC_CALIB_ENTROPY;
        else
            return cli_usage_error("layers", "option --calib-method: '%s' (minmax, percentile, "
                                   "entropy)", v);
        break;
    case O_JSON: a->json = true; break;
    case O_ENGINE: a->engine = v; break;
    case O_BGR: a->pre.bgr = true; break;
    case O_BATCH:
        if (!cli_parse_int("layers", "--batch", v, 1, CLI_MAX_BATCH, &a->batch))
            return CLI_EXIT_USAGE;
        break;
    case O_MAXIMG:
        if (!cli_parse_int("layers", "--max-images", v, 1, 1L << 40, &a->max_images))
            return CLI_EXIT_USAGE;
        break;
    case O_MAXPX:
        if (!cli_parse_int("layers", "--max-pixels", v, 1, 1L << 40, &a->max_pixels))
            return CLI_EXIT_USAGE;
        break;
    case O_RESIZE:
        if (strcmp(v, "bilinear") != 0)
            return cli_usage_error("layers", "option --resize: '%s' (only bilinear)", v);
        a->resize = true;
        break;
    case O_MEAN:
    case O_STD:
        if (fc_preproc_parse_list(v, k == O_MEAN ? "--mean" : "--std",
                                  k == O_MEAN ? a->pre.mean : a->pre.std,
                                  k == O_MEAN ? n_mean : n_std, &perr))
            return cli_usage_error("layers", "option %s", perr.msg);
        break;
    case O_SCALE: {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end || !(d > 0) || d > 1e6)
            return cli_usage_error("layers", "option --scale: '%s' is not a positive number", v);
        a->pre.scale = (float)d;
        break;
    }
    default: break;
    }
    return -1;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, layers_args *a)
{
    static const cli_opt opts[O_COUNT] = {
        [O_MODEL] = {"--model", true},   [O_QUANT] = {"--quantized", true},
        [O_CALIB] = {"--calib", true},   [O_METHOD] = {"--calib-method", true},
        [O_JSON] = {"--json", false},
        [O_ENGINE] = {"--engine", true}, [O_BATCH] = {"--batch", true},
        [O_MAXIMG] = {"--max-images", true}, [O_RESIZE] = {"--resize", true},
        [O_MEAN] = {"--mean", true},     [O_STD] = {"--std", true},
        [O_SCALE] = {"--scale", true},   [O_BGR] = {"--bgr", false},
        [O_MAXPX] = {"--max-pixels", true},
    };
    a->engine = "q8-ref";
    a->batch = 64;
    fc_preproc_default(&a->pre);
    int n_mean = 0, n_std = 0;
    a->data = fc_calloc((size_t)argc + 1, sizeof *a->data);
    if (!a->data) {
        fprintf(stderr, "flipcheck layers: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    cli_parser p;
    cli_parser_init(&p, "layers", argc, argv, opts, O_COUNT);
    const char *v;
    for (int k; (k = cli_next(&p, &v)) != CLI_ARG_END;) {
        if (k == CLI_ARG_ERR)
            return CLI_EXIT_USAGE;
        if (k == CLI_ARG_HELP) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (k == CLI_ARG_POS) {
            a->data[a->n_data++] = v;
            continue;
        }
        int rc = parse_value(a, k, v, &n_mean, &n_std);
        if (rc >= 0)
            return rc;
    }
    if (n_mean && n_std && n_mean != n_std && n_mean != 1 && n_std != 1)
        return cli_usage_error("layers", "--mean has %d values and --std %d", n_mean, n_std);
    a->pre.n_channels = n_mean > n_std ? n_mean : n_std;
    spread(a->pre.mean, n_mean, a->pre.n_channels);
    spread(a->pre.std, n_std, a->pre.n_channels);
    if (!a->model)
        return cli_usage_error("layers", "missing --model MODEL.onnx");
    if (!a->quantized == !a->calib)
        return cli_usage_error("layers", "give exactly one of --quantized Q.onnx and --calib DIR");
    if (a->method != FC_CALIB_NONE && !a->calib)
        return cli_usage_error("layers", "--calib-method needs --calib DIR");
    if (strcmp(a->engine, "q8-ref") != 0 && strcmp(a->engine, "q8") != 0)
        return cli_usage_error("layers", "option --engine: '%s' is not an int8 engine (q8-ref, "
                               "q8)", a->engine);
    if (!a->n_data)
        return cli_usage_error("layers", "nothing to compare on: give DATA (folders, PNG, .npy)");
    return -1;
}

/* ---- data ------------------------------------------------------------------ */

/* The model's [N,C,H,W] float input, for the dataset loader. */
static fc_status image_opts(const fc_graph *g, const char *path, fc_dataset_opts *o, fc_err *err)
{
    const fc_value *v = g->n_inputs == 1 ? &g->values[g->inputs[0]] : NULL;
    if (!v || v->rank != 4 || (v->dtype != FC_DT_F32 && v->dtype != FC_DT_UNDEFINED) ||
        v->dims[1] < 1 || v->dims[1] > FC_PREPROC_MAX_CHANNELS || v->dims[2] < 1 || v->dims[3] < 1)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: the layer comparison needs a model with "
                          "one float [N,C,H,W] input of fixed C, H and W", path);
    o->channels = (int)v->dims[1];
    o->height = v->dims[2];
    o->width = v->dims[3];
    return FC_OK;
}

/* Images of `sources` through the preprocessing into *x (model-input
 * space); *blame names what to blame on failure. */
static fc_status load_inputs(const layers_args *a, const fc_graph *g, const char *const *sources,
                             int n_sources, fc_tensor *x, const char **blame, fc_err *err)
{
    fc_dataset_opts o;
    memset(&o, 0, sizeof o);
    *blame = a->model;
    fc_status st = image_opts(g, a->model, &o, err);
    if (!st)
        st = fc_preproc_check(&a->pre, o.channels, err);
    if (st)
        return st;
    o.resize = a->resize ? FC_RESIZE_BILINEAR : FC_RESIZE_NONE;
    o.png.max_pixels = (uint64_t)a->max_pixels;
    o.max_images = a->max_images;
    fc_dataset d;
    memset(&d, 0, sizeof d);
    *blame = sources[0];
    st = fc_dataset_load(sources, n_sources, &o, &d, err);
    if (!st)
        st = fc_preproc_apply(&a->pre, &d.images, x, err);
    fc_dataset_free(&d);
    return st;
}

/* ---- output ---------------------------------------------------------------- */

static bool add_num(cJSON *o, const char *key, double v)
{
    cJSON *n = isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
    return n && cJSON_AddItemToObject(o, key, n);
}

static cJSON *report_json(const fc_layer_report *r)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < r->n_layers; i++) {
        const fc_layer_stat *s = &r->layers[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
        bool ok = cJSON_AddStringToObject(o, "layer", s->layer) &&
                  cJSON_AddStringToObject(o, "op", s->op) &&
                  cJSON_AddStringToObject(o, "fp32_op", s->fp32_op) &&
                  cJSON_AddStringToObject(o, "quantized_value", s->qvalue) &&
                  /* null for +inf: the 8-bit values were exact */
                  add_num(o, "sqnr_db", s->sqnr_db) && add_num(o, "max_abs", s->max_abs) &&
                  add_num(o, "cosine", s->cosine) && add_num(o, "saturated", s->saturated) &&
                  add_num(o, "count", (double)s->count) && add_num(o, "scale", s->scale) &&
                  add_num(o, "zero_point", s->zero_point) &&
                  cJSON_AddStringToObject(o, "type", fc_dtype_name(s->qtype));
        if (!ok) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static void print_table(const layers_args *a, const fc_layer_report *r)
{
    int w = 5;
    for (int i = 0; i < r->n_layers; i++) {
        int n = (int)strlen(r->layers[i].layer);
        w = n > w ? n : w;
    }
    w = w > 48 ? 48 : w;
    printf("%s vs %s (%s): %d quantized layers on %lld images, worst first\n", a->model,
           a->quantized ? a->quantized : "calibrated in memory", a->engine, r->n_layers,
           (long long)r->n_images);
    printf("%-*s  %-26s %9s %11s %9s %10s\n", w, "layer", "op", "SQNR dB", "max abs", "cosine",
           "saturated");
    for (int i = 0; i < r->n_layers; i++) {
        const fc_layer_stat *s = &r->layers[i];
        char sqnr[32];
        if (isfinite(s->sqnr_db))
            snprintf(sqnr, sizeof sqnr, "%.2f", s->sqnr_db);
        else
            snprintf(sqnr, sizeof sqnr, "%s", s->sqnr_db > 0 ? "exact" : "nan");
        printf("%-*.*s  %-26.26s %9s %11.4g %9.5f %9.3f%%\n", w, w, s->layer, s->op, sqnr,
               s->max_abs, s->cosine, 100.0 * s->saturated);
    }
}

/* ---- running --------------------------------------------------------------- */

/* The int8 twin: the --quantized file, or the model quantized in memory on
 * the --calib images. */
static fc_status make_twin(const layers_args *a, const fc_graph *g, fc_graph **q,
                           const char **blame, fc_err *err)
{
    if (a->quantized) {
        *blame = a->quantized;
        return cli_load_model(a->quantized, q) ? FC_OK : FC_ERR_IO;
    }
    /* Calibration sees every image of DIR: --max-images limits DATA only. */
    layers_args ca = *a;
    ca.max_images = 0;
    fc_tensor calib;
    memset(&calib, 0, sizeof calib);
    const char *sources[1] = {a->calib};
    fc_status st = load_inputs(&ca, g, sources, 1, &calib, blame, err);
    if (!st) {
        *blame = a->model;
        fc_quant_options o = {.method = a->method, .batch = a->batch};
        st = fc_quantize_graph(g, &calib, &o, q, err);
    }
    fc_tensor_release(&calib);
    return st;
}

static int run(const layers_args *a)
{
    fc_err err;
    fc_err_clear(&err);
    fc_graph *g = NULL, *q = NULL;
    fc_tensor x;
    memset(&x, 0, sizeof x);
    fc_layer_report r;
    memset(&r, 0, sizeof r);
    int rc = CLI_EXIT_OK;
    const char *blame = a->model;
    if (!cli_load_model(a->model, &g))
        return CLI_EXIT_USAGE;
    fc_status st = make_twin(a, g, &q, &blame, &err);
    bool reported = st == FC_ERR_IO && a->quantized;   /* cli_load_model printed it */
    if (!st)
        st = load_inputs(a, g, a->data, a->n_data, &x, &blame, &err);
    if (!st) {
        blame = a->quantized ? a->quantized : a->model;
        fc_layer_opts o = {.batch = a->batch, .q8_engine = a->engine};
        st = fc_layer_compare(g, q, &x, &o, &r, &err);
    }
    if (!st) {
        for (int i = 0; i < r.n_unpaired; i++)
            fprintf(stderr, "flipcheck layers: note: '%s' not compared: %s\n",
                    r.unpaired[i].qvalue, r.unpaired[i].reason);
        if (a->json) {
            cJSON *j = report_json(&r);
            if (!j || !cli_print_json(j))
                st = fc_err_set(&err, FC_ERR_NOMEM, "out of memory printing JSON");
            cJSON_Delete(j);
        } else {
            print_table(a, &r);
        }
    }
    if (st && !reported) {
        err.status = st;
        rc = cli_report(blame, &err);
    } else if (st) {
        rc = CLI_EXIT_USAGE;
    }
    fc_layer_report_free(&r);
    fc_tensor_release(&x);
    fc_graph_free(q);
    fc_graph_free(g);
    return rc;
}

int cli_layers_main(int argc, char **argv)
{
    layers_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0)
        rc = run(&a);
    fc_free(a.data);
    return rc;
}
