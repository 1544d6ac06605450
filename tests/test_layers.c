/* Per-layer comparison of an fp32 model with its int8 twin
 * (src/quant/fc_layers.h, `flipcheck layers`), on the peer models and 64
 * peer images:
 *  - QDQ files: every QuantizeLinear is a layer, each with a finite SQNR,
 *    a cosine in (0, 1] and sorted worst first; the first conv's output
 *    keeps > 20 dB;
 *  - a doctored twin (one layer's scale divided by 8, so its 8-bit range
 *    is 8x too narrow) puts that layer first with saturation > 0; its scale
 *    multiplied by 8 costs it > 12 dB (4x coarser steps: 16x the noise)
 *    without any saturation;
 *  - QOperator files pair every 8-bit value by name, with SQNRs close to
 *    the QDQ twin's;
 *  - a twin quantized in memory (fc_quantize_graph) pairs every layer too;
 *  - the CLI's --json gives the same numbers, and bad input exits 2 naming it;
 *  - every allocation failing in turn ends in FC_ERR_NOMEM. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fc_alloc.h"
#include "core/fc_npy.h"
#include "onnx/fc_onnx.h"
#include "quant/fc_layers.h"
#include "quant/fc_quantize.h"

#define PEERS FC_TEST_DATA "/peers/"
#define IMAGES PEERS "test_images_u8.npy"

static void load_images(int64_t n, fc_tensor *x)
{
    fc_err err;
    fc_tensor u8;
    ck_assert_msg(fc_npy_read(IMAGES, &u8, &err) == FC_OK, "%s", err.msg);
    int64_t dims[FC_MAX_RANK];
    memcpy(dims, u8.dims, sizeof dims);
    dims[0] = n;
    ck_assert_int_eq(fc_tensor_alloc(x, FC_DT_F32, u8.rank, dims, &err), FC_OK);
    for (size_t i = 0; i < x->numel; i++)
        ((float *)x->data)[i] = (float)((const uint8_t *)u8.data)[i] / 255.0f;
    fc_tensor_release(&u8);
}

static fc_graph *load(const char *path)
{
    fc_graph *g = NULL;
    fc_err err;
    ck_assert_msg(fc_onnx_load(path, &g, &err) == FC_OK, "%s", err.msg);
    return g;
}

static void compare(const fc_graph *f, const fc_graph *q, const fc_tensor *x,
                    fc_layer_report *r)
{
    fc_err err;
    fc_status st = fc_layer_compare(f, q, x, NULL, r, &err);
    ck_assert_msg(st == FC_OK, "%s", err.msg);
}

static int count_op(const fc_graph *g, const char *op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += strcmp(g->nodes[i].op_type, op) == 0;
    return n;
}

static const fc_layer_stat *find_layer(const fc_layer_report *r, const char *layer)
{
    for (int i = 0; i < r->n_layers; i++)
        if (strcmp(r->layers[i].layer, layer) == 0)
            return &r->layers[i];
    return NULL;
}

static void print_report(const char *title, const fc_layer_report *r)
{
    printf("layers: %s: %d layers, %d unpaired\n", title, r->n_layers, r->n_unpaired);
    for (int i = 0; i < r->n_layers; i++) {
        const fc_layer_stat *s = &r->layers[i];
        printf("  %-40s %-26s %8.2f dB  max %.4g  cos %.5f  sat %.3f%%\n", s->layer, s->op,
               s->sqnr_db, s->max_abs, s->cosine, 100 * s->saturated);
    }
    for (int i = 0; i < r->n_unpaired; i++)
        printf("  unpaired %s: %s\n", r->unpaired[i].qvalue, r->unpaired[i].reason);
    fflush(stdout);
}

/* Sorted worst first, every number in range. */
static void check_sane(const fc_layer_report *r, int64_t n_images)
{
    ck_assert_int_eq(r->n_images, n_images);
    for (int i = 0; i < r->n_layers; i++) {
        const fc_layer_stat *s = &r->layers[i];
        ck_assert_msg(isfinite(s->sqnr_db), "%s: SQNR %g", s->layer, s->sqnr_db);
        ck_assert_msg(s->cosine > 0 && s->cosine <= 1 + 1e-12, "%s: cosine %g", s->layer,
                      s->cosine);
        ck_assert_msg(s->saturated >= 0 && s->saturated <= 1, "%s", s->layer);
        ck_assert_msg(s->max_abs >= 0 && isfinite(s->max_abs), "%s", s->layer);
        ck_assert_msg(s->count > 0 && s->count % n_images == 0, "%s: %lld values", s->layer,
                      (long long)s->count);
        ck_assert_msg(s->qtype == FC_DT_U8 || s->qtype == FC_DT_I8, "%s", s->layer);
        if (i > 0)
            ck_assert_msg(s->sqnr_db >= r->layers[i - 1].sqnr_db, "not sorted at %d", i);
    }
}

