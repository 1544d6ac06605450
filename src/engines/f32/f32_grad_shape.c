/* Backward of the data-movement kernels of the f32 engine, and the helpers
 * every f32 backward kernel shares.
 *
 * Each op here moves elements without changing them, so its backward moves
 * the output gradient back: element y[j] came from x[src(j)], hence
 * gx[src(j)] += gy[j].  Where several outputs read one input element (Pad's
 * edge/reflect modes, Gather with repeated indices, Concat(x, x)) their
 * gradients add up. */
#include <string.h>

#include "f32_grad.h"

/* ---- helpers ---- */

const fc_tensor *fc_f32g_in(const fc_grad_ctx *k, int i)
{
    return i >= 0 && i < k->n_in ? k->in[i] : NULL;
}

const fc_tensor *fc_f32g_out(const fc_grad_ctx *k, int i)
{
    return i >= 0 && i < k->n_out ? k->out[i] : NULL;
}

const fc_tensor *fc_f32g_gout(const fc_grad_ctx *k, int i)
{
    return i >= 0 && i < k->n_out && k->gout ? k->gout[i] : NULL;
}

fc_tensor *fc_f32g_gin(const fc_grad_ctx *k, int i)
{
    return i >= 0 && i < k->n_in && k->gin ? k->gin[i] : NULL;
}

fc_status fc_f32g_check_gin(const fc_grad_ctx *k, int i, fc_err *err)
{
    const fc_tensor *x = fc_f32g_in(k, i), *gx = fc_f32g_gin(k, i);
    if (!gx)
        return FC_OK;
    if (!x || x->dtype != FC_DT_F32 || gx->dtype != FC_DT_F32 || gx->numel != x->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: gradient of input %d does not match it",
                          k->node->op_type, i);
    return FC_OK;
}

fc_status fc_f32g_start(const fc_grad_ctx *k, const fc_tensor **gy, fc_err *err)
{
    const fc_tensor *y = fc_f32g_out(k, 0), *g = fc_f32g_gout(k, 0);
    *gy = NULL;
    if (!g)
        return FC_OK;
    if (!y || y->dtype != FC_DT_F32 || g->dtype != FC_DT_F32 || g->numel != y->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: output gradient does not match the output",
                          k->node->op_type);
    *gy = g;
    return FC_OK;
}

typedef struct range_job {
    fc_f32g_range_fn fn;
    void *ctx;
    size_t n, chunk;
} range_job;

static void range_unit(void *ctx, int t, int64_t u)
{
    (void)t;
    const range_job *J = ctx;
    const size_t lo = (size_t)u * J->chunk;
    J->fn(J->ctx, lo, lo + J->chunk < J->n ? lo + J->chunk : J->n);
}

void fc_f32g_parallel_range(size_t n, size_t chunk, double cost, fc_f32g_range_fn fn,
                            void *ctx)
{
    chunk = chunk ? chunk : 1;
    const int64_t units = (int64_t)((n + chunk - 1) / chunk);
    const int nt = units > 1 ? fc_f32_threads_for(cost * (double)n, units) : 1;
    if (nt <= 1) {
        if (n)
            fn(ctx, 0, n);
        return;
    }
    range_job J = {fn, ctx, n, chunk};
    fc_f32_parallel_for(units, nt, range_unit, &J);
}

typedef struct acc_job {
    float *dst;
    const float *src;
} acc_job;

static void acc_range(void *ctx, size_t lo, size_t hi)
{
    const acc_job *J = ctx;
    float *d = J->dst;
    const float *s = J->src;
    for (size_t i = lo; i < hi; i++)
        d[i] += s[i];
}

void fc_f32g_acc(float *dst, const float *src, size_t n)
{
    acc_job J = {dst, src};
    fc_f32g_parallel_range(n, FC_F32G_PASS_CHUNK, FC_F32G_PASS_COST, acc_range, &J);
}

