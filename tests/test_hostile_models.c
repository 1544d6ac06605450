/* Hostile models: a corpus of broken ONNX files generated at test time from
 * the peer models and from small models crafted with the protobuf-c structs
 * (tests/helpers/hostile_craft.c; verdicts in hostile_check.c): truncations,
 * bit flips, byte overwrites, huge/negative/overflowing dims, cycles,
 * undefined values, missing initializers, external data escaping the model's
 * folder, unsupported ops, bad opsets, subgraph attributes, empty and random
 * files, every allocation failing in turn, and the CLI on a sample of them.
 *
 * Every case must end in a named error (not internal_error) whose message
 * names the file, or -- when a mutation still yields a valid model -- in a
 * clean run or a named error from the engines.  Never a crash or a leak:
 * ctest runs this binary in the ASan+UBSan build too, and Check forks each
 * test, so a crash is one failed test.  HOSTILE_TRACE=1 prints each case. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fc_alloc.h"
#include "engines/fc_engine.h"
#include "hostile_check.h"
#include "hostile_craft.h"
#include "onnx/fc_onnx.h"

#define F32 ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
static const int64_t x4[] = {HC_DIM_N, 1, 4, 4};

static Onnx__TensorProto *conv_w(Onnx__ModelProto *m) { return hc_find_init(m->graph, "W"); }

/* ---- empty, random and truncated files ----------------------------------- */

START_TEST(empty_and_random_files_are_refused)
{
    hc_tally t = {0};
    uint8_t one = 0;
    hc_set_case("empty buffer");
    hc_load_case(&one, 0, NULL, "empty.onnx", &t);
    ck_assert_int_eq(t.refused, 1);

    /* On disk: an empty file, a missing file, a folder. */
    char *empty = hc_write_file(hc_root, "empty.onnx", "", 0);
    char *missing = hc_path(hc_root, "missing.onnx");
    const char *const paths[] = {empty, missing, hc_root};
    for (int i = 0; i < 3; i++) {
        hc_set_case("fc_onnx_load(%s)", paths[i]);
        fc_err err;
        fc_graph *g = NULL;
        fc_status st = fc_onnx_load(paths[i], &g, &err);
        ck_assert_ptr_null(g);
        hc_expect_named(st, &err, paths[i]);
    }
    free(empty);
    free(missing);

    uint64_t rng = 42;
    for (int i = 0; i < 60; i++) {
        size_t len = 1 + hc_rand(&rng) % (i < 40 ? 64 : 8192);
        uint8_t *buf = malloc(len);
        ck_assert_ptr_nonnull(buf);
        for (size_t k = 0; k < len; k++)
            buf[k] = (uint8_t)hc_rand(&rng);
        char label[64];
        snprintf(label, sizeof label, "random-%d.onnx", i);
        hc_set_case("%s (%zu random bytes, seed 42)", label, len);
        hc_load_case(buf, len, NULL, label, &t);
        free(buf);
    }
    hc_print_tally("empty and random files", &t);
}
END_TEST

START_TEST(truncated_models_are_refused)
{
    static const char *const peers[] = {"cnn", "mlp"};
    hc_tally t = {0};
    for (int p = 0; p < 2; p++) {
        char path[256];
        snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.onnx", peers[p]);
        size_t len;
        uint8_t *bytes = hc_read_file(path, &len);
        /* Every byte of the head and tail (graph structure, opset), ~120
         * offsets through the weights in between. */
        for (size_t cut = 0; cut < len; cut++)
            if (cut < 96 || cut + 96 >= len || cut % (len / 120) == 0)
                hc_truncated(bytes, cut, peers[p], &t);
        free(bytes);
    }
    size_t len;
    Onnx__ModelProto *m = hc_conv_model();
    uint8_t *bytes = hc_pack(m, &len);
    hc_model_free(m);
    for (size_t cut = 0; cut < len; cut++)
        hc_truncated(bytes, cut, "conv", &t);
    free(bytes);
    hc_print_tally("truncations", &t);
    /* A strict prefix always lacks the graph's tail or the opset import. */
    ck_assert_int_ge(t.refused, 200);
    ck_assert_int_eq(t.loaded, 0);
}
END_TEST

