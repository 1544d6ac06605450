/* flipcheck quantize: an fp32 model + calibration images -> a QDQ int8
 * model file (src/quant/fc_quantize.h), and what it did. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "engines/fc_engine.h"
#include "io/fc_dataset.h"
#include "io/fc_preproc.h"
#include "onnx/fc_onnx_write.h"
#include "quant/fc_quantize.h"
#include "quant/fc_repair.h"

static const char usage[] =
    "usage: flipcheck quantize --model MODEL.onnx --calib DATA [--calib DATA]... --out Q.onnx\n"
    "                          [--method minmax|percentile|entropy] [--percentile P]\n"
    "                          [--per-tensor] [--max-images N] [--batch N] [--max-drop D]\n"
    "                          [--rank added-noise|sqnr] [--keep-float LAYER]...\n"
    "                          [--resize bilinear]\n"
    "                          [--mean M] [--std S] [--scale K] [--bgr] [--max-pixels N]\n"
    "\n"
    "Post-training static quantization: runs the calibration images through the\n"
    "fp32 model, and writes an int8 model in ONNX Runtime's QDQ layout\n"
    "(QuantizeLinear/DequantizeLinear around Conv, Gemm, MatMul, Add, pooling;\n"
    "int8 per-channel weights, int32 biases, uint8 activations), which the q8\n"
    "engines run as integer ops.\n"
    "\n"
    "options:\n"
    "  --model FILE   the fp32 ONNX model, one [N,C,H,W] float input (required)\n"
    "  --calib DATA   calibration images: an image folder (DIR/<class>/*.png or\n"
    "                 DIR/*.png), PNG files, or .npy of uint8 [N,C,H,W] (divided\n"
    "                 by 255) or float32 pixels in [0,1]; repeat to add (required)\n"
    "  --out FILE     where to write the quantized model (required)\n"
    "  --method M     activation ranges: minmax (default, the range seen),\n"
    "                 percentile (--percentile of |x|), entropy (KL divergence)\n"
    "  --percentile P for --method percentile, in (0, 100] (default 99.99)\n"
    "  --per-tensor   one weight scale per tensor instead of per output channel\n"
    "  --max-images N use at most N calibration images (default all)\n"
    "  --batch N      images run together while calibrating (default 64)\n"
    "  --max-drop D   mixed-precision repair: when int8 loses more than D top-1\n"
    "                 accuracy (a fraction: 0.01 = 1 point) on the calibration\n"
    "                 images (which need labels: an image folder), keep the layers\n"
    "                 with the lowest SQNR in float, one at a time, until it does\n"
    "                 not; prints each step.  Exit 1, writing nothing, when even\n"
    "                 all layers in float miss D\n"
    "  --rank R       --max-drop's order: added-noise (default: the error a layer\n"
    "                 adds to its inputs', from the per-layer SQNRs) or sqnr\n"
    "                 (lowest SQNR first)\n"
    "  --keep-float LAYER  leave this fp32 value (or node) in float; repeatable\n"
    "  --resize bilinear, --mean M, --std S, --scale K, --bgr, --max-pixels N\n"
    "                 the model's preprocessing, as for infer\n";

enum { O_MODEL, O_CALIB, O_OUT, O_METHOD, O_PCT, O_PER_TENSOR, O_MAXIMG, O_BATCH, O_RESIZE,
       O_MEAN, O_STD, O_SCALE, O_BGR, O_MAXPX, O_MAXDROP, O_KEEP, O_RANK, O_COUNT };

typedef struct quantize_args {
    const char *model, *out, *method_name;
    const char **calib;   /* borrowed from argv */
    int n_calib;
    const char **keep;    /* --keep-float names, borrowed from argv */
    int n_keep;
    double max_drop;      /* < 0: no repair */
    fc_repair_rank rank;
    bool rank_given;
    fc_quant_options q;
    long max_images, max_pixels;
    bool resize;
    fc_preproc pre;
} quantize_args;

static bool parse_method(const char *s, fc_calib_method *m)
{
    static const struct { const char *name; fc_calib_method m; } methods[] = {
        {"minmax", FC_CALIB_MINMAX}, {"percentile", FC_CALIB_PERCENTILE},
        {"entropy", FC_CALIB_ENTROPY}};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(s, methods[i].name)) {
            *m = methods[i].m;
            return true;
        }
    return false;
}

static bool parse_positive(const char *opt, const char *v, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !(d > 0.0) || d > hi) {
        cli_usage_error("quantize", "option %s: '%s' is not a number in (0, %g]", opt, v, hi);
        return false;
    }
    *out = d;
    return true;
}

