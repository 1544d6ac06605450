/* fc_run_suites: every selected model through its suite, in parallel
 * worker processes when asked, and the merge into OUT/results.json.
 *
 * Layout of OUT: cases/<model>/NNNN.json (one per test, written by the
 * test), int8/<model>.int8.onnx (calibrated twins), models/<model>.json
 * (a model's merged entry, written by the worker that ran it),
 * results.json (everything). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "reports/fc_report.h"
#include "suite_run.h"
#include "suites/fc_suites.h"

#define RESULTS_SCHEMA_VERSION 1

/* A file-system-safe, unique stem for model i: "2-my_model". */
static void model_stem(const fc_config *cfg, int i, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%d-", i);
    for (const char *p = cfg->models[i].name; *p && (size_t)n + 1 < size; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        buf[n++] = ok ? c : '_';
    }
    buf[n] = '\0';
}

static void load_data(const char *src, const char *labels, int64_t max_images,
                      const suite_ctx *ctx, fc_dataset *d, char *why, size_t why_size)
{
    if (!src)
        return;
    fc_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.channels = ctx->channels;
    o.height = ctx->height;
    o.width = ctx->width;
    o.labels_path = labels;
    o.max_images = max_images;
    fc_err err = {0};
    if (fc_dataset_load(&src, 1, &o, d, &err))
        snprintf(why, why_size, "%s", err.msg);
}

/* Prepares model i, runs its suite, writes OUT/models/<stem>.json. */
static fc_status run_model(const fc_config *cfg, int i, const fc_run_options *opt,
                           const bool *selected, fc_err *err)
{
    const fc_model_config *mc = &cfg->models[i];
    suite_ctx *ctx = fc_calloc(1, sizeof *ctx);
    if (!ctx)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    char stem[96];
    model_stem(cfg, i, stem, sizeof stem);
    ctx->mc = mc;
    snprintf(ctx->out_dir, sizeof ctx->out_dir, "%s", opt->out_dir);
    snprintf(ctx->stem, sizeof ctx->stem, "%s", stem);
    snprintf(ctx->case_dir, sizeof ctx->case_dir, "%s/cases/%s", opt->out_dir, stem);
    ctx->int8_calibrated = mc->int8 == NULL;
    if (mc->int8)
        snprintf(ctx->int8_path, sizeof ctx->int8_path, "%s", mc->int8);
    else
        snprintf(ctx->int8_path, sizeof ctx->int8_path, "%s/int8/%s.int8.onnx", opt->out_dir,
                 stem);
    /* The model's input size decides how images load.  A model that does
     * not open leaves the data empty; its tests then fail by name. */
    fc_model *probe = NULL;
    fc_err perr = {0};
    if (!fc_model_open(mc->fp32, "f32", &mc->pre, &probe, &perr)) {
        ctx->channels = fc_model_channels(probe);
        ctx->height = fc_model_height(probe);
        ctx->width = fc_model_width(probe);
        fc_model_free(probe);
        load_data(mc->test_data, mc->test_labels, mc->max_images, ctx, &ctx->test,
                  ctx->data_error, sizeof ctx->data_error);
        load_data(mc->calib_data, mc->calib_labels, 0, ctx, &ctx->calib, ctx->calib_error,
                  sizeof ctx->calib_error);
    } else {
        snprintf(ctx->data_error, sizeof ctx->data_error, "%s", perr.msg);
        snprintf(ctx->calib_error, sizeof ctx->calib_error, "%s", perr.msg);
    }
    suite_cases cs = {0};
    suite_outcome *outcomes = NULL;
    cJSON *json = NULL;
    char *text = NULL;
    fc_status st = suite_build_cases(ctx, selected, &cs, err);
    if (!st && !(outcomes = fc_calloc((size_t)(cs.n ? cs.n : 1), sizeof *outcomes)))
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    if (!st && opt->progress) {
        fprintf(opt->progress, "%s: %d tests\n", mc->name, cs.n);
        fflush(opt->progress);
    }
    if (!st)
        st = suite_run_model(ctx, &cs, outcomes, err);
    if (!st && (!(json = suite_model_json(ctx, &cs, outcomes)) || !(text = cJSON_Print(json))))
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory writing results");
    if (!st) {
        char path[SUITE_PATH_MAX + 200];
        snprintf(path, sizeof path, "%s/models/%s.json", opt->out_dir, stem);
        st = fc_file_write_atomic(path, text, strlen(text), err);
    }
    fc_free(text);
    cJSON_Delete(json);
    fc_free(outcomes);
    suite_cases_free(&cs);
    fc_dataset_free(&ctx->test);
    fc_dataset_free(&ctx->calib);
    fc_free(ctx);
    return st;
}