/* HOSTILE_SEED=n mutates with other seeds, HOSTILE_SCALE=k makes k times as
 * many mutations (for longer hunts; the default corpus is fixed). */
static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : dflt;
}

START_TEST(bit_flips_and_overwrites_never_crash)
{
    hc_tally t = {0};
    uint64_t seed = env_u64("HOSTILE_SEED", 0) * 1000;
    int scale = (int)env_u64("HOSTILE_SCALE", 1);
    size_t len;
    Onnx__ModelProto *m = hc_conv_model();
    uint8_t *bytes = hc_pack(m, &len);
    hc_model_free(m);
    hc_mutate(bytes, len, "conv", 1200 * scale, seed + 1, 0, &t);
    free(bytes);
    /* The peers (structure at both ends, weights between) and PyTorch's
     * reshape export (Shape -> Gather -> Concat -> Reshape, folded by the
     * plan). */
    static const struct { const char *file, *name; int n; size_t hot; } files[] = {
        {"/peers/mlp.onnx", "mlp", 200, 2048},
        {"/peers/cnn.onnx", "cnn", 200, 2048},
        {"/peers/mobilenet.onnx", "mobilenet", 150, 4096},
        {"/onnx/reshape_export.onnx", "reshape", 800, 0},
    };
    for (int f = 0; f < 4; f++) {
        char path[256];
        snprintf(path, sizeof path, "%s%s", FC_TEST_DATA, files[f].file);
        bytes = hc_read_file(path, &len);
        hc_mutate(bytes, len, files[f].name, files[f].n * scale, seed + 7u + (uint64_t)f,
               files[f].hot, &t);
        free(bytes);
    }
    hc_print_tally("bit flips and overwrites", &t);
    ck_assert_int_gt(t.refused, 0);
    ck_assert_int_gt(t.ran, 0);
}
END_TEST

/* ---- sizes ---------------------------------------------------------------- */

typedef struct dims_case {
    const char *name;
    int rank;
    int64_t dims[10];
    size_t floats;          /* raw_data floats (chosen so naive checks pass) */
    fc_status want;         /* FC_OK: any named error */
} dims_case;

#define LIMIT FC_ERR_LIMIT
#define ANY FC_OK

static const dims_case bad_weight_dims[] = {
    {"w-2pow40", 4, {1LL << 40, 1, 3, 3}, 18, LIMIT},
    {"w-int64max", 4, {INT64_MAX, 1, 3, 3}, 18, LIMIT},
    {"w-over-elem-cap", 2, {(1LL << 28) + 1, 1}, 18, LIMIT},
    {"w-wraps-to-0", 2, {1LL << 32, 1LL << 32}, 0, LIMIT},
    {"w-wraps-to-0b", 3, {1LL << 62, 4, 1}, 0, LIMIT},
    {"w-wraps-to-2", 2, {3, 6148914691236517206LL}, 2, LIMIT},
    {"w-wraps-bytes", 1, {1LL << 62}, 0, LIMIT},   /* numel * 4 wraps to 0 */
    {"w-negative", 4, {-1, 1, 3, 3}, 18, ANY},
    {"w-two-negatives", 4, {-2, -1, 3, 3}, 18, ANY},  /* product is +18 */
    {"w-int64min", 4, {INT64_MIN, 1, 3, 3}, 18, ANY},
    {"w-rank9", 9, {2, 1, 3, 3, 1, 1, 1, 1, 1}, 18, LIMIT},
    {"w-raw-short", 4, {2, 1, 3, 3}, 17, ANY},
    {"w-raw-long", 4, {2, 1, 3, 3}, 19, ANY},
    {"w-raw-empty", 4, {2, 1, 3, 3}, 0, ANY},
};

