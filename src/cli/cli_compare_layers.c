/* flipcheck compare --layers DIR_A DIR_B: where do two runtimes start to
 * disagree?  Tensors are matched by name (an 8-bit tensor by the float
 * tensor it stands for, after dequantizing); the first one in A's order
 * whose max abs error is over the threshold is named, then all matched
 * tensors are listed worst first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_common.h"
#include "cli_compare.h"
#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "core/fc_npy.h"

typedef struct entry {
    const char *name, *key, *file, *op;   /* borrowed from the parsed index */
    double scale, zp;                     /* scale < 0: not quantized */
} entry;

typedef struct dump {
    const char *dir;
    cJSON *index;
    entry *e;
    int n;
} dump;

typedef struct result {
    const entry *a, *b;
    int64_t count;
    double max_abs, sqnr_db, cosine;
} result;

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A file named by an index must be a plain name inside the dump folder. */
static bool plain_name(const char *f)
{
    return f && f[0] && f[0] != '.' && !strchr(f, '/') && !strchr(f, '\\') && strlen(f) < 256;
}

static fc_status load_dump(const char *dir, dump *d, fc_err *err)
{
    memset(d, 0, sizeof *d);
    d->dir = dir;
    char path[4096];
    snprintf(path, sizeof path, "%s/index.json", dir);
    uint8_t *buf = NULL;
    size_t len = 0;
    fc_status st = fc_file_read_all(path, 64u << 20, "dump index", &buf, &len, err);
    if (st)
        return st;
    d->index = cJSON_ParseWithLength((const char *)buf, len);
    fc_free(buf);
    if (!cJSON_IsArray(d->index))
        return fc_err_set(err, FC_ERR_PARSE, "%s: not a JSON array of tensors", path);
    int n = cJSON_GetArraySize(d->index);
    d->e = fc_calloc(n ? (size_t)n : 1, sizeof *d->e);
    if (!d->e)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory reading %s", path);
    const cJSON *o;
    cJSON_ArrayForEach(o, d->index)
    {
        entry *e = &d->e[d->n];
        e->name = str(o, "name");
        e->file = str(o, "file");
        e->op = str(o, "op") ? str(o, "op") : "";
        if (!e->name || !plain_name(e->file))
            return fc_err_set(err, FC_ERR_PARSE,
                              "%s: entry %d: needs \"name\" and a plain \"file\" name inside the "
                              "folder", path, d->n);
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "scale");
        const cJSON *zp = cJSON_GetObjectItemCaseSensitive(o, "zero_point");
        e->scale = cJSON_IsNumber(sc) && sc->valuedouble > 0 ? sc->valuedouble : -1;
        e->zp = cJSON_IsNumber(zp) ? zp->valuedouble : 0;
        e->key = str(o, "stands_for") ? str(o, "stands_for") : e->name;
        d->n++;
    }
    return FC_OK;
}

static void free_dump(dump *d)
{
    cJSON_Delete(d->index);
    fc_free(d->e);
}

/* The tensor as float (dequantized when it carries a scale). */
static fc_status read_float(const dump *d, const entry *e, fc_tensor *out, fc_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", d->dir, e->file);
    fc_tensor t;
    fc_status st = fc_npy_read(path, &t, err);
    if (st)
        return st;
    if (t.dtype == FC_DT_F32) {
        *out = t;
        return FC_OK;
    }
    if ((t.dtype != FC_DT_U8 && t.dtype != FC_DT_I8) || e->scale <= 0) {
        fc_tensor_release(&t);
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%s: %s without a scale cannot be compared with float", path,
                          fc_dtype_name(t.dtype));
    }
    st = fc_tensor_alloc(out, FC_DT_F32, t.rank, t.dims, err);
    for (size_t i = 0; !st && i < t.numel; i++) {
        double q = t.dtype == FC_DT_U8 ? ((const uint8_t *)t.data)[i] : ((const int8_t *)t.data)[i];
        ((float *)out->data)[i] = (float)((q - e->zp) * e->scale);
    }
    fc_tensor_release(&t);
    return st;
}

static fc_status compare_one(const dump *da, const dump *db, result *r, fc_err *err)
{
    fc_tensor x, y;
    fc_status st = read_float(da, r->a, &x, err);
    if (st)
        return st;
    if ((st = read_float(db, r->b, &y, err))) {
        fc_tensor_release(&x);
        return st;
    }
    if (x.numel != y.numel) {
        st = fc_err_set(err, FC_ERR_SHAPE, "tensor '%s': %zu values in %s, %zu in %s",
                        r->a->name, x.numel, da->dir, y.numel, db->dir);
    } else {
        double mx = 0, ss = 0, ee = 0, xy = 0, yy = 0;
        for (size_t i = 0; i < x.numel; i++) {
            double a = ((float *)x.data)[i], b = ((float *)y.data)[i], d = fabs(a - b);
            if (isnan(d))
                d = isnan(a) && isnan(b) ? 0 : INFINITY;
            mx = d > mx ? d : mx;
            if (isfinite(d)) {
                ss += a * a;
                ee += d * d;
                xy += a * b;
                yy += b * b;
            }
        }
        r->count = (int64_t)x.numel;
        r->max_abs = mx;
        r->sqnr_db = ee > 0 ? 10 * log10(ss / ee) : INFINITY;
        r->cosine = ss > 0 && yy > 0 ? xy / sqrt(ss * yy) : (ss == yy ? 1 : 0);
    }
    fc_tensor_release(&x);
    fc_tensor_release(&y);
    return st;
}

