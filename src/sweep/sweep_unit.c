/* One work unit of a sweep: a block of images of one model under one
 * attack, on every engine of the sweep, at every eps of the grid.
 *
 * FGSM's direction sign(grad) does not depend on eps, so one gradient per
 * source model serves the whole grid (x + eps * sign(g), the arithmetic of
 * attacks/fc_fgsm.c); PGD runs once per eps through fc_attack_gradient with
 * the images' dataset rows as their random streams; the boundary attack
 * runs once and an image counts as broken at eps when the adversarial it
 * found lies within eps (Linf).  eps 0 is the clean image. */
#include <math.h>
#include <string.h>

#include "attacks/fc_attack_internal.h"
#include "core/fc_alloc.h"
#include "sweep_internal.h"

/* One engine's results for the block: top-1 and p(label) per eps, image. */
typedef struct lane {
    bool on;
    int64_t *top1;     /* [n_eps][n] */
    float *p;          /* [n_eps][n] */
    int64_t *ref;      /* q8-transfer: the fp32 model's top-1 on the same images */
    int64_t *clean_top1;
    float *clean_p;
} lane;

typedef struct unit_state {
    const fc_sweep_options *o;
    const sweep_model *sm;
    fc_tensor x;        /* borrowed rows */
    int64_t n;
    int64_t *index, *labels;   /* dataset rows; true labels (-1 without) */
    lane lanes[FC_SWEEP_N_ENGINES];
} unit_state;

static void lane_free(lane *l)
{
    fc_free(l->top1);
    fc_free(l->p);
    fc_free(l->ref);
    fc_free(l->clean_top1);
    fc_free(l->clean_p);
    memset(l, 0, sizeof *l);
}

static bool lane_alloc(lane *l, int n_eps, int64_t n, bool ref)
{
    size_t cells = (size_t)n_eps * (size_t)n;
    l->on = true;
    l->top1 = fc_calloc(cells, sizeof *l->top1);
    l->p = fc_calloc(cells, sizeof *l->p);
    l->ref = ref ? fc_calloc(cells, sizeof *l->ref) : NULL;
    l->clean_top1 = fc_calloc((size_t)n, sizeof *l->clean_top1);
    l->clean_p = fc_calloc((size_t)n, sizeof *l->clean_p);
    return l->top1 && l->p && (!ref || l->ref) && l->clean_top1 && l->clean_p;
}

/* Top-1 and p(label) of logits z into row k of lane l. */
static void judge_into(const unit_state *s, const fc_tensor *z, lane *l, int k)
{
    int64_t *top1 = l->top1 + (size_t)k * (size_t)s->n;
    float *p = l->p + (size_t)k * (size_t)s->n;
    fc_logits_top1(z, top1, NULL);
    for (int64_t i = 0; i < s->n; i++)
        p[i] = s->labels[i] >= 0 ? fc_logits_prob(z, i, s->labels[i]) : NAN;
}

static void clean_into(const unit_state *s, const fc_tensor *z, lane *l)
{
    fc_logits_top1(z, l->clean_top1, NULL);
    for (int64_t i = 0; i < s->n; i++)
        l->clean_p[i] = s->labels[i] >= 0 ? fc_logits_prob(z, i, s->labels[i]) : NAN;
}

static void copy_clean(const unit_state *s, lane *l, int k)
{
    memcpy(l->top1 + (size_t)k * (size_t)s->n, l->clean_top1, (size_t)s->n * sizeof *l->top1);
    memcpy(l->p + (size_t)k * (size_t)s->n, l->clean_p, (size_t)s->n * sizeof *l->p);
}

static fc_status judge(fc_model *m, const unit_state *s, const fc_tensor *adv, lane *l, int k,
                       fc_err *err)
{
    fc_tensor z;
    fc_status st = fc_model_logits(m, adv, &z, err);
    if (st)
        return st;
    judge_into(s, &z, l, k);
    fc_tensor_release(&z);
    return FC_OK;
}

static inline float clamp01(float v)
{
    return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
}

/* Gradient attacks from source model am (f32 or q8): lane `own` is am's
 * view; with `transfer`, the q8 model judges the same adversarials. */
