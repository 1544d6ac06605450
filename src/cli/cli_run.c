/* flipcheck run: the main job.  Every configured model (the bundled ones
 * without --config) through the Check suites; one line per model and
 * suite, OUT/results.json, and an exit code a CI gate can use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_commands.h"
#include "cli_common.h"
#include "io/fc_config.h"
#include "suites/fc_suites.h"

static const char usage[] =
    "usage: flipcheck run [--config FILE] [--out DIR] [--model NAME]... [--suite NAME]...\n"
    "                     [--jobs N] [--quiet]\n"
    "\n"
    "Puts every model of the config (default: the bundled models and images,\n"
    "see `flipcheck config --print-default`) and its int8 twin through the\n"
    "suites integrity, accuracy, agreement, adversarial, boundary, garbage,\n"
    "performance, privacy and (with reference_outputs) consistency.\n"
    "Each test runs in its own process with the config's timeout, so crashes\n"
    "and hangs are recorded and the run goes on.\n"
    "\n"
    "  --out DIR     results folder (default flipcheck-out): results.json,\n"
    "                per-test files under cases/, calibrated twins under int8/\n"
    "  --model NAME  only this model (repeatable)\n"
    "  --suite NAME  only this suite (repeatable)\n"
    "  --jobs N      models run in parallel processes (default: CPUs online)\n"
    "  --quiet       no per-suite lines, only the last one\n"
    "\n"
    "Exit: 0 every threshold holds, 1 a threshold or test failed (named on\n"
    "stdout), 2 usage or config error.\n";

enum { O_CONFIG, O_OUT, O_MODEL, O_SUITE, O_JOBS, O_QUIET, O_COUNT };

#define MAX_FILTERS 64

/* Where the bundled models and images are: FLIPCHECK_DATA_ROOT, else the
 * source tree this binary was built from. */
static const char *data_root(void)
{
    const char *env = getenv("FLIPCHECK_DATA_ROOT");
    return env && env[0] ? env : FLIPCHECK_SOURCE_DIR;
}

int cli_run_main(int argc, char **argv)
{
    static const cli_opt opts[O_COUNT] = {
        [O_CONFIG] = {"--config", true}, [O_OUT] = {"--out", true},
        [O_MODEL] = {"--model", true},   [O_SUITE] = {"--suite", true},
        [O_JOBS] = {"--jobs", true},     [O_QUIET] = {"--quiet", false}};
    const char *config = NULL, *models[MAX_FILTERS];
    fc_run_options ro = {.out_dir = "flipcheck-out", .models = models};
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    bool quiet = false;
    cli_parser p;
    cli_parser_init(&p, "run", argc, argv, opts, O_COUNT);
    const char *v;
    for (int k; (k = cli_next(&p, &v)) != CLI_ARG_END;) {
        switch (k) {
        case CLI_ARG_ERR: return CLI_EXIT_USAGE;
        case CLI_ARG_HELP: fputs(usage, stdout); return CLI_EXIT_OK;
        case CLI_ARG_POS: return cli_usage_error("run", "unexpected argument '%s'", v);
        case O_CONFIG: config = v; break;
        case O_OUT: ro.out_dir = v; break;
        case O_MODEL:
            if (ro.n_models == MAX_FILTERS)
                return cli_usage_error("run", "at most %d --model options", MAX_FILTERS);
            models[ro.n_models++] = v;
            break;
        case O_SUITE: {
            int s = fc_suite_find(v);
            if (s < 0)
                return cli_usage_error("run",
                                       "--suite: unknown suite '%s' (integrity, accuracy, "
                                       "agreement, adversarial, boundary, garbage, performance, "
                                       "privacy, consistency)", v);
            ro.suites[s] = true;
            break;
        }
        case O_JOBS:
            if (!cli_parse_int("run", "--jobs", v, 1, 64, &jobs))
                return CLI_EXIT_USAGE;
            break;
        case O_QUIET: quiet = true; break;
        default: break;
        }
    }
    fc_config cfg;
    fc_err err;
    fc_err_clear(&err);
    fc_status st = config ? fc_config_load(config, &cfg, &err)
                          : fc_config_default(data_root(), &cfg, &err);
    if (st)
        return cli_report(config ? config : "default config", &err);
    int n_run = ro.n_models ? ro.n_models : cfg.n_models;
    ro.jobs = (int)(jobs < n_run ? jobs : n_run);
    ro.progress = quiet ? NULL : stdout;
    fc_run_summary sum;
    st = fc_run_suites(&cfg, &ro, &sum, &err);
    fc_config_free(&cfg);
    if (st)
        return cli_report(config ? config : "run", &err);
    printf("%d passed, %d failed", sum.passed, sum.failed);
    if (sum.crashes || sum.hangs)
        printf(" (%d crashed, %d hung)", sum.crashes, sum.hangs);
    printf("; results in %s/results.json\n", cli_tty(ro.out_dir));
    return sum.ok ? CLI_EXIT_OK : CLI_EXIT_CHECK_FAILED;
}
