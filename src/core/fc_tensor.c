#include "fc_tensor.h"

#include <stdio.h>
#include <string.h>

#include "fc_alloc.h"

size_t fc_dtype_size(fc_dtype dt)
{
    switch (dt) {
    case FC_DT_F32: return 4;
    case FC_DT_U8: return 1;
    case FC_DT_I8: return 1;
    case FC_DT_I32: return 4;
    case FC_DT_I64: return 8;
    case FC_DT_BOOL: return 1;
    case FC_DT_F64: return 8;
    case FC_DT_UNDEFINED: break;
    }
    return 0;
}

const char *fc_dtype_name(fc_dtype dt)
{
    switch (dt) {
    case FC_DT_F32: return "float32";
    case FC_DT_U8: return "uint8";
    case FC_DT_I8: return "int8";
    case FC_DT_I32: return "int32";
    case FC_DT_I64: return "int64";
    case FC_DT_BOOL: return "bool";
    case FC_DT_F64: return "float64";
    case FC_DT_UNDEFINED: break;
    }
    return "undefined";
}

bool fc_dtype_supported(int dt)
{
    return dt != FC_DT_UNDEFINED && fc_dtype_size((fc_dtype)dt) != 0;
}

fc_status fc_shape_numel(int rank, const int64_t *dims, size_t *numel,
                         const char *what, fc_err *err)
{
    if (rank < 0 || rank > FC_MAX_RANK)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: rank %d outside 0..%d",
                          what, rank, FC_MAX_RANK);
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return fc_err_set(err, FC_ERR_SHAPE, "%s: negative dimension %lld at axis %d",
                              what, (long long)dims[i], i);
        if ((uint64_t)dims[i] > FC_MAX_TENSOR_ELEMS ||
            !fc_mul_size(n, (size_t)dims[i], &n) || n > FC_MAX_TENSOR_ELEMS)
            return fc_err_set(err, FC_ERR_LIMIT,
                              "%s: more than %llu elements (cap FC_MAX_TENSOR_ELEMS)",
                              what, (unsigned long long)FC_MAX_TENSOR_ELEMS);
    }
    *numel = n;
    return FC_OK;
}

fc_status fc_tensor_alloc(fc_tensor *t, fc_dtype dt, int rank,
                          const int64_t *dims, fc_err *err)
{
    memset(t, 0, sizeof *t);
    size_t esize = fc_dtype_size(dt);
    if (!esize)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "tensor dtype %d is not supported", (int)dt);
    size_t numel;
    fc_status st = fc_shape_numel(rank, dims, &numel, "tensor", err);
    if (st)
        return st;
    size_t bytes;
    if (!fc_mul_size(numel, esize, &bytes) || bytes > FC_MAX_TENSOR_BYTES)
        return fc_err_set(err, FC_ERR_LIMIT, "tensor of %zu elements exceeds %llu bytes",
                          numel, (unsigned long long)FC_MAX_TENSOR_BYTES);
    void *data = fc_calloc(bytes ? bytes : 1, 1);
    if (!data)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    t->numel = numel;
    t->data = data;
    t->owns_data = true;
    return FC_OK;
}

fc_status fc_tensor_copy(fc_tensor *dst, const fc_tensor *src, fc_err *err)
{
    fc_status st = fc_tensor_alloc(dst, src->dtype, src->rank, src->dims, err);
    if (st)
        return st;
    if (src->numel)
        memcpy(dst->data, src->data, fc_tensor_bytes(src));
    return FC_OK;
}

void fc_tensor_release(fc_tensor *t)
{
    if (!t)
        return;
    if (t->owns_data)
        fc_free(t->data);
    memset(t, 0, sizeof *t);
}

size_t fc_tensor_bytes(const fc_tensor *t) { return t->numel * fc_dtype_size(t->dtype); }

double fc_tensor_get_f64(const fc_tensor *t, size_t i)
{
    switch (t->dtype) {
    case FC_DT_F32: return ((const float *)t->data)[i];
    case FC_DT_F64: return ((const double *)t->data)[i];
    case FC_DT_U8: return ((const uint8_t *)t->data)[i];
    case FC_DT_I8: return ((const int8_t *)t->data)[i];
    case FC_DT_I32: return ((const int32_t *)t->data)[i];
    case FC_DT_I64: return (double)((const int64_t *)t->data)[i];
    case FC_DT_BOOL: return ((const uint8_t *)t->data)[i] != 0;
    case FC_DT_UNDEFINED: break;
    }
    return 0.0;
}

int64_t fc_tensor_get_i64(const fc_tensor *t, size_t i)
{
    switch (t->dtype) {
    case FC_DT_I64: return ((const int64_t *)t->data)[i];
    case FC_DT_I32: return ((const int32_t *)t->data)[i];
    case FC_DT_U8: return ((const uint8_t *)t->data)[i];
    case FC_DT_I8: return ((const int8_t *)t->data)[i];
    case FC_DT_BOOL: return ((const uint8_t *)t->data)[i] != 0;
    case FC_DT_F32: case FC_DT_F64: case FC_DT_UNDEFINED: break;
    }
    return 0;
}

bool fc_tensor_same_shape(const fc_tensor *a, const fc_tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

const char *fc_dims_str(int rank, const int64_t *dims, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf + used, size - used, "[");
    for (int i = 0; i < rank && used < size; i++) {
        if (dims[i] < 0)
            used += (size_t)snprintf(buf + used, size - used, "%sN", i ? "," : "");
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? "," : "",
                                     (long long)dims[i]);
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}
