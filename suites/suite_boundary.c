/* TCases "boundary" and "garbage": inputs no training set contains.
 *
 * boundary: every boundary-value tensor (fc_gen.h: zeros, ones, NaN, +-Inf,
 * huge, denormal, -0.0, ...) on every configured engine, one Check test
 * per (engine, case) so a crash or hang names its exact input; each
 * records the prediction and how many outputs were not finite, and
 * nonfinite_total checks the sum against max_nonfinite_outputs.
 * garbage: seeded noise on every engine; broken PNGs through the image
 * loader; corrupted copies of the model file through the model loader.
 * Loaders must answer with a named error, never an internal one. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attacks/fc_gen.h"
#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "core/fc_limits.h"
#include "engines/fc_engine.h"
#include "io/fc_png.h"
#include "onnx/fc_onnx.h"
#include "suite_internal.h"
#include "suites/fc_suites.h"

#define CORRUPT_FLIPS 96      /* random overwrites of the model file */
#define CORRUPT_CUTS 24       /* truncations */

/* Runs one pixel batch, recording the prediction and non-finite outputs. */
static void run_tensor(const suite_ctx *ctx, fc_model *m, const fc_tensor *x, fc_case_out *o,
                       int64_t *nonfinite, int64_t *top1)
{
    fc_tensor y = {0};
    (void)ctx;
    *nonfinite = 0;
    *top1 = -1;
    if (case_logits(m, x, &y, o))
        return;
    const float *z = y.data;
    for (size_t i = 0; i < y.numel; i++)
        *nonfinite += !isfinite(z[i]);
    fc_logits_top1(&y, top1, NULL);
    fc_tensor_release(&y);
}

static fc_status gen(const suite_ctx *ctx, fc_gen_kind kind, fc_gen_set *set, fc_err *err)
{
    return fc_gen_tensors(kind, ctx->channels, ctx->height, ctx->width, ctx->mc->seed, NULL, set,
                          err);
}

static fc_model *open_for(const suite_ctx *ctx, const char *engine, fc_case_out *o)
{
    bool int8 = !strncmp(engine, "q8", 2);
    return int8 ? case_open_int8(ctx, engine, o) : case_open_fp32(ctx, engine, o);
}

static void case_boundary(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    fc_gen_set set = {0};
    fc_err err = {0};
    if (gen(ctx, FC_GEN_BOUNDARY, &set, &err) || c->index >= set.n) {
        case_fail(o, "%s: generating boundary cases: %s", ctx->mc->name, err.msg);
        fc_gen_set_free(&set);
        return;
    }
    fc_model *m = open_for(ctx, c->engine, o);
    if (m) {
        int64_t nonfinite, top1;
        run_tensor(ctx, m, &set.cases[c->index].x, o, &nonfinite, &top1);
        case_metric_str(o, "case", set.cases[c->index].name);
        case_metric_str(o, "input", set.cases[c->index].what);
        case_metric(o, "top1", (double)top1);
        const fc_tensor *x = &set.cases[c->index].x;
        bool finite_in = true;
        for (size_t k = 0; k < x->numel && finite_in; k++)
            finite_in = isfinite(((const float *)x->data)[k]);
        case_metric(o, "nonfinite_logits", (double)nonfinite);
        cJSON_AddBoolToObject(o->metrics, "finite_input", finite_in);
        /* max_nonfinite_outputs counts outputs (one per input) that are not
         * finite although the input was: NaN in, NaN out is no defect. */
        case_metric(o, "nonfinite_outputs", finite_in && nonfinite > 0);
        case_summary(o, "top-1 %lld, %lld non-finite logits", (long long)top1,
                     (long long)nonfinite);
        fc_model_free(m);
    }
    fc_gen_set_free(&set);
}

