/* Weight and bias gradients of Conv for the f32 engine.  The executor asks
 * for them only when the weights depend on the model's input (for constant
 * weights gin[1] and gin[2] are NULL), so this is the plain road: per group
 * and chunk of output rows of one image,
 *   col [K, cols] = im2col(X_g)           dW_g [Mg, K] += dY_g [Mg, cols] col^T
 * with OpenBLAS adding into dW (beta = 1), and dB[m] = sum of dY[:, m]. */
#include <cblas.h>
#include <string.h>

#include "f32_grad.h"

#define COL_BUDGET ((size_t)256 << 10)

/* col[r * ld + (q - q0)*Wo + o] = the input value output (q, o) of image n,
 * group g reads through tap r = c*kvol + (a*kh + b)*kw + e (0 in padding). */
static void im2col(const fc_f32g_conv *G, const float *x, int64_t n, int64_t g, size_t q0,
                   size_t q1, float *col, size_t ld)
{
    const fc_window *w = &G->w;
    const int64_t D = w->in[0], H = w->in[1], W = w->in[2];
    const int64_t Ho = w->out[1], Wo = w->out[2];
    size_t r = 0;
    for (int64_t c = 0; c < G->cg; c++) {
        const float *xc = x + ((size_t)n * (size_t)G->c + (size_t)(g * G->cg + c)) * G->in_sp;
        for (int64_t a = 0; a < w->kernel[0]; a++)
            for (int64_t b = 0; b < w->kernel[1]; b++)
                for (int64_t e = 0; e < w->kernel[2]; e++, r++) {
                    const int64_t offw = e * w->dilation[2] - w->pad_begin[2];
                    int64_t lo, hi;
                    fc_f32_valid_range(offw, w->stride[2], W, Wo, &lo, &hi);
                    float *row = col + r * ld;
                    for (size_t q = q0; q < q1; q++, row += Wo) {
                        const int64_t id =
                            (int64_t)q / Ho * w->stride[0] + a * w->dilation[0] - w->pad_begin[0];
                        const int64_t ih =
                            (int64_t)q % Ho * w->stride[1] + b * w->dilation[1] - w->pad_begin[1];
                        memset(row, 0, (size_t)Wo * sizeof *row);
                        if (id < 0 || id >= D || ih < 0 || ih >= H)
                            continue;
                        const float *xr = xc + ((size_t)id * (size_t)H + (size_t)ih) * (size_t)W;
                        for (int64_t o = lo; o < hi; o++)
                            row[o] = xr[o * w->stride[2] + offw];
                    }
                }
    }
}

fc_status fc_f32g_conv_params(const fc_grad_ctx *k, const fc_f32g_conv *G, fc_err *err)
{
    fc_tensor *gw = fc_f32g_gin(k, 1), *gb = fc_f32g_gin(k, 2);
    const float *gy = k->gout[0]->data;
    const size_t P = G->out_sp, K = G->kdim, wo = (size_t)G->w.out[2];
    if (gb) {
        float *d = gb->data;
        for (int64_t m = 0; m < G->m; m++) {
            double s = 0.0;
            for (int64_t n = 0; n < G->n; n++) {
                const float *p = gy + ((size_t)n * (size_t)G->m + (size_t)m) * P;
                for (size_t i = 0; i < P; i++)
                    s += p[i];
            }
            d[m] += (float)s;
        }
    }
    if (!gw || K == 0)
        return FC_OK;
    size_t rows = COL_BUDGET / (K * wo * sizeof(float));
    rows = rows < 1 ? 1 : rows < G->rows ? rows : G->rows;
    float *col = fc_workspace_get(k->ws, F32_WS_COL, K * rows * wo * sizeof(float));
    if (!col)
        return fc_err_set(err, FC_ERR_NOMEM, "Conv backward: out of memory for im2col");
    const float *x = k->in[0]->data;
    for (int64_t n = 0; n < G->n; n++)
        for (int64_t g = 0; g < G->g; g++) {
            const float *gyg = gy + ((size_t)n * (size_t)G->m + (size_t)(g * G->mg)) * P;
            float *dw = (float *)gw->data + (size_t)(g * G->mg) * K;
            for (size_t q0 = 0; q0 < G->rows; q0 += rows) {
                const size_t q1 = q0 + rows < G->rows ? q0 + rows : G->rows;
                const size_t cols = (q1 - q0) * wo;
                im2col(G, x, n, g, q0, q1, col, cols);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)G->mg, (int)K,
                            (int)cols, 1.0f, gyg + q0 * wo, (int)P, col, (int)cols, 1.0f, dw,
                            (int)K);
            }
        }
    return FC_OK;
}
