/* flipcheck infer: images (DATA) or raw tensors (--input) through one
 * engine, --batch images at a time; printing is in cli_infer_out.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_commands.h"
#include "cli_common.h"
#include "cli_compare.h"
#include "cli_infer.h"
#include "core/fc_alloc.h"
#include "core/fc_npy.h"
#include "engines/fc_engine.h"
#include "io/fc_dataset.h"
#include "io/fc_preproc.h"
#include "onnx/fc_onnx.h"

#define CLI_MAX_BATCH 65536L

static const char usage[] =
    "usage: flipcheck infer --model MODEL.onnx [--engine f32|f32-ref] [--batch N] [--json]\n"
    "                       [--labels L.npy] [--resize bilinear] [--mean M] [--std S]\n"
    "                       [--scale K] [--bgr] [--max-pixels N] [--input FILE]... [DATA...]\n"
    "\n"
    "Runs a model on an engine and prints, per image, the top-1 class and its\n"
    "confidence (softmax probability; the value itself when the model ends in\n"
    "Softmax).\n"
    "\n"
    "  DATA           images for a model with one [N,C,H,W] input, in order: image\n"
    "                 folders (DIR/<class>/*.png, classes sorted by name give the\n"
    "                 labels, as PyTorch's ImageFolder), PNG files, or .npy of\n"
    "                 uint8 [N,C,H,W] (divided by 255) or float32 (as is).  With\n"
    "                 labels the accuracy is printed.\n"
    "  --input FILE   a raw tensor for the model's next graph input, as is:\n"
    "                 ONNX TensorProto (.pb) or .npy.  Repeat once per input;\n"
    "                 the tensors run in one call (no batching).\n"
    "\n"
    "options:\n"
    "  --model FILE   the ONNX model (required)\n"
    "  --engine E     f32 (OpenBLAS, default) or f32-ref (plain loops, the oracle)\n"
    "  --batch N      images run together (default 64); outputs are concatenated\n"
    "  --json         one JSON object: engine, outputs (name, shape, data), top1,\n"
    "                 confidence (the last two when the first output is [N,C]);\n"
    "                 for images also files, labels and accuracy\n"
    "  --labels FILE  int labels [N] (.npy) for .npy images\n"
    "  --resize bilinear  resize images whose size differs from the model's\n"
    "                 (otherwise that is an error)\n"
    "  --mean M, --std S  per-channel normalisation \"0.485,0.456,0.406\" (or one\n"
    "                 number): the model sees (pixel*255*scale - mean) / std\n"
    "  --scale K      pixel scale (default 1/255: pixels in [0,1])\n"
    "  --bgr          the model takes channels in BGR order\n"
    "  --max-pixels N refuse PNGs with more pixels (default 67108864)\n"
    "  --dump-layers DIR  write every intermediate tensor as DIR/NNNN_<name>.npy\n"
    "                 with DIR/index.json (docs/layer-dumps.md); the data runs\n"
    "                 as one batch\n";

enum { O_MODEL, O_ENGINE, O_BATCH, O_JSON, O_INPUT, O_LABELS, O_RESIZE, O_MEAN, O_STD,
       O_SCALE, O_BGR, O_MAXPX, O_REFERENCE, O_MAXABS, O_DUMP, O_COUNT };

typedef struct infer_args {
    const char *cmd;               /* "infer" or "compare" */
    const char *reference;         /* compare: the other runtime's outputs */
    double max_abs;                /* compare: threshold (default 1e-4) */
    const char *dump_dir;          /* --dump-layers */
    const char *model, *engine, *labels;
    long batch;
    bool json, resize;
    fc_preproc pre;
    long max_pixels;
    const char **inputs, **data;   /* borrowed from argv */
    int n_inputs, n_data;
} infer_args;

