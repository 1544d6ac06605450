/* Merging shard documents, and comparing a sweep with last night's. */
#include <math.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "sweep_internal.h"

#define SWEEP_MAX_LISTED_SHARDS 4096

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int int_of(const cJSON *o, const char *k, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    int64_t x = cJSON_IsNumber(v) ? sweep_i64(v->valuedouble) : dflt;
    return x >= -1 && x <= INT_MAX ? (int)x : -1;   /* out of range reads as invalid */
}

fc_status fc_sweep_merge(const char *const *paths, int n, cJSON **doc, fc_err *err)
{
    *doc = NULL;
    if (n < 1)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "no shards to merge");
    cJSON **docs = fc_calloc((size_t)n, sizeof *docs);
    if (!docs)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    fc_status st = FC_OK;
    int count = -1;
    for (int i = 0; !st && i < n; i++) {
        if ((st = fc_sweep_load(paths[i], &docs[i], err)))
            break;
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(docs[i], "shard");
        int k = int_of(sh, "index", -1), c = int_of(sh, "count", -1);
        if (c < 1 || k < 0 || k >= c)
            st = fc_err_set(err, FC_ERR_PARSE, "%s: no valid shard index/count", paths[i]);
        else if (count >= 0 && c != count)
            st = fc_err_set(err, FC_ERR_INVALID_ARG, "%s: shard %d/%d, but %s is of %d shards",
                            paths[i], k, c, paths[0], count);
        else if (i > 0 && !cJSON_Compare(cJSON_GetObjectItemCaseSensitive(docs[i], "plan"),
                                         cJSON_GetObjectItemCaseSensitive(docs[0], "plan"), true))
            st = fc_err_set(err, FC_ERR_INVALID_ARG,
                            "%s: another plan than %s (models, images, attacks, engines, eps, "
                            "block or seed differ)", paths[i], paths[0]);
        count = c;
    }
    /* More shards than files can only mean missing ones.  Past a few
     * thousand they are not listed one by one: the count is a number from
     * the file and must not size an allocation or a loop. */
    if (!st && count > n && count > SWEEP_MAX_LISTED_SHARDS)
        st = fc_err_set(err, FC_ERR_INVALID_ARG,
                        "%d file(s) given for %d shards: missing shard(s) (%s is shard %d/%d)", n,
                        count, paths[0],
                        int_of(cJSON_GetObjectItemCaseSensitive(docs[0], "shard"), "index", 0),
                        count);
    /* Every shard exactly once. */
    const char **seen = NULL;
    if (!st && !(seen = fc_calloc((size_t)count, sizeof *seen)))
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    if (!st) {
        char msg[FC_ERR_MSG_MAX] = "";
        for (int i = 0; i < n; i++) {
            int k = int_of(cJSON_GetObjectItemCaseSensitive(docs[i], "shard"), "index", 0);
            if (seen[k]) {
                size_t len = strlen(msg);
                snprintf(msg + len, sizeof msg - len, "%sduplicated shard %d/%d: %s and %s",
                         len ? "; " : "", k, count, seen[k], paths[i]);
            } else {
                seen[k] = paths[i];
            }
        }
        for (int k = 0; k < count; k++)
            if (!seen[k]) {
                size_t len = strlen(msg);
                snprintf(msg + len, sizeof msg - len, "%smissing shard %d/%d", len ? "; " : "", k,
                         count);
            }
        if (msg[0])
            st = fc_err_set(err, FC_ERR_INVALID_ARG, "%s", msg);
    }
    fc_free(seen);
    cJSON *records = NULL, *failures = NULL, *plan = NULL, *shard = NULL;
    if (!st && (!(records = cJSON_CreateArray()) || !(failures = cJSON_CreateArray()) ||
                !(shard = sweep_shard_json(0, 1))))
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    for (int i = 0; !st && i < n; i++) {
        cJSON *r = cJSON_GetObjectItemCaseSensitive(docs[i], "records");
        cJSON *f = cJSON_GetObjectItemCaseSensitive(docs[i], "failures");
        if (!cJSON_IsArray(r) || !cJSON_IsArray(f)) {
            st = fc_err_set(err, FC_ERR_PARSE, "%s: no records or failures array", paths[i]);
            break;
        }
        while (r->child)
            cJSON_AddItemToArray(records, cJSON_DetachItemViaPointer(r, r->child));
        while (f->child)
            cJSON_AddItemToArray(failures, cJSON_DetachItemViaPointer(f, f->child));
    }
    if (!st) {
        plan = cJSON_DetachItemFromObjectCaseSensitive(docs[0], "plan");
        st = fc_sweep_document(plan, shard, records, failures, doc, err);
        if (st)
            fc_err_prefix(err, "merging %s...: ", paths[0]);
    } else {
        cJSON_Delete(records);
        cJSON_Delete(failures);
        cJSON_Delete(shard);
    }
    for (int i = 0; i < n; i++)
        cJSON_Delete(docs[i]);
    fc_free(docs);
    return st;
}

