/* The run configuration (docs/config.md): which models, their int8 twins,
 * data, preprocessing, attacks and the thresholds that decide pass or fail.
 *
 * Parsed from JSON with cJSON, strictly: an unknown key, a wrong type or an
 * out-of-range value is an error whose message starts with the JSON path
 * ("models[1].thresholds.fgsm.eps: expected a number"), so a typo never
 * silently disables a threshold.  Relative paths are resolved against the
 * config file's folder (the bundled defaults against the source tree).
 *
 * Ownership: fc_config_load / fc_config_default fill a struct the caller
 * owns and releases with fc_config_free. */
#ifndef FC_CONFIG_H
#define FC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/fc_status.h"
#include "fc_preproc.h"

#define FC_CONFIG_MAX_BYTES (4u << 20)
#define FC_CONFIG_MAX_DEPTH 16
#define FC_CONFIG_MAX_MODELS 256
#define FC_CONFIG_MAX_EPS 64

/* Thresholds; a NaN double or a negative count means "not set" (no check). */
typedef struct fc_thresholds {
    double max_int8_accuracy_drop;   /* fp32 accuracy - int8 accuracy */
    double max_flip_rate;            /* fp32 vs int8 top-1 disagreement */
    double max_confidence_drop;      /* p95 of the true-class probability drop */
    double fgsm_eps, fgsm_min_robust_accuracy;
    double pgd_eps, pgd_min_robust_accuracy;
    long max_crashes, max_hangs, max_nonfinite_outputs;
} fc_thresholds;

typedef enum fc_calib_method {
    FC_CALIB_NONE = 0,
    FC_CALIB_MINMAX,
    FC_CALIB_PERCENTILE,
    FC_CALIB_ENTROPY,
} fc_calib_method;

typedef struct fc_model_config {
    char *name;
    char *fp32;                  /* path to the fp32 .onnx */
    char *int8;                  /* path to the int8 twin, or NULL */
    fc_calib_method calibrate;   /* when int8 is NULL: how to make the twin */
    double percentile;           /* for FC_CALIB_PERCENTILE (default 99.99) */
    fc_preproc pre;
    char *test_data;             /* folder / .npy of test images */
    char *test_labels;           /* labels .npy for npy test data, or NULL */
    char *calib_data;            /* calibration images, or NULL */
    int64_t max_images;          /* 0 = all */
    int n_fgsm_eps, n_pgd_eps;
    double fgsm_eps[FC_CONFIG_MAX_EPS], pgd_eps[FC_CONFIG_MAX_EPS];
    int pgd_steps;               /* default 10 */
    double timeout_s;            /* per test, default 10 */
    uint64_t seed;
    fc_thresholds th;            /* top-level thresholds overridden by the model's own */
} fc_model_config;

typedef struct fc_config {
    char *path;                  /* the file, or "<default>" */
    fc_model_config *models;
    int n_models;
} fc_config;

/* Reads and validates a config file. */
fc_status fc_config_load(const char *path, fc_config *out, fc_err *err);
/* Same from text; `base_dir` resolves relative paths, `label` names the
 * source in messages. */
fc_status fc_config_parse(const char *text, const char *label, const char *base_dir,
                          fc_config *out, fc_err *err);
/* The configuration used without --config: the bundled models and images
 * found under `data_root` (the source tree). */
fc_status fc_config_default(const char *data_root, fc_config *out, fc_err *err);
/* The default configuration as JSON text (paths relative to the source
 * tree), for `flipcheck config --print-default`.  Caller frees with fc_free. */
char *fc_config_default_json(void);
void fc_config_free(fc_config *c);

/* "no threshold" values and a helper to test them. */
void fc_thresholds_unset(fc_thresholds *t);
bool fc_threshold_set(double v);

#endif
