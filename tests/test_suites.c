/* `flipcheck run` end to end: a crash and a hang inside the suites are
 * recorded as such with every other result intact; a threshold that does
 * not hold fails the run by name; results.json carries every metric and
 * the environment; config and usage errors exit 2. */
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
#include "core/fc_file.h"
#include "core/fc_npy.h"
#include "core/fc_sha256.h"

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
    strcpy(tmpdir, "/tmp/fc_suites_XXXXXX");
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

/* Runs flipcheck with args (NULL-terminated), the test engines enabled. */
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
        setenv("FLIPCHECK_TEST_FAULTS", "1", 1);
        execv(FLIPCHECK_BIN, (char *const *)argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    result r = {-1, slurp(out), slurp(err)};
    ck_assert_msg(WIFEXITED(status), "flipcheck killed by a signal; stderr: %s", r.err);
    r.code = WEXITSTATUS(status);
    ck_assert_msg(!strstr(r.err, "Sanitizer") && !strstr(r.err, "runtime error"),
                  "sanitizer report: %s", r.err);
    return r;
}

static void done(result *r)
{
    fc_free(r->out);
    fc_free(r->err);
}

static void write_config(const char *path, const char *extra_model, const char *top)
{
    char buf[4096];
    int n = snprintf(buf, sizeof buf,
                     "{%s\"models\": [{\"name\": \"mlp\", \"fp32\": \"%s/mlp.onnx\",\n"
                     " \"int8\": {\"file\": \"%s/mlp.qdq.onnx\"},\n"
                     " \"data\": {\"test\": \"%s/test_images_u8.npy\", \"labels\": "
                     "\"%s/test_labels.npy\", \"max_images\": 64}%s}]}\n",
                     top, PEERS, PEERS, PEERS, PEERS, extra_model);
    ck_assert_int_lt(n, (int)sizeof buf);
    ck_assert_int_eq(fc_file_write_all(path, buf, (size_t)n, NULL), 0);
}

static cJSON *results(void)
{
    char *text = slurp(tmp("out/results.json"));
    cJSON *j = cJSON_Parse(text);
    fc_free(text);
    ck_assert_msg(j != NULL, "results.json is not JSON");
    return j;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    ck_assert_msg(v != NULL, "results.json: missing '%s'", k);
    return v;
}

static const cJSON *find_test(const cJSON *model, const char *suite, const char *test)
{
    const cJSON *s, *t;
    cJSON_ArrayForEach(s, get(model, "suites"))
    {
        if (strcmp(get(s, "name")->valuestring, suite))
            continue;
        cJSON_ArrayForEach(t, get(s, "tests")) if (!strcmp(get(t, "test")->valuestring, test))
            return t;
    }
    ck_abort_msg("results.json: no test %s/%s", suite, test);
    return NULL;
}

static const char *status_of(const cJSON *t)
{
    return get(t, "status")->valuestring;
}

/* The faulty engine crashes on the all-NaN image and hangs on the all-+Inf
 * one; both are recorded with their case, everything else is intact. */
START_TEST(crash_and_hang_are_recorded)
{
    write_config(tmp("c.json"), ", \"engines\": [\"f32\", \"test-faulty\"]",
                 "\"timeout_s\": 2, \"thresholds\": {\"max_nonfinite_outputs\": 1000},");
    const char *args[] = {"run", "--config", tmp("c.json"), "--out", tmp("out"), "--suite",
                          "boundary", NULL};
    result r = run(args);
    ck_assert_msg(r.code == 1, "exit %d, stdout: %s", r.code, r.out);
    ck_assert_msg(strstr(r.out, "1 crashed, 1 hung"), "stdout: %s", r.out);
    cJSON *j = results();
    const cJSON *m = cJSON_GetArrayItem(get(j, "models"), 0);
    ck_assert_str_eq(status_of(find_test(m, "boundary", "test-faulty_nan_all")), "crash");
    ck_assert_str_eq(status_of(find_test(m, "boundary", "test-faulty_plus_inf_all")), "hang");
    ck_assert_int_eq((int)get(m, "crashes")->valuedouble, 1);
    ck_assert_int_eq((int)get(m, "hangs")->valuedouble, 1);
    /* Every other boundary test passed and its numbers made it out. */
    int others = 0;
    const cJSON *s = cJSON_GetArrayItem(get(m, "suites"), 1), *t;
    ck_assert_str_eq(get(s, "name")->valuestring, "boundary");
    cJSON_ArrayForEach(t, get(s, "tests"))
    {
        const char *name = get(t, "test")->valuestring;
        if (!strcmp(name, "test-faulty_nan_all") || !strcmp(name, "test-faulty_plus_inf_all")) {
            ck_assert(cJSON_IsFalse(get(t, "result_file")));
            continue;
        }
        ck_assert_msg(!strcmp(status_of(t), "pass"), "%s: %s", name, status_of(t));
        ck_assert(cJSON_IsTrue(get(t, "result_file")));
        if (strcmp(name, "nonfinite_total")) {
            ck_assert(cJSON_IsNumber(get(get(t, "metrics"), "top1")));
            others++;
        }
    }
    ck_assert_int_ge(others, 2 * 21 - 2);
    /* The faults are listed with their case and engine. */
    const cJSON *f;
    int listed = 0;
    cJSON_ArrayForEach(f, get(m, "crashes_and_hangs"))
    {
        ck_assert_str_eq(get(f, "engine")->valuestring, "test-faulty");
        listed++;
    }
    ck_assert_int_eq(listed, 2);
    cJSON_Delete(j);
    done(&r);
}
END_TEST

