/* Boundary-value, noise and quantization-edge tensors. */
#include "fc_gen.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fc_alloc.h"

uint64_t fc_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double fc_rng_uniform(uint64_t *state)
{
    return (double)(fc_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

double fc_rng_normal(uint64_t *state)
{
    double u1 = fc_rng_uniform(state), u2 = fc_rng_uniform(state);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

typedef struct builder {
    fc_gen_set *set;
    fc_gen_kind kind;
    int c;
    int64_t h, w;
    fc_err *err;
} builder;

/* Adds a case filled with `fill` and returns its data (NULL on failure). */
static float *add(builder *b, const char *name, const char *what, float fill)
{
    fc_gen_case *cs = fc_realloc(b->set->cases, (size_t)(b->set->n + 1) * sizeof *cs);
    if (!cs) {
        fc_err_set(b->err, FC_ERR_NOMEM, "out of memory generating cases");
        return NULL;
    }
    b->set->cases = cs;
    fc_gen_case *k = &cs[b->set->n];
    memset(k, 0, sizeof *k);
    int64_t dims[4] = {1, b->c, b->h, b->w};
    if (fc_tensor_alloc(&k->x, FC_DT_F32, 4, dims, b->err))
        return NULL;
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->what, sizeof k->what, "%s", what);
    k->kind = b->kind;
    b->set->n++;
    float *d = k->x.data;
    for (size_t i = 0; i < k->x.numel; i++)
        d[i] = fill;
    return d;
}

static size_t center(const builder *b)
{
    return (size_t)(b->h / 2 * b->w + b->w / 2);
}

static fc_status boundary(builder *b)
{
    static const struct { const char *name, *what; float v; } flat[] = {
        {"zeros", "every pixel 0", 0.0f},
        {"ones", "every pixel 1", 1.0f},
        {"half", "every pixel 0.5", 0.5f},
        {"minus_one", "every pixel -1 (below the pixel range)", -1.0f},
        {"two", "every pixel 2 (above the pixel range)", 2.0f},
        {"plus_1e6", "every pixel 1e6", 1e6f},
        {"minus_1e6", "every pixel -1e6", -1e6f},
        {"plus_flt_max", "every pixel FLT_MAX", FLT_MAX},
        {"minus_flt_max", "every pixel -FLT_MAX", -FLT_MAX},
        {"nan_all", "every pixel NaN", NAN},
        {"plus_inf_all", "every pixel +Inf", INFINITY},
        {"minus_inf_all", "every pixel -Inf", -INFINITY},
        {"denormal_min", "every pixel the smallest denormal (FLT_TRUE_MIN)", FLT_TRUE_MIN},
        {"denormal_large", "every pixel FLT_MIN / 2 (a denormal)", FLT_MIN / 2},
        {"minus_zero", "every pixel -0.0", -0.0f},
    };
    size_t plane = (size_t)(b->h * b->w), n = plane * (size_t)b->c;
    for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++)
        if (!add(b, flat[i].name, flat[i].what, flat[i].v))
            return b->err->status;
    float *d = add(b, "checkerboard", "alternating 0 and 1 pixels", 0.0f);
    if (!d)
        return b->err->status;
    for (size_t i = 0; i < n; i++) {
        size_t p = i % plane;
        d[i] = (float)(((size_t)(p / (size_t)b->w) + p % (size_t)b->w) % 2);
    }
    static const struct { const char *name, *what; float v, rest; } one[] = {
        {"hot_pixel", "one pixel 1 in the centre, the rest 0", 1.0f, 0.0f},
        {"dead_pixel", "one pixel 0 in the centre, the rest 1", 0.0f, 1.0f},
        {"nan_one_pixel", "one NaN pixel in the centre of a 0.5 image", NAN, 0.5f},
        {"inf_one_pixel", "one +Inf pixel in the centre of a 0.5 image", INFINITY, 0.5f},
        {"huge_one_pixel", "one 1e30 pixel in the centre of a 0.5 image", 1e30f, 0.5f},
    };
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        if (!(d = add(b, one[i].name, one[i].what, one[i].rest)))
            return b->err->status;
        for (int c = 0; c < b->c; c++)
            d[(size_t)c * plane + center(b)] = one[i].v;
    }
    if (b->c > 1)
        for (int k = 0; k < b->c; k++)
            for (int hi = 0; hi <= 1; hi++) {
                char name[64], what[160];
                snprintf(name, sizeof name, "channel%d_%s", k, hi ? "max" : "min");
                snprintf(what, sizeof what, "channel %d at %d, the others at %d", k, hi, !hi);
                if (!(d = add(b, name, what, hi ? 0.0f : 1.0f)))
                    return b->err->status;
                for (size_t p = 0; p < plane; p++)
                    d[(size_t)k * plane + p] = (float)hi;
            }
    return FC_OK;
}

