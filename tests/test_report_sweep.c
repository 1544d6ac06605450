/* Reports of a sweep (issue 9: "every run and sweep produces all three"):
 * `flipcheck report --in sweep.json` writes report.json (sweep.json
 * unchanged plus the report block), report.html (curves against eps per
 * model and attack) and junit.xml (one testcase per curve and per failed
 * unit, well-formed for xmllint); a regression and a failed unit become a
 * <failure> and an <error>; `flipcheck sweep` writes the three itself. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"

#define PEERS FC_TEST_DATA "/peers"

static char tmpdir[64];

static const char *tmp(const char *name)
{
    static char bufs[32][300];
    static int next;
    char *b = bufs[next++ % 32];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

static char *slurp(const char *path)
{
    uint8_t *b = NULL;
    size_t n = 0;
    fc_err err;
    ck_assert_msg(fc_file_read_all(path, 256u << 20, "output", &b, &n, &err) == FC_OK, "%s",
                  err.msg);
    return (char *)b;
}

static cJSON *load_json(const char *path)
{
    char *text = slurp(path);
    cJSON *j = cJSON_Parse(text);
    fc_free(text);
    ck_assert_msg(j != NULL, "%s is not JSON", path);
    return j;
}

static int run_to(const char *const *argv, const char *out, const char *err)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "%s killed by a signal", argv[0]);
    return WEXITSTATUS(status);
}

static long xpath_count(const char *file, const char *expr)
{
    char path[300];
    snprintf(path, sizeof path, "%s", file);
    const char *argv[] = {"xmllint", "--xpath", expr, path, NULL};
    int code = run_to(argv, tmp("x.out"), tmp("x.err"));
    ck_assert_msg(code != 127, "xmllint is not installed (tools/install-deps installs libxml2-utils)");
    char *out = slurp(tmp("x.out"));
    char *end;
    double v = strtod(out, &end);
    ck_assert_msg(code == 0 && end != out, "xmllint --xpath '%s': exit %d, '%s'", expr, code, out);
    fc_free(out);
    return lround(v);
}

static void well_formed(const char *file)
{
    char path[300];
    snprintf(path, sizeof path, "%s", file);
    const char *argv[] = {"xmllint", "--noout", path, NULL};
    int code = run_to(argv, tmp("x.out"), tmp("x.err"));
    ck_assert_msg(code != 127, "xmllint is not installed (tools/install-deps installs libxml2-utils)");
    ck_assert_msg(code == 0, "%s is not well-formed XML", path);
}

static void prepare(void)
{
    strcpy(tmpdir, "/tmp/fc_repsweep_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    const char *argv[] = {FLIPCHECK_BIN, "sweep", "--model", PEERS "/mlp.onnx", "--int8",
                          PEERS "/mlp.qdq.onnx", "--data", PEERS "/test_images_u8.npy",
                          "--labels", PEERS "/test_labels.npy", "--eps", "0,0.02,0.05",
                          "--pgd-steps", "3", "--max-images", "32", "--block", "16", "--out",
                          tmp("sw"), "--quiet", NULL};
    int code = run_to(argv, tmp("sweep.out"), tmp("sweep.err"));
    char *err = slurp(tmp("sweep.err"));
    ck_assert_msg(code == 0, "flipcheck sweep: exit %d: %s", code, err);
    fc_free(err);
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

static void check_reports(const char *dir, const char *sweep_json, int curves, int regressed,
                          int failed_units)
{
    char path[300];
    snprintf(path, sizeof path, "%s/report.json", dir);
    cJSON *doc = load_json(path), *sw = load_json(sweep_json);
    const cJSON *k;
    cJSON_ArrayForEach(k, sw)
        ck_assert_msg(cJSON_Compare(k, cJSON_GetObjectItemCaseSensitive(doc, k->string), true),
                      "report.json: '%s' differs from sweep.json", k->string);
    const cJSON *counts = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "report"), "junit_counts");
    ck_assert_int_eq((int)cJSON_GetObjectItem(counts, "tests")->valuedouble, curves + failed_units);
    cJSON_Delete(sw);
    cJSON_Delete(doc);
    snprintf(path, sizeof path, "%s/junit.xml", dir);
    well_formed(path);
    ck_assert_int_eq(xpath_count(path, "count(//testcase)"), curves + failed_units);
    ck_assert_int_eq(xpath_count(path, "count(//testcase/failure)"), regressed);
    ck_assert_int_eq(xpath_count(path, "count(//testcase/error)"), failed_units);
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = slurp(path);
    /* both charts of both pairs (mlp x fgsm, mlp x pgd), with their points */
    static const char *const ids[] = {"sweep-robust_accuracy-0", "sweep-flip_rate-0",
                                      "sweep-robust_accuracy-1", "sweep-flip_rate-1"};
    int points[4] = {-1, -1, -1, -1};
    for (const char *p = html; (p = strstr(p, "data-points=\"")); p++) {
        int n;
        char id[96];
        if (sscanf(p, "data-points=\"%d\" data-chart=\"%95[^\"]\"", &n, id) != 2)
            continue;
        for (int i = 0; i < 4; i++)
            if (!strcmp(id, ids[i]))
                points[i] = n;
    }
    for (int i = 0; i < 4; i++)   /* 3 engines x 3 eps */
        ck_assert_msg(points[i] == 3 * 3, "chart %s: %d points", ids[i], points[i]);
    ck_assert(!strstr(html, "<script"));
    fc_free(html);
}

