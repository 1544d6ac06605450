/* Calibration statistics (see fc_calib.h). */
#include "fc_calib.h"

#include <math.h>
#include <string.h>

#include "core/fc_alloc.h"

fc_status fc_calib_stats_init(fc_calib_stats *s, const fc_graph *g, fc_err *err)
{
    memset(s, 0, sizeof *s);
    size_t n = g->n_values > 0 ? (size_t)g->n_values : 1;
    s->n_values = g->n_values;
    s->seen = fc_calloc(n, sizeof *s->seen);
    s->min = fc_malloc(n * sizeof *s->min);
    s->max = fc_malloc(n * sizeof *s->max);
    s->hist = fc_calloc(n, sizeof *s->hist);
    s->zeros = fc_calloc(n, sizeof *s->zeros);
    if (!s->seen || !s->min || !s->max || !s->hist || !s->zeros) {
        fc_calib_stats_free(s);
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory for calibration statistics",
                          g->path ? g->path : "model");
    }
    for (size_t v = 0; v < n; v++) {
        s->min[v] = INFINITY;
        s->max[v] = -INFINITY;
    }
    return FC_OK;
}

void fc_calib_stats_free(fc_calib_stats *s)
{
    if (!s)
        return;
    for (int v = 0; s->hist && v < s->n_values; v++)
        fc_free(s->hist[v]);
    fc_free(s->hist);
    fc_free(s->zeros);
    fc_free(s->seen);
    fc_free(s->min);
    fc_free(s->max);
    memset(s, 0, sizeof *s);
}

fc_status fc_calib_want_hist(fc_calib_stats *s, int v, fc_err *err)
{
    if (s->hist[v])
        return FC_OK;
    s->hist[v] = fc_calloc(FC_CALIB_BINS, sizeof *s->hist[v]);
    if (!s->hist[v])
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory for a calibration histogram");
    return FC_OK;
}

double fc_calib_amax(const fc_calib_stats *s, int v)
{
    if (!(s->min[v] <= s->max[v]))
        return 0.0;
    double a = fabs((double)s->min[v]), b = fabs((double)s->max[v]);
    return a > b ? a : b;
}

/* ---- observing ------------------------------------------------------------- */

typedef struct observe_ctx {
    fc_calib_stats *s;
    bool histograms;
} observe_ctx;

static void add_minmax(fc_calib_stats *s, int v, const float *x, size_t n)
{
    float lo = s->min[v], hi = s->max[v];
    for (size_t i = 0; i < n; i++) {
        float f = x[i];
        if (!isfinite(f))
            continue;
        lo = f < lo ? f : lo;
        hi = f > hi ? f : hi;
    }
    s->min[v] = lo;
    s->max[v] = hi;
    s->seen[v] = true;
}

static void add_hist(fc_calib_stats *s, int v, const float *x, size_t n)
{
    double *h = s->hist[v], amax = fc_calib_amax(s, v);
    /* amax comes from pass 1 over the same data, so every |x| <= amax; the
     * clamp only catches |x| == amax landing on the upper edge. */
    double k = amax > 0.0 ? FC_CALIB_BINS / amax : 0.0;
    for (size_t i = 0; i < n; i++) {
        float f = x[i];
        if (!isfinite(f))
            continue;
        if (f == 0.0f)
            s->zeros[v] += 1.0;
        double b = fabs((double)f) * k;
        int bin = b >= FC_CALIB_BINS - 1 ? FC_CALIB_BINS - 1 : (int)b;
        h[bin] += 1.0;
    }
}

static void observe_tensor(observe_ctx *c, int v, const fc_tensor *t)
{
    if (t->dtype != FC_DT_F32)
        return;
    if (!c->histograms)
        add_minmax(c->s, v, t->data, t->numel);
    else if (c->s->hist[v])
        add_hist(c->s, v, t->data, t->numel);
}

static fc_status observer(const fc_graph *g, int node, int value, const fc_tensor *t, void *user,
                          fc_err *err)
{
    (void)g;
    (void)node;
    (void)err;
    observe_tensor(user, value, t);
    return FC_OK;
}

