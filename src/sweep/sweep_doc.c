/* The sweep document: per-image records sorted into a fixed order and the
 * curves aggregated from them.  Sweeps and merges both end here, so a
 * merge of shards and the unsharded run add the same numbers in the same
 * order and agree exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/fc_metrics.h"
#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "sweep_internal.h"

static const char *const engine_names[FC_SWEEP_N_ENGINES] = {"f32", "q8", "q8-transfer"};

const char *fc_sweep_engine_name(int e)
{
    return e >= 0 && e < FC_SWEEP_N_ENGINES ? engine_names[e] : "?";
}

int fc_sweep_engine_parse(const char *name)
{
    for (int e = 0; e < FC_SWEEP_N_ENGINES; e++)
        if (!strcmp(name, engine_names[e]))
            return e;
    return -1;
}

int sweep_attack_parse(const char *name)
{
    int k = fc_attack_kind_parse(name);
    return k == FC_ATTACK_FGSM || k == FC_ATTACK_PGD || k == FC_ATTACK_BOUNDARY ? k : -1;
}

typedef struct keyed {
    int m, a, e;
    int64_t image;
    cJSON *item;
} keyed;

static int cmp_keyed(const void *pa, const void *pb)
{
    const keyed *x = pa, *y = pb;
    if (x->m != y->m)
        return x->m < y->m ? -1 : 1;
    if (x->a != y->a)
        return x->a < y->a ? -1 : 1;
    if (x->e != y->e)
        return x->e < y->e ? -1 : 1;
    return x->image < y->image ? -1 : x->image > y->image;
}

static int model_index(const cJSON *plan, const cJSON *name)
{
    int i = 0;
    const cJSON *m;
    if (!cJSON_IsString(name))
        return -1;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(plan, "models")) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name->valuestring))
            return i;
        i++;
    }
    return -1;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Detaches every item of arr into a keyed array sorted by (model, attack,
 * engine, image); records (image_key "image") or failures ("block"). */
static fc_status sort_items(const cJSON *plan, cJSON *arr, const char *image_key, keyed **out,
                            int64_t *count, fc_err *err)
{
    int64_t n = cJSON_GetArraySize(arr), k = 0;
    keyed *v = fc_calloc(n ? (size_t)n : 1, sizeof *v);
    if (!v)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    while (arr->child) {
        cJSON *it = cJSON_DetachItemViaPointer(arr, arr->child);
        const cJSON *img = cJSON_GetObjectItemCaseSensitive(it, image_key);
        const char *en = str_of(it, "engine");
        keyed kk = {model_index(plan, cJSON_GetObjectItemCaseSensitive(it, "model")),
                    sweep_attack_parse(str_of(it, "attack")), en[0] ? fc_sweep_engine_parse(en) : 0,
                    cJSON_IsNumber(img) ? sweep_i64(img->valuedouble) : -1, it};
        v[k++] = kk;
        if (kk.m < 0 || kk.a < 0 || kk.e < 0 || kk.image < 0) {
            /* The message reads `it`: set it before the items are freed. */
            fc_err_set(err, FC_ERR_PARSE,
                       "a %s names a model, attack or engine the plan does not have "
                       "(model '%s', attack '%s', engine '%s')",
                       image_key[0] == 'i' ? "record" : "failure", str_of(it, "model"),
                       str_of(it, "attack"), en);
            for (int64_t j = 0; j < k; j++)
                cJSON_Delete(v[j].item);
            fc_free(v);
            return FC_ERR_PARSE;
        }
    }
    qsort(v, (size_t)k, sizeof *v, cmp_keyed);
    *out = v;
    *count = k;
    return FC_OK;
}

/* The numbers of one record, checked against the grid. */
typedef struct rec_view {
    int64_t label, clean_top1;
    double clean_p;            /* NaN when null */
    const cJSON *top1, *p, *ref;
    const cJSON *min_eps;
} rec_view;

static bool view(const cJSON *r, int n_eps, rec_view *v)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(r, "label");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "clean_top1");
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(r, "clean_p_label");
    v->top1 = cJSON_GetObjectItemCaseSensitive(r, "adv_top1");
    v->p = cJSON_GetObjectItemCaseSensitive(r, "adv_p_label");
    v->ref = cJSON_GetObjectItemCaseSensitive(r, "ref_top1");
    v->min_eps = cJSON_GetObjectItemCaseSensitive(r, "min_eps");
    if (!cJSON_IsNumber(l) || !cJSON_IsNumber(c) || !cJSON_IsArray(v->top1) ||
        !cJSON_IsArray(v->p) || cJSON_GetArraySize(v->top1) != n_eps ||
        cJSON_GetArraySize(v->p) != n_eps ||
        (v->ref && (!cJSON_IsArray(v->ref) || cJSON_GetArraySize(v->ref) != n_eps)))
        return false;
    v->label = sweep_i64(l->valuedouble);
    v->clean_top1 = sweep_i64(c->valuedouble);
    v->clean_p = cJSON_IsNumber(cp) ? cp->valuedouble : NAN;
    return true;
}

