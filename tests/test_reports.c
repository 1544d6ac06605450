/* The reports of a run (issue 9): report.json matches docs/report-schema.json
 * (checked by tests/helpers/schema_check.c, itself shown to reject bad
 * documents); junit.xml is well-formed for xmllint and counts what Check
 * counted; report.html renders its charts in headless Chromium, and a model
 * named like an HTML tag (with a file name like one) stays text.
 *
 * One run is shared: the peer mlp with its QDQ twin, 64 images, named
 * "<img src=x onerror=alert(1)>", loaded from a copy called
 * "x<svg onload=alert(2)>.onnx", with one threshold set to fail.  xmllint
 * and chromium are installed by tools/install-deps; without them the tests
 * fail, they do not skip. */
#include <check.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "core/fc_npy.h"
#include "core/fc_tensor.h"
#include "io/fc_png.h"
#include "reports/fc_report.h"
#include "schema_check.h"

#define PEERS FC_TEST_DATA "/peers"
#define HOSTILE_NAME "<img src=x onerror=alert(1)>"
#define HOSTILE_FILE "x<svg onload=alert(2)>.onnx"

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

/* Runs argv[0] (searched in PATH) with stdout and stderr into files;
 * returns the exit code, 127 when it could not be started. */
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
        /* Check's selection variables (CK_RUN_CASE=... to run one test of
         * this binary) would also select inside flipcheck's own Check run */
        static const char *const ck[] = {"CK_RUN_SUITE", "CK_RUN_CASE", "CK_EXCLUDE_SUITE",
                                         "CK_EXCLUDE_CASE", "CK_INCLUDE_TAGS", "CK_EXCLUDE_TAGS"};
        for (size_t i = 0; i < sizeof ck / sizeof ck[0]; i++)
            unsetenv(ck[i]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "%s killed by signal %d", argv[0],
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return WEXITSTATUS(status);
}

/* ---- the shared run (unchecked fixture: once, before the tests) ---------- */

static int run_code;

