/* junit.xml: one <testsuite> per model and suite ("mlp.adversarial"), one
 * <testcase> per Check test.  A failed assertion is a <failure> carrying
 * the threshold message; a crash, hang or internal error is an <error>
 * (type "crash", "hang", "error"), so failures + errors equals Check's
 * failed count and testcases equal passed + failed.  A model whose worker
 * died has no suites; it becomes one suite "<model>.run" with one error, as
 * results.json counts it as one failure. */
#include <stdio.h>
#include <string.h>

#include "report_internal.h"

static bool is_pass(const cJSON *t)
{
    return !strcmp(rp_str(t, "status"), "pass");
}

static void attr(rp_buf *b, const char *name, const char *value)
{
    rp_printf(b, " %s=\"", name);
    rp_xml(b, value);
    rp_put(b, "\"");
}

/* The failing checks, one per line: "fgsm.min_robust_accuracy: robust
 * accuracy (...) = 0.41, must be >= 0.5". */
static void failed_checks(rp_buf *b, const cJSON *t)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, rp_get(t, "checks"))
    {
        if (!cJSON_IsFalse(rp_get(c, "pass")))
            continue;
        rp_xml(b, rp_str(c, "threshold"));
        rp_put(b, ": ");
        rp_xml(b, rp_str(c, "what"));
        rp_put(b, " = ");
        rp_num(b, rp_num_or(c, "value", 0.0 / 0.0), 6);
        rp_put(b, ", must be ");
        rp_xml(b, rp_str(c, "op"));
        rp_put(b, " ");
        rp_num(b, rp_num_or(c, "limit", 0.0 / 0.0), 6);
        rp_put(b, "\n");
    }
}

static void testcase(rp_buf *b, const char *model, const char *suite, const cJSON *t)
{
    char cls[300];
    snprintf(cls, sizeof cls, "flipcheck.%s.%s", model, suite);
    rp_put(b, "    <testcase");
    attr(b, "classname", cls);
    attr(b, "name", rp_str(t, "test"));
    rp_printf(b, " time=\"%.6f\"", rp_num_or(t, "duration_s", 0));
    const char *st = rp_str(t, "status");
    if (is_pass(t)) {
        rp_put(b, "/>\n");
        return;
    }
    bool fail = !strcmp(st, "fail");
    rp_put(b, fail ? ">\n      <failure" : ">\n      <error");
    const char *msg = rp_str(t, "message");
    attr(b, "message", msg[0] ? msg : st);
    attr(b, "type", fail ? "threshold" : st);
    rp_put(b, ">");
    rp_xml(b, msg);
    rp_put(b, "\n");
    failed_checks(b, t);
    const char *eng = rp_str(t, "engine");
    if (eng[0]) {
        rp_put(b, "engine: ");
        rp_xml(b, eng);
        rp_put(b, "\n");
    }
    rp_put(b, fail ? "</failure>\n" : "</error>\n");
    const char *sum = rp_str(t, "summary");
    if (sum[0]) {
        rp_put(b, "      <system-out>");
        rp_xml(b, sum);
        rp_put(b, "</system-out>\n");
    }
    rp_put(b, "    </testcase>\n");
}

static void suite_open(rp_buf *b, const char *model, const char *suite, int tests, int failures,
                       int errors, double time, const char *stamp, const cJSON *m)
{
    char name[300];
    snprintf(name, sizeof name, "%s.%s", model, suite);
    rp_put(b, "  <testsuite");
    attr(b, "name", name);
    rp_printf(b, " tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"0\" time=\"%.6f\"", tests,
              failures, errors, time);
    if (stamp[0]) {
        /* the JUnit schema's timestamp has no zone designator: it is UTC */
        char t[32];
        snprintf(t, sizeof t, "%s", stamp);
        size_t n = strlen(t);
        if (n && t[n - 1] == 'Z')
            t[n - 1] = '\0';
        attr(b, "timestamp", t);
    }
    rp_put(b, ">\n    <properties>\n");
    static const char *const keys[] = {"fp32", "int8", "int8_source"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        if (!rp_str(m, keys[k])[0])
            continue;
        rp_put(b, "      <property");
        attr(b, "name", keys[k]);
        attr(b, "value", rp_str(m, keys[k]));
        rp_put(b, "/>\n");
    }
    rp_put(b, "    </properties>\n");
}

fc_status rp_write_junit(const cJSON *results, rp_buf *b, fc_err *err)
{
    int tests = 0, failures = 0, errors = 0;
    const cJSON *m, *s, *t;
    /* totals first: the root element carries them */
    cJSON_ArrayForEach(m, rp_get(results, "models"))
    {
        int n = 0;
        cJSON_ArrayForEach(s, rp_get(m, "suites")) cJSON_ArrayForEach(t, rp_get(s, "tests"))
        {
            n++;
            tests++;
            if (!is_pass(t)) {
                if (!strcmp(rp_str(t, "status"), "fail"))
                    failures++;
                else
                    errors++;
            }
        }
        if (!n && rp_str(m, "error")[0]) {
            tests++;
            errors++;
        }
    }
    const char *stamp = rp_str(results, "started_at");
    rp_put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"flipcheck\"");
    rp_printf(b, " tests=\"%d\" failures=\"%d\" errors=\"%d\" time=\"%.6f\">\n", tests, failures,
              errors, rp_num_or(results, "duration_s", 0));
    cJSON_ArrayForEach(m, rp_get(results, "models"))
    {
        const char *model = rp_str(m, "name");
        int n_suites = 0;
        cJSON_ArrayForEach(s, rp_get(m, "suites"))
        {
            int st = 0, sf = 0, se = 0;
            double time = 0;
            cJSON_ArrayForEach(t, rp_get(s, "tests"))
            {
                st++;
                time += rp_num_or(t, "duration_s", 0);
                if (!is_pass(t)) {
                    if (!strcmp(rp_str(t, "status"), "fail"))
                        sf++;
                    else
                        se++;
                }
            }
            suite_open(b, model, rp_str(s, "name"), st, sf, se, time, stamp, m);
            cJSON_ArrayForEach(t, rp_get(s, "tests")) testcase(b, model, rp_str(s, "name"), t);
            rp_put(b, "  </testsuite>\n");
            n_suites++;
        }
        const char *lost = rp_str(m, "error");
        if (!n_suites && lost[0]) {
            suite_open(b, model, "run", 1, 0, 1, 0, stamp, m);
            char cls[300];
            snprintf(cls, sizeof cls, "flipcheck.%s.run", model);
            rp_put(b, "    <testcase");
            attr(b, "classname", cls);
            rp_put(b, " name=\"worker\" time=\"0\">\n      <error type=\"crash\"");
            attr(b, "message", lost);
            rp_put(b, ">");
            rp_xml(b, lost);
            rp_put(b, "</error>\n    </testcase>\n  </testsuite>\n");
        }
    }
    rp_put(b, "</testsuites>\n");
    if (b->failed)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory writing junit.xml");
    return FC_OK;
}
