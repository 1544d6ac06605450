#include "fc_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "fc_attack_internal.h"

double fc_percentile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    if (q <= 0)
        return sorted[0];
    if (q >= 100)
        return sorted[n - 1];
    /* Rank (n - 1) * q / 100 between the two closest values, as NumPy. */
    double rank = (double)(n - 1) * q / 100.0;
    size_t lo = (size_t)floor(rank);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = rank - (double)lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

void fc_stats_empty(fc_stats *s)
{
    s->n = 0;
    s->mean = s->min = s->p10 = s->p50 = s->p95 = s->max = NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

fc_status fc_stats_compute(const double *v, size_t n, fc_stats *out, fc_err *err)
{
    fc_stats_empty(out);
    if (n == 0)
        return FC_OK;
    double *s = fc_malloc(n * sizeof *s);   /* n counts existing doubles: no overflow */
    if (!s)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory for statistics of %zu values", n);
    size_t m = 0;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i])) {
            s[m++] = v[i];
            sum += v[i];
        }
    if (m > 0) {
        qsort(s, m, sizeof *s, cmp_double);
        out->n = (int64_t)m;
        out->mean = sum / (double)m;
        out->min = s[0];
        out->max = s[m - 1];
        out->p10 = fc_percentile_sorted(s, m, 10);
        out->p50 = fc_percentile_sorted(s, m, 50);
        out->p95 = fc_percentile_sorted(s, m, 95);
    }
    fc_free(s);
    return FC_OK;
}

/* Fraction of n flags that are set; NaN for n == 0. */
static double rate(int64_t hits, int64_t n)
{
    return n > 0 ? (double)hits / (double)n : NAN;
}

/* The mineps summaries: who was found by which search, the distribution
 * over the found ones, and how often PGD needed no more than FGSM. */
static fc_status summarize_mineps(fc_attack_result *r, double *tmp, fc_err *err)
{
    const fc_attack_config *c = &r->config;
    r->tolerance = c->eps / ldexp(1.0, c->search_steps);
    int64_t both = 0, le = 0, nf = 0, np = 0;
    r->clean_wrong = 0;
    for (int64_t i = 0; i < r->n; i++) {
        const fc_attack_record *k = &r->records[i];
        if (k->min_eps_fgsm == 0.0 || k->min_eps_pgd == 0.0)
            r->clean_wrong++;
        nf += k->min_eps_fgsm >= 0;
        np += k->min_eps_pgd >= 0;
        if (k->min_eps_fgsm >= 0 && k->min_eps_pgd >= 0) {
            both++;
            le += k->min_eps_pgd <= k->min_eps_fgsm + r->tolerance;
        }
    }
    r->found_fgsm = nf;
    r->found_pgd = np;
    r->pgd_le_fgsm = rate(le, both);
    /* NaN (not run) and -1 (not found) both stay out of the distributions. */
    for (int64_t i = 0; i < r->n; i++)
        tmp[i] = r->records[i].min_eps_fgsm >= 0 ? r->records[i].min_eps_fgsm : NAN;
    fc_status st = fc_stats_compute(tmp, (size_t)r->n, &r->min_eps_fgsm, err);
    for (int64_t i = 0; !st && i < r->n; i++)
        tmp[i] = r->records[i].min_eps_pgd >= 0 ? r->records[i].min_eps_pgd : NAN;
    if (!st)
        st = fc_stats_compute(tmp, (size_t)r->n, &r->min_eps_pgd, err);
    return st;
}

/* Boundary: only images the attack model got right were attacked; the
 * distances and queries are over the ones that ended adversarial. */
static fc_status summarize_boundary(fc_attack_result *r, double *tmp, fc_err *err)
{
    int64_t attacked = 0, ok = 0;
    for (int64_t i = 0; i < r->n; i++) {
        attacked += r->records[i].attacked;
        ok += r->records[i].attacked && r->records[i].success;
    }
    r->attacked = attacked;
    r->boundary_success_rate = rate(ok, attacked);
    fc_status st = FC_OK;
    for (int pass = 0; pass < 3 && !st; pass++) {
        for (int64_t i = 0; i < r->n; i++) {
            const fc_attack_record *k = &r->records[i];
            bool use = k->attacked && k->success;
            double v = pass == 0 ? k->l2 : pass == 1 ? k->linf : (double)k->queries;
            tmp[i] = use ? v : NAN;
        }
        fc_stats *dst = pass == 0 ? &r->l2 : pass == 1 ? &r->linf : &r->queries;
        st = fc_stats_compute(tmp, (size_t)r->n, dst, err);
    }
    return st;
}

fc_status fc_attack_summarize(fc_attack_result *r, fc_err *err)
{
    fc_stats_empty(&r->confidence_drop);
    fc_stats_empty(&r->min_eps_fgsm);
    fc_stats_empty(&r->min_eps_pgd);
    fc_stats_empty(&r->l2);
    fc_stats_empty(&r->linf);
    fc_stats_empty(&r->queries);
    r->tolerance = r->pgd_le_fgsm = r->boundary_success_rate = NAN;
    int64_t clean_ok = 0, robust = 0, flips = 0, success = 0;
    for (int64_t i = 0; i < r->n; i++) {
        const fc_attack_record *k = &r->records[i];
        clean_ok += k->label >= 0 && k->clean_top1 == k->label;
        robust += k->label >= 0 && k->adv_top1 == k->label;
        flips += k->adv_top1 != k->clean_top1;
        success += k->success;
    }
    r->clean_accuracy = r->has_labels ? rate(clean_ok, r->n) : NAN;
    r->robust_accuracy = r->has_labels ? rate(robust, r->n) : NAN;
    r->flip_rate = rate(flips, r->n);
    r->attack_success_rate = rate(success, r->n);

    size_t count = r->n > 0 ? (size_t)r->n : 1;
    double *tmp = fc_calloc(count, sizeof *tmp);
    if (!tmp)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory for attack metrics");
    for (int64_t i = 0; i < r->n; i++)
        tmp[i] = (double)r->records[i].clean_p_label - (double)r->records[i].adv_p_label;
    fc_status st = fc_stats_compute(tmp, (size_t)r->n, &r->confidence_drop, err);
    if (!st && r->config.kind == FC_ATTACK_MINEPS)
        st = summarize_mineps(r, tmp, err);
    if (!st && r->config.kind == FC_ATTACK_BOUNDARY)
        st = summarize_boundary(r, tmp, err);
    fc_free(tmp);
    return st;
}
