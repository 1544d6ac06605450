/* QLinearConv and ConvInteger of the q8 engine: the reference's numbers
 * (q8_ref_conv.c, bit for bit) at the speed the int8 products allow.
 *
 * 3x3 convs with stride 1 and one group (most of a CNN's work) take the
 * integer Winograd F(2x2, 3x3) of q8_conv_wino.c: 2.25x fewer products,
 * the same sums.  Everything else is a direct convolution.
 *
 * What the reference does per image and group (im2col into a uint8 matrix,
 * a GEMM that packs both operands again, one requantized value at a time in
 * places) is reorganised:
 *  - the weights are packed once per call, all groups, with their zero
 *    points subtracted and the input zero point folded into a per-channel
 *    constant (q8_conv.h);
 *  - the input is copied once with its pads made real (the zero point's
 *    byte) and its columns split by phase modulo the stride, so that the
 *    taps of consecutive outputs are consecutive bytes for every kernel
 *    position: im2col is then 16-byte copies;
 *  - the output positions of the whole batch form one column space
 *    (image-major), cut into units of a few hundred columns sized so that a
 *    unit's packed activations stay in L2.  Small feature maps thus fold
 *    several images into one unit and large ones split, and the units are
 *    shared by the threads (fc_f32_parallel_for: the same worker pool
 *    policy, OPENBLAS_NUM_THREADS, as the f32 engine);
 *  - per unit, im2col goes two rows of k at a time into the packed pair
 *    layout (the rows stay in L1), then every tile of weights
 *    times every panel of columns, requantized while still in registers and
 *    stored into NCHW Y.
 * Every output is the same integer sum whatever the unit, thread or tile
 * that computes it, so results never depend on the thread count.
 *
 * The ISA pieces (q8_conv_avx2.c, q8_conv_portable.c) follow the q8
 * engine's GEMM choice (fc_q8_isa): avx2 and avx512 take the AVX2 pieces,
 * portable the plain C ones, ref the reference kernel itself. */
#include <math.h>
#include <string.h>

#include "../f32/f32_internal.h"
#include "q8_conv.h"
#include "q8_internal.h"

/* Packed activations per unit: about this many bytes (half of L2). */
#define UNIT_BYTES ((size_t)256 << 10)
#define UNIT_MIN_COLS 64
#define UNIT_MAX_COLS 2048
/* Units per thread worth aiming for, so that a thread the OS delays (the
 * machine is shared) does not hold the others up for long. */
#define UNITS_PER_THREAD 4
/* Padded rows up to this many bytes are split by phase through a copy. */
#define PAD_ROW_MAX 1024

/* A run of output positions along the last axis: len columns from col of
 * the unit, whose taps start at xp + base + (the row's offset). */
typedef struct seg {
    size_t base;
    int64_t len, col;
} seg;

typedef struct conv_job {
    fc_window w;                 /* extended to 3 spatial axes */
    int64_t batch, c_in, m_out, group, cg, mg, mpad, kq;
    size_t kvol, kdim, in_sp, out_sp;
    const uint8_t *x;
    uint8_t *xp;                 /* x padded (pad_image) */
    int64_t pdim[3];             /* padded spatial dims */
    int64_t pws, prow;           /* columns per phase, bytes per padded row */
    size_t pplane;               /* bytes per padded plane */
    bool x_signed;
    uint8_t pad_byte;            /* the input zero point's byte */
    const int16_t *a;            /* packed weights, group g at a + g * mpad * kq * 2 */
    const int32_t *fix;          /* group g at fix + g * mpad */
    q8c_out out;
    unsigned char *y;
    size_t y_esz;
    int64_t total_cols, unit_cols;
    unsigned char *scratch;
    size_t per_thread;           /* bytes of scratch per thread */
    const q8c_isa *isa;
} conv_job;

/* Prepends neutral axes so that one loop nest serves 1-D to 3-D, the real
 * last axis staying last: im2col copies runs along it. */
