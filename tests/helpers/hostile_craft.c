/* Crafting ONNX models from protobuf-c structs for the hostile-model tests
 * (see hostile_craft.h).  Everything lives on the C heap so protobuf-c's
 * free_unpacked(NULL allocator) releases it. */
#include "hostile_craft.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    ck_assert_msg(p != NULL, "hostile_craft: out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

/* Appends item to a malloc'd pointer array of *count entries. */
static void *push(void *array, size_t *count, void *item)
{
    void **a = realloc(array, (*count + 1) * sizeof *a);
    ck_assert_msg(a != NULL, "hostile_craft: out of memory");
    a[(*count)++] = item;
    return a;
}

#define NEW(type, init) memcpy(xmalloc(sizeof(type)), &(type)init, sizeof(type))

Onnx__GraphProto *hc_graph_new(const char *name)
{
    Onnx__GraphProto *g = NEW(Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT);
    g->name = xstrdup(name);
    return g;
}

Onnx__ModelProto *hc_model_new(int64_t opset)
{
    Onnx__ModelProto *m = NEW(Onnx__ModelProto, ONNX__MODEL_PROTO__INIT);
    m->has_ir_version = 1;
    m->ir_version = 7;
    m->producer_name = xstrdup("hostile_craft");
    if (opset > 0) {
        Onnx__OperatorSetIdProto *o =
            NEW(Onnx__OperatorSetIdProto, ONNX__OPERATOR_SET_ID_PROTO__INIT);
        o->domain = xstrdup("");
        o->has_version = 1;
        o->version = opset;
        m->opset_import = push(m->opset_import, &m->n_opset_import, o);
    }
    m->graph = hc_graph_new("g");
    return m;
}

void hc_model_free(Onnx__ModelProto *m)
{
    if (m)
        onnx__model_proto__free_unpacked(m, NULL);
}

Onnx__ModelProto *hc_unpack(const uint8_t *bytes, size_t len)
{
    return onnx__model_proto__unpack(NULL, len, bytes);
}

uint8_t *hc_pack(const Onnx__ModelProto *m, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(m);
    uint8_t *out = xmalloc(*len);
    ck_assert_uint_eq(onnx__model_proto__pack(m, out), *len);
    return out;
}

/* Splits "a,b,,c" into a malloc'd array of malloc'd strings. */
static char **split_names(const char *csv, size_t *count)
{
    char **names = NULL;
    *count = 0;
    if (!*csv)
        return NULL;
    for (const char *s = csv;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        char *name = xmalloc(n + 1);
        memcpy(name, s, n);
        name[n] = '\0';
        names = push(names, count, name);
        if (!comma)
            break;
        s = comma + 1;
    }
    return names;
}

Onnx__NodeProto *hc_add_node(Onnx__GraphProto *g, const char *op, const char *name,
                             const char *ins, const char *outs)
{
    Onnx__NodeProto *n = NEW(Onnx__NodeProto, ONNX__NODE_PROTO__INIT);
    n->op_type = xstrdup(op);
    n->name = xstrdup(name);
    n->input = split_names(ins, &n->n_input);
    n->output = split_names(outs, &n->n_output);
    g->node = push(g->node, &g->n_node, n);
    return n;
}

static Onnx__TensorShapeProto *make_shape(int rank, const int64_t *dims)
{
    Onnx__TensorShapeProto *s = NEW(Onnx__TensorShapeProto, ONNX__TENSOR_SHAPE_PROTO__INIT);
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = NEW(Onnx__TensorShapeProto__Dimension,
                                                   ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT);
        if (dims[i] == HC_DIM_N) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = xstrdup("N");
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        s->dim = push(s->dim, &s->n_dim, d);
    }
    return s;
}

