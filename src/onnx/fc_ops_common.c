/* Helpers shared by the op definitions (see fc_ops_internal.h). */
#include <string.h>

#include "fc_ops_internal.h"

fc_status fc_opi_io(const fc_node *node, const fc_vinfo *const *in, int min_in, int max_in,
                    int max_out, fc_err *err)
{
    if (node->n_inputs < min_in || node->n_inputs > max_in) {
        if (min_in == max_in)
            return fc_err_set(err, FC_ERR_SHAPE, "%d inputs, expected %d", node->n_inputs,
                              min_in);
        return fc_err_set(err, FC_ERR_SHAPE, "%d inputs, expected %d to %d", node->n_inputs,
                          min_in, max_in);
    }
    for (int i = 0; i < min_in; i++)
        if (!in[i])
            return fc_err_set(err, FC_ERR_SHAPE, "required input %d is omitted", i);
    if (node->n_outputs < 1 || node->n_outputs > max_out)
        return fc_err_set(err, FC_ERR_SHAPE, "%d outputs, expected 1 to %d", node->n_outputs,
                          max_out);
    return FC_OK;
}

const fc_vinfo *fc_opi_opt(const fc_node *node, const fc_vinfo *const *in, int i)
{
    return i < node->n_inputs ? in[i] : NULL;
}

bool fc_opi_has_out(const fc_node *node, int j)
{
    return j < node->n_outputs && node->outputs[j] >= 0;
}

void fc_opi_set(fc_vinfo *out, fc_dtype dt, int rank, const int64_t *dims)
{
    memset(out, 0, sizeof *out);
    out->dtype = dt;
    out->rank = rank;
    if (rank > 0)
        memcpy(out->dims, dims, (size_t)rank * sizeof *dims);
}

void fc_opi_same(fc_vinfo *out, const fc_vinfo *in)
{
    fc_opi_set(out, in->dtype, in->rank, in->dims);
}

bool fc_opi_is_float(fc_dtype dt) { return dt == FC_DT_F32 || dt == FC_DT_F64; }

bool fc_opi_is_int(fc_dtype dt)
{
    return dt == FC_DT_U8 || dt == FC_DT_I8 || dt == FC_DT_I32 || dt == FC_DT_I64;
}

size_t fc_opi_numel(const fc_vinfo *v)
{
    size_t n = 1;
    for (int i = 0; i < v->rank; i++)
        n *= (size_t)v->dims[i];
    return n;
}

fc_status fc_opi_need_float(const fc_vinfo *v, const char *what, fc_err *err)
{
    if (fc_opi_is_float(v->dtype))
        return FC_OK;
    return fc_err_set(err, FC_ERR_SHAPE, "%s has dtype %s, expected a float type", what,
                      fc_dtype_name(v->dtype));
}

fc_status fc_opi_same_dtype(const fc_vinfo *a, const char *what_a, const fc_vinfo *b,
                            const char *what_b, fc_err *err)
{
    if (a->dtype == b->dtype)
        return FC_OK;
    return fc_err_set(err, FC_ERR_SHAPE, "%s has dtype %s but %s has dtype %s", what_a,
                      fc_dtype_name(a->dtype), what_b, fc_dtype_name(b->dtype));
}

fc_status fc_opi_need_rank(const fc_vinfo *v, int r, const char *what, fc_err *err)
{
    if (v->rank == r)
        return FC_OK;
    char s[128];
    return fc_err_set(err, FC_ERR_SHAPE, "%s has shape %s, expected rank %d", what,
                      fc_dims_str(v->rank, v->dims, s, sizeof s), r);
}

fc_status fc_opi_const_ints(const fc_vinfo *v, const char *role, const char *input,
                            size_t max, int64_t *vals, size_t *n, fc_err *err)
{
    if (!v->value)
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%s depends on a non-constant input '%s'", role, input);
    const fc_tensor *t = v->value;
    if (t->dtype != FC_DT_I64 && t->dtype != FC_DT_I32)
        return fc_err_set(err, FC_ERR_SHAPE, "input '%s' has dtype %s, expected int64", input,
                          fc_dtype_name(t->dtype));
    if (t->rank > 1)
        return fc_err_set(err, FC_ERR_SHAPE, "input '%s' has rank %d, expected 1", input,
                          t->rank);
    if (t->numel > max)
        return fc_err_set(err, FC_ERR_SHAPE, "input '%s' has %zu values, at most %zu allowed",
                          input, t->numel, max);
    for (size_t i = 0; i < t->numel; i++)
        vals[i] = fc_tensor_get_i64(t, i);
    *n = t->numel;
    return FC_OK;
}

fc_status fc_opi_axes_mask(const int64_t *axes, size_t n, int rank, unsigned *mask,
                           fc_err *err)
{
    *mask = 0;
    for (size_t i = 0; i < n; i++) {
        int a;
        fc_status st = fc_axis_normalize(axes[i], rank, &a, err);
        if (st)
            return st;
        if (*mask & (1u << a))
            return fc_err_set(err, FC_ERR_SHAPE, "axis %lld is repeated", (long long)axes[i]);
        *mask |= 1u << a;
    }
    return FC_OK;
}

fc_status fc_opi_fold_alloc(fc_tensor *out, const fc_vinfo *info, fc_err *err)
{
    return fc_tensor_alloc(out, info->dtype, info->rank, info->dims, err);
}

void fc_opi_store_int(fc_tensor *t, size_t i, int64_t v)
{
    /* Through unsigned types: the narrowing keeps the low bits without any
     * implementation-defined signed conversion. */
    uint64_t u = (uint64_t)v;
    unsigned char *p = (unsigned char *)t->data;
    switch (t->dtype) {
    case FC_DT_I64: memcpy(p + 8 * i, &u, 8); break;
    case FC_DT_I32: {
        uint32_t w = (uint32_t)u;
        memcpy(p + 4 * i, &w, 4);
        break;
    }
    case FC_DT_U8: case FC_DT_I8: case FC_DT_BOOL: {
        uint8_t b = (uint8_t)u;
        if (t->dtype == FC_DT_BOOL)
            b = v != 0;
        memcpy(p + i, &b, 1);
        break;
    }
    default: break;
    }
}
