/* The page and the JUnit file of a sweep (sweep.json, src/sweep/fc_sweep.h):
 * robustness curves over an eps grid per model, attack and engine, the
 * units that failed and the regressions against a baseline.
 *
 * junit.xml: one testsuite per model and attack, one testcase per curve
 * (engine), a <failure> per curve with a regression (its kind, eps,
 * baseline and now), and one testcase with an <error type="crash"> per
 * failed unit, so testcases = curves + failed units. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "report_internal.h"

#define MAX_PAIRS 256
#define MAX_ENG 8

static bool same(const cJSON *o, const char *key, const char *v)
{
    return !strcmp(rp_str(o, key), v);
}

/* The distinct (model, attack) pairs of the curves, in order. */
static int pairs(const cJSON *doc, const char *m[], const char *a[])
{
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, rp_get(doc, "curves"))
    {
        bool seen = false;
        for (int i = 0; i < n && !seen; i++)
            seen = same(c, "model", m[i]) && same(c, "attack", a[i]);
        if (!seen && n < MAX_PAIRS) {
            m[n] = rp_str(c, "model");
            a[n] = rp_str(c, "attack");
            n++;
        }
    }
    return n;
}

static bool curve_regressed(const cJSON *doc, const cJSON *c)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, rp_get(doc, "regressions")) if (
        same(r, "model", rp_str(c, "model")) && same(r, "attack", rp_str(c, "attack")) &&
        same(r, "engine", rp_str(c, "engine"))) return true;
    return false;
}

void rp_sweep_counts(const cJSON *doc, int *tests, int *failures, int *errors)
{
    const cJSON *c;
    *tests = *failures = *errors = 0;
    cJSON_ArrayForEach(c, rp_get(doc, "curves"))
    {
        (*tests)++;
        *failures += curve_regressed(doc, c);
    }
    int f = cJSON_GetArraySize(rp_get(doc, "failures"));
    *tests += f;
    *errors += f;
}

static void regression_text(rp_buf *b, const cJSON *r, bool xml)
{
    void (*esc)(rp_buf *, const char *) = xml ? rp_xml : rp_text;
    esc(b, rp_str(r, "kind"));
    if (same(r, "kind", "crash")) {
        rp_printf(b, ": block %g: ", rp_num_or(r, "block", NAN));
        esc(b, rp_str(r, "error"));
        return;
    }
    rp_printf(b, " at eps %g: %.4f in the baseline, %.4f now", rp_num_or(r, "eps", NAN),
              rp_num_or(r, "baseline", NAN), rp_num_or(r, "now", NAN));
}