static Onnx__ValueInfoProto *make_vi(const char *name, int elem_type, int rank,
                                     const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = NEW(Onnx__ValueInfoProto, ONNX__VALUE_INFO_PROTO__INIT);
    Onnx__TypeProto *ty = NEW(Onnx__TypeProto, ONNX__TYPE_PROTO__INIT);
    Onnx__TypeProto__Tensor *tt = NEW(Onnx__TypeProto__Tensor, ONNX__TYPE_PROTO__TENSOR__INIT);
    tt->has_elem_type = 1;
    tt->elem_type = elem_type;
    tt->shape = make_shape(rank, dims);
    ty->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    ty->tensor_type = tt;
    vi->name = xstrdup(name);
    vi->type = ty;
    return vi;
}

Onnx__ValueInfoProto *hc_add_input(Onnx__GraphProto *g, const char *name, int elem_type,
                                   int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = make_vi(name, elem_type, rank, dims);
    g->input = push(g->input, &g->n_input, vi);
    return vi;
}

Onnx__ValueInfoProto *hc_add_output(Onnx__GraphProto *g, const char *name, int elem_type,
                                    int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = make_vi(name, elem_type, rank, dims);
    g->output = push(g->output, &g->n_output, vi);
    return vi;
}

void hc_set_vi_dims(Onnx__ValueInfoProto *vi, int rank, const int64_t *dims)
{
    Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    onnx__tensor_shape_proto__free_unpacked(tt->shape, NULL);
    tt->shape = make_shape(rank, dims);
}

void hc_set_dims(Onnx__TensorProto *t, int rank, const int64_t *dims)
{
    free(t->dims);
    t->n_dims = (size_t)rank;
    t->dims = xmalloc((size_t)rank * sizeof *dims);
    if (rank)
        memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
}

Onnx__TensorProto *hc_tensor_f32(const char *name, int rank, const int64_t *dims,
                                 const float *vals, size_t n)
{
    Onnx__TensorProto *t = NEW(Onnx__TensorProto, ONNX__TENSOR_PROTO__INIT);
    t->name = xstrdup(name);
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    hc_set_dims(t, rank, dims);
    t->has_raw_data = 1;
    t->raw_data.len = n * sizeof(float);
    t->raw_data.data = xmalloc(t->raw_data.len);
    if (n)
        memcpy(t->raw_data.data, vals, t->raw_data.len); /* little-endian host */
    return t;
}

Onnx__TensorProto *hc_add_init(Onnx__GraphProto *g, Onnx__TensorProto *t)
{
    g->initializer = push(g->initializer, &g->n_initializer, t);
    return t;
}

void hc_raw_to_float_data(Onnx__TensorProto *t, size_t n)
{
    size_t have = t->raw_data.len / sizeof(float);
    t->float_data = xmalloc(n * sizeof(float));
    memset(t->float_data, 0, n * sizeof(float));
    memcpy(t->float_data, t->raw_data.data, (n < have ? n : have) * sizeof(float));
    t->n_float_data = n;
    free(t->raw_data.data);
    t->raw_data.data = NULL;
    t->raw_data.len = 0;
    t->has_raw_data = 0;
}

static void add_entry(Onnx__TensorProto *t, const char *key, const char *value)
{
    if (!value)
        return;
    Onnx__StringStringEntryProto *e =
        NEW(Onnx__StringStringEntryProto, ONNX__STRING_STRING_ENTRY_PROTO__INIT);
    e->key = xstrdup(key);
    e->value = xstrdup(value);
    t->external_data = push(t->external_data, &t->n_external_data, e);
}

void hc_set_external(Onnx__TensorProto *t, const char *location, const char *offset,
                     const char *length)
{
    free(t->raw_data.data);
    t->raw_data.data = NULL;
    t->raw_data.len = 0;
    t->has_raw_data = 0;
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    add_entry(t, "location", location);
    add_entry(t, "offset", offset);
    add_entry(t, "length", length);
}

static Onnx__AttributeProto *add_attr(Onnx__NodeProto *n, const char *name,
                                      Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = NEW(Onnx__AttributeProto, ONNX__ATTRIBUTE_PROTO__INIT);
    a->name = xstrdup(name);
    a->has_type = 1;
    a->type = type;
    n->attribute = push(n->attribute, &n->n_attribute, a);
    return a;
}