/* Spreads a single --mean/--std number over the other list's channels. */
static int finish_preproc(fc_preproc *p, int n_mean, int n_std)
{
    if (n_mean && n_std && n_mean != n_std && n_mean != 1 && n_std != 1)
        return cli_usage_error("quantize", "--mean has %d values and --std %d", n_mean, n_std);
    p->n_channels = n_mean > n_std ? n_mean : n_std;
    for (int c = 1; c < p->n_channels; c++) {
        if (n_mean == 1)
            p->mean[c] = p->mean[0];
        if (n_std == 1)
            p->std[c] = p->std[0];
    }
    return -1;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, quantize_args *a)
{
    static const cli_opt opts[O_COUNT] = {
        [O_MODEL] = {"--model", true}, [O_CALIB] = {"--calib", true}, [O_OUT] = {"--out", true},
        [O_METHOD] = {"--method", true}, [O_PCT] = {"--percentile", true},
        [O_PER_TENSOR] = {"--per-tensor", false}, [O_MAXIMG] = {"--max-images", true},
        [O_BATCH] = {"--batch", true}, [O_RESIZE] = {"--resize", true},
        [O_MEAN] = {"--mean", true}, [O_STD] = {"--std", true}, [O_SCALE] = {"--scale", true},
        [O_BGR] = {"--bgr", false}, [O_MAXPX] = {"--max-pixels", true},
        [O_MAXDROP] = {"--max-drop", true}, [O_KEEP] = {"--keep-float", true},
        [O_RANK] = {"--rank", true},
    };
    a->q.method = FC_CALIB_MINMAX;
    a->method_name = "minmax";
    fc_preproc_default(&a->pre);
    a->max_drop = -1.0;
    a->calib = fc_calloc((size_t)argc + 1, sizeof *a->calib);
    a->keep = fc_calloc((size_t)argc + 1, sizeof *a->keep);
    if (!a->calib || !a->keep) {
        fprintf(stderr, "flipcheck quantize: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    int n_mean = 0, n_std = 0;
    fc_err perr;
    double d;
    long l;
    cli_parser p;
    cli_parser_init(&p, "quantize", argc, argv, opts, O_COUNT);
    const char *v;
    for (int k; (k = cli_next(&p, &v)) != CLI_ARG_END;) {
        switch (k) {
        case CLI_ARG_ERR: return CLI_EXIT_USAGE;
        case CLI_ARG_HELP: fputs(usage, stdout); return CLI_EXIT_OK;
        case CLI_ARG_POS: return cli_usage_error("quantize", "unexpected argument '%s'", v);
        case O_MODEL: a->model = v; break;
        case O_CALIB: a->calib[a->n_calib++] = v; break;
        case O_OUT: a->out = v; break;
        case O_METHOD:
            if (!parse_method(v, &a->q.method))
                return cli_usage_error("quantize", "option --method: unknown method '%s' "
                                       "(minmax, percentile, entropy)", v);
            a->method_name = v;
            break;
        case O_PCT:
            if (!parse_positive("--percentile", v, 100.0, &a->q.percentile))
                return CLI_EXIT_USAGE;
            break;
        case O_PER_TENSOR: a->q.per_tensor_weights = true; break;
        case O_KEEP: a->keep[a->n_keep++] = v; break;
        case O_RANK:
            if (strcmp(v, "added-noise") && strcmp(v, "sqnr"))
                return cli_usage_error("quantize", "option --rank: '%s' (added-noise, sqnr)", v);
            a->rank = strcmp(v, "sqnr") ? FC_REPAIR_RANK_ADDED_NOISE : FC_REPAIR_RANK_SQNR;
            a->rank_given = true;
            break;
        case O_MAXDROP: {
            char *end;
            a->max_drop = strtod(v, &end);
            if (end == v || *end || !(a->max_drop >= 0.0 && a->max_drop <= 1.0))
                return cli_usage_error("quantize", "option --max-drop: '%s' is not a fraction "
                                       "in [0, 1] (0.01 = one accuracy point)", v);
            break;
        }
        case O_MAXIMG:
            if (!cli_parse_int("quantize", "--max-images", v, 1, 1L << 30, &a->max_images))
                return CLI_EXIT_USAGE;
            break;
        case O_BATCH:
            if (!cli_parse_int("quantize", "--batch", v, 1, 65536, &l))
                return CLI_EXIT_USAGE;
            a->q.batch = l;
            break;
        case O_RESIZE:
            if (strcmp(v, "bilinear") != 0)
                return cli_usage_error("quantize", "option --resize: '%s' (only bilinear)", v);
            a->resize = true;
            break;
        case O_MEAN:
        case O_STD:
            if (fc_preproc_parse_list(v, k == O_MEAN ? "--mean" : "--std",
                                      k == O_MEAN ? a->pre.mean : a->pre.std,
                                      k == O_MEAN ? &n_mean : &n_std, &perr))
                return cli_usage_error("quantize", "option %s", perr.msg);
            break;
        case O_SCALE:
            if (!parse_positive("--scale", v, 1e6, &d))
                return CLI_EXIT_USAGE;
            a->pre.scale = (float)d;
            break;
        case O_BGR: a->pre.bgr = true; break;
        case O_MAXPX:
            if (!cli_parse_int("quantize", "--max-pixels", v, 1, 1L << 40, &a->max_pixels))
                return CLI_EXIT_USAGE;
            break;
        default: break;
        }
    }
    int rc = finish_preproc(&a->pre, n_mean, n_std);
    if (rc >= 0)
        return rc;
    if (!a->model)
        return cli_usage_error("quantize", "missing --model MODEL.onnx");
    if (!a->n_calib)
        return cli_usage_error("quantize", "missing --calib DATA (calibration images)");
    if (!a->out)
        return cli_usage_error("quantize", "missing --out Q.onnx");
    if (a->q.percentile > 0.0 && a->q.method != FC_CALIB_PERCENTILE)
        return cli_usage_error("quantize", "--percentile needs --method percentile");
    if (a->rank_given && a->max_drop < 0.0)
        return cli_usage_error("quantize", "--rank needs --max-drop");
    a->q.keep_float = a->keep;
    a->q.n_keep_float = a->n_keep;
    return -1;
}

/* The model's [N,C,H,W] float input as dataset options, or a usage error. */
static int image_input(const quantize_args *a, const fc_graph *g, fc_dataset_opts *o)
{
    const fc_value *v = g->n_inputs == 1 ? &g->values[g->inputs[0]] : NULL;
    if (!v || v->rank != 4 || (v->dtype != FC_DT_F32 && v->dtype != FC_DT_UNDEFINED) ||
        v->dims[1] < 1 || v->dims[1] > 4 || v->dims[2] < 1 || v->dims[3] < 1) {
        char s[128];
        return cli_usage_error("quantize", "%s: calibration needs one float [N,C,H,W] input "
                               "with fixed C, H, W; the model has %d input%s%s%s", a->model,
                               g->n_inputs, g->n_inputs == 1 ? " " : "s",
                               v ? v->name : "", v ? cli_value_shape_str(v, s, sizeof s) : "");
    }
    o->channels = (int)v->dims[1];
    o->height = v->dims[2];
    o->width = v->dims[3];
    o->resize = a->resize ? FC_RESIZE_BILINEAR : FC_RESIZE_NONE;
    o->png.max_pixels = (uint64_t)a->max_pixels;
    o->max_images = a->max_images;
    return -1;
}

static long size_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void report(const quantize_args *a, const fc_graph *q, const fc_quant_summary *s,
                   double seconds)
{
    printf("quantized %s: %s, %lld calibration images, %s weights, %.2f s\n", a->model,
           a->method_name, (long long)s->images,
           a->q.per_tensor_weights ? "per-tensor" : "per-channel", seconds);
    printf("  %d ops quantized (%d Relu/Clip folded into them), %d left in float; "
           "%d activations and %d weights quantized\n", s->quantized_ops, s->folded_activations,
           s->float_ops, s->activations, s->weights);
    fc_engine *e = NULL;
    fc_err err;
    char islands[256] = "";
    if (fc_engine_create(q, "q8", &e, &err) == FC_OK) {
        int n = fc_engine_float_islands(e, islands, sizeof islands);
        printf("  q8: %d fused integer ops, %d float islands%s%s\n", fc_engine_qdq_fused(e), n,
               n > 0 ? ": " : "", n > 0 ? islands : "");
    } else {
        printf("  q8: cannot run it: %s\n", err.msg);
    }
    fc_engine_free(e);
    long in = size_of(a->model), out = size_of(a->out);
    if (in > 0 && out >= 0)
        printf("  wrote %s: %ld bytes, %.1f%% of the fp32 file (%ld bytes)\n", a->out, out,
               100.0 * (double)out / (double)in, in);
}

static void print_step(const fc_repair_step *s, int k, void *user)
{
    (void)user;
    if (k == 0)
        printf("  step 0: all int8: accuracy %.2f%% (fp32 %.2f%%), drop %.2f points, %.2f s\n",
               100.0 * s->accuracy, 100.0 * (s->accuracy + s->drop), 100.0 * s->drop,
               s->seconds);
    else
        printf("  step %d: + %s in float (SQNR %.1f dB, adds %.4f): accuracy %.2f%%, "
               "drop %.2f points, %.2f s\n", k, s->layer, s->sqnr_db, s->added_noise,
               100.0 * s->accuracy, 100.0 * s->drop, s->seconds);
    fflush(stdout);
}

/* --max-drop: the repair loop; *q gets the model when the target is met.
 * Returns -1 to go on (write and report), else the exit code. */
static int repair(const quantize_args *a, const fc_graph *g, const fc_tensor *x,
                  const fc_dataset *data, fc_graph **q, fc_quant_summary *sum, double *seconds)
{
    if (!data->labels)
        return cli_usage_error("quantize", "--max-drop measures accuracy: the calibration data "
                               "needs labels (an image folder DIR/<class>/*.png)");
    printf("repairing %s: %s, %lld calibration images, target: drop <= %.2f points\n", a->model,
           a->method_name, (long long)x->dims[0], 100.0 * a->max_drop);
    fc_repair_opts o = {.quant = a->q, .max_drop = a->max_drop, .rank = a->rank,
                       .progress = print_step};
    fc_repair_result r;
    fc_err err;
    fc_err_clear(&err);
    double t0 = cli_now();
    if (fc_repair_quantize(g, x, data->labels, &o, &r, &err))
        return cli_report(a->model, &err);
    *seconds = cli_now() - t0;
    const fc_repair_step *last = &r.steps[r.n_steps - 1];
    printf("  %d layer%s kept in float%s", r.n_kept, r.n_kept == 1 ? "" : "s",
           r.n_kept ? ":" : "");
    for (int k = 0; k < r.n_kept; k++)
        printf(" %s", r.kept[k]);
    printf("\n  calibration %.2f s, ranking %.2f s, total %.2f s\n", r.calib_seconds,
           r.rank_seconds, r.total_seconds);
    int rc = -1;
    if (r.met) {
        printf("  target met: accuracy %.2f%%, drop %.2f points <= %.2f\n",
               100.0 * last->accuracy, 100.0 * last->drop, 100.0 * a->max_drop);
        *q = r.model;
        *sum = r.summary;
        r.model = NULL;
    } else {
        char why[96] = "";
        if (r.n_kept < r.n_ranked)
            snprintf(why, sizeof why, " (one more leaves nothing to quantize)");
        fprintf(stderr, "flipcheck quantize: %s: the accuracy drop stays above %.2f points with "
                "%d of the %d ranked layers in float%s (last: %.2f points); nothing written\n",
                a->model, 100.0 * a->max_drop, r.n_kept, r.n_ranked, why, 100.0 * last->drop);
        rc = CLI_EXIT_CHECK_FAILED;
    }
    fc_repair_result_free(&r);
    return rc;
}

int cli_quantize_main(int argc, char **argv)
{
    quantize_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    fc_graph *g = NULL, *q = NULL;
    fc_dataset data = {0};
    fc_tensor x = {0};
    fc_err err;
    fc_err_clear(&err);
    if (rc >= 0)
        goto done;
    rc = CLI_EXIT_USAGE;
    fc_dataset_opts o = {0};
    if (!cli_load_model(a.model, &g) || (rc = image_input(&a, g, &o)) >= 0)
        goto done;
    rc = CLI_EXIT_USAGE;
    fc_status st = fc_preproc_check(&a.pre, o.channels, &err);
    if (st) {
        rc = cli_report(a.model, &err);
        goto done;
    }
    if ((st = fc_dataset_load(a.calib, a.n_calib, &o, &data, &err)) ||
        (st = fc_preproc_apply(&a.pre, &data.images, &x, &err))) {
        rc = cli_report(a.calib[0], &err);
        goto done;
    }
    fc_quant_summary sum;
    double seconds = 0.0;
    if (a.max_drop >= 0.0) {
        if ((rc = repair(&a, g, &x, &data, &q, &sum, &seconds)) >= 0)
            goto done;
    } else {
        double t0 = cli_now();
        if ((st = fc_quantize_graph_ex(g, &x, &a.q, &q, &sum, &err))) {
            rc = cli_report(a.model, &err);
            goto done;
        }
        seconds = cli_now() - t0;
    }
    if ((st = fc_onnx_save(q, a.out, &err))) {
        rc = cli_report(a.out, &err);
        goto done;
    }
    report(&a, q, &sum, seconds);
    rc = CLI_EXIT_OK;
done:
    fc_graph_free(q);
    fc_graph_free(g);
    fc_tensor_release(&x);
    fc_dataset_free(&data);
    fc_free(a.calib);
    fc_free(a.keep);
    return rc;
}
