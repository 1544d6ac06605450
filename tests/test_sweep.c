/* flipcheck sweep and merge, run as subprocesses on the peer mlp and its
 * QDQ twin: shards merged equal the unsharded run byte for byte, threads
 * change nothing, a journal is resumed (and trusted), a better past is a
 * regression, merge names missing and duplicated shards, and the Slurm
 * script's shard loop works with the array variables set. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fc_alloc.h"

#define PEERS FC_TEST_DATA "/peers"

static char root[64];   /* one folder for the whole binary, made by the fixture */

static const char *path(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", root, name);
    return b;
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", p);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = fc_malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void spit(const char *p, const char *text)
{
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    ck_assert_int_eq(fclose(f), 0);
}

typedef struct result {
    int code;
    char *out, *err;
} result;

static void done(result *r)
{
    fc_free(r->out);
    fc_free(r->err);
}

/* argv (NULL-terminated, argv[0] the program) with env "K=V" pairs added. */
static result run_env(const char *const *argv, const char *const *env)
{
    char out[600], err[600];
    snprintf(out, sizeof out, "%s/stdout.txt", root);
    snprintf(err, sizeof err, "%s/stderr.txt", root);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    result r = {-1, slurp(out), slurp(err)};
    ck_assert_msg(WIFEXITED(status), "%s %s: killed by signal %d; stderr: %s", argv[0],
                  argv[1] ? argv[1] : "", WIFSIGNALED(status) ? WTERMSIG(status) : 0, r.err);
    r.code = WEXITSTATUS(status);
    ck_assert_msg(!strstr(r.err, "Sanitizer") && !strstr(r.err, "runtime error"),
                  "sanitizer report: %s", r.err);
    return r;
}

/* The small sweep every test runs: 48 peer images in blocks of 4 (12
 * blocks, so 4 shards get 3 each), FGSM and PGD (3 steps), 4 eps, f32 and
 * the QDQ twin.  extra: more options, NULL-terminated. */
static result sweep(const char *out, const char *const *extra, const char *const *env)
{
    const char *argv[64] = {FLIPCHECK_BIN, "sweep", "--model", PEERS "/mlp.onnx", "--int8",
                            PEERS "/mlp.qdq.onnx", "--data", PEERS "/test_images_u8.npy",
                            "--labels", PEERS "/test_labels.npy", "--max-images", "48",
                            "--block", "4", "--attacks", "fgsm,pgd", "--pgd-steps", "3",
                            "--eps", "0,0.03,0.06,0.1", "--engines", "f32,q8", "--quiet",
                            "--out", out};
    int n = 0;
    while (argv[n])
        n++;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return run_env(argv, env);
}

static void sweep_ok(const char *out, const char *const *extra)
{
    result r = sweep(out, extra, NULL);
    ck_assert_msg(r.code == 0, "sweep %s: exit %d\n%s%s", out, r.code, r.out, r.err);
    done(&r);
}

static void assert_same_file(const char *a, const char *b)
{
    char *x = slurp(a), *y = slurp(b);
    ck_assert_msg(strlen(x) > 1000, "%s is too small to be a sweep", a);
    ck_assert_msg(!strcmp(x, y), "%s and %s differ", a, b);
    fc_free(x);
    fc_free(y);
}

/* The unsharded reference, made once before the tests fork. */
static void setup(void)
{
    strcpy(root, "/tmp/fc_sweep_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    sweep_ok(path("ref"), NULL);
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", root);
}

START_TEST(reference_has_curves)
{
    char *text = slurp(path("ref/sweep.json"));
    cJSON *d = cJSON_Parse(text);
    fc_free(text);
    ck_assert_ptr_nonnull(d);
    const cJSON *curves = cJSON_GetObjectItem(d, "curves");
    /* mlp x {fgsm, pgd} x {f32, q8, q8-transfer} */
    ck_assert_int_eq(cJSON_GetArraySize(curves), 6);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(d, "records")), 6 * 48);
    const cJSON *c;
    cJSON_ArrayForEach(c, curves) {
        const cJSON *ra = cJSON_GetObjectItem(c, "robust_accuracy");
        ck_assert_int_eq(cJSON_GetArraySize(ra), 4);
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(c, "flip_rate")), 4);
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(c, "confidence_drop_mean")), 4);
        /* eps 0 is the clean accuracy; the attack never helps at 0.1 */
        ck_assert(cJSON_GetArrayItem(ra, 0)->valuedouble ==
                  cJSON_GetObjectItem(c, "clean_accuracy")->valuedouble);
        ck_assert(cJSON_GetArrayItem(ra, 3)->valuedouble < cJSON_GetArrayItem(ra, 0)->valuedouble);
    }
    cJSON_Delete(d);
}
END_TEST