START_TEST(threshold_failure_is_named)
{
    write_config(tmp("c.json"),
                 ", \"engines\": [\"f32\"], \"attacks\": {\"fgsm\": {\"eps\": [0.01]}, "
                 "\"max_images\": 32}",
                 "\"thresholds\": {\"fgsm\": {\"eps\": 0.01, \"min_robust_accuracy\": 0.999}},");
    const char *args[] = {"run", "--config", tmp("c.json"), "--out", tmp("out"), "--suite",
                          "adversarial", NULL};
    result r = run(args);
    ck_assert_msg(r.code == 1, "exit %d, stdout: %s", r.code, r.out);
    ck_assert_msg(strstr(r.out, "fgsm.min_robust_accuracy") && strstr(r.out, "mlp") &&
                      strstr(r.out, "robust accuracy (fgsm, eps 0.01, f32) = 0."),
                  "stdout does not name threshold, model and value: %s", r.out);
    cJSON *j = results();
    const cJSON *m = cJSON_GetArrayItem(get(j, "models"), 0);
    const cJSON *t = find_test(m, "adversarial", "fgsm_f32_eps0.01");
    ck_assert_str_eq(status_of(t), "fail");
    double ra = get(get(t, "metrics"), "robust_accuracy")->valuedouble;
    ck_assert(ra >= 0 && ra < 0.999);
    const cJSON *c = cJSON_GetArrayItem(get(t, "checks"), 0);
    ck_assert_str_eq(get(c, "threshold")->valuestring, "fgsm.min_robust_accuracy");
    ck_assert(cJSON_IsFalse(get(c, "pass")));
    ck_assert_double_eq_tol(get(c, "value")->valuedouble, ra, 1e-12);
    cJSON_Delete(j);
    done(&r);
}
END_TEST