static void prepare(void)
{
    strcpy(tmpdir, "/tmp/fc_reports_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    uint8_t *model = NULL;
    size_t len = 0;
    ck_assert_int_eq(fc_file_read_all(PEERS "/mlp.onnx", 1u << 26, "model", &model, &len, NULL), 0);
    ck_assert_int_eq(fc_file_write_all(tmp(HOSTILE_FILE), model, len, NULL), 0);
    fc_free(model);
    char cfg[4096];
    int n = snprintf(cfg, sizeof cfg,
                     "{\"timeout_s\": 120, \"thresholds\": {\"max_nonfinite_outputs\": 1000,\n"
                     "  \"fgsm\": {\"eps\": 0.05, \"min_robust_accuracy\": 0.999}},\n"
                     " \"models\": [{\"name\": \"%s\", \"fp32\": \"%s\",\n"
                     "  \"int8\": {\"file\": \"%s/mlp.qdq.onnx\"},\n"
                     "  \"engines\": [\"f32\", \"f32-ref\", \"q8\", \"q8-ref\"],\n"
                     "  \"attacks\": {\"fgsm\": {\"eps\": [0.02, 0.05]}, \"pgd\": {\"eps\": [0.02, "
                     "0.05], \"steps\": 3}, \"max_images\": 32},\n"
                     "  \"data\": {\"test\": \"%s/test_images_u8.npy\", \"labels\": "
                     "\"%s/test_labels.npy\", \"max_images\": 64}}]}\n",
                     HOSTILE_NAME, tmp(HOSTILE_FILE), PEERS, PEERS, PEERS);
    ck_assert_int_lt(n, (int)sizeof cfg);
    ck_assert_int_eq(fc_file_write_all(tmp("c.json"), cfg, (size_t)n, NULL), 0);
    const char *run[] = {FLIPCHECK_BIN, "run", "--config", tmp("c.json"), "--out", tmp("out"),
                         NULL};
    run_code = run_to(run, tmp("run.out"), tmp("run.err"));
    char *run_err = slurp(tmp("run.err"));
    ck_assert_msg(run_code == 0 || run_code == 1, "flipcheck run: exit %d: %s", run_code, run_err);
    fc_free(run_err);
    const char *rep[] = {FLIPCHECK_BIN, "report", "--in", tmp("out/results.json"), "--out",
                         tmp("rep"), NULL};
    int code = run_to(rep, tmp("rep.out"), tmp("rep.err"));
    char *err = slurp(tmp("rep.err"));
    ck_assert_msg(code == 0, "flipcheck report: exit %d: %s", code, err);
    fc_free(err);
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

static cJSON *schema(void)
{
    return load_json(FC_SOURCE_DIR "/docs/report-schema.json");
}

/* ---- the validator rejects what it must --------------------------------- */

static bool valid(const char *schema_text, const char *doc_text, char *why, size_t size)
{
    cJSON *s = cJSON_Parse(schema_text), *d = cJSON_Parse(doc_text);
    ck_assert(s && d);
    bool ok = schema_check(s, d, why, size);
    cJSON_Delete(s);
    cJSON_Delete(d);
    return ok;
}

START_TEST(schema_checker_rejects_invalid_documents)
{
    static const char sch[] =
        "{\"type\": \"object\", \"required\": [\"v\", \"items\"], \"additionalProperties\": false,"
        " \"properties\": {\"v\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 3},"
        "  \"s\": {\"enum\": [\"pass\", \"fail\"]}, \"n\": {\"type\": [\"number\", \"null\"]},"
        "  \"items\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"required\": [\"x\"],"
        "   \"properties\": {\"x\": {\"type\": \"string\"}}}}}}";
    static const struct {
        const char *doc, *why;
    } bad[] = {
        {"[]", "wrong type"},
        {"{\"items\": []}", "missing required property v"},
        {"{\"v\": 1.5, \"items\": []}", "$.v: wrong type"},
        {"{\"v\": 0, \"items\": []}", "$.v: below minimum"},
        {"{\"v\": 4, \"items\": []}", "$.v: above maximum"},
        {"{\"v\": 1, \"items\": [], \"s\": \"maybe\"}", "$.s: value not in enum"},
        {"{\"v\": 1, \"items\": [], \"n\": \"1\"}", "$.n: wrong type"},
        {"{\"v\": 1, \"items\": [], \"extra\": 1}", "$.extra: property not allowed"},
        {"{\"v\": 1, \"items\": [{\"x\": \"a\"}, {\"x\": 2}]}", "$.items[1].x: wrong type"},
        {"{\"v\": 1, \"items\": [{}]}", "$.items[0]: missing required property x"},
    };
    char why[512];
    ck_assert_msg(valid(sch, "{\"v\": 2, \"items\": [{\"x\": \"a\", \"y\": 1}], \"n\": null, "
                             "\"s\": \"fail\"}", why, sizeof why), "%s", why);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!valid(sch, bad[i].doc, why, sizeof why), "accepted %s", bad[i].doc);
        ck_assert_msg(strstr(why, bad[i].why), "%s: said '%s', want '%s'", bad[i].doc, why,
                      bad[i].why);
    }
    /* a keyword the checker does not implement is refused, not ignored */
    ck_assert(!valid("{\"pattern\": \"^a\"}", "\"b\"", why, sizeof why));
    ck_assert_msg(strstr(why, "unsupported keyword pattern"), "%s", why);

    /* the real schema on a real report, then broken in three places */
    cJSON *s = schema(), *doc = load_json(tmp("rep/report.json"));
    ck_assert_msg(schema_check(s, doc, why, sizeof why), "%s", why);
    cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "models"), 0);
    cJSON *t = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "suites"), 0), "tests"), 0);
    cJSON_ReplaceItemInObject(t, "status", cJSON_CreateString("maybe"));
    ck_assert(!schema_check(s, doc, why, sizeof why));
    ck_assert_msg(strstr(why, "$.models[0].suites[0].tests[0].status"), "%s", why);
    cJSON_ReplaceItemInObject(t, "status", cJSON_CreateString("pass"));
    ck_assert_msg(schema_check(s, doc, why, sizeof why), "%s", why);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(doc, "summary"), "passed", cJSON_CreateNumber(-1));
    ck_assert(!schema_check(s, doc, why, sizeof why));
    ck_assert_msg(strstr(why, "$.summary.passed: below minimum"), "%s", why);
    cJSON_DeleteItemFromObject(doc, "schema_version");
    ck_assert(!schema_check(s, doc, why, sizeof why));
    cJSON_Delete(doc);
    cJSON_Delete(s);
}
END_TEST

