/* The flipcheck executable, run as a subprocess (fork/exec, stdout and
 * stderr captured into files): help and version, usage errors (exit 2 with
 * one line naming the option), `info` on the peer CNN, `infer` against ONNX
 * Runtime's logits (any --batch, u8 or f32 data, several DATA files),
 * --input binding of .npy and .pb tensors, bad files named on one line, and
 * `bench --json`.  Sanitizer reports in the child fail the test. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fc_alloc.h"
#include "core/fc_npy.h"
#include "onnx.pb-c.h"

#define PEERS FC_TEST_DATA "/peers"
#define ONNXD FC_TEST_DATA "/onnx"

static char tmpdir[64];

static const char *tmp(const char *name)
{
    static char bufs[8][160];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

static const char *const tmp_names[] = {"out.txt", "err.txt", "u8.npy", "f32.npy", "a.npy",
                                        "b.npy", "x.pb", "garbage.onnx", "garbage.npy"};

static void setup(void)
{
    strcpy(tmpdir, "/tmp/fc_cli_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    for (size_t i = 0; i < sizeof tmp_names / sizeof tmp_names[0]; i++)
        unlink(tmp(tmp_names[i]));
    rmdir(tmpdir);
}

/* ---- running the binary ------------------------------------------------------ */

typedef struct result {
    int code;
    char *out, *err;   /* fc_malloc'd, NUL-terminated */
} result;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = fc_malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* args: NULL-terminated, without the program name. */
static result run(const char *const *args)
{
    const char *argv[64] = {FLIPCHECK_BIN};
    int n = 1;
    for (; args[n - 1]; n++) {
        ck_assert_int_lt(n, 63);
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    const char *out = tmp("out.txt"), *err = tmp("err.txt");
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execv(FLIPCHECK_BIN, (char *const *)argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    result r = {-1, slurp(out), slurp(err)};
    const char *what = args[0] ? args[0] : "(no args)";
    ck_assert_msg(WIFEXITED(status), "flipcheck %s: killed by signal %d; stderr: %s", what,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0, r.err);
    r.code = WEXITSTATUS(status);
    ck_assert_msg(!strstr(r.err, "Sanitizer") && !strstr(r.err, "runtime error"),
                  "sanitizer report from flipcheck %s: %s", what, r.err);
    return r;
}

static void done(result *r)
{
    fc_free(r->out);
    fc_free(r->err);
}

/* Exactly one non-empty line on stderr containing every '|'-separated part. */
static void one_line_naming(const result *r, const char *needles)
{
    size_t len = strlen(r->err);
    ck_assert_msg(len > 1 && r->err[len - 1] == '\n' && !memchr(r->err, '\n', len - 1),
                  "stderr is not one line: '%s'", r->err);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", needles);
    for (char *t = strtok(buf, "|"); t; t = strtok(NULL, "|"))
        ck_assert_msg(strstr(r->err, t), "'%s' not in stderr: %s", t, r->err);
}

static void expect_usage_error(const char *const *args, const char *needles)
{
    result r = run(args);
    ck_assert_msg(r.code == 2, "exit %d for %s ...: %s", r.code, args[0], r.err);
    one_line_naming(&r, needles);
    ck_assert_str_eq(r.out, "");
    done(&r);
}

static cJSON *run_json(const char *const *args)
{
    result r = run(args);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(j != NULL, "not JSON: %.300s", r.out);
    done(&r);
    return j;
}

/* ---- fixtures ------------------------------------------------------------------ */

/* The first `count` images of the peers' test set, as uint8 or float32/255. */
static void write_images(const char *path, int start, int count, fc_dtype dt)
{
    fc_err err;
    fc_tensor all, t;
    ck_assert_msg(fc_npy_read(PEERS "/test_images_u8.npy", &all, &err) == FC_OK, "%s", err.msg);
    int64_t dims[4] = {count, all.dims[1], all.dims[2], all.dims[3]};
    ck_assert_int_eq(fc_tensor_alloc(&t, dt, 4, dims, &err), FC_OK);
    const uint8_t *src = (const uint8_t *)all.data + (size_t)start * (t.numel / (size_t)count);
    for (size_t i = 0; i < t.numel; i++) {
        if (dt == FC_DT_U8)
            ((uint8_t *)t.data)[i] = src[i];
        else
            ((float *)t.data)[i] = (float)src[i] / 255.0f;
    }
    ck_assert_msg(fc_npy_write(path, &t, &err) == FC_OK, "%s", err.msg);
    fc_tensor_release(&t);
    fc_tensor_release(&all);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static fc_tensor read_npy(const char *path)
{
    fc_err err;
    fc_tensor t;
    ck_assert_msg(fc_npy_read(path, &t, &err) == FC_OK, "%s", err.msg);
    return t;
}

/* outputs[0] of an infer --json object. */
static const cJSON *first_output(const cJSON *j, int rows, int cols)
{
    const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "outputs"), 0);
    ck_assert_ptr_nonnull(o);
    const cJSON *shape = cJSON_GetObjectItem(o, "shape");
    ck_assert_int_eq(cJSON_GetArraySize(shape), 2);
    ck_assert_int_eq(cJSON_GetArrayItem(shape, 0)->valueint, rows);
    ck_assert_int_eq(cJSON_GetArrayItem(shape, 1)->valueint, cols);
    const cJSON *data = cJSON_GetObjectItem(o, "data");
    ck_assert_int_eq(cJSON_GetArraySize(data), rows * cols);
    return data;
}

/* ---- help, version, usage errors ---------------------------------------------- */

START_TEST(help_and_version_exit_0_and_name_the_commands)
{
    result r = run((const char *[]){"--help", NULL});
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "info"));
    ck_assert_ptr_nonnull(strstr(r.out, "infer"));
    ck_assert_ptr_nonnull(strstr(r.out, "bench"));
    done(&r);
    r = run((const char *[]){"--version", NULL});
    ck_assert_int_eq(r.code, 0);
    ck_assert_str_eq(r.out, "flipcheck " FLIPCHECK_VERSION "\n");
    done(&r);
    static const char *const cmds[] = {"info", "infer", "bench"};
    for (int i = 0; i < 3; i++) {
        r = run((const char *[]){cmds[i], "--help", NULL});
        ck_assert_int_eq(r.code, 0);
        char want[64];
        snprintf(want, sizeof want, "usage: flipcheck %s", cmds[i]);
        ck_assert_msg(strstr(r.out, want), "%s", r.out);
        done(&r);
    }
    r = run((const char *[]){NULL});
    ck_assert_int_eq(r.code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "usage"));
    done(&r);
}
END_TEST

