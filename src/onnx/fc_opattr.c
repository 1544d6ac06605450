/* Window geometry (Conv, MaxPool, AveragePool), broadcasting and axes:
 * decoded here once so that shape inference and every engine agree.
 *
 * All arithmetic on attribute values is overflow-checked: kernel sizes,
 * strides, dilations and pads come straight from an untrusted file. */
#include "fc_opattr.h"

#include <string.h>

#include "../core/fc_alloc.h"

/* Reads an INTS attribute that must have exactly `want` entries when
 * present; leaves dst untouched when absent. */
static fc_status read_ints(const fc_node *node, const char *name, size_t want,
                           int64_t *dst, bool *present, fc_err *err)
{
    const int64_t *v;
    size_t n;
    fc_status st = fc_attr_get_ints(node, name, &v, &n, err);
    if (st)
        return st;
    *present = v != NULL;
    if (!v)
        return FC_OK;
    if (n != want)
        return fc_err_set(err, FC_ERR_SHAPE, "attribute '%s' has %zu values, expected %zu",
                          name, n, want);
    memcpy(dst, v, want * sizeof *dst);
    return FC_OK;
}

static bool add_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* Output size of one axis with explicit pads:
 *   span = in + pb + pe - (dil*(k-1) + 1)
 *   out  = floor(span / stride) + 1            (Conv, pools without ceil_mode)
 *   out  = ceil(span / stride) + 1             (pools with ceil_mode)
 * With ceil_mode, ONNX (like PyTorch) drops the last window when it would
 * start inside the end padding: if (out-1)*stride >= in + pb then out -= 1. */
static int64_t explicit_out(int64_t in, int64_t pb, int64_t span, int64_t stride, bool ceil_mode)
{
    int64_t out = span / stride + 1, start;
    if (ceil_mode && span % stride != 0) {
        out++;
        /* in + pb fits (the caller summed it); an overflowing start is past it. */
        if (__builtin_mul_overflow(out - 1, stride, &start) || start >= in + pb)
            out--;
    }
    return out;
}

static fc_status decode_auto_pad(const fc_node *node, int *mode, fc_err *err)
{
    const char *s;
    fc_status st = fc_attr_get_string(node, "auto_pad", "NOTSET", &s, err);
    if (st)
        return st;
    static const char *const names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *mode = i;
            return FC_OK;
        }
    /* Some old exporters write an empty string for the default. */
    if (s[0] == '\0') {
        *mode = 0;
        return FC_OK;
    }
    return fc_err_set(err, FC_ERR_UNSUPPORTED, "auto_pad '%s' is not supported", s);
}

