/* Attacks (attacks/fc_attack.h) on the peer models and images:
 *   - FGSM robust accuracy equals the peers' table (PyTorch gradient, ONNX
 *     Runtime judging; tests/data/peers/manifest.json) within 0.006, for cnn
 *     and resnet at eps 0.01, 0.02, 0.05, 0.1 on all 512 images (engine f32;
 *     f32-ref for cnn at 0.05);
 *   - PGD (10 steps of 2.5*eps/10, random start) beats FGSM at eps 0.05 on
 *     every peer model;
 *   - the boundary attack finds an adversarial for >= 95% of 64 correctly
 *     classified cnn images within 5,000 queries each;
 *   - determinism (same seed, other batch sizes), transfer (f32 crafts,
 *     f32-ref judges), mineps ordering, targeted attacks, metrics helpers,
 *     argument checks, and the `flipcheck attack` command.
 * Measured numbers are printed.  Under ASan the long checks use fewer
 * images and queries and the oracle's table is left out; the full f32 FGSM
 * table always runs. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "attacks/fc_attack.h"
#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "io/fc_png.h"

#define PEERS FC_TEST_DATA "/peers"

#if defined(__SANITIZE_ADDRESS__)
#define FC_SLOW_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FC_SLOW_BUILD 1
#endif
#endif
#ifndef FC_SLOW_BUILD
#define FC_SLOW_BUILD 0
#endif

/* Images for the checks that may shrink under sanitizers. */
#define N_PGD (FC_SLOW_BUILD ? 128 : 512)
#define N_BOUNDARY (FC_SLOW_BUILD ? 16 : 64)
#define Q_BOUNDARY (FC_SLOW_BUILD ? 1000 : 5000)

static const char *const peer_models[] = {"mlp", "cnn", "resnet", "mobilenet"};

/* ---- fixtures ---------------------------------------------------------------- */

static void load_peers(fc_dataset *d, int64_t max)
{
    const char *src[] = {PEERS "/test_images_u8.npy"};
    fc_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.channels = 1;
    o.height = o.width = 28;
    o.labels_path = PEERS "/test_labels.npy";
    o.max_images = max;
    fc_err err;
    ck_assert_msg(fc_dataset_load(src, 1, &o, d, &err) == FC_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(d->labels);
}

static fc_model *open_peer(const char *name, const char *engine)
{
    char path[512];
    snprintf(path, sizeof path, PEERS "/%s.onnx", name);
    fc_model *m = NULL;
    fc_err err;
    ck_assert_msg(fc_model_open(path, engine, NULL, &m, &err) == FC_OK, "%s", err.msg);
    return m;
}

static void attack(fc_model *am, fc_model *em, const fc_dataset *d, const fc_attack_config *c,
                   fc_attack_result *r)
{
    fc_err err;
    fc_err_clear(&err);
    fc_status st = fc_attack_run(am, em, d, c, r, &err);
    ck_assert_msg(st == FC_OK, "%s: %s", fc_status_name(st), err.msg);
    ck_assert_int_eq(r->n, d->n);
}

static void config(fc_attack_config *c, fc_attack_kind kind, double eps)
{
    fc_attack_config_default(c, kind);
    c->eps = eps;
}

/* fgsm_ort[eps].fp32_acc of one peer model from the manifest. */
static double peer_fgsm_acc(const char *model, const char *eps)
{
    uint8_t *text;
    size_t len;
    fc_err err;
    ck_assert_msg(fc_file_read_all(PEERS "/manifest.json", 1 << 20, "manifest", &text, &len,
                                   &err) == FC_OK, "%s", err.msg);
    cJSON *root = cJSON_Parse((const char *)text);
    ck_assert_ptr_nonnull(root);
    cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "models"),
                                                model);
    cJSON *e = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "fgsm_ort"),
                                                eps);
    cJSON *acc = cJSON_GetObjectItemCaseSensitive(e, "fp32_acc");
    ck_assert_msg(cJSON_IsNumber(acc), "manifest: no fgsm_ort[%s].fp32_acc for %s", eps, model);
    double v = acc->valuedouble;
    cJSON_Delete(root);
    fc_free(text);
    return v;
}