START_TEST(usage_errors_exit_2_with_one_line_naming_the_option)
{
    expect_usage_error((const char *[]){"frobnicate", NULL}, "unknown command 'frobnicate'");
    expect_usage_error((const char *[]){"frobnicate", NULL}, "unknown command 'frobnicate'");
    expect_usage_error((const char *[]){"--frob", NULL}, "'--frob'");
    expect_usage_error((const char *[]){"info", PEERS "/cnn.onnx", "--frob", NULL}, "'--frob'");
    expect_usage_error((const char *[]){"info", NULL}, "MODEL.onnx");
    const char *m = PEERS "/mlp.onnx";
    expect_usage_error((const char *[]){"infer", "--model", NULL}, "--model|needs a value");
    expect_usage_error((const char *[]){"infer", "--model", m, "--batch", NULL}, "--batch");
    expect_usage_error((const char *[]){"infer", "--model", m, "--batch", "0", "x.npy", NULL},
                       "--batch|'0'");
    expect_usage_error((const char *[]){"infer", "--model", m, "--batch", "abc", "x.npy", NULL},
                       "--batch|'abc'");
    expect_usage_error(
        (const char *[]){"infer", "--model", m, "--batch", "99999999999", "x.npy", NULL},
        "--batch|'99999999999'");
    expect_usage_error((const char *[]){"infer", "--model", m, "--batch=-3", "x.npy", NULL},
                       "--batch|'-3'");
    expect_usage_error((const char *[]){"infer", "--model", m, "--engine", "q9", "x.npy", NULL},
                       "--engine|'q9'");
    expect_usage_error((const char *[]){"infer", "--model", m, "--json=yes", "x.npy", NULL},
                       "--json");
    expect_usage_error((const char *[]){"infer", "--model", m, NULL}, "DATA");
    expect_usage_error((const char *[]){"infer", "x.npy", NULL}, "--model");
    expect_usage_error((const char *[]){"bench", "--model", m, "--runs", "-1", NULL}, "--runs");
    expect_usage_error((const char *[]){"bench", "--model", m, "--warmup", "1e3", NULL},
                       "--warmup");
}
END_TEST

