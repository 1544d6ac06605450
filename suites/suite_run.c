/* Running one model's suite under Check: the parent prepares the context
 * (data, case table), Check forks one child per test with the timeout,
 * each child writes its result file atomically before it asserts, and the
 * parent pairs Check's verdicts with the files (suite_results.c). */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "suite_internal.h"
#include "suite_run.h"
#include "suites/fc_suites.h"

/* What the forked tests read: set by suite_run_model before Check forks. */
static const suite_ctx *g_ctx;
static const suite_cases *g_cases;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void suite_case_path(const suite_ctx *ctx, int i, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%04d.json", ctx->case_dir, i);
}

static void write_result(const suite_ctx *ctx, int i, const suite_case *c, fc_case_out *o,
                         double secs)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return;
    cJSON_AddStringToObject(j, "model", ctx->mc->name);
    cJSON_AddStringToObject(j, "suite", fc_suite_name(c->suite));
    cJSON_AddStringToObject(j, "test", c->name);
    cJSON_AddStringToObject(j, "engine", c->engine);
    cJSON_AddNumberToObject(j, "duration_s", secs);
    cJSON_AddStringToObject(j, "summary", o->summary);
    cJSON_AddStringToObject(j, "failure", o->failure);
    cJSON_AddItemToObject(j, "metrics", o->metrics);
    cJSON_AddItemToObject(j, "checks", o->checks);
    o->metrics = o->checks = NULL;
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text)
        return;
    char path[SUITE_PATH_MAX + 16];
    suite_case_path(ctx, i, path, sizeof path);
    fc_err err = {0};
    if (fc_file_write_atomic(path, text, strlen(text), &err))
        fprintf(stderr, "flipcheck: %s\n", err.msg);
    fc_free(text);
}

/* The body of every Check test: case i of the table. */
static void run_case(int i)
{
    const suite_case *c = &g_cases->v[i];
    fc_case_out o = {0};
    o.metrics = cJSON_CreateObject();
    o.checks = cJSON_CreateArray();
    if (!o.metrics || !o.checks) {
        cJSON_Delete(o.metrics);
        cJSON_Delete(o.checks);
        ck_abort_msg("out of memory starting %s", c->name);
        return;
    }
    double t0 = now_s();
    c->fn(g_ctx, c, &o);
    write_result(g_ctx, i, c, &o, now_s() - t0);
    cJSON_Delete(o.metrics);
    cJSON_Delete(o.checks);
    /* Everything is freed before Check ends the child, so leak checkers see
     * a clean exit whether the test passed or not. */
    if (o.failure[0])
        ck_abort_msg("%s", o.failure);
}

/* Removes result files left by an earlier run into the same folder. */
static void clear_case_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n > 5 && !strcmp(de->d_name + n - 5, ".json")) {
            char path[SUITE_PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

fc_status suite_build_cases(const suite_ctx *ctx, const bool *selected, suite_cases *cs,
                            fc_err *err)
{
    typedef fc_status (*builder)(const suite_ctx *, suite_cases *, fc_err *);
    static const builder builders[FC_SUITE_COUNT] = {
        suite_integrity_cases,   suite_accuracy_cases, suite_agreement_cases,
        suite_adversarial_cases, suite_boundary_cases, suite_garbage_cases,
        suite_performance_cases, suite_privacy_cases,  suite_consistency_cases};
    for (int s = 0; s < FC_SUITE_COUNT; s++) {
        int before = cs->n;
        fc_status st = builders[s](ctx, cs, err);
        if (st)
            return st;
        if (selected[s])
            continue;
        /* Not selected: keep only integrity/int8_twin, which makes the twin
         * every other int8 test reads. */
        int keep = before;
        for (int i = before; i < cs->n; i++)
            if (s == 0 && !strcmp(cs->v[i].name, "int8_twin"))
                cs->v[keep++] = cs->v[i];
        cs->n = keep;
    }
    return FC_OK;
}

static fc_status outcome_of(TestResult *tr, suite_outcome *out)
{
    const char *msg = tr_msg(tr) ? tr_msg(tr) : "";
    snprintf(out->message, sizeof out->message, "%s", msg);
    switch (tr_rtype(tr)) {
    case CK_PASS:
        out->status = SUITE_PASS;
        break;
    case CK_FAILURE:
        out->status = SUITE_FAIL;
        break;
    default:
        /* Check reports a signal as "Received signal N (...)" and a timeout
         * as "Test timeout expired". */
        if (strstr(msg, "timeout"))
            out->status = SUITE_HANG;
        else if (strstr(msg, "signal"))
            out->status = SUITE_CRASH;
        else
            out->status = SUITE_ERROR;
    }
    return FC_OK;
}

fc_status suite_run_model(const suite_ctx *ctx, const suite_cases *cs, suite_outcome *outcomes,
                          fc_err *err)
{
    fc_status st = fc_file_mkdirs(ctx->case_dir, err);
    if (st)
        return st;
    clear_case_dir(ctx->case_dir);
    Suite *suite = suite_create(ctx->mc->name);
    TCase *tcs[FC_SUITE_COUNT] = {0};
    TTest *tests = fc_calloc((size_t)(cs->n ? cs->n : 1), sizeof *tests);
    if (!suite || !tests) {
        fc_free(tests);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory building the suites");
    }
    for (int i = 0; i < cs->n; i++) {
        int s = cs->v[i].suite;
        if (!tcs[s]) {
            tcs[s] = tcase_create(fc_suite_name(s));
            tcase_set_timeout(tcs[s], ctx->mc->timeout_s);
            suite_add_tcase(suite, tcs[s]);
        }
        tests[i] = (TTest){cs->v[i].name, run_case, __FILE__, __LINE__};
        /* A loop test over [i, i+1): Check hands the case index to run_case. */
        _tcase_add_test(tcs[s], &tests[i], 0, 0, i, i + 1);
    }
    g_ctx = ctx;
    g_cases = cs;
    SRunner *sr = srunner_create(suite);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_SILENT);
    int n = srunner_ntests_run(sr);
    TestResult **res = srunner_results(sr);
    /* Check returns results in the order the tests ran, which is the order
     * they were added (by TCase, then by test); verified by TCase name. */
    int k = 0;
    for (int s = 0; s < FC_SUITE_COUNT && !st; s++)
        for (int i = 0; i < cs->n && !st; i++) {
            if (cs->v[i].suite != s)
                continue;
            if (k >= n || !res || strcmp(tr_tcname(res[k]), fc_suite_name(s)))
                st = fc_err_set(err, FC_ERR_INTERNAL,
                                "%s: Check's results do not match the tests run (%d of %d)",
                                ctx->mc->name, k, n);
            else
                outcome_of(res[k++], &outcomes[i]);
        }
    free(res);   /* allocated by Check with malloc */
    srunner_free(sr);
    fc_free(tests);
    g_ctx = NULL;
    g_cases = NULL;
    return st;
}
