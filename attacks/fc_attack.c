/* The attack driver: checks the configuration against the models and the
 * data, measures the clean images once, hands the images to one attack a
 * chunk at a time, judges the adversarials on the eval model and fills the
 * records and the summary. */
#include "fc_attack.h"

#include <math.h>
#include <string.h>

#include "attacks/fc_gen.h"
#include "core/fc_alloc.h"
#include "fc_attack_internal.h"

static const char *const kind_names[] = {"fgsm", "pgd", "mineps", "boundary"};

const char *fc_attack_kind_name(fc_attack_kind k)
{
    return k >= FC_ATTACK_FGSM && k <= FC_ATTACK_BOUNDARY ? kind_names[k] : "unknown";
}

int fc_attack_kind_parse(const char *name)
{
    for (int k = 0; k <= FC_ATTACK_BOUNDARY; k++)
        if (!strcmp(kind_names[k], name))
            return k;
    return -1;
}

void fc_attack_config_default(fc_attack_config *c, fc_attack_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->eps = kind == FC_ATTACK_MINEPS ? 0.3 : 8.0 / 255.0;
    c->steps = 10;
    c->random_start = true;
    c->target = FC_TARGET_NONE;
    c->search_steps = 10;
    c->mineps_of = FC_MINEPS_FGSM | FC_MINEPS_PGD;
    c->queries = 5000;
    c->batch = 64;
}

uint64_t fc_attack_stream(uint64_t seed, int64_t index, uint64_t salt)
{
    /* Two rounds of splitmix64 hashing: (seed, salt) first, then the image,
     * so neighbouring indices and seeds give unrelated streams. */
    uint64_t s = seed ^ salt;
    uint64_t h = fc_rng_next(&s);
    uint64_t t = h + (uint64_t)index;
    return fc_rng_next(&t);
}

fc_tensor fc_attack_rows(const fc_tensor *t, int64_t from, int64_t n)
{
    fc_tensor v = *t;
    size_t per = t->dims[0] ? t->numel / (size_t)t->dims[0] : 0;
    v.dims[0] = n;
    v.numel = per * (size_t)n;
    v.owns_data = false;
    v.data = (char *)t->data + (size_t)from * per * fc_dtype_size(t->dtype);
    return v;
}

fc_status fc_attack_top1(fc_model *m, const fc_tensor *x, int64_t *top1, fc_err *err)
{
    fc_tensor z;
    fc_status st = fc_model_logits(m, x, &z, err);
    if (st)
        return st;
    fc_logits_top1(&z, top1, NULL);
    fc_tensor_release(&z);
    return FC_OK;
}

/* ---- checks ------------------------------------------------------------------ */

static fc_status check_config(const fc_attack_config *c, int64_t classes, fc_err *err)
{
    if (c->kind < FC_ATTACK_FGSM || c->kind > FC_ATTACK_BOUNDARY)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "unknown attack kind %d", (int)c->kind);
    const char *name = fc_attack_kind_name(c->kind);
    if (c->kind != FC_ATTACK_BOUNDARY && !(c->eps >= 0.0 && c->eps <= 1.0))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: eps %g is outside [0, 1] (pixel units)",
                          name, c->eps);
    if (c->kind == FC_ATTACK_MINEPS && c->eps <= 0.0)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "mineps: the largest eps must be > 0");
    bool pgd = c->kind == FC_ATTACK_PGD ||
               (c->kind == FC_ATTACK_MINEPS && (c->mineps_of & FC_MINEPS_PGD));
    if (pgd && (c->steps < 1 || c->steps > 100000))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: steps %d is outside 1..100000", name,
                          c->steps);
    if (!(c->step_size >= 0.0 && c->step_size <= 1.0))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: step size %g is outside [0, 1]", name,
                          c->step_size);
    if (c->kind == FC_ATTACK_MINEPS &&
        (c->mineps_of == 0 || (c->mineps_of & ~(unsigned)(FC_MINEPS_FGSM | FC_MINEPS_PGD))))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "mineps: choose FGSM and/or PGD to search");
    if (c->kind == FC_ATTACK_MINEPS && (c->search_steps < 1 || c->search_steps > 50))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "mineps: %d bisection steps is outside 1..50",
                          c->search_steps);
    if (c->kind == FC_ATTACK_BOUNDARY && (c->queries < 1 || c->queries > (INT64_C(1) << 40)))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "boundary: a budget of %lld queries is "
                          "outside 1..2^40", (long long)c->queries);
    if (c->kind == FC_ATTACK_BOUNDARY && c->target != FC_TARGET_NONE)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "boundary: targeted boundary attacks are not "
                          "implemented (untargeted only)");
    if (c->target != FC_TARGET_NONE && c->target != FC_TARGET_LEAST_LIKELY &&
        (c->target < 0 || c->target >= classes))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: target class %lld is outside 0..%lld",
                          name, (long long)c->target, (long long)(classes - 1));
    if (c->batch < 1)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: batch must be >= 1", name);
    return FC_OK;
}

