/* report.html: the page frame, the run header, the pass/fail grid of
 * models x suites with the failing thresholds named, and the environment.
 * Per-model sections are in report_html_model.c.
 *
 * One file that works offline: the style sheet is inline, charts are inline
 * SVG, images are data URIs, and there is no script at all (a Content
 * Security Policy meta tag forbids scripts, so even an escaping mistake
 * could not run one). */
#include <stdio.h>
#include <string.h>

#include "report_internal.h"

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
    "color:#1d2330;background:#fff;margin:0 auto;max-width:1180px;padding:16px 24px}"
    "h1{font-size:24px;margin:8px 0}h2{font-size:20px;margin:28px 0 8px;padding-top:12px;"
    "border-top:2px solid #d8dde6}h3{font-size:16px;margin:18px 0 6px}"
    ".verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:600}"
    ".ok{background:#dff3e0;color:#135c1a}.bad{background:#fbe0e0;color:#8a1616}"
    ".warn{background:#fff1cc;color:#6b4e00}"
    "table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}"
    "th,td{border:1px solid #d8dde6;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f5f8}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "table.grid td{min-width:90px}table.grid td.pass{background:#e8f6e9}"
    "table.grid td.fail{background:#fde7e7}table.grid td.none{color:#999}"
    ".why{display:block;font-size:12px;color:#8a1616}"
    ".meta{color:#4a5568}.meta b{color:#1d2330}"
    "code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;"
    "word-break:break-all}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}"
    "svg.chart{border:1px solid #e2e6ee;border-radius:4px;background:#fff;max-width:100%;height:auto}"
    "svg .ct{font-size:14px;font-weight:600;fill:#1d2330}svg .tick,svg .lgt{font-size:11px;"
    "fill:#4a5568}svg .al{font-size:12px;fill:#1d2330}svg .grid{stroke:#edf0f4}"
    "svg .axis{stroke:#8892a0;fill:none}svg .tk{stroke:#8892a0}svg .ln{stroke-width:2}"
    ".examples{display:flex;flex-wrap:wrap;gap:12px}"
    "figure{margin:0;padding:8px;border:1px solid #e2e6ee;border-radius:4px}"
    "figcaption{font-size:12px;color:#4a5568;max-width:360px}"
    "img.thumb{image-rendering:pixelated;margin:2px;border:1px solid #ccc}"
    ".legend4{font-size:11px;color:#4a5568}"
    "details{margin:8px 0}summary{cursor:pointer;color:#2b4a80}"
    ".note{color:#6b7280;font-size:12px}"
    "@media print{body{max-width:none;padding:0}h2{break-before:page}"
    "svg.chart,figure,table{break-inside:avoid}details{display:block}}";

static const char *const suite_order[] = {"integrity", "accuracy",    "agreement", "adversarial",
                                          "boundary",  "garbage",     "performance", "privacy"};
#define N_ORDER ((int)(sizeof suite_order / sizeof suite_order[0]))

const cJSON *rp_find_test(const cJSON *model, const char *suite, const char *test)
{
    const cJSON *s, *t;
    cJSON_ArrayForEach(s, rp_get(model, "suites"))
    {
        if (suite && strcmp(rp_str(s, "name"), suite))
            continue;
        cJSON_ArrayForEach(t, rp_get(s, "tests")) if (!strcmp(rp_str(t, "test"), test)) return t;
    }
    return NULL;
}

static const cJSON *find_suite(const cJSON *model, const char *name)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, rp_get(model, "suites")) if (!strcmp(rp_str(s, "name"), name)) return s;
    return NULL;
}

