/* fc_report_write: the three report files from one results tree.
 * report.json is results.json plus a "report" block, so a reader of
 * results keeps working; the page and junit.xml are built in memory and
 * each written atomically. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "fc_report.h"
#include "report_internal.h"

#define RP_PATH_MAX 4096

static fc_status write_file(const char *dir, const char *name, const char *text, size_t len,
                            fc_err *err)
{
    char path[RP_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: output path too long", dir);
    return fc_file_write_atomic(path, text, len, err);
}

/* Testcases, failures and errors as junit.xml has them (Check's counts). */
static void run_counts(const cJSON *results, int *tests, int *failures, int *errors)
{
    const cJSON *m, *s, *t;
    *tests = *failures = *errors = 0;
    cJSON_ArrayForEach(m, rp_get(results, "models"))
    {
        int n = 0;
        cJSON_ArrayForEach(s, rp_get(m, "suites")) cJSON_ArrayForEach(t, rp_get(s, "tests"))
        {
            const char *st = rp_str(t, "status");
            n++;
            *failures += !strcmp(st, "fail");
            *errors += strcmp(st, "fail") && strcmp(st, "pass");
        }
        if (!n && rp_str(m, "error")[0])
            n = 1, (*errors)++;
        *tests += n;
    }
}

/* The "report" block: what was generated, when, and the counts junit.xml
 * carries. */
static cJSON *report_block(const cJSON *doc, bool sweep)
{
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    char when[32];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tmv));
    int tests, failures, errors;
    if (sweep)
        rp_sweep_counts(doc, &tests, &failures, &errors);
    else
        run_counts(doc, &tests, &failures, &errors);
    if (!cJSON_AddNumberToObject(r, "version", FC_REPORT_VERSION) ||
        !cJSON_AddStringToObject(r, "generated_at", when) ||
        !cJSON_AddStringToObject(r, "schema", sweep ? "docs/nightly.md" : "docs/report-schema.json")) {
        cJSON_Delete(r);
        return NULL;
    }
    cJSON *files = cJSON_CreateObject();
    if (!files || !cJSON_AddItemToObject(r, "files", files)) {
        cJSON_Delete(files);
        cJSON_Delete(r);
        return NULL;
    }
    cJSON *counts = cJSON_CreateObject();
    if (!counts || !cJSON_AddItemToObject(r, "junit_counts", counts)) {
        cJSON_Delete(counts);
        cJSON_Delete(r);
        return NULL;
    }
    /* files and counts belong to r now */
    if (!cJSON_AddStringToObject(files, "html", "report.html") ||
        !cJSON_AddStringToObject(files, "junit", "junit.xml") ||
        !cJSON_AddNumberToObject(counts, "tests", tests) ||
        !cJSON_AddNumberToObject(counts, "failures", failures) ||
        !cJSON_AddNumberToObject(counts, "errors", errors)) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

static fc_status write_json(const cJSON *results, bool sweep, const char *out_dir, fc_err *err)
{
    cJSON *copy = cJSON_Duplicate(results, 1);
    cJSON *block = copy ? report_block(results, sweep) : NULL;
    if (!block) {
        cJSON_Delete(copy);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory writing report.json");
    }
    /* regenerating from a report.json replaces its old block */
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "report");
    if (!cJSON_AddItemToObject(copy, "report", block)) {
        cJSON_Delete(block);
        cJSON_Delete(copy);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory writing report.json");
    }
    char *text = cJSON_Print(copy);
    cJSON_Delete(copy);
    if (!text)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory writing report.json");
    fc_status st = write_file(out_dir, "report.json", text, strlen(text), err);
    fc_free(text);
    return st;
}

fc_status fc_report_write(const cJSON *results, const char *data_dir, const char *out_dir,
                          fc_err *err)
{
    bool sweep = cJSON_IsArray(rp_get(results, "curves")) && rp_get(results, "flipcheck_sweep");
    if (!cJSON_IsObject(results) || (!sweep && !cJSON_IsArray(rp_get(results, "models"))))
        return fc_err_set(err, FC_ERR_PARSE, "results: neither a flipcheck results.json (no "
                                             "\"models\" array) nor a sweep.json");
    if (!data_dir)
        data_dir = out_dir;
    fc_status st = fc_file_mkdirs(out_dir, err);
    if (!st)
        st = write_json(results, sweep, out_dir, err);
    rp_buf b;
    rp_init(&b);
    if (!st)
        st = sweep ? rp_write_sweep_html(results, &b, err)
                   : rp_write_html(results, data_dir, &b, err);
    if (!st)
        st = write_file(out_dir, "report.html", b.data, b.len, err);
    rp_free(&b);
    if (!st)
        st = sweep ? rp_write_sweep_junit(results, &b, err) : rp_write_junit(results, &b, err);
    if (!st)
        st = write_file(out_dir, "junit.xml", b.data, b.len, err);
    rp_free(&b);
    return st;
}

fc_status fc_report_write_all(const cJSON *results, const char *out_dir, fc_err *err)
{
    return fc_report_write(results, out_dir, out_dir, err);
}
