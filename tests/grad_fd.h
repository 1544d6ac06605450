/* The finite-difference harness of the f32 gradient tests
 * (test_grad_f32.c, test_grad_f32_ops.c).  Header-only, like
 * plan_builder.h, on whose graph `g` it builds: a test declares the input
 * "x" (graph_input), adds its node(s), calls head() on the node's output
 * (Flatten + Gemm to logits [N, CLASSES]) and check_fd(): fc_engine_grad's
 * input gradient of the summed cross-entropy must match central
 * differences of the f32 forward pass, L(x + h e_i) - L(x - h e_i) over
 * 2h, with the loss summed in double. */
#ifndef FC_TEST_GRAD_FD_H
#define FC_TEST_GRAD_FD_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/f32/f32_internal.h"
#include "engines/fc_engine.h"
#include "plan_builder.h"

#define CLASSES 3
#define MAX_CHECKED 240   /* elements compared with finite differences per case */

static fc_tensor xt;      /* the graph input's data */
static const char *tag = "";   /* printed before each case's name */
static uint64_t rng = 1;

static inline void reset(void)
{
    fc_f32_set_portable(false);
    tag = "";
    teardown();
    fc_tensor_release(&xt);
}

static inline double urand(void)   /* xorshift64*, uniform in [0, 1) */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static inline float uni(double lo, double hi) { return (float)(lo + (hi - lo) * urand()); }

/* A value in +-[lo, hi] with a random sign: away from 0 by lo. */
static inline float away(double lo, double hi)
{
    return urand() < 0.5 ? -uni(lo, hi) : uni(lo, hi);
}

static inline void fill(fc_tensor *t, double lo, double hi)
{
    for (size_t i = 0; i < t->numel; i++)
        ((float *)t->data)[i] = uni(lo, hi);
}

static inline fc_tensor *weights(const char *name, const char *shape, double lo, double hi)
{
    fc_tensor *t = init(name, FC_DT_F32, shape);
    fill(t, lo, hi);
    return t;
}

/* Declares input "x" of the given (concrete) shape, values in [lo, hi]. */
static inline float *graph_input(int64_t opset, const char *shape, double lo, double hi)
{
    new_graph(opset);
    input("x", FC_DT_F32, shape);
    int64_t dims[FC_MAX_RANK];
    int r = parse_dims(shape, dims);
    ck_assert_int_eq(fc_tensor_alloc(&xt, FC_DT_F32, r, dims, &err), FC_OK);
    fill(&xt, lo, hi);
    return xt.data;
}

/* Values i * step (i < n) in random order: distinct by step, so no window
 * of a max pool has a tie that a perturbation of h < step / 2 could flip
 * (and no order a finite difference could swap). */
static inline void distinct(float *v, size_t n, float step)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)i * step - (float)n * step / 2;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(urand() * (double)i);
        float t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* Flatten(y) -> Gemm -> logits "z" [N, CLASSES]. */
static inline void head(const char *y)
{
    plan_ok(1);
    const fc_vinfo *vi = info(y);
    int64_t f = 1;
    for (int i = 1; i < vi->rank; i++)
        f *= vi->dims[i];
    char shape[64];
    snprintf(shape, sizeof shape, "%d,%lld", CLASSES, (long long)f);
    fc_node *n = node("Flatten", y, "hf");
    attr_i(n, "axis", 1);
    /* Weights ~ 1/sqrt(f) keep the logits O(1): no saturated softmax. */
    const double sc = 1.0 / sqrt((double)f);
    weights("hw", shape, -sc, sc);
    weights("hb", "3", -0.5, 0.5);
    n = node("Gemm", "hf,hw,hb", "z");
    attr_i(n, "transB", 1);
    output("z");
}

