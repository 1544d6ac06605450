/* Private to suites/: the per-model context the forked tests read, the case
 * table, and how a test records its numbers and threshold checks.
 *
 * A test body never asserts itself: it fills an fc_case_out (metrics,
 * checks against thresholds, errors); the Check test wrapper (suite_run.c)
 * writes that to the case's result file first and asserts afterwards, so
 * whatever a test measured survives its failure. */
#ifndef SUITE_INTERNAL_H
#define SUITE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "attacks/fc_attack.h"
#include "attacks/fc_model.h"
#include "io/fc_config.h"
#include "io/fc_dataset.h"
#include "onnx/fc_ir.h"

#define SUITE_PATH_MAX 1024

/* Built by the parent before Check forks; the tests only read it. */
typedef struct suite_ctx {
    const fc_model_config *mc;
    char out_dir[SUITE_PATH_MAX];     /* the run's output folder */
    char stem[96];                    /* the model's file-system-safe name */
    int channels;                     /* the fp32 model's input [N, C, H, W] */
    int64_t height, width;
    char case_dir[SUITE_PATH_MAX];    /* OUT/cases/<model> */
    char int8_path[SUITE_PATH_MAX];   /* the twin file (the config's, or calibrated into OUT/int8) */
    bool int8_calibrated;             /* the twin is made by integrity/int8_twin */
    fc_dataset test;                  /* the test images (empty when they failed to load) */
    fc_dataset calib;                 /* the calibration images (may be empty) */
    char data_error[FC_ERR_MSG_MAX];  /* why test data is missing, "" if loaded */
    char calib_error[FC_ERR_MSG_MAX];
} suite_ctx;

/* What one test produced. */
typedef struct fc_case_out {
    cJSON *metrics;                   /* object: name -> number / string / array */
    cJSON *checks;                    /* array of {threshold, limit, value, op, pass} */
    char failure[FC_ERR_MSG_MAX];     /* first failure message ("" = none) */
    char summary[160];                /* key figures for the one-line report */
} fc_case_out;

struct suite_case;
typedef void (*suite_case_fn)(const suite_ctx *ctx, const struct suite_case *c,
                              fc_case_out *out);

typedef struct suite_case {
    int suite;                /* index into fc_suite_name() */
    char name[64];            /* Check test name, unique within the model */
    char engine[16];          /* "" when not engine-specific */
    suite_case_fn fn;
    double eps;               /* adversarial */
    int attack;               /* adversarial: fc_attack_kind */
    int mode;                 /* case-specific (adversarial: direct / transfer / int8) */
    int index;                /* case-specific (boundary: which generated tensor) */
} suite_case;

typedef struct suite_cases {
    suite_case *v;
    int n, cap;
} suite_cases;

/* Appends a case; returns it (NULL on allocation failure). */
suite_case *suite_cases_add(suite_cases *cs, int suite, const char *name, const char *engine,
                            suite_case_fn fn);
void suite_cases_free(suite_cases *cs);

/* The cases of each suite for one model (suite_*.c). */
fc_status suite_integrity_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err);
fc_status suite_accuracy_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err);
fc_status suite_agreement_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err);
fc_status suite_layer_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err);
fc_status suite_adversarial_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err);
fc_status suite_boundary_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err);
fc_status suite_garbage_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err);
fc_status suite_performance_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err);
fc_status suite_privacy_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err);
fc_status suite_consistency_cases(const suite_ctx *ctx, suite_cases *cs, fc_err *err);

/* ---- recording (suite_case.c) ---- */
void case_metric(fc_case_out *o, const char *key, double v);        /* NaN -> null */
void case_metric_str(fc_case_out *o, const char *key, const char *s);
/* Records `value <= limit` (check_max) or `value >= limit` (check_min)
 * under the threshold's config name; an unset limit (NaN) records nothing
 * and passes.  A failing check sets the failure message (first one wins):
 * "<model>: <threshold> = <limit> not met: <what> <value>". */
bool case_check_max(fc_case_out *o, const suite_ctx *ctx, const char *threshold, double limit,
                    double value, const char *what);
bool case_check_min(fc_case_out *o, const suite_ctx *ctx, const char *threshold, double limit,
                    double value, const char *what);
/* A failure that is not a threshold (a load error, a wrong invariant). */
void case_fail(fc_case_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void case_summary(fc_case_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- report material (suite_examples.c) ---- */
/* Saves the most-flipped images of r (with saliency from `attacked`) and
 * lists them in metrics "examples"; failures only leave the list short. */
void suite_save_examples(const suite_ctx *ctx, const suite_case *c, fc_model *attacked,
                         const fc_attack_result *r, const fc_dataset *data, fc_case_out *o);

/* ---- pins (suite_pins.c) ---- */
/* Records the file's SHA-256 as "<what>_sha256"; fails when pinned ("" =
 * not pinned) and different. */
void suite_check_sha256(const suite_ctx *ctx, const char *path, const char *pinned,
                        const char *what, fc_case_out *o);
/* Fails naming the first difference from the config's pinned interface. */
void suite_check_interface(const suite_ctx *ctx, const fc_graph *g, fc_case_out *o);

/* ---- shared helpers (suite_case.c) ---- */
/* Opens the fp32 model or the int8 twin on `engine`, failing the case with
 * the error when it cannot. */
fc_model *case_open_fp32(const suite_ctx *ctx, const char *engine, fc_case_out *o);
fc_model *case_open_int8(const suite_ctx *ctx, const char *engine, fc_case_out *o);
/* The first n images of the test set as a borrowed view (n <= 0: all). */
fc_dataset case_test_view(const suite_ctx *ctx, int64_t n);
/* Logits of `n` images (pixels [n,C,H,W]) on m, or NULL after failing the case. */
fc_status case_logits(fc_model *m, const fc_tensor *pixels, fc_tensor *logits, fc_case_out *o);

#endif
