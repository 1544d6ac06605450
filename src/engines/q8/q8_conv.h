/* Private to the q8 engine: the fast QLinearConv / ConvInteger (q8_conv.c)
 * and the per-ISA pieces it is built from (q8_conv_avx2.c,
 * q8_conv_portable.c).
 *
 * Layout shared by every ISA (the one of q8_gemm_avx2.c):
 *  - packed weights A' = W - w_zp, per group, in panels of Q8C_MR rows:
 *    one int16 pair per row and pair of k's, (A'[m][2p], A'[m][2p+1]), at
 *    a[2 * ((panel * kq + p) * Q8C_MR + r)]; rows past the group's and the
 *    k past an odd K are 0;
 *  - packed activations B, per panel of Q8C_NR columns: for each pair p,
 *    Q8C_NR int16 pairs (B[2p][n], B[2p+1][n]) in column order, at
 *    b[(panel * kq + p) * 2 * Q8C_NR]; B is the 8-bit input as is (its zero
 *    point comes back through fix[m] = bias[m] - x_zp * sum_k A'[m][k]).
 * Accumulators are then acc[m][n] = fix[m] + sum_p A'-pair . B-pair in
 * wrapping int32: the contract's sum modulo 2^32, the exact one whenever it
 * fits (q8_gemm.h). */
#ifndef FC_Q8_CONV_H
#define FC_Q8_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../fc_kernel.h"

#define Q8C_MR 4
#define Q8C_NR 16

/* Where the rows of one output tile go, and how they are requantized. */
typedef struct q8c_out {
    const float *mult;     /* per output channel; NULL: raw int32 output */
    const bool *row_fast;  /* per output channel: finite multiplier */
    int32_t y_zp, qmin, qmax;
    bool y_signed;
} q8c_out;

typedef struct q8c_isa {
    /* Packs rows r0 (and r1: NULL for the zero k past an odd K) of nc
     * columns (a multiple of Q8C_NR, the bytes readable) into pair p of
     * consecutive panels at b, with panel stride kq pairs. */
    void (*pack_pair)(const uint8_t *r0, const uint8_t *r1, int64_t nc, bool x_signed,
                      int16_t *b, int64_t kq);
    /* acc[r][j] (Q8C_MR x Q8C_NR) = fix[r] + the sum over kq pairs of one
     * panel of A and one of B. */
    void (*tile)(const int16_t *a, const int16_t *b, int64_t kq, const int32_t *fix,
                 int32_t acc[Q8C_MR][Q8C_NR]);
    /* tile, then rows m0 .. m0 + rows - 1 (rows <= Q8C_MR) stored as
     * Q8C_NR contiguous columns each, row r at dst + r * ldd bytes (uint8 or
     * int8 when o->mult, else int32). */
    /* d0[i] = src[2 i], d1[i] = src[2 i + 1] for i < n. */
    void (*split2)(const uint8_t *src, uint8_t *d0, uint8_t *d1, int64_t n);
    void (*tile_store)(const int16_t *a, const int16_t *b, int64_t kq, const int32_t *fix,
                       const q8c_out *o, int64_t m0, int rows, unsigned char *dst, size_t ldd);
} q8c_isa;

/* Winograd F(2x2, 3x3) in integers (q8_conv_wino.c), for 2-D 3x3 convs
 * with stride 1, dilation 1, one group and a requantized output.  The
 * caller owns every pointer; the kernel takes workspace slots 0, 1 and 3
 * (slot 2 holds the caller's multipliers). */
typedef struct q8c_wino {
    int64_t batch, c, h, w, m, ho, wo, pad_top, pad_left;
    const uint8_t *x;
    bool x_signed;
    int32_t x_zp;
    const void *wt;         /* [m][c][3][3] */
    bool w_signed;
    const fc_tensor *w_zp;  /* NULL, one value or m */
    const int32_t *bias;    /* m values or NULL */
    q8c_out out;            /* row_fast filled by the callee */
    unsigned char *y;
    size_t y_esz;
} q8c_wino;

typedef struct q8c_wino_isa {
    /* out[r][j] = sum over kq pairs of row r's pairs (v[r] + 2p) times the
     * packed panel u (Q8C_NR columns): 4 rows of V against 16 channels. */
    void (*tile)(const int16_t *const v[Q8C_MR], const int16_t *u, int64_t kq,
                 int32_t out[Q8C_MR][Q8C_NR]);
    /* The 16 rows V[xi] = (B^T d B)[xi] of one tile, cp channels (a multiple
     * of 16): d[i * rs + j * cp + c] is the patch, row xi goes to o + xi * os. */
    void (*transform)(const int16_t *d, int64_t rs, int64_t cp, int16_t *o, int64_t os);
    /* y[p][l] = (A^T M A)[p] / 4 + bias[l] (wrapping int32), M[xi] =
     * acc[xi][r][l]: the 4 outputs of row r's tile for 16 channels; then,
     * when mult (16 finite multipliers) is not NULL, b[p][l] = their
     * requantized bytes. */
    void (*finish)(const int32_t acc[16][Q8C_MR][Q8C_NR], int r, const int32_t *bias,
                   const q8c_out *o, const float *mult, int32_t y[4][Q8C_NR],
                   uint8_t b[4][Q8C_NR]);
    /* dst[col * cp + c] = src[c * plane + col] - zp (the 8-bit value as
     * x_signed says) for c < nc, col < ncols: one input row of every
     * channel, channels last. */
    void (*to_channels_last)(const uint8_t *src, size_t plane, int64_t nc, int64_t ncols,
                             bool x_signed, int32_t zp, int16_t *dst, int64_t cp);
} q8c_wino_isa;

extern const q8c_wino_isa fc_q8c_wino_portable;
extern const q8c_wino_isa fc_q8c_wino_avx2;

/* True when the integer Winograd applies and is exact: channels enough to
 * pay (c, m >= 8) and |direct sum| < 2^29 for any 8-bit inputs (so that the
 * transformed sum, 4 times it, fits int32). */
bool fc_q8c_wino_fits(int64_t c, int64_t m);
/* Runs it; FC_ERR_NOMEM / FC_ERR_LIMIT with the node named. */
fc_status fc_q8c_wino_run(const fc_kernel_ctx *k, q8c_wino *a, const q8c_wino_isa *isa,
                          fc_err *err);

extern const q8c_isa fc_q8c_portable;
extern const q8c_isa fc_q8c_avx2;

/* Stores `count` accumulators of output channel m to dst, exactly as the
 * reference requantizes (any count, any multiplier); in q8_conv_portable.c. */
void fc_q8c_store_any(const q8c_out *o, int64_t m, const int32_t *acc, int64_t count, void *dst);

#endif
