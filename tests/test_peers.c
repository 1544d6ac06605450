/* Peers: the four models trained with PyTorch and exported to ONNX must give
 * the logits ONNX Runtime gave (tests/data/peers/<model>.ort_logits.npy, copied
 * from shared/peers) within 1e-4, on both fp32 engines, for all 512 images,
 * whether they run in batches of 64 or of 1 (odd sizes too). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_npy.h"
#include "engines/fc_engine.h"
#include "onnx/fc_onnx.h"

static const char *const models[] = {"mlp", "cnn", "resnet", "mobilenet"};
static const char *const engines[] = {"f32", "f32-ref"};

/* Images as the peers feed them: float32(u8) / 255, shape [N,1,28,28]. */
static void load_images(fc_tensor *x)
{
    fc_err err;
    fc_tensor u8;
    ck_assert_msg(fc_npy_read(FC_TEST_DATA "/peers/test_images_u8.npy", &u8, &err) == FC_OK,
                  "%s", err.msg);
    ck_assert_int_eq(u8.dtype, FC_DT_U8);
    ck_assert_int_eq(u8.rank, 4);
    ck_assert_int_eq(fc_tensor_alloc(x, FC_DT_F32, u8.rank, u8.dims, &err), FC_OK);
    const uint8_t *src = u8.data;
    float *dst = x->data;
    for (size_t i = 0; i < u8.numel; i++)
        dst[i] = (float)src[i] / 255.0f;
    fc_tensor_release(&u8);
}

/* Runs images [start, start+count) and writes logits rows into all_logits. */
static void run_chunk(fc_engine *e, const fc_tensor *x, int64_t start, int64_t count,
                      float *all_logits)
{
    fc_err err;
    size_t per = x->numel / (size_t)x->dims[0];
    fc_tensor view = *x;
    view.dims[0] = count;
    view.numel = per * (size_t)count;
    view.owns_data = false;
    view.data = (float *)x->data + (size_t)start * per;
    fc_tensor out;
    ck_assert_msg(fc_engine_run(e, &view, 1, &out, 1, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(out.rank, 2);
    ck_assert_int_eq(out.dims[0], count);
    ck_assert_int_eq(out.dims[1], 10);
    memcpy(all_logits + start * 10, out.data, out.numel * sizeof(float));
    fc_tensor_release(&out);
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m))
            m = d; /* NaN propagates as a failure */
    }
    return m;
}

START_TEST(peer_models_match_onnx_runtime_logits_within_1e4)
{
    const char *model = models[_i / 2];
    const char *engine = engines[_i % 2];
    char path[512];
    fc_err err;
    fc_tensor x, want;
    load_images(&x);
    snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.ort_logits.npy", model);
    ck_assert_msg(fc_npy_read(path, &want, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(want.numel, 512 * 10);

    snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.onnx", model);
    fc_graph *g = NULL;
    ck_assert_msg(fc_onnx_load(path, &g, &err) == FC_OK, "%s", err.msg);
    fc_engine *e = NULL;
    ck_assert_msg(fc_engine_create(g, engine, &e, &err) == FC_OK, "%s", err.msg);

    float *logits = calloc(512 * 10, sizeof(float));
    ck_assert_ptr_nonnull(logits);
    /* Batches of 64, then a ragged split (1, 7, then the rest) so a plan
     * cached for one batch size cannot leak into another. */
    for (int64_t s = 0; s < 512; s += 64)
        run_chunk(e, &x, s, 64, logits);
    double batched = max_abs_diff(logits, want.data, 512 * 10);
    memset(logits, 0, 512 * 10 * sizeof(float));
    run_chunk(e, &x, 0, 1, logits);
    run_chunk(e, &x, 1, 7, logits);
    run_chunk(e, &x, 8, 504, logits);
    double ragged = max_abs_diff(logits, want.data, 512 * 10);
    printf("peers: %-9s %-7s max |ours - ORT| = %.3g (batch 64), %.3g (batches 1/7/504)\n", model,
           engine, batched, ragged);
    ck_assert_msg(batched <= 1e-4, "%s on %s: max abs error %g > 1e-4", model, engine, batched);
    ck_assert_msg(ragged <= 1e-4, "%s on %s: max abs error %g > 1e-4", model, engine, ragged);

    free(logits);
    fc_engine_free(e);
    fc_graph_free(g);
    fc_tensor_release(&x);
    fc_tensor_release(&want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("peers");
    TCase *tc = tcase_create("ort_logits");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, peer_models_match_onnx_runtime_logits_within_1e4, 0, 8);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
