/* Printing what `flipcheck infer` computed (cli_infer_out.c), kept apart
 * from loading and running (cli_infer.c). */
#ifndef CLI_INFER_H
#define CLI_INFER_H

#include <stdbool.h>

#include "core/fc_tensor.h"
#include "io/fc_dataset.h"
#include "onnx/fc_ir.h"

typedef struct cli_infer_result {
    const fc_graph *g;
    const char *engine;
    int n_outputs;
    const fc_tensor *outputs;   /* g->n_outputs tensors, in graph order */
    const fc_dataset *data;     /* image data (files, labels), or NULL for raw tensors */
} cli_infer_result;

/* One JSON object: engine, outputs (name, shape, flattened data), and top1
 * and confidence when the first output is [N,C]; for image data also
 * "files", and "labels" and "accuracy" when the data has labels.  False if
 * out of memory. */
bool cli_infer_print_json(const cli_infer_result *r);

/* One line per image "index top1 confidence [label file]" when the first
 * output is [N,C], then the accuracy when labels are known; otherwise each
 * output's name, shape and values. */
void cli_infer_print_text(const cli_infer_result *r);

/* infer and compare share loading and running (cli_infer.c): cmd is
 * "infer" or "compare" (which requires --reference); returns the exit code. */
int cli_infer_run(const char *cmd, int argc, char **argv);
extern const char cli_compare_usage[];

#endif
