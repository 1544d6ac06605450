/* fc_graph -> onnx.ModelProto with the protobuf-c bindings the loader uses.
 *
 * The message tree is built from small heap blocks that all go through one
 * arena, so whichever allocation fails, a single arena_free() releases
 * everything built so far.  Strings and tensor bytes are not copied: the
 * messages point into the graph (which outlives the packing), except on a
 * big-endian host where raw_data needs a byte-swapped copy. */
#include "fc_onnx_write.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"

#include "../core/fc_alloc.h"

#define MS_DOMAIN "com.microsoft"
/* IR 4 is the first version where initializers need not be listed as graph
 * inputs, which is how this writer lays them out. */
#define IR_VERSION_MIN 4
#define IR_VERSION_DEFAULT 8   /* opsets up to 18 */
#define MAX_DOMAINS 8

typedef struct arena {
    void **blocks;
    size_t n, cap;
} arena;

static void arena_free(arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        fc_free(a->blocks[i]);
    fc_free(a->blocks);
    memset(a, 0, sizeof *a);
}

/* Zeroed block of count * size bytes owned by the arena; NULL on failure
 * (the arena is still consistent). */
static void *arena_calloc(arena *a, size_t count, size_t size)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        void **b = fc_realloc(a->blocks, cap * sizeof *b);
        if (!b)
            return NULL;
        a->blocks = b;
        a->cap = cap;
    }
    void *p = fc_calloc(count ? count : 1, size ? size : 1);
    if (p)
        a->blocks[a->n++] = p;
    return p;
}

typedef struct writer {
    const fc_graph *g;
    const char *label;   /* the graph's file, for messages */
    arena mem;
    fc_err *err;
} writer;

static fc_status nomem(writer *w)
{
    return fc_err_set(w->err, FC_ERR_NOMEM, "%s: out of memory serializing the model", w->label);
}

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* ---- tensors ---- */

/* raw_data is little-endian whatever the host; fc_tensor data is in host
 * order, so only a big-endian host pays for a copy. */
static fc_status raw_bytes(writer *w, const fc_tensor *t, ProtobufCBinaryData *out)
{
    size_t bytes = fc_tensor_bytes(t);
    out->len = bytes;
    out->data = bytes ? t->data : NULL;
    size_t es = fc_dtype_size(t->dtype);
    if (bytes == 0 || es == 1 || host_is_little_endian())
        return FC_OK;
    uint8_t *swapped = arena_calloc(&w->mem, bytes, 1);
    if (!swapped)
        return nomem(w);
    const uint8_t *src = t->data;
    for (size_t i = 0; i < bytes; i += es)
        for (size_t b = 0; b < es; b++)
            swapped[i + b] = src[i + es - 1 - b];
    out->data = swapped;
    return FC_OK;
}

static fc_status build_tensor(writer *w, const fc_tensor *t, char *name, const char *what,
                              Onnx__TensorProto **out)
{
    if (!fc_dtype_supported((int)t->dtype) || t->rank < 0 || t->rank > FC_MAX_RANK)
        return fc_err_set(w->err, FC_ERR_INVALID_ARG, "%s: %s has dtype %d rank %d, which no "
                          "ONNX tensor can hold", w->label, what, (int)t->dtype, t->rank);
    Onnx__TensorProto *tp = arena_calloc(&w->mem, 1, sizeof *tp);
    int64_t *dims = arena_calloc(&w->mem, (size_t)(t->rank ? t->rank : 1), sizeof *dims);
    if (!tp || !dims)
        return nomem(w);
    onnx__tensor_proto__init(tp);
    tp->name = name;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    tp->n_dims = (size_t)t->rank;
    tp->dims = dims;
    memcpy(dims, t->dims, (size_t)t->rank * sizeof *dims);
    tp->has_raw_data = 1;
    *out = tp;
    return raw_bytes(w, t, &tp->raw_data);
}

/* ---- attributes and nodes ---- */

