/* ONNX operator conformance: every case in libonnx-testdata's data/node/
 * whose single node is an op flipcheck supports and whose tensors are
 * float32/int64/int32/uint8/int8 runs on both fp32 engines and must match
 * the expected outputs (rtol 1e-4, atol 1e-5; integers exact).  The cases
 * of the quantized ops (int8_ops below) run instead on both int8 engines,
 * q8-ref and q8, and must all pass.
 *
 * Each case runs in a child process so a crash (or, under ASan, a leak) in
 * one case is recorded as that case's failure and the others still count. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fc_alloc.h"
#include "engines/fc_engine.h"
#include "onnx.pb-c.h"
#include "onnx/fc_onnx.h"
#include "onnx/fc_plan.h"

#ifndef FC_ONNX_NODE_DIR
#define FC_ONNX_NODE_DIR "/usr/share/libonnx-testdata/data/node"
#endif

#define MAX_CASES 2048
#define REASON_MAX 300

/* The quantized ops: their cases belong to the int8 engines. */
static const char *const int8_ops[] = {
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger",
    "ConvInteger",    "QLinearConv",      "QLinearMatMul",
};

static bool is_int8_op(const char *op)
{
    for (size_t i = 0; i < sizeof int8_ops / sizeof int8_ops[0]; i++)
        if (strcmp(op, int8_ops[i]) == 0)
            return true;
    return false;
}

static bool allowed_elem_type(int32_t t)
{
    return t == FC_DT_F32 || t == FC_DT_I64 || t == FC_DT_I32 || t == FC_DT_U8 ||
           t == FC_DT_I8;
}

static bool value_info_allowed(const Onnx__ValueInfoProto *vi)
{
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        return false;
    return allowed_elem_type(vi->type->tensor_type->elem_type);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = size > 0 ? malloc((size_t)size) : NULL;
    if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)size : 0;
    return buf;
}

/* A case is in scope when its one node is supported, is a quantized op
 * exactly when `int8`, and all its graph inputs/outputs have an allowed
 * element type. */
static bool case_in_scope(const char *model_path, bool int8, char *op, size_t op_size)
{
    size_t len;
    uint8_t *bytes = read_all(model_path, &len);
    if (!bytes)
        return false;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, bytes);
    free(bytes);
    if (!m)
        return false;
    bool ok = m->graph && m->graph->n_node == 1;
    if (ok) {
        const Onnx__NodeProto *n = m->graph->node[0];
        snprintf(op, op_size, "%s", n->op_type);
        ok = fc_op_find(n->domain ? n->domain : "", n->op_type) != NULL &&
             is_int8_op(n->op_type) == int8;
        for (size_t i = 0; ok && i < m->graph->n_input; i++)
            ok = value_info_allowed(m->graph->input[i]);
        for (size_t i = 0; ok && i < m->graph->n_output; i++)
            ok = value_info_allowed(m->graph->output[i]);
    }
    onnx__model_proto__free_unpacked(m, NULL);
    return ok;
}

static bool close_enough(const fc_tensor *got, const fc_tensor *want, char *why, size_t size)
{
    if (got->dtype != want->dtype) {
        snprintf(why, size, "dtype %s, expected %s", fc_dtype_name(got->dtype),
                 fc_dtype_name(want->dtype));
        return false;
    }
    if (got->numel != want->numel || (got->rank != want->rank && want->numel != 1)) {
        char a[96], b[96];
        snprintf(why, size, "shape %s, expected %s", fc_dims_str(got->rank, got->dims, a, sizeof a),
                 fc_dims_str(want->rank, want->dims, b, sizeof b));
        return false;
    }
    bool is_float = want->dtype == FC_DT_F32 || want->dtype == FC_DT_F64;
    for (size_t i = 0; i < want->numel; i++) {
        double g = fc_tensor_get_f64(got, i), w = fc_tensor_get_f64(want, i);
        if (!is_float) {
            if (fc_tensor_get_i64(got, i) != fc_tensor_get_i64(want, i)) {
                snprintf(why, size, "element %zu is %lld, expected %lld", i,
                         (long long)fc_tensor_get_i64(got, i), (long long)fc_tensor_get_i64(want, i));
                return false;
            }
            continue;
        }
        if (isnan(w) && isnan(g))
            continue;
        if (isinf(w) && g == w)
            continue;
        if (!(fabs(g - w) <= 1e-5 + 1e-4 * fabs(w))) {
            snprintf(why, size, "element %zu is %.7g, expected %.7g", i, g, w);
            return false;
        }
    }
    return true;
}