static void window_3d(fc_window *w)
{
    const int shift = FC_MAX_SPATIAL - w->nsp;
    for (int i = FC_MAX_SPATIAL - 1; i >= 0; i--) {
        const int from = i - shift;
        w->in[i] = from >= 0 ? w->in[from] : 1;
        w->kernel[i] = from >= 0 ? w->kernel[from] : 1;
        w->stride[i] = from >= 0 ? w->stride[from] : 1;
        w->dilation[i] = from >= 0 ? w->dilation[from] : 1;
        w->out[i] = from >= 0 ? w->out[from] : 1;
        w->pad_begin[i] = from >= 0 ? w->pad_begin[from] : 0;
        w->pad_end[i] = from >= 0 ? w->pad_end[from] : 0;
    }
}

/* The same checks, in the same words, as the reference's conv_setup. */
static fc_status conv_setup(const fc_kernel_ctx *k, const fc_tensor *x, const fc_tensor *wt,
                            const fc_tensor *y, conv_job *J, fc_err *err)
{
    const int nsp = x->rank - 2;
    if (nsp < 1 || nsp > FC_MAX_SPATIAL || wt->rank != x->rank || y->rank != x->rank)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: unexpected ranks", k->node->op_type);
    fc_status st = fc_attr_get_int(k->node, "group", 1, &J->group, err);
    if (st || (st = fc_window_decode(k->node, nsp, x->dims + 2, wt->dims + 2, false, &J->w, err)))
        return st;
    J->batch = x->dims[0];
    J->c_in = x->dims[1];
    J->m_out = wt->dims[0];
    if (J->group < 1 || J->c_in % J->group || J->m_out % J->group ||
        wt->dims[1] != J->c_in / J->group || y->dims[0] != J->batch || y->dims[1] != J->m_out)
        return fc_err_set(err, FC_ERR_INTERNAL, "%s: shapes do not fit group %lld",
                          k->node->op_type, (long long)J->group);
    for (int i = 0; i < nsp; i++)
        if (y->dims[2 + i] != J->w.out[i])
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: output dims do not match",
                              k->node->op_type);
    _Static_assert(FC_MAX_SPATIAL == 3, "the loops below have 3 spatial axes");
    window_3d(&J->w);
    J->cg = J->c_in / J->group;
    J->mg = J->m_out / J->group;
    J->mpad = (J->mg + Q8C_MR - 1) / Q8C_MR * Q8C_MR;
    J->kvol = (size_t)(J->w.kernel[0] * J->w.kernel[1] * J->w.kernel[2]);
    J->in_sp = (size_t)(J->w.in[0] * J->w.in[1] * J->w.in[2]);
    J->out_sp = (size_t)(J->w.out[0] * J->w.out[1] * J->w.out[2]);
    J->kdim = (size_t)J->cg * J->kvol;
    if (J->kdim > FC_Q8_MAX_K)
        return fc_err_set(err, FC_ERR_UNSUPPORTED,
                          "%s: %zu products per output exceed the int8 GEMM limit %d",
                          k->node->op_type, J->kdim, FC_Q8_MAX_K);
    J->kq = (int64_t)(J->kdim + 1) / 2;
    return FC_OK;
}

/* Weights of all groups into the packed layout, and fix = bias - x_zp *
 * sum_k A' per channel (0 on padding rows), modulo 2^32. */
static void pack_weights(const conv_job *J, const fc_tensor *wt, const int32_t *wzp,
                         const int32_t *bias, int32_t x_zp, int16_t *a, int32_t *fix)
{
    const bool w_signed = wt->dtype == FC_DT_I8;
    const size_t kd = J->kdim;
    for (int64_t g = 0; g < J->group; g++) {
        int16_t *ag = a + (size_t)(g * J->mpad * J->kq) * 2;
        for (int64_t i = 0; i < J->mpad; i++) {
            const int64_t panel = i / Q8C_MR, r = i % Q8C_MR, m = g * J->mg + i;
            int16_t *dst = ag + (size_t)(panel * J->kq * Q8C_MR + r) * 2;
            uint32_t sum = 0;
            for (int64_t p = 0; p < J->kq; p++)
                for (int h = 0; h < 2; h++) {
                    const size_t kk = (size_t)(2 * p + h);
                    int32_t v = 0;
                    if (i < J->mg && kk < kd) {
                        const size_t at = (size_t)m * kd + kk;
                        v = (w_signed ? ((const int8_t *)wt->data)[at]
                                      : ((const uint8_t *)wt->data)[at]) - wzp[m];
                    }
                    dst[(size_t)p * 2 * Q8C_MR + (size_t)h] = (int16_t)v;
                    sum += (uint32_t)v;
                }
            const uint32_t b = i < J->mg && bias ? (uint32_t)bias[m] : 0u;
            const uint32_t f = i < J->mg ? b - (uint32_t)x_zp * sum : 0u;
            memcpy(&fix[g * J->mpad + i], &f, sizeof f);
        }
    }
}