static fc_status check_fit(fc_model *m, const fc_dataset *d, const char *what, fc_err *err)
{
    const fc_tensor *x = &d->images;
    if (x->dtype != FC_DT_F32 || x->rank != 4 || x->dims[0] != d->n ||
        x->dims[1] != fc_model_channels(m) || x->dims[2] != fc_model_height(m) ||
        x->dims[3] != fc_model_width(m)) {
        char s[96];
        return fc_err_set(err, FC_ERR_SHAPE, "%s: images %s do not fit the %s model's "
                          "[N,%d,%lld,%lld]", fc_model_path(m),
                          fc_dims_str(x->rank, x->dims, s, sizeof s), what,
                          fc_model_channels(m), (long long)fc_model_height(m),
                          (long long)fc_model_width(m));
    }
    return FC_OK;
}

static fc_status check_inputs(fc_model *am, fc_model *em, const fc_dataset *d, fc_err *err)
{
    if (d->n < 1)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "no images to attack");
    fc_status st = check_fit(am, d, "attack", err);
    if (!st && em)
        st = check_fit(em, d, "eval", err);
    if (st)
        return st;
    int64_t k = fc_model_classes(am);
    if (em && fc_model_classes(em) != k)
        return fc_err_set(err, FC_ERR_SHAPE, "%s has %lld classes but the attacked %s has %lld",
                          fc_model_path(em), (long long)fc_model_classes(em),
                          fc_model_path(am), (long long)k);
    for (int64_t i = 0; d->labels && i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= k)
            return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: label %lld is outside the model's "
                              "0..%lld", d->files && d->files[i] ? d->files[i] : "image",
                              (long long)d->labels[i], (long long)(k - 1));
    return FC_OK;
}

/* ---- running ----------------------------------------------------------------- */

/* What the driver keeps besides the result. */
typedef struct run_state {
    int64_t *labels, *targets, *attack_top1, *eval_top1, *adv_top1;
    int64_t *index;            /* per image of a chunk: its dataset row */
    double *eps, *step;
} run_state;

static void state_free(run_state *s)
{
    fc_free(s->labels);
    fc_free(s->targets);
    fc_free(s->attack_top1);
    fc_free(s->eval_top1);
    fc_free(s->adv_top1);
    fc_free(s->index);
    fc_free(s->eps);
    fc_free(s->step);
}

static fc_status state_alloc(run_state *s, int64_t n, int64_t batch, fc_err *err)
{
    size_t un = (size_t)n, ub = (size_t)(batch < n ? batch : n);
    s->labels = fc_calloc(un, sizeof *s->labels);
    s->targets = fc_calloc(un, sizeof *s->targets);
    s->attack_top1 = fc_calloc(un, sizeof *s->attack_top1);
    s->eval_top1 = fc_calloc(un, sizeof *s->eval_top1);
    s->adv_top1 = fc_calloc(un, sizeof *s->adv_top1);
    s->index = fc_calloc(ub, sizeof *s->index);
    s->eps = fc_calloc(ub, sizeof *s->eps);
    s->step = fc_calloc(ub, sizeof *s->step);
    if (!s->labels || !s->targets || !s->attack_top1 || !s->eval_top1 || !s->adv_top1 ||
        !s->index || !s->eps || !s->step)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory for %lld images", (long long)n);
    return FC_OK;
}

