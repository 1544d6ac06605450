/* One model's section of report.html: its header, the charts (robust
 * accuracy against eps, confidence-drop and minimal-eps distributions,
 * per-layer SQNR, boundary outcomes per engine), the most-flipped examples
 * as thumbnails, then the tables of report_html_tables.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "report_internal.h"

#define MAX_POINTS 64
#define MAX_LAYERS 48
#define MAX_CASES 64
#define MAX_ENGINES 8
#define MAX_EXAMPLES 8

static void no_data(rp_buf *b, const char *what)
{
    rp_put(b, "<p class=\"note\">No data for ");
    rp_text(b, what);
    rp_put(b, " in this run.</p>");
}

/* ---- robust accuracy against eps ---------------------------------------- */

typedef struct curve {
    double x[MAX_POINTS + 1], y[MAX_POINTS + 1];
    int n;
} curve;

static void add_point(curve *c, double x, double y)
{
    for (int i = 0; i < c->n; i++)
        if (c->x[i] == x)
            return;
    if (c->n <= MAX_POINTS) {
        c->x[c->n] = x, c->y[c->n] = y;
        c->n++;
    }
}

static int by_x(const void *a, const void *b)
{
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

static void sort_curve(curve *c)
{
    double xy[MAX_POINTS + 1][2];
    for (int i = 0; i < c->n; i++)
        xy[i][0] = c->x[i], xy[i][1] = c->y[i];
    qsort(xy, (size_t)c->n, sizeof xy[0], by_x);
    for (int i = 0; i < c->n; i++)
        c->x[i] = xy[i][0], c->y[i] = xy[i][1];
}

static void robust_chart(rp_buf *b, const cJSON *m, const char *attack, int k)
{
    static const char *const names[3] = {"fp32 (attacked and judged)", "int8 (attacked and judged)",
                                         "transfer: made on fp32, judged by int8"};
    curve *c = fc_calloc(3, sizeof *c);
    if (!c) {
        b->failed = true;
        return;
    }
    const cJSON *s = NULL, *t;
    cJSON_ArrayForEach(s, rp_get(m, "suites")) if (!strcmp(rp_str(s, "name"), "adversarial")) break;
    cJSON_ArrayForEach(t, rp_get(s, "tests"))
    {
        const cJSON *mt = rp_get(t, "metrics");
        double eps, ra;
        if (strcmp(rp_str(mt, "attack"), attack) || !rp_numv(mt, "eps", &eps) ||
            !rp_numv(mt, "robust_accuracy", &ra))
            continue;
        int which = !strcmp(rp_str(mt, "mode"), "transfer")      ? 2
                    : !strcmp(rp_str(mt, "judged_by"), "int8") ? 1
                                                                : 0;
        double clean;
        if (rp_numv(mt, "clean_accuracy", &clean))
            add_point(&c[which], 0, clean);
        add_point(&c[which], eps, ra);
    }
    rp_series sr[3];
    int ns = 0;
    for (int i = 0; i < 3; i++) {
        if (!c[i].n)
            continue;
        sort_curve(&c[i]);
        sr[ns++] = (rp_series){names[i], c[i].x, c[i].y, c[i].n, i, i == 2};
    }
    char id[32], title[96];
    snprintf(id, sizeof id, "robust-%s-%d", attack, k);
    snprintf(title, sizeof title, "%s: robust accuracy against eps (eps 0 = clean)",
             !strcmp(attack, "fgsm") ? "FGSM" : "PGD");
    if (ns)
        rp_svg_lines(b, id, title, "eps (L-inf, pixels in [0,1])", "accuracy", sr, ns, 0, 1);
    else
        no_data(b, title);
    fc_free(c);
}

/* ---- distributions ---------------------------------------------------------- */

static void confidence_hist(rp_buf *b, const cJSON *m, int k)
{
    const cJSON *t = rp_find_test(m, "agreement", "fp32_vs_int8");
    const cJSON *h = rp_get(rp_get(t, "metrics"), "confidence_drop_hist");
    const cJSON *edges = rp_get(h, "edges"), *counts = rp_get(h, "counts");
    int nb = cJSON_GetArraySize(counts);
    if (!cJSON_IsArray(edges) || !cJSON_IsArray(counts) || nb < 1 || nb > 1000 ||
        cJSON_GetArraySize(edges) != nb + 1) {
        no_data(b, "the fp32 vs int8 confidence drop distribution");
        return;
    }
    double *e = fc_calloc((size_t)nb + 1, sizeof *e), *c = fc_calloc((size_t)nb, sizeof *c);
    if (!e || !c) {
        b->failed = true;
        fc_free(e);
        fc_free(c);
        return;
    }
    for (int i = 0; i <= nb; i++) {
        const cJSON *v = cJSON_GetArrayItem(edges, i);
        e[i] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        if (i < nb) {
            v = cJSON_GetArrayItem(counts, i);
            c[i] = cJSON_IsNumber(v) ? v->valuedouble : 0;
        }
    }
    /* show the occupied range, one empty bin either side */
    int lo = 0, hi = nb - 1;
    while (lo < nb - 1 && c[lo] <= 0)
        lo++;
    while (hi > lo && c[hi] <= 0)
        hi--;
    lo = lo > 0 ? lo - 1 : 0;
    hi = hi < nb - 1 ? hi + 1 : nb - 1;
    bool sorted = true;
    for (int i = lo; i <= hi; i++)
        sorted = sorted && e[i] < e[i + 1];
    char id[32];
    snprintf(id, sizeof id, "confidence-drop-%d", k);
    const char *name = "test images";
    const double *cc = c + lo;
    if (sorted)
        rp_svg_hist(b, id, "fp32 vs int8: confidence drop of the true class",
                    "p_fp32(true class) - p_int8(true class)", e + lo, hi - lo + 1, &name, &cc, 1);
    else
        no_data(b, "the confidence drop distribution (edges not increasing)");
    fc_free(e);
    fc_free(c);
}

static void mineps_hist(rp_buf *b, const cJSON *m, int k)
{
    static const char *const tests[2] = {"mineps_f32", "mineps_q8"};
    static const char *const names[2] = {"fp32", "int8"};
    enum { NB = 12 };
    double counts[2][NB] = {{0}}, edges[NB + 1], emax = 0;
    int found[2] = {0}, missing[2] = {0}, ns = 0;
    const char *sn[2];
    const double *sc[2];
    for (int q = 0; q < 2; q++) {
        const cJSON *mt = rp_get(rp_find_test(m, "adversarial", tests[q]), "metrics");
        emax = fmax(emax, rp_num_or(mt, "eps_max", 0));
        const cJSON *v;
        cJSON_ArrayForEach(v, rp_get(mt, "min_eps")) if (cJSON_IsNumber(v))
            emax = fmax(emax, v->valuedouble);
    }
    if (!(emax > 0) || !isfinite(emax)) {
        no_data(b, "the minimal-eps distribution");
        return;
    }
    for (int i = 0; i <= NB; i++)
        edges[i] = emax * i / NB;
    for (int q = 0; q < 2; q++) {
        const cJSON *mt = rp_get(rp_find_test(m, "adversarial", tests[q]), "metrics");
        const cJSON *arr = rp_get(mt, "min_eps"), *v;
        if (!cJSON_IsArray(arr))
            continue;
        cJSON_ArrayForEach(v, arr)
        {
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
                missing[q]++;
                continue;
            }
            int i = (int)(v->valuedouble / emax * NB);
            counts[q][i < 0 ? 0 : i >= NB ? NB - 1 : i]++;
            found[q]++;
        }
        sn[ns] = names[q];
        sc[ns++] = counts[q];
    }
    if (!ns) {
        no_data(b, "the minimal-eps distribution");
        return;
    }
    char id[32];
    snprintf(id, sizeof id, "min-eps-%d", k);
    rp_put(b, "<figure>");
    rp_svg_hist(b, id, "Minimal eps that flips each image (PGD search)", "minimal eps", edges, NB,
                sn, sc, ns);
    rp_printf(b, "<figcaption>fp32: %d flipped within eps &le; %.3g, %d not flipped (or wrong "
                 "when clean); int8: %d flipped, %d not.</figcaption></figure>",
              found[0], emax, missing[0], found[1], missing[1]);
}

