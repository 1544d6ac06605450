/* Datasets: ImageFolder order and labels on the bundled images, .npy with
 * labels, channel conversion, size mismatch errors, bilinear resize against
 * PyTorch, preprocessing. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fc_npy.h"
#include "io/fc_dataset.h"
#include "io/fc_png.h"
#include "io/fc_preproc.h"

#define FASHION FC_SOURCE_DIR "/images/fashion/test"

static fc_dataset_opts opts_28(int channels)
{
    fc_dataset_opts o = {.channels = channels, .height = 28, .width = 28};
    return o;
}

START_TEST(image_folder_gives_sorted_classes_and_labels)
{
    const char *src[] = {FASHION};
    fc_dataset_opts o = opts_28(1);
    fc_dataset d;
    fc_err err = {0};
    ck_assert_msg(fc_dataset_load(src, 1, &o, &d, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(d.n, 1000);
    ck_assert_int_eq(d.n_classes, 10);
    ck_assert_str_eq(d.class_names[0], "0-t-shirt");
    ck_assert_str_eq(d.class_names[9], "9-ankle-boot");
    ck_assert_ptr_nonnull(d.labels);
    for (int64_t i = 0; i < d.n; i++)
        ck_assert_int_eq(d.labels[i], i / 100);   /* classes in order, 100 each */
    ck_assert_ptr_nonnull(strstr(d.files[0], "0-t-shirt/"));
    ck_assert(strcmp(d.files[0], d.files[1]) < 0);   /* sorted within a class */
    const float *px = d.images.data;
    float lo = 1, hi = 0;
    for (size_t i = 0; i < d.images.numel; i++) {
        lo = px[i] < lo ? px[i] : lo;
        hi = px[i] > hi ? px[i] : hi;
    }
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_float_le(hi, 1.0f);
    fc_dataset_free(&d);

    /* The same folder for a 3-channel model: gray replicated. */
    o = opts_28(3);
    o.max_images = 5;
    ck_assert_int_eq(fc_dataset_load(src, 1, &o, &d, &err), FC_OK);
    ck_assert_int_eq(d.n, 5);
    const float *p = d.images.data;
    for (int i = 0; i < 784; i++)
        ck_assert(p[i] == p[784 + i] && p[i] == p[2 * 784 + i]);
    fc_dataset_free(&d);
}
END_TEST