static fc_status build_attr(writer *w, int node, const fc_attr *a, Onnx__AttributeProto **out)
{
    char label[160];
    Onnx__AttributeProto *ap = arena_calloc(&w->mem, 1, sizeof *ap);
    if (!ap)
        return nomem(w);
    onnx__attribute_proto__init(ap);
    ap->name = a->name;
    ap->has_type = 1;
    *out = ap;
    switch (a->type) {
    case FC_ATTR_FLOAT:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        ap->has_f = 1;
        ap->f = a->f;
        return FC_OK;
    case FC_ATTR_INT:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        ap->has_i = 1;
        ap->i = a->i;
        return FC_OK;
    case FC_ATTR_STRING:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        ap->has_s = 1;
        ap->s.data = (uint8_t *)(a->s ? a->s : "");
        ap->s.len = a->s ? strlen(a->s) : 0;
        return FC_OK;
    case FC_ATTR_FLOATS:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
        ap->n_floats = a->n;
        ap->floats = a->floats;
        return FC_OK;
    case FC_ATTR_INTS:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        ap->n_ints = a->n;
        ap->ints = a->ints;
        return FC_OK;
    case FC_ATTR_TENSOR: {
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
        if (!a->t)
            return fc_err_set(w->err, FC_ERR_INVALID_ARG, "%s: node %s: tensor attribute '%s' "
                              "holds no tensor", w->label,
                              fc_node_label(w->g, node, label, sizeof label), a->name);
        char what[200];
        snprintf(what, sizeof what, "node %.100s: attribute '%.60s'",
                 fc_node_label(w->g, node, label, sizeof label), a->name);
        return build_tensor(w, a->t, NULL, what, &ap->t);
    }
    case FC_ATTR_GRAPH:
    case FC_ATTR_STRINGS:
    case FC_ATTR_UNDEFINED:
    default:
        /* The loader keeps only the type of graph-valued and string-list
         * attributes, so their content cannot be written back. */
        return fc_err_set(w->err, FC_ERR_UNSUPPORTED, "%s: node %s: attribute '%s' (type %d: a "
                          "subgraph, a string list or similar) cannot be written", w->label,
                          fc_node_label(w->g, node, label, sizeof label), a->name, (int)a->type);
    }
}

static char *empty_name(void)
{
    static char empty[1] = "";
    return empty;
}

/* Value names of an input/output list; "" for an omitted optional one. */
static fc_status build_names(writer *w, const int *idx, int n, char ***out)
{
    char **names = arena_calloc(&w->mem, (size_t)(n > 0 ? n : 1), sizeof *names);
    if (!names)
        return nomem(w);
    for (int j = 0; j < n; j++)
        names[j] = idx[j] >= 0 ? w->g->values[idx[j]].name : empty_name();
    *out = names;
    return FC_OK;
}

/* Every input must be something the reloaded file provides. */
static fc_status check_inputs(writer *w, int i)
{
    const fc_graph *g = w->g;
    const fc_node *n = &g->nodes[i];
    for (int j = 0; j < n->n_inputs; j++) {
        int v = n->inputs[j];
        if (v < -1 || v >= g->n_values)
            return fc_err_set(w->err, FC_ERR_INVALID_ARG, "%s: node #%d: input %d refers to "
                              "value %d of %d", w->label, i, j, v, g->n_values);
        if (v >= 0 && !g->values[v].init && !g->values[v].is_input && g->values[v].producer < 0) {
            char label[160];
            return fc_err_set(w->err, FC_ERR_INVALID_ARG, "%s: node %s reads '%s', which no "
                              "node, initializer or graph input provides", w->label,
                              fc_node_label(g, i, label, sizeof label), g->values[v].name);
        }
    }
    for (int j = 0; j < n->n_outputs; j++)
        if (n->outputs[j] < -1 || n->outputs[j] >= g->n_values)
            return fc_err_set(w->err, FC_ERR_INVALID_ARG, "%s: node #%d: output %d refers to "
                              "value %d of %d", w->label, i, j, n->outputs[j], g->n_values);
    return FC_OK;
}