/* ---- report.json ---------------------------------------------------------- */

static void check_report_json(const char *report, const char *results)
{
    cJSON *s = schema(), *doc = load_json(report), *res = load_json(results);
    char why[512];
    ck_assert_msg(schema_check(s, doc, why, sizeof why), "%s: %s", report, why);
    /* a faithful superset: every member of results.json is there unchanged */
    const cJSON *k;
    cJSON_ArrayForEach(k, res)
        ck_assert_msg(cJSON_Compare(k, cJSON_GetObjectItemCaseSensitive(doc, k->string), true),
                      "report.json: '%s' differs from results.json", k->string);
    cJSON_Delete(res);
    cJSON_Delete(doc);
    cJSON_Delete(s);
}

START_TEST(report_json_matches_the_schema)
{
    check_report_json(tmp("rep/report.json"), tmp("out/results.json"));
}
END_TEST

/* `flipcheck run` writes the three files itself (fc_run_suites calls
 * fc_report_write_all), and its report.json also matches. */
START_TEST(run_writes_the_three_reports)
{
    static const char *const files[] = {"out/report.json", "out/report.html", "out/junit.xml"};
    for (int i = 0; i < 3; i++)
        ck_assert_msg(access(tmp(files[i]), R_OK) == 0,
                      "flipcheck run did not write %s (fc_run_suites must call "
                      "fc_report_write_all)", files[i]);
    check_report_json(tmp("out/report.json"), tmp("out/results.json"));
}
END_TEST

/* The default run (bundled models and images, no config) limited to the
 * bundled mlp so the test stays short: its report.json matches too. */
START_TEST(default_run_report_matches_the_schema)
{
    const char *run[] = {FLIPCHECK_BIN, "run", "--model", "mlp", "--out", tmp("default"),
                         "--quiet", NULL};
    int code = run_to(run, tmp("default.out"), tmp("default.err"));
    char *out = slurp(tmp("default.out"));
    ck_assert_msg(code == 0 || code == 1, "flipcheck run: exit %d: %s", code, out);
    fc_free(out);
    const char *rep[] = {FLIPCHECK_BIN, "report", "--in", tmp("default/results.json"), NULL};
    ck_assert_int_eq(run_to(rep, tmp("drep.out"), tmp("drep.err")), 0);
    check_report_json(tmp("default/report.json"), tmp("default/results.json"));
}
END_TEST

/* ---- junit.xml -------------------------------------------------------------- */

static long xpath_count(const char *file, const char *expr)
{
    const char *argv[] = {"xmllint", "--xpath", expr, file, NULL};
    int code = run_to(argv, tmp("x.out"), tmp("x.err"));
    ck_assert_msg(code != 127, "xmllint is not installed (tools/install-deps installs libxml2-utils)");
    char *out = slurp(tmp("x.out"));
    char *end;
    double v = strtod(out, &end);
    ck_assert_msg(code == 0 && end != out, "xmllint --xpath '%s': exit %d, '%s'", expr, code, out);
    fc_free(out);
    return lround(v);
}