static bool add_series(cJSON *curve, const char *key, const double *v, int n)
{
    cJSON *a = cJSON_AddArrayToObject(curve, key);
    for (int k = 0; a && k < n; k++)
        if (!cJSON_AddItemToArray(a, isfinite(v[k]) ? cJSON_CreateNumber(v[k]) : cJSON_CreateNull()))
            return false;
    return a != NULL;
}

/* The curve of records v[0..n) (one model, attack, engine). */
static fc_status curve_of(const cJSON *plan, const cJSON *eps, const keyed *v, int64_t n,
                          cJSON *curves, fc_err *err)
{
    const int ne = cJSON_GetArraySize(eps);
    double *acc = fc_calloc((size_t)ne * 5, sizeof *acc);
    double *min_eps = fc_calloc((size_t)n, sizeof *min_eps);
    if (!acc || !min_eps) {
        fc_free(acc);
        fc_free(min_eps);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    }
    double *robust = acc, *flip = acc + ne, *drop = acc + 2 * ne, *dis = acc + 3 * ne;
    double *drop_n = acc + 4 * ne;
    int64_t labelled = 0, clean_ok = 0, found = 0;
    bool transfer = v[0].e == FC_SWEEP_Q8_TRANSFER;
    fc_status st = FC_OK;
    /* Sums in image order: the same additions in every run and merge. */
    for (int64_t i = 0; i < n && !st; i++) {
        rec_view r;
        if (!view(v[i].item, ne, &r) || (transfer && !r.ref)) {
            st = fc_err_set(err, FC_ERR_PARSE, "record of %s/%s/%s image %lld does not fit the "
                            "eps grid of the plan", str_of(v[i].item, "model"),
                            str_of(v[i].item, "attack"), str_of(v[i].item, "engine"),
                            (long long)v[i].image);
            break;
        }
        labelled += r.label >= 0;
        clean_ok += r.label >= 0 && r.clean_top1 == r.label;
        min_eps[i] = cJSON_IsNumber(r.min_eps) ? r.min_eps->valuedouble : NAN;
        found += cJSON_IsNumber(r.min_eps);
        const cJSON *t = r.top1->child, *p = r.p->child, *f = r.ref ? r.ref->child : NULL;
        for (int k = 0; k < ne; k++, t = t->next, p = p->next, f = f ? f->next : NULL) {
            int64_t top = sweep_i64(t->valuedouble);
            robust[k] += r.label >= 0 && top == r.label;
            flip[k] += top != r.clean_top1;
            if (cJSON_IsNumber(p) && isfinite(r.clean_p)) {
                drop[k] += r.clean_p - p->valuedouble;
                drop_n[k] += 1;
            }
            if (f)
                dis[k] += top != sweep_i64(f->valuedouble);
        }
    }
    cJSON *c = NULL;
    fc_stats ms;
    if (!st)
        st = fc_stats_compute(min_eps, (size_t)n, &ms, err);
    if (!st) {
        c = cJSON_CreateObject();
        for (int k = 0; k < ne; k++) {
            robust[k] = labelled ? robust[k] / (double)labelled : NAN;
            flip[k] /= (double)n;
            drop[k] = drop_n[k] > 0 ? drop[k] / drop_n[k] : NAN;
            dis[k] /= (double)n;
        }
        cJSON *me = NULL;
        bool ok = c && cJSON_AddItemToArray(curves, c) &&
                  cJSON_AddStringToObject(c, "model", str_of(v[0].item, "model")) &&
                  cJSON_AddStringToObject(c, "attack", str_of(v[0].item, "attack")) &&
                  cJSON_AddStringToObject(c, "engine", fc_sweep_engine_name(v[0].e)) &&
                  cJSON_AddNumberToObject(c, "images", (double)n) &&
                  (labelled ? cJSON_AddNumberToObject(c, "clean_accuracy",
                                                      (double)clean_ok / (double)labelled)
                            : cJSON_AddNullToObject(c, "clean_accuracy")) &&
                  cJSON_AddItemToObject(c, "eps", cJSON_Duplicate(eps, true)) &&
                  add_series(c, "robust_accuracy", robust, ne) &&
                  add_series(c, "flip_rate", flip, ne) &&
                  add_series(c, "confidence_drop_mean", drop, ne) &&
                  (!transfer || add_series(c, "int8_disagreement", dis, ne)) &&
                  (me = cJSON_AddObjectToObject(c, "min_eps")) &&
                  cJSON_AddNumberToObject(me, "found", (double)found) &&
                  (found ? cJSON_AddNumberToObject(me, "mean", ms.mean) &&
                               cJSON_AddNumberToObject(me, "p50", ms.p50)
                         : cJSON_AddNullToObject(me, "mean") && cJSON_AddNullToObject(me, "p50"));
        if (!ok) {
            if (c && !c->next && !c->prev)
                cJSON_Delete(c);
            st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
        }
    }
    (void)plan;
    fc_free(acc);
    fc_free(min_eps);
    return st;
}

