/* A model that is well formed but enormous in compute: the per-test timeout
 * of `flipcheck run` ends each test that runs it, records it as a hang, and
 * the run finishes (exit 1, "hung" in the summary) instead of never ending.
 * --max-flops 0 lifts the compute guard so the timeout is what stops it
 * (the guard itself is tests/test_max_flops.c).
 *
 * The model: input [N,1,28,28] -> Conv (one 28x28 kernel, pads 1000: a
 * 2001x2001 output, 3.1e9 multiply-adds per image) -> GlobalAveragePool ->
 * Flatten -> Gemm -> logits [N,10].  A few kilobytes on disk. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "hostile_craft.h"

#define PEERS FC_TEST_DATA "/peers"

static char tmp[64];

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/fc-hang-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void) { hc_remove_tree(tmp); }

static Onnx__ModelProto *huge_compute_model(void)
{
    Onnx__ModelProto *m = hc_model_new(13);
    Onnx__GraphProto *g = m->graph;
    hc_add_input(g, "input", 1, 4, (const int64_t[]){HC_DIM_N, 1, 28, 28});
    hc_add_output(g, "logits", 1, 2, (const int64_t[]){HC_DIM_N, 10});
    float *w = malloc(28 * 28 * sizeof *w);
    ck_assert_ptr_nonnull(w);
    for (int i = 0; i < 28 * 28; i++)
        w[i] = 1.0f / (28 * 28);
    hc_add_init(g, hc_tensor_f32("W", 4, (const int64_t[]){1, 1, 28, 28}, w, 28 * 28));
    free(w);
    float gw[10], gb[10];
    for (int i = 0; i < 10; i++) {
        gw[i] = (float)(i + 1);
        gb[i] = 0.1f * (float)i;
    }
    hc_add_init(g, hc_tensor_f32("G", 2, (const int64_t[]){1, 10}, gw, 10));
    hc_add_init(g, hc_tensor_f32("GB", 1, (const int64_t[]){10}, gb, 10));
    Onnx__NodeProto *conv = hc_add_node(g, "Conv", "huge_conv", "input,W", "c");
    hc_attr_ints(conv, "kernel_shape", 2, (const int64_t[]){28, 28});
    hc_attr_ints(conv, "pads", 4, (const int64_t[]){1000, 1000, 1000, 1000});
    hc_add_node(g, "GlobalAveragePool", "gap", "c", "p");
    hc_add_node(g, "Flatten", "flat", "p", "f");
    hc_add_node(g, "Gemm", "fc", "f,G,GB", "logits");
    return m;
}

static int run_cli(const char *const *args, char **out, char **err)
{
    char *po = hc_path(tmp, "stdout.txt"), *pe = hc_path(tmp, "stderr.txt");
    const char *argv[32] = {FLIPCHECK_BIN};
    for (int i = 0; args[i] && i < 30; i++)
        argv[i + 1] = args[i];
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execv(FLIPCHECK_BIN, (char *const *)argv);
        _exit(127);
    }
    int ws;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    size_t n;
    ck_assert_int_eq(fc_file_read_all(po, 16u << 20, "out", (uint8_t **)out, &n, NULL), 0);
    ck_assert_int_eq(fc_file_read_all(pe, 16u << 20, "err", (uint8_t **)err, &n, NULL), 0);
    free(po);
    free(pe);
    ck_assert_msg(WIFEXITED(ws), "flipcheck killed by a signal: %s", *err);
    return WEXITSTATUS(ws);
}

START_TEST(huge_compute_model_is_recorded_as_a_hang)
{
    char *model = hc_write_model(tmp, "huge.onnx", huge_compute_model());
    char *cfg = hc_path(tmp, "c.json"), *outdir = hc_path(tmp, "out");
    char text[2048];
    int n = snprintf(text, sizeof text,
                     "{\"timeout_s\": 1, \"models\": [{\"name\": \"huge\", \"fp32\": \"%s\", "
                     "\"engines\": [\"f32-ref\"], \"data\": {\"test\": \"%s/test_images_u8.npy\", "
                     "\"labels\": \"%s/test_labels.npy\", \"max_images\": 4}}]}\n",
                     model, PEERS, PEERS);
    ck_assert_int_lt(n, (int)sizeof text);
    ck_assert_int_eq(fc_file_write_all(cfg, text, (size_t)n, NULL), 0);
    char *out = NULL, *err = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int code = run_cli((const char *[]){"run", "--max-flops", "0", "--config", cfg, "--out",
                                        outdir, "--suite", "accuracy", "--jobs", "1", NULL},
                       &out, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    ck_assert_msg(code == 1, "exit %d; stdout: %s; stderr: %s", code, out, err);
    ck_assert_msg(strstr(out, "hung") != NULL, "no hang in the summary: %s", out);
    /* Each test ends at its timeout (1 s), not when the model would. */
    ck_assert_msg(secs < 120, "took %.1f s", secs);
    char *rpath = hc_path(outdir, "results.json");
    uint8_t *rj = NULL;
    size_t rlen;
    ck_assert_int_eq(fc_file_read_all(rpath, 64u << 20, "results", &rj, &rlen, NULL), 0);
    cJSON *j = cJSON_ParseWithLength((const char *)rj, rlen);
    ck_assert_ptr_nonnull(j);
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "models"), 0);
    const cJSON *hangs = cJSON_GetObjectItemCaseSensitive(m, "hangs");
    ck_assert_msg(cJSON_IsNumber(hangs) && hangs->valuedouble >= 1, "%s", (const char *)rj);
    cJSON_Delete(j);
    fc_free(rj);
    fc_free(out);
    fc_free(err);
    free(rpath);
    free(cfg);
    free(outdir);
    free(model);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("compute_hang");
    TCase *tc = tcase_create("hang");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, huge_compute_model_is_recorded_as_a_hang);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