static int worst_first(const void *p, const void *q)
{
    const result *a = p, *b = q;
    return (a->max_abs < b->max_abs) - (a->max_abs > b->max_abs);
}

static double json_num(double v) { return isfinite(v) ? v : (v > 0 ? 1e308 : -1e308); }

int cli_compare_layers(const char *dir_a, const char *dir_b, double max_abs, bool json)
{
    dump da, db;
    fc_err err = {0};
    int rc = CLI_EXIT_OK;
    result *rs = NULL;
    if (load_dump(dir_a, &da, &err)) {
        rc = cli_report(dir_a, &err);
        free_dump(&da);
        return rc;
    }
    if (load_dump(dir_b, &db, &err)) {
        rc = cli_report(dir_b, &err);
        goto done;
    }
    rs = fc_calloc(da.n ? (size_t)da.n : 1, sizeof *rs);
    if (!rs) {
        fc_err_set(&err, FC_ERR_NOMEM, "out of memory");
        rc = cli_report(dir_a, &err);
        goto done;
    }
    int n = 0, first = -1, unmatched = 0;
    for (int i = 0; i < da.n; i++) {
        const entry *b = NULL;
        for (int j = 0; j < db.n && !b; j++)
            if (!strcmp(db.e[j].key, da.e[i].key))
                b = &db.e[j];
        if (!b) {
            unmatched++;
            continue;
        }
        rs[n] = (result){&da.e[i], b, 0, 0, 0, 0};
        if (compare_one(&da, &db, &rs[n], &err)) {
            rc = cli_report(dir_b, &err);
            goto done;
        }
        if (first < 0 && !(rs[n].max_abs <= max_abs))
            first = n;
        n++;
    }
    if (!n) {
        fc_err_set(&err, FC_ERR_INVALID_ARG, "no tensor of %s matches one of %s by name", dir_a,
                   dir_b);
        rc = cli_report(dir_a, &err);
        goto done;
    }
    result first_r = first >= 0 ? rs[first] : (result){0};
    qsort(rs, (size_t)n, sizeof *rs, worst_first);
    int over = 0;
    for (int i = 0; i < n; i++)
        over += !(rs[i].max_abs <= max_abs);
    if (json) {
        cJSON *root = cJSON_CreateObject(), *arr;
        bool ok = root && cJSON_AddNumberToObject(root, "matched", n) &&
                  cJSON_AddNumberToObject(root, "unmatched", unmatched) &&
                  cJSON_AddNumberToObject(root, "threshold_max_abs", max_abs) &&
                  cJSON_AddNumberToObject(root, "over_threshold", over) &&
                  (first >= 0 ? cJSON_AddStringToObject(root, "first_over", first_r.a->name) != NULL
                              : cJSON_AddNullToObject(root, "first_over") != NULL) &&
                  (arr = cJSON_AddArrayToObject(root, "tensors"));
        for (int i = 0; ok && i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            ok = o && cJSON_AddStringToObject(o, "name", rs[i].a->name) &&
                 cJSON_AddStringToObject(o, "other", rs[i].b->name) &&
                 cJSON_AddStringToObject(o, "op", rs[i].a->op) &&
                 cJSON_AddNumberToObject(o, "values", (double)rs[i].count) &&
                 cJSON_AddNumberToObject(o, "max_abs", json_num(rs[i].max_abs)) &&
                 cJSON_AddNumberToObject(o, "sqnr_db", json_num(rs[i].sqnr_db)) &&
                 cJSON_AddNumberToObject(o, "cosine", rs[i].cosine);
            if (o)
                cJSON_AddItemToArray(arr, o);
        }
        ok = ok && cli_print_json(root);
        cJSON_Delete(root);
        if (!ok) {
            fc_err_set(&err, FC_ERR_NOMEM, "out of memory printing JSON");
            rc = cli_report(dir_a, &err);
            goto done;
        }
    } else {
        printf("%d tensors matched (%d of %s without a partner)\n", n, unmatched, dir_a);
        if (first >= 0)
            printf("first over max abs %g: %s (%s): max abs %.3g, SQNR %.1f dB\n", max_abs,
                   first_r.a->name, first_r.a->op, first_r.max_abs, first_r.sqnr_db);
        else
            printf("every tensor within max abs %g\n", max_abs);
        printf("%-48s %-22s %12s %10s %12s\n", "tensor", "op", "max abs", "SQNR dB", "cosine");
        for (int i = 0; i < n; i++)
            printf("%-48.48s %-22.22s %12.4g %10.2f %12.8f\n", rs[i].a->name, rs[i].a->op,
                   rs[i].max_abs, rs[i].sqnr_db, rs[i].cosine);
    }
    rc = over ? CLI_EXIT_CHECK_FAILED : CLI_EXIT_OK;
done:
    fc_free(rs);
    free_dump(&da);
    free_dump(&db);
    return rc;
}