START_TEST(four_shards_merged_equal_one)
{
    const char *files[4];
    for (int k = 0; k < 4; k++) {
        char shard[16], dir[32];
        snprintf(shard, sizeof shard, "%d/4", k);
        snprintf(dir, sizeof dir, "s%d", k);
        const char *extra[] = {"--shard", shard, NULL};
        sweep_ok(path(dir), extra);
        snprintf(dir, sizeof dir, "s%d/sweep.json", k);
        files[k] = fc_strdup(path(dir));
        /* a shard holds only its share of the records */
        char *t = slurp(files[k]);
        cJSON *d = cJSON_Parse(t);
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(d, "records")), 6 * 12);
        cJSON_Delete(d);
        fc_free(t);
    }
    /* given out of order */
    const char *argv[] = {FLIPCHECK_BIN, "merge", files[2], files[0], files[3], files[1],
                          "--out", path("merged"), NULL};
    result r = run_env(argv, NULL);
    ck_assert_msg(r.code == 0, "merge: %s", r.err);
    done(&r);
    assert_same_file(path("merged/sweep.json"), path("ref/sweep.json"));

    /* a missing and a duplicated shard are named */
    const char *miss[] = {FLIPCHECK_BIN, "merge", files[0], files[1], files[3], "--out",
                          path("bad"), NULL};
    r = run_env(miss, NULL);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "missing shard 2/4"), "%s", r.err);
    done(&r);
    const char *dup[] = {FLIPCHECK_BIN, "merge", files[0], files[1], files[2], files[1],
                         files[3], "--out", path("bad"), NULL};
    r = run_env(dup, NULL);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "duplicated shard 1/4") && strstr(r.err, files[1]), "%s", r.err);
    done(&r);
    struct stat sb;
    ck_assert_int_ne(stat(path("bad/sweep.json"), &sb), 0);
    for (int k = 0; k < 4; k++)
        fc_free((char *)files[k]);
}
END_TEST

START_TEST(jobs_do_not_change_results)
{
    const char *extra[] = {"--jobs", "2", NULL};
    sweep_ok(path("j2"), extra);
    assert_same_file(path("j2/sweep.json"), path("ref/sweep.json"));
}
END_TEST

/* A journal holding one finished unit with a doctored number: the resumed
 * sweep must keep that unit (not recompute it) and compute the rest. */
