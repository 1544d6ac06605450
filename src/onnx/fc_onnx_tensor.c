/* onnx.TensorProto -> fc_tensor: raw_data, the typed repeated fields, and
 * external data files, all sized from untrusted dims. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fc_alloc.h"
#include "../core/fc_file.h"
#include "../core/fc_limits.h"
#include "fc_onnx.h"
#include "fc_onnx_internal.h"

static void *pb_alloc(void *data, size_t size)
{
    fc_pb_alloc *a = data;
    void *p = fc_malloc(size);
    if (!p)
        a->failed = true;
    return p;
}

static void pb_free(void *data, void *ptr)
{
    (void)data;
    fc_free(ptr);
}

void fc_pb_alloc_init(fc_pb_alloc *a)
{
    a->base.alloc = pb_alloc;
    a->base.free = pb_free;
    a->base.allocator_data = a;
    a->failed = false;
}

/* ---- external data ---- */

typedef struct ext_ref {
    const char *location;
    uint64_t offset;
    uint64_t length;
    bool has_length;
} ext_ref;

static fc_status parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return FC_ERR_PARSE;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return FC_ERR_PARSE;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE)
        return FC_ERR_PARSE;
    *out = (uint64_t)v;
    return FC_OK;
}

static fc_status ext_parse(const fc_onnx_ctx *c, const Onnx__TensorProto *tp, const char *what,
                           ext_ref *r, fc_err *err)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        const char *key = kv && kv->key ? kv->key : "";
        const char *val = kv && kv->value ? kv->value : "";
        if (strcmp(key, "location") == 0) {
            r->location = val;
        } else if (strcmp(key, "offset") == 0) {
            if (parse_u64(val, &r->offset))
                return fc_err_set(err, FC_ERR_PARSE, "%s: %s: external_data offset '%.40s' is "
                                  "not a number", c->label, what, val);
        } else if (strcmp(key, "length") == 0) {
            if (parse_u64(val, &r->length))
                return fc_err_set(err, FC_ERR_PARSE, "%s: %s: external_data length '%.40s' is "
                                  "not a number", c->label, what, val);
            r->has_length = true;
        }
        /* "checksum" and unknown keys are informational. */
    }
    if (!r->location || !r->location[0])
        return fc_err_set(err, FC_ERR_PARSE, "%s: %s: external data without a location",
                          c->label, what);
    return FC_OK;
}

/* The location must name a file inside the model's folder: relative, no
 * ".." component, and (after resolving links) still under the folder. */
static fc_status ext_resolve(const fc_onnx_ctx *c, const char *what, const char *loc,
                             char *resolved, fc_err *err)
{
    if (!c->dir)
        return fc_err_set(err, FC_ERR_SECURITY, "%s: %s: external data '%.100s' refused (no "
                          "model folder to read it from)", c->label, what, loc);
    if (loc[0] == '/')
        return fc_err_set(err, FC_ERR_SECURITY, "%s: %s: external data location '%.100s' is an "
                          "absolute path; only files inside the model's folder are read",
                          c->label, what, loc);
    for (const char *p = loc; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return fc_err_set(err, FC_ERR_SECURITY, "%s: %s: external data location '%.100s' "
                              "contains '..'; only files inside the model's folder are read",
                              c->label, what, loc);
        p += n + (slash ? 1 : 0);
        if (!slash)
            break;
    }
    char joined[PATH_MAX], root[PATH_MAX];
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", c->dir, loc) >= sizeof joined)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: %s: external data path too long", c->label,
                          what);
    if (!realpath(c->dir, root))
        return fc_err_set(err, FC_ERR_IO, "%s: cannot resolve the model folder '%s': %s",
                          c->label, c->dir, strerror(errno));
    if (!realpath(joined, resolved))
        return fc_err_set(err, FC_ERR_IO, "%s: %s: external data file '%.100s': %s", c->label,
                          what, loc, strerror(errno));
    size_t rl = strlen(root);
    bool inside = strncmp(resolved, root, rl) == 0 &&
                  (resolved[rl] == '/' || (rl == 1 && root[0] == '/'));
    if (!inside)
        return fc_err_set(err, FC_ERR_SECURITY, "%s: %s: external data '%.100s' resolves to a "
                          "file outside the model's folder (a link?)", c->label, what, loc);
    return FC_OK;
}

