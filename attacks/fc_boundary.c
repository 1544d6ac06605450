/* The Boundary Attack (Brendel, Rauber, Bethge, ICLR 2018): a decision-based
 * attack that sees only the model's top-1.
 *
 * Start from an adversarial point: uniform noise images are drawn until one
 * is misclassified, then a bisection along the line from the image to that
 * noise finds the blend closest to the image that is still misclassified.
 * Then walk along the decision boundary toward the image: each step draws a
 * Gaussian direction orthogonal to (image - current), scales it to
 * `spherical` times the current distance and maps the point back onto the
 * sphere of the current distance around the image (the orthogonal step),
 * then moves it a fraction `source` of that distance toward the image (the
 * step toward the original).  The orthogonal candidate is queried first;
 * only if it is still adversarial is the full candidate queried, and only
 * an adversarial full candidate is accepted, so the distance never grows.
 *
 * Step sizes adapt as the paper describes: the orthogonal step so that
 * about half of the orthogonal candidates stay adversarial (both steps grow
 * by 1.5 above 50 %, shrink below 20 %), the step toward the image by its
 * own success rate (grow above 25 %, shrink below 10 %), checked every 10
 * steps.  An image stops when its query budget is spent or the step toward
 * the image falls below 1e-7 (converged).
 *
 * Every query is one image through fc_model_logits; all images of a chunk
 * are queried together, each counting its own queries, and every random
 * draw comes from the image's own stream, so results do not depend on the
 * batch. */
#include <math.h>
#include <string.h>

#include "attacks/fc_gen.h"
#include "core/fc_alloc.h"
#include "fc_attack_internal.h"

#define INIT_DRAWS 100          /* noise images tried for a starting point */
#define BLEND_STEPS 12          /* bisection steps toward the image */
#define STEP_INIT 0.01          /* both step sizes start here (paper, Foolbox) */
#define STEP_ADAPT 1.5
#define ADAPT_EVERY 10          /* walk steps between step-size checks */
#define ADAPT_MIN_TRIALS 10     /* trials a success rate needs before it counts */
#define SOURCE_CONVERGED 1e-7
#define SPHERICAL_MAX 1.0
#define SOURCE_MAX 0.5

enum phase { P_INIT, P_BLEND, P_WALK, P_DONE };

typedef struct bimg {
    enum phase phase;
    bool found;                 /* an adversarial starting point exists */
    uint64_t rng;
    int draws, blend_it;
    double lo, hi;              /* blend bisection: lo not adversarial, hi adversarial */
    double dist;                /* L2 from the image to the current adversarial */
    double spherical, source;   /* step sizes, relative to dist */
    int steps, sph_try, sph_hit, src_try, src_hit;
    bool want_full;
} bimg;

typedef struct walker {
    fc_model *m;
    const fc_chunk *c;
    int64_t budget;
    size_t per;
    bimg *img;
    float *noise;               /* [n, per] the adversarial noise of each image */
    float *full;                /* [n, per] full candidates */
    fc_tensor q;                /* [n, C, H, W] the images of one query batch */
    int64_t *qrow, *top1;       /* image of each query row, its answer */
    double *dir;                /* [per] scratch direction */
    float *adv;                 /* [n, per] current adversarials (the output) */
} walker;

static double dist_to(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t j = 0; j < n; j++) {
        double d = (double)a[j] - (double)b[j];
        s += d * d;
    }
    return sqrt(s);
}

static inline float clamp01d(double v)
{
    return v < 0.0 ? 0.0f : v > 1.0 ? 1.0f : (float)v;
}

static bool has_budget(const walker *w, int64_t i)
{
    return w->c->rec[i].queries < w->budget;
}

/* The orthogonal candidate of image i into out, and its full candidate
 * (moved toward the image) into w->full. */
