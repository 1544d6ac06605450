/* flipcheck gen: writes the generated cases (attacks/fc_gen.h) for a model's
 * input shape into a folder, with a manifest, so other runtimes can be fed
 * the same inputs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "attacks/fc_gen.h"
#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_file.h"
#include "core/fc_npy.h"
#include "io/fc_png.h"

static const char usage[] =
    "usage: flipcheck gen --kind boundary|noise|png|quant --model MODEL.onnx --out DIR\n"
    "                     [--seed S]\n"
    "\n"
    "Writes named, reproducible inputs that hurt models, for the model's input\n"
    "shape [1,C,H,W], plus DIR/manifest.json (name, file, description of each):\n"
    "  boundary  0, 1, 0.5, checkerboard, one hot pixel, channel extremes, -1, 2,\n"
    "            +-1e6, +-FLT_MAX, NaN (all, one pixel), +-Inf, denormals, -0.0\n"
    "  noise     uniform, Gaussian, salt-and-pepper, gray levels 0/16..16/16\n"
    "  quant     an int8 model's input quantization edges (zero point, qmin,\n"
    "            qmax, half steps), read from its input QuantizeLinear\n"
    "  png       broken PNG files (truncations, bad CRCs, bad IHDR, bombs, ...)\n"
    "Tensors are pixel-space float32 .npy [1,C,H,W]; PNG cases are .png files.\n"
    "\n"
    "options:\n"
    "  --kind K       which cases (required)\n"
    "  --model FILE   the ONNX model whose input shape to use (required)\n"
    "  --out DIR      folder to write (created if missing)\n"
    "  --seed S       seed for the random cases (default 1)\n";

enum { O_KIND, O_MODEL, O_OUT, O_SEED, O_COUNT };

/* The model's [N,C,H,W] input sizes. */
static bool input_chw(const fc_graph *g, int *c, int64_t *h, int64_t *w)
{
    if (g->n_inputs != 1)
        return false;
    const fc_value *v = &g->values[g->inputs[0]];
    if (v->rank != 4 || v->dims[1] < 1 || v->dims[1] > 4 || v->dims[2] < 1 || v->dims[3] < 1)
        return false;
    *c = (int)v->dims[1];
    *h = v->dims[2];
    *w = v->dims[3];
    return true;
}

/* Scale and zero point of the QuantizeLinear that reads the graph input. */
static bool input_quant(const fc_graph *g, fc_gen_quant *q)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const fc_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "QuantizeLinear") != 0 || n->n_inputs < 2 ||
            n->inputs[0] != g->inputs[0])
            continue;
        const fc_tensor *s = n->inputs[1] >= 0 ? g->values[n->inputs[1]].init : NULL;
        const fc_tensor *z = n->n_inputs > 2 && n->inputs[2] >= 0
                                 ? g->values[n->inputs[2]].init : NULL;
        if (!s || s->dtype != FC_DT_F32 || s->numel != 1)
            return false;
        q->scale = ((const float *)s->data)[0];
        bool is_i8 = z && z->dtype == FC_DT_I8;
        q->qmin = is_i8 ? -128 : 0;
        q->qmax = is_i8 ? 127 : 255;
        q->zero_point = z && z->numel == 1 ? (int)fc_tensor_get_i64(z, 0) : 0;
        return true;
    }
    return false;
}

static bool add_case(cJSON *cases, const char *name, const char *file, const char *what)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(cases, o)) {
        cJSON_Delete(o);
        return false;
    }
    return cJSON_AddStringToObject(o, "name", name) && cJSON_AddStringToObject(o, "file", file) &&
           cJSON_AddStringToObject(o, "what", what);
}

static fc_status write_tensors(const char *dir, const fc_gen_set *s, cJSON *cases, fc_err *err)
{
    for (int i = 0; i < s->n; i++) {
        char file[128], path[4096];
        snprintf(file, sizeof file, "%s.npy", s->cases[i].name);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        fc_status st = fc_npy_write(path, &s->cases[i].x, err);
        if (st)
            return st;
        if (!add_case(cases, s->cases[i].name, file, s->cases[i].what))
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    }
    return FC_OK;
}

static fc_status write_files(const char *dir, const fc_gen_files *f, cJSON *cases, fc_err *err)
{
    for (int i = 0; i < f->n; i++) {
        char file[128], path[4096];
        snprintf(file, sizeof file, "%s.png", f->files[i].name);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        fc_status st = fc_file_write_all(path, f->files[i].bytes, f->files[i].len, err);
        if (st)
            return st;
        if (!add_case(cases, f->files[i].name, file, f->files[i].what))
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    }
    return FC_OK;
}