/* ---- baseline ------------------------------------------------------------- */

static const cJSON *find_curve(const cJSON *doc, const cJSON *c)
{
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(doc, "curves")) {
        if (!strcmp(str_of(o, "model"), str_of(c, "model")) &&
            !strcmp(str_of(o, "attack"), str_of(c, "attack")) &&
            !strcmp(str_of(o, "engine"), str_of(c, "engine")))
            return o;
    }
    return NULL;
}

/* series[eps] of curve c, NaN when absent or null. */
static double at_eps(const cJSON *c, const char *series, double eps)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(c, "eps")->child;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, series);
    v = cJSON_IsArray(v) ? v->child : NULL;
    for (; e && v; e = e->next, v = v->next)
        if (cJSON_IsNumber(e) && fabs(e->valuedouble - eps) < 1e-12)
            return cJSON_IsNumber(v) ? v->valuedouble : NAN;
    return NAN;
}

static bool add_regression(cJSON *regs, const char *kind, const cJSON *c, double eps,
                           double before, double now)
{
    cJSON *r = cJSON_CreateObject();
    return r && cJSON_AddItemToArray(regs, r) && cJSON_AddStringToObject(r, "kind", kind) &&
           cJSON_AddStringToObject(r, "model", str_of(c, "model")) &&
           cJSON_AddStringToObject(r, "attack", str_of(c, "attack")) &&
           cJSON_AddStringToObject(r, "engine", str_of(c, "engine")) &&
           cJSON_AddNumberToObject(r, "eps", eps) &&
           cJSON_AddNumberToObject(r, "baseline", before) && cJSON_AddNumberToObject(r, "now", now);
}

static bool had_failure(const cJSON *baseline, const cJSON *f)
{
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(baseline, "failures")) {
        if (!strcmp(str_of(o, "model"), str_of(f, "model")) &&
            !strcmp(str_of(o, "attack"), str_of(f, "attack")) &&
            int_of(o, "block", -1) == int_of(f, "block", -2))
            return true;
    }
    return false;
}

fc_status fc_sweep_compare(cJSON *doc, const cJSON *baseline, double acc_tol, double flip_tol,
                           int *count, fc_err *err)
{
    *count = 0;
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "regressions");
    cJSON *regs = cJSON_AddArrayToObject(doc, "regressions");
    if (!regs)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    /* Compared in points, with a hair of slack so that the tolerance
     * itself (0.02 written as a double) is not a regression. */
    const double slack = 1e-9;
    const cJSON *c;
    bool ok = true;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "curves")) {
        const cJSON *old = find_curve(baseline, c);
        if (!old || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(old, "eps")))
            continue;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "eps")) {
            double eps = e->valuedouble;
            double a0 = at_eps(old, "robust_accuracy", eps), a1 = at_eps(c, "robust_accuracy", eps);
            if (isfinite(a0) && isfinite(a1) && a0 - a1 > acc_tol + slack)
                ok = ok && add_regression(regs, "robust_accuracy", c, eps, a0, a1);
            double f0 = at_eps(old, "int8_disagreement", eps), f1 = at_eps(c, "int8_disagreement", eps);
            if (isfinite(f0) && isfinite(f1) && f1 - f0 > flip_tol + slack)
                ok = ok && add_regression(regs, "int8_flip_rate", c, eps, f0, f1);
        }
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(doc, "failures")) {
        if (had_failure(baseline, f))
            continue;
        cJSON *r = cJSON_CreateObject();
        ok = ok && r && cJSON_AddItemToArray(regs, r) && cJSON_AddStringToObject(r, "kind", "crash") &&
             cJSON_AddStringToObject(r, "model", str_of(f, "model")) &&
             cJSON_AddStringToObject(r, "attack", str_of(f, "attack")) &&
             cJSON_AddNumberToObject(r, "block", int_of(f, "block", -1)) &&
             cJSON_AddStringToObject(r, "error", str_of(f, "error"));
    }
    if (!ok)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    *count = cJSON_GetArraySize(regs);
    return FC_OK;
}