static void candidates(walker *w, int64_t i, float *out)
{
    bimg *b = &w->img[i];
    const size_t per = w->per;
    const float *x = (const float *)w->c->x->data + (size_t)i * per;
    const float *a = w->adv + (size_t)i * per;
    double *eta = w->dir;
    /* A Gaussian direction with its component along (x - a) removed.
     * Box-Muller gives normals in pairs; both are used (fc_rng_normal keeps
     * one), which halves the logs and cosines of the walk. */
    for (size_t j = 0; j < per; j += 2) {
        double u1 = fc_rng_uniform(&b->rng), u2 = fc_rng_uniform(&b->rng);
        double r = sqrt(-2.0 * log(u1 > 1e-300 ? u1 : 1e-300)), t = 6.283185307179586 * u2;
        eta[j] = r * cos(t);
        if (j + 1 < per)
            eta[j + 1] = r * sin(t);
    }
    double dot = 0.0, dd = 0.0;
    for (size_t j = 0; j < per; j++) {
        double d = (double)x[j] - (double)a[j];
        dot += eta[j] * d;
        dd += d * d;
    }
    double nrm = 0.0;
    for (size_t j = 0; j < per; j++) {
        eta[j] -= dd > 0 ? dot / dd * ((double)x[j] - (double)a[j]) : 0.0;
        nrm += eta[j] * eta[j];
    }
    nrm = sqrt(nrm);
    const double scale = nrm > 0 ? b->spherical * b->dist / nrm : 0.0;
    /* a + eta is at distance dist * sqrt(1 + s^2) from x: shrink it back
     * onto the sphere of radius dist. */
    const double back = 1.0 / sqrt(1.0 + b->spherical * b->spherical);
    for (size_t j = 0; j < per; j++)
        out[j] = clamp01d(x[j] + back * ((double)a[j] + scale * eta[j] - (double)x[j]));
    /* Clipping moved the candidate off the sphere: aim the step toward x at
     * the distance the step asks for, from wherever the candidate landed. */
    double nd = dist_to(x, out, per), want = b->dist * (1.0 - b->source);
    double frac = nd > 0 ? (nd - want) / nd : 0.0;
    frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
    float *f = w->full + (size_t)i * per;
    for (size_t j = 0; j < per; j++)
        f[j] = clamp01d((double)out[j] + frac * ((double)x[j] - (double)out[j]));
}

/* The query image of image i in its current phase, into out. */
static void next_query(walker *w, int64_t i, float *out)
{
    bimg *b = &w->img[i];
    const size_t per = w->per;
    const float *x = (const float *)w->c->x->data + (size_t)i * per;
    float *nz = w->noise + (size_t)i * per;
    if (b->phase == P_INIT) {
        for (size_t j = 0; j < per; j++)
            nz[j] = out[j] = (float)fc_rng_uniform(&b->rng);
    } else if (b->phase == P_BLEND) {
        double t = 0.5 * (b->lo + b->hi);
        for (size_t j = 0; j < per; j++)
            out[j] = clamp01d((1.0 - t) * x[j] + t * nz[j]);
    } else {
        candidates(w, i, out);
    }
}

/* Queries the first k rows of w->q; w->top1 gets the answers. */
static fc_status query(walker *w, int64_t k, fc_err *err)
{
    if (k == 0)
        return FC_OK;
    fc_tensor v = fc_attack_rows(&w->q, 0, k);
    for (int64_t r = 0; r < k; r++)
        w->c->rec[w->qrow[r]].queries++;
    return fc_attack_top1(w->m, &v, w->top1, err);
}

static void adapt(bimg *b)
{
    if (b->sph_try >= ADAPT_MIN_TRIALS) {
        double p = (double)b->sph_hit / b->sph_try;
        if (p > 0.5) {
            b->spherical *= STEP_ADAPT;
            b->source *= STEP_ADAPT;
        } else if (p < 0.2) {
            b->spherical /= STEP_ADAPT;
            b->source /= STEP_ADAPT;
        }
        b->sph_try = b->sph_hit = 0;
    }
    if (b->src_try >= ADAPT_MIN_TRIALS) {
        double p = (double)b->src_hit / b->src_try;
        if (p > 0.25)
            b->source *= STEP_ADAPT;
        else if (p < 0.1)
            b->source /= STEP_ADAPT;
        b->src_try = b->src_hit = 0;
    }
    b->spherical = b->spherical > SPHERICAL_MAX ? SPHERICAL_MAX : b->spherical;
    b->source = b->source > SOURCE_MAX ? SOURCE_MAX : b->source;
}

/* What the answer to image i's query means for it. */
static void take_answer(walker *w, int64_t i, const float *asked, int64_t top1)
{
    bimg *b = &w->img[i];
    const fc_chunk *c = w->c;
    const size_t per = w->per;
    const float *x = (const float *)c->x->data + (size_t)i * per;
    float *a = w->adv + (size_t)i * per;
    bool adv = fc_attack_goal(top1, c->labels[i], -1);
    switch (b->phase) {
    case P_INIT:
        if (adv) {
            b->found = true;
            memcpy(a, asked, per * sizeof(float));
            b->phase = P_BLEND;
            b->lo = 0.0;
            b->hi = 1.0;
        } else if (++b->draws >= INIT_DRAWS) {
            b->phase = P_DONE;
        }
        break;
    case P_BLEND:
        if (adv) {
            b->hi = 0.5 * (b->lo + b->hi);
            memcpy(a, asked, per * sizeof(float));
        } else {
            b->lo = 0.5 * (b->lo + b->hi);
        }
        if (++b->blend_it >= BLEND_STEPS) {
            b->phase = P_WALK;
            b->dist = dist_to(x, a, per);
            b->spherical = b->source = STEP_INIT;
        }
        break;
    case P_WALK:
        b->sph_try++;
        b->sph_hit += adv;
        b->want_full = adv;
        break;
    case P_DONE: break;
    }
}

