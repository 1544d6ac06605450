/* The model as attacks and checks see it: pixels in [0,1] in, logits out.
 *
 * An fc_model is a graph + an engine + the preprocessing (fc_preproc.h) that
 * maps pixels to the model's input, so gradients come back in pixel space
 * and every attack clips to [0, 1] without knowing about mean and std.
 * Batches larger than the model's run batch are split into chunks.
 *
 * Ownership: fc_model_open owns the graph it loads; fc_model_from_graph
 * borrows it (the graph must outlive the model).  fc_model_free frees what
 * the model owns.  Not thread-safe: one model per thread. */
#ifndef FC_MODEL_H
#define FC_MODEL_H

#include <stdint.h>

#include "core/fc_status.h"
#include "core/fc_tensor.h"
#include "engines/fc_engine.h"
#include "io/fc_preproc.h"
#include "onnx/fc_ir.h"

typedef struct fc_model fc_model;

/* Loads path and creates engine `engine` ("f32", "f32-ref", ...). pre may be
 * NULL (defaults). Fails naming the file for models that are not
 * image classifiers with one [N,C,H,W] float input and [N,K] output. */
fc_status fc_model_open(const char *path, const char *engine, const fc_preproc *pre,
                        fc_model **out, fc_err *err);
fc_status fc_model_from_graph(const fc_graph *g, const char *engine, const fc_preproc *pre,
                              fc_model **out, fc_err *err);
void fc_model_free(fc_model *m);

const fc_graph *fc_model_graph(const fc_model *m);
const char *fc_model_engine(const fc_model *m);
const char *fc_model_path(const fc_model *m);
/* Input image shape (C, H, W) and number of classes K. */
int fc_model_channels(const fc_model *m);
int64_t fc_model_height(const fc_model *m);
int64_t fc_model_width(const fc_model *m);
int64_t fc_model_classes(const fc_model *m);
/* What the first output is (logits, softmax or log-softmax). */
fc_output_kind fc_model_output_kind(const fc_model *m);
/* How many images run together (default 64). */
void fc_model_set_batch(fc_model *m, int64_t batch);

/* Logits [N, K] (owned) for pixels [N, C, H, W].  For a Softmax output the
 * logits are log(p) (p floored at FLT_MIN), for LogSoftmax the output itself:
 * either way softmax(logits) is the model's probability. */
fc_status fc_model_logits(fc_model *m, const fc_tensor *pixels, fc_tensor *logits, fc_err *err);

/* Gradient of sum_i loss_i with respect to the pixels ([N,C,H,W], owned),
 * the logits [N,K] (owned; NULL if not wanted) and the summed loss (NULL if
 * not wanted).  FC_ERR_UNSUPPORTED for engines without gradients. */
fc_status fc_model_grad(fc_model *m, const fc_tensor *pixels, const fc_loss *loss,
                        fc_tensor *grad, fc_tensor *logits, double *loss_sum, fc_err *err);

/* Top-1 class and its softmax probability for each row of logits [N, K]. */
void fc_logits_top1(const fc_tensor *logits, int64_t *top1, float *confidence);
/* Softmax probability of class k in row i. */
float fc_logits_prob(const fc_tensor *logits, int64_t i, int64_t k);

#endif