static inline double loss_of(fc_engine *e, const int64_t *labels)
{
    fc_tensor z;
    fc_err e2;
    ck_assert_msg(fc_engine_run(e, &xt, 1, &z, 1, &e2) == FC_OK, "%s", e2.msg);
    fc_loss loss = {FC_LOSS_CE, labels};
    double s = 0.0;
    for (int64_t i = 0; i < z.dims[0]; i++)
        s += fc_loss_eval(&loss, labels[i], (const float *)z.data + i * z.dims[1], z.dims[1],
                          NULL);
    fc_tensor_release(&z);
    return s;
}

/* The f32 gradient of the graph against central differences with step h:
 * max |grad - fd| <= tol * max |fd| over up to MAX_CHECKED elements. */
static inline void check_fd(const char *what, double h, double tol)
{
    fc_engine *e = NULL;
    ck_assert_msg(fc_engine_create(g, "f32", &e, &err) == FC_OK, "%s", err.msg);
    int64_t labels[64];
    const int64_t n = xt.dims[0];
    ck_assert_int_le(n, 64);
    for (int64_t i = 0; i < n; i++)
        labels[i] = (int64_t)(urand() * CLASSES);
    fc_loss loss = {FC_LOSS_CE, labels};
    fc_tensor grad;
    double l0;
    ck_assert_msg(fc_engine_grad(e, &xt, &loss, &grad, NULL, &l0, &err) == FC_OK, "%s: %s",
                  what, err.msg);
    ck_assert_uint_eq(grad.numel, xt.numel);
    const double l1 = loss_of(e, labels);   /* the loss the gradient run reported */
    ck_assert_msg(fabs(l0 - l1) <= 1e-6 * fabs(l1) + 1e-9, "%s: loss %.9g, forward %.9g", what,
                  l0, l1);
    float *x = xt.data;
    const float *gd = grad.data;
    double worst = 0.0, fd_max = 0.0, d2 = 0.0, f2 = 0.0;
    double worst_fd = 0.0;
    size_t worst_i = 0, count = xt.numel < MAX_CHECKED ? xt.numel : MAX_CHECKED;
    double *fds = calloc(count, sizeof *fds);
    size_t *at = calloc(count, sizeof *at);
    ck_assert(fds && at);
    for (size_t k = 0; k < count; k++) {
        const size_t i = count == xt.numel ? k : (size_t)(urand() * (double)xt.numel);
        const float v = x[i];
        x[i] = v + (float)h;
        const double step_up = (double)x[i] - v, lp = loss_of(e, labels);
        x[i] = v - (float)h;
        const double step_dn = v - (double)x[i], lm = loss_of(e, labels);
        x[i] = v;
        at[k] = i;
        fds[k] = (lp - lm) / (step_up + step_dn);
        fd_max = fabs(fds[k]) > fd_max ? fabs(fds[k]) : fd_max;
    }
    for (size_t k = 0; k < count; k++) {
        const double d = fabs((double)gd[at[k]] - fds[k]);
        d2 += d * d;
        f2 += fds[k] * fds[k];
        if (!(d <= worst)) {
            worst = d;
            worst_i = at[k];
            worst_fd = fds[k];
        }
    }
    const double rel = fd_max > 0 ? worst / fd_max : worst;
    printf("fd: %s%-44s %4zu elements, max|fd| %.3g, max err %.2e (rel %.2e), rel L2 %.2e\n",
           tag, what, count, fd_max, worst, rel, f2 > 0 ? sqrt(d2 / f2) : sqrt(d2));
    ck_assert_msg(fd_max > 1e-4, "%s: the gradient is (almost) zero, the case tests nothing",
                  what);
    ck_assert_msg(rel <= tol, "%s: element %zu: grad %.7g, finite difference %.7g (rel %.3g)",
                  what, worst_i, (double)gd[worst_i], worst_fd, rel);
    free(fds);
    free(at);
    fc_tensor_release(&grad);
    fc_engine_free(e);
}

#define FD_H 1e-2
#define FD_TOL 1e-3

#endif