/* The value the first Conv/Gemm of a QDQ file quantizes: the input of the
 * QuantizeLinear that reads that op's output. */
static const char *first_layer_output(const fc_graph *q)
{
    for (int i = 0; i < q->n_nodes; i++) {
        const fc_node *n = &q->nodes[i];
        if (strcmp(n->op_type, "Conv") && strcmp(n->op_type, "Gemm"))
            continue;
        return q->values[n->outputs[0]].name;
    }
    ck_abort_msg("no Conv or Gemm");
    return NULL;
}

static const char *const qdq_models[] = {"cnn", "resnet"};

START_TEST(qdq_layers_are_finite_sorted_and_the_first_is_clean)
{
    char fp[256], qp[256];
    snprintf(fp, sizeof fp, PEERS "%s.onnx", qdq_models[_i]);
    snprintf(qp, sizeof qp, PEERS "%s.qdq.onnx", qdq_models[_i]);
    fc_graph *f = load(fp), *q = load(qp);
    fc_tensor x;
    load_images(64, &x);
    fc_layer_report r;
    compare(f, q, &x, &r);
    print_report(qp, &r);
    check_sane(&r, 64);
    ck_assert_int_eq(r.n_unpaired, 0);
    ck_assert_int_eq(r.n_layers, count_op(q, "QuantizeLinear"));
    const char *first = first_layer_output(q);
    const fc_layer_stat *s = find_layer(&r, first);
    ck_assert_msg(s != NULL, "no layer %s", first);
    ck_assert_msg(s->sqnr_db > 20.0, "%s: SQNR %.2f dB", first, s->sqnr_db);
    ck_assert_msg(s->cosine > 0.99, "%s: cosine %g", first, s->cosine);
    /* The logits are a layer too (ONNX Runtime's logits_QuantizeLinear_Input). */
    ck_assert_ptr_nonnull(find_layer(&r, "logits"));
    fc_layer_report_free(&r);
    fc_tensor_release(&x);
    fc_graph_free(q);
    fc_graph_free(f);
}
END_TEST

/* The scale initializer of the QuantizeLinear whose float input is `layer`. */
static fc_tensor *scale_of(fc_graph *q, const char *layer)
{
    for (int i = 0; i < q->n_nodes; i++) {
        const fc_node *n = &q->nodes[i];
        if (strcmp(n->op_type, "QuantizeLinear") == 0 &&
            strcmp(q->values[n->inputs[0]].name, layer) == 0) {
            fc_tensor *s = q->values[n->inputs[1]].init;
            ck_assert_ptr_nonnull(s);
            ck_assert_int_eq(s->dtype, FC_DT_F32);
            return s;
        }
    }
    ck_abort_msg("no QuantizeLinear reads %s", layer);
    return NULL;
}

