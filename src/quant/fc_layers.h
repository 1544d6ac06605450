/* Per-layer comparison of an fp32 model with its int8 twin: where does
 * quantization lose the signal?
 *
 * Both models run on the same inputs (the fp32 one on an fp32 engine, the
 * int8 one on an int8 engine, which fuses QDQ groups into integer ops, see
 * src/onnx/fc_qdq.h).  Every 8-bit activation the int8 engine computes with
 * a constant per-tensor scale s and zero point zp is dequantized,
 * (q - zp) * s, and compared with the fp32 model's activation it stands for:
 *
 *   - QDQ files: the float input X of the QuantizeLinear that wrote the
 *     8-bit value (after fusion the value is written by the fused integer
 *     op).  When X is not in the fp32 model because the quantizer renamed
 *     it so that the DequantizeLinear result keeps the name (graph outputs:
 *     ONNX Runtime's "<name>_QuantizeLinear_Input", flipcheck's "<name>_f"),
 *     the fp32 value is the one named after that DequantizeLinear's output;
 *   - QOperator files (QLinearConv, QGemm, ... without a QuantizeLinear per
 *     layer): the fp32 value of the same name, else of the name without
 *     ONNX Runtime's "_quantized" suffix; when that fp32 value feeds only a
 *     Relu or Clip (which ONNX Runtime folded into the integer op's output
 *     range), the activation's output instead.
 * 8-bit values that cannot be paired are listed with the reason.
 *
 * Per layer, over all images (x the fp32 value, d the dequantized one):
 *   SQNR       10 log10(sum x^2 / sum (d - x)^2) dB (+inf when d == x)
 *   max_abs    max |d - x|
 *   cosine     sum x d / sqrt(sum x^2 * sum d^2) (1 when both are all zero)
 *   saturated  the fraction of elements where q is at its type's min or
 *              max (uint8 0/255, int8 -128/127) AND x lies more than half
 *              a step outside the representable range [(qmin - zp) s,
 *              (qmax - zp) s]: clipping, not rounding, put q there.  So a
 *              Relu's zeros at zp = 0 are not saturation, and neither is a
 *              value that merely rounds to the last step.
 * Images run in chunks and only sums are kept, so memory does not grow
 * with the number of images (one chunk of 8-bit activations is held).
 *
 * Ownership: the graphs and the input are only read; the report's arrays
 * and strings are owned by the report (fc_layer_report_free). */
#ifndef FC_LAYERS_H
#define FC_LAYERS_H

#include <stdint.h>

#include "core/fc_status.h"
#include "core/fc_tensor.h"
#include "onnx/fc_ir.h"

typedef struct fc_layer_opts {
    int64_t batch;            /* images per run; default 64 when 0 */
    const char *f32_engine;   /* default "f32" */
    const char *q8_engine;    /* default "q8-ref" */
} fc_layer_opts;

typedef struct fc_layer_stat {
    char *layer;              /* the fp32 value compared */
    char *fp32_op;            /* op writing it in the fp32 model ("input" for a graph input) */
    char *qvalue;             /* the 8-bit value in the int8 model */
    char *op;                 /* op writing it in the int8 engine's (fused) graph */
    float scale;
    int32_t zero_point;
    fc_dtype qtype;           /* FC_DT_U8 or FC_DT_I8 */
    int64_t count;            /* elements compared over all images */
    double sqnr_db;           /* +inf when the int8 values are exact */
    double max_abs;
    double cosine;
    double saturated;         /* fraction in [0, 1] */
} fc_layer_stat;

typedef struct fc_layer_unpaired {
    char *qvalue;             /* the 8-bit value left out */
    char *reason;
} fc_layer_unpaired;

typedef struct fc_layer_report {
    int n_layers;
    fc_layer_stat *layers;    /* worst (lowest SQNR) first */
    int n_unpaired;
    fc_layer_unpaired *unpaired;
    int64_t n_images;
} fc_layer_report;

/* Runs both models on input ([N, ...] float32 for each graph's single
 * input; model-input space, i.e. already preprocessed) and fills *out
 * (zeroed first; on failure nothing is left to free).  Fails with
 * FC_ERR_INVALID_ARG when a graph does not have exactly one input, with
 * FC_ERR_UNSUPPORTED when the int8 model has no 8-bit activation with a
 * constant scale (e.g. dynamic quantization) or none pairs with the fp32
 * model, and with the engines' errors naming the model. */
fc_status fc_layer_compare(const fc_graph *fp32, const fc_graph *q8, const fc_tensor *input,
                           const fc_layer_opts *opts, fc_layer_report *out, fc_err *err);

void fc_layer_report_free(fc_layer_report *r);   /* NULL allowed; leaves *r empty */

#endif
