/* Recording a test's numbers and checks, and the helpers every suite uses
 * to open models and slice the test data. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "suite_internal.h"
#include "suites/fc_suites.h"

static const char *const suite_names[FC_SUITE_COUNT] = {
    "integrity", "accuracy", "agreement", "adversarial", "boundary", "garbage", "performance",
    "privacy", "consistency"};

const char *fc_suite_name(int i)
{
    return i >= 0 && i < FC_SUITE_COUNT ? suite_names[i] : "?";
}

int fc_suite_find(const char *name)
{
    for (int i = 0; i < FC_SUITE_COUNT; i++)
        if (!strcmp(suite_names[i], name))
            return i;
    return -1;
}

suite_case *suite_cases_add(suite_cases *cs, int suite, const char *name, const char *engine,
                            suite_case_fn fn)
{
    if (cs->n == cs->cap) {
        int cap = cs->cap ? cs->cap * 2 : 32;
        suite_case *v = fc_realloc(cs->v, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        cs->v = v;
        cs->cap = cap;
    }
    suite_case *c = &cs->v[cs->n++];
    memset(c, 0, sizeof *c);
    c->suite = suite;
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->engine, sizeof c->engine, "%s", engine ? engine : "");
    c->fn = fn;
    c->index = -1;
    return c;
}

void suite_cases_free(suite_cases *cs)
{
    fc_free(cs->v);
    memset(cs, 0, sizeof *cs);
}

/* cJSON calls here fail only when out of memory; a metric lost that way
 * shows up as missing in the result file rather than as a crash. */
void case_metric(fc_case_out *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o->metrics, key, v);
    else
        cJSON_AddNullToObject(o->metrics, key);
}

void case_metric_str(fc_case_out *o, const char *key, const char *s)
{
    cJSON_AddStringToObject(o->metrics, key, s ? s : "");
}

static void vfail(fc_case_out *o, const char *fmt, va_list ap)
{
    if (!o->failure[0])
        vsnprintf(o->failure, sizeof o->failure, fmt, ap);
}

void case_fail(fc_case_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(o, fmt, ap);
    va_end(ap);
}

void case_summary(fc_case_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->summary, sizeof o->summary, fmt, ap);
    va_end(ap);
}

static bool check(fc_case_out *o, const suite_ctx *ctx, const char *threshold, double limit,
                  double value, const char *what, bool is_max)
{
    if (isnan(limit))
        return true;
    /* NaN measured against a set threshold is a failure: nothing was shown. */
    bool pass = is_max ? value <= limit : value >= limit;
    cJSON *c = cJSON_CreateObject();
    if (c) {
        cJSON_AddStringToObject(c, "threshold", threshold);
        cJSON_AddStringToObject(c, "op", is_max ? "<=" : ">=");
        cJSON_AddNumberToObject(c, "limit", limit);
        if (isfinite(value))
            cJSON_AddNumberToObject(c, "value", value);
        else
            cJSON_AddNullToObject(c, "value");
        cJSON_AddStringToObject(c, "what", what);
        cJSON_AddBoolToObject(c, "pass", pass);
        cJSON_AddItemToArray(o->checks, c);
    }
    if (!pass)
        case_fail(o, "%s: threshold %s = %g not met: %s = %.6g", ctx->mc->name, threshold, limit,
                  what, value);
    return pass;
}

bool case_check_max(fc_case_out *o, const suite_ctx *ctx, const char *threshold, double limit,
                    double value, const char *what)
{
    return check(o, ctx, threshold, limit, value, what, true);
}

bool case_check_min(fc_case_out *o, const suite_ctx *ctx, const char *threshold, double limit,
                    double value, const char *what)
{
    return check(o, ctx, threshold, limit, value, what, false);
}

static fc_model *open_model(const char *path, const char *engine, const suite_ctx *ctx,
                            fc_case_out *o)
{
    fc_model *m = NULL;
    fc_err err = {0};
    if (fc_model_open(path, engine, &ctx->mc->pre, &m, &err)) {
        case_fail(o, "%s: %s", ctx->mc->name, err.msg);
        return NULL;
    }
    return m;
}

fc_model *case_open_fp32(const suite_ctx *ctx, const char *engine, fc_case_out *o)
{
    return open_model(ctx->mc->fp32, engine, ctx, o);
}

fc_model *case_open_int8(const suite_ctx *ctx, const char *engine, fc_case_out *o)
{
    if (!ctx->int8_path[0]) {
        case_fail(o, "%s: no int8 twin (no int8 file and no calibration data)", ctx->mc->name);
        return NULL;
    }
    return open_model(ctx->int8_path, engine, ctx, o);
}

fc_dataset case_test_view(const suite_ctx *ctx, int64_t n)
{
    fc_dataset v = ctx->test;
    if (n > 0 && n < v.n) {
        v.n = n;
        v.images.dims[0] = n;
        v.images.numel = (size_t)n * (ctx->test.images.numel / (size_t)ctx->test.n);
    }
    v.images.owns_data = false;
    return v;
}

fc_status case_logits(fc_model *m, const fc_tensor *pixels, fc_tensor *logits, fc_case_out *o)
{
    fc_err err = {0};
    fc_status st = fc_model_logits(m, pixels, logits, &err);
    if (st)
        case_fail(o, "%s", err.msg);
    return st;
}
