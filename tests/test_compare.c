/* flipcheck compare and infer --dump-layers: other runtimes' outputs
 * against ours (ONNX Runtime's and PyTorch's on the peers), a reference
 * with one logit moved fails naming the row, layer dumps of f32 and
 * f32-ref agree, f32 against int8 names the first layer over a threshold,
 * and an index that points outside its folder is refused. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "core/fc_npy.h"

#define PEERS FC_TEST_DATA "/peers"

static char tmpdir[64];

static const char *tmp(const char *name)
{
    static char bufs[8][200];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

static void setup(void)
{
    strcpy(tmpdir, "/tmp/fc_compare_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

typedef struct result {
    int code;
    char *out, *err;
} result;

static char *slurp(const char *path)
{
    uint8_t *b = NULL;
    size_t n = 0;
    ck_assert_int_eq(fc_file_read_all(path, 64u << 20, "output", &b, &n, NULL), 0);
    return (char *)b;
}

static result run(const char *const *args)
{
    const char *argv[32] = {FLIPCHECK_BIN};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
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
    ck_assert_msg(WIFEXITED(status), "killed by a signal; stderr: %s", r.err);
    r.code = WEXITSTATUS(status);
    ck_assert_msg(!strstr(r.err, "Sanitizer") && !strstr(r.err, "runtime error"), "%s", r.err);
    return r;
}

static void done(result *r)
{
    fc_free(r->out);
    fc_free(r->err);
}

/* The first n peer images as their own .npy. */
static const char *images(int64_t n)
{
    fc_tensor all, part = {0};
    ck_assert_int_eq(fc_npy_read(PEERS "/test_images_u8.npy", &all, NULL), 0);
    int64_t dims[4] = {n, all.dims[1], all.dims[2], all.dims[3]};
    ck_assert_int_eq(fc_tensor_alloc(&part, FC_DT_U8, 4, dims, NULL), 0);
    memcpy(part.data, all.data, part.numel);
    const char *path = tmp("img.npy");
    ck_assert_int_eq(fc_npy_write(path, &part, NULL), 0);
    fc_tensor_release(&all);
    fc_tensor_release(&part);
    return path;
}

START_TEST(outputs_match_onnx_runtime_and_pytorch)
{
    static const char *const models[] = {"mlp", "cnn", "resnet", "mobilenet"};
    static const char *const refs[] = {"ort_logits", "torch_logits"};
    for (int m = 0; m < 4; m++)
        for (int k = 0; k < 2; k++) {
            char model[256], ref[256];
            snprintf(model, sizeof model, "%s/%s.onnx", PEERS, models[m]);
            snprintf(ref, sizeof ref, "%s/%s.%s.npy", PEERS, models[m], refs[k]);
            const char *args[] = {"compare", "--model", model, "--reference", ref, "--json",
                                  PEERS "/test_images_u8.npy", NULL};
            result r = run(args);
            ck_assert_msg(r.code == 0, "%s vs %s: exit %d: %s%s", models[m], refs[k], r.code,
                          r.out, r.err);
            cJSON *j = cJSON_Parse(r.out);
            ck_assert_ptr_nonnull(j);
            ck_assert_int_eq(cJSON_GetObjectItem(j, "rows")->valueint, 512);
            ck_assert(cJSON_GetObjectItem(j, "max_abs_error")->valuedouble <= 1e-4);
            ck_assert(cJSON_GetObjectItem(j, "cosine")->valuedouble > 0.999999);
            ck_assert(cJSON_GetObjectItem(j, "top1_agreement")->valuedouble == 1.0);
            cJSON_Delete(j);
            done(&r);
        }
}
END_TEST

START_TEST(a_moved_logit_fails_naming_the_row)
{
    fc_tensor ref;
    ck_assert_int_eq(fc_npy_read(PEERS "/cnn.ort_logits.npy", &ref, NULL), 0);
    ((float *)ref.data)[17 * 10 + 3] += 1e-3f;
    char refp[200];
    snprintf(refp, sizeof refp, "%s", tmp("ref.npy"));
    ck_assert_int_eq(fc_npy_write(refp, &ref, NULL), 0);
    fc_tensor_release(&ref);
    const char *args[] = {"compare", "--model", PEERS "/cnn.onnx", "--reference", refp,
                          PEERS "/test_images_u8.npy", NULL};
    result r = run(args);
    ck_assert_msg(r.code == 1, "exit %d: %s", r.code, r.out);
    ck_assert_msg(strstr(r.out, "row 17: abs error 0.001") && strstr(r.out, "column 3"),
                  "stdout: %s", r.out);
    ck_assert_ptr_nonnull(strstr(r.out, "FAIL: 1 of 512 rows"));
    done(&r);
    /* A reference of the wrong shape is an input error naming both. */
    char img[200];
    snprintf(img, sizeof img, "%s", images(16));
    const char *a2[] = {"compare", "--model", PEERS "/cnn.onnx", "--reference",
                        PEERS "/cnn.ort_logits.npy", img, NULL};
    r = run(a2);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "[512,10]") && strstr(r.err, "[16,10]"), "stderr: %s", r.err);
    done(&r);
}
END_TEST