START_TEST(a_doctored_scale_shows_up_in_its_layer)
{
    fc_graph *f = load(PEERS "cnn.onnx"), *q = load(PEERS "cnn.qdq.onnx"), *d = NULL;
    fc_tensor x;
    load_images(64, &x);
    fc_layer_report base, narrow, coarse;
    compare(f, q, &x, &base);
    /* The last hidden layer: Gemm + Relu before the logits. */
    const char *layer = "/8/Relu_output_0";
    const fc_layer_stat *b = find_layer(&base, layer);
    ck_assert_ptr_nonnull(b);
    ck_assert_double_eq(b->saturated, 0);

    fc_err err;
    ck_assert_int_eq(fc_graph_clone(q, &d, &err), FC_OK);
    float *s = scale_of(d, layer)->data;
    float orig = s[0];
    s[0] = orig / 8;   /* 8-bit values 8x larger: most of them clip */
    compare(f, d, &x, &narrow);
    print_report("cnn.qdq with /8/Relu_output_0's scale / 8", &narrow);
    check_sane(&narrow, 64);
    ck_assert_str_eq(narrow.layers[0].layer, layer);
    ck_assert_msg(narrow.layers[0].saturated > 0.01, "saturated %g", narrow.layers[0].saturated);
    ck_assert_msg(narrow.layers[0].sqnr_db < b->sqnr_db - 10, "%.2f vs %.2f dB",
                  narrow.layers[0].sqnr_db, b->sqnr_db);

    s[0] = orig * 8;   /* 8x coarser steps, no clipping */
    compare(f, d, &x, &coarse);
    print_report("cnn.qdq with /8/Relu_output_0's scale * 8", &coarse);
    const fc_layer_stat *c = find_layer(&coarse, layer);
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(c->sqnr_db < b->sqnr_db - 12, "%.2f vs %.2f dB", c->sqnr_db, b->sqnr_db);
    ck_assert_double_eq(c->saturated, 0);
    /* Layers before it do not change. */
    const fc_layer_stat *e0 = find_layer(&base, "/1/Relu_output_0");
    const fc_layer_stat *e1 = find_layer(&coarse, "/1/Relu_output_0");
    ck_assert_ptr_nonnull(e0);
    ck_assert_ptr_nonnull(e1);
    ck_assert_double_eq(e0->sqnr_db, e1->sqnr_db);

    fc_layer_report_free(&coarse);
    fc_layer_report_free(&narrow);
    fc_layer_report_free(&base);
    fc_tensor_release(&x);
    fc_graph_free(d);
    fc_graph_free(q);
    fc_graph_free(f);
}
END_TEST

START_TEST(qoperator_files_pair_every_layer_by_name)
{
    static const char *const models[] = {"cnn", "resnet", "mobilenet"};
    char fp[256], qp[256], dp[256];
    snprintf(fp, sizeof fp, PEERS "%s.onnx", models[_i]);
    snprintf(qp, sizeof qp, PEERS "%s.qop.onnx", models[_i]);
    snprintf(dp, sizeof dp, PEERS "%s.qdq.onnx", models[_i]);
    fc_graph *f = load(fp), *q = load(qp), *qdq = load(dp);
    fc_tensor x;
    load_images(64, &x);
    fc_layer_report r, rd;
    compare(f, q, &x, &r);
    compare(f, qdq, &x, &rd);
    print_report(qp, &r);
    check_sane(&r, 64);
    ck_assert_int_eq(r.n_unpaired, 0);
    /* Every integer op and every 8-bit pass-through op is a layer. */
    int expect = count_op(q, "QuantizeLinear") + count_op(q, "QLinearConv") +
                 count_op(q, "QGemm") + count_op(q, "QLinearAdd") +
                 count_op(q, "QLinearGlobalAveragePool") + count_op(q, "MaxPool") +
                 count_op(q, "Flatten");
    ck_assert_int_eq(r.n_layers, expect);
    /* Paired with the same fp32 values as the QDQ twin (its Relu/Clip
     * outputs, not the conv outputs ONNX Runtime names the QOperator
     * values after), so the SQNRs agree within a few dB. */
    int common = 0;
    for (int i = 0; i < r.n_layers; i++) {
        const fc_layer_stat *a = &r.layers[i], *b = find_layer(&rd, a->layer);
        ck_assert_int_ge(fc_graph_find_value(f, a->layer), 0);
        if (!b)
            continue;
        common++;
        ck_assert_msg(fabs(a->sqnr_db - b->sqnr_db) < 3.0, "%s: qop %.2f dB, qdq %.2f dB",
                      a->layer, a->sqnr_db, b->sqnr_db);
    }
    ck_assert_msg(common >= r.n_layers - 1, "only %d of %d layers in common with the QDQ file",
                  common, r.n_layers);
    fc_layer_report_free(&rd);
    fc_layer_report_free(&r);
    fc_tensor_release(&x);
    fc_graph_free(qdq);
    fc_graph_free(q);
    fc_graph_free(f);
}
END_TEST