START_TEST(junit_is_well_formed_and_counts_what_check_counted)
{
    char file[300];
    snprintf(file, sizeof file, "%s", tmp("rep/junit.xml"));
    const char *lint[] = {"xmllint", "--noout", file, NULL};
    int code = run_to(lint, tmp("x.out"), tmp("x.err"));
    ck_assert_msg(code != 127, "xmllint is not installed (tools/install-deps installs libxml2-utils)");
    char *err = slurp(tmp("x.err"));
    ck_assert_msg(code == 0, "xmllint --noout junit.xml: exit %d: %s", code, err);
    fc_free(err);
    /* Check's own line on stdout: "N passed, M failed ..." */
    char *out = slurp(tmp("run.out"));
    int passed = -1, failed = -1;
    bool found = false;
    for (size_t at = 0, n = strlen(out); at < n && !found; at++)
        found = (at == 0 || out[at - 1] == '\n') &&
                sscanf(out + at, "%d passed, %d failed", &passed, &failed) == 2;
    ck_assert_msg(found, "no 'N passed, M failed' line in: %s", out);
    fc_free(out);
    ck_assert_msg(run_code == 1 && failed >= 1, "the failing threshold did not fail the run "
                  "(exit %d, %d failed)", run_code, failed);
    cJSON *res = load_json(tmp("out/results.json"));
    const cJSON *sum = cJSON_GetObjectItem(res, "summary");
    ck_assert_int_eq((int)cJSON_GetObjectItem(sum, "passed")->valuedouble, passed);
    ck_assert_int_eq((int)cJSON_GetObjectItem(sum, "failed")->valuedouble, failed);
    int suites = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(res, "models"))
        suites += cJSON_GetArraySize(cJSON_GetObjectItem(m, "suites"));
    cJSON_Delete(res);
    ck_assert_int_eq(xpath_count(file, "count(//testcase)"), passed + failed);
    ck_assert_int_eq(xpath_count(file, "count(//testcase/failure) + count(//testcase/error)"),
                     failed);
    ck_assert_int_eq(xpath_count(file, "count(/testsuites/testsuite)"), suites);
    ck_assert_int_eq(xpath_count(file, "number(/testsuites/@tests)"), passed + failed);
    /* the failing threshold is named in its failure */
    ck_assert_int_eq(xpath_count(file, "count(//testcase[@name='fgsm_f32_eps0.05']/failure["
                                       "contains(., 'fgsm.min_robust_accuracy')])"), 1);
    ck_assert_int_eq(xpath_count(file, "count(//testsuite[@name='" HOSTILE_NAME ".adversarial'])"),
                     1);
}
END_TEST

/* ---- report.html in Chromium ------------------------------------------------ */

static char *chromium(const char *html, const char *extra)
{
    char url[400], profile[320];
    snprintf(url, sizeof url, "file://%s", html);
    snprintf(profile, sizeof profile, "--user-data-dir=%s", tmp("chromium-profile"));
    const char *argv[] = {"chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--no-first-run", "--disable-background-networking", profile,
                          "--window-size=1200,3000", extra, url, NULL};
    int code = run_to(argv, tmp("dom.html"), tmp("chromium.err"));
    ck_assert_msg(code != 127, "chromium is not installed (tools/install-deps installs it)");
    char *err = slurp(tmp("chromium.err"));
    ck_assert_msg(code == 0, "chromium %s: exit %d: %s", extra, code, err);
    fc_free(err);
    return slurp(tmp("dom.html"));
}

/* The <svg> element holding data-chart="id" in the DOM, as [*start, *end). */
static void find_chart(const char *dom, const char *id, const char **start, const char **end)
{
    char attr[96];
    snprintf(attr, sizeof attr, "data-chart=\"%s\"", id);
    const char *a = strstr(dom, attr);
    ck_assert_msg(a, "no chart %s in the DOM", id);
    const char *s = a;
    while (s > dom && strncmp(s, "<svg", 4))
        s--;
    const char *e = strstr(a, "</svg>");
    ck_assert_msg(!strncmp(s, "<svg", 4) && e, "chart %s is not an <svg> element", id);
    *start = s;
    *end = e;
}

static int count_in(const char *s, const char *e, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)) && p < e; p += strlen(what))
        n++;
    return n;
}

