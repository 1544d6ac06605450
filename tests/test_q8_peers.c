/* Int8 peers: ONNX Runtime 1.30's quantized files of the four peer models
 * (tests/data/peers/<model>.{qdq,qop,dyn}.onnx) on the int8 engines q8-ref
 * and q8, against ONNX Runtime's own logits on the 512 test images
 * (float32(u8) / 255):
 *
 *  - QDQ and QOperator files: the same top-1 on every image and every
 *    logit within one output quantization step (the scale of the
 *    DequantizeLinear that writes the logits); the number of bit-exact rows
 *    is printed (the aim is all 512).
 *  - dynamic files (DynamicQuantizeLinear takes its range from the whole
 *    batch, and ONNX Runtime ran all 512 images as one batch, so do we):
 *    the same top-1 and every logit within 1e-3 of its row's largest
 *    absolute logit; the largest error is printed. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_npy.h"
#include "engines/fc_engine.h"
#include "onnx/fc_onnx.h"

#define N_IMAGES 512
#define N_CLASSES 10

static const char *const models[] = {"mlp", "cnn", "resnet", "mobilenet"};
static const char *const engines[] = {"q8-ref", "q8"};

static void load_images(fc_tensor *x)
{
    fc_err err;
    fc_tensor u8;
    ck_assert_msg(fc_npy_read(FC_TEST_DATA "/peers/test_images_u8.npy", &u8, &err) == FC_OK,
                  "%s", err.msg);
    ck_assert_int_eq(u8.dtype, FC_DT_U8);
    ck_assert_int_eq(u8.dims[0], N_IMAGES);
    ck_assert_int_eq(fc_tensor_alloc(x, FC_DT_F32, u8.rank, u8.dims, &err), FC_OK);
    for (size_t i = 0; i < u8.numel; i++)
        ((float *)x->data)[i] = (float)((const uint8_t *)u8.data)[i] / 255.0f;
    fc_tensor_release(&u8);
}

/* Runs images in batches of `batch` into logits [512, 10]. */
static void run_all(fc_engine *e, const fc_tensor *x, int64_t batch, float *logits)
{
    size_t per = x->numel / (size_t)x->dims[0];
    for (int64_t s = 0; s < N_IMAGES; s += batch) {
        fc_err err;
        fc_tensor view = *x, out;
        view.dims[0] = batch;
        view.numel = per * (size_t)batch;
        view.owns_data = false;
        view.data = (float *)x->data + (size_t)s * per;
        ck_assert_msg(fc_engine_run(e, &view, 1, &out, 1, &err) == FC_OK, "%s", err.msg);
        ck_assert_int_eq(out.dtype, FC_DT_F32);
        ck_assert_int_eq(out.rank, 2);
        ck_assert_int_eq(out.dims[0], batch);
        ck_assert_int_eq(out.dims[1], N_CLASSES);
        memcpy(logits + s * N_CLASSES, out.data, out.numel * sizeof(float));
        fc_tensor_release(&out);
    }
}