/* One round: every live image asks one question, then the ones whose
 * orthogonal candidate held ask about their full candidate. */
static fc_status round_trip(walker *w, int64_t n, int64_t *live, fc_err *err)
{
    float *q = w->q.data;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        bimg *b = &w->img[i];
        if (b->phase != P_DONE && !has_budget(w, i))
            b->phase = P_DONE;
        if (b->phase == P_DONE)
            continue;
        b->want_full = false;
        next_query(w, i, q + (size_t)k * w->per);
        w->qrow[k++] = i;
    }
    *live = k;
    fc_status st = query(w, k, err);
    for (int64_t r = 0; !st && r < k; r++)
        take_answer(w, w->qrow[r], q + (size_t)r * w->per, w->top1[r]);
    if (st)
        return st;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (w->img[i].phase == P_WALK && w->img[i].want_full && has_budget(w, i)) {
            memcpy(q + (size_t)m * w->per, w->full + (size_t)i * w->per,
                   w->per * sizeof(float));
            w->qrow[m++] = i;
        }
    if ((st = query(w, m, err)))
        return st;
    for (int64_t r = 0; r < m; r++) {
        int64_t i = w->qrow[r];
        bimg *b = &w->img[i];
        b->src_try++;
        if (fc_attack_goal(w->top1[r], w->c->labels[i], -1)) {
            b->src_hit++;
            float *a = w->adv + (size_t)i * w->per;
            memcpy(a, q + (size_t)r * w->per, w->per * sizeof(float));
            b->dist = dist_to((const float *)w->c->x->data + (size_t)i * w->per, a, w->per);
        }
    }
    for (int64_t i = 0; i < n; i++) {
        bimg *b = &w->img[i];
        if (b->phase != P_WALK)
            continue;
        if (++b->steps % ADAPT_EVERY == 0)
            adapt(b);
        if (b->source < SOURCE_CONVERGED)
            b->phase = P_DONE;
    }
    return FC_OK;
}

fc_status fc_boundary_chunk(fc_model *m, const fc_attack_config *cfg, const fc_chunk *c,
                            fc_tensor *adv, fc_err *err)
{
    const int64_t n = c->x->dims[0];
    if (n == 0)
        return FC_OK;
    walker w;
    memset(&w, 0, sizeof w);
    w.m = m;
    w.c = c;
    w.budget = cfg->queries;
    w.per = c->x->numel / (size_t)n;
    w.adv = adv->data;
    size_t all = c->x->numel;
    w.img = fc_calloc((size_t)n, sizeof *w.img);
    w.noise = fc_calloc(all, sizeof(float));
    w.full = fc_calloc(all, sizeof(float));
    w.qrow = fc_calloc((size_t)n, sizeof *w.qrow);
    w.top1 = fc_calloc((size_t)n, sizeof *w.top1);
    w.dir = fc_calloc(w.per, sizeof(double));
    fc_status st = FC_OK;
    if (!w.img || !w.noise || !w.full || !w.qrow || !w.top1 || !w.dir)
        st = fc_err_set(err, FC_ERR_NOMEM, "boundary: out of memory");
    if (!st)
        st = fc_tensor_alloc(&w.q, FC_DT_F32, c->x->rank, c->x->dims, err);
    for (int64_t i = 0; !st && i < n; i++) {
        bimg *b = &w.img[i];
        b->rng = fc_attack_stream(cfg->seed, c->index[i], FC_STREAM_BOUNDARY);
        /* The clean query: the driver asked the attack model already. */
        c->rec[i].queries = 1;
        if (fc_attack_goal(c->attack_top1[i], c->labels[i], -1)) {
            b->phase = P_DONE;
            b->found = true;    /* the clean image itself: distance 0 */
        }
    }
    for (int64_t live = 1; !st && live > 0;)
        st = round_trip(&w, n, &live, err);
    for (int64_t i = 0; !st && i < n; i++) {
        c->rec[i].success = w.img[i].found;
        if (!w.img[i].found)   /* nothing adversarial: leave the clean image */
            memcpy(w.adv + (size_t)i * w.per, (const float *)c->x->data + (size_t)i * w.per,
                   w.per * sizeof(float));
    }
    fc_tensor_release(&w.q);
    fc_free(w.img);
    fc_free(w.noise);
    fc_free(w.full);
    fc_free(w.qrow);
    fc_free(w.top1);
    fc_free(w.dir);
    return st;
}