START_TEST(a_twin_quantized_in_memory_pairs_every_layer)
{
    fc_graph *f = load(PEERS "cnn.onnx"), *q = NULL;
    fc_tensor all, calib, x;
    load_images(128, &all);
    /* Calibrate on images 64..127, compare on 0..63. */
    calib = all;
    calib.owns_data = false;
    calib.dims[0] = 64;
    calib.numel = all.numel / 2;
    calib.data = (float *)all.data + calib.numel;
    load_images(64, &x);
    fc_err err;
    fc_quant_options o = {.method = FC_CALIB_MINMAX};
    ck_assert_msg(fc_quantize_graph(f, &calib, &o, &q, &err) == FC_OK, "%s", err.msg);
    fc_layer_report r;
    compare(f, q, &x, &r);
    print_report("cnn quantized in memory", &r);
    check_sane(&r, 64);
    ck_assert_int_eq(r.n_unpaired, 0);
    ck_assert_int_eq(r.n_layers, count_op(q, "QuantizeLinear"));
    ck_assert_ptr_nonnull(find_layer(&r, "logits"));
    const fc_layer_stat *s = find_layer(&r, "/1/Relu_output_0");
    ck_assert_ptr_nonnull(s);
    ck_assert_msg(s->sqnr_db > 20.0, "SQNR %.2f dB", s->sqnr_db);
    fc_layer_report_free(&r);
    fc_tensor_release(&x);
    fc_tensor_release(&all);
    fc_graph_free(q);
    fc_graph_free(f);
}
END_TEST

START_TEST(dynamic_files_and_bad_arguments_are_refused)
{
    fc_graph *f = load(PEERS "cnn.onnx"), *q = load(PEERS "cnn.dyn.onnx");
    fc_tensor x;
    load_images(4, &x);
    fc_layer_report r;
    fc_err err;
    fc_status st = fc_layer_compare(f, q, &x, NULL, &r, &err);
    ck_assert_msg(st == FC_ERR_UNSUPPORTED, "%s: %s", fc_status_name(st), err.msg);
    ck_assert_msg(strstr(err.msg, "cnn.dyn.onnx") != NULL, "%s", err.msg);
    ck_assert_int_eq(r.n_layers, 0);
    fc_tensor u8 = x;
    u8.dtype = FC_DT_U8;
    st = fc_layer_compare(f, f, &u8, NULL, &r, &err);
    ck_assert_int_eq(st, FC_ERR_INVALID_ARG);
    fc_tensor_release(&x);
    fc_graph_free(q);
    fc_graph_free(f);
}
END_TEST

/* ---- the CLI ---------------------------------------------------------------- */

typedef struct result {
    int code;
    char *out, *err;
} result;

static char *slurp_fd(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    for (ssize_t n; (n = read(fd, s + len, cap - len - 1)) > 0;) {
        len += (size_t)n;
        if (cap - len < 2) {
            cap *= 2;
            s = realloc(s, cap);
            ck_assert_ptr_nonnull(s);
        }
    }
    s[len] = 0;
    return s;
}