/* Sums nonfinite_outputs over the boundary tests' result files. */
static void case_nonfinite_total(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    (void)c;
    DIR *d = opendir(ctx->case_dir);
    if (!d) {
        case_fail(o, "%s: cannot read %s", ctx->mc->name, ctx->case_dir);
        return;
    }
    int64_t total = 0, files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json"))
            continue;
        char path[SUITE_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", ctx->case_dir, de->d_name);
        uint8_t *buf = NULL;
        size_t len;
        if (fc_file_read_all(path, 1u << 20, "result", &buf, &len, NULL))
            continue;
        cJSON *j = cJSON_Parse((const char *)buf);
        fc_free(buf);
        const cJSON *suite = cJSON_GetObjectItemCaseSensitive(j, "suite");
        const cJSON *met = cJSON_GetObjectItemCaseSensitive(j, "metrics");
        const cJSON *nf = cJSON_GetObjectItemCaseSensitive(met, "nonfinite_outputs");
        if (cJSON_IsString(suite) && !strcmp(suite->valuestring, "boundary") &&
            cJSON_IsNumber(nf)) {
            total += (int64_t)nf->valuedouble;
            files++;
        }
        cJSON_Delete(j);
    }
    closedir(d);
    case_metric(o, "boundary_results", (double)files);
    case_metric(o, "nonfinite_outputs_total", (double)total);
    long mx = ctx->mc->th.max_nonfinite_outputs;
    case_check_max(o, ctx, "max_nonfinite_outputs", mx < 0 ? NAN : (double)mx, (double)total,
                   "non-finite outputs over all boundary cases");
    case_summary(o, "%lld of %lld boundary outputs not finite", (long long)total,
                 (long long)files);
}

static void case_noise(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    fc_gen_set set = {0};
    fc_err err = {0};
    if (gen(ctx, FC_GEN_NOISE, &set, &err)) {
        case_fail(o, "%s: generating noise: %s", ctx->mc->name, err.msg);
        return;
    }
    fc_model *m = open_for(ctx, c->engine, o);
    int64_t nonfinite_total = 0, classes_hit = 0;
    int64_t hist[64] = {0};
    for (int i = 0; m && i < set.n && !o->failure[0]; i++) {
        int64_t nf, top1;
        run_tensor(ctx, m, &set.cases[i].x, o, &nf, &top1);
        nonfinite_total += nf;
        if (top1 >= 0 && top1 < 64)
            classes_hit += hist[top1]++ == 0;
    }
    case_metric(o, "cases", set.n);
    case_metric(o, "nonfinite_outputs", (double)nonfinite_total);
    case_metric(o, "distinct_predictions", (double)classes_hit);
    /* Noise in [0, 1] is a valid input: non-finite logits there are a defect. */
    if (nonfinite_total)
        case_fail(o, "%s: %lld non-finite outputs on noise images (%s)", ctx->mc->name,
                  (long long)nonfinite_total, c->engine);
    case_summary(o, "%d noise images, %lld distinct predictions", set.n, (long long)classes_hit);
    fc_model_free(m);
    fc_gen_set_free(&set);
}

static void case_png_loader(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    (void)c;
    fc_gen_files files = {0};
    fc_err err = {0};
    uint64_t cap = (uint64_t)ctx->width * (uint64_t)ctx->height * 4;
    if (fc_gen_pngs((uint32_t)ctx->width, (uint32_t)ctx->height, ctx->channels, ctx->mc->seed, cap,
                    &files, &err)) {
        case_fail(o, "%s: generating PNGs: %s", ctx->mc->name, err.msg);
        return;
    }
    /* Caps as tight as the model's own input allows keep the bombs cheap. */
    fc_png_limits lim = {.max_pixels = cap, .max_inflated = cap * 8};
    int refused = 0;
    for (int i = 0; i < files.n; i++) {
        fc_tensor t = {0};
        fc_err e = {0};
        fc_status st = fc_png_read_bytes(files.files[i].bytes, files.files[i].len,
                                         files.files[i].name, ctx->channels, &lim, &t, NULL, &e);
        fc_tensor_release(&t);
        if (st == FC_OK)
            case_fail(o, "broken PNG '%s' (%s) was accepted", files.files[i].name,
                      files.files[i].what);
        else if (st == FC_ERR_INTERNAL || !e.msg[0])
            case_fail(o, "broken PNG '%s' gave %s without a proper message: %s",
                      files.files[i].name, fc_status_name(st), e.msg);
        else
            refused++;
    }
    case_metric(o, "files", files.n);
    case_metric(o, "refused_with_named_error", refused);
    case_summary(o, "%d/%d broken PNGs refused by name", refused, files.n);
    fc_gen_files_free(&files);
}

