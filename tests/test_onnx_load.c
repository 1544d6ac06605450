/* The ONNX loader's features on models built here with the protobuf-c
 * structs: initializers in raw_data and in typed fields, Constant nodes,
 * external data inside the model's folder, nodes out of order, IR 3 files
 * listing initializers as inputs, opset bounds, TensorProto files.
 * (Broken and hostile files are tests/test_hostile_models.c.) */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "engines/fc_engine.h"
#include "onnx.pb-c.h"
#include "onnx/fc_onnx.h"

/* A model y = Add(Mul(x, w), b) with x:[2] and w, b initializers, whose
 * parts tests change before packing. */
typedef struct demo {
    Onnx__ModelProto m;
    Onnx__OperatorSetIdProto opset, *opsets[1];
    Onnx__GraphProto g;
    Onnx__NodeProto mul, add, *nodes[2];
    char *mul_in[2], *mul_out[1], *add_in[2], *add_out[1];
    Onnx__TensorProto w, b, *inits[2];
    int64_t dims[1];
    float wv[2], bv[2];
    Onnx__ValueInfoProto xin, yout, *ins[3], *outs[1];
    Onnx__TypeProto xt, yt;
    Onnx__TypeProto__Tensor xtt, ytt;
    Onnx__TensorShapeProto xs;
    Onnx__TensorShapeProto__Dimension xd, *xdims[1];
} demo;

static void demo_init(demo *d)
{
    memset(d, 0, sizeof *d);
    onnx__model_proto__init(&d->m);
    d->m.has_ir_version = 1;
    d->m.ir_version = 8;
    onnx__operator_set_id_proto__init(&d->opset);
    d->opset.domain = "";
    d->opset.has_version = 1;
    d->opset.version = 13;
    d->opsets[0] = &d->opset;
    d->m.n_opset_import = 1;
    d->m.opset_import = d->opsets;
    onnx__graph_proto__init(&d->g);
    d->g.name = "demo";
    d->m.graph = &d->g;

    onnx__node_proto__init(&d->mul);
    d->mul.op_type = "Mul";
    d->mul.name = "mul";
    d->mul_in[0] = "x";
    d->mul_in[1] = "w";
    d->mul_out[0] = "xw";
    d->mul.n_input = 2;
    d->mul.input = d->mul_in;
    d->mul.n_output = 1;
    d->mul.output = d->mul_out;
    onnx__node_proto__init(&d->add);
    d->add.op_type = "Add";
    d->add.name = "add";
    d->add_in[0] = "xw";
    d->add_in[1] = "b";
    d->add_out[0] = "y";
    d->add.n_input = 2;
    d->add.input = d->add_in;
    d->add.n_output = 1;
    d->add.output = d->add_out;
    d->nodes[0] = &d->mul;
    d->nodes[1] = &d->add;
    d->g.n_node = 2;
    d->g.node = d->nodes;

    d->dims[0] = 2;
    d->wv[0] = 2.0f;
    d->wv[1] = -3.0f;
    d->bv[0] = 0.5f;
    d->bv[1] = 0.25f;
    onnx__tensor_proto__init(&d->w);
    d->w.name = "w";
    d->w.has_data_type = 1;
    d->w.data_type = 1;
    d->w.n_dims = 1;
    d->w.dims = d->dims;
    d->w.n_float_data = 2;          /* typed field */
    d->w.float_data = d->wv;
    onnx__tensor_proto__init(&d->b);
    d->b.name = "b";
    d->b.has_data_type = 1;
    d->b.data_type = 1;
    d->b.n_dims = 1;
    d->b.dims = d->dims;
    d->b.has_raw_data = 1;          /* raw little-endian bytes */
    d->b.raw_data.len = sizeof d->bv;
    d->b.raw_data.data = (uint8_t *)d->bv;
    d->inits[0] = &d->w;
    d->inits[1] = &d->b;
    d->g.n_initializer = 2;
    d->g.initializer = d->inits;

    onnx__tensor_shape_proto__dimension__init(&d->xd);
    d->xd.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d->xd.dim_value = 2;
    d->xdims[0] = &d->xd;
    onnx__tensor_shape_proto__init(&d->xs);
    d->xs.n_dim = 1;
    d->xs.dim = d->xdims;
    onnx__type_proto__tensor__init(&d->xtt);
    d->xtt.has_elem_type = 1;
    d->xtt.elem_type = 1;
    d->xtt.shape = &d->xs;
    onnx__type_proto__init(&d->xt);
    d->xt.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    d->xt.tensor_type = &d->xtt;
    onnx__value_info_proto__init(&d->xin);
    d->xin.name = "x";
    d->xin.type = &d->xt;
    onnx__type_proto__tensor__init(&d->ytt);
    d->ytt.has_elem_type = 1;
    d->ytt.elem_type = 1;
    onnx__type_proto__init(&d->yt);
    d->yt.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    d->yt.tensor_type = &d->ytt;
    onnx__value_info_proto__init(&d->yout);
    d->yout.name = "y";
    d->yout.type = &d->yt;
    d->ins[0] = &d->xin;
    d->g.n_input = 1;
    d->g.input = d->ins;
    d->outs[0] = &d->yout;
    d->g.n_output = 1;
    d->g.output = d->outs;
}