/* The rows of d the model classifies correctly, at most max of them, as a
 * dataset of their own (files left NULL). */
static void correct_subset(fc_model *m, const fc_dataset *d, int64_t max, fc_dataset *out)
{
    fc_tensor z;
    fc_err err;
    ck_assert_int_eq(fc_model_logits(m, &d->images, &z, &err), FC_OK);
    int64_t *top1 = fc_calloc((size_t)d->n, sizeof *top1);
    ck_assert_ptr_nonnull(top1);
    fc_logits_top1(&z, top1, NULL);
    memset(out, 0, sizeof *out);
    int64_t dims[4] = {max, d->images.dims[1], d->images.dims[2], d->images.dims[3]};
    ck_assert_int_eq(fc_tensor_alloc(&out->images, FC_DT_F32, 4, dims, &err), FC_OK);
    out->labels = fc_calloc((size_t)max, sizeof *out->labels);
    ck_assert_ptr_nonnull(out->labels);
    size_t per = d->images.numel / (size_t)d->n;
    for (int64_t i = 0; i < d->n && out->n < max; i++)
        if (top1[i] == d->labels[i]) {
            memcpy((float *)out->images.data + (size_t)out->n * per,
                   (const float *)d->images.data + (size_t)i * per, per * sizeof(float));
            out->labels[out->n++] = d->labels[i];
        }
    ck_assert_int_eq(out->n, max);
    fc_free(top1);
    fc_tensor_release(&z);
}

/* ---- the peers' FGSM table ------------------------------------------------------ */

static const char *const table_eps[] = {"0.01", "0.02", "0.05", "0.1"};

static void fgsm_table(const char *model, const char *engine, int first, int last)
{
    fc_dataset d;
    load_peers(&d, 0);
    ck_assert_int_eq(d.n, 512);
    fc_model *m = open_peer(model, engine);
    for (int e = first; e <= last; e++) {
        fc_attack_config c;
        config(&c, FC_ATTACK_FGSM, atof(table_eps[e]));
        fc_attack_result r;
        attack(m, NULL, &d, &c, &r);
        double want = peer_fgsm_acc(model, table_eps[e]);
        printf("fgsm %-6s %-7s eps %-4s: robust accuracy %.6f, peers (ORT) %.6f, diff %+.4f; "
               "clean %.4f, flip rate %.4f, confidence drop mean %.3f p50 %.3f p95 %.3f\n",
               model, engine, table_eps[e], r.robust_accuracy, want, r.robust_accuracy - want,
               r.clean_accuracy, r.flip_rate, r.confidence_drop.mean, r.confidence_drop.p50,
               r.confidence_drop.p95);
        ck_assert_msg(fabs(r.robust_accuracy - want) <= 0.006,
                      "%s eps %s: robust accuracy %.6f, peers %.6f", model, table_eps[e],
                      r.robust_accuracy, want);
        /* Every adversarial stays in the eps box and in [0, 1]. */
        for (int64_t i = 0; i < r.n; i++)
            ck_assert(r.records[i].linf <= c.eps + 1e-6);
        fc_attack_result_free(&r);
    }
    fflush(stdout);
    fc_model_free(m);
    fc_dataset_free(&d);
}

START_TEST(fgsm_table_matches_peers_cnn) { fgsm_table("cnn", "f32", 0, 3); }
END_TEST

START_TEST(fgsm_table_matches_peers_resnet) { fgsm_table("resnet", "f32", 0, 3); }
END_TEST

START_TEST(fgsm_table_matches_peers_cnn_on_the_oracle) { fgsm_table("cnn", "f32-ref", 2, 2); }
END_TEST

/* ---- PGD ------------------------------------------------------------------------ */