static cJSON *compare_layers(const char *a, const char *b, const char *max_abs, int want)
{
    const char *args[] = {"compare", "--layers", a, b, "--max-abs", max_abs, "--json", NULL};
    result r = run(args);
    ck_assert_msg(r.code == want, "exit %d (want %d): %s%s", r.code, want, r.out, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    done(&r);
    return j;
}

START_TEST(layer_dumps_find_where_runtimes_part)
{
    char img[200], dirs[3][200];
    snprintf(img, sizeof img, "%s", images(8));
    snprintf(dirs[0], sizeof dirs[0], "%s", tmp("f32"));
    snprintf(dirs[1], sizeof dirs[1], "%s", tmp("ref"));
    snprintf(dirs[2], sizeof dirs[2], "%s", tmp("q8"));
    const char *models[3] = {PEERS "/resnet.onnx", PEERS "/resnet.onnx", PEERS "/resnet.qdq.onnx"};
    const char *engines[3] = {"f32", "f32-ref", "q8"};
    for (int i = 0; i < 3; i++) {
        const char *args[] = {"infer",         "--model",  models[i], "--engine", engines[i],
                              "--dump-layers", dirs[i], img, NULL};
        result r = run(args);
        ck_assert_msg(r.code == 0, "%s: %s", engines[i], r.err);
        done(&r);
    }
    /* f32 against the oracle: every tensor within 1e-4. */
    cJSON *j = compare_layers(dirs[0], dirs[1], "1e-4", 0);
    ck_assert_int_ge(cJSON_GetObjectItem(j, "matched")->valueint, 20);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "unmatched")->valueint, 0);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "first_over")));
    cJSON_Delete(j);
    /* f32 against int8 (dequantized): the first layer over 0.05 is named,
     * the rest are listed worst first. */
    j = compare_layers(dirs[0], dirs[2], "0.05", 1);
    const cJSON *first = cJSON_GetObjectItem(j, "first_over");
    ck_assert(cJSON_IsString(first));
    const cJSON *list = cJSON_GetObjectItem(j, "tensors"), *t;
    ck_assert_int_ge(cJSON_GetArraySize(list), 10);
    double prev = 1e300;
    bool named_listed = false;
    cJSON_ArrayForEach(t, list)
    {
        double e = cJSON_GetObjectItem(t, "max_abs")->valuedouble;
        ck_assert(e <= prev);
        prev = e;
        ck_assert(cJSON_GetObjectItem(t, "sqnr_db")->valuedouble > 10);
        named_listed = named_listed ||
                       !strcmp(cJSON_GetObjectItem(t, "name")->valuestring, first->valuestring);
    }
    ck_assert(named_listed);
    cJSON_Delete(j);
    /* Every dumped file is a plain name inside its folder. */
    char *index = slurp(tmp("q8/index.json"));
    cJSON *idx = cJSON_Parse(index);
    fc_free(index);
    cJSON_ArrayForEach(t, idx)
    {
        const char *f = cJSON_GetObjectItem(t, "file")->valuestring;
        ck_assert(!strchr(f, '/') && f[0] != '.');
    }
    cJSON_Delete(idx);
}
END_TEST

START_TEST(a_dump_index_cannot_point_outside)
{
    ck_assert_int_eq(fc_file_mkdirs(tmp("bad"), NULL), 0);
    static const char idx[] = "[{\"name\": \"x\", \"file\": \"../../etc/passwd\"}]";
    ck_assert_int_eq(fc_file_write_all(tmp("bad/index.json"), idx, strlen(idx), NULL), 0);
    char bad[200];
    snprintf(bad, sizeof bad, "%s", tmp("bad"));
    const char *args[] = {"compare", "--layers", bad, bad, NULL};
    result r = run(args);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "plain \"file\" name"), "stderr: %s", r.err);
    done(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("compare");
    TCase *tc = tcase_create("compare");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, outputs_match_onnx_runtime_and_pytorch);
    tcase_add_test(tc, a_moved_logit_fails_naming_the_row);
    tcase_add_test(tc, layer_dumps_find_where_runtimes_part);
    tcase_add_test(tc, a_dump_index_cannot_point_outside);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