static int count_files(const char *dir, const char *prefix)
{
    int n = 0;
    char path[1024];
    for (;;) {
        snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, n);
        struct stat st;
        if (stat(path, &st) != 0)
            return n;
        n++;
    }
}

/* Runs every test_data_set_* of one case on one engine. */
static bool run_case_on(const fc_graph *g, const char *case_dir, const char *engine, char *why,
                        size_t size)
{
    fc_err err;
    fc_err_clear(&err);
    fc_engine *e = NULL;
    if (fc_engine_create(g, engine, &e, &err)) {
        snprintf(why, size, "%s: %s", engine, err.msg);
        return false;
    }
    bool ok = true;
    for (int set = 0; ok; set++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/test_data_set_%d", case_dir, set);
        struct stat st;
        if (stat(dir, &st) != 0)
            break;
        int n_in = count_files(dir, "input"), n_out = count_files(dir, "output");
        fc_tensor in[16], out[16], want[16];
        memset(in, 0, sizeof in);
        memset(out, 0, sizeof out);
        memset(want, 0, sizeof want);
        if (n_in > 16 || n_out > 16 || n_in != g->n_inputs || n_out != g->n_outputs) {
            snprintf(why, size, "%s: case has %d inputs/%d outputs, model %d/%d", engine, n_in,
                     n_out, g->n_inputs, g->n_outputs);
            ok = false;
            break;
        }
        for (int i = 0; ok && i < n_in; i++) {
            char p[1100];
            snprintf(p, sizeof p, "%s/input_%d.pb", dir, i);
            if (fc_onnx_read_tensor_pb(p, &in[i], &err)) {
                snprintf(why, size, "%s: reading %s: %s", engine, p, err.msg);
                ok = false;
            }
        }
        for (int i = 0; ok && i < n_out; i++) {
            char p[1100];
            snprintf(p, sizeof p, "%s/output_%d.pb", dir, i);
            if (fc_onnx_read_tensor_pb(p, &want[i], &err)) {
                snprintf(why, size, "%s: reading %s: %s", engine, p, err.msg);
                ok = false;
            }
        }
        if (ok && fc_engine_run(e, in, n_in, out, n_out, &err)) {
            snprintf(why, size, "%s: %s", engine, err.msg);
            ok = false;
        } else if (ok) {
            for (int i = 0; ok && i < n_out; i++) {
                char detail[200];
                if (!close_enough(&out[i], &want[i], detail, sizeof detail)) {
                    snprintf(why, size, "%s: output %d: %s", engine, i, detail);
                    ok = false;
                }
            }
            for (int i = 0; i < n_out; i++)
                fc_tensor_release(&out[i]);
        }
        for (int i = 0; i < 16; i++) {
            fc_tensor_release(&in[i]);
            fc_tensor_release(&want[i]);
        }
    }
    fc_engine_free(e);
    return ok;
}

/* Child process body: 0 = pass; otherwise the reason is written to fd.
 * engines: the two engine kinds to run the case on. */