static bool known_engine(const char *kind)
{
    for (const char *const *e = fc_engine_kinds(); *e; e++)
        if (!strcmp(*e, kind))
            return true;
    return false;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, infer_args *a)
{
    static const cli_opt opts[O_COUNT] = {
        [O_MODEL] = {"--model", true}, [O_ENGINE] = {"--engine", true},
        [O_BATCH] = {"--batch", true}, [O_JSON] = {"--json", false},
        [O_INPUT] = {"--input", true}, [O_LABELS] = {"--labels", true},
        [O_RESIZE] = {"--resize", true}, [O_MEAN] = {"--mean", true},
        [O_STD] = {"--std", true}, [O_SCALE] = {"--scale", true}, [O_BGR] = {"--bgr", false},
        [O_MAXPX] = {"--max-pixels", true}, [O_REFERENCE] = {"--reference", true},
        [O_MAXABS] = {"--max-abs", true}, [O_DUMP] = {"--dump-layers", true},
    };
    a->engine = "f32";
    a->batch = 64;
    a->max_abs = 1e-4;
    fc_preproc_default(&a->pre);
    int n_mean = 0, n_std = 0;
    fc_err perr;
    a->inputs = fc_calloc((size_t)argc + 1, sizeof *a->inputs);
    a->data = fc_calloc((size_t)argc + 1, sizeof *a->data);
    if (!a->inputs || !a->data) {
        fprintf(stderr, "flipcheck infer: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    cli_parser p;
    cli_parser_init(&p, a->cmd, argc, argv, opts, O_COUNT);
    const char *v;
    for (int k; (k = cli_next(&p, &v)) != CLI_ARG_END;) {
        switch (k) {
        case CLI_ARG_ERR: return CLI_EXIT_USAGE;
        case CLI_ARG_HELP:
            fputs(strcmp(a->cmd, "compare") ? usage : cli_compare_usage, stdout);
            return CLI_EXIT_OK;
        case CLI_ARG_POS: a->data[a->n_data++] = v; break;
        case O_MODEL: a->model = v; break;
        case O_ENGINE: a->engine = v; break;
        case O_JSON: a->json = true; break;
        case O_INPUT: a->inputs[a->n_inputs++] = v; break;
        case O_BATCH:
            if (!cli_parse_int(a->cmd, "--batch", v, 1, CLI_MAX_BATCH, &a->batch))
                return CLI_EXIT_USAGE;
            break;
        case O_LABELS: a->labels = v; break;
        case O_RESIZE:
            if (strcmp(v, "bilinear") != 0)
                return cli_usage_error(a->cmd, "option --resize: '%s' (only bilinear)", v);
            a->resize = true;
            break;
        case O_MEAN:
        case O_STD:
            if (fc_preproc_parse_list(v, k == O_MEAN ? "--mean" : "--std",
                                      k == O_MEAN ? a->pre.mean : a->pre.std,
                                      k == O_MEAN ? &n_mean : &n_std, &perr))
                return cli_usage_error(a->cmd, "option %s", perr.msg);
            break;
        case O_SCALE: {
            char *end;
            double d = strtod(v, &end);
            if (end == v || *end || !(d > 0) || d > 1e6)
                return cli_usage_error(a->cmd, "option --scale: '%s' is not a positive number", v);
            a->pre.scale = (float)d;
            break;
        }
        case O_BGR: a->pre.bgr = true; break;
        case O_REFERENCE: a->reference = v; break;
        case O_DUMP: a->dump_dir = v; break;
        case O_MAXABS: {
            char *end;
            double d = strtod(v, &end);
            if (end == v || *end || !(d >= 0) || d > 1e30)
                return cli_usage_error(a->cmd, "option --max-abs: '%s' is not a number >= 0", v);
            a->max_abs = d;
            break;
        }
        case O_MAXPX:
            if (!cli_parse_int(a->cmd, "--max-pixels", v, 1, 1L << 40, &a->max_pixels))
                return CLI_EXIT_USAGE;
            break;
        default: break;
        }
    }
    if (n_mean && n_std && n_mean != n_std && n_mean != 1 && n_std != 1)
        return cli_usage_error(a->cmd, "--mean has %d values and --std %d", n_mean, n_std);
    /* One list length for both: a single number applies to every channel. */
    a->pre.n_channels = n_mean > n_std ? n_mean : n_std;
    if (n_mean == 1 && a->pre.n_channels > 1)
        for (int c = 1; c < a->pre.n_channels; c++)
            a->pre.mean[c] = a->pre.mean[0];
    if (n_std == 1 && a->pre.n_channels > 1)
        for (int c = 1; c < a->pre.n_channels; c++)
            a->pre.std[c] = a->pre.std[0];
    if (!a->model)
        return cli_usage_error(a->cmd, "missing --model MODEL.onnx");
    if (!known_engine(a->engine))
        return cli_usage_error(a->cmd, "option --engine: unknown engine '%s' (f32, f32-ref)",
                               a->engine);
    if (a->n_inputs && a->n_data)
        return cli_usage_error(a->cmd, "give either --input FILE... or DATA..., not both");
    if (!strcmp(a->cmd, "compare") && !a->reference)
        return cli_usage_error(a->cmd, "missing --reference OUT.npy (or use --layers DIR_A DIR_B)");
    if (!a->n_inputs && !a->n_data)
        return cli_usage_error(a->cmd, "nothing to run: give DATA (.npy images) or --input FILE");
    return -1;
}

/* ---- inputs ---------------------------------------------------------------- */

static fc_status read_tensor_file(const char *path, fc_tensor *t, fc_err *err)
{
    memset(t, 0, sizeof *t);
    if (cli_has_suffix(path, ".pb"))
        return fc_onnx_read_tensor_pb(path, t, err);
    if (cli_has_suffix(path, ".npy"))
        return fc_npy_read(path, t, err);
    return fc_err_set(err, FC_ERR_UNSUPPORTED,
                      "%s: unknown tensor format (expected a .pb TensorProto or a .npy)", path);
}

/* One DATA file as read, checked to be images flipcheck can feed. */
static fc_status read_images(const char *path, fc_tensor *t, fc_err *err)
{
    memset(t, 0, sizeof *t);
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%s: image folders are not supported yet; give a .npy of [N,C,H,W]",
                          path);
    if (cli_has_suffix(path, ".png") || cli_has_suffix(path, ".jpg") ||
        cli_has_suffix(path, ".jpeg"))
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%s: image files are not supported yet; give a .npy of [N,C,H,W]",
                          path);
    fc_status st = fc_npy_read(path, t, err);
    if (st)
        return st;
    if (t->dtype != FC_DT_U8 && t->dtype != FC_DT_F32)
        st = fc_err_set(err, FC_ERR_UNSUPPORTED,
                        "%s: images must be uint8 or float32, this .npy holds %s", path,
                        fc_dtype_name(t->dtype));
    else if (t->rank < 1 || t->dims[0] == 0)
        st = fc_err_set(err, FC_ERR_SHAPE, "%s: holds no images (shape needs [N,C,H,W], N > 0)",
                        path);
    if (st)
        fc_tensor_release(t);
    return st;
}