START_TEST(bad_initializer_sizes_are_refused)
{
    for (size_t i = 0; i < sizeof bad_weight_dims / sizeof *bad_weight_dims; i++) {
        const dims_case *c = &bad_weight_dims[i];
        Onnx__ModelProto *m = hc_conv_model();
        Onnx__TensorProto *w = conv_w(m);
        float vals[HC_CONV_W_COUNT + 1] = {0};
        hc_set_dims(w, c->rank, c->dims);
        free(w->raw_data.data);
        w->raw_data.len = c->floats * sizeof(float);
        w->raw_data.data = malloc(w->raw_data.len + 1);
        memcpy(w->raw_data.data, vals, w->raw_data.len);
        char label[64];
        snprintf(label, sizeof label, "%s.onnx", c->name);
        hc_must_refuse(m, NULL, label, HC_LOADER, c->want, NULL);
    }
    /* raw_data not a whole number of floats. */
    Onnx__ModelProto *m = hc_conv_model();
    conv_w(m)->raw_data.len -= 1;
    hc_must_refuse(m, NULL, "w-raw-71-bytes.onnx", HC_LOADER, FC_OK, NULL);
    /* Typed float_data with the wrong count; no data at all. */
    const size_t counts[] = {17, 19, 0};
    for (int i = 0; i < 3; i++) {
        m = hc_conv_model();
        hc_raw_to_float_data(conv_w(m), counts[i]);
        char label[64];
        snprintf(label, sizeof label, "w-float-data-%zu.onnx", counts[i]);
        hc_must_refuse(m, NULL, label, HC_LOADER, FC_OK, NULL);
    }
    /* B as int64 [2] with 8 bytes of raw data; W of undefined, string,
     * bfloat16 and unknown type. */
    m = hc_conv_model();
    hc_find_init(m->graph, "B")->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    hc_must_refuse(m, NULL, "b-int64-short.onnx", HC_LOADER, FC_OK, NULL);
    const int types[] = {0, ONNX__TENSOR_PROTO__DATA_TYPE__STRING,
                         ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16, 999, -7};
    for (int i = 0; i < 5; i++) {
        m = hc_conv_model();
        conv_w(m)->data_type = types[i];
        char label[64];
        snprintf(label, sizeof label, "w-dtype%d.onnx", types[i]);
        hc_must_refuse(m, NULL, label, HC_LOADER_OR_ENGINES, FC_OK, NULL);
    }
    /* A Constant node whose tensor is huge, negative, or short. */
    const dims_case *const_cases[] = {&bad_weight_dims[0], &bad_weight_dims[3],
                                      &bad_weight_dims[8], &bad_weight_dims[11]};
    for (int i = 0; i < 4; i++) {
        float vals[HC_CONV_W_COUNT] = {0};
        const dims_case *c = const_cases[i];
        m = hc_constant_model(hc_tensor_f32("kval", c->rank, c->dims, vals, c->floats));
        char label[64];
        snprintf(label, sizeof label, "const-%s.onnx", c->name);
        hc_must_refuse(m, NULL, label, HC_LOADER, c->want, NULL);
    }
}
END_TEST

START_TEST(bad_input_declarations_are_refused)
{
    static const dims_case decl[] = {
        {"x-2pow40", 4, {1LL << 40, 1, 4, 4}, 0, ANY},
        {"x-int64max", 4, {INT64_MAX, 1, 4, 4}, 0, ANY},
        {"x-product-overflow", 4, {1LL << 32, 1LL << 32, 4, 4}, 0, ANY},
        {"x-negative-batch", 4, {-3, 1, 4, 4}, 0, ANY},
        {"x-minus-one", 4, {-1, 1, 4, 4}, 0, ANY},
        {"x-negative-height", 4, {HC_DIM_N, 1, -4, 4}, 0, ANY},
        {"x-int64min", 4, {1, 1, 4, INT64_MIN}, 0, ANY},
        {"x-rank9", 9, {1, 1, 4, 4, 1, 1, 1, 1, 1}, 0, ANY},
    };
    for (size_t i = 0; i < sizeof decl / sizeof *decl; i++) {
        Onnx__ModelProto *m = hc_conv_model();
        hc_set_vi_dims(m->graph->input[0], decl[i].rank, decl[i].dims);
        char label[64];
        snprintf(label, sizeof label, "%s.onnx", decl[i].name);
        hc_must_refuse(m, NULL, label, HC_LOADER_OR_ENGINES, FC_OK, NULL);
    }
    Onnx__ModelProto *m = hc_conv_model();
    m->graph->input[0]->type->tensor_type->elem_type = 999;
    hc_must_refuse(m, NULL, "x-dtype999.onnx", HC_LOADER_OR_ENGINES, FC_OK, NULL);
    /* An undeclared (0) input type may be taken from the feed: either way,
     * no crash. */
    m = hc_conv_model();
    m->graph->input[0]->type->tensor_type->elem_type = 0;
    size_t len;
    uint8_t *bytes = hc_pack(m, &len);
    hc_model_free(m);
    hc_tally t = {0};
    hc_set_case("x-dtype0.onnx");
    hc_load_case(bytes, len, NULL, "x-dtype0.onnx", &t);
    free(bytes);
}
END_TEST

