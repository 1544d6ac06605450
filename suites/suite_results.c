/* A model's entry of results.json: each test's result file merged with
 * Check's verdict, the model-level checks that only the whole run can make
 * (crashes, hangs), and which twin the attacks hurt more. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "suite_run.h"

const char *suite_status_name(suite_status s)
{
    static const char *const names[] = {"not_run", "pass", "fail", "crash", "hang", "error"};
    return s <= SUITE_ERROR ? names[s] : "?";
}

static cJSON *read_json(const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fc_file_read_all(path, 16u << 20, "result", &buf, &len, NULL))
        return NULL;
    cJSON *j = cJSON_ParseWithLength((const char *)buf, len);
    fc_free(buf);
    return j;
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* One test: its file (when the test lived to write it) plus the verdict. */
static cJSON *test_json(const suite_ctx *ctx, const suite_case *c, int i,
                        const suite_outcome *out)
{
    char path[SUITE_PATH_MAX + 16];
    suite_case_path(ctx, i, path, sizeof path);
    cJSON *file = read_json(path);
    cJSON *t = cJSON_CreateObject();
    if (!t) {
        cJSON_Delete(file);
        return NULL;
    }
    cJSON_AddStringToObject(t, "test", c->name);
    cJSON_AddStringToObject(t, "engine", c->engine);
    cJSON_AddStringToObject(t, "status", suite_status_name(out->status));
    cJSON_AddStringToObject(t, "message", out->status == SUITE_PASS ? "" : out->message);
    cJSON_AddBoolToObject(t, "result_file", file != NULL);
    static const char *const keep[] = {"duration_s", "summary", "metrics", "checks"};
    for (int k = 0; k < 4; k++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(file, keep[k]);
        if (v)
            cJSON_AddItemToObject(t, keep[k], v);
        else if (k >= 2)
            cJSON_AddItemToObject(t, keep[k], k == 2 ? cJSON_CreateObject() : cJSON_CreateArray());
    }
    cJSON_Delete(file);
    return t;
}

static cJSON *thresholds_json(const fc_thresholds *th)
{
    cJSON *o = cJSON_CreateObject();
    add_num(o, "max_int8_accuracy_drop", th->max_int8_accuracy_drop);
    add_num(o, "max_flip_rate", th->max_flip_rate);
    add_num(o, "max_confidence_drop", th->max_confidence_drop);
    add_num(o, "fgsm.eps", th->fgsm_eps);
    add_num(o, "fgsm.min_robust_accuracy", th->fgsm_min_robust_accuracy);
    add_num(o, "pgd.eps", th->pgd_eps);
    add_num(o, "pgd.min_robust_accuracy", th->pgd_min_robust_accuracy);
    add_num(o, "max_crashes", th->max_crashes < 0 ? NAN : (double)th->max_crashes);
    add_num(o, "max_hangs", th->max_hangs < 0 ? NAN : (double)th->max_hangs);
    add_num(o, "max_nonfinite_outputs",
            th->max_nonfinite_outputs < 0 ? NAN : (double)th->max_nonfinite_outputs);
    add_num(o, "max_latency_p99_ms", th->max_latency_p99_ms);
    add_num(o, "max_peak_rss_mb", th->max_peak_rss_mb);
    add_num(o, "max_membership_advantage", th->max_membership_advantage);
    return o;
}

static double metric(const cJSON *test, const char *key)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(test, "metrics");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* For every (attack, eps) with direct runs on both twins: who is weaker. */
static cJSON *comparison_json(const cJSON *adv_tests)
{
    cJSON *arr = cJSON_CreateArray();
    const cJSON *t;
    cJSON_ArrayForEach(t, adv_tests)
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(t, "test")->valuestring;
        char attack[8];
        double eps;
        if (sscanf(name, "%7[a-z]_f32_eps%lf", attack, &eps) != 2)
            continue;
        double f = metric(t, "robust_accuracy"), q = NAN, x = NAN;
        char qn[64], xn[64];
        snprintf(qn, sizeof qn, "%s_q8_eps%g", attack, eps);
        snprintf(xn, sizeof xn, "%s_transfer_q8_eps%g", attack, eps);
        const cJSON *u;
        cJSON_ArrayForEach(u, adv_tests)
        {
            const char *un = cJSON_GetObjectItemCaseSensitive(u, "test")->valuestring;
            if (!strcmp(un, qn))
                q = metric(u, "robust_accuracy");
            if (!strcmp(un, xn))
                x = metric(u, "robust_accuracy");
        }
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "attack", attack);
        add_num(c, "eps", eps);
        add_num(c, "fp32_robust_accuracy", f);
        add_num(c, "int8_robust_accuracy", q);
        add_num(c, "transfer_robust_accuracy", x);
        const char *weaker = isnan(f) || isnan(q) ? "unknown"
                             : q < f              ? "int8"
                             : f < q              ? "fp32"
                                                  : "equal";
        cJSON_AddStringToObject(c, "weaker", weaker);
        cJSON_AddItemToArray(arr, c);
    }
    return arr;
}

