/* Shared helpers of the f32-ref kernels: input access, dtype checks,
 * integer load/store with defined wraparound, index arithmetic. */
#include <string.h>

#include "ref_internal.h"

const fc_tensor *fc_ref_in(const fc_kernel_ctx *k, int i)
{
    return (i >= 0 && i < k->n_in) ? k->in[i] : NULL;
}

fc_tensor *fc_ref_out(const fc_kernel_ctx *k, int i)
{
    return (i >= 0 && i < k->n_out) ? k->out[i] : NULL;
}

fc_status fc_ref_require(const fc_kernel_ctx *k, int n_in, int n_out, fc_err *err)
{
    for (int i = 0; i < n_in; i++) {
        const fc_tensor *t = fc_ref_in(k, i);
        if (!t || (t->numel > 0 && !t->data))
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: input %d missing", k->node->op_type, i);
    }
    for (int i = 0; i < n_out; i++) {
        const fc_tensor *t = fc_ref_out(k, i);
        if (!t || (t->numel > 0 && !t->data))
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: output %d missing", k->node->op_type, i);
    }
    return FC_OK;
}

fc_status fc_ref_unsupported(const fc_kernel_ctx *k, fc_dtype dt, fc_err *err)
{
    return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: dtype %s not supported by f32-ref",
                      k->node->op_type, fc_dtype_name(dt));
}

bool fc_ref_is_int(fc_dtype dt)
{
    return dt == FC_DT_U8 || dt == FC_DT_I8 || dt == FC_DT_I32 || dt == FC_DT_I64;
}

int64_t fc_ref_load_int(const fc_tensor *t, size_t i)
{
    switch (t->dtype) {
    case FC_DT_U8:
    case FC_DT_BOOL: return ((const uint8_t *)t->data)[i];
    case FC_DT_I8: return ((const int8_t *)t->data)[i];
    case FC_DT_I32: return ((const int32_t *)t->data)[i];
    case FC_DT_I64: return ((const int64_t *)t->data)[i];
    default: return 0;
    }
}

void fc_ref_store_wrap(fc_tensor *t, size_t i, uint64_t v)
{
    unsigned char *p = t->data;
    switch (t->dtype) {
    case FC_DT_U8:
    case FC_DT_I8:
    case FC_DT_BOOL: {
        uint8_t b = (uint8_t)v;
        memcpy(p + i, &b, 1);
        break;
    }
    case FC_DT_I32: {
        uint32_t w = (uint32_t)v;
        memcpy(p + 4 * i, &w, 4);
        break;
    }
    case FC_DT_I64:
        memcpy(p + 8 * i, &v, 8);
        break;
    default:
        break;
    }
}

size_t fc_ref_prod(const int64_t *dims, int from, int to)
{
    size_t p = 1;
    for (int i = from; i < to; i++)
        p *= (size_t)dims[i];
    return p;
}

void fc_ref_strides(int rank, const int64_t *dims, size_t *strides)
{
    size_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= (size_t)dims[i];
    }
}

void fc_ref_bcast_strides(const fc_tensor *t, int out_rank, const int64_t *out_dims,
                          size_t *strides)
{
    size_t own[FC_MAX_RANK];
    fc_ref_strides(t->rank, t->dims, own);
    int shift = out_rank - t->rank;
    for (int i = 0; i < out_rank; i++) {
        int j = i - shift;
        strides[i] = (j < 0 || t->dims[j] == 1 || out_dims[i] == 1) ? 0 : own[j];
    }
}

bool fc_ref_next_index(int rank, const int64_t *dims, int64_t *idx)
{
    for (int i = rank - 1; i >= 0; i--) {
        if (++idx[i] < dims[i])
            return true;
        idx[i] = 0;
    }
    return false;
}

fc_status fc_ref_copy_bytes(const fc_kernel_ctx *k, const fc_tensor *in, fc_tensor *out,
                            fc_err *err)
{
    size_t nb = fc_tensor_bytes(in);
    if (in->dtype != out->dtype || nb != fc_tensor_bytes(out))
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: input %s x%zu does not match output %s x%zu",
                          k->node->op_type, fc_dtype_name(in->dtype), in->numel,
                          fc_dtype_name(out->dtype), out->numel);
    if (nb && in->data != out->data)
        memcpy(out->data, in->data, nb);
    return FC_OK;
}

void fc_ref_window_3d(fc_window *w)
{
    for (int i = w->nsp; i < FC_MAX_SPATIAL; i++) {
        w->in[i] = w->kernel[i] = w->stride[i] = w->dilation[i] = w->out[i] = 1;
        w->pad_begin[i] = w->pad_end[i] = 0;
    }
}