static int generate(const char *kind, const char *model, const char *out, long seed,
                    const fc_graph *g)
{
    int c;
    int64_t h, w;
    fc_err err;
    fc_err_clear(&err);
    if (!input_chw(g, &c, &h, &w)) {
        fc_err_set(&err, FC_ERR_UNSUPPORTED, "%s: gen needs a model with one [N,C,H,W] input "
                   "(C <= 4, H and W fixed)", model);
        return cli_report(model, &err);
    }
    fc_gen_quant q;
    if (!strcmp(kind, "quant") && !input_quant(g, &q)) {
        fc_err_set(&err, FC_ERR_UNSUPPORTED, "%s: no QuantizeLinear with constant scale reads "
                   "the input; quant cases need an int8 model", model);
        return cli_report(model, &err);
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fc_err_set(&err, FC_ERR_IO, "%s: cannot create folder: %s", out, strerror(errno));
        return cli_report(out, &err);
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *cases = root ? cJSON_AddArrayToObject(root, "cases") : NULL;
    fc_status st = FC_OK;
    if (!cases || !cJSON_AddStringToObject(root, "kind", kind) ||
        !cJSON_AddStringToObject(root, "model", model) ||
        !cJSON_AddNumberToObject(root, "seed", (double)seed))
        st = fc_err_set(&err, FC_ERR_NOMEM, "out of memory");
    if (!st && !strcmp(kind, "png")) {
        fc_gen_files f;
        st = fc_gen_pngs((uint32_t)w, (uint32_t)h, c == 1 ? 1 : 3, (uint64_t)seed,
                         FC_PNG_DEFAULT_MAX_PIXELS, &f, &err);
        if (!st) {
            st = write_files(out, &f, cases, &err);
            fc_gen_files_free(&f);
        }
    } else if (!st) {
        fc_gen_kind k = !strcmp(kind, "boundary") ? FC_GEN_BOUNDARY
                        : !strcmp(kind, "noise")  ? FC_GEN_NOISE
                                                  : FC_GEN_QUANT;
        fc_gen_set s = {0};
        st = fc_gen_tensors(k, c, h, w, (uint64_t)seed, &q, &s, &err);
        if (!st)
            st = write_tensors(out, &s, cases, &err);
        fc_gen_set_free(&s);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", out);
    char *text = st ? NULL : cJSON_Print(root);
    if (!st && !text)
        st = fc_err_set(&err, FC_ERR_NOMEM, "out of memory");
    if (!st)
        st = fc_file_write_all(path, text, strlen(text), &err);
    if (text)
        cJSON_free(text);
    int n = cases ? cJSON_GetArraySize(cases) : 0;
    cJSON_Delete(root);
    if (st)
        return cli_report(out, &err);
    printf("wrote %d %s cases and manifest.json to %s\n", n, kind, out);
    return CLI_EXIT_OK;
}

int cli_gen_main(int argc, char **argv)
{
    static const cli_opt opts[O_COUNT] = {
        [O_KIND] = {"--kind", true}, [O_MODEL] = {"--model", true},
        [O_OUT] = {"--out", true}, [O_SEED] = {"--seed", true},
    };
    const char *kind = NULL, *model = NULL, *out = NULL;
    long seed = 1;
    cli_parser p;
    cli_parser_init(&p, "gen", argc, argv, opts, O_COUNT);
    const char *v;
    for (int k; (k = cli_next(&p, &v)) != CLI_ARG_END;) {
        switch (k) {
        case CLI_ARG_ERR: return CLI_EXIT_USAGE;
        case CLI_ARG_HELP: fputs(usage, stdout); return CLI_EXIT_OK;
        case CLI_ARG_POS: return cli_usage_error("gen", "unexpected argument '%s'", v);
        case O_KIND: kind = v; break;
        case O_MODEL: model = v; break;
        case O_OUT: out = v; break;
        case O_SEED:
            if (!cli_parse_int("gen", "--seed", v, 0, 0x7fffffffL, &seed))
                return CLI_EXIT_USAGE;
            break;
        default: break;
        }
    }
    if (!kind || (strcmp(kind, "boundary") && strcmp(kind, "noise") && strcmp(kind, "png") &&
                  strcmp(kind, "quant")))
        return cli_usage_error("gen", "--kind must be boundary, noise, png or quant");
    if (!model)
        return cli_usage_error("gen", "missing --model MODEL.onnx");
    if (!out)
        return cli_usage_error("gen", "missing --out DIR");
    fc_graph *g;
    if (!cli_load_model(model, &g))
        return CLI_EXIT_USAGE;
    int rc = generate(kind, model, out, seed, g);
    fc_graph_free(g);
    return rc;
}