/* The runs of output positions of columns [c0, c0 + nc). */
static int64_t unit_segments(const conv_job *J, int64_t c0, int64_t nc, seg *s)
{
    const fc_window *w = &J->w;
    const int64_t P = (int64_t)J->out_sp, o2n = w->out[2], o1n = w->out[1];
    const int64_t ph = J->pdim[1], prow = J->prow;
    int64_t n = 0;
    for (int64_t c = c0; c < c0 + nc;) {
        const int64_t img = c / P, rem = c % P, o2 = rem % o2n;
        const int64_t o0 = rem / (o2n * o1n), o1 = (rem / o2n) % o1n;
        int64_t len = o2n - o2;
        if (len > c0 + nc - c)
            len = c0 + nc - c;
        s[n++] = (seg){.base = (size_t)(img * J->c_in) * J->pplane +
                               (size_t)((o0 * w->stride[0] * ph + o1 * w->stride[1]) * prow +
                                        o2),
                       .len = len, .col = c - c0};
        c += len;
    }
    return n;
}

/* x with its pads made real: every plane [pd][ph][row] with the spatial
 * dims plus pad_begin + pad_end, borders set to the zero point's byte, so
 * that im2col is plain copies.  Along the last axis the padded columns are
 * split by phase modulo the stride s (column x at (x % s) * pws + x / s), so
 * that the taps of consecutive outputs are consecutive bytes for any
 * stride.  One image per call (threads). */
/* One padded row (every byte written) from the input row `in`. */
static void pad_row(const conv_job *J, const uint8_t *in, uint8_t *row)
{
    const fc_window *w = &J->w;
    const int64_t s2 = w->stride[2], pb = w->pad_begin[2], n_in = w->in[2];
    const size_t tail = (size_t)(J->pdim[2] - pb - n_in);
    if (s2 == 1) {
        memset(row, J->pad_byte, (size_t)pb);
        memcpy(row + pb, in, (size_t)n_in);
        memset(row + pb + n_in, J->pad_byte, tail + (size_t)(J->prow - J->pdim[2]));
        return;
    }
    uint8_t tmp[PAD_ROW_MAX];
    if (s2 == 2 && J->prow <= PAD_ROW_MAX) {
        /* the padded row, then its even and odd columns */
        memset(tmp, J->pad_byte, (size_t)pb);
        memcpy(tmp + pb, in, (size_t)n_in);
        memset(tmp + pb + n_in, J->pad_byte, (size_t)(J->prow - pb - n_in));
        J->isa->split2(tmp, row, row + J->pws, J->pws);
        return;
    }
    memset(row, J->pad_byte, (size_t)J->prow);
    for (int64_t p = 0; p < s2; p++) {
        /* phase p holds columns idx * s2 + p, input x = that - pad */
        const int64_t skip = pb - p;
        int64_t idx = skip > 0 ? (skip + s2 - 1) / s2 : 0;
        uint8_t *d = row + p * J->pws;
        for (int64_t x = idx * s2 - skip; x < n_in; x += s2, idx++)
            d[idx] = in[x];
    }
}

static void pad_image(void *ctx, int t, int64_t img)
{
    (void)t;
    const conv_job *J = ctx;
    const fc_window *w = &J->w;
    const int64_t pd = J->pdim[0], ph = J->pdim[1];
    for (int64_t c = 0; c < J->c_in; c++) {
        const uint8_t *src = J->x + (size_t)(img * J->c_in + c) * J->in_sp;
        uint8_t *dst = J->xp + (size_t)(img * J->c_in + c) * J->pplane;
        for (int64_t r0 = 0; r0 < pd; r0++)
            for (int64_t r1 = 0; r1 < ph; r1++) {
                uint8_t *row = dst + (size_t)((r0 * ph + r1) * J->prow);
                const int64_t i0 = r0 - w->pad_begin[0], i1 = r1 - w->pad_begin[1];
                if (i0 < 0 || i0 >= w->in[0] || i1 < 0 || i1 >= w->in[1])
                    memset(row, J->pad_byte, (size_t)J->prow);
                else
                    pad_row(J, src + (i0 * w->in[1] + i1) * w->in[2], row);
            }
    }
}