START_TEST(npy_with_labels_and_png_files)
{
    const char *src[] = {FC_TEST_DATA "/peers/test_images_u8.npy"};
    fc_dataset_opts o = opts_28(1);
    o.labels_path = FC_TEST_DATA "/peers/test_labels.npy";
    fc_dataset d;
    fc_err err = {0};
    ck_assert_msg(fc_dataset_load(src, 1, &o, &d, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(d.n, 512);
    ck_assert_ptr_nonnull(d.labels);
    ck_assert_str_eq(d.files[3], FC_TEST_DATA "/peers/test_images_u8.npy[3]");
    fc_tensor raw;
    ck_assert_int_eq(fc_npy_read(src[0], &raw, &err), FC_OK);
    ck_assert_float_eq(((float *)d.images.data)[784 * 7 + 300],
                       ((uint8_t *)raw.data)[784 * 7 + 300] / 255.0f);
    fc_tensor_release(&raw);
    fc_dataset_free(&d);

    /* Label count must match. */
    o.labels_path = FC_TEST_DATA "/peers/test_labels.npy";
    o.max_images = 0;
    const char *two[] = {src[0], src[0]};
    ck_assert_int_eq(fc_dataset_load(two, 2, &o, &d, &err), FC_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "labels"));

    /* Single PNG files carry no labels. */
    const char *png[] = {FASHION "/3-dress/00013.png"};
    o.labels_path = NULL;
    ck_assert_msg(fc_dataset_load(png, 1, &o, &d, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(d.n, 1);
    ck_assert_ptr_null(d.labels);
    fc_dataset_free(&d);
}
END_TEST

START_TEST(size_mismatch_is_named_unless_resized)
{
    const char *src[] = {FASHION};
    fc_dataset_opts o = {.channels = 1, .height = 32, .width = 30, .max_images = 3};
    fc_dataset d;
    fc_err err = {0};
    ck_assert_int_eq(fc_dataset_load(src, 1, &o, &d, &err), FC_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "28x28"));
    ck_assert_ptr_nonnull(strstr(err.msg, "32x30"));
    ck_assert_ptr_nonnull(strstr(err.msg, ".png"));
    o.resize = FC_RESIZE_BILINEAR;
    ck_assert_msg(fc_dataset_load(src, 1, &o, &d, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(d.images.dims[2], 32);
    ck_assert_int_eq(d.images.dims[3], 30);
    fc_dataset_free(&d);
}
END_TEST

START_TEST(bilinear_matches_pytorch)
{
    fc_tensor src;
    fc_err err = {0};
    ck_assert_int_eq(fc_npy_read(FC_TEST_DATA "/resize/src_3x7x9.npy", &src, &err), FC_OK);
    static const int sizes[][2] = {{28, 28}, {5, 13}, {14, 4}, {7, 9}};
    for (int k = 0; k < 4; k++) {
        char path[256];
        snprintf(path, sizeof path, FC_TEST_DATA "/resize/torch_%dx%d.npy", sizes[k][0],
                 sizes[k][1]);
        fc_tensor want;
        ck_assert_int_eq(fc_npy_read(path, &want, &err), FC_OK);
        float *got = calloc(want.numel, sizeof *got);
        fc_resize_bilinear(src.data, 3, 7, 9, got, sizes[k][0], sizes[k][1]);
        for (size_t i = 0; i < want.numel; i++)
            ck_assert_msg(fabsf(got[i] - ((float *)want.data)[i]) < 1e-6f, "%dx%d at %zu",
                          sizes[k][0], sizes[k][1], i);
        free(got);
        fc_tensor_release(&want);
    }
    fc_tensor_release(&src);
}
END_TEST

START_TEST(folder_with_unsupported_images_is_an_error)
{
    char dir[] = "/tmp/fc_dsXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sub[256], file[300];
    snprintf(sub, sizeof sub, "%s/cat", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    snprintf(file, sizeof file, "%s/a.jpg", sub);
    FILE *f = fopen(file, "w");
    fputs("not really", f);
    fclose(f);
    const char *src[] = {dir};
    fc_dataset_opts o = opts_28(1);
    fc_dataset d;
    fc_err err = {0};
    ck_assert_int_eq(fc_dataset_load(src, 1, &o, &d, &err), FC_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "a.jpg"));
    unlink(file);
    /* An empty class folder tree: no images is an error, not an empty run. */
    ck_assert_int_eq(fc_dataset_load(src, 1, &o, &d, &err), FC_ERR_INVALID_ARG);
    /* A broken PNG is named. */
    snprintf(file, sizeof file, "%s/b.png", sub);
    f = fopen(file, "w");
    fputs("\x89PNG\r\n\x1a\nbroken", f);
    fclose(f);
    ck_assert_int_eq(fc_dataset_load(src, 1, &o, &d, &err), FC_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.msg, "b.png"));
    unlink(file);
    rmdir(sub);
    rmdir(dir);
}
END_TEST

START_TEST(preprocessing_maps_pixels)
{
    fc_preproc p;
    fc_preproc_default(&p);
    ck_assert(fc_preproc_is_identity(&p));
    fc_err err = {0};
    int n;
    ck_assert_int_eq(fc_preproc_parse_list("0.5,0.25,0.125", "--mean", p.mean, &n, &err), FC_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(fc_preproc_parse_list("0.5,,1", "--mean", p.mean, &n, &err),
                     FC_ERR_INVALID_ARG);
    ck_assert_int_eq(fc_preproc_parse_list("nan", "--std", p.std, &n, &err), FC_ERR_INVALID_ARG);
    ck_assert_int_eq(fc_preproc_parse_list("0.5,0.25,0.125", "--mean", p.mean, &n, &err), FC_OK);
    ck_assert_int_eq(fc_preproc_parse_list("2,2,4", "--std", p.std, &n, &err), FC_OK);
    p.n_channels = 3;
    p.bgr = true;
    ck_assert_int_eq(fc_preproc_check(&p, 1, &err), FC_ERR_INVALID_ARG);
    ck_assert_int_eq(fc_preproc_check(&p, 3, &err), FC_OK);
    fc_tensor x, y;
    int64_t dims[4] = {1, 3, 1, 2};
    ck_assert_int_eq(fc_tensor_alloc(&x, FC_DT_F32, 4, dims, &err), FC_OK);
    float *xd = x.data;
    for (int i = 0; i < 6; i++)
        xd[i] = (float)i / 8.0f;   /* R = 0, 1/8; G = 2/8, 3/8; B = 4/8, 5/8 */
    ck_assert_int_eq(fc_preproc_apply(&p, &x, &y, &err), FC_OK);
    const float *yd = y.data;
    /* channel 0 of the model is B (BGR): (4/8 - 0.5) / 2 = 0 */
    ck_assert_float_eq_tol(yd[0], (4 / 8.0f - 0.5f) / 2.0f, 1e-6f);
    ck_assert_float_eq_tol(yd[5], (1 / 8.0f - 0.125f) / 4.0f, 1e-6f);
    fc_tensor_release(&x);
    fc_tensor_release(&y);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, image_folder_gives_sorted_classes_and_labels);
    tcase_add_test(tc, npy_with_labels_and_png_files);
    tcase_add_test(tc, size_mismatch_is_named_unless_resized);
    tcase_add_test(tc, bilinear_matches_pytorch);
    tcase_add_test(tc, folder_with_unsupported_images_is_an_error);
    tcase_add_test(tc, preprocessing_maps_pixels);
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