static bool wanted(const fc_config *cfg, int i, const fc_run_options *opt)
{
    if (!opt->n_models)
        return true;
    for (int k = 0; k < opt->n_models; k++)
        if (!strcmp(opt->models[k], cfg->models[i].name))
            return true;
    return false;
}

/* Worker w of `jobs` runs every jobs-th wanted model; a worker is a forked
 * process so a model that kills its worker cannot take the others along. */
static fc_status run_workers(const fc_config *cfg, const fc_run_options *opt,
                             const bool *selected, int jobs, fc_err *err)
{
    if (jobs <= 1) {
        fc_status st = FC_OK;
        for (int i = 0; i < cfg->n_models && !st; i++)
            if (wanted(cfg, i, opt))
                st = run_model(cfg, i, opt, selected, err);
        return st;
    }
    pid_t pids[64];
    int started = 0;
    fflush(NULL);
    for (int w = 0; w < jobs; w++) {
        pid_t pid = fork();
        if (pid < 0)
            break;
        if (pid == 0) {
            int pos = 0, rc = 0;
            for (int i = 0; i < cfg->n_models; i++) {
                if (!wanted(cfg, i, opt) || pos++ % jobs != w)
                    continue;
                fc_err e = {0};
                if (run_model(cfg, i, opt, selected, &e)) {
                    fprintf(stderr, "flipcheck: %s\n", e.msg);
                    rc = 1;
                }
            }
            fflush(NULL);
            _exit(rc);   /* a forked worker must not run the parent's atexit handlers */
        }
        pids[started++] = pid;
    }
    if (!started)
        return fc_err_set(err, FC_ERR_IO, "cannot start worker processes: %s", strerror(errno));
    for (int w = 0; w < started; w++) {
        int status;
        while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
            ;
    }
    return FC_OK;
}

static cJSON *read_model(const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fc_file_read_all(path, 256u << 20, "results", &buf, &len, NULL))
        return NULL;
    cJSON *j = cJSON_ParseWithLength((const char *)buf, len);
    fc_free(buf);
    return j;
}

/* The entry of a model whose worker died before writing it. */
static cJSON *lost_model(const fc_model_config *mc)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "name", mc->name);
    cJSON_AddStringToObject(m, "fp32", mc->fp32);
    cJSON_AddStringToObject(m, "error", "the worker running this model died; see stderr");
    cJSON_AddArrayToObject(m, "suites");
    cJSON_AddNumberToObject(m, "passed", 0);
    cJSON_AddNumberToObject(m, "failed", 1);
    cJSON_AddNumberToObject(m, "crashes", 1);
    cJSON_AddNumberToObject(m, "hangs", 0);
    cJSON_AddBoolToObject(m, "ok", false);
    return m;
}

static int num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

/* Thresholds that did not hold anywhere in a model's entry. */
static int count_threshold_failures(const cJSON *m)
{
    int n = 0;
    const cJSON *s, *t, *c;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(m, "suites"))
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(s, "tests"))
            cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(t, "checks"))
                n += cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(c, "pass"));
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(m, "checks"))
        n += cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(c, "pass"));
    return n;
}