/* Row kk (< kdim) of im2col over the unit's segments into dst, from the
 * padded input, 16 bytes at a time: a copy may run up to 15 bytes past its
 * run (the next run, or the slack after the row and after xp, overwrites or
 * ignores them). */
static void im2col_row(const conv_job *J, int64_t g, size_t kk, const seg *s, int64_t ns,
                       uint8_t *dst)
{
    const fc_window *w = &J->w;
    const int64_t c = g * J->cg + (int64_t)(kk / J->kvol), tap = (int64_t)(kk % J->kvol);
    const int64_t t2 = tap % w->kernel[2], t1 = (tap / w->kernel[2]) % w->kernel[1];
    const int64_t t0 = tap / (w->kernel[2] * w->kernel[1]);
    const int64_t ph = J->pdim[1], s2 = w->stride[2], off2 = t2 * w->dilation[2];
    const uint8_t *x = J->xp + (size_t)c * J->pplane +
                       (size_t)((t0 * w->dilation[0] * ph + t1 * w->dilation[1]) * J->prow +
                                (off2 % s2) * J->pws + off2 / s2);
    for (int64_t i = 0; i < ns; i++) {
        const uint8_t *src = x + s[i].base;
        uint8_t *d = dst + s[i].col;
        for (int64_t o = 0; o < s[i].len; o += 16)
            memcpy(d + o, src + o, 16);
    }
}

/* One tile (group g, rows i0.. of the group, columns [j0, j0 + Q8C_NR) of
 * the unit starting at column c0, nc valid): stored from registers when its
 * columns are one run of one image, else through an accumulator copy split
 * at the image boundaries and at nc. */
static void tile_out(const conv_job *J, int64_t g, int64_t i0, int64_t c0, int64_t j0, int64_t nc,
                     const int16_t *a, const int16_t *panel, const int32_t *fix)
{
    const int64_t P = (int64_t)J->out_sp;
    const int64_t first = c0 + j0, n = nc - j0 < Q8C_NR ? nc - j0 : Q8C_NR;
    const int64_t m0 = g * J->mg + i0;
    const int rows = (int)(J->mg - i0 < Q8C_MR ? J->mg - i0 : Q8C_MR);
    if (n == Q8C_NR && first / P == (first + Q8C_NR - 1) / P) {
        const int64_t img = first / P, pos = first % P;
        unsigned char *dst =
            J->y + ((size_t)(img * J->m_out + m0) * (size_t)P + (size_t)pos) * J->y_esz;
        J->isa->tile_store(a, panel, J->kq, fix, &J->out, m0, rows, dst, (size_t)P * J->y_esz);
        return;
    }
    int32_t acc[Q8C_MR][Q8C_NR];
    J->isa->tile(a, panel, J->kq, fix, acc);
    for (int r = 0; r < rows; r++)
        for (int64_t j = 0; j < n;) {
            const int64_t col = first + j, img = col / P, pos = col % P;
            const int64_t len = P - pos < n - j ? P - pos : n - j;
            fc_q8c_store_any(&J->out, m0 + r, acc[r] + j, len,
                             J->y + ((size_t)(img * J->m_out + m0 + r) * (size_t)P + (size_t)pos) *
                                        J->y_esz);
            j += len;
        }
}

static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

/* Scratch of one thread: two im2col rows, the packed panels, segments. */
static void thread_scratch(const conv_job *J, unsigned char *base, uint8_t **rows, int16_t **bp,
                           seg **segs)
{
    const size_t ncp = (size_t)J->unit_cols;
    *rows = base;   /* two rows with a 32-byte gap and slack for im2col's overrun */
    *bp = (int16_t *)(void *)(base + round_up(2 * ncp + 64, 64));
    *segs = (seg *)(void *)(base + round_up(2 * ncp + 64, 64) +
                            round_up(ncp * (size_t)J->kq * 4, 64));
}

static size_t thread_bytes(int64_t unit_cols, int64_t kq)
{
    const size_t ncp = (size_t)unit_cols;
    return round_up(2 * ncp + 64, 64) + round_up(ncp * (size_t)kq * 4, 64) +
           round_up((ncp + 2) * sizeof(seg), 64);
}

