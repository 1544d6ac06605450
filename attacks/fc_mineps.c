/* Minimal eps per image: bisection on eps in [0, eps_max] for FGSM and for
 * PGD, judged by the eval model.
 *
 * An image the eval model already gets wrong (or already puts on the
 * target) has min eps 0.  Otherwise the attack is tried at eps_max: if the
 * image does not flip there it is "not found" (-1); else `search_steps`
 * halvings of [lo, hi] keep hi flipped and lo not, and hi is the answer,
 * within eps_max / 2^search_steps.  Success is not monotone in eps for
 * every model, so this is the edge the bisection lands on, not necessarily
 * the smallest flipping eps.
 *
 * FGSM's direction sign(grad at x) does not depend on eps, so one gradient
 * per image serves the whole search; PGD is rerun at each eps with a step
 * of 2.5 * eps / steps and the image's own random start, so one image's
 * search never depends on the others'. */
#include <math.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "fc_attack_internal.h"

typedef struct search {
    fc_model *attack, *eval;
    const fc_attack_config *cfg;
    const fc_chunk *c;
    size_t per;               /* values per image */
    fc_tensor xs, as;         /* gathered clean / adversarial rows [n, C, H, W] */
    const float *sign_dir;    /* FGSM: the gradient at x, [n, per] */
    int64_t *rows, *idx, *cls, *top1;
    double *eps, *step, *lo, *hi, *best;
    bool *goal;
} search;

static inline float clamp01(float v)
{
    return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
}

static int64_t target_of(const fc_chunk *c, int64_t i)
{
    return c->targets ? c->targets[i] : -1;
}

/* Attacks the k images rows[0..k) at eps[0..k) with `method` and records in
 * goal[0..k) whether the eval model then meets the goal; the adversarials
 * are left in s->as rows 0..k. */
static fc_status try_eps(search *s, unsigned method, int64_t k, fc_err *err)
{
    const fc_chunk *c = s->c;
    const float *x = c->x->data;
    float *xs = s->xs.data, *as = s->as.data;
    for (int64_t r = 0; r < k; r++) {
        int64_t i = s->rows[r];
        memcpy(xs + (size_t)r * s->per, x + (size_t)i * s->per, s->per * sizeof(float));
        s->idx[r] = c->index[i];
        s->cls[r] = c->targets ? c->targets[i] : c->labels[i];
        s->step[r] = 2.5 * s->eps[r] / (s->cfg->steps > 0 ? s->cfg->steps : 1);
    }
    fc_tensor xv = fc_attack_rows(&s->xs, 0, k), av = fc_attack_rows(&s->as, 0, k);
    fc_status st = FC_OK;
    if (method == FC_MINEPS_FGSM) {
        for (int64_t r = 0; r < k; r++) {
            const float a = (float)s->eps[r];
            const float up = c->targets ? -a : a;
            const float *g = s->sign_dir + (size_t)s->rows[r] * s->per;
            const float *xr = xs + (size_t)r * s->per;
            float *ar = as + (size_t)r * s->per;
            for (size_t j = 0; j < s->per; j++) {
                float d = g[j] > 0.0f ? up : g[j] < 0.0f ? -up : 0.0f;
                ar[j] = clamp01(xr[j] + d);
            }
        }
    } else {
        fc_grad_job job = {&xv, s->idx, s->cls, c->targets != NULL, s->eps, s->step,
                           s->cfg->steps, s->cfg->random_start, s->cfg->seed};
        st = fc_attack_gradient(s->attack, &job, &av, err);
    }
    if (!st)
        st = fc_attack_top1(s->eval, &av, s->top1, err);
    for (int64_t r = 0; !st && r < k; r++) {
        int64_t i = s->rows[r];
        s->goal[r] = fc_attack_goal(s->top1[r], c->labels[i], target_of(c, i));
    }
    return st;
}

/* Keeps row r of s->as as image i's adversarial when it needed less eps
 * than any before; `found` false stores a failed try only while nothing
 * better exists. */
static void keep(search *s, fc_tensor *adv, int64_t r, int64_t i, double eps, bool found)
{
    if (found ? !(eps < s->best[i]) : s->best[i] < INFINITY)
        return;
    if (found)
        s->best[i] = eps;
    memcpy((float *)adv->data + (size_t)i * s->per, (const float *)s->as.data + (size_t)r * s->per,
           s->per * sizeof(float));
}

