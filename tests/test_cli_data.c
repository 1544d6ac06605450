/* The CLI on the bundled data: `infer` on the image folder (files, labels,
 * accuracy in JSON and text), each bundled model's accuracy against what
 * PyTorch measured when it was trained (models/accuracy.json, also in
 * models/README.md), `gen` for every kind, and every broken PNG from
 * `gen --kind png` refused with exit 2 and one line on stderr. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"

#define MODELS FC_SOURCE_DIR "/models"
#define FASHION FC_SOURCE_DIR "/images/fashion/test"

typedef struct run_result {
    int code;
    char *out, *err;   /* malloc'd */
} run_result;

static char *slurp(const char *path)
{
    uint8_t *buf;
    size_t len;
    fc_err e;
    if (fc_file_read_all(path, 1u << 30, "output", &buf, &len, &e))
        return strdup("");
    char *s = strdup((char *)buf);
    fc_free(buf);
    return s;
}

/* Runs flipcheck with args (NULL-terminated), capturing stdout/stderr. */
static run_result run(const char *const *args)
{
    char out[] = "/tmp/fc_cliXXXXXX", err[] = "/tmp/fc_cliXXXXXX";
    int fo = mkstemp(out), fe = mkstemp(err);
    ck_assert(fo >= 0 && fe >= 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        const char *argv[64] = {FLIPCHECK_BIN};
        int n = 1;
        for (; args[n - 1] && n < 63; n++)
            argv[n] = args[n - 1];
        argv[n] = NULL;
        execv(FLIPCHECK_BIN, (char *const *)argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    close(fo);
    close(fe);
    run_result r = {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                    slurp(out), slurp(err)};
    unlink(out);
    unlink(err);
    return r;
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(infer_json_on_the_image_folder)
{
    const char *args[] = {"infer", "--model", MODELS "/cnn.onnx", "--json", FASHION, NULL};
    run_result r = run(args);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    cJSON *files = cJSON_GetObjectItem(j, "files"), *labels = cJSON_GetObjectItem(j, "labels");
    cJSON *top1 = cJSON_GetObjectItem(j, "top1"), *acc = cJSON_GetObjectItem(j, "accuracy");
    ck_assert(cJSON_IsArray(files) && cJSON_IsArray(labels) && cJSON_IsArray(top1));
    ck_assert_int_eq(cJSON_GetArraySize(files), 1000);
    ck_assert_int_eq(cJSON_GetArraySize(top1), 1000);
    ck_assert_ptr_nonnull(strstr(cJSON_GetArrayItem(files, 0)->valuestring, "0-t-shirt/"));
    ck_assert_int_eq(cJSON_GetArrayItem(labels, 999)->valueint, 9);
    int correct = 0;
    for (int i = 0; i < 1000; i++)
        correct += cJSON_GetArrayItem(top1, i)->valueint ==
                   cJSON_GetArrayItem(labels, i)->valueint;
    ck_assert(cJSON_IsNumber(acc));
    ck_assert_double_eq_tol(acc->valuedouble, correct / 1000.0, 1e-9);
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

START_TEST(bundled_model_accuracy_matches_training)
{
    static const char *models[] = {"mlp", "cnn", "resnet", "mobilenet"};
    char *text = slurp(MODELS "/accuracy.json");
    cJSON *acc = cJSON_Parse(text);
    free(text);
    ck_assert_msg(acc != NULL, "models/accuracy.json missing or broken");
    for (int m = 0; m < 4; m++) {
        char path[512];
        snprintf(path, sizeof path, MODELS "/%s.onnx", models[m]);
        const char *args[] = {"infer", "--model", path, FASHION, NULL};
        run_result r = run(args);
        ck_assert_msg(r.code == 0, "%s: exit %d: %s", models[m], r.code, r.err);
        const char *line = strstr(r.out, "accuracy ");
        ck_assert_ptr_nonnull(line);
        double ours = atof(line + 9);
        cJSON *entry = cJSON_GetObjectItem(acc, models[m]);
        cJSON *want = cJSON_GetObjectItem(entry, "bundled_1000_accuracy");
        cJSON *ten_k = cJSON_GetObjectItem(entry, "test_accuracy_10k");
        ck_assert_msg(cJSON_IsNumber(want), "%s: no bundled_1000_accuracy", models[m]);
        printf("bundled %-9s flipcheck %.4f on 1000 images, PyTorch %.4f (10k test: %.4f)\n",
               models[m], ours, want->valuedouble, ten_k ? ten_k->valuedouble : NAN);
        ck_assert_msg(fabs(ours - want->valuedouble) <= 0.02, "%s: %.4f vs %.4f", models[m],
                      ours, want->valuedouble);
        ck_assert_double_ge(ten_k->valuedouble, 0.85);
        run_free(&r);
    }
    cJSON_Delete(acc);
}
END_TEST

START_TEST(every_broken_png_exits_2_with_one_line)
{
    char dir[] = "/tmp/fc_genXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *gen[] = {"gen", "--kind", "png", "--model", MODELS "/cnn.onnx", "--out", dir,
                         NULL};
    run_result r = run(gen);
    ck_assert_msg(r.code == 0, "gen: %s", r.err);
    run_free(&r);
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".png"))
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        const char *args[] = {"infer", "--model", MODELS "/cnn.onnx", path, NULL};
        run_result x = run(args);
        ck_assert_msg(x.code == 2, "%s: exit %d", e->d_name, x.code);
        ck_assert_msg(count_lines(x.err) == 1, "%s: stderr: %s", e->d_name, x.err);
        ck_assert_msg(strstr(x.err, e->d_name) != NULL, "%s not named: %s", e->d_name, x.err);
        ck_assert(strstr(x.err, "Sanitizer") == NULL && strstr(x.err, "runtime error") == NULL);
        run_free(&x);
        unlink(path);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 30);
    char manifest[512];
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    unlink(manifest);
    rmdir(dir);
}
END_TEST