static result run_cli(const char *const *args)
{
    const char *argv[32] = {FLIPCHECK_BIN};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    char out[] = "/tmp/fc_layers_out_XXXXXX", errp[] = "/tmp/fc_layers_err_XXXXXX";
    int fo = mkstemp(out), fe = mkstemp(errp);
    ck_assert(fo >= 0 && fe >= 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execv(FLIPCHECK_BIN, (char *const *)argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    lseek(fo, 0, SEEK_SET);
    lseek(fe, 0, SEEK_SET);
    result r = {-1, slurp_fd(fo), slurp_fd(fe)};
    close(fo);
    close(fe);
    unlink(out);
    unlink(errp);
    ck_assert_msg(WIFEXITED(status), "killed by a signal; stderr: %s", r.err);
    r.code = WEXITSTATUS(status);
    ck_assert_msg(!strstr(r.err, "Sanitizer") && !strstr(r.err, "runtime error"), "%s", r.err);
    return r;
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

START_TEST(cli_json_matches_the_library)
{
    const char *args[] = {"layers", "--model", PEERS "cnn.onnx", "--quantized",
                          PEERS "cnn.qdq.onnx", "--json", "--max-images", "64", IMAGES, NULL};
    result res = run_cli(args);
    ck_assert_msg(res.code == 0, "exit %d: %s", res.code, res.err);
    cJSON *j = cJSON_Parse(res.out);
    ck_assert_msg(cJSON_IsArray(j), "not a JSON array: %.200s", res.out);

    fc_graph *f = load(PEERS "cnn.onnx"), *q = load(PEERS "cnn.qdq.onnx");
    fc_tensor x;
    load_images(64, &x);
    fc_layer_report r;
    compare(f, q, &x, &r);
    ck_assert_int_eq(cJSON_GetArraySize(j), r.n_layers);
    for (int i = 0; i < r.n_layers; i++) {
        const cJSON *o = cJSON_GetArrayItem(j, i);
        const cJSON *layer = cJSON_GetObjectItemCaseSensitive(o, "layer");
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "op");
        const cJSON *sqnr = cJSON_GetObjectItemCaseSensitive(o, "sqnr_db");
        const cJSON *sat = cJSON_GetObjectItemCaseSensitive(o, "saturated");
        const cJSON *cosv = cJSON_GetObjectItemCaseSensitive(o, "cosine");
        const cJSON *mx = cJSON_GetObjectItemCaseSensitive(o, "max_abs");
        ck_assert(cJSON_IsString(layer) && cJSON_IsString(op));
        ck_assert(cJSON_IsNumber(sqnr) && cJSON_IsNumber(sat) && cJSON_IsNumber(cosv) &&
                  cJSON_IsNumber(mx));
        ck_assert_str_eq(layer->valuestring, r.layers[i].layer);
        ck_assert_str_eq(op->valuestring, r.layers[i].op);
        ck_assert_double_eq_tol(sqnr->valuedouble, r.layers[i].sqnr_db, 1e-9);
        ck_assert_double_eq_tol(sat->valuedouble, r.layers[i].saturated, 1e-12);
        if (i > 0)
            ck_assert(sqnr->valuedouble >= cJSON_GetObjectItem(cJSON_GetArrayItem(j, i - 1),
                                                               "sqnr_db")->valuedouble);
    }
    fc_layer_report_free(&r);
    fc_tensor_release(&x);
    fc_graph_free(q);
    fc_graph_free(f);
    cJSON_Delete(j);
    result_free(&res);

    /* The table: a header and one row per layer. */
    const char *targs[] = {"layers", "--model", PEERS "cnn.onnx", "--quantized",
                           PEERS "cnn.qop.onnx", "--max-images", "16", IMAGES, NULL};
    res = run_cli(targs);
    ck_assert_msg(res.code == 0, "exit %d: %s", res.code, res.err);
    ck_assert_msg(strstr(res.out, "SQNR dB") && strstr(res.out, "/1/Relu_output_0") &&
                  strstr(res.out, "QLinearConv"), "%s", res.out);
    result_free(&res);

    /* --calib: the twin made in memory, every layer (logits included) paired. */
    const char *cargs[] = {"layers", "--model", PEERS "cnn.onnx", "--calib",
                           FC_SOURCE_DIR "/images/fashion/calib", "--json", "--max-images", "32",
                           IMAGES, NULL};
    res = run_cli(cargs);
    ck_assert_msg(res.code == 0, "exit %d: %s", res.code, res.err);
    ck_assert_msg(!strstr(res.err, "not compared"), "%s", res.err);
    j = cJSON_Parse(res.out);
    ck_assert_msg(cJSON_IsArray(j), "not a JSON array: %.200s", res.out);
    ck_assert_int_ge(cJSON_GetArraySize(j), 7);
    bool logits = false;
    const cJSON *o;
    cJSON_ArrayForEach(o, j) {
        const cJSON *layer = cJSON_GetObjectItemCaseSensitive(o, "layer");
        ck_assert(cJSON_IsString(layer));
        logits = logits || strcmp(layer->valuestring, "logits") == 0;
    }
    ck_assert(logits);
    cJSON_Delete(j);
    result_free(&res);
}
END_TEST

START_TEST(cli_bad_input_exits_2_naming_it)
{
    struct { const char *args[12]; const char *needle; } cases[] = {
        {{"layers", "--model", PEERS "cnn.onnx", IMAGES, NULL}, "--quantized"},
        {{"layers", "--model", PEERS "cnn.onnx", "--quantized", "/nonexistent/q.onnx", IMAGES,
          NULL}, "/nonexistent/q.onnx"},
        {{"layers", "--model", PEERS "cnn.onnx", "--quantized", PEERS "cnn.dyn.onnx",
          "--max-images", "2", IMAGES, NULL}, "cnn.dyn.onnx"},
        {{"layers", "--model", PEERS "cnn.onnx", "--quantized", PEERS "cnn.qdq.onnx",
          "/nonexistent/images.npy", NULL}, "/nonexistent/images.npy"},
        {{"layers", "--model", PEERS "cnn.onnx", "--quantized", PEERS "cnn.qdq.onnx",
          "--engine", "f32", IMAGES, NULL}, "--engine"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r = run_cli(cases[i].args);
        ck_assert_msg(r.code == 2, "case %zu: exit %d: %s", i, r.code, r.err);
        ck_assert_msg(strstr(r.err, cases[i].needle) != NULL, "case %zu: '%s' not in: %s", i,
                      cases[i].needle, r.err);
        ck_assert_str_eq(r.out, "");
        result_free(&r);
    }
}
END_TEST

/* Every allocation of a comparison failing in turn: FC_ERR_NOMEM, nothing
 * left in the report (leaks: the ASan build). */
START_TEST(allocation_failures_end_in_nomem)
{
    fc_graph *f = load(PEERS "mlp.onnx"), *q = load(PEERS "mlp.qdq.onnx");
    fc_tensor x;
    load_images(2, &x);
    fc_layer_report r;
    fc_err err;
    fc_layer_opts o = {.batch = 1};
    unsigned long before = fc_alloc_count();
    ck_assert_int_eq(fc_layer_compare(f, q, &x, &o, &r, &err), FC_OK);
    long total = (long)(fc_alloc_count() - before);
    ck_assert_int_eq(r.n_layers, 4);   /* input, two hidden Gemms, logits */
    fc_layer_report_free(&r);
    ck_assert_int_gt(total, 20);
    for (long k = 0; k < total; k++) {
        fc_alloc_fail_after(k);
        fc_status st = fc_layer_compare(f, q, &x, &o, &r, &err);
        fc_alloc_fail_reset();
        ck_assert_msg(st == FC_ERR_NOMEM, "allocation %ld of %ld: %s (%s)", k, total,
                      fc_status_name(st), err.msg);
        ck_assert_ptr_null(r.layers);
        ck_assert_ptr_null(r.unpaired);
    }
    fc_tensor_release(&x);
    fc_graph_free(q);
    fc_graph_free(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, qdq_layers_are_finite_sorted_and_the_first_is_clean, 0, 2);
    tcase_add_test(tc, a_doctored_scale_shows_up_in_its_layer);
    tcase_add_loop_test(tc, qoperator_files_pair_every_layer_by_name, 0, 3);
    tcase_add_test(tc, a_twin_quantized_in_memory_pairs_every_layer);
    tcase_add_test(tc, dynamic_files_and_bad_arguments_are_refused);
    tcase_add_test(tc, cli_json_matches_the_library);
    tcase_add_test(tc, cli_bad_input_exits_2_naming_it);
    tcase_add_test(tc, allocation_failures_end_in_nomem);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
