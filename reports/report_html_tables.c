/* The tables of a model's section: crashes and hangs with their case, the
 * pre-deployment checks (consistency, latency, integrity, privacy), which
 * twin the attacks hurt more, and every test with its verdict. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report_internal.h"

static void status_cell(rp_buf *b, const cJSON *t)
{
    const char *st = t ? rp_str(t, "status") : "not run";
    rp_printf(b, "<td><span class=\"verdict %s\">",
              !strcmp(st, "pass") ? "ok" : !strcmp(st, "not run") ? "warn" : "bad");
    rp_text(b, st);
    rp_put(b, "</span></td>");
}

/* A metric as a table cell: numbers with `digits`, strings escaped, bools
 * as yes/no, absent as n/a. */
static void metric_cell(rp_buf *b, const cJSON *t, const char *key, int digits)
{
    const cJSON *v = rp_get(rp_get(t, "metrics"), key);
    if (cJSON_IsNumber(v)) {
        rp_put(b, "<td class=\"num\">");
        rp_num(b, v->valuedouble, digits);
    } else if (cJSON_IsString(v)) {
        rp_put(b, "<td class=\"mono\">");
        rp_text(b, v->valuestring);
    } else if (cJSON_IsBool(v)) {
        rp_put(b, "<td>");
        rp_put(b, cJSON_IsTrue(v) ? "yes" : "no");
    } else {
        rp_put(b, "<td class=\"note\">n/a");
    }
    rp_put(b, "</td>");
}

typedef struct row {
    const char *suite, *test, *label, *key;
    int digits;
} row;

/* Rows of (check, test, metric, value, verdict). */
static void check_table(rp_buf *b, const cJSON *m, const char *title, const row *rows, int n)
{
    rp_put(b, "<h3>");
    rp_put(b, title);
    rp_put(b, "</h3><table><tr><th>what</th><th>test</th><th>value</th><th>verdict</th></tr>");
    for (int i = 0; i < n; i++) {
        const cJSON *t = rp_find_test(m, rows[i].suite, rows[i].test);
        rp_put(b, "<tr><td>");
        rp_put(b, rows[i].label);
        rp_put(b, "</td><td><code>");
        rp_text(b, rows[i].test);
        rp_put(b, "</code></td>");
        metric_cell(b, t, rows[i].key, rows[i].digits);
        status_cell(b, t);
        rp_put(b, "</tr>");
    }
    rp_put(b, "</table>\n");
}

static void consistency(rp_buf *b, const cJSON *m)
{
    static const row rows[] = {
        {"accuracy", "accuracy", "fp32 accuracy", "fp32_accuracy", 4},
        {"accuracy", "accuracy", "int8 accuracy", "int8_accuracy", 4},
        {"accuracy", "accuracy", "accuracy drop fp32 &rarr; int8", "int8_accuracy_drop", 4},
        {"agreement", "fp32_vs_int8", "top-1 flip rate fp32 vs int8", "flip_rate", 4},
        {"agreement", "fp32_vs_int8", "confidence drop p95", "confidence_drop_p95", 4},
        {"agreement", "fp32_vs_int8", "mean KL(fp32 &#8214; int8)", "kl_divergence_mean", 4},
        {"agreement", "f32_vs_f32-ref", "max |logit| difference f32 vs f32-ref", "max_abs_diff", 3},
        {"agreement", "q8_vs_q8-ref", "logits not bit-exact q8 vs q8-ref", "values_not_bit_exact", 6},
        {"agreement", "batch_dependence", "flip rate alone vs in a batch", "alone_vs_batch_flip_rate", 4},
        {"agreement", "per_layer", "worst layer SQNR (dB)", "worst_sqnr_db", 4},
    };
    check_table(b, m, "Pre-deployment checks: consistency", rows, (int)(sizeof rows / sizeof rows[0]));
}

static void integrity(rp_buf *b, const cJSON *m)
{
    static const row rows[] = {
        {"integrity", "load_fp32", "fp32 SHA-256", "fp32_sha256", 0},
        {"integrity", "load_fp32", "nodes", "nodes", 10},
        {"integrity", "load_fp32", "parameters", "parameters", 12},
        {"integrity", "load_fp32", "NaN/Inf weights", "nonfinite_weights", 10},
        {"integrity", "int8_twin", "int8 twin SHA-256", "int8_sha256", 0},
        {"integrity", "int8_twin", "twin size / fp32 size", "size_ratio", 3},
        {"integrity", "int8_twin", "QDQ groups fused", "qdq_groups_fused", 10},
        {"integrity", "int8_twin", "float-island nodes", "float_island_nodes", 10},
        {"garbage", "model_loader", "corrupted copies refused with a named error", "named_errors", 10},
        {"garbage", "png_loader", "broken PNGs refused with a named error", "refused_with_named_error", 10},
    };
    check_table(b, m, "Pre-deployment checks: integrity", rows, (int)(sizeof rows / sizeof rows[0]));
}

static void privacy(rp_buf *b, const cJSON *m)
{
    static const row rows[] = {
        {"privacy", "membership_fp32", "fp32 membership advantage", "membership_advantage", 3},
        {"privacy", "membership_fp32", "fp32 membership AUC", "membership_auc", 3},
        {"privacy", "membership_int8", "int8 membership advantage", "membership_advantage", 3},
        {"privacy", "membership_int8", "int8 membership AUC", "membership_auc", 3},
    };
    check_table(b, m, "Pre-deployment checks: privacy (loss-threshold membership inference)", rows,
                (int)(sizeof rows / sizeof rows[0]));
}

