/* Backward kernels of the f32 engine (src/engines/f32/f32_grad_*.c).
 *
 * Each kernel ADDS dLoss/d in[i] into gin[i] for every non-NULL gin[i] (see
 * fc_grad_ctx in fc_kernel.h): a value read by several nodes, or twice by
 * one node (Add(x, x), Concat(x, x)), sums all contributions, so gin entries
 * may alias each other and kernels never overwrite them.  Matrix products
 * get the sum for free from sgemm's beta = 1.
 *
 * Fused activations: when the executor fused a Relu/Clip into Conv, Gemm or
 * MatMul, the Relu/Clip node's own backward applies the mask (from out[0],
 * which is the clamped value) before the producer's backward runs, so the
 * producers' kernels never look at the activation.
 *
 * Like the forward kernels these never allocate: scratch comes from the
 * engine workspace, slots as in f32_internal.h.  Independent of f32-ref's
 * backward kernels on purpose: the two check each other. */
#ifndef FC_F32_GRAD_H
#define FC_F32_GRAD_H

#include "f32_internal.h"

/* f32_grad_conv.c (input gradient; f32_grad_convs.c for a sparse dY) and
 * f32_grad_convw.c (weight, bias) */
fc_status fc_f32_conv_grad(const fc_grad_ctx *k, fc_err *err);
/* f32_grad_gemm.c */
fc_status fc_f32_gemm_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_matmul_grad(const fc_grad_ctx *k, fc_err *err);
/* f32_grad_eltwise.c */
fc_status fc_f32_add_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_sub_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_mul_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_div_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_relu_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_leakyrelu_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_clip_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_sigmoid_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_tanh_grad(const fc_grad_ctx *k, fc_err *err);
/* f32_grad_pool.c */
fc_status fc_f32_maxpool_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_averagepool_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_globalaveragepool_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_globalmaxpool_grad(const fc_grad_ctx *k, fc_err *err);
/* f32_grad_norm.c */
fc_status fc_f32_batchnorm_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_softmax_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_logsoftmax_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_reducemean_grad(const fc_grad_ctx *k, fc_err *err);
/* f32_grad_shape.c */
fc_status fc_f32_copy_grad(const fc_grad_ctx *k, fc_err *err);  /* Flatten, Reshape, ... */
fc_status fc_f32_transpose_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_concat_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_pad_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_gather_grad(const fc_grad_ctx *k, fc_err *err);
fc_status fc_f32_cast_grad(const fc_grad_ctx *k, fc_err *err);

/* ---- Conv internals shared by f32_grad_conv*.c ---- */

/* X [N, C, D, H, W], W [M, C/G, kd, kh, kw], Y [N, M, Do, Ho, Wo] (1-D and
 * 2-D convs in 3-D form, as in f32_conv.c). */
typedef struct fc_f32g_conv {
    int64_t n, c, m, g, cg, mg;   /* cg = C/G, mg = M/G */
    fc_window w;                  /* 3-D form */
    size_t in_sp, out_sp;         /* D*H*W, Do*Ho*Wo */
    size_t rows;                  /* Do*Ho: output rows of Wo positions */
    size_t kvol, kdim;            /* kd*kh*kw, K = Cg*kvol */
} fc_f32g_conv;
/* Weight and bias gradients (gin[1], gin[2]) of a Conv (f32_grad_convw.c). */
fc_status fc_f32g_conv_params(const fc_grad_ctx *k, const fc_f32g_conv *G, fc_err *err);
/* True when at most max_density of dY [n elements] is nonzero and the
 * groups are wide enough for the sparse input gradient (f32_grad_convs.c). */
bool fc_f32g_conv_sparse_fits(const fc_f32g_conv *G, const float *gy, size_t n,
                              double max_density);
/* dX += the input gradient from the nonzeros of dY only (f32_grad_convs.c). */
fc_status fc_f32g_conv_dx_sparse(const fc_grad_ctx *k, const fc_f32g_conv *G, const float *wt,
                                 const float *gy, float *gx, fc_err *err);

/* ---- helpers (f32_grad_shape.c) ---- */

/* Forward input / output i, or NULL when omitted or out of range. */
const fc_tensor *fc_f32g_in(const fc_grad_ctx *k, int i);
const fc_tensor *fc_f32g_out(const fc_grad_ctx *k, int i);
/* Gradient of output i (NULL: none reaches it) and of input i (NULL: not
 * wanted). */
const fc_tensor *fc_f32g_gout(const fc_grad_ctx *k, int i);
fc_tensor *fc_f32g_gin(const fc_grad_ctx *k, int i);
/* FC_ERR_INTERNAL unless input i and gin[i] are float32 tensors of the same
 * size (a gin of another shape is a bug of the executor or of ours). */
fc_status fc_f32g_check_gin(const fc_grad_ctx *k, int i, fc_err *err);
/* The usual start of a backward: *gy = gout[0], NULL when no gradient
 * reaches output 0 (then there is nothing to do); FC_ERR_INTERNAL unless
 * out[0] and gout[0] are float32 tensors of the same size. */
fc_status fc_f32g_start(const fc_grad_ctx *k, const fc_tensor **gy, fc_err *err);
/* dst[i] += src[i] for i < n (on several threads when n is large). */
void fc_f32g_acc(float *dst, const float *src, size_t n);
/* Runs fn(ctx, lo, hi) over ranges of at most `chunk` items covering
 * [0, n), on several threads when n items of `cost` flops each are worth
 * it.  Ranges must be independent of each other. */
typedef void (*fc_f32g_range_fn)(void *ctx, size_t lo, size_t hi);
void fc_f32g_parallel_range(size_t n, size_t chunk, double cost, fc_f32g_range_fn fn,
                            void *ctx);
/* Memory-bound passes count as this many flops per element when deciding
 * on threads (a pass over a few megabytes is worth a second core), and
 * are split into ranges of this many elements. */
#define FC_F32G_PASS_COST 16.0
#define FC_F32G_PASS_CHUNK ((size_t)1 << 15)
/* The unsupported-dtype error of a backward kernel. */
fc_status fc_f32g_unsupported(const fc_grad_ctx *k, const char *what, fc_err *err);

#endif