static fc_status noise(builder *b, uint64_t seed)
{
    size_t n = (size_t)(b->h * b->w) * (size_t)b->c;
    uint64_t rng = seed;
    float *d = add(b, "uniform_noise", "uniform noise in [0,1)", 0.0f);
    if (!d)
        return b->err->status;
    for (size_t i = 0; i < n; i++)
        d[i] = (float)fc_rng_uniform(&rng);
    if (!(d = add(b, "gaussian_noise", "Gaussian noise, mean 0.5, sd 0.25, clipped to [0,1]",
                  0.0f)))
        return b->err->status;
    for (size_t i = 0; i < n; i++) {
        double v = 0.5 + 0.25 * fc_rng_normal(&rng);
        d[i] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
    }
    if (!(d = add(b, "gaussian_noise_unclipped", "Gaussian noise, mean 0.5, sd 1, not clipped",
                  0.0f)))
        return b->err->status;
    for (size_t i = 0; i < n; i++)
        d[i] = (float)(0.5 + fc_rng_normal(&rng));
    if (!(d = add(b, "salt_and_pepper", "a 0.5 image with 10% of pixels set to 0 or 1", 0.5f)))
        return b->err->status;
    for (size_t i = 0; i < n; i++) {
        double u = fc_rng_uniform(&rng);
        if (u < 0.05)
            d[i] = 0.0f;
        else if (u < 0.10)
            d[i] = 1.0f;
    }
    for (int level = 0; level <= 16; level++) {
        char name[64], what[160];
        snprintf(name, sizeof name, "gray_%02d_of_16", level);
        snprintf(what, sizeof what, "constant image at %d/16", level);
        if (!add(b, name, what, (float)level / 16.0f))
            return b->err->status;
    }
    return FC_OK;
}

static fc_status quant_edges(builder *b, const fc_gen_quant *q)
{
    if (!q || !(q->scale > 0.0f) || !isfinite(q->scale) || q->qmin >= q->qmax ||
        q->zero_point < q->qmin || q->zero_point > q->qmax)
        return fc_err_set(b->err, FC_ERR_INVALID_ARG, "quantization edges need a positive scale "
                          "and qmin <= zero point <= qmax");
    const double s = q->scale;
    const struct { const char *name, *what; double v; } cases[] = {
        {"q_zero_point", "exactly the zero point (x = 0)", 0.0},
        {"q_qmin", "the value that quantizes to qmin", (q->qmin - q->zero_point) * s},
        {"q_qmax", "the value that quantizes to qmax", (q->qmax - q->zero_point) * s},
        {"q_below_qmin", "one step below qmin (saturates)", (q->qmin - q->zero_point - 1) * s},
        {"q_above_qmax", "one step above qmax (saturates)", (q->qmax - q->zero_point + 1) * s},
        {"q_half_step", "half a step above the zero point (a rounding tie)", 0.5 * s},
        {"q_minus_half_step", "half a step below the zero point (a rounding tie)", -0.5 * s},
        {"q_one_and_half_step", "1.5 steps (ties to even go up)", 1.5 * s},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!add(b, cases[i].name, cases[i].what, (float)cases[i].v))
            return b->err->status;
    return FC_OK;
}

fc_status fc_gen_tensors(fc_gen_kind kind, int c, int64_t h, int64_t w, uint64_t seed,
                         const fc_gen_quant *q, fc_gen_set *set, fc_err *err)
{
    if (c < 1 || h < 1 || w < 1)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "generators need a [1,C,H,W] input with "
                          "positive sizes");
    builder b = {set, kind, c, h, w, err};
    switch (kind) {
    case FC_GEN_BOUNDARY: return boundary(&b);
    case FC_GEN_NOISE: return noise(&b, seed);
    case FC_GEN_QUANT: return quant_edges(&b, q);
    }
    return fc_err_set(err, FC_ERR_INVALID_ARG, "unknown generator kind %d", (int)kind);
}

void fc_gen_set_free(fc_gen_set *set)
{
    if (!set)
        return;
    for (int i = 0; i < set->n; i++)
        fc_tensor_release(&set->cases[i].x);
    fc_free(set->cases);
    set->cases = NULL;
    set->n = 0;
}
