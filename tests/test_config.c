/* Config parsing: the default config, overrides, and errors that name the
 * JSON path. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "io/fc_config.h"

START_TEST(default_config_names_the_bundled_models)
{
    fc_config c;
    fc_err err = {0};
    ck_assert_msg(fc_config_default("/src", &c, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(c.n_models, 4);
    ck_assert_str_eq(c.models[1].name, "cnn");
    ck_assert_str_eq(c.models[1].fp32, "/src/models/cnn.onnx");
    ck_assert_str_eq(c.models[1].test_data, "/src/images/fashion/test");
    ck_assert_str_eq(c.models[1].calib_data, "/src/images/fashion/calib");
    ck_assert_int_eq(c.models[1].calibrate, FC_CALIB_MINMAX);
    ck_assert_double_eq(c.models[1].th.fgsm_eps, 0.01);
    ck_assert_int_eq(c.models[1].th.max_crashes, 0);
    ck_assert_int_eq(c.models[1].n_fgsm_eps, 3);
    fc_config_free(&c);
    char *text = fc_config_default_json();
    ck_assert_ptr_nonnull(strstr(text, "\"models\""));
    fc_free(text);
}
END_TEST

START_TEST(model_thresholds_override_top_level)
{
    const char *json =
        "{\"thresholds\": {\"max_flip_rate\": 0.1, \"fgsm\": {\"eps\": 0.02}},"
        " \"models\": [{\"name\": \"a\", \"fp32\": \"a.onnx\", \"data\": {\"test\": \"t\"},"
        "   \"thresholds\": {\"max_flip_rate\": 0.01}},"
        "  {\"name\": \"b\", \"fp32\": \"/abs/b.onnx\", \"int8\": {\"file\": \"b8.onnx\"},"
        "   \"data\": {\"test\": \"t\", \"max_images\": 10},"
        "   \"preprocess\": {\"mean\": [0.5, 0.4, 0.3], \"std\": [0.2, 0.2, 0.2], \"bgr\": true}}]}";
    fc_config c;
    fc_err err = {0};
    ck_assert_msg(fc_config_parse(json, "x.json", "/cfg", &c, &err) == FC_OK, "%s", err.msg);
    ck_assert_double_eq(c.models[0].th.max_flip_rate, 0.01);
    ck_assert_double_eq(c.models[1].th.max_flip_rate, 0.1);
    ck_assert_double_eq(c.models[0].th.fgsm_eps, 0.02);
    ck_assert(!fc_threshold_set(c.models[0].th.pgd_eps));
    ck_assert_int_eq(c.models[0].th.max_crashes, -1);
    ck_assert_str_eq(c.models[0].fp32, "/cfg/a.onnx");
    ck_assert_str_eq(c.models[1].fp32, "/abs/b.onnx");
    ck_assert_str_eq(c.models[1].int8, "/cfg/b8.onnx");
    ck_assert_int_eq(c.models[1].max_images, 10);
    ck_assert_int_eq(c.models[1].pre.n_channels, 3);
    ck_assert(c.models[1].pre.bgr);
    fc_config_free(&c);
}
END_TEST

START_TEST(errors_name_the_json_path)
{
    static const struct { const char *json, *want; } cases[] = {
        {"{\"models\": [{\"name\": \"a\", \"fp32\": \"a\", \"data\": {\"test\": \"t\"}},"
         " {\"name\": \"b\", \"fp32\": \"b\", \"data\": {\"test\": \"t\"},"
         "  \"thresholds\": {\"fgsm\": {\"eps\": \"big\"}}}]}",
         "models[1].thresholds.fgsm.eps: expected a number"},
        {"{\"models\": [{\"name\": \"a\", \"fp32\": \"a\", \"data\": {\"test\": \"t\"},"
         "  \"thresholds\": {\"max_flip_rte\": 0.1}}]}",
         "models[0].thresholds.max_flip_rte: unknown key"},
        {"{\"models\": []}", "models: expected an array"},
        {"{\"models\": [{\"name\": \"a\", \"data\": {\"test\": \"t\"}}]}", "missing \"fp32\""},
        {"{\"models\": [{\"name\": \"a\", \"fp32\": \"a\"}]}", "no test data"},
        {"{\"thresholds\": {\"max_flip_rate\": 2}, \"models\": []}",
         "thresholds.max_flip_rate: 2 is outside 0..1"},
        {"{\"models\": [{\"name\": \"a\", \"fp32\": \"a\", \"data\": {\"test\": \"t\"},"
         "  \"int8\": {\"calibrate\": \"magic\"}}]}",
         "models[0].int8.calibrate: expected"},
        {"{\"models\": [{\"name\": \"a\", \"fp32\": \"a\", \"data\": {\"test\": \"t\"},"
         "  \"thresholds\": {\"max_crashes\": 1.5}}]}",
         "models[0].thresholds.max_crashes: expected a whole number"},
        {"{\"models\": [", "not valid JSON"},
        {"[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]", "nested deeper"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fc_config c;
        fc_err err = {0};
        fc_status st = fc_config_parse(cases[i].json, "bad.json", ".", &c, &err);
        ck_assert_msg(st != FC_OK, "case %zu accepted", i);
        ck_assert_msg(strstr(err.msg, cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i,
                      err.msg, cases[i].want);
        ck_assert_ptr_nonnull(strstr(err.msg, "bad.json"));
    }
}
END_TEST

START_TEST(allocation_failures_are_named)
{
    unsigned long before = fc_alloc_count();
    fc_config c;
    fc_err err = {0};
    ck_assert_int_eq(fc_config_default("/src", &c, &err), FC_OK);
    fc_config_free(&c);
    long total = (long)(fc_alloc_count() - before);
    for (long k = 0; k < total; k++) {
        fc_alloc_fail_after(k);
        fc_status st = fc_config_default("/src", &c, &err);
        fc_alloc_fail_reset();
        ck_assert_msg(st == FC_ERR_NOMEM, "k=%ld: %d %s", k, st, err.msg);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, default_config_names_the_bundled_models);
    tcase_add_test(tc, model_thresholds_override_top_level);
    tcase_add_test(tc, errors_name_the_json_path);
    tcase_add_test(tc, allocation_failures_are_named);
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