fc_status fc_calib_run(fc_engine *e, const fc_graph *g, const fc_tensor *calib, int64_t batch,
                       bool histograms, fc_calib_stats *s, fc_err *err)
{
    observe_ctx c = {s, histograms};
    int64_t n = calib->dims[0];
    size_t per = n > 0 ? calib->numel / (size_t)n : 0;
    int in = g->inputs[0];
    fc_status st = FC_OK;
    fc_tensor *outs = fc_calloc(g->n_outputs > 0 ? (size_t)g->n_outputs : 1, sizeof *outs);
    if (!outs)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory calibrating",
                          g->path ? g->path : "model");
    fc_engine_set_observer(e, observer, &c);
    for (int64_t b = 0; b < n && !st; b += batch) {
        int64_t cnt = n - b < batch ? n - b : batch;
        fc_tensor view = *calib;
        view.dims[0] = cnt;
        view.numel = per * (size_t)cnt;
        view.owns_data = false;
        view.data = (float *)calib->data + (size_t)b * per;
        /* The input is fed, not computed: no node reports it. */
        observe_tensor(&c, in, &view);
        st = fc_engine_run(e, &view, 1, outs, g->n_outputs, err);
        for (int k = 0; !st && k < g->n_outputs; k++)
            fc_tensor_release(&outs[k]);
    }
    fc_engine_set_observer(e, NULL, NULL);
    fc_free(outs);
    if (!st && !histograms)
        s->images = n;
    return st;
}

/* ---- thresholds ------------------------------------------------------------ */

double fc_calib_percentile_threshold(const double *hist, int bins, double amax, double pct)
{
    double total = 0.0;
    for (int i = 0; i < bins; i++)
        total += hist[i];
    if (!(total > 0.0) || bins < 1)
        return 0.0;
    double want = total * pct / 100.0, cum = 0.0;
    for (int i = 0; i < bins; i++) {
        cum += hist[i];
        if (cum >= want)
            return amax * (double)(i + 1) / (double)bins;
    }
    return amax;
}

/* KL(P || Q) for candidate i (see the header): p is hist[0, i) with the
 * `outliers` (the mass of hist[i, bins)) folded into p[i-1]; q merges
 * hist[0, i) into `levels` groups.  total = the whole histogram's mass. */
static double kl_candidate(const double *hist, int i, double outliers, double total, int levels)
{
    double q_total = total - outliers, kl = 0.0;
    if (!(q_total > 0.0))
        return INFINITY;
    for (int k = 0; k < levels; k++) {
        int start = (int)((int64_t)k * i / levels), end = (int)((int64_t)(k + 1) * i / levels);
        double sum = 0.0;
        int held = 0;
        for (int j = start; j < end; j++) {
            sum += hist[j];
            held += hist[j] > 0.0 || (j == i - 1 && outliers > 0.0);
        }
        double each = held > 0 ? sum / held / q_total : 0.0;
        for (int j = start; j < end; j++) {
            double pc = hist[j] + (j == i - 1 ? outliers : 0.0);
            if (!(pc > 0.0))
                continue;
            double p = pc / total, q = each > 0.0 ? each : 1e-8;
            kl += p * log(p / q);
        }
    }
    return kl;
}

double fc_calib_entropy_threshold(const double *hist, int bins, double amax, int levels)
{
    double total = 0.0;
    for (int j = 0; j < bins; j++)
        total += hist[j];
    if (!(total > 0.0) || !(amax > 0.0))
        return 0.0;
    if (levels < 1 || bins <= levels)
        return amax;
    /* outliers = mass at or beyond bin i, kept as a running suffix sum. */
    double outliers = 0.0;
    for (int j = levels; j < bins; j++)
        outliers += hist[j];
    int best = bins;
    double best_kl = INFINITY;
    for (int i = levels; i <= bins; i++) {
        double kl = kl_candidate(hist, i, outliers, total, levels);
        if (kl < best_kl) {
            best_kl = kl;
            best = i;
        }
        if (i < bins)
            outliers -= hist[i];
        if (outliers < 0.0)
            outliers = 0.0;
    }
    return amax * (double)best / (double)bins;
}

void fc_calib_range(const fc_calib_stats *s, int v, fc_calib_method m, double pct, float *lo,
                    float *hi)
{
    if (!(s->min[v] <= s->max[v])) {
        *lo = *hi = 0.0f;
        return;
    }
    *lo = s->min[v];
    *hi = s->max[v];
    const double *h = s->hist[v];
    if (!h || (m != FC_CALIB_PERCENTILE && m != FC_CALIB_ENTROPY))
        return;
    double amax = fc_calib_amax(s, v), t;
    if (m == FC_CALIB_PERCENTILE) {
        t = fc_calib_percentile_threshold(h, FC_CALIB_BINS, amax, pct);
    } else {
        /* Without the exact zeros (see the header): a copy of the
         * histogram whose bin 0 lost them. */
        double nz[FC_CALIB_BINS];
        memcpy(nz, h, sizeof nz);
        nz[0] = nz[0] > s->zeros[v] ? nz[0] - s->zeros[v] : 0.0;
        t = fc_calib_entropy_threshold(nz, FC_CALIB_BINS, amax, s->min[v] >= 0.0f ? 256 : 128);
    }
    if ((double)*hi > t)
        *hi = (float)t;
    if ((double)*lo < -t)
        *lo = (float)-t;
}
