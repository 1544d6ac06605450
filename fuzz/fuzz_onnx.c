/* libFuzzer harness: ONNX bytes -> fc_graph -> plan + engine -> one forward
 * pass on a tiny input, with the f32-ref engine and the f32 engine.
 *
 * Every outcome except a crash, a sanitizer report or a leak is fine: the
 * point is that hostile bytes end in an fc_status.  External data is refused
 * (dir NULL) so the harness never touches the file system.  Inputs are kept
 * tiny (<= 4096 elements, dynamic dims set to 1) and the compute guard is
 * low, so a model asking for much work is refused by the product's own
 * --max-flops guard rather than timing the fuzzer out. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engines/fc_engine.h"
#include "onnx/fc_onnx.h"

#define FUZZ_MAX_INPUT_ELEMS 4096
#define FUZZ_MAX_FLOPS 2e6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fill(fc_tensor *t)
{
    for (size_t i = 0; i < t->numel; i++) {
        /* Small values of every sign that stay valid for integer inputs too
         * (indices of Gather, shapes of Reshape would be refused, not UB). */
        int v = (int)(i % 5) - 2;
        switch (t->dtype) {
        case FC_DT_F32: ((float *)t->data)[i] = (float)v * 0.25f; break;
        case FC_DT_F64: ((double *)t->data)[i] = (double)v * 0.25; break;
        case FC_DT_U8: ((uint8_t *)t->data)[i] = (uint8_t)(v + 2); break;
        case FC_DT_I8: ((int8_t *)t->data)[i] = (int8_t)v; break;
        case FC_DT_I32: ((int32_t *)t->data)[i] = v; break;
        case FC_DT_I64: ((int64_t *)t->data)[i] = v; break;
        case FC_DT_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(v > 0); break;
        default: break;
        }
    }
}

static void run_engine(const fc_graph *g, const char *kind, const fc_tensor *in, int n_in)
{
    fc_err err;
    fc_engine *e = NULL;
    if (fc_engine_create(g, kind, &e, &err) != FC_OK)
        return;
    fc_tensor out[8];
    if (g->n_outputs >= 1 && g->n_outputs <= 8 &&
        fc_engine_run(e, in, n_in, out, g->n_outputs, &err) == FC_OK) {
        for (int i = 0; i < g->n_outputs; i++)
            fc_tensor_release(&out[i]);
    }
    fc_engine_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        fc_engine_set_max_flops(FUZZ_MAX_FLOPS);
        once = 1;
    }
    fc_err err;
    fc_graph *g = NULL;
    if (fc_onnx_load_bytes(data, size, NULL, "fuzz.onnx", &g, &err) != FC_OK)
        return 0;

    enum { MAX_IN = 8 };
    fc_tensor in[MAX_IN];
    memset(in, 0, sizeof in);
    int n_in = 0;
    bool ok = g->n_inputs <= MAX_IN;
    for (int i = 0; ok && i < g->n_inputs; i++) {
        const fc_value *v = &g->values[g->inputs[i]];
        if (v->rank < 0 || fc_dtype_size(v->dtype) == 0) {
            ok = false;
            break;
        }
        int64_t dims[FC_MAX_RANK];
        for (int d = 0; d < v->rank; d++)
            dims[d] = v->dims[d] < 0 ? 1 : v->dims[d];
        size_t numel;
        if (fc_shape_numel(v->rank, dims, &numel, "fuzz input", &err) != FC_OK ||
            numel > FUZZ_MAX_INPUT_ELEMS ||
            fc_tensor_alloc(&in[i], v->dtype, v->rank, dims, &err) != FC_OK) {
            ok = false;
            break;
        }
        n_in++;
        fill(&in[i]);
    }
    if (ok) {
        run_engine(g, "f32-ref", in, n_in);
        run_engine(g, "f32", in, n_in);
    }
    for (int i = 0; i < n_in; i++)
        fc_tensor_release(&in[i]);
    fc_graph_free(g);
    return 0;
}