fc_status fc_f32g_unsupported(const fc_grad_ctx *k, const char *what, fc_err *err)
{
    return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no gradient for %s in engine f32",
                      k->node->op_type, what);
}

/* ---- kernels ---- */

/* Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout: the same
 * row-major elements under new dims, so the gradient flows elementwise.
 * Only input 0 is data (the others are shapes, axes, ratios, flags). */
fc_status fc_f32_copy_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    fc_tensor *gx = fc_f32g_gin(k, 0);
    if (st || !gy || !gx || (st = fc_f32g_check_gin(k, 0, err)))
        return st;
    if (gx->numel != gy->numel)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: gradient sizes differ", k->node->op_type);
    fc_f32g_acc(gx->data, gy->data, gy->numel);
    return FC_OK;
}

/* Float to float only: other casts give no gradient to the engine's float
 * values (the executor tracks gradients through float32 values only). */
fc_status fc_f32_cast_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    fc_tensor *gx = fc_f32g_gin(k, 0);
    if (st || !gy || !gx)
        return st;
    if (k->in[0]->dtype != FC_DT_F32)
        return fc_f32g_unsupported(k, "a cast from a non-float32 type", err);
    if ((st = fc_f32g_check_gin(k, 0, err)))
        return st;
    fc_f32g_acc(gx->data, gy->data, gy->numel);
    return FC_OK;
}

/* Transpose: output axis i is input axis perm[i].  The output gradient is
 * read in order, a row (last output axis) at a time, and added into the
 * input gradient at that axis's input stride. */
fc_status fc_f32_transpose_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    fc_tensor *gx = fc_f32g_gin(k, 0);
    if (st || !gy || !gx || (st = fc_f32g_check_gin(k, 0, err)))
        return st;
    const fc_tensor *x = k->in[0], *y = k->out[0];
    const int64_t *perm;
    size_t np;
    if ((st = fc_attr_get_ints(k->node, "perm", &perm, &np, err)))
        return st;
    const int r = x->rank;
    if ((perm && np != (size_t)r) || y->rank != r)
        return fc_err_set(err, FC_ERR_INTERNAL, "Transpose: bad perm");
    if (x->numel == 0)
        return FC_OK;
    if (r <= 1) {
        fc_f32g_acc(gx->data, gy->data, gy->numel);
        return FC_OK;
    }
    size_t xs[FC_MAX_RANK], ps[FC_MAX_RANK], s = 1;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = s;
        s *= (size_t)x->dims[i];
    }
    for (int i = 0; i < r; i++) {
        int64_t p = perm ? perm[i] : r - 1 - i;
        if (p < 0 || p >= r)
            return fc_err_set(err, FC_ERR_INTERNAL, "Transpose: bad perm");
        ps[i] = xs[p];
    }
    const size_t row = (size_t)y->dims[r - 1], rows = y->numel / row, st_in = ps[r - 1];
    const float *g = gy->data;
    float *d = gx->data;
    int64_t idx[FC_MAX_RANK] = {0};
    for (size_t rw = 0; rw < rows; rw++) {
        size_t off = 0;
        for (int i = 0; i < r - 1; i++)
            off += (size_t)idx[i] * ps[i];
        const float *gr = g + rw * row;
        float *dr = d + off;
        for (size_t j = 0; j < row; j++)
            dr[j * st_in] += gr[j];
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < y->dims[i])
                break;
            idx[i] = 0;
        }
    }
    return FC_OK;
}

/* Concat: for each outer index the inputs' blocks follow one another in
 * the output; each input takes its blocks back. */
