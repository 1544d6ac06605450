/* Out-of-memory paths, the way SQLite tests them: load a model, run one
 * forward pass and one FGSM step with the k-th allocation failing, for
 * every k up to the number of allocations the whole scenario makes.
 *
 * Each k runs in its own forked child, so a crash, a sanitizer report or a
 * leak (LeakSanitizer runs when the child exits, under the ASan build) is
 * pinned to that k.  Every run must end with FC_ERR_NOMEM and a message;
 * the run with injection armed past the last allocation must succeed.
 *
 * Coverage is counted in distinct allocation call sites (the return address
 * of the fc_malloc/fc_calloc/fc_realloc/fc_strdup call, via
 * fc_alloc_set_site_hook): the test prints how many sites the scenario
 * reaches and checks that the failure of each one was exercised. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attacks/fc_attack.h"
#include "attacks/fc_model.h"
#include "core/fc_alloc.h"
#include "io/fc_dataset.h"

#define PEERS FC_TEST_DATA "/peers"
#define MAX_SITES 4096

/* ---- allocation sites ------------------------------------------------------ */

static const void *sites[MAX_SITES];
static int n_sites;
static unsigned long hook_calls;     /* allocations seen since armed */
static unsigned long hook_target;    /* index of the one to remember */
static const void *hook_target_site;

static int site_index(const void *s)
{
    for (int i = 0; i < n_sites; i++)
        if (sites[i] == s)
            return i;
    return -1;
}

/* Single-threaded scenario (mlp has no Conv, the only op the f32 engine
 * threads), so plain statics are enough here. */
static void record_site(const void *site)
{
    if (hook_calls == hook_target)
        hook_target_site = site;
    hook_calls++;
    if (site_index(site) < 0 && n_sites < MAX_SITES)
        sites[n_sites++] = site;
}

/* ---- the scenario ---------------------------------------------------------- */

static fc_dataset data;   /* 2 peer test images, loaded before any injection */

static void load_data(void)
{
    const char *src[] = {PEERS "/test_images_u8.npy"};
    fc_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.channels = 1;
    o.height = o.width = 28;
    o.labels_path = PEERS "/test_labels.npy";
    o.max_images = 2;
    fc_err err;
    ck_assert_msg(fc_dataset_load(src, 1, &o, &data, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(data.n, 2);
}

/* Load + forward (batch 2) + one FGSM step.  Returns the first failure. */
static const char *model_path = PEERS "/mlp.onnx";

static fc_status scenario(const char *engine, fc_err *err)
{
    fc_model *m = NULL;
    fc_status st = fc_model_open(model_path, engine, NULL, &m, err);
    if (st)
        return st;
    fc_tensor logits = {0};
    st = fc_model_logits(m, &data.images, &logits, err);
    fc_tensor_release(&logits);
    if (!st) {
        fc_attack_config cfg;
        fc_attack_config_default(&cfg, FC_ATTACK_FGSM);
        cfg.eps = 0.05;
        cfg.batch = 2;
        fc_attack_result r;
        memset(&r, 0, sizeof r);
        st = fc_attack_run(m, NULL, &data, &cfg, &r, err);
        if (!st) {
            if (r.n != 2 || r.adv.numel != data.images.numel)
                st = fc_err_set(err, FC_ERR_INTERNAL, "FGSM returned %lld images",
                                (long long)r.n);
            fc_attack_result_free(&r);
        }
    }
    fc_model_free(m);
    return st;
}

/* What a child reports through its pipe. */
typedef struct child_report {
    fc_status status;
    unsigned long allocs;          /* attempted during the scenario */
    const void *failed_site;       /* site of the allocation made to fail */
    char msg[FC_ERR_MSG_MAX];
} child_report;

/* Runs the scenario in a child with allocation k failing (k < 0: none).
 * Returns the child's wait status; *rep is filled when it got that far. */
static int run_child(const char *engine, long k, child_report *rep)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        child_report r;
        memset(&r, 0, sizeof r);
        fc_err err;
        fc_err_clear(&err);
        hook_calls = 0;
        hook_target = k < 0 ? (unsigned long)-1 : (unsigned long)k;
        hook_target_site = NULL;
        fc_alloc_set_site_hook(record_site);
        unsigned long before = fc_alloc_count();
        fc_alloc_fail_after(k);
        r.status = scenario(engine, &err);
        fc_alloc_fail_reset();
        fc_alloc_set_site_hook(NULL);
        r.allocs = fc_alloc_count() - before;
        r.failed_site = hook_target_site;
        memcpy(r.msg, err.msg, sizeof r.msg);
        ssize_t w = write(fd[1], &r, sizeof r);
        close(fd[1]);
        fc_dataset_free(&data);
        /* exit, not _exit: LeakSanitizer checks for leaks at exit and turns
         * the exit code non-zero when it finds one. */
        exit(w == (ssize_t)sizeof r ? 0 : 3);
    }
    close(fd[1]);
    memset(rep, 0, sizeof *rep);
    rep->status = FC_STATUS_COUNT;
    ssize_t got = read(fd[0], rep, sizeof *rep);
    close(fd[0]);
    if (got != (ssize_t)sizeof *rep)
        rep->status = FC_STATUS_COUNT;
    int ws = 0;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    return ws;
}