static void run_unit(void *ctx, int t, int64_t u)
{
    const conv_job *J = ctx;
    uint8_t *rows;
    int16_t *bp;
    seg *segs;
    thread_scratch(J, J->scratch + (size_t)t * J->per_thread, &rows, &bp, &segs);
    const int64_t c0 = u * J->unit_cols;
    const int64_t nc = J->total_cols - c0 < J->unit_cols ? J->total_cols - c0 : J->unit_cols;
    const int64_t ncp = (nc + Q8C_NR - 1) / Q8C_NR * Q8C_NR;
    const int64_t ns = unit_segments(J, c0, nc, segs);
    uint8_t *r0 = rows, *r1 = rows + ncp + 32;
    /* columns past nc are computed on padding bytes and never stored */
    memset(r0 + nc, J->pad_byte, (size_t)(ncp - nc));
    memset(r1 + nc, J->pad_byte, (size_t)(ncp - nc));
    for (int64_t g = 0; g < J->group; g++) {
        for (int64_t p = 0; p < J->kq; p++) {
            im2col_row(J, g, (size_t)(2 * p), segs, ns, r0);
            const bool odd_end = (size_t)(2 * p + 1) >= J->kdim;
            if (!odd_end)
                im2col_row(J, g, (size_t)(2 * p + 1), segs, ns, r1);
            J->isa->pack_pair(r0, odd_end ? NULL : r1, ncp, J->x_signed,
                              bp + p * 2 * Q8C_NR, J->kq);
        }
        const int16_t *ag = J->a + (size_t)(g * J->mpad * J->kq) * 2;
        const int32_t *fg = J->fix + g * J->mpad;
        for (int64_t j0 = 0; j0 < ncp; j0 += Q8C_NR) {
            const int16_t *panel = bp + (j0 / Q8C_NR) * J->kq * 2 * Q8C_NR;
            for (int64_t i0 = 0; i0 < J->mpad; i0 += Q8C_MR)
                tile_out(J, g, i0, c0, j0, nc, ag + (size_t)(i0 * J->kq) * 2, panel, fg + i0);
        }
    }
}

/* Columns per unit: packed activations near UNIT_BYTES, at least a few
 * units per thread, a multiple of Q8C_NR. */
static int64_t unit_cols_for(int64_t total, int64_t kq, int nt)
{
    int64_t cols = (int64_t)(UNIT_BYTES / ((size_t)(kq > 0 ? kq : 1) * 4));
    const int64_t share = total / ((int64_t)nt * UNITS_PER_THREAD);
    if (nt > 1 && share < cols)
        cols = share;
    cols = cols < UNIT_MIN_COLS ? UNIT_MIN_COLS : cols > UNIT_MAX_COLS ? UNIT_MAX_COLS : cols;
    return (cols + Q8C_NR - 1) / Q8C_NR * Q8C_NR;
}

typedef struct conv_args {
    const fc_tensor *x, *w, *x_zp, *w_zp, *bias;
    const float *mult;           /* per output channel, or NULL: raw int32 output */
    int32_t y_zp;
    fc_dtype y_dt;
} conv_args;