static uint8_t *demo_pack(const demo *d, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(&d->m);
    uint8_t *buf = malloc(*len);
    ck_assert_ptr_nonnull(buf);
    onnx__model_proto__pack(&d->m, buf);
    return buf;
}

static fc_status demo_load(const demo *d, const char *dir, fc_graph **g, fc_err *err)
{
    size_t len;
    uint8_t *buf = demo_pack(d, &len);
    fc_status st = fc_onnx_load_bytes(buf, len, dir, "demo.onnx", g, err);
    free(buf);
    return st;
}

/* Runs the graph on x = [1, 2] with f32-ref and checks y = x*w + b. */
static void expect_demo_output(const fc_graph *g)
{
    fc_engine *e = NULL;
    fc_err err = {0};
    ck_assert_msg(fc_engine_create(g, "f32-ref", &e, &err) == FC_OK, "%s", err.msg);
    fc_tensor x = {0}, y = {0};
    int64_t dims[1] = {2};
    ck_assert_int_eq(fc_tensor_alloc(&x, FC_DT_F32, 1, dims, &err), FC_OK);
    ((float *)x.data)[0] = 1.0f;
    ((float *)x.data)[1] = 2.0f;
    ck_assert_msg(fc_engine_run(e, &x, 1, &y, 1, &err) == FC_OK, "%s", err.msg);
    ck_assert_float_eq(((float *)y.data)[0], 1.0f * 2.0f + 0.5f);
    ck_assert_float_eq(((float *)y.data)[1], 2.0f * -3.0f + 0.25f);
    fc_tensor_release(&x);
    fc_tensor_release(&y);
    fc_engine_free(e);
}