fc_status rp_write_sweep_junit(const cJSON *doc, rp_buf *b, fc_err *err)
{
    const char *m[MAX_PAIRS], *a[MAX_PAIRS];
    int np = pairs(doc, m, a), tests, failures, errors;
    rp_sweep_counts(doc, &tests, &failures, &errors);
    rp_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"flipcheck sweep\" "
                 "tests=\"%d\" failures=\"%d\" errors=\"%d\">\n", tests, failures, errors);
    /* failed units of a pair the curves do not name still get a suite */
    const cJSON *f, *c, *r;
    cJSON_ArrayForEach(f, rp_get(doc, "failures"))
    {
        bool seen = false;
        for (int i = 0; i < np && !seen; i++)
            seen = same(f, "model", m[i]) && same(f, "attack", a[i]);
        if (!seen && np < MAX_PAIRS) {
            m[np] = rp_str(f, "model");
            a[np] = rp_str(f, "attack");
            np++;
        }
    }
    for (int i = 0; i < np; i++) {
        int st = 0, sf = 0, se = 0;
        cJSON_ArrayForEach(c, rp_get(doc, "curves")) if (same(c, "model", m[i]) &&
                                                          same(c, "attack", a[i]))
        {
            st++;
            sf += curve_regressed(doc, c);
        }
        cJSON_ArrayForEach(f, rp_get(doc, "failures")) if (same(f, "model", m[i]) &&
                                                            same(f, "attack", a[i])) st++, se++;
        rp_put(b, "  <testsuite name=\"");
        rp_xml(b, m[i]);
        rp_put(b, ".");
        rp_xml(b, a[i]);
        rp_printf(b, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"0\">\n", st, sf, se);
        cJSON_ArrayForEach(c, rp_get(doc, "curves"))
        {
            if (!same(c, "model", m[i]) || !same(c, "attack", a[i]))
                continue;
            rp_put(b, "    <testcase classname=\"flipcheck.sweep.");
            rp_xml(b, m[i]);
            rp_put(b, ".");
            rp_xml(b, a[i]);
            rp_put(b, "\" name=\"");
            rp_xml(b, rp_str(c, "engine"));
            rp_put(b, "\"");
            if (!curve_regressed(doc, c)) {
                rp_put(b, "/>\n");
                continue;
            }
            rp_put(b, ">\n      <failure type=\"regression\" message=\"regression against the "
                      "baseline\">");
            cJSON_ArrayForEach(r, rp_get(doc, "regressions")) if (
                same(r, "model", m[i]) && same(r, "attack", a[i]) &&
                same(r, "engine", rp_str(c, "engine")))
            {
                regression_text(b, r, true);
                rp_put(b, "\n");
            }
            rp_put(b, "</failure>\n    </testcase>\n");
        }
        cJSON_ArrayForEach(f, rp_get(doc, "failures"))
        {
            if (!same(f, "model", m[i]) || !same(f, "attack", a[i]))
                continue;
            rp_put(b, "    <testcase classname=\"flipcheck.sweep.");
            rp_xml(b, m[i]);
            rp_put(b, ".");
            rp_xml(b, a[i]);
            rp_printf(b, "\" name=\"block %g\">\n      <error type=\"crash\" message=\"",
                      rp_num_or(f, "block", NAN));
            rp_xml(b, rp_str(f, "error"));
            rp_put(b, "\"/>\n    </testcase>\n");
        }
        rp_put(b, "  </testsuite>\n");
    }
    rp_put(b, "</testsuites>\n");
    if (b->failed)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory writing junit.xml");
    return FC_OK;
}

/* One chart per (model, attack): `key` (an array over eps) per engine. */
static void curve_chart(rp_buf *b, const cJSON *doc, const char *model, const char *attack,
                        const char *key, const char *ylabel, int k, double ymax)
{
    rp_series s[MAX_ENG];
    double *xy = NULL;
    int ns = 0, cap = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, rp_get(doc, "curves")) if (same(c, "model", model) &&
                                                      same(c, "attack", attack)) cap +=
        cJSON_GetArraySize(rp_get(c, "eps"));
    if (cap > 0 && !(xy = fc_calloc((size_t)cap * 2, sizeof *xy))) {
        b->failed = true;
        return;
    }
    int used = 0;
    cJSON_ArrayForEach(c, rp_get(doc, "curves"))
    {
        if (!same(c, "model", model) || !same(c, "attack", attack) || ns == MAX_ENG)
            continue;
        const cJSON *eps = rp_get(c, "eps"), *v = rp_get(c, key);
        int n = cJSON_GetArraySize(eps);
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n || used + n > cap)
            continue;
        double *x = xy + 2 * used, *y = x + n;
        for (int i = 0; i < n; i++) {
            const cJSON *e = cJSON_GetArrayItem(eps, i), *w = cJSON_GetArrayItem(v, i);
            x[i] = cJSON_IsNumber(e) ? e->valuedouble : NAN;
            y[i] = cJSON_IsNumber(w) ? w->valuedouble : NAN;
        }
        used += n;
        s[ns] = (rp_series){rp_str(c, "engine"), x, y, n, ns, same(c, "engine", "q8-transfer")};
        ns++;
    }
    char id[64], title[160];
    snprintf(id, sizeof id, "sweep-%s-%d", key, k);
    snprintf(title, sizeof title, "%s against eps", ylabel);
    if (ns)
        rp_svg_lines(b, id, title, "eps (L-inf, pixels in [0,1])", ylabel, s, ns, 0, ymax);
    fc_free(xy);
}