/* All DATA files as one float32 batch: uint8 / 255, float32 as is.
 * *bad is the index of the file at fault on failure. */
static fc_status load_data(const infer_args *a, fc_tensor *x, int *bad, fc_err *err)
{
    memset(x, 0, sizeof *x);
    fc_tensor *parts = fc_calloc((size_t)a->n_data, sizeof *parts);
    if (!parts)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    fc_status st = FC_OK;
    int64_t total = 0;
    for (int i = 0; i < a->n_data && !st; i++) {
        *bad = i;
        st = read_images(a->data[i], &parts[i], err);
        if (st)
            break;
        const fc_tensor *t = &parts[i], *f = &parts[0];
        bool same = t->rank == f->rank;
        for (int d = 1; same && d < t->rank; d++)
            same = t->dims[d] == f->dims[d];
        if (!same) {
            char s1[128], s2[128];
            st = fc_err_set(err, FC_ERR_SHAPE, "%s: images of shape %s do not match %s's %s",
                            a->data[i], fc_dims_str(t->rank, t->dims, s1, sizeof s1),
                            a->data[0], fc_dims_str(f->rank, f->dims, s2, sizeof s2));
            break;
        }
        total += t->dims[0];   /* each is capped by FC_MAX_TENSOR_ELEMS: no overflow */
    }
    if (!st && a->n_data == 1 && parts[0].dtype == FC_DT_F32) {
        *x = parts[0];         /* nothing to convert: hand the buffer over */
        memset(&parts[0], 0, sizeof parts[0]);
    } else if (!st) {
        *bad = 0;
        int64_t dims[FC_MAX_RANK];
        memcpy(dims, parts[0].dims, sizeof dims);
        dims[0] = total;
        st = fc_tensor_alloc(x, FC_DT_F32, parts[0].rank, dims, err);
        if (st)
            fc_err_prefix(err, "%s: all images: ", a->data[0]);
        float *dst = st ? NULL : x->data;
        for (int i = 0; i < a->n_data && !st; i++) {
            const fc_tensor *t = &parts[i];
            if (t->dtype == FC_DT_F32) {
                memcpy(dst, t->data, t->numel * sizeof(float));
            } else {
                const uint8_t *src = t->data;
                for (size_t j = 0; j < t->numel; j++)
                    dst[j] = (float)src[j] / 255.0f;
            }
            dst += t->numel;
            fc_tensor_release(&parts[i]);
        }
    }
    for (int i = 0; i < a->n_data; i++)
        fc_tensor_release(&parts[i]);
    fc_free(parts);
    return st;
}