/* ---- per-layer SQNR ------------------------------------------------------------ */

static void sqnr_bars(rp_buf *b, const cJSON *m, int k)
{
    const cJSON *arr = rp_get(rp_get(rp_find_test(m, "agreement", "per_layer"), "metrics"), "per_layer");
    int n = cJSON_GetArraySize(arr), shown = n < MAX_LAYERS ? n : MAX_LAYERS;
    if (!cJSON_IsArray(arr) || n < 1) {
        no_data(b, "per-layer SQNR");
        return;
    }
    char (*labels)[160] = fc_calloc((size_t)shown, sizeof *labels);
    const char **lp = fc_calloc((size_t)shown, sizeof *lp);
    double *v = fc_calloc((size_t)shown, sizeof *v);
    bool *exact = fc_calloc((size_t)shown, sizeof *exact);
    if (labels && lp && v && exact) {
        for (int i = 0; i < shown; i++) {
            const cJSON *l = cJSON_GetArrayItem(arr, i), *q = rp_get(l, "sqnr_db");
            snprintf(labels[i], sizeof labels[i], "%s (%s)", rp_str(l, "layer"), rp_str(l, "op"));
            lp[i] = labels[i];
            exact[i] = cJSON_IsNull(q);
            v[i] = cJSON_IsNumber(q) ? q->valuedouble : NAN;
        }
        char id[32];
        snprintf(id, sizeof id, "sqnr-%d", k);
        rp_svg_hbars(b, id, "int8 twin: SQNR per layer (worst first; higher is better)",
                     "SQNR (dB)", lp, v, exact, "exact", shown);
        if (n > shown)
            rp_printf(b, "<p class=\"note\">%d more layers in report.json.</p>", n - shown);
    } else {
        b->failed = true;
    }
    fc_free(labels);
    fc_free(lp);
    fc_free(v);
    fc_free(exact);
}