fc_status fc_run_suites(const fc_config *cfg, const fc_run_options *opt, fc_run_summary *out,
                        fc_err *err)
{
    memset(out, 0, sizeof *out);
    for (int k = 0; k < opt->n_models; k++) {
        bool found = false;
        for (int i = 0; i < cfg->n_models; i++)
            found = found || !strcmp(opt->models[k], cfg->models[i].name);
        if (!found)
            return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: no model named '%s'", cfg->path,
                              opt->models[k]);
    }
    bool selected[FC_SUITE_COUNT], any = false;
    for (int s = 0; s < FC_SUITE_COUNT; s++)
        any = any || opt->suites[s];
    for (int s = 0; s < FC_SUITE_COUNT; s++)
        selected[s] = !any || opt->suites[s];
    char dir[SUITE_PATH_MAX + 32];
    static const char *const subdirs[] = {"cases", "int8", "models"};
    fc_status st = fc_file_mkdirs(opt->out_dir, err);
    for (int k = 0; k < 3 && !st; k++) {
        snprintf(dir, sizeof dir, "%s/%s", opt->out_dir, subdirs[k]);
        st = fc_file_mkdirs(dir, err);
    }
    if (st)
        return st;
    /* Check reads these to run a subset of tests; inherited from a caller
     * that is itself a Check test, they would silently skip ours. */
    unsetenv("CK_RUN_SUITE");
    unsetenv("CK_RUN_CASE");
    unsetenv("CK_INCLUDE_TAGS");
    unsetenv("CK_EXCLUDE_TAGS");
    time_t started = time(NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int jobs = opt->jobs < 1 ? 1 : opt->jobs > 64 ? 64 : opt->jobs;
    /* Entries of an earlier run must not pass for this run's. */
    for (int i = 0; i < cfg->n_models; i++) {
        char stem[96], path[SUITE_PATH_MAX + 200];
        model_stem(cfg, i, stem, sizeof stem);
        snprintf(path, sizeof path, "%s/models/%s.json", opt->out_dir, stem);
        unlink(path);
    }
    if ((st = run_workers(cfg, opt, selected, jobs, err)))
        return st;
    clock_gettime(CLOCK_MONOTONIC, &t1);

    cJSON *root = cJSON_CreateObject();
    if (!root)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    cJSON_AddNumberToObject(root, "schema_version", RESULTS_SCHEMA_VERSION);
    cJSON_AddStringToObject(root, "tool", "flipcheck");
    cJSON_AddStringToObject(root, "config", cfg->path ? cfg->path : "<default>");
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&started));
    cJSON_AddStringToObject(root, "started_at", when);
    cJSON_AddNumberToObject(root, "duration_s",
                            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    cJSON_AddNumberToObject(root, "jobs", jobs);
    cJSON_AddItemToObject(root, "environment", suite_environment_json());
    cJSON *models = cJSON_AddArrayToObject(root, "models");
    bool ok = true;
    for (int i = 0; i < cfg->n_models; i++) {
        if (!wanted(cfg, i, opt))
            continue;
        char stem[96], path[SUITE_PATH_MAX + 200];
        model_stem(cfg, i, stem, sizeof stem);
        snprintf(path, sizeof path, "%s/models/%s.json", opt->out_dir, stem);
        cJSON *m = read_model(path);
        if (!m)
            m = lost_model(&cfg->models[i]);
        out->passed += num(m, "passed");
        out->failed += num(m, "failed");
        out->crashes += num(m, "crashes");
        out->hangs += num(m, "hangs");
        out->threshold_failures += count_threshold_failures(m);
        ok = ok && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "ok"));
        if (opt->progress)
            suite_print_model(opt->progress, m);
        cJSON_AddItemToArray(models, m);
    }
    out->ok = ok;
    cJSON *sum = cJSON_AddObjectToObject(root, "summary");
    cJSON_AddNumberToObject(sum, "passed", out->passed);
    cJSON_AddNumberToObject(sum, "failed", out->failed);
    cJSON_AddNumberToObject(sum, "crashes", out->crashes);
    cJSON_AddNumberToObject(sum, "hangs", out->hangs);
    cJSON_AddNumberToObject(sum, "threshold_failures", out->threshold_failures);
    cJSON_AddBoolToObject(sum, "ok", ok);
    char *text = cJSON_Print(root);
    if (!text) {
        cJSON_Delete(root);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory writing results.json");
    }
    snprintf(dir, sizeof dir, "%s/results.json", opt->out_dir);
    st = fc_file_write_atomic(dir, text, strlen(text), err);
    fc_free(text);
    /* report.json, report.html and junit.xml from the same document. */
    if (!st)
        st = fc_report_write_all(root, opt->out_dir, err);
    cJSON_Delete(root);
    return st;
}
