/* The executor and engine interface: PyTorch's reshape export, batch-1
 * models given a batch, f32 against f32-ref, unsupported ops named. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fc_npy.h"
#include "engines/fc_engine.h"
#include "onnx.pb-c.h"
#include "onnx/fc_onnx.h"
#include "onnx/fc_plan.h"

static fc_graph *load(const char *path)
{
    fc_err err;
    fc_graph *g = NULL;
    ck_assert_msg(fc_onnx_load(path, &g, &err) == FC_OK, "%s", err.msg);
    return g;
}

static fc_tensor run1(fc_engine *e, const fc_tensor *x)
{
    fc_err err;
    fc_tensor out;
    ck_assert_msg(fc_engine_run(e, x, 1, &out, 1, &err) == FC_OK, "%s", err.msg);
    return out;
}

static fc_tensor slice_rows(const fc_tensor *x, int64_t start, int64_t count)
{
    fc_tensor v = *x;
    size_t per = x->numel / (size_t)x->dims[0];
    v.dims[0] = count;
    v.numel = per * (size_t)count;
    v.owns_data = false;
    v.data = (char *)x->data + (size_t)start * per * fc_dtype_size(x->dtype);
    return v;
}

START_TEST(pytorch_reshape_export_runs_at_any_batch_and_matches_torch)
{
    fc_err err;
    fc_graph *g = load(FC_TEST_DATA "/onnx/reshape_export.onnx");
    fc_tensor x, want;
    ck_assert_int_eq(fc_npy_read(FC_TEST_DATA "/onnx/reshape_export.x.npy", &x, &err), FC_OK);
    ck_assert_int_eq(fc_npy_read(FC_TEST_DATA "/onnx/reshape_export.torch_out.npy", &want, &err),
                     FC_OK);
    const char *const kinds[] = {"f32", "f32-ref"};
    for (int k = 0; k < 2; k++) {
        fc_engine *e = NULL;
        ck_assert_msg(fc_engine_create(g, kinds[k], &e, &err) == FC_OK, "%s", err.msg);
        /* Whole batch, then one image, then two: the folded reshape target
         * must follow the batch size each time. */
        int64_t starts[] = {0, 0, 1}, counts[] = {3, 1, 2};
        for (int r = 0; r < 3; r++) {
            fc_tensor v = slice_rows(&x, starts[r], counts[r]);
            fc_tensor y = run1(e, &v);
            ck_assert_int_eq(y.rank, 2);
            ck_assert_int_eq(y.dims[0], counts[r]);
            ck_assert_int_eq(y.dims[1], 5);
            for (size_t i = 0; i < y.numel; i++) {
                float w = ((const float *)want.data)[(size_t)starts[r] * 5 + i];
                ck_assert_float_eq_tol(((const float *)y.data)[i], w, 1e-5);
            }
            fc_tensor_release(&y);
        }
        fc_engine_free(e);
    }
    fc_plan *p = NULL;
    ck_assert_int_eq(fc_plan_create_probe(g, 4, &p, &err), FC_OK);
    ck_assert_int_eq(p->vals[g->outputs[0]].dims[0], 4);
    fc_plan_free(p);
    fc_tensor_release(&x);
    fc_tensor_release(&want);
    fc_graph_free(g);
}
END_TEST