/* Every suite on one model: the metrics the issue lists are all there. */
START_TEST(results_hold_every_metric)
{
    write_config(tmp("c.json"),
                 ", \"engines\": [\"f32\", \"f32-ref\", \"q8\", \"q8-ref\"], \"attacks\": "
                 "{\"fgsm\": {\"eps\": [0.02]}, \"pgd\": {\"eps\": [0.02], \"steps\": 3}, "
                 "\"max_images\": 32}",
                 "\"seed\": 7, \"timeout_s\": 60, \"thresholds\": {\"max_nonfinite_outputs\": "
                 "1000},");
    const char *args[] = {"run", "--config", tmp("c.json"), "--out", tmp("out"), NULL};
    result r = run(args);
    ck_assert_msg(r.code == 0, "exit %d, stdout: %s\nstderr: %s", r.code, r.out, r.err);
    ck_assert_msg(strstr(r.out, " passed, 0 failed"), "stdout: %s", r.out);
    cJSON *j = results();
    const cJSON *env = get(j, "environment");
    ck_assert(cJSON_IsBool(get(get(env, "cpu_features"), "avx2")));
    ck_assert(cJSON_IsString(get(get(env, "kernels"), "q8_gemm")));
    ck_assert(cJSON_IsString(get(get(env, "versions"), "check")));
    const cJSON *m = cJSON_GetArrayItem(get(j, "models"), 0);
    ck_assert_int_eq((int)get(m, "seed")->valuedouble, 7);
    static const char *const want[][3] = {
        {"integrity", "load_fp32", "nonfinite_weights"},
        {"integrity", "int8_twin", "qdq_groups_fused"},
        {"accuracy", "accuracy", "int8_accuracy_drop"},
        {"agreement", "fp32_vs_int8", "flip_rate"},
        {"agreement", "fp32_vs_int8", "confidence_drop_p95"},
        {"agreement", "fp32_vs_int8", "kl_divergence_mean"},
        {"agreement", "f32_vs_f32-ref", "max_abs_diff"},
        {"agreement", "q8_vs_q8-ref", "values_not_bit_exact"},
        {"agreement", "batch_dependence", "alone_vs_batch_flip_rate"},
        {"agreement", "per_layer", "worst_sqnr_db"},
        {"adversarial", "fgsm_f32_eps0.02", "robust_accuracy"},
        {"adversarial", "fgsm_transfer_q8_eps0.02", "robust_accuracy"},
        {"adversarial", "fgsm_q8_eps0.02", "confidence_drop_p95"},
        {"adversarial", "pgd_q8_eps0.02", "flip_rate"},
        {"boundary", "q8-ref_nan_all", "nonfinite_outputs"},
        {"boundary", "nonfinite_total", "nonfinite_outputs_total"},
        {"garbage", "noise_q8", "distinct_predictions"},
        {"garbage", "png_loader", "refused_with_named_error"},
        {"garbage", "model_loader", "named_errors"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const cJSON *t = find_test(m, want[i][0], want[i][1]);
        ck_assert_msg(!strcmp(status_of(t), "pass"), "%s/%s: %s", want[i][0], want[i][1],
                      cJSON_GetObjectItemCaseSensitive(t, "message")->valuestring);
        ck_assert_msg(cJSON_IsNumber(get(get(t, "metrics"), want[i][2])), "%s/%s: no %s",
                      want[i][0], want[i][1], want[i][2]);
    }
    /* int8 bit-exactness is asserted, not just measured. */
    ck_assert_int_eq(
        (int)get(get(find_test(m, "agreement", "q8_vs_q8-ref"), "metrics"), "values_not_bit_exact")
            ->valuedouble,
        0);
    ck_assert(cJSON_GetArraySize(get(m, "twin_comparison")) == 2);
    cJSON_Delete(j);
    done(&r);
}
END_TEST

/* A pinned SHA-256 catches one flipped byte; a pinned interface names the
 * value and both shapes. */
START_TEST(pins_are_checked)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    ck_assert_int_eq(fc_file_read_all(PEERS "/mlp.onnx", 1u << 26, "model", &bytes, &len, NULL), 0);
    char good[65];
    ck_assert_int_eq(fc_sha256_file(PEERS "/mlp.onnx", good, NULL), 0);
    bytes[len / 2] ^= 0x01;   /* inside the weights: the file still loads */
    ck_assert_int_eq(fc_file_write_all(tmp("mlp.onnx"), bytes, len, NULL), 0);
    fc_free(bytes);
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"models\": [{\"name\": \"mlp\", \"fp32\": \"%s\", \"sha256\": \"%s\",\n"
             " \"int8\": {\"file\": \"%s/mlp.qdq.onnx\"},\n"
             " \"data\": {\"test\": \"%s/test_images_u8.npy\", \"labels\": "
             "\"%s/test_labels.npy\", \"max_images\": 16}}]}\n",
             tmp("mlp.onnx"), good, PEERS, PEERS, PEERS);
    ck_assert_int_eq(fc_file_write_all(tmp("c.json"), cfg, strlen(cfg), NULL), 0);
    const char *args[] = {"run", "--config", tmp("c.json"), "--out", tmp("out"), "--suite",
                          "integrity", NULL};
    result r = run(args);
    ck_assert_msg(r.code == 1, "exit %d, stdout: %s", r.code, r.out);
    ck_assert_msg(strstr(r.out, "has SHA-256") && strstr(r.out, good), "stdout: %s", r.out);
    done(&r);
    /* The right hash passes; a wrong interface fails naming both shapes. */
    snprintf(cfg, sizeof cfg,
             "{\"models\": [{\"name\": \"mlp\", \"fp32\": \"%s/mlp.onnx\", \"sha256\": "
             "\"%s\",\n \"interface\": {\"inputs\": [{\"name\": \"input\", \"type\": "
             "\"float32\", \"shape\": [\"N\", 3, 28, 28]}]},\n"
             " \"int8\": {\"file\": \"%s/mlp.qdq.onnx\"},\n"
             " \"data\": {\"test\": \"%s/test_images_u8.npy\", \"labels\": "
             "\"%s/test_labels.npy\", \"max_images\": 16}}]}\n",
             PEERS, good, PEERS, PEERS, PEERS);
    ck_assert_int_eq(fc_file_write_all(tmp("c.json"), cfg, strlen(cfg), NULL), 0);
    r = run(args);
    ck_assert_msg(r.code == 1, "exit %d, stdout: %s", r.code, r.out);
    ck_assert_msg(strstr(r.out, "input 'input': shape [N,1,28,28] in the model, [N,3,28,28] "
                                "pinned by the config"),
                  "stdout: %s", r.out);
    ck_assert_msg(!strstr(r.out, "SHA-256"), "the right hash failed: %s", r.out);
    done(&r);
}
END_TEST