/* ---- running --------------------------------------------------------------- */

/* Checked before batching so the message shows the whole file's shape,
 * not the shape of the first chunk. */
static fc_status check_fits(const fc_graph *g, const fc_tensor *x, const char *file, fc_err *err)
{
    const fc_value *v = &g->values[g->inputs[0]];
    if (v->rank < 0)
        return FC_OK;
    bool fits = x->rank == v->rank;
    for (int d = 1; fits && d < v->rank; d++)
        fits = v->dims[d] < 0 || v->dims[d] == x->dims[d];
    if (fits)
        return FC_OK;
    char s1[128], s2[128];
    return fc_err_set(err, FC_ERR_SHAPE, "%s: images are %s, the model's input '%s' is %s", file,
                      fc_dims_str(x->rank, x->dims, s1, sizeof s1), v->name,
                      cli_value_shape_str(v, s2, sizeof s2));
}

/* Copies chunk rows into out at row `start` of `total`, allocating out on
 * the first chunk.  Every output must have the batch as its axis 0. */
static fc_status place(const fc_graph *g, int k, fc_tensor *out, const fc_tensor *chunk,
                       int64_t start, int64_t count, int64_t total, fc_err *err)
{
    const char *name = g->values[g->outputs[k]].name;
    char s[128];
    if (chunk->rank < 1 || chunk->dims[0] != count)
        return fc_err_set(err, FC_ERR_SHAPE,
                          "output '%s' is %s for a batch of %lld: no batch axis to concatenate "
                          "along (use --batch >= the number of images)", name,
                          fc_dims_str(chunk->rank, chunk->dims, s, sizeof s), (long long)count);
    if (!out->data) {
        int64_t dims[FC_MAX_RANK];
        memcpy(dims, chunk->dims, sizeof dims);
        dims[0] = total;
        fc_status st = fc_tensor_alloc(out, chunk->dtype, chunk->rank, dims, err);
        if (st) {
            fc_err_prefix(err, "output '%s': ", name);
            return st;
        }
    }
    bool same = out->dtype == chunk->dtype && out->rank == chunk->rank;
    for (int d = 1; same && d < out->rank; d++)
        same = out->dims[d] == chunk->dims[d];
    if (!same)
        return fc_err_set(err, FC_ERR_SHAPE, "output '%s' changed shape between batches (%s)",
                          name, fc_dims_str(chunk->rank, chunk->dims, s, sizeof s));
    size_t row = fc_tensor_bytes(chunk) / (size_t)count;
    memcpy((char *)out->data + (size_t)start * row, chunk->data, fc_tensor_bytes(chunk));
    return FC_OK;
}