START_TEST(pgd_beats_fgsm_on_every_peer_model)
{
    const char *model = peer_models[_i];
    fc_dataset d;
    load_peers(&d, N_PGD);
    fc_model *m = open_peer(model, "f32");
    fc_attack_config c;
    fc_attack_result f, p;
    config(&c, FC_ATTACK_FGSM, 0.05);
    attack(m, NULL, &d, &c, &f);
    config(&c, FC_ATTACK_PGD, 0.05);
    c.seed = 1;
    attack(m, NULL, &d, &c, &p);
    ck_assert(fabs(p.config.step_size - 0.0125) < 1e-12);
    printf("eps 0.05 %-9s on %lld images: FGSM robust accuracy %.4f, PGD-10 %.4f "
           "(flip rate %.4f, confidence drop mean %.3f)\n", model, (long long)d.n,
           f.robust_accuracy, p.robust_accuracy, p.flip_rate, p.confidence_drop.mean);
    fflush(stdout);
    ck_assert_msg(p.robust_accuracy < f.robust_accuracy, "%s: PGD %.4f is not below FGSM %.4f",
                  model, p.robust_accuracy, f.robust_accuracy);
    for (int64_t i = 0; i < p.n; i++)
        ck_assert(p.records[i].linf <= 0.05 + 1e-6);
    fc_attack_result_free(&f);
    fc_attack_result_free(&p);
    fc_model_free(m);
    fc_dataset_free(&d);
}
END_TEST

/* ---- boundary -------------------------------------------------------------------- */

START_TEST(boundary_finds_adversarials_for_95_percent)
{
    fc_dataset all, d;
    load_peers(&all, 0);
    fc_model *m = open_peer("cnn", "f32");
    correct_subset(m, &all, N_BOUNDARY, &d);
    fc_attack_config c;
    config(&c, FC_ATTACK_BOUNDARY, 0);
    c.queries = Q_BOUNDARY;
    fc_attack_result r;
    attack(m, NULL, &d, &c, &r);
    int64_t ok = 0, max_q = 0;
    for (int64_t i = 0; i < r.n; i++) {
        const fc_attack_record *k = &r.records[i];
        ck_assert(k->attacked);
        ok += k->success;
        max_q = k->queries > max_q ? k->queries : max_q;
        if (k->success) /* adversarial on the attacked model, which also judges */
            ck_assert_int_ne(k->adv_top1, k->label);
    }
    printf("boundary cnn: %lld/%lld correctly classified images made adversarial within %lld "
           "queries (max used %lld); L2 median %.4f (p10 %.4f, p95 %.4f), Linf median %.4f, "
           "queries median %.0f\n", (long long)ok, (long long)r.n, (long long)c.queries,
           (long long)max_q, r.l2.p50, r.l2.p10, r.l2.p95, r.linf.p50, r.queries.p50);
    fflush(stdout);
    ck_assert_int_le(max_q, c.queries);
    ck_assert_int_ge(ok * 100, 95 * r.n);
    ck_assert(fabs(r.boundary_success_rate - (double)ok / (double)r.n) < 1e-12);
    ck_assert(r.l2.p50 > 0 && isfinite(r.l2.p50));
    fc_attack_result_free(&r);
    fc_free(d.labels);
    fc_tensor_release(&d.images);
    fc_model_free(m);
    fc_dataset_free(&all);
}
END_TEST

/* ---- determinism, transfer, mineps ------------------------------------------------- */

static void expect_same(const fc_attack_result *a, const fc_attack_result *b, const char *what)
{
    ck_assert_msg(fc_tensor_bytes(&a->adv) == fc_tensor_bytes(&b->adv) &&
                  !memcmp(a->adv.data, b->adv.data, fc_tensor_bytes(&a->adv)),
                  "%s: adversarial images differ", what);
    for (int64_t i = 0; i < a->n; i++) {
        ck_assert_int_eq(a->records[i].adv_top1, b->records[i].adv_top1);
        ck_assert_int_eq(a->records[i].queries, b->records[i].queries);
    }
    ck_assert(a->robust_accuracy == b->robust_accuracy);
}

