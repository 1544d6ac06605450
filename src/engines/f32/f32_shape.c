/* Data-movement kernels of the f32 engine (any dtype, moved as bytes):
 * Flatten/Reshape/Identity/Squeeze/Unsqueeze (a copy: same row-major bytes,
 * new dims), Dropout, Transpose, Concat, Pad, Shape, Gather, Cast,
 * Constant, ConstantOfShape. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "f32_internal.h"

static fc_status copy_bytes(const fc_kernel_ctx *k, const fc_tensor *x, fc_tensor *y,
                            fc_err *err)
{
    size_t n = fc_tensor_bytes(x);
    if (n != fc_tensor_bytes(y))
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output size differs from the input",
                          k->node->op_type);
    if (n && x->data != y->data)
        memcpy(y->data, x->data, n);
    return FC_OK;
}

fc_status fc_f32_copy(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 1, 1, err);
    return st ? st : copy_bytes(k, k->in[0], k->out[0], err);
}

/* Inference Dropout: Y = X; the optional mask is all true (bool from
 * opset 10, the input's type - value 1 - before). */
fc_status fc_f32_dropout(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 1, 1, err);
    if (st || (st = copy_bytes(k, k->in[0], k->out[0], err)))
        return st;
    fc_tensor *mask = fc_f32_out(k, 1);
    if (!mask)
        return FC_OK;
    for (size_t i = 0; i < mask->numel; i++) {
        switch (mask->dtype) {
        case FC_DT_BOOL: case FC_DT_U8: case FC_DT_I8: ((uint8_t *)mask->data)[i] = 1; break;
        case FC_DT_F32: ((float *)mask->data)[i] = 1.0f; break;
        case FC_DT_F64: ((double *)mask->data)[i] = 1.0; break;
        case FC_DT_I32: ((int32_t *)mask->data)[i] = 1; break;
        case FC_DT_I64: ((int64_t *)mask->data)[i] = 1; break;
        default: return fc_f32_unsupported(k, mask->dtype, err);
        }
    }
    return FC_OK;
}

/* Copies n elements of size es from src at element stride `st` to dst
 * (contiguous).  Per-size loops so that the compiler moves whole words. */
static void strided_copy(unsigned char *dst, const unsigned char *src, size_t n, size_t st,
                         size_t es)
{
    switch (es) {
    case 1:
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i * st];
        break;
    case 4: {
        uint32_t *d = (uint32_t *)(void *)dst;
        const uint32_t *s = (const uint32_t *)(const void *)src;
        for (size_t i = 0; i < n; i++)
            d[i] = s[i * st];
        break;
    }
    case 8: {
        uint64_t *d = (uint64_t *)(void *)dst;
        const uint64_t *s = (const uint64_t *)(const void *)src;
        for (size_t i = 0; i < n; i++)
            d[i] = s[i * st];
        break;
    }
    default:
        for (size_t i = 0; i < n; i++)
            memcpy(dst + i * es, src + i * st * es, es);
    }
}

/* Transpose: output axis i is input axis perm[i] (default reversed).  The
 * output is written in order, one row (last output axis) at a time, reading
 * the input at that axis's stride. */
fc_status fc_f32_transpose(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    const int64_t *perm;
    size_t np;
    if ((st = fc_attr_get_ints(k->node, "perm", &perm, &np, err)))
        return st;
    const int r = x->rank;
    if ((perm && np != (size_t)r) || y->numel != x->numel || y->dtype != x->dtype)
        return fc_err_set(err, FC_ERR_INTERNAL, "Transpose: bad perm or output");
    if (x->numel == 0)
        return FC_OK;
    if (r <= 1)
        return copy_bytes(k, x, y, err);
    size_t xs[FC_MAX_RANK], ps[FC_MAX_RANK], s = 1;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = s;
        s *= (size_t)x->dims[i];
    }
    for (int i = 0; i < r; i++) {
        int64_t p = perm ? perm[i] : r - 1 - i;
        if (p < 0 || p >= r)
            return fc_err_set(err, FC_ERR_INTERNAL, "Transpose: bad perm");
        ps[i] = xs[p];   /* input stride of output axis i */
    }
    const size_t es = fc_dtype_size(x->dtype);
    const size_t row = (size_t)y->dims[r - 1], rows = y->numel / row;
    const unsigned char *xd = x->data;
    unsigned char *yd = y->data;
    int64_t idx[FC_MAX_RANK] = {0};
    for (size_t rw = 0; rw < rows; rw++) {
        size_t off = 0;
        for (int i = 0; i < r - 1; i++)
            off += (size_t)idx[i] * ps[i];
        strided_copy(yd + rw * row * es, xd + off * es, row, ps[r - 1], es);
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < y->dims[i])
                break;
            idx[i] = 0;
        }
    }
    return FC_OK;
}