static fc_status run_batched(fc_engine *e, const fc_graph *g, const fc_tensor *x, int64_t batch,
                             fc_tensor *outs, fc_err *err)
{
    int n_out = g->n_outputs;
    int64_t n = x->dims[0];
    size_t per = x->numel / (size_t)n, esize = fc_dtype_size(x->dtype);
    fc_tensor *chunk = fc_calloc(n_out ? (size_t)n_out : 1, sizeof *chunk);
    if (!chunk)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    fc_status st = FC_OK;
    for (int64_t s = 0; s < n && !st; s += batch) {
        int64_t cnt = n - s < batch ? n - s : batch;
        fc_tensor view = *x;
        view.dims[0] = cnt;
        view.numel = per * (size_t)cnt;
        view.owns_data = false;
        view.data = (char *)x->data + (size_t)s * per * esize;
        st = fc_engine_run(e, &view, 1, chunk, n_out, err);
        if (st)
            break;
        if (cnt == n) {        /* one chunk: the outputs are the answer as is */
            memcpy(outs, chunk, (size_t)n_out * sizeof *chunk);
            memset(chunk, 0, (size_t)n_out * sizeof *chunk);
        }
        for (int k = 0; k < n_out; k++) {
            if (!st && cnt != n)
                st = place(g, k, &outs[k], &chunk[k], s, cnt, n, err);
            fc_tensor_release(&chunk[k]);
        }
    }
    fc_free(chunk);
    if (st)
        for (int k = 0; k < n_out; k++)
            fc_tensor_release(&outs[k]);
    return st;
}

/* A model with one [N,C,H,W] float input whose C, H and W are fixed takes
 * images (folders, PNG, npy) through the dataset loader. */
static bool image_input(const fc_graph *g, fc_dataset_opts *o)
{
    if (g->n_inputs != 1)
        return false;
    const fc_value *v = &g->values[g->inputs[0]];
    if (v->rank != 4 || (v->dtype != FC_DT_F32 && v->dtype != FC_DT_UNDEFINED) ||
        v->dims[1] < 1 || v->dims[1] > 4 || v->dims[2] < 1 || v->dims[3] < 1)
        return false;
    o->channels = (int)v->dims[1];
    o->height = v->dims[2];
    o->width = v->dims[3];
    return true;
}

/* Images through the dataset loader and the preprocessing; *bad names the
 * file at fault (the message already does for data errors). */
static fc_status load_images(const infer_args *a, fc_dataset_opts *o, fc_dataset *d,
                             fc_tensor *x, const char **blame, fc_err *err)
{
    o->resize = a->resize ? FC_RESIZE_BILINEAR : FC_RESIZE_NONE;
    o->labels_path = a->labels;
    o->png.max_pixels = (uint64_t)a->max_pixels;
    fc_status st = fc_preproc_check(&a->pre, o->channels, err);
    if (st) {
        *blame = a->model;
        return st;
    }
    *blame = a->data[0];
    if ((st = fc_dataset_load(a->data, a->n_data, o, d, err)))
        return st;
    return fc_preproc_apply(&a->pre, &d->images, x, err);
}