START_TEST(boundary_cases_run_through_infer)
{
    char dir[] = "/tmp/fc_genXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *gen[] = {"gen", "--kind", "boundary", "--model", MODELS "/mlp.onnx", "--out",
                         dir, "--seed", "3", NULL};
    run_result r = run(gen);
    ck_assert_msg(r.code == 0, "gen: %s", r.err);
    run_free(&r);
    char manifest[512];
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    char *text = slurp(manifest);
    cJSON *m = cJSON_Parse(text);
    free(text);
    cJSON *cases = cJSON_GetObjectItem(m, "cases");
    ck_assert_int_ge(cJSON_GetArraySize(cases), 20);
    cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, cJSON_GetObjectItem(c, "file")->valuestring);
        const char *args[] = {"infer", "--model", MODELS "/mlp.onnx", "--json", path, NULL};
        run_result x = run(args);
        ck_assert_msg(x.code == 0, "%s: exit %d %s", path, x.code, x.err);
        cJSON *j = cJSON_Parse(x.out);
        ck_assert_msg(j != NULL, "%s: output is not JSON", path);
        cJSON_Delete(j);
        run_free(&x);
        unlink(path);
    }
    cJSON_Delete(m);
    unlink(manifest);
    rmdir(dir);
    /* gen on a model without an image input, and without QuantizeLinear */
    const char *bad[] = {"gen", "--kind", "quant", "--model", MODELS "/mlp.onnx", "--out",
                         "/tmp/fc_gen_never", NULL};
    r = run(bad);
    ck_assert_int_eq(r.code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "QuantizeLinear"));
    run_free(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli_data");
    TCase *tc = tcase_create("cli_data");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, infer_json_on_the_image_folder);
    tcase_add_test(tc, bundled_model_accuracy_matches_training);
    tcase_add_test(tc, every_broken_png_exits_2_with_one_line);
    tcase_add_test(tc, boundary_cases_run_through_infer);
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