/* A model that memorised 100 images leaks membership; a bundled one does
 * not, or far less. */
START_TEST(membership_inference_finds_the_overfit_model)
{
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"defaults\": {\"int8\": {\"calibrate\": \"minmax\"}},\n"
             " \"models\": [\n"
             "  {\"name\": \"overfit\", \"fp32\": \"%s/overfit/overfit.onnx\",\n"
             "   \"data\": {\"test\": \"%s/overfit/test_u8.npy\", \"labels\": "
             "\"%s/overfit/test_labels.npy\",\n"
             "            \"calib\": \"%s/overfit/members_u8.npy\", \"calib_labels\": "
             "\"%s/overfit/members_labels.npy\"}},\n"
             "  {\"name\": \"mlp\", \"fp32\": \"%s/models/mlp.onnx\",\n"
             "   \"data\": {\"test\": \"%s/images/fashion/test\", \"calib\": "
             "\"%s/images/fashion/calib\", \"max_images\": 256}}]}\n",
             FC_TEST_DATA, FC_TEST_DATA, FC_TEST_DATA, FC_TEST_DATA, FC_TEST_DATA, FC_SOURCE_DIR,
             FC_SOURCE_DIR, FC_SOURCE_DIR);
    ck_assert_int_eq(fc_file_write_all(tmp("c.json"), cfg, strlen(cfg), NULL), 0);
    const char *args[] = {"run", "--config", tmp("c.json"), "--out", tmp("out"), "--suite",
                          "privacy", NULL};
    result r = run(args);
    ck_assert_msg(r.code == 0, "exit %d, stdout: %s", r.code, r.out);
    cJSON *j = results();
    double adv[2][2], auc[2][2];
    for (int m = 0; m < 2; m++) {
        const cJSON *model = cJSON_GetArrayItem(get(j, "models"), m);
        for (int q = 0; q < 2; q++) {
            const cJSON *t =
                find_test(model, "privacy", q ? "membership_int8" : "membership_fp32");
            adv[m][q] = get(get(t, "metrics"), "membership_advantage")->valuedouble;
            auc[m][q] = get(get(t, "metrics"), "membership_auc")->valuedouble;
            ck_assert(adv[m][q] >= 0 && adv[m][q] <= 1 && auc[m][q] >= 0 && auc[m][q] <= 1);
        }
    }
    printf("membership advantage / AUC: overfit fp32 %.3f/%.3f int8 %.3f/%.3f; mlp fp32 "
           "%.3f/%.3f int8 %.3f/%.3f\n", adv[0][0], auc[0][0], adv[0][1], auc[0][1], adv[1][0],
           auc[1][0], adv[1][1], auc[1][1]);
    for (int q = 0; q < 2; q++) {
        ck_assert_msg(adv[0][q] > 0.3 && adv[0][q] > adv[1][q] + 0.2,
                      "overfit advantage %.3f vs bundled %.3f", adv[0][q], adv[1][q]);
        ck_assert(auc[0][q] > 0.7);
    }
    cJSON_Delete(j);
    done(&r);
}
END_TEST

/* reference_outputs: ONNX Runtime's logits pass, a copy with one moved
 * logit fails naming the row; a latency threshold nobody can meet fails by
 * name, with the latency figures of every engine in results.json. */