/* ---- info ---------------------------------------------------------------------- */

START_TEST(info_describes_the_cnn_in_text_and_json)
{
    const char *m = PEERS "/cnn.onnx";
    result r = run((const char *[]){"info", m, NULL});
    ck_assert_msg(r.code == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "[N,1,28,28]"));
    ck_assert_ptr_nonnull(strstr(r.out, "[N,10]"));
    ck_assert_ptr_nonnull(strstr(r.out, "Conv 2"));
    ck_assert_ptr_nonnull(strstr(r.out, "opset 13"));
    ck_assert_ptr_nonnull(strstr(r.out, "supported: yes"));
    done(&r);

    cJSON *j = run_json((const char *[]){"info", "--json", m, NULL});
    const cJSON *in = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "inputs"), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(in, "name")->valuestring, "input");
    const cJSON *shape = cJSON_GetObjectItem(in, "shape");
    ck_assert_int_eq(cJSON_GetArraySize(shape), 4);
    ck_assert_str_eq(cJSON_GetArrayItem(shape, 0)->valuestring, "N");
    ck_assert_int_eq(cJSON_GetArrayItem(shape, 1)->valueint, 1);
    ck_assert_int_eq(cJSON_GetArrayItem(shape, 2)->valueint, 28);
    ck_assert_int_eq(cJSON_GetArrayItem(shape, 3)->valueint, 28);
    const cJSON *ops = cJSON_GetObjectItem(j, "ops");
    ck_assert_int_eq(cJSON_GetObjectItem(ops, "Conv")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(ops, "Gemm")->valueint, 2);
    ck_assert_double_gt(cJSON_GetObjectItem(j, "parameters")->valuedouble, 0);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "supported")));
    ck_assert_int_eq(cJSON_GetObjectItem(j, "opset")->valueint, 13);
    const cJSON *out = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "outputs"), 0);
    ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "shape"), 1)->valueint, 10);
    const cJSON *f32 = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "engines"), "f32");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(f32, "supported")));
    cJSON_Delete(j);
}
END_TEST

/* info tells what the int8 engines make of a model: fused QDQ groups, float
 * islands, and whether an image's result depends on its batch. */
START_TEST(info_describes_int8_models)
{
    static const char *const files[] = {PEERS "/cnn.onnx", PEERS "/cnn.qdq.onnx",
                                        PEERS "/cnn.qop.onnx", PEERS "/cnn.dyn.onnx"};
    for (int i = 0; i < 4; i++) {
        const char *args[] = {"info", "--json", files[i], NULL};
        cJSON *j = run_json(args);
        const cJSON *q = cJSON_GetObjectItem(j, "int8");
        ck_assert_ptr_nonnull(q);
        ck_assert_msg(cJSON_IsTrue(cJSON_GetObjectItem(j, "supported")), "%s", files[i]);
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(q, "quantized")) == (i > 0));
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(q, "batch_dependent")) == (i == 3));
        if (i == 1) {
            /* Conv x2, Gemm x2, MaxPool x2, Flatten: every QDQ group fused. */
            ck_assert_int_eq(cJSON_GetObjectItem(q, "qdq_groups_fused")->valueint, 7);
            ck_assert_int_eq(cJSON_GetObjectItem(q, "float_island_nodes")->valueint, 0);
        }
        cJSON_Delete(j);
    }
    const char *args[] = {"info", PEERS "/cnn.dyn.onnx", NULL};
    result r = run(args);
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "batch dependence: DynamicQuantizeLinear"));
    /* The file's fingerprint, as sha256sum computes it. */
    char cmd[512], want[80] = "";
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", PEERS "/cnn.dyn.onnx");
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(want, sizeof want, p));
    pclose(p);
    want[64] = '\0';
    char line[100];
    snprintf(line, sizeof line, "sha256: %s\n", want);
    ck_assert_msg(strstr(r.out, line) != NULL, "no '%s' in: %s", line, r.out);
    done(&r);
}
END_TEST