static fc_status gradient_lanes(unit_state *s, int attack, fc_model *am, lane *own,
                                fc_model *q8, lane *transfer, fc_err *err)
{
    const fc_sweep_options *o = s->o;
    const int64_t n = s->n;
    const size_t per = s->x.numel / (size_t)n;
    int64_t *classes = fc_calloc((size_t)n, sizeof *classes);
    double *eps = fc_calloc((size_t)n, sizeof *eps), *step = fc_calloc((size_t)n, sizeof *step);
    fc_tensor adv = {0}, g = {0};
    fc_status st = FC_OK;
    if (!classes || !eps || !step) {
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* Without labels the attack moves away from the source's clean top-1. */
    for (int64_t i = 0; i < n; i++)
        classes[i] = s->labels[i] >= 0 ? s->labels[i] : own->clean_top1[i];
    if ((st = fc_tensor_alloc(&adv, FC_DT_F32, s->x.rank, s->x.dims, err)))
        goto done;
    if (attack == FC_ATTACK_FGSM) {
        fc_loss loss = {FC_LOSS_CE, classes};
        if ((st = fc_model_grad(am, &s->x, &loss, &g, NULL, NULL, err)))
            goto done;
    }
    for (int k = 0; k < o->n_eps; k++) {
        const double e = o->eps[k];
        if (e == 0.0) {
            copy_clean(s, own, k);
            if (transfer) {
                copy_clean(s, transfer, k);
                memcpy(transfer->ref + (size_t)k * (size_t)n, own->clean_top1,
                       (size_t)n * sizeof *own->clean_top1);
            }
            continue;
        }
        if (attack == FC_ATTACK_FGSM) {
            const float *x = s->x.data, *gd = g.data;
            float *a = adv.data;
            const float fe = (float)e;
            for (size_t j = 0; j < (size_t)n * per; j++) {
                float sg = gd[j] > 0.0f ? fe : gd[j] < 0.0f ? -fe : 0.0f;
                a[j] = clamp01(x[j] + sg);
            }
        } else {
            for (int64_t i = 0; i < n; i++) {
                eps[i] = e;
                step[i] = 2.5 * e / s->sm->pgd_steps;
            }
            fc_grad_job job = {&s->x, s->index, classes, false, eps, step, s->sm->pgd_steps,
                               true, s->sm->seed};
            if ((st = fc_attack_gradient(am, &job, &adv, err)))
                goto done;
        }
        if ((st = judge(am, s, &adv, own, k, err)))
            goto done;
        if (transfer) {
            if ((st = judge(q8, s, &adv, transfer, k, err)))
                goto done;
            memcpy(transfer->ref + (size_t)k * (size_t)n, own->top1 + (size_t)k * (size_t)n,
                   (size_t)n * sizeof *own->top1);
        }
    }
done:
    fc_tensor_release(&adv);
    fc_tensor_release(&g);
    fc_free(classes);
    fc_free(eps);
    fc_free(step);
    return st;
}

/* The boundary attack on model m (attack and judge), lane l. */
static fc_status boundary_lane(unit_state *s, fc_model *m, lane *l, fc_err *err)
{
    const int64_t n = s->n;
    const size_t per = s->x.numel / (size_t)n;
    int64_t *classes = fc_calloc((size_t)n, sizeof *classes);
    fc_attack_record *rec = fc_calloc((size_t)n, sizeof *rec);
    lane found = {0};
    fc_tensor adv = {0};
    fc_status st = FC_OK;
    if (!classes || !rec || !lane_alloc(&found, 1, n, false)) {
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++)
        classes[i] = s->labels[i] >= 0 ? s->labels[i] : l->clean_top1[i];
    if ((st = fc_tensor_alloc(&adv, FC_DT_F32, s->x.rank, s->x.dims, err)))
        goto done;
    fc_attack_config cfg;
    fc_attack_config_default(&cfg, FC_ATTACK_BOUNDARY);
    cfg.queries = s->o->boundary_queries;
    cfg.seed = s->sm->seed;
    fc_chunk ch = {&s->x, s->index, classes, NULL, l->clean_top1, l->clean_top1, rec};
    if ((st = fc_boundary_chunk(m, &cfg, &ch, &adv, err)) || (st = judge(m, s, &adv, &found, 0, err)))
        goto done;
    const float *x = s->x.data, *a = adv.data;
    for (int64_t i = 0; i < n; i++) {
        double linf = 0.0;
        for (size_t j = (size_t)i * per; j < (size_t)(i + 1) * per; j++) {
            double d = fabs((double)a[j] - (double)x[j]);
            linf = d > linf ? d : linf;
        }
        for (int k = 0; k < s->o->n_eps; k++) {
            bool broken = rec[i].success && linf <= s->o->eps[k];
            size_t c = (size_t)k * (size_t)n + (size_t)i;
            l->top1[c] = broken ? found.top1[i] : l->clean_top1[i];
            l->p[c] = broken ? found.p[i] : l->clean_p[i];
        }
    }
done:
    lane_free(&found);
    fc_tensor_release(&adv);
    fc_free(classes);
    fc_free(rec);
    return st;
}

static cJSON *array_i64(const int64_t *v, int64_t n, size_t stride)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t k = 0; a && k < n; k++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[(size_t)k * stride]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

static cJSON *array_p(const float *v, int64_t n, size_t stride)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t k = 0; a && k < n; k++) {
        float f = v[(size_t)k * stride];
        if (!cJSON_AddItemToArray(a, isfinite(f) ? cJSON_CreateNumber(f) : cJSON_CreateNull())) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* One record per image of lane e. */
static fc_status emit(const unit_state *s, int attack, int e, cJSON *records, fc_err *err)
{
    const lane *l = &s->lanes[e];
    const int n_eps = s->o->n_eps;
    for (int64_t i = 0; i < s->n; i++) {
        cJSON *r = cJSON_CreateObject();
        if (!r || !cJSON_AddItemToArray(records, r))
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
        const int64_t label = s->labels[i];
        const int64_t ref = label >= 0 ? label : l->clean_top1[i];
        double min_eps = -1.0;
        for (int k = 0; k < n_eps && min_eps < 0; k++)
            if (l->top1[(size_t)k * (size_t)s->n + (size_t)i] != ref)
                min_eps = s->o->eps[k];
        bool ok = cJSON_AddStringToObject(r, "model", s->sm->mc->name) &&
                  cJSON_AddStringToObject(r, "attack", fc_attack_kind_name((fc_attack_kind)attack)) &&
                  cJSON_AddStringToObject(r, "engine", fc_sweep_engine_name(e)) &&
                  cJSON_AddNumberToObject(r, "image", (double)s->index[i]) &&
                  cJSON_AddNumberToObject(r, "label", (double)label) &&
                  cJSON_AddNumberToObject(r, "clean_top1", (double)l->clean_top1[i]) &&
                  (isfinite(l->clean_p[i]) ? cJSON_AddNumberToObject(r, "clean_p_label", l->clean_p[i])
                                           : cJSON_AddNullToObject(r, "clean_p_label")) &&
                  cJSON_AddItemToObject(r, "adv_top1", array_i64(l->top1 + i, n_eps, (size_t)s->n)) &&
                  cJSON_AddItemToObject(r, "adv_p_label", array_p(l->p + i, n_eps, (size_t)s->n)) &&
                  (min_eps >= 0 ? cJSON_AddNumberToObject(r, "min_eps", min_eps)
                                : cJSON_AddNullToObject(r, "min_eps")) &&
                  (!l->ref || cJSON_AddItemToObject(r, "ref_top1",
                                                    array_i64(l->ref + i, n_eps, (size_t)s->n)));
        if (!ok)
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    }
    return FC_OK;
}

fc_status sweep_unit_run(const fc_sweep_options *o, const sweep_model *sm, sweep_open *open,
                         const sweep_unit *u, cJSON *records, fc_err *err)
{
    unit_state s = {.o = o, .sm = sm};
    const int64_t from = u->block * o->block;
    s.n = sm->data.n - from < o->block ? sm->data.n - from : o->block;
    if (s.n <= 0)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: block %lld is empty", sm->mc->name,
                          (long long)u->block);
    s.x = fc_attack_rows(&sm->data.images, from, s.n);
    s.index = fc_calloc((size_t)s.n, sizeof *s.index);
    s.labels = fc_calloc((size_t)s.n, sizeof *s.labels);
    fc_status st = FC_OK;
    fc_tensor zf = {0}, zq = {0};
    bool transfer = o->f32 && o->q8 && u->attack != FC_ATTACK_BOUNDARY;
    if (!s.index || !s.labels ||
        (o->f32 && !lane_alloc(&s.lanes[FC_SWEEP_F32], o->n_eps, s.n, false)) ||
        (o->q8 && !lane_alloc(&s.lanes[FC_SWEEP_Q8], o->n_eps, s.n, false)) ||
        (transfer && !lane_alloc(&s.lanes[FC_SWEEP_Q8_TRANSFER], o->n_eps, s.n, true))) {
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < s.n; i++) {
        s.index[i] = from + i;
        s.labels[i] = sm->data.labels ? sm->data.labels[from + i] : -1;
    }
    if (o->f32) {
        if ((st = fc_model_logits(open->f32, &s.x, &zf, err)))
            goto done;
        clean_into(&s, &zf, &s.lanes[FC_SWEEP_F32]);
    }
    if (o->q8) {
        if ((st = fc_model_logits(open->q8, &s.x, &zq, err)))
            goto done;
        clean_into(&s, &zq, &s.lanes[FC_SWEEP_Q8]);
        if (transfer)
            clean_into(&s, &zq, &s.lanes[FC_SWEEP_Q8_TRANSFER]);
    }
    if (u->attack == FC_ATTACK_BOUNDARY) {
        if ((o->f32 && (st = boundary_lane(&s, open->f32, &s.lanes[FC_SWEEP_F32], err))) ||
            (o->q8 && (st = boundary_lane(&s, open->q8, &s.lanes[FC_SWEEP_Q8], err))))
            goto done;
    } else {
        if (o->f32 && (st = gradient_lanes(&s, u->attack, open->f32, &s.lanes[FC_SWEEP_F32],
                                           open->q8,
                                           transfer ? &s.lanes[FC_SWEEP_Q8_TRANSFER] : NULL, err)))
            goto done;
        if (o->q8 && (st = gradient_lanes(&s, u->attack, open->q8, &s.lanes[FC_SWEEP_Q8], NULL,
                                          NULL, err)))
            goto done;
    }
    for (int e = 0; e < FC_SWEEP_N_ENGINES && !st; e++)
        if (s.lanes[e].on)
            st = emit(&s, u->attack, e, records, err);
done:
    fc_tensor_release(&zf);
    fc_tensor_release(&zq);
    for (int e = 0; e < FC_SWEEP_N_ENGINES; e++)
        lane_free(&s.lanes[e]);
    fc_free(s.index);
    fc_free(s.labels);
    return st;
}