static fc_status search_one(search *s, unsigned method, fc_tensor *adv, fc_err *err)
{
    const fc_chunk *c = s->c;
    const int64_t n = c->x->dims[0];
    const double eps_max = s->cfg->eps;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        double *out = method == FC_MINEPS_FGSM ? &c->rec[i].min_eps_fgsm : &c->rec[i].min_eps_pgd;
        if (fc_attack_goal(c->eval_top1[i], c->labels[i], target_of(c, i))) {
            *out = 0.0;
            continue;
        }
        s->rows[k] = i;
        s->eps[k] = eps_max;
        k++;
    }
    fc_status st = try_eps(s, method, k, err);
    if (st)
        return st;
    /* Drop the images that did not flip at eps_max; bisect the others. */
    int64_t m = 0;
    for (int64_t r = 0; r < k; r++) {
        int64_t i = s->rows[r];
        keep(s, adv, r, i, eps_max, s->goal[r]);
        if (!s->goal[r]) {
            *(method == FC_MINEPS_FGSM ? &c->rec[i].min_eps_fgsm : &c->rec[i].min_eps_pgd) = -1;
            continue;
        }
        s->lo[i] = 0.0;
        s->hi[i] = eps_max;
        s->rows[m++] = i;
    }
    k = m;
    for (int it = 0; it < s->cfg->search_steps && k > 0; it++) {
        for (int64_t r = 0; r < k; r++)
            s->eps[r] = 0.5 * (s->lo[s->rows[r]] + s->hi[s->rows[r]]);
        if ((st = try_eps(s, method, k, err)))
            return st;
        for (int64_t r = 0; r < k; r++) {
            int64_t i = s->rows[r];
            if (s->goal[r]) {
                s->hi[i] = s->eps[r];
                keep(s, adv, r, i, s->eps[r], true);
            } else {
                s->lo[i] = s->eps[r];
            }
        }
    }
    for (int64_t r = 0; r < k; r++) {
        int64_t i = s->rows[r];
        *(method == FC_MINEPS_FGSM ? &c->rec[i].min_eps_fgsm : &c->rec[i].min_eps_pgd) = s->hi[i];
    }
    return FC_OK;
}

static void search_free(search *s)
{
    fc_tensor_release(&s->xs);
    fc_tensor_release(&s->as);
    fc_free(s->rows);
    fc_free(s->idx);
    fc_free(s->cls);
    fc_free(s->top1);
    fc_free(s->eps);
    fc_free(s->step);
    fc_free(s->lo);
    fc_free(s->hi);
    fc_free(s->best);
    fc_free(s->goal);
}

fc_status fc_mineps_chunk(fc_model *attack, fc_model *eval, const fc_attack_config *cfg,
                          const fc_chunk *c, fc_tensor *adv, fc_err *err)
{
    const int64_t n = c->x->dims[0];
    if (n == 0)
        return FC_OK;
    search s;
    memset(&s, 0, sizeof s);
    s.attack = attack;
    s.eval = eval;
    s.cfg = cfg;
    s.c = c;
    s.per = c->x->numel / (size_t)n;
    size_t un = (size_t)n;
    s.rows = fc_calloc(un, sizeof *s.rows);
    s.idx = fc_calloc(un, sizeof *s.idx);
    s.cls = fc_calloc(un, sizeof *s.cls);
    s.top1 = fc_calloc(un, sizeof *s.top1);
    s.eps = fc_calloc(un, sizeof *s.eps);
    s.step = fc_calloc(un, sizeof *s.step);
    s.lo = fc_calloc(un, sizeof *s.lo);
    s.hi = fc_calloc(un, sizeof *s.hi);
    s.best = fc_calloc(un, sizeof *s.best);
    s.goal = fc_calloc(un, sizeof *s.goal);
    fc_status st = FC_OK;
    if (!s.rows || !s.idx || !s.cls || !s.top1 || !s.eps || !s.step || !s.lo || !s.hi ||
        !s.best || !s.goal)
        st = fc_err_set(err, FC_ERR_NOMEM, "mineps: out of memory");
    if (!st)
        st = fc_tensor_alloc(&s.xs, FC_DT_F32, c->x->rank, c->x->dims, err);
    if (!st)
        st = fc_tensor_alloc(&s.as, FC_DT_F32, c->x->rank, c->x->dims, err);
    for (int64_t i = 0; !st && i < n; i++) {
        s.best[i] = INFINITY;
        c->rec[i].min_eps_fgsm = c->rec[i].min_eps_pgd = NAN;
    }
    if (!st && (cfg->mineps_of & FC_MINEPS_FGSM)) {
        /* One gradient at x for every eps FGSM tries. */
        fc_loss loss = {c->targets ? FC_LOSS_CE_TARGETED : FC_LOSS_CE,
                        c->targets ? c->targets : c->labels};
        fc_tensor g;
        st = fc_model_grad(attack, c->x, &loss, &g, NULL, NULL, err);
        if (!st) {
            s.sign_dir = g.data;
            st = search_one(&s, FC_MINEPS_FGSM, adv, err);
            fc_tensor_release(&g);
            s.sign_dir = NULL;
        }
    }
    if (!st && (cfg->mineps_of & FC_MINEPS_PGD))
        st = search_one(&s, FC_MINEPS_PGD, adv, err);
    /* Images met the goal clean keep the clean image (already in adv). */
    for (int64_t i = 0; !st && i < n; i++)
        c->rec[i].success = s.best[i] < INFINITY || c->rec[i].min_eps_fgsm == 0.0 ||
                            c->rec[i].min_eps_pgd == 0.0;
    search_free(&s);
    return st;
}