/* Concat along axis: for each outer index, the inputs' blocks
 * [dims[axis] * inner] follow one another. */
fc_status fc_f32_concat(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, k->n_in, 1, err);
    if (st)
        return st;
    fc_tensor *y = k->out[0];
    int64_t axis_attr;
    int axis;
    if ((st = fc_attr_get_int(k->node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, y->rank, &axis, err)))
        return st;
    if (y->numel == 0)
        return FC_OK;
    const size_t es = fc_dtype_size(y->dtype);
    const size_t outer = fc_f32_prod(y->dims, 0, axis);
    const size_t inner = fc_f32_prod(y->dims, axis + 1, y->rank) * es;
    size_t total = 0;
    for (int i = 0; i < k->n_in; i++) {
        if (k->in[i]->dtype != y->dtype || k->in[i]->rank != y->rank)
            return fc_err_set(err, FC_ERR_INTERNAL, "Concat: input %d does not fit", i);
        total += fc_tensor_bytes(k->in[i]);
    }
    if (total != fc_tensor_bytes(y))
        return fc_err_set(err, FC_ERR_INTERNAL, "Concat: sizes do not add up");
    unsigned char *dst = y->data;
    for (size_t o = 0; o < outer; o++)
        for (int i = 0; i < k->n_in; i++) {
            size_t block = (size_t)k->in[i]->dims[axis] * inner;
            if (block)
                memcpy(dst, (const unsigned char *)k->in[i]->data + o * block, block);
            dst += block;
        }
    return FC_OK;
}

/* Source index along one axis for output position o of a padded axis of
 * input size n with pad_begin pb, or -1 for the constant fill.
 *   edge:    clamp into [0, n)
 *   reflect: mirror without repeating the edge (period 2(n-1); n == 1 -> 0) */