fc_status fc_sweep_document(cJSON *plan, cJSON *shard, cJSON *records, cJSON *failures,
                            cJSON **doc, fc_err *err)
{
    *doc = NULL;
    keyed *rv = NULL, *fv = NULL;
    int64_t nr = 0, nf = 0;
    cJSON *d = cJSON_CreateObject(), *curves = NULL, *recs = NULL, *fails = NULL;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(plan, "eps");
    fc_status st = FC_OK;
    if (!d || !cJSON_AddNumberToObject(d, "flipcheck_sweep", 1) ||
        !cJSON_AddItemToObject(d, "plan", plan)) {
        cJSON_Delete(plan);
        plan = NULL;
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    }
    if (!st && !cJSON_AddItemToObject(d, "shard", shard)) {
        cJSON_Delete(shard);
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    }
    shard = NULL;
    if (!st && !cJSON_IsArray(eps))
        st = fc_err_set(err, FC_ERR_PARSE, "the plan has no eps grid");
    if (!st)
        st = sort_items(plan, records, "image", &rv, &nr, err);
    if (!st)
        st = sort_items(plan, failures, "block", &fv, &nf, err);
    for (int64_t i = 1; !st && i < nr; i++)
        if (!cmp_keyed(&rv[i - 1], &rv[i]))
            st = fc_err_set(err, FC_ERR_PARSE, "two records for %s/%s/%s image %lld",
                            str_of(rv[i].item, "model"), str_of(rv[i].item, "attack"),
                            str_of(rv[i].item, "engine"), (long long)rv[i].image);
    if (!st && (!(curves = cJSON_AddArrayToObject(d, "curves")) ||
                !(recs = cJSON_AddArrayToObject(d, "records")) ||
                !(fails = cJSON_AddArrayToObject(d, "failures"))))
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    for (int64_t i = 0, j; !st && i < nr; i = j) {
        for (j = i + 1; j < nr && rv[j].m == rv[i].m && rv[j].a == rv[i].a && rv[j].e == rv[i].e;)
            j++;
        st = curve_of(plan, eps, rv + i, j - i, curves, err);
    }
    /* Hand the items to the document (or free them). */
    for (int64_t i = 0; i < nr; i++)
        if (st || !cJSON_AddItemToArray(recs, rv[i].item))
            cJSON_Delete(rv[i].item);
    for (int64_t i = 0; i < nf; i++)
        if (st || !cJSON_AddItemToArray(fails, fv[i].item))
            cJSON_Delete(fv[i].item);
    fc_free(rv);
    fc_free(fv);
    cJSON_Delete(records);
    cJSON_Delete(failures);
    if (st) {
        cJSON_Delete(d);
        return st;
    }
    *doc = d;
    return FC_OK;
}

fc_status fc_sweep_write(const cJSON *doc, const char *out_dir, fc_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/sweep.json", out_dir);
    fc_status st = fc_file_mkdirs(out_dir, err);
    if (st)
        return st;
    char *text = cJSON_PrintUnformatted(doc);
    if (!text)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    text[n] = '\n';
    st = fc_file_write_atomic(path, text, n + 1, err);
    fc_free(text);
    return st;
}

fc_status fc_sweep_load(const char *path, cJSON **doc, fc_err *err)
{
    uint8_t *text = NULL;
    size_t len = 0;
    *doc = NULL;
    fc_status st = fc_file_read_all(path, UINT64_C(8) << 30, "sweep", &text, &len, err);
    if (st)
        return st;
    cJSON *d = cJSON_ParseWithLength((const char *)text, len);
    fc_free(text);
    if (!d || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "flipcheck_sweep")) ||
        !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(d, "plan"))) {
        cJSON_Delete(d);
        return fc_err_set(err, FC_ERR_PARSE, "%s: not a flipcheck sweep.json", path);
    }
    *doc = d;
    return FC_OK;
}