/* ---- boundary outcomes ------------------------------------------------------------ */

static int find_or_add(const char **v, int *n, int max, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(v[i], s))
            return i;
    if (*n >= max)
        return -1;
    v[*n] = s;
    return (*n)++;
}

typedef struct boundary_grid {
    const char *cases[MAX_CASES], *engines[MAX_ENGINES];
    char case_names[MAX_CASES][96];
    int cell[MAX_CASES * MAX_ENGINES];
    char tips[MAX_CASES * MAX_ENGINES][160];
    const char *tip[MAX_CASES * MAX_ENGINES];
} boundary_grid;

static void boundary_matrix(rp_buf *b, const cJSON *m, int k)
{
    static const rp_state states[] = {
        {"finite logits", "#9fd4a3"},
        {"non-finite logits from non-finite input", "#f3d37a"},
        {"non-finite logits from finite input", "#e8806f"},
        {"crash", "#8a1616"},
        {"hang", "#6a3d9a"},
        {"error", "#9aa3ad"},
    };
    boundary_grid *g = fc_calloc(1, sizeof *g);
    if (!g) {
        b->failed = true;
        return;
    }
    int nc = 0, ne = 0;
    for (int i = 0; i < MAX_CASES * MAX_ENGINES; i++)
        g->cell[i] = -1;
    const cJSON *s = NULL, *t;
    cJSON_ArrayForEach(s, rp_get(m, "suites")) if (!strcmp(rp_str(s, "name"), "boundary")) break;
    cJSON_ArrayForEach(t, rp_get(s, "tests"))
    {
        const char *eng = rp_str(t, "engine"), *name = rp_str(t, "test");
        size_t el = strlen(eng);
        if (!eng[0] || strncmp(name, eng, el) || name[el] != '_')
            continue;
        /* the case: the test name after "<engine>_" (metrics may be lost in a crash) */
        char cs[96];
        snprintf(cs, sizeof cs, "%s", name + el + 1);
        int ci = -1;
        for (int i = 0; i < nc; i++)
            if (!strcmp(g->case_names[i], cs))
                ci = i;
        if (ci < 0 && nc < MAX_CASES) {
            snprintf(g->case_names[nc], sizeof g->case_names[nc], "%s", cs);
            g->cases[nc] = g->case_names[nc];
            ci = nc++;
        }
        int ei = find_or_add(g->engines, &ne, MAX_ENGINES, eng);
        if (ci < 0 || ei < 0)
            continue;
        const cJSON *mt = rp_get(t, "metrics");
        const char *st = rp_str(t, "status");
        double nf = rp_num_or(mt, "nonfinite_logits", 0), top1;
        int state = !strcmp(st, "crash")  ? 3
                    : !strcmp(st, "hang") ? 4
                    : !rp_get(mt, "top1") ? 5
                    : nf <= 0             ? 0
                    : cJSON_IsFalse(rp_get(mt, "finite_input")) ? 1
                                                                  : 2;
        int idx = ci * MAX_ENGINES + ei;
        g->cell[idx] = state;
        if (rp_numv(mt, "top1", &top1))
            snprintf(g->tips[idx], sizeof g->tips[idx], "top-1 %g, %g non-finite logits", top1, nf);
        else
            snprintf(g->tips[idx], sizeof g->tips[idx], "%s", rp_str(t, "message"));
        g->tip[idx] = g->tips[idx];
    }
    if (!nc || !ne) {
        no_data(b, "boundary outcomes");
        fc_free(g);
        return;
    }
    /* the grid is indexed [case * MAX_ENGINES + engine]; pack to ne columns */
    for (int r = 0; r < nc; r++)
        for (int c = 0; c < ne; c++) {
            g->cell[r * ne + c] = g->cell[r * MAX_ENGINES + c];
            g->tip[r * ne + c] = g->tip[r * MAX_ENGINES + c];
        }
    char id[32];
    snprintf(id, sizeof id, "boundary-%d", k);
    rp_svg_matrix(b, id, "Boundary values: outcome per engine", g->cases, nc, g->engines, ne,
                  g->cell, g->tip, states, (int)(sizeof states / sizeof states[0]));
    fc_free(g);
}