/* ---- graph structure, opsets, subgraphs, ops ------------------------------ */

START_TEST(broken_graph_structure_is_refused)
{
    Onnx__ModelProto *m = hc_bare_model(13, "b");
    hc_add_node(m->graph, "Relu", "node_a", "b", "a");
    hc_add_node(m->graph, "Relu", "node_b", "a", "b");
    hc_must_refuse(m, NULL, "cycle2.onnx", HC_LOADER, FC_OK, NULL);

    m = hc_bare_model(13, "c");
    hc_add_node(m->graph, "Add", "node_a", "x,c", "a");
    hc_add_node(m->graph, "Relu", "node_b", "a", "b");
    hc_add_node(m->graph, "Relu", "node_c", "b", "c");
    hc_must_refuse(m, NULL, "cycle3.onnx", HC_LOADER, FC_OK, NULL);

    m = hc_bare_model(13, "s");
    hc_add_node(m->graph, "Add", "selfish", "x,s", "s");
    hc_must_refuse(m, NULL, "self-loop.onnx", HC_LOADER, FC_OK, NULL);

    m = hc_bare_model(13, "y");
    hc_add_node(m->graph, "Relu", "r", "ghost", "y");
    hc_must_refuse(m, NULL, "undefined-value.onnx", HC_LOADER, FC_OK, "ghost");

    m = hc_conv_model();
    ck_assert(hc_remove_init(m->graph, "W"));
    hc_must_refuse(m, NULL, "missing-initializer.onnx", HC_LOADER, FC_OK, "W");

    m = hc_conv_model();
    hc_add_output(m->graph, "nowhere", F32, 4, x4);
    hc_must_refuse(m, NULL, "unproduced-output.onnx", HC_LOADER, FC_OK, "nowhere");

    m = hc_conv_model();
    hc_add_node(m->graph, "Relu", "second_writer", "x", "y");
    hc_must_refuse(m, NULL, "duplicate-output.onnx", HC_LOADER, FC_OK, NULL);

    m = hc_conv_model();
    hc_add_node(m->graph, "Relu", "overwrites_weight", "x", "W");
    hc_must_refuse(m, NULL, "node-writes-initializer.onnx", HC_LOADER, FC_OK, NULL);

    m = hc_conv_model();
    hc_add_input(m->graph, "x2", F32, 4, x4);
    hc_add_node(m->graph, "Relu", "overwrites_input", "x", "x2");
    hc_must_refuse(m, NULL, "node-writes-input.onnx", HC_LOADER, FC_OK, NULL);

    m = hc_conv_model();
    float w[HC_CONV_W_COUNT] = {0};
    const int64_t wd[] = {2, 1, 3, 3};
    hc_add_init(m->graph, hc_tensor_f32("W", 4, wd, w, HC_CONV_W_COUNT));
    hc_must_refuse(m, NULL, "duplicate-initializer.onnx", HC_LOADER, FC_OK, NULL);

    m = hc_conv_model();
    hc_add_input(m->graph, "x", F32, 4, x4);
    hc_must_refuse(m, NULL, "duplicate-input.onnx", HC_LOADER, FC_OK, NULL);

    /* A node with more inputs than FC_MAX_NODE_IO. */
    m = hc_bare_model(13, "y");
    size_t n = FC_MAX_NODE_IO + 1, size = n * 2;
    char *ins = malloc(size);
    ck_assert_ptr_nonnull(ins);
    for (size_t i = 0; i < n; i++)
        memcpy(ins + 2 * i, i + 1 < n ? "x," : "x", 2);
    ins[size - 1] = '\0';
    hc_add_node(m->graph, "Sum", "wide", ins, "y");
    free(ins);
    hc_must_refuse(m, NULL, "too-many-inputs.onnx", HC_LOADER, FC_ERR_LIMIT, NULL);

    m = hc_bare_model(13, "y");
    hc_add_node(m->graph, "", "nameless_op", "x", "y");
    hc_must_refuse(m, NULL, "empty-op-type.onnx", HC_LOADER_OR_ENGINES, FC_OK, NULL);

    m = hc_bare_model(13, "y");
    hc_add_node(m->graph, "Relu", "no_input", "", "y");
    hc_must_refuse(m, NULL, "relu-without-input.onnx", HC_LOADER_OR_ENGINES, FC_OK, NULL);

    m = hc_bare_model(13, "y");
    hc_must_refuse(m, NULL, "no-nodes-output-undefined.onnx", HC_LOADER, FC_OK, "y");

    /* Names are the file's bytes, newlines included (the CLI test checks
     * that its message stays one line). */
    m = hc_bare_model(13, "y");
    hc_add_node(m->graph, "Relu", "r\nfake: second line", "ghost\nfake: second line", "y");
    hc_must_refuse(m, NULL, "newline-in-name.onnx", HC_LOADER, FC_OK, NULL);
}
END_TEST

