/* The Check suites: flipcheck's main job (`flipcheck run`).
 *
 * For every model of a config, one Check Suite named after the model with
 * the TCases integrity, accuracy, agreement, adversarial, boundary,
 * garbage, performance, privacy and consistency (docs/suites.md lists
 * every test).  Check runs each test in a
 * forked child with the config's timeout, so a crash (signal) or a hang
 * (timeout) ends only that test, and is recorded with its model, engine
 * and case.  A test's numbers leave the child through a result file it
 * writes atomically before it asserts (OUT/cases/<model>/<n>.json); the
 * parent merges them with Check's verdicts into OUT/results.json.
 *
 * Ownership: fc_run_suites reads the config; the summary it fills is the
 * caller's (plain numbers, nothing to free). */
#ifndef FC_SUITES_H
#define FC_SUITES_H

#include <stdbool.h>
#include <stdio.h>

#include "core/fc_status.h"
#include "io/fc_config.h"

#define FC_SUITE_COUNT 9

/* "integrity", "accuracy", "agreement", "adversarial", "boundary", "garbage",
 * "performance", "privacy", "consistency". */
const char *fc_suite_name(int i);
/* Index of a suite name, -1 if unknown. */
int fc_suite_find(const char *name);

typedef struct fc_run_options {
    const char *out_dir;          /* results go here (created); required */
    const char *const *models;    /* only these model names (NULL: all) */
    int n_models;
    bool suites[FC_SUITE_COUNT];  /* which suites run (all false: all) */
    int jobs;                     /* models run in parallel (<= 0: 1) */
    FILE *progress;               /* one line per model and suite, or NULL */
} fc_run_options;

typedef struct fc_run_summary {
    int passed, failed;           /* Check's counts over all suites (errors are failed) */
    int crashes, hangs;           /* of the failed, tests that crashed or hung */
    int threshold_failures;       /* thresholds that did not hold (incl. max_crashes/hangs) */
    bool ok;                      /* every threshold held and no test errored */
} fc_run_summary;

/* Runs the suites and writes OUT/results.json.  Fails (without running) on
 * an unknown model name, or when the output folder cannot be made; a model
 * whose files are broken is not an error here but failed tests. */
fc_status fc_run_suites(const fc_config *cfg, const fc_run_options *opt, fc_run_summary *out,
                        fc_err *err);

#endif