static int64_t pad_src(int64_t o, int64_t pb, int64_t n, int mode)
{
    int64_t i = o - pb;
    if (i >= 0 && i < n)
        return i;
    if (mode == 0 || n == 0)
        return -1;
    if (mode == 1)
        return i < 0 ? 0 : n - 1;
    if (n == 1)
        return 0;
    int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

/* Pad: constant (value attribute before opset 11, optional input 2 after),
 * edge or reflect; negative pads crop.  Per axis, a map from output position
 * to source position (or -1) is built in the workspace; the output is then
 * written row by row, with a memcpy for the in-range middle of each row. */
fc_status fc_f32_pad(const fc_kernel_ctx *k, fc_err *err)
{
    const bool attrs = k->node->opset < 11;
    fc_status st = fc_f32_require(k, attrs ? 1 : 2, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *cv = attrs ? NULL : fc_f32_in(k, 2);
    fc_tensor *y = k->out[0];
    const int r = x->rank;
    const char *mode_s;
    if ((st = fc_attr_get_string(k->node, "mode", "constant", &mode_s, err)))
        return st;
    int mode = strcmp(mode_s, "edge") == 0 ? 1 : strcmp(mode_s, "reflect") == 0 ? 2 : 0;
    int64_t pads[2 * FC_MAX_RANK];
    float value = 0.0f;
    if (attrs) {
        const int64_t *p;
        size_t n;
        if ((st = fc_attr_get_ints(k->node, "pads", &p, &n, err)) ||
            (st = fc_attr_get_float(k->node, "value", 0.0f, &value, err)))
            return st;
        if (n != 2 * (size_t)r)
            return fc_err_set(err, FC_ERR_INTERNAL, "Pad: %zu pads for rank %d", n, r);
        memcpy(pads, p, n * sizeof *p);
    } else {
        const fc_tensor *pt = k->in[1];
        if (pt->numel != 2 * (size_t)r)
            return fc_err_set(err, FC_ERR_INTERNAL, "Pad: %zu pads for rank %d", pt->numel, r);
        for (int i = 0; i < 2 * r; i++)
            pads[i] = fc_tensor_get_i64(pt, (size_t)i);
    }
    if (y->dtype != x->dtype || y->rank != r)
        return fc_err_set(err, FC_ERR_INTERNAL, "Pad: bad output");
    if (y->numel == 0)
        return FC_OK;
    const size_t es = fc_dtype_size(x->dtype);
    /* The fill element's bytes. */
    unsigned char fill[8] = {0};
    if (cv && cv->numel == 1 && cv->dtype == x->dtype) {
        memcpy(fill, cv->data, es);
    } else if (attrs && value != 0.0f) {
        if (x->dtype == FC_DT_F32)
            memcpy(fill, &value, sizeof value);
        else if (x->dtype == FC_DT_F64) {
            double d = value;
            memcpy(fill, &d, sizeof d);
        } else {
            return fc_f32_unsupported(k, x->dtype, err);
        }
    }
    size_t total = 0;
    for (int i = 0; i < r; i++)
        total += (size_t)y->dims[i];
    int64_t *map = fc_workspace_get(k->ws, F32_WS_AUX, total * sizeof *map);
    if (!map)
        return fc_err_set(err, FC_ERR_NOMEM, "Pad: out of memory");
    int64_t *maps[FC_MAX_RANK];
    for (int i = 0; i < r; i++) {
        maps[i] = map;
        for (int64_t o = 0; o < y->dims[i]; o++)
            map[o] = pad_src(o, pads[i], x->dims[i], mode);
        map += y->dims[i];
    }
    if (r == 0)
        return copy_bytes(k, x, y, err);
    size_t xst[FC_MAX_RANK], s = 1;
    for (int i = r - 1; i >= 0; i--) {
        xst[i] = s;
        s *= (size_t)x->dims[i];
    }
    const int64_t W = y->dims[r - 1];
    const unsigned char *xd = x->data;
    unsigned char *yd = y->data;
    int64_t idx[FC_MAX_RANK] = {0};
    const size_t rows = y->numel / (size_t)W;
    /* Columns [c0, c1) map to consecutive sources: one memcpy. */
    int64_t c0 = pads[r - 1] < 0 ? 0 : pads[r - 1];
    int64_t c1 = c0 + (x->dims[r - 1] + (pads[r - 1] < 0 ? pads[r - 1] : 0));
    if (c1 > W)
        c1 = W;
    if (c1 < c0)
        c1 = c0;
    for (size_t rw = 0; rw < rows; rw++) {
        unsigned char *dst = yd + rw * (size_t)W * es;
        bool inside = true;
        size_t off = 0;
        for (int i = 0; i < r - 1; i++) {
            int64_t src = maps[i][idx[i]];
            if (src < 0)
                inside = false;
            else
                off += (size_t)src * xst[i];
        }
        for (int64_t c = 0; c < W; c++) {
            if (inside && c == c0 && c1 > c0) {
                memcpy(dst + (size_t)c * es,
                       xd + (off + (size_t)maps[r - 1][c]) * es, (size_t)(c1 - c0) * es);
                c = c1 - 1;
                continue;
            }
            int64_t src = maps[r - 1][c];
            if (!inside || src < 0)
                memcpy(dst + (size_t)c * es, fill, es);
            else
                memcpy(dst + (size_t)c * es, xd + (off + (size_t)src) * es, es);
        }
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < y->dims[i])
                break;
            idx[i] = 0;
        }
    }
    return FC_OK;
}

/* Shape: dims[start:end] (opset >= 15 attributes), Python slice rules. */
fc_status fc_f32_shape(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    const int64_t r = x->rank;
    int64_t s = 0, e = r;
    if (k->node->opset >= 15 && ((st = fc_attr_get_int(k->node, "start", 0, &s, err)) ||
                                 (st = fc_attr_get_int(k->node, "end", r, &e, err))))
        return st;
    s = s < 0 ? s + r : s;
    e = e < 0 ? e + r : e;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    size_t len = e > s ? (size_t)(e - s) : 0;
    if (y->dtype != FC_DT_I64 || y->numel != len)
        return fc_err_set(err, FC_ERR_INTERNAL, "Shape: bad output");
    for (size_t i = 0; i < len; i++)
        ((int64_t *)y->data)[i] = x->dims[(size_t)s + i];
    return FC_OK;
}