/* Suite columns: the known order first, then any other name seen. */
static int suite_columns(const cJSON *models, const char **cols, int max)
{
    int n = 0;
    for (int i = 0; i < N_ORDER && n < max; i++) {
        const cJSON *m;
        bool seen = false;
        cJSON_ArrayForEach(m, models) seen = seen || find_suite(m, suite_order[i]);
        if (seen)
            cols[n++] = suite_order[i];
    }
    const cJSON *m, *s;
    cJSON_ArrayForEach(m, models) cJSON_ArrayForEach(s, rp_get(m, "suites"))
    {
        const char *name = rp_str(s, "name");
        bool have = false;
        for (int i = 0; i < n; i++)
            have = have || !strcmp(cols[i], name);
        if (!have && n < max)
            cols[n++] = name;
    }
    return n;
}

/* One failing reason: the thresholds that did not hold, or the test and
 * how it ended. */
static void why(rp_buf *b, const cJSON *t)
{
    const cJSON *c;
    bool named = false;
    cJSON_ArrayForEach(c, rp_get(t, "checks"))
    {
        if (!cJSON_IsFalse(rp_get(c, "pass")))
            continue;
        rp_put(b, "<span class=\"why\">");
        rp_text(b, rp_str(t, "test"));
        rp_put(b, ": <b>");
        rp_text(b, rp_str(c, "threshold"));
        rp_put(b, "</b> ");
        rp_num(b, rp_num_or(c, "value", 0.0 / 0.0), 4);
        rp_put(b, ", must be ");
        rp_text(b, rp_str(c, "op"));
        rp_put(b, " ");
        rp_num(b, rp_num_or(c, "limit", 0.0 / 0.0), 4);
        rp_put(b, "</span>");
        named = true;
    }
    if (!named) {
        rp_put(b, "<span class=\"why\">");
        rp_text(b, rp_str(t, "test"));
        rp_put(b, ": ");
        rp_text(b, rp_str(t, "status"));
        rp_put(b, "</span>");
    }
}

static void grid(rp_buf *b, const cJSON *models)
{
    const char *cols[32];
    int nc = suite_columns(models, cols, 32);
    rp_put(b, "<table class=\"grid\" id=\"grid\"><tr><th>model</th>");
    for (int c = 0; c < nc; c++) {
        rp_put(b, "<th>");
        rp_text(b, cols[c]);
        rp_put(b, "</th>");
    }
    rp_put(b, "<th>run</th></tr>\n");
    const cJSON *m;
    int i = 0;
    cJSON_ArrayForEach(m, models)
    {
        rp_printf(b, "<tr><th><a href=\"#model-%d\">", i++);
        rp_text(b, rp_str(m, "name"));
        rp_put(b, "</a></th>");
        for (int c = 0; c < nc; c++) {
            const cJSON *s = find_suite(m, cols[c]);
            if (!s) {
                rp_put(b, "<td class=\"none\">not run</td>");
                continue;
            }
            int p = (int)rp_num_or(s, "passed", 0), f = (int)rp_num_or(s, "failed", 0);
            rp_printf(b, "<td class=\"%s\">%s %d/%d", f ? "fail" : "pass",
                      f ? "&#10007;" : "&#10003;", p, p + f);
            const cJSON *t;
            int shown = 0;
            cJSON_ArrayForEach(t, rp_get(s, "tests"))
            {
                if (!strcmp(rp_str(t, "status"), "pass"))
                    continue;
                if (shown++ < 4)
                    why(b, t);
            }
            if (shown > 4)
                rp_printf(b, "<span class=\"why\">and %d more</span>", shown - 4);
            rp_put(b, "</td>");
        }
        bool ok = cJSON_IsTrue(rp_get(m, "ok"));
        rp_printf(b, "<td class=\"%s\">%s", ok ? "pass" : "fail", ok ? "&#10003; ok" : "&#10007; fail");
        const cJSON *c;
        cJSON_ArrayForEach(c, rp_get(m, "checks"))
        {
            if (!cJSON_IsFalse(rp_get(c, "pass")))
                continue;
            rp_put(b, "<span class=\"why\"><b>");
            rp_text(b, rp_str(c, "threshold"));
            rp_put(b, "</b> ");
            rp_num(b, rp_num_or(c, "value", 0.0 / 0.0), 4);
            rp_put(b, ", must be ");
            rp_text(b, rp_str(c, "op"));
            rp_put(b, " ");
            rp_num(b, rp_num_or(c, "limit", 0.0 / 0.0), 4);
            rp_put(b, "</span>");
        }
        const char *lost = rp_str(m, "error");
        if (lost[0]) {
            rp_put(b, "<span class=\"why\">");
            rp_text(b, lost);
            rp_put(b, "</span>");
        }
        rp_put(b, "</td></tr>\n");
    }
    rp_put(b, "</table>\n");
}

