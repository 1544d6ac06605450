/* Shared by the attack implementations (fc_attack.c drives, fc_fgsm.c,
 * fc_mineps.c and fc_boundary.c attack one chunk of images each,
 * fc_metrics.c summarizes); not part of the public API. */
#ifndef FC_ATTACK_INTERNAL_H
#define FC_ATTACK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "attacks/fc_attack.h"

/* Salts that keep the random streams of different uses of one image apart. */
#define FC_STREAM_PGD_START 0x5067645374617274ull   /* "PgdStart" */
#define FC_STREAM_BOUNDARY 0x426f756e64617279ull    /* "Boundary" */

/* The random stream (an fc_rng_* state) of image `index` for one use: a pure
 * function of (seed, index, salt), so nothing depends on batching. */
uint64_t fc_attack_stream(uint64_t seed, int64_t index, uint64_t salt);

/* Rows [from, from + n) of a [N, ...] tensor, as a borrowed view. */
fc_tensor fc_attack_rows(const fc_tensor *t, int64_t from, int64_t n);

/* Top-1 class of model m for every image of x ([n, C, H, W]). */
fc_status fc_attack_top1(fc_model *m, const fc_tensor *x, int64_t *top1, fc_err *err);

/* Whether an image reached the attack's goal: away from the label, or onto
 * the target when targeted. */
static inline bool fc_attack_goal(int64_t top1, int64_t label, int64_t target)
{
    return target >= 0 ? top1 == target : top1 != label;
}

/* One batch of images under a gradient attack (fc_fgsm.c). */
typedef struct fc_grad_job {
    const fc_tensor *x;        /* [n, C, H, W] clean pixels */
    const int64_t *index;      /* n dataset rows: the random streams */
    const int64_t *classes;    /* n: labels (untargeted) or targets (targeted) */
    bool targeted;
    const double *eps;         /* n: Linf radius of each image */
    const double *step;        /* n: PGD step of each image (not read by FGSM) */
    int steps;                 /* 0 = FGSM, else PGD iterations */
    bool random_start;         /* PGD only */
    uint64_t seed;
} fc_grad_job;

/* FGSM or PGD on job's images on model m; adv (float [n, C, H, W],
 * allocated by the caller) receives the adversarial images. */
fc_status fc_attack_gradient(fc_model *m, const fc_grad_job *job, fc_tensor *adv, fc_err *err);

/* The images of one chunk and what is known about them before attacking. */
typedef struct fc_chunk {
    const fc_tensor *x;        /* [n, C, H, W] clean pixels */
    const int64_t *index;      /* n dataset rows */
    const int64_t *labels;     /* n reference labels (true, or the attack model's top-1) */
    const int64_t *targets;    /* n targets, or NULL when untargeted */
    const int64_t *attack_top1;/* n: the attack model's clean top-1 */
    const int64_t *eval_top1;  /* n: the eval model's clean top-1 */
    fc_attack_record *rec;     /* n records to fill */
} fc_chunk;

/* Minimal eps (fc_mineps.c): fills rec[].min_eps_*, rec[].success and adv
 * (the adversarial at the smallest eps found, else the last try at eps). */
fc_status fc_mineps_chunk(fc_model *attack, fc_model *eval, const fc_attack_config *cfg,
                          const fc_chunk *c, fc_tensor *adv, fc_err *err);

/* Boundary attack (fc_boundary.c) on the attack model's top-1: fills
 * rec[].queries, rec[].success and adv. */
fc_status fc_boundary_chunk(fc_model *m, const fc_attack_config *cfg, const fc_chunk *c,
                            fc_tensor *adv, fc_err *err);

/* Fills r's summary fields from r->records (fc_metrics.c); the source
 * robust accuracy is the driver's. */
fc_status fc_attack_summarize(fc_attack_result *r, fc_err *err);

#endif