/* Gather along axis: out[o, j, i] = data[o, idx[j], i], negative indices
 * counting from the end.  Indices are checked at run time (they need not be
 * constant): out of range is FC_ERR_SHAPE, never an out-of-bounds read. */
fc_status fc_f32_gather(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *ind = k->in[1];
    fc_tensor *y = k->out[0];
    int64_t axis_attr;
    int axis;
    if ((st = fc_attr_get_int(k->node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, x->rank, &axis, err)))
        return st;
    if (ind->dtype != FC_DT_I64 && ind->dtype != FC_DT_I32)
        return fc_f32_unsupported(k, ind->dtype, err);
    const size_t es = fc_dtype_size(x->dtype);
    const size_t outer = fc_f32_prod(x->dims, 0, axis);
    const size_t inner = fc_f32_prod(x->dims, axis + 1, x->rank) * es;
    const int64_t n = x->dims[axis];
    if (y->numel != outer * ind->numel * (inner / (es ? es : 1)) || y->dtype != x->dtype)
        return fc_err_set(err, FC_ERR_INTERNAL, "Gather: bad output");
    for (size_t j = 0; j < ind->numel; j++) {
        int64_t i = fc_tensor_get_i64(ind, j);
        if (i < -n || i >= n)
            return fc_err_set(err, FC_ERR_SHAPE, "Gather: index %lld out of range [%lld, %lld]",
                              (long long)i, (long long)-n, (long long)(n - 1));
    }
    unsigned char *dst = y->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < ind->numel; j++) {
            int64_t i = fc_tensor_get_i64(ind, j);
            if (i < 0)
                i += n;
            if (inner)
                memcpy(dst, (const unsigned char *)x->data + (o * (size_t)n + (size_t)i) * inner,
                       inner);
            dst += inner;
        }
    return FC_OK;
}

/* ---- Cast ---- */

/* float -> integer in [lo, hi]: NaN -> 0, truncate toward zero, saturate
 * at the bounds (+-inf included).  C leaves out-of-range conversions
 * undefined, so the range is checked before converting. */
static int64_t sat_int(double v, int64_t lo, int64_t hi)
{
    if (isnan(v))
        return 0;
    double t = trunc(v);
    if (t <= (double)lo)
        return lo;
    if (t >= (double)hi)   /* (double)INT64_MAX rounds to 2^63: >= catches it */
        return hi;
    return (int64_t)t;
}

/* double -> float, beyond the float range rounding the IEEE way (to +-inf
 * past FLT_MAX + half an ulp, else to +-FLT_MAX), never an undefined
 * conversion. */
static float to_f32(double v)
{
    if (isnan(v) || fabs(v) <= (double)FLT_MAX)
        return (float)v;
    float mag = fabs(v) >= (double)FLT_MAX + ldexp(1.0, 103) ? __builtin_inff() : FLT_MAX;
    return v < 0 ? -mag : mag;
}

static bool is_float_dt(fc_dtype dt) { return dt == FC_DT_F32 || dt == FC_DT_F64; }

/* Stores the low bits of v (two's complement wraparound) into element i. */
static void store_wrap(fc_tensor *t, size_t i, int64_t v)
{
    uint64_t u = (uint64_t)v;
    switch (t->dtype) {
    case FC_DT_U8: case FC_DT_I8: ((uint8_t *)t->data)[i] = (uint8_t)u; break;
    case FC_DT_I32: ((uint32_t *)t->data)[i] = (uint32_t)u; break;
    case FC_DT_I64: ((uint64_t *)t->data)[i] = u; break;
    default: break;
    }
}

/* Cast to any supported dtype.  Rules (shared with the other engines):
 *   float -> int:    NaN -> 0, truncation toward zero, saturation at the
 *                    target's min/max (+-inf saturate too);
 *   int -> int:      two's complement wraparound (low bits kept);
 *   x -> bool:       x != 0 (NaN -> true); bool -> x: 0 or 1;
 *   f64 -> f32:      rounds, overflow to +-inf; int -> float: nearest. */