static void kv(rp_buf *b, const char *key, const char *value)
{
    rp_put(b, "<tr><th>");
    rp_text(b, key);
    rp_put(b, "</th><td class=\"mono\">");
    rp_text(b, value);
    rp_put(b, "</td></tr>");
}

/* Any JSON object as a two-column table; nested objects flattened a.b. */
static void object_rows(rp_buf *b, const cJSON *o, const char *prefix)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, o)
    {
        char key[200];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", v->string ? v->string : "");
        if (cJSON_IsObject(v)) {
            object_rows(b, v, key);
            continue;
        }
        char *s = cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);
        if (!cJSON_IsString(v) && !s) {
            b->failed = true;
            return;
        }
        kv(b, key, s ? s : v->valuestring);
        cJSON_free(s);
    }
}

static void environment(rp_buf *b, const cJSON *r)
{
    rp_put(b, "<h2 id=\"environment\">Environment</h2><table>");
    object_rows(b, rp_get(r, "environment"), "");
    rp_put(b, "</table>\n");
}

void rp_html_head(rp_buf *b, const char *title)
{
    rp_put(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
              "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
              "img-src data:; style-src 'unsafe-inline'\">\n"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
              "<title>");
    rp_text(b, title);
    rp_put(b, "</title>\n<style>");
    rp_put(b, css);
    rp_put(b, "</style></head>\n<body>\n<h1>");
    rp_text(b, title);
    rp_put(b, "</h1>\n");
}

fc_status rp_write_html(const cJSON *r, const char *data_dir, rp_buf *b, fc_err *err)
{
    const cJSON *models = rp_get(r, "models"), *sum = rp_get(r, "summary");
    bool ok = cJSON_IsTrue(rp_get(sum, "ok"));
    rp_html_head(b, "flipcheck report");
    rp_put(b, "<p class=\"meta\">");
    rp_printf(b, "<span class=\"verdict %s\">%s</span> ", ok ? "ok" : "bad",
              ok ? "every threshold held" : "a test or threshold failed");
    rp_printf(b, "<b>%d</b> passed, <b>%d</b> failed, <b>%d</b> crashed, <b>%d</b> hung, "
                 "<b>%d</b> threshold failures &middot; started ",
              (int)rp_num_or(sum, "passed", 0), (int)rp_num_or(sum, "failed", 0),
              (int)rp_num_or(sum, "crashes", 0), (int)rp_num_or(sum, "hangs", 0),
              (int)rp_num_or(sum, "threshold_failures", 0));
    rp_text(b, rp_str(r, "started_at"));
    rp_put(b, ", ");
    rp_num(b, rp_num_or(r, "duration_s", 0.0 / 0.0), 3);
    rp_put(b, " s &middot; config <code>");
    rp_text(b, rp_str(r, "config"));
    rp_put(b, "</code></p>\n<h2 id=\"summary\">Models &times; suites</h2>\n");
    grid(b, models);
    const cJSON *m;
    int i = 0;
    cJSON_ArrayForEach(m, models) rp_html_model(b, m, i++, data_dir);
    environment(b, r);
    rp_put(b, "<p class=\"note\">Written by flipcheck from results.json (schema_version ");
    rp_num(b, rp_num_or(r, "schema_version", 0.0 / 0.0), 3);
    rp_put(b, "); machine-readable: report.json, junit.xml.</p>\n</body></html>\n");
    if (b->failed)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory writing report.html");
    return FC_OK;
}
