/* Winograd F(2x2, 3x3) in integer arithmetic for the q8 engine's 3x3
 * convolutions (stride 1, dilation 1, one group): 16 multiplications per
 * 2x2 outputs and channel instead of 36, with exactly the reference's sums.
 *
 * With d the 4x4 input patch (x - x_zp, 0 in the padding) and g the 3x3
 * filter (w - w_zp), a 2x2 output tile is Y = A^T [U . V] A / 4 where
 *   V = B^T d B,  U = G' g G'^T,  G' = 2 G = [2 0 0; 1 1 1; 1 -1 1; 0 0 2]
 * (integer matrices: B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
 * A^T = [1 1 1 0; 0 1 -1 -1]).  This is an identity of polynomials, so
 * A^T [U . V] A is exactly 4 times the direct sum.  Ranges: |d| <= 255, so
 * |V| <= 1020; |g| <= 383 (a uint8 weight minus its zero point), so
 * |U| <= 9 * 383 = 3447: both int16, and a vpmaddwd pair sum stays below
 * 2^23.  Channel sums and the output transform are done in wrapping int32;
 * fc_q8c_wino_fits requires the direct sum to stay below 2^29 in
 * magnitude for any 8-bit data, so that 4 times it is the exact int32
 * value and an arithmetic shift by 2 recovers it.  The bias is then added
 * modulo 2^32 as the reference does, and the requantization is the
 * reference's (clamp, round half to even, zero point).
 *
 * Layout (channels last, so that the transforms run over contiguous
 * channels):
 *   xw [img][ph][pw][cp]   x - x_zp as int16, zero padded (ph = 2 TH + 2,
 *                          pw = 2 TW + 2 for TH x TW tiles), cp = C even
 *   u  [16][mp/16][kq][16 channels x 2]   transformed weights, the packed
 *                          B layout of q8_conv.h (once per call)
 *   v  [16][tiles][cp]     transformed input of one unit of tiles
 * Each unit of tiles (any image) is computed the same way whichever thread
 * runs it. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../f32/f32_internal.h"
#include "q8_conv.h"
#include "q8_internal.h"

#define UNIT_BYTES ((size_t)128 << 10)  /* v of one unit */
#define UNIT_MAX 256
#define ROUND_MAGIC 12582912.0f        /* 1.5 * 2^23 */
_Static_assert(FLT_EVAL_METHOD == 0, "ROUND_MAGIC needs float arithmetic done in float");

bool fc_q8c_wino_fits(int64_t c, int64_t m)
{
    /* |sum| <= 9 c * 255 * 383 < 2^29 */
    return c >= 8 && m >= 8 && c <= 600;
}

typedef struct wino_job {
    const q8c_wino *a;
    const q8c_wino_isa *isa;
    int64_t th, tw, tiles, cp, kq, mp, ph, pw, unit;
    int16_t *xw;
    int16_t *u;
    unsigned char *scratch;
    size_t per_thread;
} wino_job;

/* xw of one image. */
static void build_xw(void *ctx, int t, int64_t img)
{
    (void)t;
    const wino_job *J = ctx;
    const q8c_wino *a = J->a;
    int16_t *dst = J->xw + (size_t)(img * J->ph * J->pw * J->cp);
    const size_t row = (size_t)(J->pw * J->cp);
    /* zeros: the pad rows, and in the other rows the pad columns (the whole
     * row when channels are padded too) */
    memset(dst, 0, (size_t)a->pad_top * row * sizeof *dst);
    memset(dst + (size_t)(a->pad_top + a->h) * row, 0,
           (size_t)(J->ph - a->pad_top - a->h) * row * sizeof *dst);
    for (int64_t r = 0; r < a->h; r++) {
        int16_t *d = dst + (size_t)(r + a->pad_top) * row;
        if (J->cp != a->c) {
            memset(d, 0, row * sizeof *d);
        } else {
            memset(d, 0, (size_t)(a->pad_left * J->cp) * sizeof *d);
            memset(d + (a->pad_left + a->w) * J->cp, 0,
                   (size_t)((J->pw - a->pad_left - a->w) * J->cp) * sizeof *d);
        }
        J->isa->to_channels_last(a->x + (size_t)((img * a->c * a->h + r) * a->w),
                                 (size_t)(a->h * a->w), a->c, a->w, a->x_signed, a->x_zp,
                                 d + a->pad_left * J->cp, J->cp);
    }
}

