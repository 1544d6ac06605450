/* The q8 engine's int8 GEMM on several threads: the rows of A (output
 * channels) are cut into blocks, each a GEMM of its own with the same
 * implementation (fc_q8_gemm()), shared by the worker threads of the f32
 * engine's pool.  Rows are independent in the contract (q8_gemm.h), so the
 * result is the same whatever the blocks or threads. */
#include "../f32/f32_internal.h"
#include "q8_internal.h"

#define ROW_ALIGN 16 /* rows per block: a multiple of every kernel's MR */

typedef struct mt_job {
    const fc_q8_gemm_args *g;
    fc_q8_gemm_fn gemm;
    int64_t rows;    /* per block */
} mt_job;

static void block(void *ctx, int t, int64_t u)
{
    (void)t;
    const mt_job *J = ctx;
    const fc_q8_gemm_args *g = J->g;
    fc_q8_gemm_args b = *g;
    fc_q8_requant rq;
    const int64_t m0 = u * J->rows;
    b.M = g->M - m0 < J->rows ? g->M - m0 : J->rows;
    b.A = (const unsigned char *)g->A + m0 * g->lda;
    if (g->a_zp && g->a_zp_per_row)
        b.a_zp = g->a_zp + m0;
    if (g->bias)
        b.bias = g->bias + m0;
    if (g->rq) {
        rq = *g->rq;
        if (rq.scale_per_row)
            rq.scale = g->rq->scale + m0;
        b.rq = &rq;
    }
    b.C = (unsigned char *)g->C + (size_t)(m0 * g->ldc) * (g->rq ? 1 : sizeof(int32_t));
    J->gemm(&b);
}

void fc_q8_gemm_threaded(const fc_q8_gemm_args *g)
{
    const fc_q8_gemm_fn gemm = fc_q8_gemm();
    if (g->M <= 0 || g->N <= 0)
        return;
    const double flops = 2.0 * (double)g->M * (double)g->N * (double)g->K;
    const int64_t max_blocks = (g->M + ROW_ALIGN - 1) / ROW_ALIGN;
    const int nt = fc_f32_threads_for(flops, max_blocks);
    if (nt <= 1) {
        gemm(g);
        return;
    }
    /* two blocks per thread: a delayed thread holds the others up less */
    int64_t rows = (g->M + 2 * nt - 1) / (2 * nt);
    rows = (rows + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
    mt_job J = {.g = g, .gemm = gemm, .rows = rows};
    fc_f32_parallel_for((g->M + rows - 1) / rows, nt, block, &J);
}