static fc_status conv_fast(const fc_kernel_ctx *k, const conv_args *ca, fc_tensor *y,
                           const q8c_isa *isa, fc_err *err)
{
    conv_job J = {0};
    fc_status st = conv_setup(k, ca->x, ca->w, y, &J, err);
    if (st)
        return st;
    if (J.batch == 0 || J.out_sp == 0 || J.m_out == 0)
        return FC_OK;
    size_t a_elems, total_cols, fix_n;
    if (!fc_q8_mul3((size_t)J.group, (size_t)J.mpad, (size_t)J.kq * 2, &a_elems) ||
        !fc_q8_mul3((size_t)J.batch, J.out_sp, 1, &total_cols) ||
        !fc_q8_mul3((size_t)J.group, (size_t)J.mpad, 1, &fix_n) || total_cols > INT64_MAX / 2)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: conv too large", k->node->op_type);
    J.total_cols = (int64_t)total_cols;
    const fc_window *w = &J.w;
    if (ca->mult && J.group == 1 && w->in[0] == 1 && w->kernel[0] == 1 && w->kernel[1] == 3 &&
        w->kernel[2] == 3 && w->stride[1] == 1 && w->stride[2] == 1 && w->dilation[1] == 1 &&
        w->dilation[2] == 1 && w->pad_begin[0] == 0 && w->pad_end[0] == 0 &&
        fc_q8c_wino_fits(J.c_in, J.m_out)) {
        q8c_wino wa = {
            .batch = J.batch, .c = J.c_in, .h = w->in[1], .w = w->in[2], .m = J.m_out,
            .ho = w->out[1], .wo = w->out[2], .pad_top = w->pad_begin[1],
            .pad_left = w->pad_begin[2], .x = ca->x->data, .x_signed = ca->x->dtype == FC_DT_I8,
            .x_zp = fc_q8_zp_at(ca->x_zp, 0), .wt = ca->w->data,
            .w_signed = ca->w->dtype == FC_DT_I8, .w_zp = ca->w_zp,
            .bias = ca->bias ? (const int32_t *)ca->bias->data : NULL,
            .out = {.mult = ca->mult, .y_zp = ca->y_zp, .y_signed = ca->y_dt == FC_DT_I8},
            .y = y->data, .y_esz = 1,
        };
        fc_q8_range(ca->y_dt, &wa.out.qmin, &wa.out.qmax);
        return fc_q8c_wino_run(k, &wa, isa == &fc_q8c_avx2 ? &fc_q8c_wino_avx2
                                                            : &fc_q8c_wino_portable, err);
    }
    const double macs = (double)total_cols * (double)J.m_out * (double)J.kdim;
    const int nt_max = fc_f32_threads_for(2.0 * macs, J.total_cols / UNIT_MIN_COLS + 1);
    J.unit_cols = unit_cols_for(J.total_cols, J.kq, nt_max);
    const int64_t units = (J.total_cols + J.unit_cols - 1) / J.unit_cols;
    const int nt = units < nt_max ? (int)units : nt_max;
    J.per_thread = thread_bytes(J.unit_cols, J.kq);
    const size_t a_bytes = round_up(a_elems * sizeof(int16_t), 64);
    const size_t f_bytes = round_up(fix_n * sizeof(int32_t), 64);
    const size_t r_bytes = round_up((size_t)J.m_out, 64);
    const size_t z_bytes = round_up((size_t)J.m_out * sizeof(int32_t), 64);
    size_t planes, xp_bytes;
    for (int i = 0; i < 3; i++)
        J.pdim[i] = J.w.in[i] + J.w.pad_begin[i] + J.w.pad_end[i];
    J.pws = (J.pdim[2] + J.w.stride[2] - 1) / J.w.stride[2];
    J.prow = J.pws * J.w.stride[2];
    if (!fc_q8_mul3((size_t)J.pdim[0], (size_t)J.pdim[1], (size_t)J.prow, &J.pplane) ||
        !fc_q8_mul3((size_t)J.batch, (size_t)J.c_in, 1, &planes) ||
        !fc_q8_mul3(planes, J.pplane, 1, &xp_bytes) || xp_bytes > SIZE_MAX - 64)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: padded input too large", k->node->op_type);
    unsigned char *wbuf = fc_workspace_get(k->ws, 0, a_bytes + f_bytes + r_bytes + z_bytes);
    J.scratch = fc_workspace_get(k->ws, 1, J.per_thread * (size_t)nt);
    J.xp = fc_workspace_get(k->ws, 3, xp_bytes + 64);
    if (!wbuf || !J.scratch || !J.xp)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory for the packed conv",
                          k->node->op_type);
    memset(J.xp + xp_bytes, 0, 64);   /* what im2col's last copies may read */
    int16_t *a = (int16_t *)(void *)wbuf;
    int32_t *fix = (int32_t *)(void *)(wbuf + a_bytes);
    bool *row_fast = (bool *)(wbuf + a_bytes + f_bytes);
    int32_t *wzp = (int32_t *)(void *)(wbuf + a_bytes + f_bytes + r_bytes);
    for (int64_t m = 0; m < J.m_out; m++)
        wzp[m] = fc_q8_zp_at(ca->w_zp, (size_t)m);
    const int32_t x_zp = fc_q8_zp_at(ca->x_zp, 0);
    pack_weights(&J, ca->w, wzp, ca->bias ? (const int32_t *)ca->bias->data : NULL, x_zp, a, fix);
    J.a = a;
    J.fix = fix;
    J.x = ca->x->data;
    J.x_signed = ca->x->dtype == FC_DT_I8;
    J.pad_byte = (uint8_t)(x_zp & 0xff);
    J.isa = isa;
    J.y = y->data;
    J.y_esz = ca->mult ? 1 : sizeof(int32_t);
    J.out = (q8c_out){.mult = ca->mult, .row_fast = row_fast, .y_zp = ca->y_zp,
                      .y_signed = ca->y_dt == FC_DT_I8};
    fc_q8_range(ca->y_dt == FC_DT_I8 ? FC_DT_I8 : FC_DT_U8, &J.out.qmin, &J.out.qmax);
    for (int64_t m = 0; m < J.m_out; m++)
        row_fast[m] = ca->mult && isfinite(ca->mult[m]);
    fc_f32_parallel_for(J.batch, J.batch < nt ? (int)J.batch : nt, pad_image, &J);
    fc_f32_parallel_for(units, nt, run_unit, &J);
    return FC_OK;
}