START_TEST(bad_opsets_and_missing_graph_are_refused)
{
    const int64_t opsets[] = {6, 18, 19, 1000, INT64_MAX, -1};
    for (int i = 0; i < 6; i++) {
        Onnx__ModelProto *m = hc_conv_model();
        m->opset_import[0]->version = opsets[i];
        char label[64];
        snprintf(label, sizeof label, "opset%lld.onnx", (long long)opsets[i]);
        hc_must_refuse(m, NULL, label, HC_LOADER, FC_OK, "opset");
    }
    Onnx__ModelProto *m = hc_conv_model();
    free(m->opset_import[0]->domain);
    m->opset_import[0]->domain = strdup("com.example");
    hc_must_refuse(m, NULL, "no-default-opset.onnx", HC_LOADER, FC_OK, NULL);

    m = hc_conv_model();
    onnx__operator_set_id_proto__free_unpacked(m->opset_import[0], NULL);
    m->n_opset_import = 0;
    hc_must_refuse(m, NULL, "no-opset-import.onnx", HC_LOADER, FC_OK, NULL);

    m = hc_conv_model();
    onnx__graph_proto__free_unpacked(m->graph, NULL);
    m->graph = NULL;
    hc_must_refuse(m, NULL, "no-graph.onnx", HC_LOADER, FC_OK, NULL);
}
END_TEST

START_TEST(subgraph_attributes_are_refused_by_op_name)
{
    const int where = HC_LOADER_OR_ENGINES;
    hc_must_refuse(hc_control_flow_model("If", 0), NULL, "if.onnx", where, FC_OK, "If");
    hc_must_refuse(hc_control_flow_model("Loop", 0), NULL, "loop.onnx", where, FC_OK, "Loop");
    hc_must_refuse(hc_control_flow_model("If", 1), NULL, "if-cycle.onnx", where, FC_OK, NULL);
}
END_TEST