fc_status fc_f32_concat_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    if (st || !gy)
        return st;
    const fc_tensor *y = k->out[0];
    int64_t axis_attr;
    int axis;
    if ((st = fc_attr_get_int(k->node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, y->rank, &axis, err)))
        return st;
    size_t total = 0;
    for (int i = 0; i < k->n_in; i++) {
        const fc_tensor *x = k->in[i];
        if (!x || x->rank != y->rank || (st = fc_f32g_check_gin(k, i, err)))
            return st ? st : fc_err_set(err, FC_ERR_INTERNAL, "Concat: input %d does not fit", i);
        total += (size_t)x->dims[axis];
    }
    if (total != (size_t)y->dims[axis])
        return fc_err_set(err, FC_ERR_INTERNAL, "Concat: sizes do not add up");
    const size_t outer = fc_f32_prod(y->dims, 0, axis);
    const size_t inner = fc_f32_prod(y->dims, axis + 1, y->rank);
    const size_t yblock = (size_t)y->dims[axis] * inner;
    size_t start = 0;
    for (int i = 0; i < k->n_in; i++) {
        const size_t block = (size_t)k->in[i]->dims[axis] * inner;
        fc_tensor *gx = fc_f32g_gin(k, i);
        if (gx && block)
            for (size_t o = 0; o < outer; o++)
                fc_f32g_acc((float *)gx->data + o * block,
                            (const float *)gy->data + o * yblock + start, block);
        start += block;
    }
    return FC_OK;
}

/* Gather along axis: out[o, j, i] = data[o, idx[j], i].  Indices were
 * checked by the forward pass; they are checked again here because the
 * backward writes through them. */
fc_status fc_f32_gather_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    fc_tensor *gx = fc_f32g_gin(k, 0);
    if (st || !gy || !gx || (st = fc_f32g_check_gin(k, 0, err)))
        return st;
    const fc_tensor *x = k->in[0], *ind = fc_f32g_in(k, 1);
    int64_t axis_attr;
    int axis;
    if ((st = fc_attr_get_int(k->node, "axis", 0, &axis_attr, err)) ||
        (st = fc_axis_normalize(axis_attr, x->rank, &axis, err)))
        return st;
    if (!ind || (ind->dtype != FC_DT_I64 && ind->dtype != FC_DT_I32))
        return fc_err_set(err, FC_ERR_INTERNAL, "Gather: bad indices");
    const size_t outer = fc_f32_prod(x->dims, 0, axis);
    const size_t inner = fc_f32_prod(x->dims, axis + 1, x->rank);
    const int64_t n = x->dims[axis];
    if (gy->numel != outer * ind->numel * inner)
        return fc_err_set(err, FC_ERR_INTERNAL, "Gather: gradient size mismatch");
    const float *g = gy->data;
    float *d = gx->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < ind->numel; j++) {
            int64_t i = fc_tensor_get_i64(ind, j);
            if (i < -n || i >= n)
                return fc_err_set(err, FC_ERR_SHAPE, "Gather: index %lld out of range",
                                  (long long)i);
            if (i < 0)
                i += n;
            fc_f32g_acc(d + (o * (size_t)n + (size_t)i) * inner, g, inner);
            g += inner;
        }
    return FC_OK;
}

/* Source position along one padded axis (as the forward computes it):
 * -1 for the constant fill; edge clamps, reflect mirrors. */
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
    const int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

/* Pad: every output element is an input element (through the per-axis
 * maps) or the fill value.  Rows of the output gradient are walked like
 * the forward walks the output; the in-range middle of a row maps to
 * consecutive input elements and is one vector add. */