static fc_status build_node(writer *w, int i, Onnx__NodeProto **out)
{
    const fc_node *n = &w->g->nodes[i];
    fc_status st = check_inputs(w, i);
    if (st)
        return st;
    Onnx__NodeProto *np = arena_calloc(&w->mem, 1, sizeof *np);
    if (!np)
        return nomem(w);
    onnx__node_proto__init(np);
    *out = np;
    np->name = n->name && n->name[0] ? n->name : NULL;
    np->op_type = n->op_type;
    np->domain = n->domain && n->domain[0] ? n->domain : NULL;
    np->n_input = (size_t)n->n_inputs;
    np->n_output = (size_t)n->n_outputs;
    if ((st = build_names(w, n->inputs, n->n_inputs, &np->input)) ||
        (st = build_names(w, n->outputs, n->n_outputs, &np->output)))
        return st;
    np->n_attribute = (size_t)n->n_attrs;
    np->attribute = arena_calloc(&w->mem, (size_t)(n->n_attrs > 0 ? n->n_attrs : 1),
                                 sizeof *np->attribute);
    if (!np->attribute)
        return nomem(w);
    for (int a = 0; a < n->n_attrs; a++)
        if ((st = build_attr(w, i, &n->attrs[a], &np->attribute[a])))
            return st;
    return FC_OK;
}

/* ---- graph inputs and outputs ---- */

static char *dim_param_name(writer *w, int axis)
{
    /* Axis 0 is the batch everywhere in flipcheck; sharing the name "N"
     * between inputs and outputs says they are the same batch. */
    char buf[24];
    snprintf(buf, sizeof buf, axis == 0 ? "N" : "d%d", axis);
    char *s = arena_calloc(&w->mem, strlen(buf) + 1, 1);
    if (s)
        memcpy(s, buf, strlen(buf) + 1);
    return s;
}

static fc_status build_value_info(writer *w, int v, Onnx__ValueInfoProto **out)
{
    const fc_value *val = &w->g->values[v];
    Onnx__ValueInfoProto *vi = arena_calloc(&w->mem, 1, sizeof *vi);
    if (!vi)
        return nomem(w);
    onnx__value_info_proto__init(vi);
    vi->name = val->name;
    *out = vi;
    if (val->dtype == FC_DT_UNDEFINED && val->rank < 0)
        return FC_OK;   /* untyped: the reader infers it, as the loader did */
    Onnx__TypeProto *tp = arena_calloc(&w->mem, 1, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = arena_calloc(&w->mem, 1, sizeof *tt);
    if (!tp || !tt)
        return nomem(w);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    if (val->dtype != FC_DT_UNDEFINED) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)val->dtype;
    }
    if (val->rank < 0)
        return FC_OK;
    if (val->rank > FC_MAX_RANK)
        return fc_err_set(w->err, FC_ERR_INVALID_ARG, "%s: value '%s' has rank %d", w->label,
                          val->name, val->rank);
    Onnx__TensorShapeProto *sp = arena_calloc(&w->mem, 1, sizeof *sp);
    Onnx__TensorShapeProto__Dimension **dims =
        arena_calloc(&w->mem, (size_t)(val->rank ? val->rank : 1), sizeof *dims);
    if (!sp || !dims)
        return nomem(w);
    onnx__tensor_shape_proto__init(sp);
    sp->n_dim = (size_t)val->rank;
    sp->dim = dims;
    tt->shape = sp;
    for (int k = 0; k < val->rank; k++) {
        Onnx__TensorShapeProto__Dimension *d = arena_calloc(&w->mem, 1, sizeof *d);
        if (!d)
            return nomem(w);
        onnx__tensor_shape_proto__dimension__init(d);
        dims[k] = d;
        if (val->dims[k] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = val->dims[k];
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            if (!(d->dim_param = dim_param_name(w, k)))
                return nomem(w);
        }
    }
    return FC_OK;
}

