/* flipcheck: the command-line entry point.  Dispatches to one file per
 * command (cli_info.c, cli_infer.c, cli_bench.c, cli_attack.c); the only
 * place that returns an exit code to the shell. */
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "engines/fc_engine.h"

/* About 100 s of f32 compute per image on a laptop core: far above any
 * classifier flipcheck is for, low enough that a hostile graph is refused. */
#define CLI_DEFAULT_MAX_FLOPS 1e12

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", cli_run_main, "the main job: every configured model through the Check suites"},
    {"compare", cli_compare_main, "compare outputs or layer dumps with another runtime's"},
    {"info", cli_info_main, "describe a model: inputs, outputs, ops, parameters, support"},
    {"infer", cli_infer_main, "run images or raw tensors through an engine"},
    {"bench", cli_bench_main, "measure images/s and peak memory of an engine"},
    {"attack", cli_attack_main, "attack images (fgsm, pgd, mineps, boundary) and measure flips"},
    {"config", cli_config_main, "print the default run configuration, or check a config file"},
    {"gen", cli_gen_main, "write boundary-value, noise and broken-PNG cases for a model"},
    {"layers", cli_layers_main, "per-layer SQNR of an int8 model against its fp32 original"},
    {"quantize", cli_quantize_main, "calibrate an fp32 model and write its int8 QDQ twin"},
    {"sweep", cli_sweep_main, "robustness curves over an eps grid, sharded, against a baseline"},
    {"merge", cli_merge_main, "merge the sweep.json of sweep shards into one"},
    {"report", cli_report_main, "report.json, .html, junit.xml of a results.json or sweep.json"},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void print_help(FILE *f)
{
    fprintf(f,
            "usage: flipcheck [--help | --version] COMMAND [ARGS...]\n"
            "\n"
            "Adversarial-robustness test suite for ONNX classifiers.\n"
            "\n"
            "commands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Run 'flipcheck COMMAND --help' for the options of a command.\n"
            "Exit codes: 0 ok, 1 a check failed, 2 usage or input error.\n"
            "--max-flops N (anywhere): refuse models needing more than N operations per\n"
            "image (default %.0e; 0 = no limit).\n", CLI_DEFAULT_MAX_FLOPS);
}

static const command *find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
#ifdef __GLIBC__
    /* The engines allocate and free tens of megabytes of activations and
     * gradients per batch.  glibc would hand such blocks back to the kernel
     * (mmap/trim) after every call and fault them in again on the next: a
     * 4x slowdown of FGSM measured on the peer cnn.  Keep them in the heap. */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
    /* cJSON allocates through our allocator like everything else. */
    cJSON_Hooks hooks = {fc_malloc, fc_free};
    cJSON_InitHooks(&hooks);

    /* --max-flops N may appear anywhere: it guards every engine of every
     * command, so it is taken out before the command parses its options. */
    double max_flops = CLI_DEFAULT_MAX_FLOPS;
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max-flops") != 0) {
            argv[kept++] = argv[i];
            continue;
        }
        char *end = NULL;
        double v = i + 1 < argc ? strtod(argv[i + 1], &end) : -1;
        if (i + 1 >= argc || end == argv[i + 1] || *end || !(v >= 0))
            return cli_usage_error(NULL, "option --max-flops: expected a number >= 0 (0 = no "
                                         "limit)");
        max_flops = v;
        i++;
    }
    argc = kept;
    argv[argc] = NULL;
    fc_engine_set_max_flops(max_flops);

    if (argc < 2) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *a = argv[1];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        print_help(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(a, "--version")) {
        printf("flipcheck %s\n", FLIPCHECK_VERSION);
        return CLI_EXIT_OK;
    }
    if (!strcmp(a, "help")) {
        if (argc == 2) {
            print_help(stdout);
            return CLI_EXIT_OK;
        }
        const command *c = find_command(argv[2]);
        if (!c)
            return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        char help[] = "--help";
        char *hargv[] = {help, NULL};
        return c->run(1, hargv);
    }
    if (a[0] == '-')
        return cli_usage_error(NULL, "unknown option '%s'", a);
    const command *c = find_command(a);
    if (!c)
        return cli_usage_error(NULL, "unknown command '%s'", a);
    int rc = c->run(argc - 2, argv + 2);
    /* A failed write to stdout (full disk, closed pipe) must not pass as ok. */
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
        fprintf(stderr, "flipcheck: <stdout>: io_error: cannot write output\n");
        return CLI_EXIT_USAGE;
    }
    return rc;
}