static int run_case(const char *case_dir, const char *const *engines, int fd)
{
    char model[1100], why[REASON_MAX] = "";
    snprintf(model, sizeof model, "%s/model.onnx", case_dir);
    fc_err err;
    fc_err_clear(&err);
    fc_graph *g = NULL;
    bool ok;
    if (fc_onnx_load(model, &g, &err)) {
        snprintf(why, sizeof why, "load: %s", err.msg);
        ok = false;
    } else {
        ok = run_case_on(g, case_dir, engines[0], why, sizeof why) &&
             run_case_on(g, case_dir, engines[1], why, sizeof why);
    }
    fc_graph_free(g);
    if (!ok) {
        ssize_t w = write(fd, why, strlen(why));
        (void)w;
    }
    return ok ? 0 : 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct suite_result {
    int in_scope, passed, n_fail;
    char failures[MAX_CASES][REASON_MAX + 64];
} suite_result;

/* Runs every in-scope case (see case_in_scope) on both engines. */
static void run_suite(bool int8, const char *const *engines, suite_result *r)
{
    DIR *d = opendir(FC_ONNX_NODE_DIR);
    ck_assert_msg(d != NULL, "libonnx-testdata not found at %s (apt-get install libonnx-testdata)",
                  FC_ONNX_NODE_DIR);
    char *names[MAX_CASES];
    int n_names = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) && n_names < MAX_CASES)
        if (strncmp(ent->d_name, "test_", 5) == 0)
            names[n_names++] = strdup(ent->d_name);
    closedir(d);
    qsort(names, (size_t)n_names, sizeof names[0], cmp_str);

    r->in_scope = r->passed = r->n_fail = 0;
    for (int i = 0; i < n_names; i++) {
        char case_dir[1024], model[1100], op[64] = "";
        snprintf(case_dir, sizeof case_dir, "%s/%s", FC_ONNX_NODE_DIR, names[i]);
        snprintf(model, sizeof model, "%s/model.onnx", case_dir);
        if (!case_in_scope(model, int8, op, sizeof op))
            continue;
        r->in_scope++;
        int pipefd[2];
        ck_assert_int_eq(pipe(pipefd), 0);
        fflush(stdout);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(pipefd[0]);
            int rc = run_case(case_dir, engines, pipefd[1]);
            close(pipefd[1]);
            exit(rc);
        }
        close(pipefd[1]);
        char why[REASON_MAX + 1];
        ssize_t got = read(pipefd[0], why, REASON_MAX);
        why[got > 0 ? got : 0] = '\0';
        close(pipefd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            r->passed++;
            continue;
        }
        if (WIFSIGNALED(status))
            snprintf(why, sizeof why, "crashed with signal %d", WTERMSIG(status));
        else if (!why[0])
            snprintf(why, sizeof why, "exit status %d (sanitizer report above)", WEXITSTATUS(status));
        snprintf(r->failures[r->n_fail++], sizeof r->failures[0], "%s (%s): %s", names[i], op,
                 why);
    }
    for (int i = 0; i < n_names; i++)
        free(names[i]);
    printf("conformance: %d of %d in-scope cases pass on %s and %s (%.1f%%)\n", r->passed,
           r->in_scope, engines[0], engines[1],
           r->in_scope ? 100.0 * r->passed / r->in_scope : 0.0);
    for (int i = 0; i < r->n_fail; i++)
        printf("  not passing: %s\n", r->failures[i]);
    fflush(stdout);   /* a failing check ends the forked test without flushing */
}

START_TEST(conformance_cases_pass_on_both_fp32_engines)
{
    static suite_result r;
    static const char *const engines[] = {"f32-ref", "f32"};
    run_suite(false, engines, &r);
    double rate = r.in_scope ? (double)r.passed / r.in_scope : 0.0;
    ck_assert_int_ge(r.in_scope, 150);
    ck_assert_msg(rate >= 0.95, "only %d of %d conformance cases pass", r.passed, r.in_scope);
}
END_TEST

/* QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
 * ConvInteger, QLinearConv, QLinearMatMul: every case passes on q8-ref and
 * q8 (integers exact). */
START_TEST(int8_conformance_cases_pass_on_both_int8_engines)
{
    static suite_result r;
    static const char *const engines[] = {"q8-ref", "q8"};
    run_suite(true, engines, &r);
    ck_assert_int_ge(r.in_scope, 14);
    ck_assert_msg(r.passed == r.in_scope, "only %d of %d int8 conformance cases pass", r.passed,
                  r.in_scope);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conformance");
    TCase *tc = tcase_create("onnx_node_cases");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, conformance_cases_pass_on_both_fp32_engines);
    tcase_add_test(tc, int8_conformance_cases_pass_on_both_int8_engines);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