START_TEST(same_seed_same_images_whatever_the_batch)
{
    fc_dataset d;
    load_peers(&d, 40);
    fc_model *m = open_peer("cnn", "f32");
    fc_attack_config c;
    fc_attack_result a, b, e, q1, q2;
    config(&c, FC_ATTACK_PGD, 0.05);
    c.seed = 42;
    attack(m, NULL, &d, &c, &a);
    attack(m, NULL, &d, &c, &b);
    expect_same(&a, &b, "pgd, same seed twice");
    fc_attack_result_free(&b);
    c.batch = 7;
    attack(m, NULL, &d, &c, &b);
    expect_same(&a, &b, "pgd, batch 64 vs 7");
    fc_attack_result_free(&b);
    c.seed = 43;
    attack(m, NULL, &d, &c, &e);
    ck_assert_msg(memcmp(a.adv.data, e.adv.data, fc_tensor_bytes(&a.adv)) != 0,
                  "another seed gave the same random start");
    /* The boundary attack draws from each image's own stream too. */
    config(&c, FC_ATTACK_BOUNDARY, 0);
    c.queries = 300;
    c.seed = 5;
    c.batch = 40;
    attack(m, NULL, &d, &c, &q1);
    c.batch = 3;
    attack(m, NULL, &d, &c, &q2);
    expect_same(&q1, &q2, "boundary, batch 40 vs 3");
    fc_attack_result_free(&a);
    fc_attack_result_free(&e);
    fc_attack_result_free(&q1);
    fc_attack_result_free(&q2);
    fc_model_free(m);
    fc_dataset_free(&d);
}
END_TEST

START_TEST(transfer_from_f32_judged_by_the_oracle)
{
    fc_dataset d;
    load_peers(&d, FC_SLOW_BUILD ? 64 : 128);
    fc_model *f32 = open_peer("cnn", "f32"), *ref = open_peer("cnn", "f32-ref");
    fc_attack_config c;
    fc_attack_result own, tr;
    config(&c, FC_ATTACK_FGSM, 0.05);
    attack(f32, NULL, &d, &c, &own);
    attack(f32, ref, &d, &c, &tr);
    printf("transfer cnn eps 0.05, %lld images: crafted and judged on f32 %.4f; judged on "
           "f32-ref %.4f (clean %.4f vs %.4f, flip rate %.4f vs %.4f)\n", (long long)d.n,
           own.robust_accuracy,
           tr.robust_accuracy, own.clean_accuracy, tr.clean_accuracy, own.flip_rate,
           tr.flip_rate);
    fflush(stdout);
    ck_assert(memcmp(own.adv.data, tr.adv.data, fc_tensor_bytes(&own.adv)) == 0);
    ck_assert(tr.source_robust_accuracy == own.robust_accuracy);
    ck_assert(fabs(tr.robust_accuracy - own.robust_accuracy) <= 2.0 / (double)d.n);
    ck_assert(fabs(tr.flip_rate - own.flip_rate) <= 2.0 / (double)d.n);
    ck_assert(fabs(tr.confidence_drop.mean - own.confidence_drop.mean) < 1e-3);
    fc_attack_result_free(&own);
    fc_attack_result_free(&tr);
    fc_model_free(f32);
    fc_model_free(ref);
    fc_dataset_free(&d);
}
END_TEST