/* Loads (and if it loads, runs once) one corrupted copy of the model. */
static fc_status try_variant(const suite_ctx *ctx, const uint8_t *b, size_t len, const char *dir,
                             const char *label, fc_err *e)
{
    fc_graph *g = NULL;
    fc_status st = fc_onnx_load_bytes(b, len, dir, label, &g, e);
    if (st)
        return st;
    fc_model *m = NULL;
    st = fc_model_from_graph(g, "f32", &ctx->mc->pre, &m, e);
    if (!st) {
        int64_t dims[4] = {1, ctx->channels, ctx->height, ctx->width};
        fc_tensor x = {0}, y = {0};
        st = fc_tensor_alloc(&x, FC_DT_F32, 4, dims, e);
        if (!st)
            st = fc_model_logits(m, &x, &y, e);
        fc_tensor_release(&x);
        fc_tensor_release(&y);
        fc_model_free(m);
    }
    fc_graph_free(g);
    return st;
}

static void case_model_loader(const suite_ctx *ctx, const suite_case *c, fc_case_out *o)
{
    (void)c;
    uint8_t *orig = NULL;
    size_t len = 0;
    fc_err err = {0};
    if (fc_file_read_all(ctx->mc->fp32, FC_MAX_MODEL_BYTES, "model", &orig, &len, &err)) {
        case_fail(o, "%s: %s", ctx->mc->name, err.msg);
        return;
    }
    uint8_t *b = fc_malloc(len ? len : 1);
    if (!b) {
        fc_free(orig);
        case_fail(o, "out of memory");
        return;
    }
    char dir[SUITE_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", ctx->mc->fp32);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    uint64_t rng = ctx->mc->seed ^ 0x6d6f64656cULL;
    int named = 0, loaded = 0, total = CORRUPT_CUTS + CORRUPT_FLIPS;
    for (int v = 0; v < total && !o->failure[0]; v++) {
        memcpy(b, orig, len);
        size_t n = len;
        char label[96];
        if (v < CORRUPT_CUTS) {
            n = len * (size_t)v / CORRUPT_CUTS;
            snprintf(label, sizeof label, "%s truncated to %zu bytes", ctx->mc->name, n);
        } else {
            int bytes = 1 + (int)(fc_rng_next(&rng) % 8);
            size_t at = len ? (size_t)(fc_rng_next(&rng) % len) : 0;
            for (int k = 0; k < bytes && at + (size_t)k < len; k++)
                b[at + (size_t)k] = (uint8_t)fc_rng_next(&rng);
            snprintf(label, sizeof label, "%s with %d bytes overwritten at %zu", ctx->mc->name,
                     bytes, at);
        }
        fc_err e = {0};
        fc_status st = try_variant(ctx, b, n, dir[0] ? dir : ".", label, &e);
        if (st == FC_OK)
            loaded++;
        else if (st == FC_ERR_INTERNAL || !e.msg[0])
            case_fail(o, "%s: %s ended in %s: %s", ctx->mc->name, label, fc_status_name(st),
                      e.msg);
        else
            named++;
    }
    case_metric(o, "variants", total);
    case_metric(o, "named_errors", named);
    case_metric(o, "still_loadable", loaded);
    case_summary(o, "%d corrupted files: %d named errors, %d still loadable", total, named,
                 loaded);
    fc_free(b);
    fc_free(orig);
}

fc_status suite_boundary_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err)
{
    fc_gen_set set = {0};
    fc_status st = gen(ctx, FC_GEN_BOUNDARY, &set, err);
    if (st)
        return st;
    for (int e = 0; e < ctx->mc->n_engines && !st; e++)
        for (int i = 0; i < set.n && !st; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s_%s", ctx->mc->engines[e], set.cases[i].name);
            suite_case *c = suite_cases_add(cs, 4, name, ctx->mc->engines[e], case_boundary);
            if (!c)
                st = fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
            else
                c->index = i;
        }
    fc_gen_set_free(&set);
    if (!st && !suite_cases_add(cs, 4, "nonfinite_total", "", case_nonfinite_total))
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
    return st;
}

fc_status suite_garbage_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err)
{
    for (int e = 0; e < ctx->mc->n_engines; e++) {
        char name[64];
        snprintf(name, sizeof name, "noise_%s", ctx->mc->engines[e]);
        if (!suite_cases_add(cs, 5, name, ctx->mc->engines[e], case_noise))
            goto nomem;
    }
    if (!suite_cases_add(cs, 5, "png_loader", "", case_png_loader) ||
        !suite_cases_add(cs, 5, "model_loader", "f32", case_model_loader))
        goto nomem;
    return FC_OK;
nomem:
    return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
}