/* ---- most-flipped examples --------------------------------------------------------- */

typedef struct example {
    const cJSON *e;
    const char *test;
    double drop;
} example;

static int by_drop(const void *a, const void *b)
{
    double u = ((const example *)a)->drop, v = ((const example *)b)->drop;
    return (u < v) - (u > v);
}

static void examples(rp_buf *b, const cJSON *m, const char *data_dir)
{
    const cJSON *s = NULL, *t, *e;
    int n = 0;
    cJSON_ArrayForEach(s, rp_get(m, "suites")) if (!strcmp(rp_str(s, "name"), "adversarial")) break;
    cJSON_ArrayForEach(t, rp_get(s, "tests"))
        cJSON_ArrayForEach(e, rp_get(rp_get(t, "metrics"), "examples")) n++;
    rp_put(b, "<h3>Most-flipped examples</h3>");
    if (!n) {
        no_data(b, "adversarial examples");
        return;
    }
    example *v = fc_calloc((size_t)n, sizeof *v);
    if (!v) {
        b->failed = true;
        return;
    }
    int k = 0;
    cJSON_ArrayForEach(t, rp_get(s, "tests"))
        cJSON_ArrayForEach(e, rp_get(rp_get(t, "metrics"), "examples")) if (k < n)
            v[k++] = (example){e, rp_str(t, "test"), rp_num_or(e, "confidence_drop", -INFINITY)};
    qsort(v, (size_t)k, sizeof *v, by_drop);
    rp_put(b, "<p class=\"legend4\">Each: clean image, adversarial image, perturbation magnified "
              "(blue negative, red positive, scaled to its largest |delta|), saliency "
              "|input gradient| (dark low, yellow high). Largest confidence drop first; one per "
              "image.</p><div class=\"examples\">");
    double shown_idx[MAX_EXAMPLES];
    int shown = 0;
    for (int i = 0; i < k && shown < MAX_EXAMPLES; i++) {
        double idx = rp_num_or(v[i].e, "index", -1);
        bool dup = false;
        for (int j = 0; j < shown; j++)
            dup = dup || shown_idx[j] == idx;
        if (dup)
            continue;
        shown_idx[shown++] = idx;
        rp_put(b, "<figure class=\"example\">");
        fc_err err;
        fc_err_clear(&err);
        if (rp_example_images(b, data_dir, rp_str(v[i].e, "file"), &err) == FC_ERR_NOMEM) {
            b->failed = true;
        } else if (err.status) {
            rp_put(b, "<p class=\"note\">thumbnail unavailable: ");
            rp_text(b, err.msg);
            rp_put(b, "</p>");
        }
        rp_put(b, "<figcaption><code>");
        rp_text(b, v[i].test);
        rp_printf(b, "</code> image %g: label %g, clean top-1 %g &rarr; adversarial top-1 %g, "
                     "confidence drop %.3f</figcaption></figure>",
                  idx, rp_num_or(v[i].e, "label", NAN), rp_num_or(v[i].e, "clean_top1", NAN),
                  rp_num_or(v[i].e, "adv_top1", NAN), v[i].drop);
    }
    rp_put(b, "</div>");
    fc_free(v);
}