static fc_status build_io(writer *w, const int *idx, int n, const char *role,
                          Onnx__ValueInfoProto ***out)
{
    Onnx__ValueInfoProto **list = arena_calloc(&w->mem, (size_t)(n > 0 ? n : 1), sizeof *list);
    if (!list)
        return nomem(w);
    *out = list;
    for (int i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= w->g->n_values)
            return fc_err_set(w->err, FC_ERR_INVALID_ARG, "%s: graph %s %d refers to value %d "
                              "of %d", w->label, role, i, idx[i], w->g->n_values);
        const fc_value *v = &w->g->values[idx[i]];
        if (role[0] == 'o' && !v->init && !v->is_input && v->producer < 0)
            return fc_err_set(w->err, FC_ERR_INVALID_ARG, "%s: graph output '%s' is computed "
                              "by no node, initializer or input", w->label, v->name);
        fc_status st = build_value_info(w, idx[i], &list[i]);
        if (st)
            return st;
    }
    return FC_OK;
}

/* ---- model ---- */

/* Initializers: the values that hold data and that no node writes
 * (including the loader's former Constant nodes, which reload as the same
 * initializer-backed values). */
static fc_status build_initializers(writer *w, Onnx__GraphProto *gp)
{
    const fc_graph *g = w->g;
    size_t count = 0;
    for (int v = 0; v < g->n_values; v++)
        count += g->values[v].init && g->values[v].producer < 0;
    gp->initializer = arena_calloc(&w->mem, count, sizeof *gp->initializer);
    if (!gp->initializer)
        return nomem(w);
    for (int v = 0; v < g->n_values; v++) {
        const fc_value *val = &g->values[v];
        if (!val->init || val->producer >= 0)
            continue;
        char what[160];
        snprintf(what, sizeof what, "initializer '%.120s'", val->name);
        fc_status st = build_tensor(w, val->init, val->name, what,
                                    &gp->initializer[gp->n_initializer]);
        if (st)
            return st;
        gp->n_initializer++;
    }
    return FC_OK;
}

static fc_status add_opset(writer *w, Onnx__ModelProto *m, char *domain, int64_t version)
{
    Onnx__OperatorSetIdProto *o = arena_calloc(&w->mem, 1, sizeof *o);
    if (!o)
        return nomem(w);
    onnx__operator_set_id_proto__init(o);
    o->domain = domain;
    o->has_version = 1;
    o->version = version;
    m->opset_import[m->n_opset_import++] = o;
    return FC_OK;
}

/* The default domain, com.microsoft when imported or used, and any other
 * domain a node uses, each once. */
static fc_status build_opsets(writer *w, Onnx__ModelProto *m)
{
    const fc_graph *g = w->g;
    m->opset_import = arena_calloc(&w->mem, MAX_DOMAINS, sizeof *m->opset_import);
    if (!m->opset_import)
        return nomem(w);
    fc_status st = add_opset(w, m, empty_name(), g->opset);
    static char ms[] = MS_DOMAIN;
    bool ms_used = g->ms_opset > 0;
    for (int i = 0; !ms_used && i < g->n_nodes; i++)
        ms_used = g->nodes[i].domain && strcmp(g->nodes[i].domain, MS_DOMAIN) == 0;
    if (!st && ms_used)
        st = add_opset(w, m, ms, g->ms_opset > 0 ? g->ms_opset : 1);
    for (int i = 0; !st && i < g->n_nodes; i++) {
        const fc_node *n = &g->nodes[i];
        if (!n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0)
            continue;
        bool seen = false;
        for (size_t k = 0; k < m->n_opset_import && !seen; k++)
            seen = strcmp(m->opset_import[k]->domain, n->domain) == 0;
        if (seen)
            continue;
        if (m->n_opset_import == MAX_DOMAINS)
            return fc_err_set(w->err, FC_ERR_LIMIT, "%s: nodes use more than %d operator "
                              "domains", w->label, MAX_DOMAINS);
        st = add_opset(w, m, n->domain, n->opset > 0 ? n->opset : 1);
    }
    return st;
}

