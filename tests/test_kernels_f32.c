/* The f32 kernels against the f32-ref oracle, called directly through the
 * kernel tables on single nodes built in memory: Conv and the pools on
 * shapes chosen to take every path of the fast engine (Winograd, the small
 * product, both OpenBLAS layouts, depthwise, the 2x2 pool), odd sizes,
 * pads, strides, dilations, groups, 1-D and 3-D, batch 1 and 64, fused
 * Relu/Clip, NaN and infinities; each with the AVX2 code and the portable
 * code, and with one and two threads (which must agree bit for bit). */
#include <cblas.h>
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "engines/f32/f32_internal.h"
#include "engines/fc_kernel.h"
#include "engines/fc_workspace.h"
#include "onnx/fc_opattr.h"

/* ---- scaffolding ---------------------------------------------------------- */

#define MAX_ATTRS 8

typedef struct test_node {
    fc_node node;
    fc_attr attrs[MAX_ATTRS];
    int64_t ints[MAX_ATTRS][6];
} test_node;

static fc_workspace *ws;
static int blas_threads;   /* OpenBLAS's count at start, restored after each test */

static void setup(void)
{
    ws = fc_workspace_create();
    ck_assert_ptr_nonnull(ws);
    blas_threads = openblas_get_num_threads();
}

static void teardown(void)
{
    fc_workspace_free(ws);
    ws = NULL;
    fc_f32_set_portable(false);
    openblas_set_num_threads(blas_threads);
}

static void node_init(test_node *t, const char *op)
{
    memset(t, 0, sizeof *t);
    t->node.name = (char *)"n";
    t->node.op_type = (char *)op;
    t->node.domain = (char *)"";
    t->node.opset = 13;
    t->node.attrs = t->attrs;
}

static void attr_int(test_node *t, const char *name, int64_t v)
{
    ck_assert_int_lt(t->node.n_attrs, MAX_ATTRS);
    fc_attr *a = &t->attrs[t->node.n_attrs++];
    a->name = (char *)name;
    a->type = FC_ATTR_INT;
    a->i = v;
}

static void attr_ints(test_node *t, const char *name, const int64_t *v, int n)
{
    ck_assert_int_lt(t->node.n_attrs, MAX_ATTRS);
    ck_assert_int_le(n, 6);
    int64_t *store = t->ints[t->node.n_attrs];
    memcpy(store, v, (size_t)n * sizeof *v);
    fc_attr *a = &t->attrs[t->node.n_attrs++];
    a->name = (char *)name;
    a->type = FC_ATTR_INTS;
    a->ints = store;
    a->n = (size_t)n;
}

static fc_tensor make(int rank, const int64_t *dims)
{
    fc_tensor t;
    fc_err err;
    ck_assert_int_eq(fc_tensor_alloc(&t, FC_DT_F32, rank, dims, &err), FC_OK);
    return t;
}

static void fill(fc_tensor *t, unsigned seed, float lo, float hi)
{
    float *d = t->data;
    for (size_t i = 0; i < t->numel; i++) {
        seed = seed * 1664525u + 1013904223u;
        d[i] = lo + (hi - lo) * (float)(seed >> 8) / (float)(1u << 24);
    }
}

static const fc_kernel_def *find(const fc_kernel_table *tab, const char *op)
{
    for (int i = 0; i < tab->count; i++)
        if (strcmp(tab->defs[i].name, op) == 0)
            return &tab->defs[i];
    ck_abort_msg("%s has no %s", tab->engine, op);
    return NULL;
}

typedef enum { ACT_NONE, ACT_RELU, ACT_CLIP } act_kind;

static const float clip_lo = -0.25f, clip_hi = 0.5f;

/* Runs the node on `tab`'s kernel; the f32 engine gets the activation
 * fused, the oracle (which cannot fuse) has it applied afterwards. */