START_TEST(mineps_pgd_needs_no_more_than_fgsm)
{
    fc_dataset d;
    load_peers(&d, FC_SLOW_BUILD ? 24 : 64);
    fc_model *m = open_peer("cnn", "f32");
    fc_attack_config c;
    config(&c, FC_ATTACK_MINEPS, 0.3);
    fc_attack_result r;
    attack(m, NULL, &d, &c, &r);
    int64_t le = 0, both = 0;
    for (int64_t i = 0; i < r.n; i++) {
        const fc_attack_record *k = &r.records[i];
        bool wrong = k->clean_top1 != k->label;
        ck_assert(!wrong || (k->min_eps_fgsm == 0.0 && k->min_eps_pgd == 0.0));
        if (k->min_eps_fgsm >= 0 && k->min_eps_pgd >= 0) {
            both++;
            le += k->min_eps_pgd <= k->min_eps_fgsm + r.tolerance;
        }
        /* The stored adversarial is the one at the smallest eps found. */
        double best = fmin(k->min_eps_fgsm >= 0 ? k->min_eps_fgsm : INFINITY,
                           k->min_eps_pgd >= 0 ? k->min_eps_pgd : INFINITY);
        if (isfinite(best))
            ck_assert(k->linf <= best + 1e-6 && k->adv_top1 != k->label);
    }
    printf("mineps cnn, %lld images (tolerance %.5f): fgsm found %lld, min %.4f p10 %.4f "
           "median %.4f; pgd found %lld, min %.4f p10 %.4f median %.4f; pgd <= fgsm for "
           "%lld/%lld\n", (long long)r.n, r.tolerance, (long long)r.found_fgsm,
           r.min_eps_fgsm.min, r.min_eps_fgsm.p10, r.min_eps_fgsm.p50, (long long)r.found_pgd,
           r.min_eps_pgd.min, r.min_eps_pgd.p10, r.min_eps_pgd.p50, (long long)le,
           (long long)both);
    fflush(stdout);
    ck_assert_int_gt(both, r.n / 2);
    ck_assert_int_ge(le * 10, both * 9);
    ck_assert(r.min_eps_pgd.p50 <= r.min_eps_fgsm.p50);
    fc_attack_result_free(&r);
    fc_model_free(m);
    fc_dataset_free(&d);
}
END_TEST

START_TEST(targeted_attacks_reach_the_least_likely_class)
{
    fc_dataset d;
    load_peers(&d, 64);
    fc_model *m = open_peer("cnn", "f32");
    fc_attack_config c;
    config(&c, FC_ATTACK_PGD, 0.1);
    c.steps = 20;
    c.target = FC_TARGET_LEAST_LIKELY;
    fc_attack_result r;
    attack(m, NULL, &d, &c, &r);
    int64_t hit = 0;
    for (int64_t i = 0; i < r.n; i++) {
        ck_assert(r.records[i].target >= 0 && r.records[i].target < 10);
        hit += r.records[i].adv_top1 == r.records[i].target;
    }
    printf("targeted PGD-20 eps 0.1 to the least likely class, cnn: %lld/%lld hit\n",
           (long long)hit, (long long)r.n);
    fflush(stdout);
    ck_assert(fabs(r.attack_success_rate - (double)hit / (double)r.n) < 1e-12);
    /* Descending the wrong way would leave the least likely class ~never hit. */
    ck_assert_int_ge(hit * 4, r.n);
    fc_attack_result_free(&r);
    fc_model_free(m);
    fc_dataset_free(&d);
}
END_TEST

/* ---- helpers and refusals ------------------------------------------------------------ */

START_TEST(percentiles_follow_numpy)
{
    const double v[] = {4, NAN, 1, 3, 2};
    fc_stats s;
    fc_err err;
    ck_assert_int_eq(fc_stats_compute(v, 5, &s, &err), FC_OK);
    /* np.percentile([1, 2, 3, 4], [10, 50, 95]) = 1.3, 2.5, 3.85 */
    ck_assert_int_eq(s.n, 4);
    ck_assert(fabs(s.p10 - 1.3) < 1e-12 && fabs(s.p50 - 2.5) < 1e-12 &&
              fabs(s.p95 - 3.85) < 1e-12);
    ck_assert(s.mean == 2.5 && s.min == 1 && s.max == 4);
    ck_assert_int_eq(fc_stats_compute(v, 0, &s, &err), FC_OK);
    ck_assert(s.n == 0 && isnan(s.p50));
    const double one[] = {7};
    ck_assert(fc_percentile_sorted(one, 1, 95) == 7);
}
END_TEST