/* Runs and prints; returns the exit code. */
static int infer(const infer_args *a, const fc_graph *g, fc_engine *e)
{
    fc_err err;
    fc_err_clear(&err);
    int n_in = a->n_data ? 1 : a->n_inputs;
    fc_tensor *ins = fc_calloc((size_t)n_in, sizeof *ins);
    fc_tensor *outs = fc_calloc(g->n_outputs ? (size_t)g->n_outputs : 1, sizeof *outs);
    const char *blame = a->model;
    fc_status st = FC_OK;
    bool loaded = false;
    fc_dataset data = {0};
    fc_dataset_opts dopts = {0};
    bool images = a->n_data && image_input(g, &dopts);
    /* A dump holds every image's tensors, so the data runs as one batch. */
    cli_dump *dump = NULL;
    if (a->dump_dir && cli_dump_start(a->dump_dir, g, e, &dump, &err))
        return cli_report(a->dump_dir, &err);
    if (!ins || !outs) {
        st = fc_err_set(&err, FC_ERR_NOMEM, "out of memory");
    } else if (images) {
        st = load_images(a, &dopts, &data, &ins[0], &blame, &err);
        loaded = !st;
        if (loaded)
            st = run_batched(e, g, &ins[0], dump ? ins[0].dims[0] : a->batch, outs, &err);
    } else if (a->n_data) {
        int bad = 0;
        st = load_data(a, &ins[0], &bad, &err);
        blame = a->data[bad];
        if (!st)
            st = check_fits(g, &ins[0], blame, &err);
        loaded = !st;
        if (loaded)
            st = run_batched(e, g, &ins[0], dump ? ins[0].dims[0] : a->batch, outs, &err);
    } else {
        for (int i = 0; i < n_in && !st; i++) {
            blame = a->inputs[i];
            st = read_tensor_file(a->inputs[i], &ins[i], &err);
        }
        loaded = !st;
        if (loaded) {
            blame = a->inputs[0];
            st = fc_engine_run(e, ins, n_in, outs, g->n_outputs, &err);
        }
    }
    /* Once the data is loaded, a shape error means it does not fit the
     * model (name the data); anything else is the model's or engine's. */
    if (st && loaded && st != FC_ERR_SHAPE)
        blame = a->model;
    fc_err derr = {0};
    if (cli_dump_finish(dump, !st, &derr) && !st) {
        st = derr.status;
        err = derr;
        blame = a->dump_dir;
    }
    int rc = CLI_EXIT_OK;
    if (st) {
        err.status = st;
        rc = cli_report(blame, &err);
    } else {
        cli_infer_result r = {g, a->engine, g->n_outputs, outs, images ? &data : NULL};
        if (a->reference) {
            rc = cli_compare_outputs(&outs[0], a->model, a->reference, a->max_abs, a->json);
        } else if (a->json) {
            if (!cli_infer_print_json(&r)) {
                fc_err_set(&err, FC_ERR_NOMEM, "out of memory printing JSON");
                rc = cli_report(a->model, &err);
            }
        } else {
            cli_infer_print_text(&r);
        }
        for (int k = 0; k < g->n_outputs; k++)
            fc_tensor_release(&outs[k]);
    }
    for (int i = 0; ins && i < n_in; i++)
        fc_tensor_release(&ins[i]);
    fc_dataset_free(&data);
    fc_free(ins);
    fc_free(outs);
    return rc;
}

int cli_infer_main(int argc, char **argv)
{
    return cli_infer_run("infer", argc, argv);
}

int cli_infer_run(const char *cmd, int argc, char **argv)
{
    infer_args a;
    memset(&a, 0, sizeof a);
    a.cmd = cmd;
    int rc = parse_args(argc, argv, &a);
    fc_graph *g = NULL;
    fc_engine *e = NULL;
    if (rc >= 0)
        goto done;
    rc = CLI_EXIT_USAGE;
    if (!cli_load_model(a.model, &g))
        goto done;
    if (a.n_data && g->n_inputs != 1) {
        rc = cli_usage_error(cmd, "%s has %d inputs; DATA needs a model with one input "
                             "(give --input FILE for each)", a.model, g->n_inputs);
        goto done;
    }
    if (a.n_inputs && a.n_inputs != g->n_inputs) {
        rc = cli_usage_error(cmd, "%s has %d graph input%s but %d --input given", a.model,
                             g->n_inputs, g->n_inputs == 1 ? "" : "s", a.n_inputs);
        goto done;
    }
    fc_err err;
    fc_err_clear(&err);
    fc_status st = fc_engine_create(g, a.engine, &e, &err);
    if (st) {
        err.status = st;
        rc = cli_report(a.model, &err);
        goto done;
    }
    rc = infer(&a, g, e);
done:
    fc_engine_free(e);
    fc_graph_free(g);
    fc_free(a.inputs);
    fc_free(a.data);
    return rc;
}