/* u from the weights (w - w_zp), channels [16 jm, 16 jm + 16) (threads). */
static void build_u(void *ctx, int t, int64_t jm)
{
    (void)t;
    static const int gp[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};
    const wino_job *J = ctx;
    const q8c_wino *a = J->a;
    const int64_t panels = J->mp / Q8C_NR, chunk = J->kq * 2 * Q8C_NR;
    for (int xi = 0; xi < 16; xi++)
        memset(J->u + (size_t)((xi * panels + jm) * chunk), 0, (size_t)chunk * sizeof *J->u);
    const int64_t m_end = (jm + 1) * Q8C_NR < a->m ? (jm + 1) * Q8C_NR : a->m;
    for (int64_t m = jm * Q8C_NR; m < m_end; m++) {
        const int32_t zp = fc_q8_zp_at(a->w_zp, (size_t)m);
        for (int64_t c = 0; c < a->c; c++) {
            int32_t g[3][3], tmp[4][3];
            for (int i = 0; i < 9; i++) {
                const size_t at = (size_t)((m * a->c + c) * 9 + i);
                g[i / 3][i % 3] = (a->w_signed ? ((const int8_t *)a->wt)[at]
                                               : ((const uint8_t *)a->wt)[at]) - zp;
            }
            for (int i = 0; i < 4; i++)
                for (int b = 0; b < 3; b++)
                    tmp[i][b] = gp[i][0] * g[0][b] + gp[i][1] * g[1][b] + gp[i][2] * g[2][b];
            int16_t *dst = J->u + (size_t)((jm * J->kq + c / 2) * 2 * Q8C_NR +
                                           2 * (m % Q8C_NR) + c % 2);
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    dst[(size_t)((4 * i + j) * panels * chunk)] =
                        (int16_t)(tmp[i][0] * gp[j][0] + tmp[i][1] * gp[j][1] +
                                  tmp[i][2] * gp[j][2]);
        }
    }
}

/* V of tile t into v[xi * unit + slot][cp]. */
static void transform_tile(const wino_job *J, int64_t t, int64_t slot, int16_t *v)
{
    const int64_t per_img = J->th * J->tw, img = t / per_img, rem = t % per_img;
    const int16_t *d = J->xw + (size_t)(((img * J->ph + 2 * (rem / J->tw)) * J->pw +
                                         2 * (rem % J->tw)) * J->cp);
    J->isa->transform(d, J->pw * J->cp, J->cp, v + (size_t)(slot * J->cp), J->unit * J->cp);
}

static void transform_portable(const int16_t *d, int64_t rs, int64_t cp, int16_t *o,
                               int64_t os)
{
    for (int64_t c0 = 0; c0 < cp; c0 += 16) {
        int16_t b[4][4][16], t4[4][4][16];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                memcpy(b[i][j], d + i * rs + j * cp + c0, sizeof b[i][j]);
        for (int j = 0; j < 4; j++) /* B^T d */
            for (int l = 0; l < 16; l++) {
                t4[0][j][l] = (int16_t)(b[0][j][l] - b[2][j][l]);
                t4[1][j][l] = (int16_t)(b[1][j][l] + b[2][j][l]);
                t4[2][j][l] = (int16_t)(b[2][j][l] - b[1][j][l]);
                t4[3][j][l] = (int16_t)(b[1][j][l] - b[3][j][l]);
            }
        for (int i = 0; i < 4; i++) { /* (B^T d) B */
            int16_t r[4][16];
            for (int l = 0; l < 16; l++) {
                r[0][l] = (int16_t)(t4[i][0][l] - t4[i][2][l]);
                r[1][l] = (int16_t)(t4[i][1][l] + t4[i][2][l]);
                r[2][l] = (int16_t)(t4[i][2][l] - t4[i][1][l]);
                r[3][l] = (int16_t)(t4[i][1][l] - t4[i][3][l]);
            }
            for (int j = 0; j < 4; j++)
                memcpy(o + (4 * i + j) * os + c0, r[j], sizeof r[j]);
        }
    }
}