START_TEST(html_renders_its_charts_in_chromium)
{
    char *dom = chromium(tmp("rep/report.html"), "--dump-dom");
    static const struct {
        const char *id, *mark;
        int min;
    } charts[] = {
        {"robust-fgsm-0", "<circle", 6},  /* 3 curves x (clean + 2 eps) */
        {"robust-pgd-0", "<circle", 6},
        {"min-eps-0", "<rect class=\"bar\"", 2},
        {"confidence-drop-0", "<rect class=\"bar\"", 1},
        {"sqnr-0", "<rect class=\"bar\"", 2},
        {"boundary-0", "<rect class=\"cell\"", 4 * 21},
    };
    for (size_t i = 0; i < sizeof charts / sizeof charts[0]; i++) {
        const char *s, *e;
        find_chart(dom, charts[i].id, &s, &e);
        int marks = count_in(s, e, charts[i].mark);
        const char *dp = strstr(s, "data-points=\"");
        ck_assert(dp && dp < e);
        int declared = atoi(dp + 13);
        ck_assert_msg(marks >= charts[i].min && marks == declared,
                      "chart %s: %d %s marks, data-points %d, want >= %d", charts[i].id, marks,
                      charts[i].mark, declared, charts[i].min);
        /* marks carry their values: a <title> per mark */
        ck_assert_int_ge(count_in(s, e, "<title>"), marks);
    }
    /* most-flipped examples: four PNG data URIs each */
    int thumbs = count_in(dom, dom + strlen(dom), "<img class=\"thumb\"");
    int uris = count_in(dom, dom + strlen(dom), "src=\"data:image/png;base64,iVBORw0KGgo");
    ck_assert_msg(thumbs >= 4 && thumbs % 4 == 0 && uris == thumbs, "%d thumbnails, %d PNG URIs",
                  thumbs, uris);
    /* the grid names the failing threshold */
    const char *grid = strstr(dom, "id=\"grid\"");
    ck_assert(grid);
    const char *grid_end = strstr(grid, "</table>");
    ck_assert_msg(grid_end && count_in(grid, grid_end, "fgsm.min_robust_accuracy") >= 1,
                  "the grid does not name the failing threshold");
    /* nothing from elsewhere: no script, no external URL in src/href */
    ck_assert(!strstr(dom, "<script"));
    ck_assert(!strstr(dom, "src=\"http") && !strstr(dom, "href=\"http"));
    fc_free(dom);

    /* the screenshot: saved next to the binaries, and the charts' colours
     * are on it (a blank or unstyled page would not have them) */
    char bin[512], shot[600];
    snprintf(bin, sizeof bin, "%s", FLIPCHECK_BIN);
    snprintf(shot, sizeof shot, "--screenshot=%s/report-screenshot.png", dirname(bin));
    fc_free(chromium(tmp("rep/report.html"), shot));
    fc_tensor img = {0};
    fc_err err;
    ck_assert_msg(fc_png_read(shot + 13, 3, NULL, &img, NULL, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq((int)img.dims[2], 1200);
    size_t plane = (size_t)img.dims[1] * (size_t)img.dims[2], blue = 0, green = 0;
    const float *p = img.data;
    for (size_t i = 0; i < plane; i++) {
        float r = p[i], g = p[plane + i], b = p[2 * plane + i];
        blue += fabsf(r - 0x1f / 255.f) < 0.03f && fabsf(g - 0x77 / 255.f) < 0.03f &&
                fabsf(b - 0xb4 / 255.f) < 0.03f;
        green += fabsf(r - 0x9f / 255.f) < 0.03f && fabsf(g - 0xd4 / 255.f) < 0.03f &&
                 fabsf(b - 0xa3 / 255.f) < 0.03f;
    }
    fc_tensor_release(&img);
    ck_assert_msg(blue > 500 && green > 500, "screenshot: %zu chart-blue, %zu boundary-green pixels",
                  blue, green);
}
END_TEST

START_TEST(hostile_names_stay_text)
{
    char *html = slurp(tmp("rep/report.html"));
    ck_assert(!strstr(html, "<img src=x") && !strstr(html, "<svg onload"));
    fc_free(html);
    char *dom = chromium(tmp("rep/report.html"), "--dump-dom");
    const char *end = dom + strlen(dom);
    /* the name and the file name are there, as text */
    ck_assert_msg(strstr(dom, "&lt;img src=x onerror=alert(1)&gt;"), "model name not shown");
    ck_assert_msg(strstr(dom, "x&lt;svg onload=alert(2)&gt;.onnx"), "file name not shown");
    /* and became no element: every <img> is a thumbnail, every <svg> a chart */
    ck_assert_int_eq(count_in(dom, end, "<img"), count_in(dom, end, "<img class=\"thumb\""));
    ck_assert_int_eq(count_in(dom, end, "<svg"), count_in(dom, end, "<svg class=\"chart\""));
    ck_assert(!strstr(dom, "onerror=\"") && !strstr(dom, "onload=\"") && !strstr(dom, "<script"));
    fc_free(dom);
}
END_TEST

/* ---- a hand-made results tree: hostile strings, a path out of the folder,
 *      and every allocation failing in turn ------------------------------- */

static const char synthetic[] =
    "{\"schema_version\": 1, \"tool\": \"flipcheck\", \"config\": \"c\\u0001.json\","
    " \"started_at\": \"2026-01-01T00:00:00Z\", \"duration_s\": 1, \"jobs\": 1,"
    " \"environment\": {\"cpu\": \"x\"},"
    " \"models\": [{\"name\": \"bad\xff\xfe name \\u0007 <b>&\", \"fp32\": \"m.onnx\", \"ok\": false,"
    "  \"passed\": 1, \"failed\": 2, \"crashes\": 1, \"hangs\": 0, \"suites\": [{\"name\": "
    "\"adversarial\", \"passed\": 1, \"failed\": 2, \"tests\": ["
    "   {\"test\": \"fgsm_f32_eps0.1\", \"engine\": \"f32\", \"status\": \"fail\", \"message\": "
    "\"m <x>\", \"result_file\": true, \"checks\": [{\"threshold\": \"fgsm.min_robust_accuracy\","
    " \"op\": \">=\", \"limit\": 0.9, \"value\": 0.5, \"pass\": false}],"
    "    \"metrics\": {\"attack\": \"fgsm\", \"mode\": \"direct\", \"judged_by\": \"fp32\", \"eps\": "
    "0.1, \"robust_accuracy\": 0.5, \"clean_accuracy\": 0.9, \"examples\": ["
    "     {\"index\": 1, \"label\": 0, \"clean_top1\": 0, \"adv_top1\": 1, \"confidence_drop\": 0.9,"
    " \"file\": \"../../etc/passwd\"},"
    "     {\"index\": 2, \"label\": 0, \"clean_top1\": 0, \"adv_top1\": 1, \"confidence_drop\": 0.5,"
    " \"file\": \"ex.npy\"}]}},"
    "   {\"test\": \"f32_nan_all\", \"engine\": \"f32\", \"status\": \"crash\", \"message\": "
    "\"signal 11\", \"result_file\": false, \"metrics\": {}, \"checks\": []},"
    "   {\"test\": \"fgsm_q8_eps0.1\", \"engine\": \"q8\", \"status\": \"pass\", \"message\": \"\","
    " \"result_file\": true, \"metrics\": {\"attack\": \"fgsm\", \"mode\": \"direct\", "
    "\"judged_by\": \"int8\", \"eps\": 0.1, \"robust_accuracy\": 0.6}, \"checks\": []}]}]}],"
    " \"summary\": {\"passed\": 1, \"failed\": 2, \"crashes\": 1, \"hangs\": 0, "
    "\"threshold_failures\": 1, \"ok\": false}}";

START_TEST(hostile_results_are_escaped_and_contained)
{
    const char *dir = tmp("synthetic");
    ck_assert_int_eq(fc_file_mkdirs(dir, NULL), 0);
    fc_tensor ex = {0};
    int64_t dims[4] = {3, 1, 4, 4};
    ck_assert_int_eq(fc_tensor_alloc(&ex, FC_DT_F32, 4, dims, NULL), 0);
    float *px = ex.data;
    for (int i = 0; i < 16; i++)
        px[i] = i / 15.f, px[16 + i] = i / 15.f + (i % 2 ? 0.05f : -0.05f), px[32 + i] = i % 3 / 2.f;
    char path[400];
    snprintf(path, sizeof path, "%s/ex.npy", dir);
    ck_assert_int_eq(fc_npy_write(path, &ex, NULL), 0);
    fc_tensor_release(&ex);
    cJSON *r = cJSON_Parse(synthetic);
    ck_assert_ptr_nonnull(r);
    fc_err err;
    ck_assert_msg(fc_report_write(r, dir, dir, &err) == FC_OK, "%s", err.msg);

    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = slurp(path);
    ck_assert(strstr(html, "bad\xEF\xBF\xBD\xEF\xBF\xBD name  &lt;b&gt;&amp;"));
    ck_assert(!strchr(html, '\a') && !strchr(html, '\x01') && !strstr(html, "\xff"));
    ck_assert(strstr(html, "m &lt;x&gt;") && !strstr(html, "<x>"));
    /* the path out of the folder is refused by name; the other is drawn */
    ck_assert_msg(strstr(html, "thumbnail unavailable: example file &#39;../../etc/passwd&#39;"),
                  "no refusal of ../../etc/passwd");
    ck_assert_int_eq(count_in(html, html + strlen(html), "<img class=\"thumb\""), 4);
    ck_assert(strstr(html, "data-chart=\"robust-fgsm-0\""));
    fc_free(html);
    snprintf(path, sizeof path, "%s/junit.xml", dir);
    const char *lint[] = {"xmllint", "--noout", path, NULL};
    ck_assert_msg(run_to(lint, tmp("x.out"), tmp("x.err")) == 0, "junit.xml not well-formed");
    ck_assert_int_eq(xpath_count(path, "count(//testcase)"), 3);
    ck_assert_int_eq(xpath_count(path, "count(//failure)"), 1);
    ck_assert_int_eq(xpath_count(path, "count(//error[@type='crash'])"), 1);

    /* every allocation failing in turn: a named out-of-memory, never a crash */
    int k = 0;
    for (;; k++) {
        fc_err_clear(&err);
        fc_alloc_fail_after(k);
        fc_status st = fc_report_write(r, dir, dir, &err);
        fc_alloc_fail_reset();
        if (st == FC_OK)
            break;
        ck_assert_msg(st == FC_ERR_NOMEM, "allocation %d: %s: %s", k, fc_status_name(st), err.msg);
        ck_assert_int_lt(k, 100000);
    }
    printf("fc_report_write: %d allocation failure points, each a named FC_ERR_NOMEM\n", k);
    ck_assert_int_gt(k, 10);
    cJSON_Delete(r);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("reports");
    TCase *tc = tcase_create("run");
    tcase_add_unchecked_fixture(tc, prepare, cleanup);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, schema_checker_rejects_invalid_documents);
    tcase_add_test(tc, report_json_matches_the_schema);
    tcase_add_test(tc, run_writes_the_three_reports);
    tcase_add_test(tc, junit_is_well_formed_and_counts_what_check_counted);
    tcase_add_test(tc, html_renders_its_charts_in_chromium);
    tcase_add_test(tc, hostile_names_stay_text);
    tcase_add_test(tc, hostile_results_are_escaped_and_contained);
    tcase_add_test(tc, default_run_report_matches_the_schema);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* cJSON allocates through fc_malloc, as in the CLI, so the allocation
     * sweep reaches report.json's copy of the tree too. */
    cJSON_Hooks hooks = {fc_malloc, fc_free};
    cJSON_InitHooks(&hooks);
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