static void sweep(const char *engine)
{
    load_data();
    /* The clean run: how many allocations, and from which sites. */
    n_sites = 0;
    fc_alloc_set_site_hook(record_site);
    hook_calls = 0;
    hook_target = (unsigned long)-1;
    fc_err err;
    unsigned long before = fc_alloc_count();
    fc_status st = scenario(engine, &err);
    unsigned long total = fc_alloc_count() - before;
    fc_alloc_set_site_hook(NULL);
    ck_assert_msg(st == FC_OK, "%s: clean run failed: %s", engine, err.msg);
    ck_assert_msg(total > 10 && total < 200000, "%s: %lu allocations", engine, total);
    int clean_sites = n_sites;

    static unsigned char failed[MAX_SITES];
    memset(failed, 0, sizeof failed);
    unsigned long k;
    for (k = 0;; k++) {
        child_report rep;
        int ws = run_child(engine, (long)k, &rep);
        ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
                      "%s, allocation %lu failing: child %s %d (a leak or a sanitizer "
                      "report exits non-zero)",
                      engine, k,
                      WIFSIGNALED(ws) ? "killed by signal" : "exited with",
                      WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
        if (rep.status == FC_OK) {
            /* Injection armed but never reached: the scenario is done. */
            ck_assert_msg(rep.allocs <= k, "%s: allocation %lu should have failed", engine, k);
            break;
        }
        ck_assert_msg(rep.status == FC_ERR_NOMEM && rep.msg[0],
                      "%s, allocation %lu failing: status %s, message '%s' (want out_of_memory)",
                      engine, k, fc_status_name(rep.status), rep.msg);
        int si = site_index(rep.failed_site);
        if (si < 0 && n_sites < MAX_SITES)
            sites[si = n_sites++] = rep.failed_site;
        if (si >= 0)
            failed[si] = 1;
        ck_assert_msg(k < total + 1000, "%s: sweep does not end", engine);
    }
    int n_failed = 0;
    for (int i = 0; i < n_sites; i++)
        n_failed += failed[i];
    printf("alloc sweep %s (%s): %lu allocations in the clean run (load + forward batch 2 + "
           "FGSM), %lu runs each failing one, %d distinct call sites, failure exercised "
           "at %d of them\n", engine, strrchr(model_path, '/') + 1, total, k, clean_sites, n_failed);
    /* A run can only allocate less than the clean one after a failure, so
     * every allocation of the clean run was made to fail. */
    ck_assert_uint_eq(k, total);
    ck_assert_int_eq(n_failed, n_sites);
    fc_dataset_free(&data);
}

START_TEST(oom_every_allocation_f32) { sweep("f32"); }
END_TEST

/* The int8 engine on ONNX Runtime's QDQ version of the same model: QDQ
 * fusion at creation, integer kernels, straight-through gradients. */
START_TEST(oom_every_allocation_q8)
{
    model_path = PEERS "/mlp.qdq.onnx";
    sweep("q8");
}
END_TEST

START_TEST(oom_every_allocation_f32_ref) { sweep("f32-ref"); }
END_TEST

/* The hook sees a sweep's failing allocation: guards the test itself
 * against a no-op injection. */
START_TEST(injection_fails_the_kth_allocation)
{
    fc_alloc_fail_after(2);
    void *a = fc_malloc(8), *b = fc_calloc(2, 4);
    char *c = fc_strdup("x");
    void *d = fc_malloc(1);
    fc_alloc_fail_reset();
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(c);
    ck_assert_ptr_null(d);   /* every allocation fails until reset */
    void *e = fc_malloc(1);
    ck_assert_ptr_nonnull(e);
    fc_free(a);
    fc_free(b);
    fc_free(e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alloc_sweep");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, injection_fails_the_kth_allocation);
    tcase_add_test(tc, oom_every_allocation_f32);
    tcase_add_test(tc, oom_every_allocation_f32_ref);
    tcase_add_test(tc, oom_every_allocation_q8);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