START_TEST(bad_configurations_are_refused_by_name)
{
    fc_dataset d;
    load_peers(&d, 4);
    fc_model *m = open_peer("cnn", "f32");
    fc_attack_config c;
    fc_attack_result r;
    fc_err err;
    config(&c, FC_ATTACK_FGSM, 2.0);
    ck_assert_int_eq(fc_attack_run(m, NULL, &d, &c, &r, &err), FC_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "eps"));
    ck_assert_ptr_null(r.records);
    config(&c, FC_ATTACK_BOUNDARY, 0);
    c.target = 3;
    ck_assert_int_eq(fc_attack_run(m, NULL, &d, &c, &r, &err), FC_ERR_UNSUPPORTED);
    config(&c, FC_ATTACK_PGD, 0.1);
    c.target = 10;
    ck_assert_int_eq(fc_attack_run(m, NULL, &d, &c, &r, &err), FC_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "target"));
    config(&c, FC_ATTACK_MINEPS, 0.3);
    c.mineps_of = 0;
    ck_assert_int_eq(fc_attack_run(m, NULL, &d, &c, &r, &err), FC_ERR_INVALID_ARG);
    config(&c, FC_ATTACK_FGSM, 0.1);
    d.labels[2] = 11;
    ck_assert_int_eq(fc_attack_run(m, NULL, &d, &c, &r, &err), FC_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "label 11"));
    /* Without labels the attack model's own answers stand in. */
    fc_free(d.labels);
    d.labels = NULL;
    ck_assert_int_eq(fc_attack_run(m, NULL, &d, &c, &r, &err), FC_OK);
    ck_assert(isnan(r.clean_accuracy) && isnan(r.robust_accuracy) && !isnan(r.flip_rate));
    fc_attack_result_free(&r);
    fc_model_free(m);
    fc_dataset_free(&d);
}
END_TEST

/* Every allocation of a small run of each attack fails in turn: each must
 * end in FC_ERR_NOMEM with an empty result (ASan checks for leaks). */
START_TEST(every_allocation_failure_in_an_attack_ends_in_nomem)
{
    static const fc_attack_kind kinds[] = {FC_ATTACK_FGSM, FC_ATTACK_PGD, FC_ATTACK_MINEPS,
                                           FC_ATTACK_BOUNDARY};
    fc_attack_kind kind = kinds[_i];
    fc_dataset d;
    load_peers(&d, 3);
    fc_attack_config c;
    config(&c, kind, kind == FC_ATTACK_MINEPS ? 0.3 : 0.05);
    c.steps = 2;
    c.search_steps = 2;
    c.queries = 20;
    c.batch = 2;   /* two chunks */
    long total = -1;
    for (long k = -1; k <= total || total < 0; k++) {
        fc_model *m = open_peer("cnn", "f32");
        fc_attack_result r;
        fc_err err;
        unsigned long before = fc_alloc_count();
        fc_alloc_fail_after(k);   /* k = -1: no failure, counts the allocations */
        fc_status st = fc_attack_run(m, NULL, &d, &c, &r, &err);
        fc_alloc_fail_reset();
        if (k < 0) {
            ck_assert_msg(st == FC_OK, "%s", err.msg);
            total = (long)(fc_alloc_count() - before);
        } else if (k < total) {
            ck_assert_msg(st == FC_ERR_NOMEM, "%s, k=%ld: %s: %s", fc_attack_kind_name(kind), k,
                          fc_status_name(st), err.msg);
            ck_assert(r.records == NULL && r.adv.data == NULL);
        } else {
            ck_assert_msg(st == FC_OK, "k=%ld: %s", k, err.msg);
        }
        fc_attack_result_free(&r);
        fc_model_free(m);
    }
    printf("%s on 3 images: %ld allocations, each failed in turn\n", fc_attack_kind_name(kind),
           total);
    fflush(stdout);
    fc_dataset_free(&d);
}
END_TEST