static void run(const fc_kernel_table *tab, test_node *t, const fc_tensor **in, int n_in,
                fc_tensor *out, act_kind act)
{
    const fc_kernel_def *def = find(tab, t->node.op_type);
    const bool fuse = act != ACT_NONE && (def->flags & FC_KERNEL_FUSES_ACTIVATION);
    fc_tensor *outs[] = {out};
    fc_kernel_ctx k = {.node = &t->node, .in = in, .n_in = n_in, .out = outs, .n_out = 1,
                       .ws = ws, .act = fuse ? FC_ACT_CLAMP : FC_ACT_NONE,
                       .act_min = act == ACT_CLIP ? clip_lo : 0.0f,
                       .act_max = act == ACT_CLIP ? clip_hi : __builtin_inff()};
    fc_err err;
    fc_err_clear(&err);
    fc_status st = def->forward(&k, &err);
    ck_assert_msg(st == FC_OK, "%s %s: %s", tab->engine, t->node.op_type, err.msg);
    if (act != ACT_NONE && !fuse) {
        float *d = out->data;
        for (size_t i = 0; i < out->numel; i++) {
            float v = d[i] < k.act_min ? k.act_min : d[i];
            d[i] = v > k.act_max ? k.act_max : v;
        }
    }
}

/* |got - want| <= tol * (1 + |want|), NaN where the oracle has NaN, equal
 * infinities. */
static void compare(const char *what, const fc_tensor *got, const fc_tensor *want, double tol)
{
    ck_assert_uint_eq(got->numel, want->numel);
    const float *g = got->data, *w = want->data;
    for (size_t i = 0; i < got->numel; i++) {
        if (isnan(w[i]) || isinf(w[i])) {
            ck_assert_msg(isnan(w[i]) ? isnan(g[i]) : g[i] == w[i],
                          "%s: element %zu is %g, f32-ref has %g", what, i, g[i], w[i]);
            continue;
        }
        ck_assert_msg(fabs((double)g[i] - w[i]) <= tol * (1.0 + fabs(w[i])),
                      "%s: element %zu is %.9g, f32-ref has %.9g", what, i, g[i], w[i]);
    }
}

static void same_bits(const char *what, const fc_tensor *a, const fc_tensor *b)
{
    ck_assert_msg(memcmp(a->data, b->data, fc_tensor_bytes(a)) == 0,
                  "%s: one and two threads give different bits", what);
}

/* ---- Conv ----------------------------------------------------------------- */

typedef struct conv_case {
    const char *name;
    int nsp;
    int64_t n, c, m, group;
    int64_t in[3], k[3], s[3], d[3], pads[6];
    bool bias;
    act_kind act;
} conv_case;