fc_status fc_f32_cast(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 1, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0];
    fc_tensor *y = k->out[0];
    if (y->numel != x->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "Cast: output size differs");
    if (!fc_dtype_size(x->dtype) || !fc_dtype_size(y->dtype))
        return fc_f32_unsupported(k, fc_dtype_size(x->dtype) ? y->dtype : x->dtype, err);
    if (x->dtype == y->dtype)
        return copy_bytes(k, x, y, err);
    const bool from_float = is_float_dt(x->dtype);
    if (x->dtype == FC_DT_F32 && y->dtype == FC_DT_F64) {
        for (size_t i = 0; i < x->numel; i++)
            ((double *)y->data)[i] = ((const float *)x->data)[i];
        return FC_OK;
    }
    for (size_t i = 0; i < x->numel; i++) {
        double d = from_float ? fc_tensor_get_f64(x, i) : 0.0;
        int64_t v = from_float ? 0 : fc_tensor_get_i64(x, i);
        switch (y->dtype) {
        case FC_DT_F32: ((float *)y->data)[i] = from_float ? to_f32(d) : (float)v; break;
        case FC_DT_F64: ((double *)y->data)[i] = from_float ? d : (double)v; break;
        case FC_DT_BOOL: ((uint8_t *)y->data)[i] = from_float ? d != 0.0 : v != 0; break;
        case FC_DT_U8: store_wrap(y, i, from_float ? sat_int(d, 0, UINT8_MAX) : v); break;
        case FC_DT_I8: store_wrap(y, i, from_float ? sat_int(d, INT8_MIN, INT8_MAX) : v); break;
        case FC_DT_I32:
            store_wrap(y, i, from_float ? sat_int(d, INT32_MIN, INT32_MAX) : v);
            break;
        case FC_DT_I64:
            store_wrap(y, i, from_float ? sat_int(d, INT64_MIN, INT64_MAX) : v);
            break;
        default: return fc_f32_unsupported(k, y->dtype, err);
        }
    }
    return FC_OK;
}

/* Constant: the node's single value attribute, copied into the output. */
fc_status fc_f32_constant(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 0, 1, err);
    if (st)
        return st;
    fc_tensor *y = k->out[0];
    if (k->node->n_attrs != 1)
        return fc_err_set(err, FC_ERR_INTERNAL, "Constant: %d attributes", k->node->n_attrs);
    const fc_attr *a = &k->node->attrs[0];
    const void *src = NULL;
    size_t bytes = 0;
    switch (a->type) {
    case FC_ATTR_TENSOR:
        if (!a->t)
            return fc_err_set(err, FC_ERR_INTERNAL, "Constant: no tensor");
        src = a->t->data;
        bytes = fc_tensor_bytes(a->t);
        break;
    case FC_ATTR_FLOAT: src = &a->f; bytes = sizeof a->f; break;
    case FC_ATTR_INT: src = &a->i; bytes = sizeof a->i; break;
    case FC_ATTR_FLOATS: src = a->floats; bytes = a->n * sizeof *a->floats; break;
    case FC_ATTR_INTS: src = a->ints; bytes = a->n * sizeof *a->ints; break;
    default: return fc_err_set(err, FC_ERR_UNSUPPORTED, "Constant attribute '%s' is not supported",
                               a->name);
    }
    if (bytes != fc_tensor_bytes(y))
        return fc_err_set(err, FC_ERR_INTERNAL, "Constant: value does not fit the output");
    if (bytes)
        memcpy(y->data, src, bytes);
    return FC_OK;
}

/* ConstantOfShape: every element the one-element `value` (default float 0). */
fc_status fc_f32_constantofshape(const fc_kernel_ctx *k, fc_err *err)
{
    fc_status st = fc_f32_require(k, 1, 1, err);
    if (st)
        return st;
    fc_tensor *y = k->out[0];
    const fc_attr *a = fc_attr_find(k->node, "value");
    const size_t es = fc_dtype_size(y->dtype);
    if (!a) {
        if (y->numel)
            memset(y->data, 0, y->numel * es);
        return FC_OK;
    }
    if (a->type != FC_ATTR_TENSOR || !a->t || a->t->numel != 1 || a->t->dtype != y->dtype)
        return fc_err_set(err, FC_ERR_INTERNAL, "ConstantOfShape: bad value attribute");
    for (size_t i = 0; i < y->numel; i++)
        memcpy((unsigned char *)y->data + i * es, a->t->data, es);
    return FC_OK;
}