Onnx__AttributeProto *hc_attr_int(Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
    return a;
}

Onnx__AttributeProto *hc_attr_ints(Onnx__NodeProto *n, const char *name, size_t count,
                                   const int64_t *v)
{
    Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = count;
    a->ints = xmalloc(count * sizeof *v);
    memcpy(a->ints, v, count * sizeof *v);
    return a;
}

Onnx__AttributeProto *hc_attr_tensor(Onnx__NodeProto *n, const char *name,
                                     Onnx__TensorProto *t)
{
    Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = t;
    return a;
}

Onnx__AttributeProto *hc_attr_graph(Onnx__NodeProto *n, const char *name,
                                    Onnx__GraphProto *sub)
{
    Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    a->g = sub;
    return a;
}

Onnx__TensorProto *hc_find_init(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0)
            return g->initializer[i];
    return NULL;
}

int hc_remove_init(Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++) {
        if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0) {
            onnx__tensor_proto__free_unpacked(g->initializer[i], NULL);
            memmove(&g->initializer[i], &g->initializer[i + 1],
                    (g->n_initializer - i - 1) * sizeof *g->initializer);
            g->n_initializer--;
            return 1;
        }
    }
    return 0;
}

Onnx__ModelProto *hc_conv_model(void)
{
    Onnx__ModelProto *m = hc_model_new(13);
    Onnx__GraphProto *g = m->graph;
    float w[HC_CONV_W_COUNT], b[2] = {0.5f, -100.0f};
    for (int i = 0; i < HC_CONV_W_COUNT; i++)
        w[i] = 0.1f * (float)(i + 1);
    const int64_t xd[] = {HC_DIM_N, 1, 4, 4}, yd[] = {HC_DIM_N, 2, 4, 4};
    const int64_t wd[] = {2, 1, 3, 3}, bd[] = {2};
    const int64_t k[] = {3, 3}, pads[] = {1, 1, 1, 1};
    hc_add_input(g, "x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, xd);
    hc_add_output(g, "y", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, yd);
    hc_add_init(g, hc_tensor_f32("W", 4, wd, w, HC_CONV_W_COUNT));
    hc_add_init(g, hc_tensor_f32("B", 1, bd, b, 2));
    Onnx__NodeProto *conv = hc_add_node(g, "Conv", "conv0", "x,W,B", "c");
    hc_attr_ints(conv, "kernel_shape", 2, k);
    hc_attr_ints(conv, "pads", 4, pads);
    hc_add_node(g, "Relu", "relu0", "c", "y");
    return m;
}

uint8_t *hc_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_ge(size, 0);
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    uint8_t *buf = xmalloc((size_t)size);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

char *hc_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *hc_write_file(const char *dir, const char *name, const void *bytes, size_t len)
{
    char *path = hc_path(dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

void hc_remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = hc_path(dir, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                hc_remove_tree(p);
            else
                unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

uint64_t hc_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- recipes ------------------------------------------------------------- */

static const int64_t x4[] = {HC_DIM_N, 1, 4, 4}, img[] = {HC_DIM_N, 1, 28, 28};
#define F32 ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define BOOL ONNX__TENSOR_PROTO__DATA_TYPE__BOOL

Onnx__ModelProto *hc_bare_model(int64_t opset, const char *out)
{
    Onnx__ModelProto *m = hc_model_new(opset);
    hc_add_input(m->graph, "x", F32, 4, x4);
    hc_add_output(m->graph, out, F32, 4, x4);
    return m;
}

Onnx__ModelProto *hc_one_op_model(const char *op, const char *domain)
{
    Onnx__ModelProto *m = hc_model_new(13);
    hc_add_input(m->graph, "input", F32, 4, img);
    hc_add_output(m->graph, "y", F32, 4, img);
    Onnx__NodeProto *n = hc_add_node(m->graph, op, "hostile_node", "input", "y");
    if (domain) {
        n->domain = xstrdup(domain);
        Onnx__OperatorSetIdProto *o =
            NEW(Onnx__OperatorSetIdProto, ONNX__OPERATOR_SET_ID_PROTO__INIT);
        o->domain = xstrdup(domain);
        o->has_version = 1;
        o->version = 1;
        m->opset_import = push(m->opset_import, &m->n_opset_import, o);
    }
    return m;
}

Onnx__ModelProto *hc_constant_model(Onnx__TensorProto *value)
{
    Onnx__ModelProto *m = hc_bare_model(13, "y");
    hc_attr_tensor(hc_add_node(m->graph, "Constant", "const0", "", "k"), "value", value);
    hc_add_node(m->graph, "Add", "add0", "x,k", "y");
    return m;
}

Onnx__ModelProto *hc_control_flow_model(const char *op, int cycle_inside)
{
    Onnx__ModelProto *m = hc_bare_model(13, "y");
    const int64_t none[1] = {0};
    hc_add_input(m->graph, "cond", BOOL, 0, none);
    int is_if = strcmp(op, "If") == 0;
    Onnx__NodeProto *n = hc_add_node(m->graph, op, "flow", is_if ? "cond" : ",cond,x", "y");
    for (int b = 0; b < (is_if ? 2 : 1); b++) {
        Onnx__GraphProto *sub = hc_graph_new(b ? "else_g" : "then_g");
        if (!is_if) {
            hc_add_input(sub, "iter", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, none);
            hc_add_input(sub, "c_in", BOOL, 0, none);
            hc_add_input(sub, "v_in", F32, 4, x4);
            hc_add_output(sub, "c_in", BOOL, 0, none);
        }
        hc_add_output(sub, "out", F32, 4, x4);
        if (cycle_inside) {
            hc_add_node(sub, "Add", "inner_a", "x,out", "t");
            hc_add_node(sub, "Relu", "inner_b", "t", "out");
        } else {
            hc_add_node(sub, b ? "Identity" : "Relu", "inner", "x", "out");
        }
        hc_attr_graph(n, is_if ? (b ? "else_branch" : "then_branch") : "body", sub);
    }
    return m;
}

Onnx__ModelProto *hc_external_model(const char *location, const char *offset,
                                    const char *length)
{
    Onnx__ModelProto *m = hc_conv_model();
    hc_set_external(hc_find_init(m->graph, "W"), location, offset, length);
    return m;
}

const float hc_secret[HC_CONV_W_COUNT] = {6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6};

char *hc_external_dir(const char *root)
{
    free(hc_write_file(root, "secret.bin", hc_secret, sizeof hc_secret));
    char *dir = hc_path(root, "m");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    char *sub = hc_path(dir, "sub");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    free(sub);
    float w[HC_CONV_W_COUNT + 4] = {-1, -2, -3, -4};
    for (int i = 0; i < HC_CONV_W_COUNT; i++)
        w[i + 4] = 0.1f * (float)(i + 1);
    free(hc_write_file(dir, "W.bin", w + 4, HC_CONV_W_COUNT * sizeof(float)));
    free(hc_write_file(dir, "packed.bin", w, sizeof w));
    char *abs_secret = hc_path(root, "secret.bin");
    const char *const links[][2] = {{"../secret.bin", "link.bin"}, {abs_secret, "abslink.bin"},
                                    {"..", "updir"}, {"/etc/passwd", "passwd.bin"}};
    for (int i = 0; i < 4; i++) {
        char *at = hc_path(dir, links[i][1]);
        ck_assert_int_eq(symlink(links[i][0], at), 0);
        free(at);
    }
    free(abs_secret);
    return dir;
}

char *hc_write_model(const char *dir, const char *name, Onnx__ModelProto *m)
{
    size_t len;
    uint8_t *bytes = hc_pack(m, &len);
    hc_model_free(m);
    char *path = hc_write_file(dir, name, bytes, len);
    free(bytes);
    return path;
}