static int argmax(const float *row)
{
    int best = 0;
    for (int j = 1; j < N_CLASSES; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

/* The output quantization step: the scale of the DequantizeLinear that
 * writes the graph's first output. */
static double output_step(const fc_graph *g)
{
    int p = g->values[g->outputs[0]].producer;
    ck_assert_msg(p >= 0 && strcmp(g->nodes[p].op_type, "DequantizeLinear") == 0,
                  "the logits are not written by a DequantizeLinear");
    const fc_tensor *s = g->values[g->nodes[p].inputs[1]].init;
    ck_assert_msg(s && s->dtype == FC_DT_F32 && s->numel == 1, "output scale is not a constant");
    return ((const float *)s->data)[0];
}

typedef struct case_data {
    fc_tensor x, want;
    fc_graph *g;
    fc_engine *e;
    float *logits;
} case_data;

static void open_case(case_data *c, const char *model, const char *format, const char *engine)
{
    char path[512];
    fc_err err;
    load_images(&c->x);
    snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.%s.ort_logits.npy", model, format);
    ck_assert_msg(fc_npy_read(path, &c->want, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(c->want.numel, N_IMAGES * N_CLASSES);
    snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.%s.onnx", model, format);
    ck_assert_msg(fc_onnx_load(path, &c->g, &err) == FC_OK, "%s", err.msg);
    ck_assert_msg(fc_engine_create(c->g, engine, &c->e, &err) == FC_OK, "%s", err.msg);
    c->logits = calloc(N_IMAGES * N_CLASSES, sizeof(float));
    ck_assert_ptr_nonnull(c->logits);
}

static void close_case(case_data *c)
{
    free(c->logits);
    fc_engine_free(c->e);
    fc_graph_free(c->g);
    fc_tensor_release(&c->x);
    fc_tensor_release(&c->want);
}

START_TEST(static_int8_files_match_onnx_runtime_within_one_step)
{
    const char *model = models[_i / 4];
    const char *format = (_i / 2) % 2 ? "qop" : "qdq";
    const char *engine = engines[_i % 2];
    case_data c;
    open_case(&c, model, format, engine);
    double step = output_step(c.g);
    run_all(c.e, &c.x, 64, c.logits);
    const float *want = c.want.data;
    int exact = 0, same_top1 = 0, within = 0;
    double max_err = 0.0;
    for (int r = 0; r < N_IMAGES; r++) {
        const float *got = c.logits + r * N_CLASSES, *ref = want + r * N_CLASSES;
        bool row_exact = true, row_within = true;
        for (int j = 0; j < N_CLASSES; j++) {
            double d = fabs((double)got[j] - (double)ref[j]);
            row_exact = row_exact && got[j] == ref[j];
            /* One step, with room for the float rounding of (q - zp) * s. */
            row_within = row_within && d <= step * (1.0 + 1e-5);
            if (!(d <= max_err))
                max_err = d;
        }
        exact += row_exact;
        within += row_within;
        same_top1 += argmax(got) == argmax(ref);
    }
    char islands[256];
    int n_islands = fc_engine_float_islands(c.e, islands, sizeof islands);
    printf("q8 peers: %-9s %-3s %-6s bit-exact rows %3d/512, same top-1 %3d/512, within one "
           "step (%.4g) %3d/512, max |ours - ORT| %.4g; %d QDQ groups fused, %d float-island "
           "nodes%s%s\n",
           model, format, engine, exact, same_top1, step, within, max_err,
           fc_engine_qdq_fused(c.e), n_islands, n_islands > 0 ? ": " : "", islands);
    fflush(stdout);
    ck_assert_msg(same_top1 == N_IMAGES, "%s.%s on %s: top-1 differs on %d images", model,
                  format, engine, N_IMAGES - same_top1);
    ck_assert_msg(within == N_IMAGES, "%s.%s on %s: %d rows off by more than one step (%g)",
                  model, format, engine, N_IMAGES - within, max_err);
    close_case(&c);
}
END_TEST

START_TEST(dynamic_files_match_onnx_runtime_within_1e3_of_the_row)
{
    const char *model = models[_i / 2];
    const char *engine = engines[_i % 2];
    case_data c;
    open_case(&c, model, "dyn", engine);
    run_all(c.e, &c.x, N_IMAGES, c.logits);
    const float *want = c.want.data;
    int same_top1 = 0, within = 0;
    double max_abs = 0.0, max_rel = 0.0;
    for (int r = 0; r < N_IMAGES; r++) {
        const float *got = c.logits + r * N_CLASSES, *ref = want + r * N_CLASSES;
        double row_max = 0.0;
        for (int j = 0; j < N_CLASSES; j++)
            row_max = fmax(row_max, fabs((double)ref[j]));
        bool row_within = true;
        for (int j = 0; j < N_CLASSES; j++) {
            double d = fabs((double)got[j] - (double)ref[j]);
            double rel = row_max > 0.0 ? d / row_max : d;
            row_within = row_within && d <= 1e-3 * row_max;
            if (!(d <= max_abs))
                max_abs = d;
            if (!(rel <= max_rel))
                max_rel = rel;
        }
        within += row_within;
        same_top1 += argmax(got) == argmax(ref);
    }
    printf("q8 peers: %-9s dyn %-6s same top-1 %3d/512, within 1e-3 of the row's max |logit| "
           "%3d/512, largest error %.4g (%.3g of the row's max |logit|)\n",
           model, engine, same_top1, within, max_abs, max_rel);
    fflush(stdout);
    ck_assert_msg(same_top1 == N_IMAGES, "%s.dyn on %s: top-1 differs on %d images", model,
                  engine, N_IMAGES - same_top1);
    ck_assert_msg(within == N_IMAGES, "%s.dyn on %s: %d rows off by more than 1e-3 (max %g)",
                  model, engine, N_IMAGES - within, max_rel);
    close_case(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("q8_peers");
    TCase *tc = tcase_create("ort_int8_logits");
    tcase_set_timeout(tc, 1200);
    tcase_add_loop_test(tc, static_int8_files_match_onnx_runtime_within_one_step, 0, 16);
    tcase_add_loop_test(tc, dynamic_files_match_onnx_runtime_within_1e3_of_the_row, 0, 8);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
