/* Adversarial attacks in pixel space, and what they do to a model.
 *
 * Every attack works on pixels in [0, 1] (fc_dataset.h) and clips to that
 * box; eps is in pixel units (8/255 is eight grey levels).  The model the
 * attack sees is `attack_model`; the model that judges the result is
 * `eval_model` (the same one when NULL), which is how an fp32 gradient
 * attack is measured on an int8 model (a transfer attack).
 *
 *   FC_ATTACK_FGSM      one signed-gradient step: untargeted ascends
 *                       FC_LOSS_CE on the true labels, targeted descends
 *                       FC_LOSS_CE_TARGETED toward the target.
 *   FC_ATTACK_PGD       `steps` signed steps of `step_size`, each projected
 *                       to the eps ball around the image and to [0, 1],
 *                       optionally from a uniform random start in the ball.
 *   FC_ATTACK_MINEPS    per image, the smallest eps in [0, eps] (bisection)
 *                       at which FGSM and/or PGD (10 steps of 2.5*eps/steps
 *                       with random start, unless set otherwise) flips the
 *                       eval model's prediction away from the label.
 *   FC_ATTACK_BOUNDARY  decision-based (Brendel, Rauber, Bethge 2018): only
 *                       the attack model's top-1, within a per-image query
 *                       budget; reports the L2 and Linf distance reached.
 *
 * Determinism: every random draw comes from a stream derived from (seed,
 * image index), so results do not depend on the batch size or on which
 * other images run alongside (given an engine whose per-image results do
 * not depend on the batch either).
 *
 * Definitions (all on the eval model): clean accuracy = clean top-1 equals
 * the label; robust accuracy = adversarial top-1 equals the label; flip rate
 * = adversarial top-1 differs from the clean top-1; confidence drop =
 * p_label(clean) - p_label(adversarial), p the softmax probability.  Without
 * labels the attacks use the attack model's clean top-1 as the label and
 * the accuracies (and the confidence drop) are NaN. */
#ifndef FC_ATTACK_H
#define FC_ATTACK_H

#include <stdbool.h>
#include <stdint.h>

#include "attacks/fc_metrics.h"
#include "attacks/fc_model.h"
#include "core/fc_status.h"
#include "core/fc_tensor.h"
#include "io/fc_dataset.h"

typedef enum fc_attack_kind {
    FC_ATTACK_FGSM = 0,
    FC_ATTACK_PGD = 1,
    FC_ATTACK_MINEPS = 2,
    FC_ATTACK_BOUNDARY = 3,
} fc_attack_kind;

/* "fgsm", "pgd", "mineps", "boundary"; fc_attack_kind_parse returns -1 for
 * an unknown name. */
const char *fc_attack_kind_name(fc_attack_kind k);
int fc_attack_kind_parse(const char *name);

/* config.target: no target, or the class the clean logits of the attack
 * model rank last ("least likely"), or a class index >= 0. */
#define FC_TARGET_NONE (-1)
#define FC_TARGET_LEAST_LIKELY (-2)

/* config.mineps_of: which attacks the minimal-eps search runs. */
enum { FC_MINEPS_FGSM = 1, FC_MINEPS_PGD = 2 };

typedef struct fc_attack_config {
    fc_attack_kind kind;
    double eps;            /* fgsm, pgd: the Linf radius; mineps: the largest eps tried */
    int steps;             /* pgd and mineps' PGD: iterations (default 10) */
    double step_size;      /* pgd: per step, 0 = 2.5 * eps / steps; mineps' PGD
                              always takes 2.5 * eps_tried / steps */
    bool random_start;     /* pgd and mineps' PGD (default true) */
    int64_t target;        /* fgsm, pgd, mineps: FC_TARGET_* or a class */
    int search_steps;      /* mineps: bisection steps after eps itself (default 10) */
    unsigned mineps_of;    /* mineps: FC_MINEPS_FGSM | FC_MINEPS_PGD (default both) */
    int64_t queries;       /* boundary: budget per image, the clean query included
                              (default 5000) */
    uint64_t seed;
    int64_t batch;         /* images attacked together (default 64) */
} fc_attack_config;

/* The defaults for `kind`: eps 8/255 (mineps: 0.3), 10 steps, random
 * start, no target, 10 bisection steps, both searches, 5000 queries, seed
 * 0, batch 64. */
void fc_attack_config_default(fc_attack_config *c, fc_attack_kind kind);

/* One image.  Top-1, confidences and probabilities are the eval model's. */
typedef struct fc_attack_record {
    int64_t index;         /* row in the dataset */
    const char *file;      /* borrowed from the dataset */
    int64_t label;         /* the true label, -1 without labels */
    int64_t target;        /* targeted attacks: the class aimed at, else -1 */
    int64_t clean_top1, adv_top1;
    float clean_conf, adv_conf;       /* softmax probability of the top-1 */
    float clean_p_label, adv_p_label; /* of the label (NaN without labels) */
    double l2, linf;       /* of adversarial - clean, pixel units */
    bool attacked;         /* false when the attack model's clean top-1 already
                              met the goal (nothing to attack) */
    bool success;          /* the attack reached its goal (misclassified, or the
                              target hit) on the attack model; for mineps on
                              the eval model, which judges its search */
    int64_t queries;       /* boundary: model queries spent, else 0 */
    double min_eps_fgsm;   /* mineps: smallest eps found (0 when misclassified
                              clean), -1 when not found up to eps, NaN when not run */
    double min_eps_pgd;
} fc_attack_record;

typedef struct fc_attack_result {
    fc_attack_config config;    /* as run, defaults filled in */
    int64_t n;
    bool has_labels;
    fc_attack_record *records;  /* n, owned */
    fc_tensor adv;              /* [N, C, H, W] adversarial images, owned */

    double clean_accuracy, robust_accuracy, flip_rate;
    fc_stats confidence_drop;   /* over images with a label */
    double attack_success_rate; /* records[].success over all images */

    /* Transfer: robust accuracy on the attack model itself (equal to
     * robust_accuracy when there is no separate eval model). */
    double source_robust_accuracy;

    /* mineps */
    double tolerance;           /* eps / 2^search_steps: the bisection's resolution */
    int64_t clean_wrong;        /* misclassified clean (min eps 0) */
    int64_t found_fgsm, found_pgd;        /* images with a min eps (clean_wrong included) */
    fc_stats min_eps_fgsm, min_eps_pgd;   /* over the images found */
    double pgd_le_fgsm;         /* fraction of images found by both with pgd <= fgsm + tolerance */

    /* boundary: over the images the attack model classified correctly */
    int64_t attacked;
    double boundary_success_rate;
    fc_stats l2, linf, queries; /* over the successes */
} fc_attack_result;

/* Runs config->kind on every image of data.  eval_model may be NULL (the
 * attack model judges).  Both models must take data's image size and have
 * the same number of classes; labels must lie in 0..K-1.  *out is filled
 * on success (release with fc_attack_result_free) and left empty on
 * failure. */
fc_status fc_attack_run(fc_model *attack_model, fc_model *eval_model, const fc_dataset *data,
                        const fc_attack_config *config, fc_attack_result *out, fc_err *err);
void fc_attack_result_free(fc_attack_result *r);

#endif