START_TEST(consistency_and_performance)
{
    fc_tensor ref;
    ck_assert_int_eq(fc_npy_read(PEERS "/mlp.ort_logits.npy", &ref, NULL), 0);
    ((float *)ref.data)[17 * 10 + 3] += 1e-3f;
    char moved[200];
    snprintf(moved, sizeof moved, "%s", tmp("moved.npy"));
    ck_assert_int_eq(fc_npy_write(moved, &ref, NULL), 0);
    fc_tensor_release(&ref);
    char extra[1024];
    snprintf(extra, sizeof extra,
             ", \"engines\": [\"f32\", \"q8\"], \"reference_outputs\": [\n"
             "  {\"file\": \"%s/mlp.ort_logits.npy\", \"data\": \"%s/test_images_u8.npy\"},\n"
             "  {\"file\": \"%s\", \"data\": \"%s/test_images_u8.npy\"},\n"
             "  {\"file\": \"%s/mlp.qdq.ort_logits.npy\", \"data\": "
             "\"%s/test_images_u8.npy\", \"model\": \"int8\"}]",
             PEERS, PEERS, moved, PEERS, PEERS, PEERS);
    write_config(tmp("c.json"), extra, "\"thresholds\": {\"max_latency_p99_ms\": 0.001},");
    const char *args[] = {"run",     "--config",    tmp("c.json"), "--out",   tmp("out"),
                          "--suite", "consistency", "--suite",     "performance", NULL};
    result r = run(args);
    ck_assert_msg(r.code == 1, "exit %d, stdout: %s", r.code, r.out);
    ck_assert_msg(strstr(r.out, "threshold max_latency_p99_ms = 0.001 not met"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "reference_outputs[1].max_abs") && strstr(r.out, "first row 17"),
                  "%s", r.out);
    cJSON *j = results();
    const cJSON *m = cJSON_GetArrayItem(get(j, "models"), 0);
    ck_assert_str_eq(status_of(find_test(m, "consistency", "reference_0_f32")), "pass");
    ck_assert_str_eq(status_of(find_test(m, "consistency", "reference_1_f32")), "fail");
    const cJSON *q = find_test(m, "consistency", "reference_2_q8");
    ck_assert_str_eq(status_of(q), "pass");
    ck_assert_double_eq(get(get(q, "metrics"), "max_abs_error")->valuedouble, 0);
    for (int e = 0; e < 2; e++) {
        const cJSON *t = find_test(m, "performance", e ? "perf_q8" : "perf_f32");
        ck_assert_str_eq(status_of(t), "fail");
        double p99 = get(get(t, "metrics"), "latency_p99_ms")->valuedouble;
        double rss = get(get(t, "metrics"), "peak_rss_mb")->valuedouble;
        ck_assert(p99 > 0.001 && p99 < 1000 && rss > 1 && rss < 4096);
    }
    cJSON_Delete(j);
    done(&r);
}
END_TEST

START_TEST(config_and_usage_errors_exit_2)
{
    static const char bad[] =
        "{\"models\": [{\"name\": \"m\", \"fp32\": \"x.onnx\", \"engines\": [\"f64\"]}]}";
    ck_assert_int_eq(fc_file_write_all(tmp("bad.json"), bad, strlen(bad), NULL), 0);
    const char *a1[] = {"run", "--config", tmp("bad.json"), "--out", tmp("out"), NULL};
    result r = run(a1);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "models[0].engines[0]"), "stderr: %s", r.err);
    done(&r);
    const char *a2[] = {"run", "--suite", "nope", NULL};
    r = run(a2);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "nope"), "stderr: %s", r.err);
    done(&r);
    write_config(tmp("c.json"), "", "");
    const char *a3[] = {"run", "--config", tmp("c.json"), "--model", "absent", "--out",
                        tmp("out"), NULL};
    r = run(a3);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "absent"), "stderr: %s", r.err);
    done(&r);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("suites");
    TCase *tc = tcase_create("run");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, crash_and_hang_are_recorded);
    tcase_add_test(tc, threshold_failure_is_named);
    tcase_add_test(tc, results_hold_every_metric);
    tcase_add_test(tc, config_and_usage_errors_exit_2);
    tcase_add_test(tc, pins_are_checked);
    tcase_add_test(tc, consistency_and_performance);
    tcase_add_test(tc, membership_inference_finds_the_overfit_model);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