/* ---- infer --------------------------------------------------------------------- */

static int argmax_row(const float *row, int c)
{
    int best = 0;
    for (int k = 1; k < c; k++)
        if (row[k] > row[best])
            best = k;
    return best;
}

START_TEST(infer_json_matches_onnx_runtime_on_both_engines)
{
    write_images(tmp("u8.npy"), 0, 8, FC_DT_U8);
    fc_tensor want = read_npy(PEERS "/mlp.ort_logits.npy");
    const float *w = want.data;
    static const char *const engines[] = {"f32", "f32-ref"};
    for (int e = 0; e < 2; e++) {
        cJSON *j = run_json((const char *[]){"infer", "--model", PEERS "/mlp.onnx", "--engine",
                                             engines[e], "--json", tmp("u8.npy"), NULL});
        ck_assert_str_eq(cJSON_GetObjectItem(j, "engine")->valuestring, engines[e]);
        const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "outputs"), 0);
        ck_assert_str_eq(cJSON_GetObjectItem(o, "name")->valuestring, "logits");
        const cJSON *data = first_output(j, 8, 10);
        for (int i = 0; i < 80; i++)
            ck_assert_double_eq_tol(cJSON_GetArrayItem(data, i)->valuedouble, w[i], 1e-4);
        const cJSON *top = cJSON_GetObjectItem(j, "top1"), *conf = cJSON_GetObjectItem(j, "confidence");
        ck_assert_int_eq(cJSON_GetArraySize(top), 8);
        ck_assert_int_eq(cJSON_GetArraySize(conf), 8);
        for (int i = 0; i < 8; i++) {
            ck_assert_int_eq(cJSON_GetArrayItem(top, i)->valueint, argmax_row(w + i * 10, 10));
            double p = cJSON_GetArrayItem(conf, i)->valuedouble;
            ck_assert(p > 0.1 && p <= 1.0);
        }
        cJSON_Delete(j);
    }
    fc_tensor_release(&want);
}
END_TEST

/* Same numbers from: --batch 3 and 64 (exact on the oracle, 1e-6 on f32),
 * float32 data equal to u8/255, and two DATA files concatenated. */