START_TEST(unsupported_ops_are_refused_by_both_engines)
{
    static const char *const ops[] = {"FooBar", "LSTM"};
    for (int i = 0; i < 2; i++) {
        char label[64];
        snprintf(label, sizeof label, "op-%s.onnx", ops[i]);
        hc_set_case("%s", label);
        size_t len;
        Onnx__ModelProto *m = hc_one_op_model(ops[i], NULL);
        uint8_t *bytes = hc_pack(m, &len);
        hc_model_free(m);
        fc_err err;
        fc_graph *g = NULL;
        ck_assert_msg(fc_onnx_load_bytes(bytes, len, NULL, label, &g, &err) == FC_OK, "%s",
                      err.msg);
        free(bytes);
        static const char *const kinds[] = {"f32", "f32-ref"};
        for (int k = 0; k < 2; k++) {
            fc_engine *e = NULL;
            fc_status st = fc_engine_create(g, kinds[k], &e, &err);
            ck_assert_ptr_null(e);
            hc_check_refusal(st, &err, label, FC_ERR_UNSUPPORTED, ops[i]);
            ck_assert_int_eq(fc_engine_supports_op(kinds[k], "", ops[i]), 0);
        }
        fc_graph_free(g);
    }
    hc_must_refuse(hc_one_op_model("Relu", "com.evil"), NULL, "op-evil-relu.onnx",
                   HC_LOADER_OR_ENGINES, FC_OK, "Relu");
}
END_TEST

/* ---- external data -------------------------------------------------------- */

/* Writes the model into dir as `name` and loads it by path; also from bytes. */
static void external_refused(const char *dir, const char *name, Onnx__ModelProto *m,
                             fc_status want)
{
    size_t len;
    uint8_t *bytes = hc_pack(m, &len);
    char *path = hc_write_file(dir, name, bytes, len);
    free(bytes);
    hc_set_case("fc_onnx_load(%s)", path);
    fc_err err;
    fc_graph *g = NULL;
    fc_status st = fc_onnx_load(path, &g, &err);
    ck_assert_msg(st != FC_OK, "%s: external data accepted by fc_onnx_load", name);
    ck_assert_ptr_null(g);
    hc_check_refusal(st, &err, name, want, NULL);
    free(path);
    hc_must_refuse(m, dir, name, HC_LOADER, want, NULL);
}