static void latency(rp_buf *b, const cJSON *m)
{
    static const char *const keys[] = {"latency_p50_ms", "latency_p90_ms", "latency_p99_ms",
                                       "images_per_s", "peak_rss_mb"};
    rp_put(b, "<h3>Pre-deployment checks: latency and memory</h3><table><tr><th>engine</th>"
              "<th>P50 ms</th><th>P90 ms</th><th>P99 ms</th><th>images/s</th>"
              "<th>peak RSS MB</th><th>verdict</th></tr>");
    const cJSON *s = NULL, *t;
    int n = 0;
    cJSON_ArrayForEach(s, rp_get(m, "suites")) if (!strcmp(rp_str(s, "name"), "performance")) break;
    cJSON_ArrayForEach(t, rp_get(s, "tests"))
    {
        if (strncmp(rp_str(t, "test"), "perf_", 5))
            continue;
        rp_put(b, "<tr><td><code>");
        rp_text(b, rp_str(t, "engine"));
        rp_put(b, "</code></td>");
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            metric_cell(b, t, keys[k], 4);
        status_cell(b, t);
        rp_put(b, "</tr>");
        n++;
    }
    if (!n)
        rp_put(b, "<tr><td colspan=\"7\" class=\"note\">performance suite not run</td></tr>");
    rp_put(b, "</table>\n");
}

static void faults(rp_buf *b, const cJSON *m)
{
    rp_put(b, "<h3>Crashes and hangs</h3>");
    const cJSON *f, *arr = rp_get(m, "crashes_and_hangs");
    if (!cJSON_GetArraySize(arr)) {
        rp_put(b, "<p class=\"fault-none\">None: every test ended by itself.</p>");
        return;
    }
    rp_put(b, "<table class=\"faults\"><tr><th>kind</th><th>suite</th><th>test (case)</th>"
              "<th>engine</th><th>message</th></tr>");
    cJSON_ArrayForEach(f, arr)
    {
        static const char *const keys[] = {"kind", "suite", "test", "engine", "message"};
        rp_put(b, "<tr>");
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            rp_put(b, k == 0 ? "<td><span class=\"verdict bad\">" : "<td>");
            rp_text(b, rp_str(f, keys[k]));
            rp_put(b, k == 0 ? "</span></td>" : "</td>");
        }
        rp_put(b, "</tr>");
    }
    rp_put(b, "</table>\n");
}

static void twins(rp_buf *b, const cJSON *m)
{
    const cJSON *arr = rp_get(m, "twin_comparison"), *c;
    if (!cJSON_GetArraySize(arr))
        return;
    rp_put(b, "<h3>Which twin do the attacks hurt more?</h3><table><tr><th>attack</th><th>eps</th>"
              "<th>fp32 robust acc.</th><th>int8 robust acc.</th><th>transfer robust acc.</th>"
              "<th>weaker</th></tr>");
    cJSON_ArrayForEach(c, arr)
    {
        rp_put(b, "<tr><td>");
        rp_text(b, rp_str(c, "attack"));
        rp_put(b, "</td>");
        static const char *const keys[] = {"eps", "fp32_robust_accuracy", "int8_robust_accuracy",
                                           "transfer_robust_accuracy"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            rp_put(b, "<td class=\"num\">");
            rp_num(b, rp_num_or(c, keys[k], NAN), 4);
            rp_put(b, "</td>");
        }
        rp_put(b, "<td>");
        rp_text(b, rp_str(c, "weaker"));
        rp_put(b, "</td></tr>");
    }
    rp_put(b, "</table>\n");
}

static void all_tests(rp_buf *b, const cJSON *m)
{
    const cJSON *s, *t;
    int n = 0;
    cJSON_ArrayForEach(s, rp_get(m, "suites")) n += cJSON_GetArraySize(rp_get(s, "tests"));
    rp_printf(b, "<details><summary>All %d tests</summary><table><tr><th>suite</th><th>test</th>"
                 "<th>engine</th><th>verdict</th><th>summary / message</th><th>s</th></tr>", n);
    cJSON_ArrayForEach(s, rp_get(m, "suites")) cJSON_ArrayForEach(t, rp_get(s, "tests"))
    {
        rp_put(b, "<tr><td>");
        rp_text(b, rp_str(s, "name"));
        rp_put(b, "</td><td><code>");
        rp_text(b, rp_str(t, "test"));
        rp_put(b, "</code></td><td>");
        rp_text(b, rp_str(t, "engine"));
        rp_put(b, "</td>");
        status_cell(b, t);
        rp_put(b, "<td>");
        rp_text(b, rp_str(t, "summary"));
        const char *msg = rp_str(t, "message");
        if (msg[0]) {
            rp_put(b, "<span class=\"why\">");
            rp_text(b, msg);
            rp_put(b, "</span>");
        }
        rp_put(b, "</td><td class=\"num\">");
        rp_num(b, rp_num_or(t, "duration_s", NAN), 3);
        rp_put(b, "</td></tr>");
    }
    rp_put(b, "</table></details>\n");
}

void rp_html_tables(rp_buf *b, const cJSON *m)
{
    faults(b, m);
    twins(b, m);
    consistency(b, m);
    latency(b, m);
    integrity(b, m);
    privacy(b, m);
    all_tests(b, m);
}
