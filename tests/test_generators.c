/* Generators: every garbage PNG is refused with a named error; boundary and
 * noise tensors run through both fp32 engines on the peer models without a
 * crash, and the test prints which cases give non-finite outputs (a finding
 * to report, not a failure); cases are reproducible from their seed. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/fc_gen.h"
#include "engines/fc_engine.h"
#include "io/fc_png.h"
#include "onnx/fc_onnx.h"

START_TEST(every_garbage_png_is_refused_by_name)
{
    fc_gen_files f;
    fc_err err = {0};
    ck_assert_msg(fc_gen_pngs(28, 28, 1, 7, FC_PNG_DEFAULT_MAX_PIXELS, &f, &err) == FC_OK, "%s",
                  err.msg);
    ck_assert_int_ge(f.n, 30);
    for (int i = 0; i < f.n; i++) {
        char label[96];
        snprintf(label, sizeof label, "%s.png", f.files[i].name);
        fc_tensor t;
        fc_status st = fc_png_read_bytes(f.files[i].bytes, f.files[i].len, label, 1, NULL, &t,
                                         NULL, &err);
        ck_assert_msg(st != FC_OK, "%s (%s) was accepted", f.files[i].name, f.files[i].what);
        ck_assert_msg(st != FC_ERR_INTERNAL && st != FC_ERR_NOMEM, "%s: status %s", label,
                      fc_status_name(st));
        ck_assert_msg(strstr(err.msg, label) != NULL, "%s: message does not name it: %s",
                      label, err.msg);
    }
    /* The bomb is refused from its header, by the pixel cap. */
    for (int i = 0; i < f.n; i++)
        if (strcmp(f.files[i].name, "decompression_bomb") == 0) {
            fc_tensor t;
            ck_assert_uint_lt(f.files[i].len, 1u << 20);
            ck_assert_int_eq(fc_png_read_bytes(f.files[i].bytes, f.files[i].len, "bomb.png", 1,
                                               NULL, &t, NULL, &err), FC_ERR_LIMIT);
        }
    fc_gen_files_free(&f);
}
END_TEST

START_TEST(cases_are_reproducible_from_the_seed)
{
    fc_gen_set a = {0}, b = {0}, c = {0};
    fc_err err = {0};
    ck_assert_int_eq(fc_gen_tensors(FC_GEN_NOISE, 3, 8, 5, 42, NULL, &a, &err), FC_OK);
    ck_assert_int_eq(fc_gen_tensors(FC_GEN_NOISE, 3, 8, 5, 42, NULL, &b, &err), FC_OK);
    ck_assert_int_eq(fc_gen_tensors(FC_GEN_NOISE, 3, 8, 5, 43, NULL, &c, &err), FC_OK);
    ck_assert_int_eq(a.n, b.n);
    for (int i = 0; i < a.n; i++) {
        ck_assert_str_eq(a.cases[i].name, b.cases[i].name);
        ck_assert_int_eq(memcmp(a.cases[i].x.data, b.cases[i].x.data,
                                fc_tensor_bytes(&a.cases[i].x)), 0);
    }
    ck_assert_int_ne(memcmp(a.cases[0].x.data, c.cases[0].x.data, fc_tensor_bytes(&a.cases[0].x)),
                     0);
    fc_gen_set_free(&a);
    fc_gen_set_free(&b);
    fc_gen_set_free(&c);
    fc_gen_files fa, fb;
    ck_assert_int_eq(fc_gen_pngs(9, 4, 3, 5, 1000, &fa, &err), FC_OK);
    ck_assert_int_eq(fc_gen_pngs(9, 4, 3, 5, 1000, &fb, &err), FC_OK);
    ck_assert_int_eq(fa.n, fb.n);
    for (int i = 0; i < fa.n; i++) {
        ck_assert_uint_eq(fa.files[i].len, fb.files[i].len);
        ck_assert_int_eq(memcmp(fa.files[i].bytes, fb.files[i].bytes, fa.files[i].len), 0);
    }
    fc_gen_files_free(&fa);
    fc_gen_files_free(&fb);
}
END_TEST

