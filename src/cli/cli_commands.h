/* The flipcheck subcommands.  Each takes the arguments after its name
 * (argv[0] is the first of them) and returns the process exit code. */
#ifndef CLI_COMMANDS_H
#define CLI_COMMANDS_H

int cli_run_main(int argc, char **argv);
int cli_info_main(int argc, char **argv);
int cli_compare_main(int argc, char **argv);
int cli_infer_main(int argc, char **argv);
int cli_bench_main(int argc, char **argv);
int cli_attack_main(int argc, char **argv);
int cli_gen_main(int argc, char **argv);
int cli_config_main(int argc, char **argv);
int cli_layers_main(int argc, char **argv);
int cli_quantize_main(int argc, char **argv);
int cli_sweep_main(int argc, char **argv);
int cli_merge_main(int argc, char **argv);
/* The end of `sweep` and `merge` (cli_sweep.c): compares doc (taken) with
 * baseline (may be NULL), writes OUT/sweep.json, prints failures and
 * regressions, returns the exit code. */
#include <cjson/cJSON.h>
int cli_sweep_finish(cJSON *doc, const char *out, const char *baseline, double tol,
                     double flip_tol);
int cli_report_main(int argc, char **argv);

#endif