/* ---- the section --------------------------------------------------------------------- */

static void header(rp_buf *b, const cJSON *m, int k)
{
    bool ok = cJSON_IsTrue(rp_get(m, "ok"));
    rp_printf(b, "<h2 id=\"model-%d\">Model <span class=\"model-name\">", k);
    rp_text(b, rp_str(m, "name"));
    rp_printf(b, "</span> <span class=\"verdict %s\">%s</span></h2>\n<table>", ok ? "ok" : "bad",
              ok ? "pass" : "fail");
    static const char *const keys[][2] = {{"fp32", "fp32 model"},
                                          {"int8", "int8 twin"},
                                          {"int8_source", "twin from"},
                                          {"error", "error"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!rp_str(m, keys[i][0])[0])
            continue;
        rp_put(b, "<tr><th>");
        rp_put(b, keys[i][1]);
        rp_put(b, "</th><td class=\"mono\">");
        rp_text(b, rp_str(m, keys[i][0]));
        rp_put(b, "</td></tr>");
    }
    rp_put(b, "<tr><th>engines</th><td>");
    const cJSON *e;
    int n = 0;
    cJSON_ArrayForEach(e, rp_get(m, "engines"))
    {
        if (n++)
            rp_put(b, ", ");
        rp_text(b, cJSON_IsString(e) ? e->valuestring : "?");
    }
    rp_printf(b, "</td></tr><tr><th>tests</th><td>%d passed, %d failed (%d crashed, %d hung)</td></tr>",
              (int)rp_num_or(m, "passed", 0), (int)rp_num_or(m, "failed", 0),
              (int)rp_num_or(m, "crashes", 0), (int)rp_num_or(m, "hangs", 0));
    rp_put(b, "</table>\n");
}

void rp_html_model(rp_buf *b, const cJSON *m, int k, const char *data_dir)
{
    header(b, m, k);
    rp_put(b, "<h3>Robustness</h3><div class=\"charts\">");
    robust_chart(b, m, "fgsm", k);
    robust_chart(b, m, "pgd", k);
    mineps_hist(b, m, k);
    rp_put(b, "</div>\n<h3>fp32 against its int8 twin</h3><div class=\"charts\">");
    confidence_hist(b, m, k);
    sqnr_bars(b, m, k);
    rp_put(b, "</div>\n<h3>Boundary values</h3><div class=\"charts\">");
    boundary_matrix(b, m, k);
    rp_put(b, "</div>\n");
    examples(b, m, data_dir);
    rp_html_tables(b, m);
}