START_TEST(report_of_a_sweep)
{
    cJSON *sw = load_json(tmp("sw/sweep.json"));
    int curves = cJSON_GetArraySize(cJSON_GetObjectItem(sw, "curves"));
    cJSON_Delete(sw);
    ck_assert_int_eq(curves, 6);   /* fgsm, pgd x f32, q8, q8-transfer */
    char *out = slurp(tmp("sweep.out"));
    ck_assert_msg(strstr(out, "6 curves, 0 failed units"), "sweep said: %s", out);
    fc_free(out);
    const char *argv[] = {FLIPCHECK_BIN, "report", "--in", tmp("sw/sweep.json"), "--out",
                          tmp("rep"), NULL};
    ck_assert_int_eq(run_to(argv, tmp("r.out"), tmp("r.err")), 0);
    check_reports(tmp("rep"), tmp("sw/sweep.json"), 6, 0, 0);
}
END_TEST

/* A regression on one curve and a failed unit, written into the document
 * as fc_sweep_compare and the sweep do. */
START_TEST(regressions_and_failed_units_fail_in_junit)
{
    cJSON *sw = load_json(tmp("sw/sweep.json"));
    cJSON *reg = cJSON_AddArrayToObject(sw, "regressions");
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "kind", "robust_accuracy");
    cJSON_AddStringToObject(r, "model", "mlp");
    cJSON_AddStringToObject(r, "attack", "pgd");
    cJSON_AddStringToObject(r, "engine", "q8");
    cJSON_AddNumberToObject(r, "eps", 0.02);
    cJSON_AddNumberToObject(r, "baseline", 0.9);
    cJSON_AddNumberToObject(r, "now", 0.5);
    cJSON_AddItemToArray(reg, r);
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "model", "mlp");
    cJSON_AddStringToObject(f, "attack", "fgsm");
    cJSON_AddNumberToObject(f, "block", 1);
    cJSON_AddStringToObject(f, "error", "crashed <b>&amp;</b>");
    cJSON_AddItemToArray(cJSON_GetObjectItem(sw, "failures"), f);
    char *text = cJSON_Print(sw);
    cJSON_Delete(sw);
    ck_assert_int_eq(fc_file_write_all(tmp("bad.json"), text, strlen(text), NULL), 0);
    free(text);
    const char *argv[] = {FLIPCHECK_BIN, "report", "--in", tmp("bad.json"), "--out", tmp("bad"),
                          NULL};
    ck_assert_int_eq(run_to(argv, tmp("r.out"), tmp("r.err")), 0);
    check_reports(tmp("bad"), tmp("bad.json"), 6, 1, 1);
    ck_assert_int_eq(xpath_count(tmp("bad/junit.xml"),
                                 "count(//testsuite[@name='mlp.pgd']/testcase[@name='q8']/failure)"),
                     1);
}
END_TEST

/* `flipcheck sweep` writes the three files itself (cli_sweep_finish calls
 * fc_report_write_all with the document it writes as sweep.json). */
START_TEST(sweep_writes_the_three_reports)
{
    static const char *const files[] = {"sw/report.json", "sw/report.html", "sw/junit.xml"};
    for (int i = 0; i < 3; i++)
        ck_assert_msg(access(tmp(files[i]), R_OK) == 0,
                      "flipcheck sweep did not write %s (cli_sweep_finish must call "
                      "fc_report_write_all)", files[i]);
    check_reports(tmp("sw"), tmp("sw/sweep.json"), 6, 0, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report_sweep");
    TCase *tc = tcase_create("sweep");
    tcase_add_unchecked_fixture(tc, prepare, cleanup);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, report_of_a_sweep);
    tcase_add_test(tc, regressions_and_failed_units_fail_in_junit);
    tcase_add_test(tc, sweep_writes_the_three_reports);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
