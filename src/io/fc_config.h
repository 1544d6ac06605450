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
#define FC_CONFIG_MAX_ENGINES 8
#define FC_CONFIG_ENGINE_NAME 16

/* Thresholds; a NaN double or a negative count means "not set" (no check). */
typedef struct fc_thresholds {
    double max_int8_accuracy_drop;   /* fp32 accuracy - int8 accuracy */
    double max_flip_rate;            /* fp32 vs int8 top-1 disagreement */
    double max_confidence_drop;      /* p95 of the true-class probability drop */
    double fgsm_eps, fgsm_min_robust_accuracy;
    double pgd_eps, pgd_min_robust_accuracy;
    long max_crashes, max_hangs, max_nonfinite_outputs;
    double max_latency_p99_ms;       /* batch-1 latency, per engine */
    double max_peak_rss_mb;          /* peak resident memory of a performance test */
    double max_membership_advantage; /* loss-threshold membership inference, best TPR - FPR */
} fc_thresholds;

typedef enum fc_calib_method {
    FC_CALIB_NONE = 0,
    FC_CALIB_MINMAX,
    FC_CALIB_PERCENTILE,
    FC_CALIB_ENTROPY,
} fc_calib_method;

/* A pinned model interface: names, element types and shapes of the inputs
 * and outputs, checked by the integrity suite.  A dim given as a string is
 * symbolic (any symbolic dim of the model matches it). */
#define FC_CONFIG_MAX_IO 8
#define FC_CONFIG_MAX_RANK 8
typedef struct fc_iface_value {
    char name[128];
    char dtype[16];                      /* "float32", ...; "" = not pinned */
    int rank;                            /* -1 = shape not pinned */
    int64_t dims[FC_CONFIG_MAX_RANK];    /* -1 = symbolic */
    char dim_names[FC_CONFIG_MAX_RANK][32];
} fc_iface_value;
typedef struct fc_interface {
    bool set;
    int n_inputs, n_outputs;
    fc_iface_value inputs[FC_CONFIG_MAX_IO], outputs[FC_CONFIG_MAX_IO];
} fc_interface;

/* Another runtime's outputs on known data, for the consistency suite. */
#define FC_CONFIG_MAX_REFS 8
typedef struct fc_reference_output {
    char *file;       /* .npy or .pb TensorProto, [N, K] float32 */
    char *data;       /* the images they were computed on */
    char *labels;     /* labels .npy for npy data, or NULL */
    bool int8;        /* outputs of the int8 twin rather than the fp32 model */
    char engine[FC_CONFIG_ENGINE_NAME];   /* ours to compare with (default f32 / q8) */
    double max_abs;   /* default 1e-4 */
} fc_reference_output;

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
    char *calib_labels;          /* labels .npy for npy calibration images, or NULL */
    int64_t max_images;          /* 0 = all */
    int n_fgsm_eps, n_pgd_eps;
    double fgsm_eps[FC_CONFIG_MAX_EPS], pgd_eps[FC_CONFIG_MAX_EPS];
    int pgd_steps;               /* default 10 */
    int64_t attack_images;       /* images the attacks run on (default 256; 0 = all) */
    int n_engines;               /* engines the suites run (default f32, f32-ref, q8, q8-ref) */
    char engines[FC_CONFIG_MAX_ENGINES][FC_CONFIG_ENGINE_NAME];
    double timeout_s;            /* per test, default 10 */
    uint64_t seed;
    fc_thresholds th;            /* top-level thresholds overridden by the model's own */
    char sha256[65];             /* pinned SHA-256 of the fp32 file, "" = none */
    char int8_sha256[65];        /* pinned SHA-256 of the int8 file, "" = none */
    fc_interface iface;          /* pinned interface of the fp32 model (and its twin) */
    int n_refs;                  /* reference_outputs (model entries only) */
    fc_reference_output refs[FC_CONFIG_MAX_REFS];
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