static bool is_q8(const fc_tensor *t) { return t->dtype == FC_DT_U8 || t->dtype == FC_DT_I8; }

/* The ISA pieces for the q8 engine's GEMM choice; NULL for "ref". */
static const q8c_isa *isa_now(void)
{
    const char *name = fc_q8_isa();
    if (strcmp(name, "ref") == 0)
        return NULL;
    if (strcmp(name, "portable") == 0)
        return &fc_q8c_portable;
    return &fc_q8c_avx2;
}

fc_status fc_q8_qlinearconv_fast(const fc_kernel_ctx *k, fc_err *err)
{
    const q8c_isa *isa = isa_now();
    if (!isa)
        return fc_q8_qlinearconv(k, fc_q8_gemm(), err);
    fc_status st = fc_q8_require(k, 8, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *w = k->in[3], *ws = k->in[4];
    fc_tensor *y = k->out[0];
    if (!is_q8(x) || !is_q8(w) || !is_q8(y))
        return fc_q8_unsupported(k, !is_q8(x) ? x->dtype : !is_q8(w) ? w->dtype : y->dtype, err);
    const int64_t m_out = w->dims[0];
    float *mult = fc_workspace_get(k->ws, 2, (size_t)(m_out > 0 ? m_out : 1) * sizeof *mult);
    if (!mult)
        return fc_err_set(err, FC_ERR_NOMEM, "QLinearConv: out of memory");
    const float x_scale = fc_q8_scale_at(k->in[1], 0), y_scale = fc_q8_scale_at(k->in[6], 0);
    /* (x_scale * w_scale[m]) / y_scale in float32, as the reference. */
    for (int64_t m = 0; m < m_out; m++)
        mult[m] = (x_scale * fc_q8_scale_at(ws, (size_t)m)) / y_scale;
    const conv_args a = {
        .x = x, .w = w, .x_zp = k->in[2], .w_zp = k->in[5], .bias = fc_q8_in(k, 8),
        .mult = mult, .y_zp = fc_q8_zp_at(k->in[7], 0), .y_dt = y->dtype,
    };
    return conv_fast(k, &a, y, isa, err);
}

fc_status fc_q8_convinteger_fast(const fc_kernel_ctx *k, fc_err *err)
{
    const q8c_isa *isa = isa_now();
    if (!isa)
        return fc_q8_convinteger(k, fc_q8_gemm(), err);
    fc_status st = fc_q8_require(k, 2, 1, err);
    if (st)
        return st;
    const fc_tensor *x = k->in[0], *w = k->in[1];
    fc_tensor *y = k->out[0];
    if (!is_q8(x) || !is_q8(w) || y->dtype != FC_DT_I32)
        return fc_q8_unsupported(k, !is_q8(x) ? x->dtype : w->dtype, err);
    const conv_args a = {
        .x = x, .w = w, .x_zp = fc_q8_in(k, 2), .w_zp = fc_q8_in(k, 3), .bias = NULL,
        .mult = NULL, .y_zp = 0, .y_dt = FC_DT_I32,
    };
    return conv_fast(k, &a, y, isa, err);
}
