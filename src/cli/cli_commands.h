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

#endif