START_TEST(raw_and_typed_initializers)
{
    demo d;
    demo_init(&d);
    fc_graph *g = NULL;
    fc_err err = {0};
    ck_assert_msg(demo_load(&d, NULL, &g, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(g->opset, 13);
    ck_assert_int_eq(g->n_inputs, 1);
    ck_assert_int_eq(g->n_nodes, 2);
    int w = fc_graph_find_value(g, "w");
    ck_assert_int_ge(w, 0);
    ck_assert_ptr_nonnull(g->values[w].init);
    ck_assert_float_eq(((float *)g->values[w].init->data)[1], -3.0f);
    expect_demo_output(g);
    fc_graph_free(g);
}
END_TEST

START_TEST(nodes_out_of_order_are_sorted)
{
    demo d;
    demo_init(&d);
    d.nodes[0] = &d.add;
    d.nodes[1] = &d.mul;
    fc_graph *g = NULL;
    fc_err err = {0};
    ck_assert_msg(demo_load(&d, NULL, &g, &err) == FC_OK, "%s", err.msg);
    ck_assert_str_eq(g->nodes[0].op_type, "Mul");
    ck_assert_str_eq(g->nodes[1].op_type, "Add");
    ck_assert_int_eq(g->values[fc_graph_find_value(g, "xw")].producer, 0);
    ck_assert_int_eq(g->values[fc_graph_find_value(g, "y")].producer, 1);
    expect_demo_output(g);
    fc_graph_free(g);
}
END_TEST

START_TEST(ir3_initializers_listed_as_inputs)
{
    demo d;
    demo_init(&d);
    Onnx__ValueInfoProto wi, bi;
    onnx__value_info_proto__init(&wi);
    onnx__value_info_proto__init(&bi);
    wi.name = "w";
    bi.name = "b";
    d.ins[1] = &wi;
    d.ins[2] = &bi;
    d.g.n_input = 3;
    d.m.ir_version = 3;
    d.opset.version = 7;
    fc_graph *g = NULL;
    fc_err err = {0};
    ck_assert_msg(demo_load(&d, NULL, &g, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(g->n_inputs, 1);   /* only x is fed at run time */
    expect_demo_output(g);
    fc_graph_free(g);
}
END_TEST

START_TEST(constant_node_becomes_initializer)
{
    demo d;
    demo_init(&d);
    /* b comes from a Constant node instead of an initializer. */
    Onnx__NodeProto cn;
    Onnx__AttributeProto val, *attrs[1] = {&val};
    char *cout[1] = {"b"};
    onnx__node_proto__init(&cn);
    cn.op_type = "Constant";
    cn.n_output = 1;
    cn.output = cout;
    onnx__attribute_proto__init(&val);
    val.name = "value";
    val.has_type = 1;
    val.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    val.t = &d.b;
    cn.n_attribute = 1;
    cn.attribute = attrs;
    Onnx__NodeProto *nodes[3] = {&d.add, &cn, &d.mul};
    d.g.node = nodes;
    d.g.n_node = 3;
    d.g.n_initializer = 1;
    fc_graph *g = NULL;
    fc_err err = {0};
    ck_assert_msg(demo_load(&d, NULL, &g, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(g->n_nodes, 2);
    int b = fc_graph_find_value(g, "b");
    ck_assert_ptr_nonnull(g->values[b].init);
    ck_assert_int_eq(g->values[b].producer, -1);
    expect_demo_output(g);
    fc_graph_free(g);
}
END_TEST

START_TEST(opset_bounds)
{
    static const int64_t versions[] = {6, 7, 12, 17, 18};
    static const bool ok[] = {false, true, true, true, false};
    for (int i = 0; i < 5; i++) {
        demo d;
        demo_init(&d);
        d.opset.version = versions[i];
        fc_graph *g = NULL;
        fc_err err = {0};
        fc_status st = demo_load(&d, NULL, &g, &err);
        if (ok[i]) {
            ck_assert_msg(st == FC_OK, "opset %lld: %s", (long long)versions[i], err.msg);
        } else {
            ck_assert_int_eq(st, FC_ERR_UNSUPPORTED);
            ck_assert_ptr_nonnull(strstr(err.msg, "opset"));
        }
        fc_graph_free(g);
    }
}
END_TEST

/* A temp folder with the demo model whose w lives in "weights.bin". */
static void write_external_model(char *dir, const char *location, int64_t offset)
{
    demo d;
    demo_init(&d);
    Onnx__StringStringEntryProto loc, off, *kv[2] = {&loc, &off};
    char offs[32];
    snprintf(offs, sizeof offs, "%lld", (long long)offset);
    onnx__string_string_entry_proto__init(&loc);
    onnx__string_string_entry_proto__init(&off);
    loc.key = "location";
    loc.value = (char *)location;
    off.key = "offset";
    off.value = offs;
    d.w.n_float_data = 0;
    d.w.float_data = NULL;
    d.w.has_data_location = 1;
    d.w.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    d.w.n_external_data = 2;
    d.w.external_data = kv;
    size_t len;
    uint8_t *buf = demo_pack(&d, &len);
    char path[600];
    fc_err err = {0};
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    ck_assert_int_eq(fc_file_write_all(path, buf, len, &err), FC_OK);
    free(buf);
    /* 8 bytes of padding, then w. */
    float blob[4] = {99.0f, 99.0f, 2.0f, -3.0f};
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    ck_assert_int_eq(fc_file_write_all(path, blob, sizeof blob, &err), FC_OK);
}

START_TEST(external_data_inside_folder)
{
    char dir[] = "/tmp/fc_extXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_external_model(dir, "weights.bin", 8);
    char path[600];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    fc_graph *g = NULL;
    fc_err err = {0};
    ck_assert_msg(fc_onnx_load(path, &g, &err) == FC_OK, "%s", err.msg);
    expect_demo_output(g);
    fc_graph_free(g);

    /* The same model from memory without a folder must refuse it. */
    uint8_t *bytes;
    size_t len;
    ck_assert_int_eq(fc_file_read_all(path, 1 << 20, "model", &bytes, &len, &err), FC_OK);
    ck_assert_int_eq(fc_onnx_load_bytes(bytes, len, NULL, "mem.onnx", &g, &err),
                     FC_ERR_SECURITY);
    fc_free(bytes);

    /* Offset past the end of the file. */
    write_external_model(dir, "weights.bin", 12);
    ck_assert_int_eq(fc_onnx_load(path, &g, &err), FC_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.msg, "weights.bin"));

    /* Escapes: "..", absolute, and a link that leads out. */
    write_external_model(dir, "../weights.bin", 8);
    ck_assert_int_eq(fc_onnx_load(path, &g, &err), FC_ERR_SECURITY);
    write_external_model(dir, "/etc/passwd", 0);
    ck_assert_int_eq(fc_onnx_load(path, &g, &err), FC_ERR_SECURITY);
    char link[600];
    snprintf(link, sizeof link, "%s/link.bin", dir);
    ck_assert_int_eq(symlink("/etc/hostname", link), 0);
    write_external_model(dir, "link.bin", 0);
    ck_assert_int_eq(fc_onnx_load(path, &g, &err), FC_ERR_SECURITY);
    ck_assert_ptr_null(g);
    unlink(link);
    snprintf(link, sizeof link, "%s/weights.bin", dir);
    unlink(link);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(tensor_pb_file)
{
    char dir[] = "/tmp/fc_pbXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    demo d;
    demo_init(&d);
    size_t len = onnx__tensor_proto__get_packed_size(&d.b);
    uint8_t *buf = malloc(len);
    onnx__tensor_proto__pack(&d.b, buf);
    char path[600];
    snprintf(path, sizeof path, "%s/b.pb", dir);
    fc_err err = {0};
    ck_assert_int_eq(fc_file_write_all(path, buf, len, &err), FC_OK);
    free(buf);
    fc_tensor t = {0};
    ck_assert_msg(fc_onnx_read_tensor_pb(path, &t, &err) == FC_OK, "%s", err.msg);
    ck_assert_int_eq(t.dtype, FC_DT_F32);
    ck_assert_int_eq(t.numel, 2);
    ck_assert_float_eq(((float *)t.data)[1], 0.25f);
    fc_tensor_release(&t);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(peer_models_load)
{
    static const char *names[] = {"mlp", "cnn", "resnet", "mobilenet"};
    for (int i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.onnx", names[i]);
        fc_graph *g = NULL;
        fc_err err = {0};
        ck_assert_msg(fc_onnx_load(path, &g, &err) == FC_OK, "%s", err.msg);
        ck_assert_int_eq(g->n_inputs, 1);
        ck_assert_int_ge(g->n_nodes, 3);
        ck_assert_int_ge(g->opset, 7);
        fc_graph_free(g);
    }
}
END_TEST

/* Every allocation the loader makes may fail: each k-th failure must end in
 * FC_ERR_NOMEM (never a crash; leaks are ASan's part). */
START_TEST(allocation_failures)
{
    demo d;
    demo_init(&d);
    size_t len;
    uint8_t *buf = demo_pack(&d, &len);
    unsigned long before = fc_alloc_count();
    fc_graph *g = NULL;
    fc_err err = {0};
    ck_assert_int_eq(fc_onnx_load_bytes(buf, len, NULL, "demo.onnx", &g, &err), FC_OK);
    fc_graph_free(g);
    long total = (long)(fc_alloc_count() - before);
    ck_assert_int_gt(total, 10);
    for (long k = 0; k < total; k++) {
        fc_alloc_fail_after(k);
        fc_status st = fc_onnx_load_bytes(buf, len, NULL, "demo.onnx", &g, &err);
        fc_alloc_fail_reset();
        ck_assert_msg(st == FC_ERR_NOMEM, "k=%ld: %s", k, err.msg);
        ck_assert_ptr_null(g);
    }
    free(buf);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("onnx_load");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, raw_and_typed_initializers);
    tcase_add_test(tc, nodes_out_of_order_are_sorted);
    tcase_add_test(tc, ir3_initializers_listed_as_inputs);
    tcase_add_test(tc, constant_node_becomes_initializer);
    tcase_add_test(tc, opset_bounds);
    tcase_add_test(tc, external_data_inside_folder);
    tcase_add_test(tc, tensor_pb_file);
    tcase_add_test(tc, peer_models_load);
    tcase_add_test(tc, allocation_failures);
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