/* Clean images: the attack model's top-1 and least likely class, the eval
 * model's top-1, confidence and probability of the label. */
static fc_status measure_clean(fc_model *am, fc_model *em, const fc_dataset *d,
                               const fc_attack_config *c, run_state *s, fc_attack_result *r,
                               fc_err *err)
{
    fc_tensor za, ze = {0};
    fc_status st = fc_model_logits(am, &d->images, &za, err);
    if (st)
        return st;
    if (em && (st = fc_model_logits(em, &d->images, &ze, err))) {
        fc_tensor_release(&za);
        return st;
    }
    const fc_tensor *z = em ? &ze : &za;
    const int64_t k = za.dims[1];
    fc_logits_top1(&za, s->attack_top1, NULL);
    for (int64_t i = 0; i < d->n; i++) {
        const float *row = (const float *)za.data + i * k;
        int64_t least = 0;
        for (int64_t j = 1; j < k; j++)
            if (row[j] < row[least])
                least = j;
        s->labels[i] = d->labels ? d->labels[i] : s->attack_top1[i];
        s->targets[i] = c->target == FC_TARGET_LEAST_LIKELY ? least : c->target;
        fc_attack_record *rec = &r->records[i];
        rec->index = i;
        rec->file = d->files ? d->files[i] : NULL;
        rec->label = d->labels ? d->labels[i] : -1;
        rec->target = s->targets[i];
        rec->attacked = !fc_attack_goal(s->attack_top1[i], s->labels[i], s->targets[i]);
        rec->min_eps_fgsm = rec->min_eps_pgd = NAN;
    }
    fc_logits_top1(z, s->eval_top1, NULL);
    for (int64_t i = 0; i < d->n; i++) {
        fc_attack_record *rec = &r->records[i];
        rec->clean_top1 = s->eval_top1[i];
        rec->clean_conf = fc_logits_prob(z, i, s->eval_top1[i]);
        rec->clean_p_label = d->labels ? fc_logits_prob(z, i, d->labels[i]) : NAN;
    }
    fc_tensor_release(&za);
    fc_tensor_release(&ze);
    return FC_OK;
}

static fc_status attack_chunk(fc_model *am, fc_model *em, const fc_attack_config *c,
                              run_state *s, fc_attack_result *r, const fc_dataset *d,
                              int64_t from, int64_t n, fc_err *err)
{
    fc_tensor x = fc_attack_rows(&d->images, from, n), adv = fc_attack_rows(&r->adv, from, n);
    int64_t *index = s->index;
    for (int64_t i = 0; i < n; i++)
        index[i] = from + i;
    bool targeted = c->target != FC_TARGET_NONE;
    fc_chunk ch = {&x, index, s->labels + from, targeted ? s->targets + from : NULL,
                   s->attack_top1 + from, s->eval_top1 + from, r->records + from};
    switch (c->kind) {
    case FC_ATTACK_FGSM:
    case FC_ATTACK_PGD: {
        for (int64_t i = 0; i < n; i++) {
            s->eps[i] = c->eps;
            s->step[i] = c->step_size;
        }
        fc_grad_job job = {&x, index, targeted ? s->targets + from : s->labels + from,
                           targeted, s->eps, s->step, c->kind == FC_ATTACK_PGD ? c->steps : 0,
                           c->random_start, c->seed};
        return fc_attack_gradient(am, &job, &adv, err);
    }
    case FC_ATTACK_MINEPS: return fc_mineps_chunk(am, em ? em : am, c, &ch, &adv, err);
    case FC_ATTACK_BOUNDARY: return fc_boundary_chunk(am, c, &ch, &adv, err);
    }
    return fc_err_set(err, FC_ERR_INTERNAL, "unknown attack kind %d", (int)c->kind);
}

/* Judges the adversarials: the eval model fills the records, the attack
 * model decides success for the gradient attacks and the source robust
 * accuracy; then the perturbation norms. */