/* Rewrites the peer mlp so its batch dimension is the fixed value 1. */
static char *write_batch1_model(void)
{
    FILE *f = fopen(FC_TEST_DATA "/peers/mlp.onnx", "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)len);
    ck_assert_int_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, (size_t)len, buf);
    free(buf);
    ck_assert_ptr_nonnull(m);
    Onnx__ValueInfoProto *io[] = {m->graph->input[0], m->graph->output[0]};
    for (int i = 0; i < 2; i++) {
        Onnx__TensorShapeProto__Dimension *d0 = io[i]->type->tensor_type->shape->dim[0];
        /* The unpacker owns dim_param; free it before the union changes meaning. */
        if (d0->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            free(d0->dim_param);
        d0->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d0->dim_value = 1;
    }
    size_t size = onnx__model_proto__get_packed_size(m);
    uint8_t *out = malloc(size);
    onnx__model_proto__pack(m, out);
    onnx__model_proto__free_unpacked(m, NULL);
    char *path = strdup("/tmp/fc_batch1_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, out, size), (ssize_t)size);
    close(fd);
    free(out);
    return path;
}

static void fill_uniform(fc_tensor *t, unsigned seed, float lo, float hi)
{
    float *d = t->data;
    for (size_t i = 0; i < t->numel; i++) {
        seed = seed * 1664525u + 1013904223u;
        d[i] = lo + (hi - lo) * (float)(seed >> 8) / (float)(1u << 24);
    }
}

START_TEST(batch1_model_given_a_batch_runs_image_by_image)
{
    fc_err err;
    char *path = write_batch1_model();
    fc_graph *fixed = load(path);
    fc_graph *dynamic = load(FC_TEST_DATA "/peers/mlp.onnx");
    ck_assert_int_eq(fixed->values[fixed->inputs[0]].dims[0], 1);
    fc_engine *ef = NULL, *ed = NULL;
    ck_assert_int_eq(fc_engine_create(fixed, "f32", &ef, &err), FC_OK);
    ck_assert_int_eq(fc_engine_create(dynamic, "f32", &ed, &err), FC_OK);
    fc_tensor x;
    int64_t dims[] = {10, 1, 28, 28};
    ck_assert_int_eq(fc_tensor_alloc(&x, FC_DT_F32, 4, dims, &err), FC_OK);
    fill_uniform(&x, 3, 0.0f, 1.0f);
    fc_tensor a = run1(ef, &x), b = run1(ed, &x);
    ck_assert_int_eq(a.dims[0], 10);
    ck_assert(fc_tensor_same_shape(&a, &b));
    for (size_t i = 0; i < a.numel; i++)
        ck_assert_float_eq_tol(((float *)a.data)[i], ((float *)b.data)[i], 1e-5);
    fc_tensor_release(&a);
    fc_tensor_release(&b);
    fc_tensor_release(&x);
    fc_engine_free(ef);
    fc_engine_free(ed);
    fc_graph_free(fixed);
    fc_graph_free(dynamic);
    unlink(path);
    free(path);
}
END_TEST

/* The fast engine against the oracle on inputs well outside the training
 * range, where a wrong fusion or folding would show. */
START_TEST(f32_matches_f32_ref_on_peer_models_with_wild_inputs)
{
    static const char *const models[] = {"mlp", "cnn", "resnet", "mobilenet"};
    fc_err err;
    for (int m = 0; m < 4; m++) {
        char path[256];
        snprintf(path, sizeof path, FC_TEST_DATA "/peers/%s.onnx", models[m]);
        fc_graph *g = load(path);
        fc_engine *fast = NULL, *ref = NULL;
        ck_assert_int_eq(fc_engine_create(g, "f32", &fast, &err), FC_OK);
        ck_assert_int_eq(fc_engine_create(g, "f32-ref", &ref, &err), FC_OK);
        fc_tensor x;
        int64_t dims[] = {13, 1, 28, 28};
        ck_assert_int_eq(fc_tensor_alloc(&x, FC_DT_F32, 4, dims, &err), FC_OK);
        fill_uniform(&x, 11u + (unsigned)m, -3.0f, 4.0f);
        fc_tensor a = run1(fast, &x), b = run1(ref, &x);
        double worst = 0;
        for (size_t i = 0; i < a.numel; i++) {
            double ra = ((float *)a.data)[i], rb = ((float *)b.data)[i];
            double rel = fabs(ra - rb) / (1.0 + fabs(rb));
            if (!(rel <= worst))
                worst = rel;
        }
        ck_assert_msg(worst <= 1e-4, "%s: f32 vs f32-ref relative error %g", models[m], worst);
        fc_tensor_release(&a);
        fc_tensor_release(&b);
        fc_tensor_release(&x);
        fc_engine_free(fast);
        fc_engine_free(ref);
        fc_graph_free(g);
    }
}
END_TEST

/* A one-node model with a made-up op: loads, but no engine accepts it. */
START_TEST(unsupported_op_is_refused_naming_node_and_op)
{
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    Onnx__ValueInfoProto in = ONNX__VALUE_INFO_PROTO__INIT, out = ONNX__VALUE_INFO_PROTO__INIT;
    Onnx__TypeProto ty = ONNX__TYPE_PROTO__INIT;
    Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT;
    Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
    Onnx__TensorShapeProto__Dimension dim = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
    dim.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    dim.dim_value = 4;
    Onnx__TensorShapeProto__Dimension *dims[] = {&dim};
    shape.n_dim = 1;
    shape.dim = dims;
    tt.has_elem_type = 1;
    tt.elem_type = 1;
    tt.shape = &shape;
    ty.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    ty.tensor_type = &tt;
    in.name = "x";
    in.type = &ty;
    out.name = "y";
    out.type = &ty;
    char *ins[] = {"x"}, *outs[] = {"y"};
    node.op_type = "FrobnicateV2";
    node.name = "frob_7";
    node.n_input = 1;
    node.input = ins;
    node.n_output = 1;
    node.output = outs;
    Onnx__NodeProto *nodes[] = {&node};
    Onnx__ValueInfoProto *gin[] = {&in}, *gout[] = {&out};
    graph.n_node = 1;
    graph.node = nodes;
    graph.n_input = 1;
    graph.input = gin;
    graph.n_output = 1;
    graph.output = gout;
    graph.name = "g";
    opset.has_version = 1;
    opset.version = 13;
    opset.domain = "";
    Onnx__OperatorSetIdProto *opsets[] = {&opset};
    model.has_ir_version = 1;
    model.ir_version = 7;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.graph = &graph;
    size_t size = onnx__model_proto__get_packed_size(&model);
    uint8_t *bytes = malloc(size);
    onnx__model_proto__pack(&model, bytes);

    fc_err err;
    fc_graph *g = NULL;
    ck_assert_msg(fc_onnx_load_bytes(bytes, size, NULL, "frob.onnx", &g, &err) == FC_OK, "%s",
                  err.msg);
    free(bytes);
    fc_engine *e = NULL;
    const char *const kinds[] = {"f32", "f32-ref"};
    for (int k = 0; k < 2; k++) {
        fc_err_clear(&err);
        ck_assert_int_eq(fc_engine_create(g, kinds[k], &e, &err), FC_ERR_UNSUPPORTED);
        ck_assert_ptr_null(e);
        ck_assert_ptr_nonnull(strstr(err.msg, "FrobnicateV2"));
        ck_assert_ptr_nonnull(strstr(err.msg, "frob_7"));
    }
    ck_assert_int_eq(fc_engine_create(g, "f64-magic", &e, &err), FC_ERR_INVALID_ARG);
    fc_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("executor");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, pytorch_reshape_export_runs_at_any_batch_and_matches_torch);
    tcase_add_test(tc, batch1_model_given_a_batch_runs_image_by_image);
    tcase_add_test(tc, f32_matches_f32_ref_on_peer_models_with_wild_inputs);
    tcase_add_test(tc, unsupported_op_is_refused_naming_node_and_op);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