static fc_status ext_read(fc_onnx_ctx *c, const Onnx__TensorProto *tp, const char *what,
                          fc_tensor *t, fc_err *err)
{
    ext_ref r;
    char path[PATH_MAX];
    fc_status st = ext_parse(c, tp, what, &r, err);
    if (st || (st = ext_resolve(c, what, r.location, path, err)))
        return st;
    size_t need = fc_tensor_bytes(t);
    if (r.has_length && r.length != need)
        return fc_err_set(err, FC_ERR_PARSE, "%s: %s: external_data length %llu, the dims need "
                          "%zu bytes", c->label, what, (unsigned long long)r.length, need);
    if (c->external_bytes + need > FC_MAX_MODEL_BYTES)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: external data exceeds the model cap of %llu "
                          "bytes", c->label, (unsigned long long)FC_MAX_MODEL_BYTES);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fc_err_set(err, FC_ERR_IO, "%s: %s: cannot open external data '%.100s': %s",
                          c->label, what, r.location, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return fc_err_set(err, FC_ERR_IO, "%s: %s: external data '%.100s' is not a regular file",
                          c->label, what, r.location);
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (r.offset > size || need > size - r.offset) {
        close(fd);
        return fc_err_set(err, FC_ERR_PARSE, "%s: %s: external data '%.100s' has %llu bytes, "
                          "offset %llu + %zu needed", c->label, what, r.location,
                          (unsigned long long)size, (unsigned long long)r.offset, need);
    }
    size_t got = 0;
    while (got < need) {
        ssize_t n = pread(fd, (char *)t->data + got, need - got, (off_t)(r.offset + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return fc_err_set(err, FC_ERR_IO, "%s: %s: short read from external data '%.100s'",
                              c->label, what, r.location);
        }
        got += (size_t)n;
    }
    close(fd);
    c->external_bytes += need;
    return FC_OK;
}

/* ---- typed fields ---- */

static fc_status typed_count(const fc_onnx_ctx *c, const char *what, const char *field,
                             size_t have, size_t want, fc_err *err)
{
    if (have != want)
        return fc_err_set(err, FC_ERR_PARSE, "%s: %s: %s has %zu values, the dims need %zu",
                          c->label, what, field, have, want);
    return FC_OK;
}

static fc_status read_typed(const fc_onnx_ctx *c, const Onnx__TensorProto *tp, const char *what,
                            fc_tensor *t, fc_err *err)
{
    size_t n = t->numel;
    fc_status st;
    switch (t->dtype) {
    case FC_DT_F32:
        if ((st = typed_count(c, what, "float_data", tp->n_float_data, n, err)))
            return st;
        if (n)
            memcpy(t->data, tp->float_data, n * sizeof(float));
        return FC_OK;
    case FC_DT_F64:
        if ((st = typed_count(c, what, "double_data", tp->n_double_data, n, err)))
            return st;
        if (n)
            memcpy(t->data, tp->double_data, n * sizeof(double));
        return FC_OK;
    case FC_DT_I64:
        if ((st = typed_count(c, what, "int64_data", tp->n_int64_data, n, err)))
            return st;
        if (n)
            memcpy(t->data, tp->int64_data, n * sizeof(int64_t));
        return FC_OK;
    case FC_DT_I32:
        if ((st = typed_count(c, what, "int32_data", tp->n_int32_data, n, err)))
            return st;
        if (n)
            memcpy(t->data, tp->int32_data, n * sizeof(int32_t));
        return FC_OK;
    case FC_DT_U8:
    case FC_DT_I8:
    case FC_DT_BOOL: {
        /* The narrow types travel widened in int32_data. */
        if ((st = typed_count(c, what, "int32_data", tp->n_int32_data, n, err)))
            return st;
        int32_t lo = t->dtype == FC_DT_I8 ? -128 : 0;
        int32_t hi = t->dtype == FC_DT_I8 ? 127 : t->dtype == FC_DT_U8 ? 255 : 1;
        for (size_t i = 0; i < n; i++) {
            int32_t v = tp->int32_data[i];
            if (v < lo || v > hi)
                return fc_err_set(err, FC_ERR_PARSE, "%s: %s: int32_data[%zu] = %d is out of "
                                  "range for %s", c->label, what, i, v,
                                  fc_dtype_name(t->dtype));
            if (t->dtype == FC_DT_I8)
                ((int8_t *)t->data)[i] = (int8_t)v;
            else
                ((uint8_t *)t->data)[i] = (uint8_t)v;
        }
        return FC_OK;
    }
    default:
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: %s: dtype %d slipped through", c->label, what,
                          (int)t->dtype);
    }
}