static fc_status judge(fc_model *am, fc_model *em, const fc_dataset *d, run_state *s,
                       fc_attack_result *r, fc_err *err)
{
    fc_tensor z;
    fc_status st = fc_model_logits(em ? em : am, &r->adv, &z, err);
    if (st)
        return st;
    fc_logits_top1(&z, s->adv_top1, NULL);
    for (int64_t i = 0; i < d->n; i++) {
        fc_attack_record *rec = &r->records[i];
        rec->adv_top1 = s->adv_top1[i];
        rec->adv_conf = fc_logits_prob(&z, i, s->adv_top1[i]);
        rec->adv_p_label = d->labels ? fc_logits_prob(&z, i, d->labels[i]) : NAN;
    }
    fc_tensor_release(&z);
    int64_t *src = s->adv_top1;
    if (em) {   /* the attack model's own view of the adversarials */
        src = s->eval_top1;   /* no longer needed: reuse */
        if ((st = fc_attack_top1(am, &r->adv, src, err)))
            return st;
    }
    int64_t robust = 0;
    for (int64_t i = 0; i < d->n; i++) {
        fc_attack_record *rec = &r->records[i];
        if (r->config.kind == FC_ATTACK_FGSM || r->config.kind == FC_ATTACK_PGD)
            rec->success = fc_attack_goal(src[i], s->labels[i], s->targets[i]);
        robust += d->labels && src[i] == d->labels[i];
    }
    r->source_robust_accuracy = d->labels ? (double)robust / (double)d->n : NAN;
    const size_t per = d->images.numel / (size_t)d->n;
    const float *x0 = d->images.data, *x1 = r->adv.data;
    for (int64_t i = 0; i < d->n; i++) {
        double l2 = 0.0, linf = 0.0;
        for (size_t j = (size_t)i * per; j < (size_t)(i + 1) * per; j++) {
            double v = fabs((double)x1[j] - (double)x0[j]);
            l2 += v * v;
            linf = v > linf ? v : linf;
        }
        r->records[i].l2 = sqrt(l2);
        r->records[i].linf = linf;
    }
    return FC_OK;
}

fc_status fc_attack_run(fc_model *attack_model, fc_model *eval_model, const fc_dataset *data,
                        const fc_attack_config *config, fc_attack_result *out, fc_err *err)
{
    memset(out, 0, sizeof *out);
    fc_attack_config c = *config;
    if (c.kind == FC_ATTACK_PGD && c.step_size == 0.0 && c.steps > 0)
        c.step_size = 2.5 * c.eps / c.steps;
    fc_model *em = eval_model == attack_model ? NULL : eval_model;
    fc_status st = check_config(&c, fc_model_classes(attack_model), err);
    if (!st)
        st = check_inputs(attack_model, em, data, err);
    if (st)
        return st;
    fc_model_set_batch(attack_model, c.batch);
    if (em)
        fc_model_set_batch(em, c.batch);

    fc_attack_result r;
    memset(&r, 0, sizeof r);
    r.config = c;
    r.n = data->n;
    r.has_labels = data->labels != NULL;
    run_state s;
    memset(&s, 0, sizeof s);
    r.records = fc_calloc((size_t)data->n, sizeof *r.records);
    if (!r.records)
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory for %lld records", (long long)data->n);
    if (!st)
        st = state_alloc(&s, data->n, c.batch, err);
    if (!st)
        st = fc_tensor_copy(&r.adv, &data->images, err);
    if (!st)
        st = measure_clean(attack_model, em, data, &c, &s, &r, err);
    for (int64_t from = 0; !st && from < data->n; from += c.batch) {
        int64_t n = data->n - from < c.batch ? data->n - from : c.batch;
        st = attack_chunk(attack_model, em, &c, &s, &r, data, from, n, err);
    }
    if (!st)
        st = judge(attack_model, em, data, &s, &r, err);
    if (!st)
        st = fc_attack_summarize(&r, err);
    state_free(&s);
    if (st) {
        fc_attack_result_free(&r);
        return st;
    }
    *out = r;
    return FC_OK;
}

void fc_attack_result_free(fc_attack_result *r)
{
    if (!r)
        return;
    fc_free(r->records);
    fc_tensor_release(&r->adv);
    memset(r, 0, sizeof *r);
}