START_TEST(external_data_escaping_the_folder_is_refused)
{
    char *dir = hc_external_dir(hc_root);
    char *abs_inside = hc_path(dir, "W.bin");
    const char *const escapes[] = {"../secret.bin", "/etc/passwd", abs_inside, "link.bin",
                                   "abslink.bin", "updir/secret.bin", "sub/../../secret.bin",
                                   "passwd.bin"};
    for (int i = 0; i < 8; i++) {
        char name[64];
        snprintf(name, sizeof name, "escape%d.onnx", i);
        external_refused(dir, name, hc_external_model(escapes[i], NULL, NULL), FC_ERR_SECURITY);
    }
    free(abs_inside);
    /* Bad offsets and lengths into a file that is inside the folder. */
    const char *const bad[][3] = {
        {"W.bin", "100000", NULL},                {"W.bin", NULL, "1000"},
        {"W.bin", "4", "72"},                     {"W.bin", "-4", NULL},
        {"W.bin", NULL, "-1"},                    {"W.bin", "18446744073709551615", "72"},
        {"W.bin", "72", "18446744073709551600"},  {"W.bin", "abc", NULL},
        {"W.bin", NULL, "68"},                    {"W.bin", NULL, "76"},
        {"packed.bin", "24", NULL},               {"missing.bin", NULL, NULL},
        {"", NULL, NULL},                         {NULL, NULL, NULL},
        {".", NULL, NULL},                        {"sub", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char name[64];
        snprintf(name, sizeof name, "bad-extent%zu.onnx", i);
        external_refused(dir, name, hc_external_model(bad[i][0], bad[i][1], bad[i][2]), FC_OK);
    }
    /* From bytes with no folder, external data is refused altogether. */
    hc_must_refuse(hc_external_model("W.bin", NULL, NULL), NULL, "no-dir.onnx", HC_LOADER, FC_OK,
                   NULL);
    /* A Constant's tensor may not escape either. */
    Onnx__TensorProto *k = hc_tensor_f32("k", 4, (const int64_t[]){2, 1, 3, 3}, hc_secret, 18);
    hc_set_external(k, "../secret.bin", NULL, NULL);
    external_refused(dir, "const-escape.onnx", hc_constant_model(k), FC_ERR_SECURITY);
    free(dir);
}
END_TEST

/* A FIFO must not hang the loader (open blocks until a writer appears). */
START_TEST(external_data_fifo_is_refused_without_hanging)
{
    char *dir = hc_external_dir(hc_root);
    char *fifo = hc_path(dir, "fifo.bin");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    free(fifo);
    external_refused(dir, "fifo.onnx", hc_external_model("fifo.bin", NULL, NULL), FC_OK);
    free(dir);
}
END_TEST

START_TEST(valid_models_load_and_run)
{
    size_t len;
    Onnx__ModelProto *m = hc_conv_model();
    uint8_t *bytes = hc_pack(m, &len);
    hc_model_free(m);
    fc_err err;
    fc_graph *g = NULL;
    ck_assert_msg(fc_onnx_load_bytes(bytes, len, NULL, "conv.onnx", &g, &err) == FC_OK, "%s",
                  err.msg);
    free(bytes);
    hc_check_conv_outputs(g, "conv.onnx");
    fc_graph_free(g);

    /* External data inside the folder, whole file or at an offset. */
    char *dir = hc_external_dir(hc_root);
    const char *const ok[][3] = {{"W.bin", NULL, NULL}, {"packed.bin", "16", "72"}};
    for (int i = 0; i < 2; i++) {
        bytes = hc_pack((m = hc_external_model(ok[i][0], ok[i][1], ok[i][2])), &len);
        hc_model_free(m);
        char *path = hc_write_file(dir, "external.onnx", bytes, len);
        ck_assert_msg(fc_onnx_load(path, &g, &err) == FC_OK, "%s", err.msg);
        hc_check_conv_outputs(g, path);
        fc_graph_free(g);
        ck_assert_msg(fc_onnx_load_bytes(bytes, len, dir, "ext.onnx", &g, &err) == FC_OK, "%s",
                      err.msg);
        hc_check_conv_outputs(g, "ext.onnx");
        fc_graph_free(g);
        free(bytes);
        free(path);
    }
    free(dir);
    /* The peers the corpus mutates are valid to begin with. */
    ck_assert_msg(fc_onnx_load(FC_TEST_DATA "/peers/cnn.onnx", &g, &err) == FC_OK, "%s", err.msg);
    fc_graph_free(g);
    ck_assert_msg(fc_onnx_load(FC_TEST_DATA "/peers/mlp.onnx", &g, &err) == FC_OK, "%s", err.msg);
    fc_graph_free(g);
}
END_TEST

/* Every allocation of load + create + run failing in turn: a named error
 * (out_of_memory) naming the file, never a crash or a leak. */
static void allocation_sweep(const uint8_t *bytes, size_t len, const char *label, hc_tally *t)
{
    for (long k = 0;; k++) {
        hc_set_case("%s with allocation %ld failing", label, k);
        fc_alloc_fail_after(k);
        hc_tally before = *t;
        hc_load_case(bytes, len, NULL, label, t);
        fc_alloc_fail_reset();
        if (t->ran - before.ran == 2 && t->refused == before.refused)
            break;
        ck_assert_msg(k < 100000, "%s: allocation sweep does not end", label);
    }
}

START_TEST(allocation_failures_are_named)
{
    size_t len;
    Onnx__ModelProto *m = hc_conv_model();
    uint8_t *bytes = hc_pack(m, &len);
    hc_model_free(m);
    hc_tally t = {0};
    allocation_sweep(bytes, len, "conv.onnx", &t);
    free(bytes);
    bytes = hc_read_file(FC_TEST_DATA "/onnx/reshape_export.onnx", &len);
    allocation_sweep(bytes, len, "reshape_export.onnx", &t);
    free(bytes);
    hc_print_tally("allocation failures", &t);
}
END_TEST

/* ---- the CLI -------------------------------------------------------------- */

START_TEST(cli_exits_2_with_one_line_naming_the_file)
{
    char *dir = hc_external_dir(hc_root);
    size_t len;
    uint8_t *cnn = hc_read_file(FC_TEST_DATA "/peers/cnn.onnx", &len);
    uint8_t noise[4096];
    uint64_t rng = 99;
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)hc_rand(&rng);
    char *paths[16];
    int n = 0;
    paths[n++] = hc_write_file(dir, "empty.onnx", "", 0);
    paths[n++] = hc_write_file(dir, "random.onnx", noise, sizeof noise);
    paths[n++] = hc_write_file(dir, "cnn-half.onnx", cnn, len / 2);
    paths[n++] = hc_write_file(dir, "cnn-one-byte.onnx", cnn, 1);
    free(cnn);
    Onnx__ModelProto *m = hc_bare_model(13, "b");
    hc_add_node(m->graph, "Relu", "node_a", "b", "a");
    hc_add_node(m->graph, "Relu", "node_b", "a", "b");
    paths[n++] = hc_write_model(dir, "cycle.onnx", m);
    m = hc_conv_model();
    hc_remove_init(m->graph, "W");
    paths[n++] = hc_write_model(dir, "missing-init.onnx", m);
    static const char *const escapes[][2] = {{"escape-parent.onnx", "../secret.bin"},
                                             {"escape-abs.onnx", "/etc/passwd"},
                                             {"escape-link.onnx", "link.bin"}};
    for (int i = 0; i < 3; i++)
        paths[n++] =
            hc_write_model(dir, escapes[i][0], hc_external_model(escapes[i][1], NULL, NULL));
    m = hc_conv_model();
    hc_set_dims(conv_w(m), 4, (const int64_t[]){1LL << 40, 1, 3, 3});
    paths[n++] = hc_write_model(dir, "huge-dims.onnx", m);
    m = hc_conv_model();
    hc_set_dims(conv_w(m), 4, (const int64_t[]){-2, -1, 3, 3});
    paths[n++] = hc_write_model(dir, "negative-dims.onnx", m);
    m = hc_conv_model();
    m->opset_import[0]->version = 6;
    paths[n++] = hc_write_model(dir, "opset6.onnx", m);
    m = hc_conv_model();
    onnx__graph_proto__free_unpacked(m->graph, NULL);
    m->graph = NULL;
    paths[n++] = hc_write_model(dir, "no-graph.onnx", m);
    m = hc_bare_model(13, "y");
    hc_add_node(m->graph, "Relu", "r", "ghost\nfake: second line", "y");
    paths[n++] = hc_write_model(dir, "newline-in-name.onnx", m);
    for (int i = 0; i < n; i++) {
        hc_cli_refuses(FLIPCHECK_BIN, "info", paths[i], NULL);
        free(paths[i]);
    }
    char *unsupported = hc_write_model(dir, "unsupported-op.onnx", hc_one_op_model("FooBar", NULL));
    hc_cli_refuses(FLIPCHECK_BIN, "infer", unsupported, FC_TEST_DATA "/peers/test_images_u8.npy");
    free(unsupported);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile_models");
    TCase *tc = tcase_create("corpus");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, hc_setup, hc_teardown);
    tcase_add_test(tc, valid_models_load_and_run);
    tcase_add_test(tc, empty_and_random_files_are_refused);
    tcase_add_test(tc, truncated_models_are_refused);
    tcase_add_test(tc, bit_flips_and_overwrites_never_crash);
    tcase_add_test(tc, bad_initializer_sizes_are_refused);
    tcase_add_test(tc, bad_input_declarations_are_refused);
    tcase_add_test(tc, broken_graph_structure_is_refused);
    tcase_add_test(tc, bad_opsets_and_missing_graph_are_refused);
    tcase_add_test(tc, subgraph_attributes_are_refused_by_op_name);
    tcase_add_test(tc, unsupported_ops_are_refused_by_both_engines);
    tcase_add_test(tc, external_data_escaping_the_folder_is_refused);
    tcase_add_test(tc, allocation_failures_are_named);
    tcase_add_test(tc, cli_exits_2_with_one_line_naming_the_file);
    suite_add_tcase(s, tc);
    /* Its own case: if the loader blocks on the FIFO, only this one times out. */
    TCase *fifo = tcase_create("fifo");
    tcase_set_timeout(fifo, 10);
    tcase_add_checked_fixture(fifo, hc_setup, hc_teardown);
    tcase_add_test(fifo, external_data_fifo_is_refused_without_hanging);
    suite_add_tcase(s, fifo);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