static fc_status build_model(writer *w, Onnx__ModelProto *m)
{
    const fc_graph *g = w->g;
    static char producer[] = "flipcheck";
    static char version[] = FLIPCHECK_VERSION;
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = g->ir_version <= 0                ? IR_VERSION_DEFAULT
                    : g->ir_version < IR_VERSION_MIN ? IR_VERSION_MIN
                                                      : g->ir_version;
    m->producer_name = producer;
    m->producer_version = version;
    fc_status st = build_opsets(w, m);
    if (st)
        return st;
    Onnx__GraphProto *gp = arena_calloc(&w->mem, 1, sizeof *gp);
    if (!gp)
        return nomem(w);
    onnx__graph_proto__init(gp);
    m->graph = gp;
    gp->name = g->name && g->name[0] ? g->name : producer;
    gp->node = arena_calloc(&w->mem, (size_t)(g->n_nodes > 0 ? g->n_nodes : 1), sizeof *gp->node);
    if (!gp->node)
        return nomem(w);
    for (int i = 0; i < g->n_nodes; i++) {
        if ((st = build_node(w, i, &gp->node[i])))
            return st;
        gp->n_node++;
    }
    if ((st = build_initializers(w, gp)) ||
        (st = build_io(w, g->inputs, g->n_inputs, "input", &gp->input)) ||
        (st = build_io(w, g->outputs, g->n_outputs, "output", &gp->output)))
        return st;
    gp->n_input = (size_t)g->n_inputs;
    gp->n_output = (size_t)g->n_outputs;
    return FC_OK;
}

fc_status fc_onnx_serialize(const fc_graph *g, uint8_t **bytes, size_t *len, fc_err *err)
{
    if (!g || !bytes || !len)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "fc_onnx_serialize: missing argument");
    *bytes = NULL;
    *len = 0;
    writer w = {.g = g, .label = g->path ? g->path : "model", .err = err};
    Onnx__ModelProto m;
    fc_status st = build_model(&w, &m);
    if (!st) {
        size_t size = onnx__model_proto__get_packed_size(&m);
        uint8_t *buf = fc_malloc(size);
        if (!buf) {
            st = nomem(&w);
        } else {
            size_t packed = onnx__model_proto__pack(&m, buf);
            if (packed != size) {
                fc_free(buf);
                st = fc_err_set(err, FC_ERR_INTERNAL, "%s: packed %zu bytes, expected %zu",
                                w.label, packed, size);
            } else {
                *bytes = buf;
                *len = size;
            }
        }
    }
    arena_free(&w.mem);
    return st;
}

/* ---- saving ---- */

static fc_status write_fd(int fd, const uint8_t *buf, size_t len, const char *path, fc_err *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fc_err_set(err, FC_ERR_IO, "cannot write the model to '%s': %s", path,
                              n < 0 ? strerror(errno) : "short write");
        done += (size_t)n;
    }
    if (fsync(fd) != 0)
        return fc_err_set(err, FC_ERR_IO, "cannot write the model to '%s': %s", path,
                          strerror(errno));
    return FC_OK;
}

fc_status fc_onnx_save(const fc_graph *g, const char *path, fc_err *err)
{
    if (!g || !path || !path[0])
        return fc_err_set(err, FC_ERR_INVALID_ARG, "fc_onnx_save: missing argument");
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= sizeof tmp)
        return fc_err_set(err, FC_ERR_IO, "cannot write the model to '%s': path too long", path);
    uint8_t *buf;
    size_t len;
    fc_status st = fc_onnx_serialize(g, &buf, &len, err);
    if (st)
        return st;
    /* The temporary file sits in the target's folder so rename() is atomic. */
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = fc_err_set(err, FC_ERR_IO, "cannot write the model to '%s': %s", path,
                        strerror(errno));
        fc_free(buf);
        return st;
    }
    st = write_fd(fd, buf, len, path, err);
    fc_free(buf);
    /* mkstemp makes the file private (0600); a model is an ordinary file. */
    if (!st && fchmod(fd, 0644) != 0)
        st = fc_err_set(err, FC_ERR_IO, "cannot write the model to '%s': %s", path,
                        strerror(errno));
    if (close(fd) != 0 && !st)
        st = fc_err_set(err, FC_ERR_IO, "cannot write the model to '%s': %s", path,
                        strerror(errno));
    if (!st && rename(tmp, path) != 0)
        st = fc_err_set(err, FC_ERR_IO, "cannot write the model to '%s': %s", path,
                        strerror(errno));
    if (st)
        unlink(tmp);
    return st;
}