static int32_t to_i32(uint32_t u)
{
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Requantizes n accumulators of channels m0.. (one per lane) into bytes. */
static void requant_lanes(const q8c_out *o, int64_t m0, int n, const int32_t *acc, uint8_t *out)
{
    const float lo = (float)(o->qmin - o->y_zp), hi = (float)(o->qmax - o->y_zp);
    for (int l = 0; l < n; l++) {
        if (!o->row_fast[m0 + l]) {
            out[l] = (uint8_t)fc_q8_requantize(acc[l], o->mult[m0 + l], o->y_zp, o->qmin,
                                               o->qmax);
            continue;
        }
        float x = (float)acc[l] * o->mult[m0 + l];
        x = x > lo ? x : lo;
        x = x < hi ? x : hi;
        x = (x + ROUND_MAGIC) - ROUND_MAGIC;
        out[l] = (uint8_t)((int32_t)x + o->y_zp);
    }
}

/* Output transform of tile t for channels m0 .. m0 + n - 1 from
 * acc[xi][r][lane], bias, requantization, stores.  all_fast: every
 * channel's multiplier is finite. */
static void finish_tile(const wino_job *J, int64_t t, int64_t m0, int n, bool all_fast,
                        const int32_t acc[16][Q8C_MR][Q8C_NR], int r)
{
    const q8c_wino *a = J->a;
    const int64_t per_img = J->th * J->tw, img = t / per_img, rem = t % per_img;
    const int64_t oy = 2 * (rem / J->tw), ox = 2 * (rem % J->tw);
    int32_t bias[Q8C_NR], y[4][Q8C_NR];
    uint8_t b[4][Q8C_NR];
    for (int l = 0; l < Q8C_NR; l++)
        bias[l] = a->bias && l < n ? a->bias[m0 + l] : 0;
    J->isa->finish(acc, r, bias, &a->out, all_fast ? a->out.mult + m0 : NULL, y, b);
    const size_t P = (size_t)(a->ho * a->wo);
    const q8c_out *o = &a->out;
    if (!all_fast && o->mult)
        for (int p = 0; p < 4; p++)
            requant_lanes(o, m0, n, y[p], b[p]);
    unsigned char *base = a->y + ((size_t)(img * a->m + m0) * P + (size_t)(oy * a->wo + ox)) *
                                     a->y_esz;
    if (a->y_esz == 1 && oy + 1 < a->ho && ox + 1 < a->wo) {
        /* a whole tile: two 2-byte stores per channel */
        for (int l = 0; l < n; l++) {
            const uint8_t top[2] = {b[0][l], b[1][l]}, bottom[2] = {b[2][l], b[3][l]};
            memcpy(base + (size_t)l * P, top, 2);
            memcpy(base + (size_t)l * P + (size_t)a->wo, bottom, 2);
        }
        return;
    }
    for (int p = 0; p < 4; p++) {
        const int64_t yy = oy + p / 2, xx = ox + p % 2;
        if (yy >= a->ho || xx >= a->wo)
            continue;
        unsigned char *at = base + (size_t)((p / 2) * a->wo + p % 2) * a->y_esz;
        for (int l = 0; l < n; l++) {
            if (a->y_esz == 1)
                at[(size_t)l * P] = b[p][l];
            else
                memcpy(at + (size_t)l * P * sizeof(int32_t), &y[p][l], sizeof(int32_t));
        }
    }
}

static void run_unit(void *ctx, int t, int64_t u)
{
    const wino_job *J = ctx;
    int16_t *v = (int16_t *)(void *)(J->scratch + (size_t)t * J->per_thread);
    int32_t(*acc)[Q8C_MR][Q8C_NR] =
        (int32_t(*)[Q8C_MR][Q8C_NR])(void *)(v + (size_t)(16 * J->unit * J->cp));
    const int64_t t0 = u * J->unit, nt = J->tiles - t0 < J->unit ? J->tiles - t0 : J->unit;
    for (int64_t i = 0; i < nt; i++)
        transform_tile(J, t0 + i, i, v);
    const int64_t panels = J->mp / Q8C_NR;
    for (int64_t jm = 0; jm < panels; jm++) {
        const int64_t m0 = jm * Q8C_NR;
        const int n = (int)(J->a->m - m0 < Q8C_NR ? J->a->m - m0 : Q8C_NR);
        bool all_fast = n == Q8C_NR;
        for (int l = 0; l < n; l++)
            all_fast = all_fast && J->a->out.row_fast[m0 + l];
        for (int64_t g = 0; g < nt; g += Q8C_MR) {
            for (int xi = 0; xi < 16; xi++) {
                const int16_t *rows[Q8C_MR];
                for (int r = 0; r < Q8C_MR; r++) {
                    const int64_t slot = g + r < nt ? g + r : nt - 1;
                    rows[r] = v + (size_t)((xi * J->unit + slot) * J->cp);
                }
                J->isa->tile(rows, J->u + (size_t)((xi * panels + jm) * J->kq * 2 * Q8C_NR),
                             J->kq, acc[xi]);
            }
            const int32_t(*done)[Q8C_MR][Q8C_NR] = (const int32_t(*)[Q8C_MR][Q8C_NR])acc;
            for (int r = 0; r < Q8C_MR && g + r < nt; r++)
                finish_tile(J, t0 + g + r, m0, n, all_fast, done, r);
        }
    }
}

/* Unit u of the preparation: the weights of channel panel u, then the
 * input of image u - panels. */
static void prepare(void *ctx, int t, int64_t u)
{
    const wino_job *J = ctx;
    const int64_t panels = J->mp / Q8C_NR;
    if (u < panels)
        build_u(ctx, t, u);
    else
        build_xw(ctx, t, u - panels);
}

fc_status fc_q8c_wino_run(const fc_kernel_ctx *k, q8c_wino *a, const q8c_wino_isa *isa,
                          fc_err *err)
{
    wino_job J = {.a = a, .isa = isa};
    J.th = (a->ho + 1) / 2;
    J.tw = (a->wo + 1) / 2;
    J.ph = 2 * J.th + 2;
    J.pw = 2 * J.tw + 2;
    J.cp = (a->c + 15) / 16 * 16; /* whole vectors for the transforms, zero channels */
    J.kq = J.cp / 2;
    J.mp = (a->m + Q8C_NR - 1) / Q8C_NR * Q8C_NR;
    size_t tiles, plane, xw_n, u_n;
    if (!fc_q8_mul3((size_t)a->batch, (size_t)J.th, (size_t)J.tw, &tiles) ||
        !fc_q8_mul3((size_t)J.ph, (size_t)J.pw, (size_t)J.cp, &plane) ||
        !fc_q8_mul3((size_t)a->batch, plane, sizeof(int16_t), &xw_n) ||
        !fc_q8_mul3(16, (size_t)J.mp, (size_t)J.cp, &u_n) || tiles > INT64_MAX / 4)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: conv too large", k->node->op_type);
    J.tiles = (int64_t)tiles;
    const double macs = 16.0 * (double)tiles * (double)J.cp * (double)J.mp;
    int64_t unit = (int64_t)(UNIT_BYTES / ((size_t)(16 * J.cp) * sizeof(int16_t)));
    const int nt_max = fc_f32_threads_for(2.0 * macs, J.tiles / Q8C_MR + 1);
    if (nt_max > 1 && unit > J.tiles / (4 * nt_max))
        unit = J.tiles / (4 * nt_max);
    unit = unit < Q8C_MR ? Q8C_MR : unit > UNIT_MAX ? UNIT_MAX : unit;
    J.unit = (unit + Q8C_MR - 1) / Q8C_MR * Q8C_MR;
    const int64_t units = (J.tiles + J.unit - 1) / J.unit;
    const int nt = units < nt_max ? (int)units : nt_max;
    J.per_thread = (size_t)(16 * J.unit * J.cp) * sizeof(int16_t) +
                   16 * sizeof(int32_t[Q8C_MR][Q8C_NR]);
    J.xw = fc_workspace_get(k->ws, 3, xw_n);
    /* slot 2 holds the caller's multipliers */
    const size_t u_bytes = (u_n * sizeof(int16_t) + 63) / 64 * 64;
    unsigned char *ub = fc_workspace_get(k->ws, 0, u_bytes + (size_t)a->m);
    J.scratch = fc_workspace_get(k->ws, 1, J.per_thread * (size_t)nt);
    if (!J.xw || !ub || !J.scratch)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory for Winograd",
                          k->node->op_type);
    J.u = (int16_t *)(void *)ub;
    bool *row_fast = (bool *)(ub + u_bytes);
    for (int64_t m = 0; m < a->m; m++)
        row_fast[m] = a->out.mult && isfinite(a->out.mult[m]);
    a->out.row_fast = row_fast;
    /* u and xw in one pass of the threads (one start-up less) */
    const int64_t prep = J.mp / Q8C_NR + a->batch;
    fc_f32_parallel_for(prep, prep < nt ? (int)prep : nt, prepare, &J);
    fc_f32_parallel_for(units, nt, run_unit, &J);
    return FC_OK;
}

