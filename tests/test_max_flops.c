/* A model that is well-formed but enormous in compute: a Conv with a
 * 512x512 kernel over a 1024x1024 image needs about 2.2e12 operations.
 * The CLI's default --max-flops guard refuses it by name before any
 * kernel runs (a test that hung here would be the proof it did not), a
 * raised limit lets the plan through, and the estimate matches the
 * closed form on the bundled cnn. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "core/fc_npy.h"
#include "hostile_craft.h"
#include "onnx/fc_onnx.h"
#include "onnx/fc_plan.h"

static char tmpdir[64];

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static int run(const char *const *args, char *err_out, size_t size)
{
    const char *argv[16] = {FLIPCHECK_BIN};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    char errp[128];
    path_in(errp, sizeof errp, "err.txt");
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fo = open("/dev/null", O_WRONLY);
        if (fe < 0 || fo < 0 || dup2(fe, 2) < 0 || dup2(fo, 1) < 0)
            _exit(126);
        execv(FLIPCHECK_BIN, (char *const *)argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    uint8_t *b = NULL;
    size_t len = 0;
    ck_assert_int_eq(fc_file_read_all(errp, 1 << 20, "stderr", &b, &len, NULL), 0);
    snprintf(err_out, size, "%s", (char *)b);
    fc_free(b);
    return WEXITSTATUS(status);
}

/* conv.onnx: x [1,1,1024,1024] -> Conv(w [16,1,512,512]) -> y; and x.npy. */
static void write_big_conv(char *model, char *input, size_t size)
{
    Onnx__ModelProto *m = hc_model_new(13);
    int64_t xd[4] = {1, 1, 1024, 1024}, wd[4] = {16, 1, 512, 512}, yd[4] = {1, 16, 513, 513};
    size_t wn = 16u * 512u * 512u;
    float *w = calloc(wn, sizeof *w);
    ck_assert_ptr_nonnull(w);
    hc_add_input(m->graph, "x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, xd);
    hc_add_init(m->graph, hc_tensor_f32("w", 4, wd, w, wn));
    free(w);
    hc_add_node(m->graph, "Conv", "big", "x,w", "y");
    hc_add_output(m->graph, "y", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, yd);
    size_t len;
    uint8_t *bytes = hc_pack(m, &len);
    hc_model_free(m);
    path_in(model, size, "conv.onnx");
    ck_assert_int_eq(fc_file_write_all(model, bytes, len, NULL), 0);
    free(bytes);
    fc_tensor x = {0};
    ck_assert_int_eq(fc_tensor_alloc(&x, FC_DT_F32, 4, xd, NULL), 0);
    path_in(input, size, "x.npy");
    ck_assert_int_eq(fc_npy_write(input, &x, NULL), 0);
    fc_tensor_release(&x);
}

START_TEST(default_guard_refuses_a_huge_conv)
{
    strcpy(tmpdir, "/tmp/fc_flops_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char model[128], input[128], err[4096];
    write_big_conv(model, input, sizeof model);
    const char *a1[] = {"infer", "--model", model, "--input", input, NULL};
    ck_assert_int_eq(run(a1, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "limit_exceeded") && strstr(err, "--max-flops") &&
                      strstr(err, "conv.onnx") && strstr(err, "2.21e+12"),
                  "stderr: %s", err);
    /* An explicit, lower limit names itself too, on a small model. */
    const char *a2[] = {"--max-flops", "1e6", "infer", "--model", FC_SOURCE_DIR "/models/cnn.onnx",
                        FC_SOURCE_DIR "/images/fashion/test/0-t-shirt", NULL};
    ck_assert_int_eq(run(a2, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "over the limit of 1e+06"), "stderr: %s", err);
    const char *a3[] = {"--max-flops", "-3", "info", model, NULL};
    ck_assert_int_eq(run(a3, err, sizeof err), 2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The estimate: 2 MACs per conv weight element per output, K per product. */
START_TEST(estimate_matches_the_closed_form)
{
    fc_graph *g = NULL;
    ck_assert_int_eq(fc_onnx_load(FC_SOURCE_DIR "/models/cnn.onnx", &g, NULL), 0);
    fc_plan *p = NULL;
    ck_assert_int_eq(fc_plan_create_probe(g, 1, &p, NULL), 0);
    double f = fc_plan_flops(p);
    /* conv1 1->32 3x3 on 28x28, conv2 32->64 3x3 on 14x14, fc 3136->128, fc 128->10 */
    double macs = 32.0 * 784 * 9 + 64.0 * 196 * 288 + 3136.0 * 128 + 128.0 * 10;
    ck_assert_msg(f >= 2 * macs && f < 2 * macs * 1.02, "estimate %g, MACs %g", f, macs);
    fc_plan_free(p);
    fc_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("max_flops");
    TCase *tc = tcase_create("max_flops");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, default_guard_refuses_a_huge_conv);
    tcase_add_test(tc, estimate_matches_the_closed_form);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