static void table(rp_buf *b, const cJSON *doc, const char *key, const char *title,
                  const char *const *cols, int ncol)
{
    const cJSON *arr = rp_get(doc, key), *r;
    rp_put(b, "<h3>");
    rp_put(b, title);
    rp_put(b, "</h3>");
    if (!cJSON_GetArraySize(arr)) {
        rp_put(b, "<p class=\"note\">None.</p>");
        return;
    }
    rp_put(b, "<table><tr>");
    for (int i = 0; i < ncol; i++)
        rp_printf(b, "<th>%s</th>", cols[i]);
    rp_put(b, "</tr>");
    cJSON_ArrayForEach(r, arr)
    {
        rp_put(b, "<tr>");
        for (int i = 0; i < ncol; i++) {
            const cJSON *v = rp_get(r, cols[i]);
            rp_put(b, "<td>");
            if (cJSON_IsNumber(v))
                rp_num(b, v->valuedouble, 4);
            else
                rp_text(b, rp_str(r, cols[i]));
            rp_put(b, "</td>");
        }
        rp_put(b, "</tr>");
    }
    rp_put(b, "</table>\n");
}

fc_status rp_write_sweep_html(const cJSON *doc, rp_buf *b, fc_err *err)
{
    const char *m[MAX_PAIRS], *a[MAX_PAIRS];
    int np = pairs(doc, m, a), tests, failures, errors;
    rp_sweep_counts(doc, &tests, &failures, &errors);
    rp_html_head(b, "flipcheck sweep report");
    rp_printf(b, "<p class=\"meta\"><span class=\"verdict %s\">%s</span> <b>%d</b> curves, "
                 "<b>%d</b> with a regression, <b>%d</b> failed units",
              failures || errors ? "bad" : "ok",
              failures || errors ? "regressions or failed units" : "no regression, no failure",
              tests - errors, failures, errors);
    const cJSON *shard = rp_get(doc, "shard");
    if (shard)
        rp_printf(b, " &middot; shard %g of %g", rp_num_or(shard, "index", NAN),
                  rp_num_or(shard, "count", NAN));
    rp_put(b, "</p>\n<h2 id=\"summary\">Curves</h2><table class=\"grid\" id=\"grid\"><tr><th>model"
              "</th><th>attack</th><th>engine</th><th>images</th><th>clean accuracy</th>"
              "<th>min eps found</th><th>min eps median</th><th>verdict</th></tr>");
    const cJSON *c;
    cJSON_ArrayForEach(c, rp_get(doc, "curves"))
    {
        bool bad = curve_regressed(doc, c);
        static const char *const keys[] = {"model", "attack", "engine"};
        rp_printf(b, "<tr>");
        for (int i = 0; i < 3; i++) {
            rp_put(b, "<td>");
            rp_text(b, rp_str(c, keys[i]));
            rp_put(b, "</td>");
        }
        const cJSON *me = rp_get(c, "min_eps");
        rp_printf(b, "<td class=\"num\">%g</td><td class=\"num\">", rp_num_or(c, "images", NAN));
        rp_num(b, rp_num_or(c, "clean_accuracy", NAN), 4);
        rp_put(b, "</td><td class=\"num\">");
        rp_num(b, rp_num_or(me, "found", NAN), 6);
        rp_put(b, "</td><td class=\"num\">");
        rp_num(b, rp_num_or(me, "p50", NAN), 4);
        rp_printf(b, "</td><td class=\"%s\">%s</td></tr>", bad ? "fail" : "pass",
                  bad ? "&#10007; regression" : "&#10003;");
    }
    rp_put(b, "</table>\n");
    for (int i = 0; i < np; i++) {
        rp_printf(b, "<h2 id=\"pair-%d\">", i);
        rp_text(b, m[i]);
        rp_put(b, " &middot; ");
        rp_text(b, a[i]);
        rp_put(b, "</h2><div class=\"charts\">");
        curve_chart(b, doc, m[i], a[i], "robust_accuracy", "robust accuracy", i, 1);
        curve_chart(b, doc, m[i], a[i], "flip_rate", "flip rate", i, 1);
        rp_put(b, "</div>\n");
    }
    static const char *const rcols[] = {"kind", "model", "attack", "engine", "eps", "baseline",
                                        "now", "block", "error"};
    table(b, doc, "regressions", "Regressions against the baseline", rcols, 9);
    static const char *const fcols[] = {"model", "attack", "block", "error"};
    table(b, doc, "failures", "Failed units", fcols, 4);
    rp_put(b, "<p class=\"note\">Written by flipcheck from sweep.json; machine-readable: "
              "report.json, junit.xml.</p>\n</body></html>\n");
    if (b->failed)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory writing report.html");
    return FC_OK;
}