START_TEST(batch_size_data_dtype_and_file_split_do_not_change_the_numbers)
{
    write_images(tmp("u8.npy"), 0, 8, FC_DT_U8);
    write_images(tmp("f32.npy"), 0, 8, FC_DT_F32);
    write_images(tmp("a.npy"), 0, 5, FC_DT_U8);
    write_images(tmp("b.npy"), 5, 3, FC_DT_U8);
    const char *m = PEERS "/cnn.onnx";
    static const char *const engines[] = {"f32", "f32-ref"};
    for (int e = 0; e < 2; e++) {
        const char *eng = engines[e];
        double tol = e ? 0 : 1e-6;
        cJSON *ref = run_json((const char *[]){"infer", "--model", m, "--engine", eng,
                                               "--batch", "64", "--json", tmp("u8.npy"), NULL});
        cJSON *others[3] = {
            run_json((const char *[]){"infer", "--model", m, "--engine", eng, "--batch", "3",
                                      "--json", tmp("u8.npy"), NULL}),
            run_json((const char *[]){"infer", "--model", m, "--engine", eng, "--json",
                                      tmp("f32.npy"), NULL}),
            run_json((const char *[]){"infer", "--model", m, "--engine", eng, "--batch=4",
                                      "--json", tmp("a.npy"), tmp("b.npy"), NULL}),
        };
        const cJSON *rd = first_output(ref, 8, 10);
        for (int k = 0; k < 3; k++) {
            const cJSON *od = first_output(others[k], 8, 10);
            for (int i = 0; i < 80; i++) {
                double a = cJSON_GetArrayItem(rd, i)->valuedouble;
                double b = cJSON_GetArrayItem(od, i)->valuedouble;
                ck_assert_msg(fabs(a - b) <= tol * (1 + fabs(a)), "%s case %d [%d]: %.9g vs %.9g",
                              eng, k, i, a, b);
            }
            cJSON_Delete(others[k]);
        }
        cJSON_Delete(ref);
    }
    /* Text: one line per image, "index top1 confidence". */
    result r = run((const char *[]){"infer", "--model", m, "--batch", "3", tmp("u8.npy"), NULL});
    ck_assert_msg(r.code == 0, "%s", r.err);
    int lines = 0;
    for (const char *p = r.out; (p = strchr(p, '\n')); p++)
        lines++;
    ck_assert_int_eq(lines, 8);
    int idx, top;
    double conf;
    ck_assert_int_eq(sscanf(r.out, "%d %d %lf", &idx, &top, &conf), 3);
    ck_assert_int_eq(idx, 0);
    ck_assert(conf > 0 && conf <= 1);
    done(&r);
}
END_TEST

static void write_tensor_pb(const char *path, const fc_tensor *t)
{
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.name = (char *)"input";
    tp.n_dims = (size_t)t->rank;
    tp.dims = (int64_t *)t->dims;
    tp.has_data_type = 1;
    tp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tp.has_raw_data = 1;
    tp.raw_data.len = fc_tensor_bytes(t);
    tp.raw_data.data = t->data;
    size_t n = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = fc_malloc(n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(onnx__tensor_proto__pack(&tp, buf), n);
    write_bytes(path, buf, n);
    fc_free(buf);
}

START_TEST(input_binds_npy_and_pb_tensors_as_is)
{
    fc_tensor x = read_npy(ONNXD "/reshape_export.x.npy");
    fc_tensor want = read_npy(ONNXD "/reshape_export.torch_out.npy");
    write_tensor_pb(tmp("x.pb"), &x);
    const char *files[] = {ONNXD "/reshape_export.x.npy", tmp("x.pb")};
    for (int f = 0; f < 2; f++) {
        cJSON *j = run_json((const char *[]){"infer", "--model", ONNXD "/reshape_export.onnx",
                                             "--input", files[f], "--json", NULL});
        const cJSON *data = first_output(j, 3, 5);
        const float *w = want.data;
        for (int i = 0; i < 15; i++)
            ck_assert_double_eq_tol(cJSON_GetArrayItem(data, i)->valuedouble, w[i], 1e-5);
        /* The model ends in Softmax: confidence is the output itself. */
        for (int i = 0; i < 3; i++) {
            int t = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "top1"), i)->valueint;
            ck_assert_int_eq(t, argmax_row(w + i * 5, 5));
            ck_assert_double_eq_tol(
                cJSON_GetArrayItem(cJSON_GetObjectItem(j, "confidence"), i)->valuedouble,
                cJSON_GetArrayItem(data, i * 5 + t)->valuedouble, 1e-12);
        }
        cJSON_Delete(j);
    }
    /* Two tensors for a one-input model is a usage error. */
    expect_usage_error((const char *[]){"infer", "--model", ONNXD "/reshape_export.onnx",
                                        "--input", tmp("x.pb"), "--input", tmp("x.pb"), NULL},
                       "--input");
    fc_tensor_release(&x);
    fc_tensor_release(&want);
}
END_TEST

/* ---- bad files ----------------------------------------------------------------- */