/* ---- the command ----------------------------------------------------------------------- */

/* Runs flipcheck with args (NULL-terminated); stdout into *out (fc_malloc'd).
 * A failure must leave exactly one line on stderr. */
static int run_cli(const char *const *args, char **out)
{
    char path[] = "/tmp/fc_attack_out_XXXXXX", epath[] = "/tmp/fc_attack_err_XXXXXX";
    int fd = mkstemp(path), fe = mkstemp(epath);
    ck_assert(fd >= 0 && fe >= 0);
    const char *argv[40] = {FLIPCHECK_BIN};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (dup2(fd, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execv(FLIPCHECK_BIN, (char *const *)argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(fd);
    close(fe);
    uint8_t *text, *etext;
    size_t len, elen;
    fc_err err;
    ck_assert_int_eq(fc_file_read_all(path, 1 << 26, "output", &text, &len, &err), FC_OK);
    ck_assert_int_eq(fc_file_read_all(epath, 1 << 20, "errors", &etext, &elen, &err), FC_OK);
    unlink(path);
    unlink(epath);
    *out = (char *)text;
    ck_assert_msg(WIFEXITED(status), "killed; stderr: %s", (char *)etext);
    int code = WEXITSTATUS(status);
    ck_assert_msg(!strstr((char *)etext, "Sanitizer") && !strstr((char *)etext, "runtime error"),
                  "sanitizer report: %s", (char *)etext);
    if (code != 0)
        ck_assert_msg(elen > 1 && etext[elen - 1] == '\n' && !memchr(etext, '\n', elen - 1),
                      "stderr is not one line: '%s'", (char *)etext);
    else
        ck_assert_msg(elen == 0, "stderr on success: %s", (char *)etext);
    fc_free(etext);
    return code;
}

START_TEST(cli_attack_json_out_and_usage_errors)
{
    char dir[] = "/tmp/fc_attack_dir_XXXXXX", *out;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *args[] = {"attack", "--model", PEERS "/cnn.onnx", "--attack", "fgsm", "--eps",
                          "8/255", "--labels", PEERS "/test_labels.npy", "--max-images", "16",
                          "--out", dir, "--json", PEERS "/test_images_u8.npy", NULL};
    ck_assert_int_eq(run_cli(args, &out), 0);
    cJSON *j = cJSON_Parse(out);
    ck_assert_msg(j != NULL, "not JSON: %s", out);
    const char *keys[] = {"attack", "eps", "engine", "eval_engine", "n", "clean_accuracy",
                          "robust_accuracy", "flip_rate", "confidence_drop"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        ck_assert_msg(cJSON_HasObjectItem(j, keys[k]), "no %s in %s", keys[k], out);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "attack")->valuestring, "fgsm");
    ck_assert_int_eq(cJSON_GetObjectItem(j, "n")->valueint, 16);
    ck_assert(fabs(cJSON_GetObjectItem(j, "eps")->valuedouble - 8.0 / 255) < 1e-12);
    cJSON *cd = cJSON_GetObjectItem(j, "confidence_drop");
    ck_assert(cJSON_HasObjectItem(cd, "mean") && cJSON_HasObjectItem(cd, "p50") &&
              cJSON_HasObjectItem(cd, "p95"));
    cJSON_Delete(j);
    fc_free(out);

    /* --out: one PNG per image, within eps of the clean image, and records. */
    char path[256];
    snprintf(path, sizeof path, "%s/adv_00015.png", dir);
    fc_tensor png;
    fc_err err;
    ck_assert_int_eq(fc_png_read(path, 1, NULL, &png, NULL, &err), FC_OK);
    fc_dataset d;
    load_peers(&d, 16);
    const float *clean = (const float *)d.images.data + 15 * 784, *adv = png.data;
    for (int i = 0; i < 784; i++)
        ck_assert(fabsf(adv[i] - clean[i]) <= 8.0f / 255 + 0.6f / 255);
    fc_tensor_release(&png);
    fc_dataset_free(&d);
    snprintf(path, sizeof path, "%s/records.json", dir);
    uint8_t *text;
    size_t len;
    ck_assert_int_eq(fc_file_read_all(path, 1 << 24, "records", &text, &len, &err), FC_OK);
    j = cJSON_Parse((const char *)text);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")), 16);
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(j, "summary"));
    cJSON_Delete(j);
    fc_free(text);
    for (int i = 0; i < 16; i++) {
        snprintf(path, sizeof path, "%s/adv_%05d.png", dir, i);
        ck_assert_int_eq(unlink(path), 0);
    }
    snprintf(path, sizeof path, "%s/records.json", dir);
    unlink(path);
    rmdir(dir);

    const char *boundary[] = {"attack", "--model", PEERS "/cnn.onnx", "--attack", "boundary",
                              "--queries", "150", "--max-images", "3", "--labels",
                              PEERS "/test_labels.npy", "--json", PEERS "/test_images_u8.npy",
                              NULL};
    ck_assert_int_eq(run_cli(boundary, &out), 0);
    j = cJSON_Parse(out);
    ck_assert_ptr_nonnull(j);
    ck_assert(cJSON_HasObjectItem(j, "success_rate") && cJSON_HasObjectItem(j, "l2"));
    cJSON_Delete(j);
    fc_free(out);

    const char *const bad[][8] = {
        {"attack", "--model", PEERS "/cnn.onnx", PEERS "/test_images_u8.npy", NULL},
        {"attack", "--model", PEERS "/cnn.onnx", "--attack", "cw", PEERS "/test_images_u8.npy",
         NULL},
        {"attack", "--model", PEERS "/cnn.onnx", "--attack", "fgsm", "--eps", "2", NULL},
        {"attack", "--model", PEERS "/cnn.onnx", "--attack", "boundary", "--target", "3", NULL},
        {"attack", "--model", PEERS "/cnn.onnx", "--attack", "fgsm", "/nonexistent.npy", NULL},
        {"attack", "--model", "/nonexistent.onnx", "--attack", "fgsm", "x.npy", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(run_cli(bad[i], &out) == 2, "case %zu did not exit 2", i);
        ck_assert_str_eq(out, "");
        fc_free(out);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("attacks");
    /* CK_RUN_CASE=units or CK_RUN_CASE=peers runs one half. */
    TCase *u = tcase_create("units"), *p = tcase_create("peers");
    tcase_set_timeout(u, 1200);
    tcase_set_timeout(p, 1200);
    tcase_add_test(u, percentiles_follow_numpy);
    tcase_add_test(u, bad_configurations_are_refused_by_name);
    tcase_add_loop_test(u, every_allocation_failure_in_an_attack_ends_in_nomem, 0, 4);
    tcase_add_test(u, same_seed_same_images_whatever_the_batch);
    tcase_add_test(u, transfer_from_f32_judged_by_the_oracle);
    tcase_add_test(u, mineps_pgd_needs_no_more_than_fgsm);
    tcase_add_test(u, targeted_attacks_reach_the_least_likely_class);
    tcase_add_test(u, cli_attack_json_out_and_usage_errors);
    tcase_add_test(p, fgsm_table_matches_peers_cnn);
    tcase_add_test(p, fgsm_table_matches_peers_resnet);
    /* The oracle's gradients are plain loops: minutes under sanitizers. */
    if (!FC_SLOW_BUILD)
        tcase_add_test(p, fgsm_table_matches_peers_cnn_on_the_oracle);
    tcase_add_loop_test(p, pgd_beats_fgsm_on_every_peer_model, 0, 4);
    tcase_add_test(p, boundary_finds_adversarials_for_95_percent);
    suite_add_tcase(s, u);
    suite_add_tcase(s, p);
    return s;
}

int main(void)
{
    /* cJSON allocates through our allocator, as in the CLI. */
    cJSON_Hooks hooks = {fc_malloc, fc_free};
    cJSON_InitHooks(&hooks);
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