#define S1 {1, 1, 1}
static const conv_case conv_cases[] = {
    /* The peer cnn, batch 64: small-K im2col (K = 9), then Winograd. */
    {"cnn conv1", 2, 64, 1, 32, 1, {28, 28}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_RELU},
    {"cnn conv2", 2, 64, 32, 64, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_RELU},
    /* Winograd: channel counts off the multiple of 8, odd sizes, rows of
     * 8 or more outputs with a ragged end, rows narrower than 8. */
    {"winograd odd", 2, 3, 17, 19, 1, {9, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_NONE},
    {"winograd narrow", 2, 2, 16, 16, 1, {5, 3}, {3, 3}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, ACT_CLIP},
    {"winograd uneven pads", 2, 2, 24, 40, 1, {12, 20}, {3, 3}, {1, 1}, {1, 1}, {2, 0, 1, 2}, false, ACT_RELU},
    {"winograd wide", 2, 1, 16, 32, 1, {6, 70}, {3, 3}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, ACT_NONE},
    {"winograd blocks", 2, 2, 32, 48, 1, {64, 61}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_NONE},
    {"winograd batch 1", 2, 1, 64, 64, 1, {28, 28}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_RELU},
    {"winograd big pads", 2, 2, 16, 16, 1, {3, 4}, {3, 3}, {1, 1}, {1, 1}, {3, 2, 4, 5}, true, ACT_NONE},
    /* Small K: pointwise, 1-D with stride, dilation and pads, groups, a
     * channel multiplier, 3-D, many row chunks. */
    {"pointwise small", 2, 5, 8, 24, 1, {10, 10}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, ACT_RELU},
    {"1-D", 1, 3, 4, 6, 1, {37}, {5}, {2}, {2}, {3, 1}, true, ACT_NONE},
    {"groups small K", 2, 4, 8, 8, 2, {9, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_CLIP},
    {"channel multiplier", 2, 3, 8, 16, 8, {11, 7}, {3, 3}, {2, 1}, {1, 1}, {1, 0, 1, 0}, true, ACT_NONE},
    {"3-D small K", 3, 2, 3, 5, 1, {5, 7, 6}, {2, 3, 3}, {1, 2, 1}, {1, 1, 1}, {1, 1, 0, 0, 1, 1}, true, ACT_NONE},
    {"small K chunks", 2, 1, 1, 8, 1, {200, 190}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_RELU},
    /* Moderate K with many outputs per image: also the small product. */
    {"mid K", 2, 2, 16, 8, 1, {24, 24}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_RELU},
    {"mid K pointwise", 2, 4, 96, 32, 1, {16, 16}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, ACT_CLIP},
    {"mid K dilated", 2, 2, 16, 20, 1, {13, 13}, {3, 3}, {1, 1}, {2, 2}, {2, 2, 2, 2}, true, ACT_NONE},
    {"mid K row chunks", 2, 2, 64, 8, 1, {40, 40}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, false, ACT_NONE},
    /* OpenBLAS: large K image by image in row chunks, small maps with the
     * batch folded, pointwise both ways, strided 1x1, groups, 3-D. */
    {"blas wide", 2, 2, 80, 8, 1, {20, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_RELU},
    {"blas pointwise wide", 2, 2, 640, 8, 1, {16, 16}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, ACT_NONE},
    {"blas folded", 2, 13, 32, 48, 1, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, true, ACT_RELU},
    {"blas strided 1x1", 2, 3, 80, 16, 1, {9, 9}, {1, 1}, {2, 2}, {1, 1}, {0, 0, 0, 0}, true, ACT_NONE},
    {"blas pointwise folded", 2, 6, 96, 32, 1, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, ACT_NONE},
    {"blas groups", 2, 3, 32, 32, 2, {10, 10}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_RELU},
    {"blas 3-D", 3, 2, 8, 4, 1, {4, 6, 5}, {3, 3, 3}, S1, S1, {1, 1, 1, 1, 1, 1}, true, ACT_NONE},
    /* Depthwise: direct loops. */
    {"depthwise strided", 2, 3, 16, 16, 16, {15, 15}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, true, ACT_CLIP},
    {"depthwise dilated", 2, 2, 8, 8, 8, {12, 9}, {3, 3}, {1, 1}, {2, 1}, {2, 1, 2, 1}, false, ACT_NONE},
    {"depthwise 5x5 batch 64", 2, 64, 32, 32, 32, {14, 14}, {5, 5}, {1, 1}, {1, 1}, {2, 2, 2, 2}, true, ACT_RELU},
    {"depthwise stride 3", 2, 2, 4, 4, 4, {16, 11}, {3, 3}, {3, 3}, {1, 1}, {0, 1, 2, 0}, true, ACT_NONE},
    {"depthwise unequal strides", 2, 2, 6, 6, 6, {9, 10}, {3, 3}, {1, 2}, {1, 1}, {1, 1, 1, 1}, true, ACT_NONE},
    {"depthwise 3-D", 3, 2, 4, 4, 4, {3, 5, 6}, {2, 3, 3}, {1, 1, 2}, S1, {0, 1, 1, 1, 1, 0}, true, ACT_NONE},
    {"depthwise 1-D", 1, 3, 5, 5, 5, {40}, {7}, {1}, {1}, {3, 3}, true, ACT_CLIP},
};

typedef struct conv_data {
    test_node node;
    fc_tensor x, w, b, y_fast, y_ref;
    const fc_tensor *in[3];
    int n_in;
} conv_data;

static void conv_build(const conv_case *cc, conv_data *D, unsigned seed)
{
    node_init(&D->node, "Conv");
    attr_ints(&D->node, "kernel_shape", cc->k, cc->nsp);
    attr_ints(&D->node, "strides", cc->s, cc->nsp);
    attr_ints(&D->node, "dilations", cc->d, cc->nsp);
    attr_ints(&D->node, "pads", cc->pads, 2 * cc->nsp);
    attr_int(&D->node, "group", cc->group);
    int64_t xd[5] = {cc->n, cc->c}, wd[5] = {cc->m, cc->c / cc->group}, yd[5] = {cc->n, cc->m};
    for (int i = 0; i < cc->nsp; i++) {
        xd[2 + i] = cc->in[i];
        wd[2 + i] = cc->k[i];
    }
    fc_window w;
    fc_err err;
    ck_assert_msg(fc_window_decode(&D->node.node, cc->nsp, xd + 2, wd + 2, false, &w, &err) == FC_OK,
                  "%s: %s", cc->name, err.msg);
    for (int i = 0; i < cc->nsp; i++)
        yd[2 + i] = w.out[i];
    const int rank = 2 + cc->nsp;
    D->x = make(rank, xd);
    D->w = make(rank, wd);
    D->b = make(1, (const int64_t[]){cc->m});
    D->y_fast = make(rank, yd);
    D->y_ref = make(rank, yd);
    fill(&D->x, seed, -1.0f, 1.0f);
    fill(&D->w, seed + 1, -0.5f, 0.5f);
    fill(&D->b, seed + 2, -0.5f, 0.5f);
    D->in[0] = &D->x;
    D->in[1] = &D->w;
    D->in[2] = &D->b;
    D->n_in = cc->bias ? 3 : 2;
}

static void conv_free(conv_data *D)
{
    fc_tensor_release(&D->x);
    fc_tensor_release(&D->w);
    fc_tensor_release(&D->b);
    fc_tensor_release(&D->y_fast);
    fc_tensor_release(&D->y_ref);
}

/* Oracle once; then the fast kernel with AVX2 on one and two threads and
 * with the portable code.  Our own paths give the same bits on any number
 * of threads; OpenBLAS (cases named "blas ...") does not promise that. */
static void conv_check(const conv_case *cc, conv_data *D)
{
    const bool blas = strncmp(cc->name, "blas", 4) == 0;
    char what[128];
    run(&fc_kernels_f32_ref, &D->node, D->in, D->n_in, &D->y_ref, cc->act);
    fc_tensor one = make(D->y_fast.rank, D->y_fast.dims);
    for (int portable = 0; portable < 2; portable++) {
        fc_f32_set_portable(portable);
        openblas_set_num_threads(1);
        run(&fc_kernels_f32, &D->node, D->in, D->n_in, &one, cc->act);
        openblas_set_num_threads(2);
        run(&fc_kernels_f32, &D->node, D->in, D->n_in, &D->y_fast, cc->act);
        snprintf(what, sizeof what, "%s%s", cc->name, portable ? " (portable)" : "");
        compare(what, &D->y_fast, &D->y_ref, 1e-4);
        if (blas)
            compare(what, &one, &D->y_ref, 1e-4);
        else
            same_bits(what, &one, &D->y_fast);
    }
    fc_tensor_release(&one);
}

START_TEST(conv_matches_the_oracle_on_every_path)
{
    const conv_case *cc = &conv_cases[_i];
    conv_data D;
    conv_build(cc, &D, 7u + (unsigned)_i);
    conv_check(cc, &D);
    conv_free(&D);
}
END_TEST

/* Winograd computes a block whose input is not finite directly, so NaN and
 * infinities land exactly where the oracle puts them. */
START_TEST(conv_with_nan_and_inf_inputs_matches_the_oracle)
{
    static const conv_case cases[] = {
        {"winograd nan", 2, 3, 32, 16, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_RELU},
        {"small K nan", 2, 3, 1, 8, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_NONE},
        {"mid K nan", 2, 3, 16, 8, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_NONE},
        {"blas nan", 2, 3, 80, 8, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, ACT_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conv_data D;
        conv_build(&cases[i], &D, 99u);
        float *x = D.x.data;
        const size_t per_image = D.x.numel / (size_t)cases[i].n;
        x[5] = NAN;                                   /* image 0 */
        x[per_image + 40] = __builtin_inff();         /* image 1 */
        x[2 * per_image + 77] = -__builtin_inff();    /* image 2 */
        x[2 * per_image + 78] = __builtin_inff();
        conv_check(&cases[i], &D);
        conv_free(&D);
    }
}
END_TEST

/* ---- the small product on its own ------------------------------------------ */

START_TEST(small_gemm_matches_double_sums_for_every_remainder)
{
    static const size_t ms[] = {1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 19};
    static const size_t ns[] = {1, 5, 8, 15, 16, 17, 31, 33, 64};
    static const size_t ks[] = {0, 1, 7, 32};
    fc_tensor a = make(1, (const int64_t[]){19 * 40}), b = make(1, (const int64_t[]){40 * 70});
    fc_tensor c = make(1, (const int64_t[]){19 * 70}), bias = make(1, (const int64_t[]){19});
    fill(&a, 1, -1, 1);
    fill(&b, 2, -1, 1);
    fill(&bias, 3, -1, 1);
    const float *A = a.data, *B = b.data, *bi = bias.data;
    float *C = c.data;
    for (int portable = 0; portable < 2; portable++) {
        fc_f32_set_portable(portable);
        for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++)
            for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++)
                for (size_t ik = 0; ik < sizeof ks / sizeof ks[0]; ik++) {
                    const size_t m = ms[im], n = ns[in], k = ks[ik];
                    const bool use_bias = (m + n) % 2 == 0;
                    const float lo = k == 7 ? -0.3f : -__builtin_inff(), hi = k == 7 ? 0.4f : __builtin_inff();
                    /* lda 40, ldb 70, ldc 70: wider than the matrices. */
                    for (size_t i = 0; i < 19 * 70; i++)
                        C[i] = 12345.0f;
                    fc_f32_small_gemm(m, n, k, A, 40, B, 70, C, 70, use_bias ? bi : NULL, lo, hi);
                    for (size_t i = 0; i < m; i++)
                        for (size_t j = 0; j < 70; j++) {
                            if (j >= n) {
                                ck_assert_msg(C[i * 70 + j] == 12345.0f, "m%zu n%zu k%zu: wrote past n",
                                              m, n, k);
                                continue;
                            }
                            double s = 0;
                            for (size_t q = 0; q < k; q++)
                                s += (double)A[i * 40 + q] * B[q * 70 + j];
                            s += use_bias ? bi[i] : 0.0;
                            s = s < lo ? lo : s > hi ? hi : s;
                            ck_assert_msg(fabs(C[i * 70 + j] - s) <= 1e-5 * (1 + fabs(s)),
                                          "m%zu n%zu k%zu (%zu,%zu): %g vs %g", m, n, k, i, j,
                                          C[i * 70 + j], s);
                        }
                    ck_assert_msg(m == 19 || C[m * 70] == 12345.0f, "wrote past m");
                }
    }
    fc_tensor_release(&a);
    fc_tensor_release(&b);
    fc_tensor_release(&c);
    fc_tensor_release(&bias);
}
END_TEST

/* ---- pools ----------------------------------------------------------------- */

typedef struct pool_case {
    const char *name;
    const char *op;
    int nsp;
    int64_t n, c;
    int64_t in[3], k[3], s[3], d[3], pads[6];
    bool ceil;
} pool_case;

static const pool_case pool_cases[] = {
    {"cnn pool1", "MaxPool", 2, 64, 32, {28, 28}, {2, 2}, {2, 2}, {1, 1}, {0}, false},
    {"cnn pool2 (rows of 7)", "MaxPool", 2, 64, 64, {14, 14}, {2, 2}, {2, 2}, {1, 1}, {0}, false},
    {"2x2 odd sizes", "MaxPool", 2, 3, 5, {15, 17}, {2, 2}, {2, 2}, {1, 1}, {0}, false},
    {"2x2 ragged rows", "MaxPool", 2, 2, 3, {10, 42}, {2, 2}, {2, 2}, {1, 1}, {0}, false},
    {"2x2 tiny at the end of X", "MaxPool", 2, 1, 1, {4, 6}, {2, 2}, {2, 2}, {1, 1}, {0}, false},
    {"2x2 single column", "MaxPool", 2, 2, 2, {6, 2}, {2, 2}, {2, 2}, {1, 1}, {0}, false},
    {"2x2 ceil mode", "MaxPool", 2, 2, 3, {15, 17}, {2, 2}, {2, 2}, {1, 1}, {0}, true},
    {"2x2x2 3-D", "MaxPool", 3, 2, 2, {4, 6, 8}, {2, 2, 2}, {2, 2, 2}, S1, {0}, false},
    {"depth 1 of 3-D", "MaxPool", 3, 2, 2, {3, 6, 8}, {1, 2, 2}, {1, 2, 2}, S1, {0}, false},
    {"3x3 stride 2 pad 1", "MaxPool", 2, 4, 8, {28, 28}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, false},
    {"3x3 dilated", "MaxPool", 2, 2, 3, {13, 12}, {3, 3}, {1, 1}, {2, 2}, {2, 1, 2, 1}, false},
    {"1-D", "MaxPool", 1, 3, 4, {21}, {3}, {2}, {1}, {1, 1}, true},
    {"avg 3x3 pad", "AveragePool", 2, 3, 4, {11, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, false},
    {"avg 2x2", "AveragePool", 2, 16, 8, {14, 14}, {2, 2}, {2, 2}, {1, 1}, {0}, false},
};

static void pool_check(const pool_case *pc, bool specials, unsigned seed)
{
    test_node t;
    node_init(&t, pc->op);
    attr_ints(&t, "kernel_shape", pc->k, pc->nsp);
    attr_ints(&t, "strides", pc->s, pc->nsp);
    attr_ints(&t, "pads", pc->pads, 2 * pc->nsp);
    if (strcmp(pc->op, "MaxPool") == 0)
        attr_ints(&t, "dilations", pc->d, pc->nsp);
    attr_int(&t, "ceil_mode", pc->ceil);
    int64_t xd[5] = {pc->n, pc->c}, yd[5] = {pc->n, pc->c};
    for (int i = 0; i < pc->nsp; i++)
        xd[2 + i] = pc->in[i];
    fc_window w;
    fc_err err;
    ck_assert_msg(fc_window_decode(&t.node, pc->nsp, xd + 2, NULL, true, &w, &err) == FC_OK, "%s: %s",
                  pc->name, err.msg);
    for (int i = 0; i < pc->nsp; i++)
        yd[2 + i] = w.out[i];
    const int rank = 2 + pc->nsp;
    fc_tensor x = make(rank, xd), fast = make(rank, yd), one = make(rank, yd), ref = make(rank, yd);
    fill(&x, seed, -2.0f, 2.0f);
    if (specials) {
        /* NaN anywhere in a window gives NaN; -inf and +inf are values. */
        float *d = x.data;
        for (size_t i = 0; i < x.numel; i += 37)
            d[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? -__builtin_inff() : __builtin_inff();
        d[x.numel - 1] = NAN;
    }
    const fc_tensor *in[] = {&x};
    run(&fc_kernels_f32_ref, &t, in, 1, &ref, ACT_NONE);
    char what[128];
    for (int portable = 0; portable < 2; portable++) {
        fc_f32_set_portable(portable);
        openblas_set_num_threads(1);
        run(&fc_kernels_f32, &t, in, 1, &one, ACT_NONE);
        openblas_set_num_threads(2);
        run(&fc_kernels_f32, &t, in, 1, &fast, ACT_NONE);
        snprintf(what, sizeof what, "%s%s%s", pc->name, specials ? " with NaN/inf" : "",
                 portable ? " (portable)" : "");
        compare(what, &fast, &ref, 1e-6);
        same_bits(what, &one, &fast);
    }
    fc_tensor_release(&x);
    fc_tensor_release(&fast);
    fc_tensor_release(&one);
    fc_tensor_release(&ref);
}

START_TEST(pools_match_the_oracle)
{
    pool_check(&pool_cases[_i], false, 5u + (unsigned)_i);
}
END_TEST

START_TEST(maxpool_propagates_nan_and_keeps_infinities_like_the_oracle)
{
    if (strcmp(pool_cases[_i].op, "MaxPool") == 0)
        pool_check(&pool_cases[_i], true, 50u + (unsigned)_i);
}
END_TEST

/* With Indices: the same winners (NaN first among them) and indices. */
START_TEST(maxpool_indices_agree_with_the_oracle_on_nan)
{
    test_node t;
    node_init(&t, "MaxPool");
    attr_ints(&t, "kernel_shape", (const int64_t[]){2, 2}, 2);
    attr_ints(&t, "strides", (const int64_t[]){1, 1}, 2);
    fc_tensor x = make(4, (const int64_t[]){1, 2, 3, 3});
    fill(&x, 3, -1, 1);
    float *d = x.data;
    d[4] = NAN;   /* the centre of plane 0: in all four windows */
    d[9 + 8] = __builtin_inff();
    const int64_t yd[] = {1, 2, 2, 2};
    fc_tensor y[2] = {make(4, yd), make(4, yd)};
    fc_tensor ind[2];
    fc_err err;
    for (int e = 0; e < 2; e++) {
        ck_assert_int_eq(fc_tensor_alloc(&ind[e], FC_DT_I64, 4, yd, &err), FC_OK);
        const fc_kernel_def *def = find(e ? &fc_kernels_f32_ref : &fc_kernels_f32, "MaxPool");
        const fc_tensor *in[] = {&x};
        fc_tensor *out[] = {&y[e], &ind[e]};
        fc_kernel_ctx k = {.node = &t.node, .in = in, .n_in = 1, .out = out, .n_out = 2, .ws = ws};
        ck_assert_int_eq(def->forward(&k, &err), FC_OK);
    }
    compare("maxpool indices", &y[0], &y[1], 0);
    ck_assert_mem_eq(ind[0].data, ind[1].data, fc_tensor_bytes(&ind[0]));
    ck_assert(isnan(((float *)y[0].data)[0]));
    for (int e = 0; e < 2; e++) {
        fc_tensor_release(&y[e]);
        fc_tensor_release(&ind[e]);
    }
    fc_tensor_release(&x);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kernels_f32");
    TCase *tc = tcase_create("f32 vs f32-ref");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, conv_matches_the_oracle_on_every_path, 0,
                        (int)(sizeof conv_cases / sizeof conv_cases[0]));
    tcase_add_test(tc, conv_with_nan_and_inf_inputs_matches_the_oracle);
    tcase_add_test(tc, small_gemm_matches_double_sums_for_every_remainder);
    tcase_add_loop_test(tc, pools_match_the_oracle, 0, (int)(sizeof pool_cases / sizeof pool_cases[0]));
    tcase_add_loop_test(tc, maxpool_propagates_nan_and_keeps_infinities_like_the_oracle, 0,
                        (int)(sizeof pool_cases / sizeof pool_cases[0]));
    tcase_add_test(tc, maxpool_indices_agree_with_the_oracle_on_nan);
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