static void count_check(cJSON *checks, const char *name, long limit, int value, bool *ok)
{
    if (limit < 0)
        return;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "threshold", name);
    cJSON_AddStringToObject(c, "op", "<=");
    cJSON_AddNumberToObject(c, "limit", (double)limit);
    cJSON_AddNumberToObject(c, "value", value);
    cJSON_AddBoolToObject(c, "pass", value <= limit);
    cJSON_AddItemToArray(checks, c);
    if (value > limit)
        *ok = false;
}

cJSON *suite_model_json(const suite_ctx *ctx, const suite_cases *cs,
                        const suite_outcome *outcomes)
{
    const fc_model_config *mc = ctx->mc;
    cJSON *m = cJSON_CreateObject();
    if (!m)
        return NULL;
    cJSON_AddStringToObject(m, "name", mc->name);
    cJSON_AddStringToObject(m, "fp32", mc->fp32);
    cJSON_AddStringToObject(m, "int8", ctx->int8_path);
    cJSON_AddStringToObject(m, "int8_source", ctx->int8_calibrated ? "calibrated" : "file");
    cJSON_AddNumberToObject(m, "seed", (double)mc->seed);
    cJSON_AddNumberToObject(m, "timeout_s", mc->timeout_s);
    cJSON *eng = cJSON_AddArrayToObject(m, "engines");
    for (int e = 0; e < mc->n_engines; e++)
        cJSON_AddItemToArray(eng, cJSON_CreateString(mc->engines[e]));
    cJSON_AddItemToObject(m, "thresholds", thresholds_json(&mc->th));
    cJSON *suites = cJSON_AddArrayToObject(m, "suites");
    cJSON *faults = cJSON_CreateArray();
    int passed = 0, failed = 0, crashes = 0, hangs = 0, errors = 0;
    cJSON *adv_tests = NULL;
    for (int s = 0; s < FC_SUITE_COUNT; s++) {
        cJSON *so = NULL, *tests = NULL;
        int sp = 0, sf = 0;
        for (int i = 0; i < cs->n; i++) {
            if (cs->v[i].suite != s)
                continue;
            if (!so) {
                so = cJSON_CreateObject();
                cJSON_AddStringToObject(so, "name", fc_suite_name(s));
                tests = cJSON_AddArrayToObject(so, "tests");
                cJSON_AddItemToArray(suites, so);
            }
            cJSON *t = test_json(ctx, &cs->v[i], i, &outcomes[i]);
            if (t)
                cJSON_AddItemToArray(tests, t);
            suite_status st = outcomes[i].status;
            sp += st == SUITE_PASS;
            sf += st != SUITE_PASS;
            crashes += st == SUITE_CRASH;
            hangs += st == SUITE_HANG;
            errors += st == SUITE_ERROR || st == SUITE_NOT_RUN;
            if (st == SUITE_CRASH || st == SUITE_HANG || st == SUITE_ERROR) {
                cJSON *f = cJSON_CreateObject();
                cJSON_AddStringToObject(f, "kind", suite_status_name(st));
                cJSON_AddStringToObject(f, "suite", fc_suite_name(s));
                cJSON_AddStringToObject(f, "test", cs->v[i].name);
                cJSON_AddStringToObject(f, "engine", cs->v[i].engine);
                cJSON_AddStringToObject(f, "message", outcomes[i].message);
                cJSON_AddItemToArray(faults, f);
            }
        }
        if (so) {
            cJSON_AddNumberToObject(so, "passed", sp);
            cJSON_AddNumberToObject(so, "failed", sf);
            if (s == 3)
                adv_tests = tests;
        }
        passed += sp;
        failed += sf;
    }
    cJSON_AddItemToObject(m, "crashes_and_hangs", faults);
    cJSON_AddItemToObject(m, "twin_comparison",
                          adv_tests ? comparison_json(adv_tests) : cJSON_CreateArray());
    bool ok = true;
    cJSON *checks = cJSON_AddArrayToObject(m, "checks");
    count_check(checks, "max_crashes", mc->th.max_crashes, crashes, &ok);
    count_check(checks, "max_hangs", mc->th.max_hangs, hangs, &ok);
    int threshold_failures = !ok;
    /* A failed assertion or an abnormal end beyond the allowed counts fails
     * the model; crashes and hangs within max_crashes / max_hangs do not. */
    int other = failed - crashes - hangs;
    if (other > 0 || (mc->th.max_crashes < 0 && crashes) || (mc->th.max_hangs < 0 && hangs))
        ok = false;
    cJSON_AddNumberToObject(m, "passed", passed);
    cJSON_AddNumberToObject(m, "failed", failed);
    cJSON_AddNumberToObject(m, "crashes", crashes);
    cJSON_AddNumberToObject(m, "hangs", hangs);
    cJSON_AddNumberToObject(m, "errors", errors);
    cJSON_AddNumberToObject(m, "model_threshold_failures", threshold_failures);
    cJSON_AddBoolToObject(m, "ok", ok);
    return m;
}