START_TEST(resume_skips_journaled_units)
{
    char *journal = slurp(path("ref/journal.jsonl"));
    char *l1 = strchr(journal, '\n');
    ck_assert_ptr_nonnull(l1);
    char *l2 = strchr(l1 + 1, '\n');
    ck_assert_ptr_nonnull(l2);
    l2[1] = '\0';   /* the header and the first unit */
    cJSON *unit = NULL;
    {
        char save = *l2;
        *l2 = '\0';
        unit = cJSON_Parse(l1 + 1);
        *l2 = save;
    }
    ck_assert_ptr_nonnull(unit);
    cJSON *rec0 = cJSON_GetArrayItem(cJSON_GetObjectItem(unit, "records"), 0);
    cJSON *p = cJSON_GetObjectItem(rec0, "adv_p_label");
    cJSON_ReplaceItemInArray(p, 1, cJSON_CreateNumber(0.123456789));
    const char *model = cJSON_GetObjectItem(rec0, "model")->valuestring;
    const char *attack = cJSON_GetObjectItem(rec0, "attack")->valuestring;
    const char *engine = cJSON_GetObjectItem(rec0, "engine")->valuestring;
    int image = (int)cJSON_GetObjectItem(rec0, "image")->valuedouble;
    char *doctored = cJSON_PrintUnformatted(unit);
    size_t hl = (size_t)(l1 - journal) + 1;
    size_t cap = hl + strlen(doctored) + 64;
    char *text = fc_malloc(cap);
    /* plus half a line, as an interrupted write leaves it */
    snprintf(text, cap, "%.*s%s\n{\"model\":\"mlp\",\"blo", (int)hl, journal, doctored);
    ck_assert_int_eq(mkdir(path("resume"), 0755), 0);
    spit(path("resume/journal.jsonl"), text);

    result r = sweep(path("resume"), NULL, NULL);
    ck_assert_msg(r.code == 0, "resumed sweep: %s", r.err);
    ck_assert_msg(strstr(r.out, "(1 from the journal)"), "%s", r.out);
    done(&r);
    char *res = slurp(path("resume/sweep.json"));
    cJSON *d = cJSON_Parse(res);
    fc_free(res);
    ck_assert_ptr_nonnull(d);
    const cJSON *rec;
    int found = 0;
    cJSON_ArrayForEach(rec, cJSON_GetObjectItem(d, "records")) {
        if (!strcmp(cJSON_GetObjectItem(rec, "model")->valuestring, model) &&
            !strcmp(cJSON_GetObjectItem(rec, "attack")->valuestring, attack) &&
            !strcmp(cJSON_GetObjectItem(rec, "engine")->valuestring, engine) &&
            (int)cJSON_GetObjectItem(rec, "image")->valuedouble == image) {
            found++;
            ck_assert(cJSON_GetArrayItem(cJSON_GetObjectItem(rec, "adv_p_label"), 1)->valuedouble ==
                      0.123456789);
        }
    }
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(d, "records")), 6 * 48);
    cJSON_Delete(d);

    /* Every unit once in the journal, the cut line gone: a second rerun
     * does nothing and gives the same file. */
    char *before = slurp(path("resume/sweep.json"));
    r = sweep(path("resume"), NULL, NULL);
    ck_assert_msg(r.code == 0 && strstr(r.out, "(24 from the journal)"), "%s%s", r.out, r.err);
    done(&r);
    char *after = slurp(path("resume/sweep.json"));
    ck_assert_str_eq(before, after);

    /* Another plan in the same folder is refused, naming the journal. */
    const char *other[] = {"--eps", "0,0.05", NULL};
    r = sweep(path("resume"), other, NULL);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "journal.jsonl"), "%s", r.err);
    done(&r);
    fc_free(before);
    fc_free(after);
    cJSON_free(doctored);
    fc_free(text);
    fc_free(journal);
    cJSON_Delete(unit);
}
END_TEST

/* Copies ref's journal into a new folder: the sweep there resumes it
 * entirely (no attack runs) and only compares. */
static void clone_ref(const char *dir)
{
    ck_assert_int_eq(mkdir(path(dir), 0755), 0);
    char *j = slurp(path("ref/journal.jsonl"));
    char p[256];
    snprintf(p, sizeof p, "%s/journal.jsonl", dir);
    spit(path(p), j);
    fc_free(j);
}

