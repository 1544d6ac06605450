/* flipcheck compare: another runtime's numbers against ours, either the
 * outputs (--reference, run through cli_infer.c's loading and batching) or
 * two layer dumps (--layers, cli_compare_layers.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_common.h"
#include "cli_compare.h"
#include "cli_infer.h"

const char cli_compare_usage[] =
    "usage: flipcheck compare --model MODEL.onnx --reference OUT.npy|OUT.pb [--engine E]\n"
    "                         [--max-abs T] [--json] [infer's data options] DATA\n"
    "       flipcheck compare --layers DIR_A DIR_B [--max-abs T] [--json]\n"
    "\n"
    "First form: runs MODEL on DATA (as `flipcheck infer` does) and compares its\n"
    "first output with another runtime's on the same data (TensorRT, ONNX Runtime,\n"
    "a device): max abs and max relative error, relative L2, cosine similarity,\n"
    "top-1 agreement, and every row whose largest abs error is over T (default\n"
    "1e-4).  Exit 0 when no row is, 1 naming the rows, 2 on bad input.\n"
    "\n"
    "Second form: matches two layer dumps (`flipcheck infer --dump-layers`, or\n"
    "another runtime's in the format of docs/layer-dumps.md) by tensor name (an\n"
    "int8 tensor by the float tensor it stands for, dequantized), names the first\n"
    "tensor in computation order whose max abs error is over T, and lists the\n"
    "rest worst first with SQNR and cosine.\n";

int cli_compare_main(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(cli_compare_usage, stdout);
            return CLI_EXIT_OK;
        }
    bool layers = false;
    for (int i = 0; i < argc; i++)
        layers = layers || !strcmp(argv[i], "--layers");
    if (!layers)
        return cli_infer_run("compare", argc, argv);
    const char *dirs[2] = {NULL, NULL};
    double max_abs = 1e-4;
    bool json = false;
    int nd = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--layers"))
            continue;
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--max-abs")) {
            char *end;
            if (i + 1 >= argc || !(max_abs = strtod(argv[i + 1], &end), end != argv[i + 1] &&
                                   !*end && max_abs >= 0))
                return cli_usage_error("compare", "option --max-abs needs a number >= 0");
            i++;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("compare", "unknown option '%s' with --layers", argv[i]);
        } else if (nd < 2) {
            dirs[nd++] = argv[i];
        } else {
            return cli_usage_error("compare", "unexpected argument '%s'", argv[i]);
        }
    }
    if (nd != 2)
        return cli_usage_error("compare", "--layers needs two dump folders DIR_A DIR_B");
    return cli_compare_layers(dirs[0], dirs[1], max_abs, json);
}