/* ---- the per-ISA tile ---------------------------------------------------- */

static void tile_portable(const int16_t *const v[Q8C_MR], const int16_t *u, int64_t kq,
                          int32_t out[Q8C_MR][Q8C_NR])
{
    uint32_t s[Q8C_MR][Q8C_NR] = {{0}};
    for (int64_t p = 0; p < kq; p++) {
        const int16_t *up = u + p * 2 * Q8C_NR;
        for (int r = 0; r < Q8C_MR; r++) {
            const int32_t a0 = v[r][2 * p], a1 = v[r][2 * p + 1];
            for (int j = 0; j < Q8C_NR; j++)
                s[r][j] += (uint32_t)(a0 * up[2 * j] + a1 * up[2 * j + 1]);
        }
    }
    for (int r = 0; r < Q8C_MR; r++)
        for (int j = 0; j < Q8C_NR; j++)
            out[r][j] = to_i32(s[r][j]);
}

static void finish_portable(const int32_t acc[16][Q8C_MR][Q8C_NR], int r, const int32_t *bias,
                            const q8c_out *o, const float *mult, int32_t y[4][Q8C_NR],
                            uint8_t b[4][Q8C_NR])
{
    uint32_t t0[4][Q8C_NR], t1[4][Q8C_NR];
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < Q8C_NR; l++) {
            const uint32_t m0 = (uint32_t)acc[j][r][l], m1 = (uint32_t)acc[4 + j][r][l];
            const uint32_t m2 = (uint32_t)acc[8 + j][r][l], m3 = (uint32_t)acc[12 + j][r][l];
            t0[j][l] = m0 + m1 + m2;
            t1[j][l] = m1 - m2 - m3;
        }
    for (int l = 0; l < Q8C_NR; l++) {
        /* exact: 4 times the direct sum, see the top */
        const uint32_t bl = (uint32_t)bias[l];
        y[0][l] = to_i32((uint32_t)(to_i32(t0[0][l] + t0[1][l] + t0[2][l]) >> 2) + bl);
        y[1][l] = to_i32((uint32_t)(to_i32(t0[1][l] - t0[2][l] - t0[3][l]) >> 2) + bl);
        y[2][l] = to_i32((uint32_t)(to_i32(t1[0][l] + t1[1][l] + t1[2][l]) >> 2) + bl);
        y[3][l] = to_i32((uint32_t)(to_i32(t1[1][l] - t1[2][l] - t1[3][l]) >> 2) + bl);
    }
    if (!mult)
        return;
    const float lo = (float)(o->qmin - o->y_zp), hi = (float)(o->qmax - o->y_zp);
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < Q8C_NR; l++) {
            float x = (float)y[p][l] * mult[l];
            x = x > lo ? x : lo;
            x = x < hi ? x : hi;
            x = (x + ROUND_MAGIC) - ROUND_MAGIC;
            b[p][l] = (uint8_t)((int32_t)x + o->y_zp);
        }
}

static void to_channels_last_portable(const uint8_t *src, size_t plane, int64_t nc,
                                      int64_t ncols, bool x_signed, int32_t zp, int16_t *dst,
                                      int64_t cp)
{
    for (int64_t c = 0; c < nc; c++) {
        const uint8_t *s = src + (size_t)c * plane;
        for (int64_t col = 0; col < ncols; col++)
            dst[col * cp + c] = (int16_t)((x_signed ? (int32_t)(int8_t)s[col] : s[col]) - zp);
    }
}

const q8c_wino_isa fc_q8c_wino_portable = {.tile = tile_portable,
                                           .transform = transform_portable,
                                           .finish = finish_portable,
                                           .to_channels_last = to_channels_last_portable};
