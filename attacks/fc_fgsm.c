/* FGSM and PGD in pixel space (Goodfellow et al. 2015; Madry et al. 2018).
 *
 * FGSM: x' = clip(x + eps * sign(grad), 0, 1) for an untargeted attack (the
 * gradient of the cross-entropy on the label, ascended), x - eps * sign(grad)
 * for a targeted one (the cross-entropy on the target, descended).  PGD
 * repeats the step with step size a, projecting after each step onto the
 * eps ball around x and onto [0, 1], from x or from a uniform random point
 * of the ball.  sign(0) = 0, as torch.sign: pixels the loss does not see
 * are left alone, which is what makes the FGSM table match the peers'. */
#include <math.h>
#include <string.h>

#include "attacks/fc_gen.h"
#include "fc_attack_internal.h"

static inline float clamp01(float v)
{
    return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
}

/* A uniform point of the eps ball around each image, inside [0, 1]. */
static void random_start(const fc_grad_job *job, size_t per, float *adv)
{
    const float *x = job->x->data;
    const int64_t n = job->x->dims[0];
    for (int64_t i = 0; i < n; i++) {
        uint64_t rng = fc_attack_stream(job->seed, job->index[i], FC_STREAM_PGD_START);
        const float e = (float)job->eps[i];
        for (size_t j = (size_t)i * per; j < (size_t)(i + 1) * per; j++) {
            float u = (float)(2.0 * fc_rng_uniform(&rng) - 1.0);
            adv[j] = clamp01(x[j] + e * u);
        }
    }
}

/* adv += a * dir * sign(g), then the projections.  The FGSM step is
 * written x + eps * sign(g) in float, the peers' exact arithmetic. */
static void signed_step(const fc_grad_job *job, size_t per, const float *g, float *adv)
{
    const float *x = job->x->data;
    const int64_t n = job->x->dims[0];
    const bool pgd = job->steps > 0;
    for (int64_t i = 0; i < n; i++) {
        const float a = (float)(pgd ? job->step[i] : job->eps[i]);
        const float up = job->targeted ? -a : a;   /* targeted attacks descend */
        const float e = (float)job->eps[i];
        for (size_t j = (size_t)i * per; j < (size_t)(i + 1) * per; j++) {
            float s = g[j] > 0.0f ? up : g[j] < 0.0f ? -up : 0.0f;   /* NaN: no step */
            float v = adv[j] + s;
            if (pgd) {
                float lo = x[j] - e, hi = x[j] + e;
                v = v < lo ? lo : v > hi ? hi : v;
            }
            adv[j] = clamp01(v);
        }
    }
}

fc_status fc_attack_gradient(fc_model *m, const fc_grad_job *job, fc_tensor *adv, fc_err *err)
{
    const fc_tensor *x = job->x;
    const int64_t n = x->dims[0];
    if (n == 0)
        return FC_OK;
    if (adv->dtype != FC_DT_F32 || !fc_tensor_same_shape(adv, x))
        return fc_err_set(err, FC_ERR_INTERNAL, "attack output does not match its images");
    const size_t per = x->numel / (size_t)n;
    float *a = adv->data;
    if (job->steps > 0 && job->random_start)
        random_start(job, per, a);
    else
        memcpy(a, x->data, x->numel * sizeof(float));
    fc_loss loss = {job->targeted ? FC_LOSS_CE_TARGETED : FC_LOSS_CE, job->classes};
    const int iters = job->steps > 0 ? job->steps : 1;
    for (int k = 0; k < iters; k++) {
        fc_tensor g;
        fc_status st = fc_model_grad(m, adv, &loss, &g, NULL, NULL, err);
        if (st)
            return st;
        signed_step(job, per, g.data, a);
        fc_tensor_release(&g);
    }
    return FC_OK;
}