START_TEST(boundary_values_are_what_they_say)
{
    fc_gen_set s = {0};
    fc_err err = {0};
    ck_assert_int_eq(fc_gen_tensors(FC_GEN_BOUNDARY, 3, 4, 6, 0, NULL, &s, &err), FC_OK);
    int seen = 0;
    for (int i = 0; i < s.n; i++) {
        const float *d = s.cases[i].x.data;
        size_t n = s.cases[i].x.numel;
        ck_assert_uint_eq(n, 3 * 4 * 6);
        if (strcmp(s.cases[i].name, "nan_all") == 0) {
            for (size_t j = 0; j < n; j++)
                ck_assert(isnan(d[j]));
            seen++;
        } else if (strcmp(s.cases[i].name, "minus_zero") == 0) {
            for (size_t j = 0; j < n; j++)
                ck_assert(d[j] == 0.0f && signbit(d[j]));
            seen++;
        } else if (strcmp(s.cases[i].name, "denormal_min") == 0) {
            ck_assert_int_eq(fpclassify(d[0]), FP_SUBNORMAL);
            seen++;
        } else if (strcmp(s.cases[i].name, "nan_one_pixel") == 0) {
            int nans = 0;
            for (size_t j = 0; j < n; j++)
                nans += isnan(d[j]) != 0;
            ck_assert_int_eq(nans, 3);   /* one pixel, every channel */
            seen++;
        } else if (strcmp(s.cases[i].name, "channel1_max") == 0) {
            ck_assert_float_eq(d[24], 1.0f);
            ck_assert_float_eq(d[0], 0.0f);
            seen++;
        }
    }
    ck_assert_int_eq(seen, 5);
    fc_gen_set_free(&s);

    fc_gen_quant q = {.scale = 0.5f, .zero_point = 10, .qmin = 0, .qmax = 255};
    ck_assert_int_eq(fc_gen_tensors(FC_GEN_QUANT, 1, 2, 2, 0, &q, &s, &err), FC_OK);
    for (int i = 0; i < s.n; i++)
        if (strcmp(s.cases[i].name, "q_qmax") == 0)
            ck_assert_float_eq(((float *)s.cases[i].x.data)[0], (255 - 10) * 0.5f);
    fc_gen_set_free(&s);
    ck_assert_int_eq(fc_gen_tensors(FC_GEN_QUANT, 1, 2, 2, 0, NULL, &s, &err),
                     FC_ERR_INVALID_ARG);
}
END_TEST

/* Runs every case through one engine; counts non-finite outputs. */
static void run_cases(const char *model, const char *kind, const fc_gen_set *s)
{
    char path[512];
    snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.onnx", model);
    fc_graph *g = NULL;
    fc_err err = {0};
    ck_assert_msg(fc_onnx_load(path, &g, &err) == FC_OK, "%s", err.msg);
    fc_engine *e = NULL;
    ck_assert_msg(fc_engine_create(g, kind, &e, &err) == FC_OK, "%s", err.msg);
    char nonfinite[2048] = "";
    int n_nonfinite = 0;
    for (int i = 0; i < s->n; i++) {
        fc_tensor y = {0};
        ck_assert_msg(fc_engine_run(e, &s->cases[i].x, 1, &y, 1, &err) == FC_OK,
                      "%s on %s (%s): %s", s->cases[i].name, model, kind, err.msg);
        ck_assert_int_eq(y.numel, 10);
        bool finite = true;
        for (size_t j = 0; j < y.numel; j++)
            finite &= isfinite(((float *)y.data)[j]) != 0;
        if (!finite) {
            n_nonfinite++;
            if (strlen(nonfinite) + strlen(s->cases[i].name) + 2 < sizeof nonfinite) {
                strcat(nonfinite, " ");
                strcat(nonfinite, s->cases[i].name);
            }
        }
        /* In-range inputs must give finite logits. */
        bool in_range = true;
        for (size_t j = 0; j < s->cases[i].x.numel; j++) {
            float v = ((float *)s->cases[i].x.data)[j];
            in_range &= v >= 0.0f && v <= 1.0f;
        }
        if (in_range)
            ck_assert_msg(finite, "%s (%s) on %s: in-range input, non-finite output",
                          s->cases[i].name, kind, model);
        fc_tensor_release(&y);
    }
    printf("generators: %-9s %-7s %d of %d cases give non-finite logits:%s\n", model, kind,
           n_nonfinite, s->n, nonfinite);
    fc_engine_free(e);
    fc_graph_free(g);
}

START_TEST(boundary_and_noise_through_both_engines)
{
    static const char *models[] = {"mlp", "cnn", "resnet", "mobilenet"};
    fc_gen_set s = {0};
    fc_err err = {0};
    ck_assert_int_eq(fc_gen_tensors(FC_GEN_BOUNDARY, 1, 28, 28, 1, NULL, &s, &err), FC_OK);
    ck_assert_int_eq(fc_gen_tensors(FC_GEN_NOISE, 1, 28, 28, 1, NULL, &s, &err), FC_OK);
    for (int m = 0; m < 4; m++) {
        run_cases(models[m], "f32", &s);
        run_cases(models[m], "f32-ref", &s);
    }
    fc_gen_set_free(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("generators");
    TCase *tc = tcase_create("generators");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_garbage_png_is_refused_by_name);
    tcase_add_test(tc, cases_are_reproducible_from_the_seed);
    tcase_add_test(tc, boundary_values_are_what_they_say);
    tcase_add_test(tc, boundary_and_noise_through_both_engines);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
