/* flipcheck: the command-line entry point.  Dispatches to one file per
 * command (cli_info.c, cli_infer.c, cli_bench.c, cli_attack.c); the only
 * place that returns an exit code to the shell. */
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"

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
            "Exit codes: 0 ok, 1 a check failed, 2 usage or input error.\n");
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
