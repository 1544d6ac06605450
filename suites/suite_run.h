/* Private to suites/: running one model's cases under Check
 * (suite_run.c) and turning the outcome into JSON (suite_results.c). */
#ifndef SUITE_RUN_H
#define SUITE_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "suite_internal.h"
#include "suites/fc_suites.h"

typedef enum suite_status {
    SUITE_NOT_RUN = 0,
    SUITE_PASS,
    SUITE_FAIL,     /* an assertion: a threshold or an invariant */
    SUITE_CRASH,    /* the test's process died on a signal */
    SUITE_HANG,     /* the test's process hit the timeout */
    SUITE_ERROR,    /* any other abnormal end (early exit) */
} suite_status;

typedef struct suite_outcome {
    suite_status status;
    char message[512];   /* Check's message */
} suite_outcome;

const char *suite_status_name(suite_status s);

/* The cases of every suite (selected[s] false: only what other suites need). */
fc_status suite_build_cases(const suite_ctx *ctx, const bool *selected, suite_cases *cs,
                            fc_err *err);
/* Runs the cases as one Check Suite named after the model, in fork mode;
 * fills outcomes[i] for case i. */
fc_status suite_run_model(const suite_ctx *ctx, const suite_cases *cs, suite_outcome *outcomes,
                          fc_err *err);
/* Where case i writes its result. */
void suite_case_path(const suite_ctx *ctx, int i, char *buf, size_t size);

/* The model's entry of results.json: every case's file merged with its
 * outcome, grouped by suite, with the model-level checks (max_crashes,
 * max_hangs) and the fp32/int8 comparison of the adversarial runs.
 * Returns NULL when out of memory. */
cJSON *suite_model_json(const suite_ctx *ctx, const suite_cases *cs,
                        const suite_outcome *outcomes);

/* One line per suite of a model entry: "cnn  accuracy  PASS  1/1  ...". */
void suite_print_model(FILE *f, const cJSON *model);

/* The environment block of results.json (CPU, kernels, versions). */
cJSON *suite_environment_json(void);

#endif