fc_status fc_f32_pad_grad(const fc_grad_ctx *k, fc_err *err)
{
    const fc_tensor *gy;
    fc_status st = fc_f32g_start(k, &gy, err);
    fc_tensor *gx = fc_f32g_gin(k, 0), *gv = fc_f32g_gin(k, 2);
    const bool attrs = k->node->opset < 11;
    if (st || !gy || (!gx && (attrs || !gv)))
        return st;
    if ((st = fc_f32g_check_gin(k, 0, err)) || (!attrs && (st = fc_f32g_check_gin(k, 2, err))))
        return st;
    const fc_tensor *x = k->in[0], *y = k->out[0];
    const int r = x->rank;
    const char *mode_s;
    if ((st = fc_attr_get_string(k->node, "mode", "constant", &mode_s, err)))
        return st;
    const int mode = strcmp(mode_s, "edge") == 0 ? 1 : strcmp(mode_s, "reflect") == 0 ? 2 : 0;
    int64_t pads[2 * FC_MAX_RANK];
    if (attrs) {
        const int64_t *p;
        size_t n;
        if ((st = fc_attr_get_ints(k->node, "pads", &p, &n, err)))
            return st;
        if (n != 2 * (size_t)r)
            return fc_err_set(err, FC_ERR_INTERNAL, "Pad: %zu pads for rank %d", n, r);
        memcpy(pads, p, n * sizeof *p);
    } else {
        const fc_tensor *pt = fc_f32g_in(k, 1);
        if (!pt || pt->numel != 2 * (size_t)r)
            return fc_err_set(err, FC_ERR_INTERNAL, "Pad: bad pads for rank %d", r);
        for (int i = 0; i < 2 * r; i++)
            pads[i] = fc_tensor_get_i64(pt, (size_t)i);
    }
    if (y->rank != r)
        return fc_err_set(err, FC_ERR_INTERNAL, "Pad: bad output");
    if (y->numel == 0)
        return FC_OK;
    if (r == 0) {
        if (gx)
            fc_f32g_acc(gx->data, gy->data, 1);
        return FC_OK;
    }
    size_t total = 0;
    for (int i = 0; i < r; i++)
        total += (size_t)y->dims[i];
    int64_t *map = fc_workspace_get(k->ws, F32_WS_AUX, total * sizeof *map);
    if (!map)
        return fc_err_set(err, FC_ERR_NOMEM, "Pad: out of memory");
    const int64_t *maps[FC_MAX_RANK];
    for (int i = 0; i < r; i++) {
        for (int64_t o = 0; o < y->dims[i]; o++)
            map[o] = pad_src(o, pads[i], x->dims[i], mode);
        maps[i] = map;
        map += y->dims[i];
    }
    size_t xst[FC_MAX_RANK], s = 1;
    for (int i = r - 1; i >= 0; i--) {
        xst[i] = s;
        s *= (size_t)x->dims[i];
    }
    const int64_t W = y->dims[r - 1];
    /* Columns [c0, c1) read consecutive input elements. */
    int64_t c0 = pads[r - 1] < 0 ? 0 : pads[r - 1];
    int64_t c1 = c0 + x->dims[r - 1] + (pads[r - 1] < 0 ? pads[r - 1] : 0);
    c1 = c1 > W ? W : c1;
    c1 = c1 < c0 ? c0 : c1;
    const float *g = gy->data;
    float *d = gx ? gx->data : NULL;
    double fill_sum = 0.0;
    int64_t idx[FC_MAX_RANK] = {0};
    const size_t rows = y->numel / (size_t)W;
    for (size_t rw = 0; rw < rows; rw++) {
        const float *gr = g + rw * (size_t)W;
        bool inside = true;
        size_t off = 0;
        for (int i = 0; i < r - 1; i++) {
            const int64_t src = maps[i][idx[i]];
            inside = inside && src >= 0;
            off += src >= 0 ? (size_t)src * xst[i] : 0;
        }
        for (int64_t c = 0; c < W; c++) {
            if (inside && c == c0 && c1 > c0) {
                if (d)
                    fc_f32g_acc(d + off + (size_t)maps[r - 1][c0], gr + c0, (size_t)(c1 - c0));
                c = c1 - 1;
                continue;
            }
            const int64_t src = maps[r - 1][c];
            if (!inside || src < 0)
                fill_sum += gr[c];
            else if (d)
                d[off + (size_t)src] += gr[c];
        }
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < y->dims[i])
                break;
            idx[i] = 0;
        }
    }
    /* The fill value (opset >= 11 input 2) is every padded element. */
    if (gv && mode == 0 && gv->numel == 1)
        ((float *)gv->data)[0] += (float)fill_sum;
    return FC_OK;
}