fc_status fc_window_decode(const fc_node *node, int nsp, const int64_t *in_spatial,
                           const int64_t *kernel, bool is_pool, fc_window *w,
                           fc_err *err)
{
    memset(w, 0, sizeof *w);
    if (nsp < 1 || nsp > FC_MAX_SPATIAL)
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%d spatial dimensions (only 1 to %d are supported)", nsp, FC_MAX_SPATIAL);
    w->nsp = nsp;
    fc_status st;
    bool present;
    int64_t pads[2 * FC_MAX_SPATIAL] = {0};
    for (int i = 0; i < nsp; i++) {
        w->in[i] = in_spatial[i];
        w->stride[i] = 1;
        w->dilation[i] = 1;
    }
    int64_t attr_kernel[FC_MAX_SPATIAL];
    if ((st = read_ints(node, "kernel_shape", (size_t)nsp, attr_kernel, &present, err)))
        return st;
    if (kernel) {
        /* Conv: the weight decides; a kernel_shape attribute must agree. */
        for (int i = 0; i < nsp; i++) {
            if (present && attr_kernel[i] != kernel[i])
                return fc_err_set(err, FC_ERR_SHAPE,
                                  "kernel_shape[%d] = %lld but the weight has %lld", i,
                                  (long long)attr_kernel[i], (long long)kernel[i]);
            w->kernel[i] = kernel[i];
        }
    } else {
        if (!present)
            return fc_err_set(err, FC_ERR_SHAPE, "missing attribute 'kernel_shape'");
        memcpy(w->kernel, attr_kernel, sizeof attr_kernel);
    }
    if ((st = read_ints(node, "strides", (size_t)nsp, w->stride, &present, err)) ||
        (st = read_ints(node, "dilations", (size_t)nsp, w->dilation, &present, err)) ||
        (st = read_ints(node, "pads", 2 * (size_t)nsp, pads, &present, err)))
        return st;
    int auto_pad = 0;
    if ((st = decode_auto_pad(node, &auto_pad, err)))
        return st;
    if (is_pool) {
        int64_t ceil_mode, cip;
        if ((st = fc_attr_get_int(node, "ceil_mode", 0, &ceil_mode, err)) ||
            (st = fc_attr_get_int(node, "count_include_pad", 0, &cip, err)))
            return st;
        w->ceil_mode = ceil_mode != 0;
        w->count_include_pad = cip != 0;
    }

    for (int i = 0; i < nsp; i++) {
        int64_t in = w->in[i], k = w->kernel[i], s = w->stride[i], d = w->dilation[i];
        if (in <= 0)
            return fc_err_set(err, FC_ERR_SHAPE, "spatial axis %d of the input has size %lld",
                              i, (long long)in);
        if (k <= 0 || s <= 0 || d <= 0)
            return fc_err_set(err, FC_ERR_SHAPE,
                              "axis %d: kernel %lld, stride %lld, dilation %lld must be positive",
                              i, (long long)k, (long long)s, (long long)d);
        int64_t eff; /* extent of the dilated kernel: dil*(k-1) + 1 */
        if (!fc_mul_i64(d, k - 1, &eff) || !add_i64(eff, 1, &eff))
            return fc_err_set(err, FC_ERR_LIMIT, "axis %d: dilated kernel size overflows", i);
        int64_t pb = 0, pe = 0, out;
        if (auto_pad == 1 || auto_pad == 2) {
            /* SAME: out = ceil(in / stride); total pad =
             * max(0, (out-1)*stride + eff - in), the odd one at the end for
             * SAME_UPPER, at the beginning for SAME_LOWER. */
            out = in / s + (in % s != 0);
            int64_t total;
            if (!fc_mul_i64(out - 1, s, &total) || !add_i64(total, eff, &total))
                return fc_err_set(err, FC_ERR_LIMIT, "axis %d: padding overflows", i);
            total -= in;
            if (total < 0)
                total = 0;
            pb = auto_pad == 1 ? total / 2 : total - total / 2;
            pe = total - pb;
        } else if (auto_pad == 3) {
            /* VALID: no padding, out = ceil((in - eff + 1) / stride). */
            if (eff > in)
                return fc_err_set(err, FC_ERR_SHAPE,
                                  "axis %d: kernel extent %lld exceeds input size %lld", i,
                                  (long long)eff, (long long)in);
            out = (in - eff) / s + 1;
        } else {
            pb = pads[i];
            pe = pads[i + nsp];
            if (pb < 0 || pe < 0)
                return fc_err_set(err, FC_ERR_SHAPE, "axis %d: negative pads %lld, %lld", i,
                                  (long long)pb, (long long)pe);
            int64_t span;
            if (!add_i64(in, pb, &span) || !add_i64(span, pe, &span))
                return fc_err_set(err, FC_ERR_LIMIT, "axis %d: padded size overflows", i);
            span -= eff;
            if (span < 0)
                return fc_err_set(err, FC_ERR_SHAPE,
                                  "axis %d: kernel extent %lld exceeds padded input size %lld",
                                  i, (long long)eff, (long long)(span + eff));
            out = explicit_out(in, pb, span, s, w->ceil_mode);
        }
        /* A pool window lying entirely in padding has nothing to reduce. */
        if (is_pool && (pb >= eff || pe >= eff))
            return fc_err_set(err, FC_ERR_UNSUPPORTED,
                              "axis %d: pads %lld, %lld not smaller than the kernel extent %lld",
                              i, (long long)pb, (long long)pe, (long long)eff);
        if (out <= 0)
            return fc_err_set(err, FC_ERR_SHAPE, "axis %d: empty output", i);
        w->pad_begin[i] = pb;
        w->pad_end[i] = pe;
        w->out[i] = out;
    }
    return FC_OK;
}

fc_status fc_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b,
                             int *rout, int64_t *out, fc_err *err)
{
    if (ra < 0 || rb < 0 || ra > FC_MAX_RANK || rb > FC_MAX_RANK)
        return fc_err_set(err, FC_ERR_LIMIT, "broadcast of ranks %d and %d", ra, rb);
    int r = ra > rb ? ra : rb;
    int64_t res[FC_MAX_RANK];
    /* Right-aligned: axis i of the result meets axis i-(r-ra) of a. */
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da == db || db == 1) {
            res[i] = da;
        } else if (da == 1) {
            res[i] = db;
        } else {
            char sa[128], sb[128];
            return fc_err_set(err, FC_ERR_SHAPE, "shapes %s and %s cannot be broadcast",
                              fc_dims_str(ra, a, sa, sizeof sa), fc_dims_str(rb, b, sb, sizeof sb));
        }
    }
    memcpy(out, res, (size_t)r * sizeof *out);
    *rout = r;
    return FC_OK;
}

fc_status fc_axis_normalize(int64_t axis, int rank, int *out, fc_err *err)
{
    if (axis < -(int64_t)rank || axis >= rank)
        return fc_err_set(err, FC_ERR_SHAPE, "axis %lld out of range for rank %d",
                          (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return FC_OK;
}