static fc_status check_bool_values(const fc_onnx_ctx *c, const char *what, const fc_tensor *t,
                                   fc_err *err)
{
    const uint8_t *b = t->data;
    for (size_t i = 0; i < t->numel; i++)
        if (b[i] > 1)
            return fc_err_set(err, FC_ERR_PARSE, "%s: %s: bool value %u at %zu", c->label, what,
                              b[i], i);
    return FC_OK;
}

fc_status fc_onnx_decode_tensor(fc_onnx_ctx *c, const Onnx__TensorProto *tp, const char *what,
                                fc_tensor *out, fc_err *err)
{
    memset(out, 0, sizeof *out);
    int32_t dt = tp->has_data_type ? tp->data_type : 0;
    if (!fc_dtype_supported(dt))
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: %s: element type %d (onnx.TensorProto."
                          "DataType) is not supported", c->label, what, (int)dt);
    if (tp->n_dims > FC_MAX_RANK)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: %s: rank %zu is over the cap of %d", c->label,
                          what, tp->n_dims, FC_MAX_RANK);
    if (tp->segment)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: %s: segmented tensors are not supported",
                          c->label, what);
    for (size_t i = 0; i < tp->n_dims; i++)
        if (tp->dims[i] < 0)
            return fc_err_set(err, FC_ERR_PARSE, "%s: %s: dims[%zu] = %lld is negative", c->label,
                              what, i, (long long)tp->dims[i]);
    size_t numel;
    fc_status st = fc_shape_numel((int)tp->n_dims, tp->dims, &numel, what, err);
    if (!st)
        st = fc_tensor_alloc(out, (fc_dtype)dt, (int)tp->n_dims, tp->dims, err);
    if (st) {
        fc_err_prefix(err, "%s: ", c->label);
        return st;
    }
    bool external = tp->has_data_location &&
                    tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    size_t bytes = fc_tensor_bytes(out);
    if (external) {
        st = ext_read(c, tp, what, out, err);
    } else if (tp->has_raw_data) {
        if (tp->raw_data.len != bytes)
            st = fc_err_set(err, FC_ERR_PARSE, "%s: %s: raw_data has %zu bytes, dims %s of %s "
                            "need %zu", c->label, what, tp->raw_data.len,
                            fc_dims_str(out->rank, out->dims, (char[96]){0}, 96),
                            fc_dtype_name(out->dtype), bytes);
        else if (bytes)
            memcpy(out->data, tp->raw_data.data, bytes);
    } else {
        st = read_typed(c, tp, what, out, err);
    }
    if (!st && out->dtype == FC_DT_BOOL)
        st = check_bool_values(c, what, out, err);
    if (st)
        fc_tensor_release(out);
    return st;
}

fc_status fc_onnx_read_tensor_pb(const char *path, fc_tensor *out, fc_err *err)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t len;
    fc_status st = fc_file_read_all(path, FC_MAX_TENSOR_BYTES + (1u << 20), "tensor", &buf, &len,
                                    err);
    if (st)
        return st;
    fc_pb_alloc a;
    fc_pb_alloc_init(&a);
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&a.base, len, buf);
    fc_free(buf);
    if (!tp) {
        if (a.failed)
            return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory decoding the tensor", path);
        return fc_err_set(err, FC_ERR_PARSE, "%s: not a valid onnx.TensorProto", path);
    }
    fc_onnx_ctx c = {.label = path, .dir = NULL};
    const char *name = tp->name && tp->name[0] ? tp->name : "tensor";
    char what[160];
    snprintf(what, sizeof what, "tensor '%.100s'", name);
    st = fc_onnx_decode_tensor(&c, tp, what, out, err);
    onnx__tensor_proto__free_unpacked(tp, &a.base);
    return st;
}