START_TEST(better_past_is_a_regression)
{
    char *text = slurp(path("ref/sweep.json"));
    cJSON *old = cJSON_Parse(text);
    fc_free(text);
    /* last night, pgd on q8 held 5 points better at eps 0.06 */
    cJSON *c;
    int hit = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(old, "curves")) {
        if (strcmp(cJSON_GetObjectItem(c, "attack")->valuestring, "pgd") ||
            strcmp(cJSON_GetObjectItem(c, "engine")->valuestring, "q8"))
            continue;
        cJSON *ra = cJSON_GetObjectItem(c, "robust_accuracy");
        double v = cJSON_GetArrayItem(ra, 2)->valuedouble;
        cJSON_ReplaceItemInArray(ra, 2, cJSON_CreateNumber(v + 0.05));
        hit++;
    }
    ck_assert_int_eq(hit, 1);
    char *o = cJSON_PrintUnformatted(old);
    spit(path("old.json"), o);
    cJSON_free(o);
    cJSON_Delete(old);

    clone_ref("base1");
    const char *extra[] = {"--baseline", path("old.json"), NULL};
    result r = sweep(path("base1"), extra, NULL);
    ck_assert_msg(r.code == 1, "exit %d: %s%s", r.code, r.out, r.err);
    ck_assert_msg(strstr(r.out, "robust_accuracy: mlp pgd q8 eps 0.06"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "1 regressions"), "%s", r.out);
    done(&r);
    char *res = slurp(path("base1/sweep.json"));
    cJSON *d = cJSON_Parse(res);
    fc_free(res);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(d, "regressions")), 1);
    cJSON_Delete(d);
    /* the reports (reports/) come with it: the page and JUnit */
    struct stat sb;
    ck_assert_int_eq(stat(path("base1/report.html"), &sb), 0);
    ck_assert_int_eq(stat(path("base1/junit.xml"), &sb), 0);

    /* Within the tolerance (6 points) it passes; and today against itself. */
    clone_ref("base2");
    const char *loose[] = {"--baseline", path("old.json"), "--tolerance", "6", NULL};
    r = sweep(path("base2"), loose, NULL);
    ck_assert_msg(r.code == 0, "exit %d: %s%s", r.code, r.out, r.err);
    done(&r);
    clone_ref("base3");
    const char *self[] = {"--baseline", path("ref/sweep.json"), NULL};
    r = sweep(path("base3"), self, NULL);
    ck_assert_msg(r.code == 0 && strstr(r.out, "0 regressions"), "%s%s", r.out, r.err);
    done(&r);
}
END_TEST

/* tools/slurm-sweep.sh as the array tasks run it, then its merge step. */
START_TEST(slurm_script_shard_loop)
{
    char dir[600], flip[600];
    snprintf(dir, sizeof dir, "SWEEP_DIR=%s", path("slurm"));
    snprintf(flip, sizeof flip, "FLIPCHECK=%s", FLIPCHECK_BIN);
    const char *base[] = {"/bin/sh", FC_SOURCE_DIR "/tools/slurm-sweep.sh", "--model",
                          PEERS "/mlp.onnx", "--int8", PEERS "/mlp.qdq.onnx", "--data",
                          PEERS "/test_images_u8.npy", "--labels", PEERS "/test_labels.npy",
                          "--max-images", "48", "--block", "4", "--attacks", "fgsm,pgd",
                          "--pgd-steps", "3", "--eps", "0,0.03,0.06,0.1", "--engines", "f32,q8",
                          NULL};
    for (int k = 0; k < 4; k++) {
        char id[64];
        snprintf(id, sizeof id, "SLURM_ARRAY_TASK_ID=%d", k);
        const char *env[] = {id, "SLURM_ARRAY_TASK_COUNT=4", "SLURM_ARRAY_TASK_MIN=0", dir, flip,
                             NULL};
        result r = run_env(base, env);
        ck_assert_msg(r.code == 0, "task %d: exit %d: %s%s", k, r.code, r.out, r.err);
        char want[32];
        snprintf(want, sizeof want, "shard %d/4", k);
        ck_assert_msg(strstr(r.out, want), "task %d: %s", k, r.out);
        done(&r);
    }
    const char *merge[] = {"/bin/sh", FC_SOURCE_DIR "/tools/slurm-sweep.sh", "--merge", NULL};
    const char *env[] = {dir, flip, NULL};
    result r = run_env(merge, env);
    ck_assert_msg(r.code == 0 && strstr(r.out, "merged 4 shards"), "%s%s", r.out, r.err);
    done(&r);
    assert_same_file(path("slurm/merged/sweep.json"), path("ref/sweep.json"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, reference_has_curves);
    tcase_add_test(tc, four_shards_merged_equal_one);
    tcase_add_test(tc, jobs_do_not_change_results);
    tcase_add_test(tc, resume_skips_journaled_units);
    tcase_add_test(tc, better_past_is_a_regression);
    tcase_add_test(tc, slurm_script_shard_loop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