START_TEST(bad_files_exit_2_with_one_line_naming_the_file)
{
    static const uint8_t junk[] = "\x08\x07\x12\xff\xff\xff\xff\x0fthis is not a model";
    write_bytes(tmp("garbage.onnx"), junk, sizeof junk);
    write_bytes(tmp("garbage.npy"), junk, sizeof junk);
    write_images(tmp("u8.npy"), 0, 2, FC_DT_U8);
    const char *missing = "/nonexistent/model.onnx";
    char want[256];

    snprintf(want, sizeof want, "flipcheck: %s: io_error", missing);
    expect_usage_error((const char *[]){"info", missing, NULL}, want);
    expect_usage_error((const char *[]){"infer", "--model", missing, tmp("u8.npy"), NULL}, want);
    expect_usage_error((const char *[]){"bench", "--model", missing, NULL}, want);

    snprintf(want, sizeof want, "flipcheck: %s: ", tmp("garbage.onnx"));
    expect_usage_error((const char *[]){"info", tmp("garbage.onnx"), NULL}, want);
    expect_usage_error((const char *[]){"infer", "--model", tmp("garbage.onnx"), tmp("u8.npy"),
                                        NULL}, want);

    const char *m = PEERS "/mlp.onnx";
    snprintf(want, sizeof want, "flipcheck: %s: parse_error", tmp("garbage.npy"));
    expect_usage_error((const char *[]){"infer", "--model", m, tmp("garbage.npy"), NULL}, want);
    expect_usage_error((const char *[]){"infer", "--model", m, "--input", tmp("garbage.npy"),
                                        NULL}, want);
    snprintf(want, sizeof want, "flipcheck: %s: io_error", tmp("none.npy"));
    expect_usage_error((const char *[]){"infer", "--model", m, tmp("none.npy"), NULL}, want);
    expect_usage_error((const char *[]){"infer", "--model", m, tmp("nothere.png"), NULL},
                       "nothere.png|no such file");
    expect_usage_error((const char *[]){"infer", "--model", m, tmpdir, NULL},
                       "no PNG images found");
    /* Data that does not fit the model: named with its whole shape. */
    expect_usage_error((const char *[]){"infer", "--model", m, PEERS "/mlp.ort_logits.npy", NULL},
                       "mlp.ort_logits.npy: shape_error|[512,10]");
    expect_usage_error((const char *[]){"infer", "--model", m, PEERS "/test_labels.npy", NULL},
                       "test_labels.npy|int64");
}
END_TEST

/* ---- bench --------------------------------------------------------------------- */

START_TEST(bench_json_reports_images_per_second)
{
    cJSON *j = run_json((const char *[]){"bench", "--model", PEERS "/mlp.onnx", "--engine", "f32",
                                         "--batch", "16", "--runs", "3", "--warmup", "1",
                                         "--json", NULL});
    ck_assert_double_gt(cJSON_GetObjectItem(j, "images_per_s")->valuedouble, 0);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "batch")->valueint, 16);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "engine")->valuestring, "f32");
    ck_assert_double_gt(cJSON_GetObjectItem(j, "peak_rss_kb")->valuedouble, 0);
    cJSON_Delete(j);
    result r = run((const char *[]){"bench", "--model", PEERS "/mlp.onnx", "--engine", "f32-ref",
                                    "--runs", "1", "--warmup", "0", NULL});
    ck_assert_msg(r.code == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "images/s"));
    done(&r);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, help_and_version_exit_0_and_name_the_commands);
    tcase_add_test(tc, usage_errors_exit_2_with_one_line_naming_the_option);
    tcase_add_test(tc, info_describes_the_cnn_in_text_and_json);
    tcase_add_test(tc, info_describes_int8_models);
    tcase_add_test(tc, infer_json_matches_onnx_runtime_on_both_engines);
    tcase_add_test(tc, batch_size_data_dtype_and_file_split_do_not_change_the_numbers);
    tcase_add_test(tc, input_binds_npy_and_pb_tensors_as_is);
    tcase_add_test(tc, bad_files_exit_2_with_one_line_naming_the_file);
    tcase_add_test(tc, bench_json_reports_images_per_second);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* The JSON this test parses is freed with our allocator too. */
    cJSON_Hooks hooks = {fc_malloc, fc_free};
    cJSON_InitHooks(&hooks);
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
