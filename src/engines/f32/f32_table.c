/* The f32 kernel table (forward and backward kernels) and the helpers
 * every f32 kernel file shares.
 *
 * Conv, Gemm and MatMul honour the executor's fused clamp
 * (FC_KERNEL_FUSES_ACTIVATION): a Relu or Clip that is the only reader of
 * their output is applied in the same pass that adds the bias. */
#include <string.h>

#include "f32_grad.h"
#include "f32_internal.h"

#define K_(op, fn, fl) {.domain = "", .name = op, .forward = fn, .flags = fl}
#define K(op, fn) K_(op, fn, 0u)
/* With a backward kernel (f32_grad_*.c). */
#define KG_(op, fn, fl, bw) {.domain = "", .name = op, .forward = fn, .flags = fl, .backward = bw}
#define KG(op, fn, bw) KG_(op, fn, 0u, bw)

static const fc_kernel_def defs[] = {
    KG("Add", fc_f32_add, fc_f32_add_grad),
    KG("AveragePool", fc_f32_averagepool, fc_f32_averagepool_grad),
    KG("BatchNormalization", fc_f32_batchnorm, fc_f32_batchnorm_grad),
    KG("Cast", fc_f32_cast, fc_f32_cast_grad),
    KG("Clip", fc_f32_clip, fc_f32_clip_grad),
    KG("Concat", fc_f32_concat, fc_f32_concat_grad),
    K("Constant", fc_f32_constant),
    K("ConstantOfShape", fc_f32_constantofshape),
    KG_("Conv", fc_f32_conv, FC_KERNEL_FUSES_ACTIVATION, fc_f32_conv_grad),
    KG("Div", fc_f32_div, fc_f32_div_grad),
    KG("Dropout", fc_f32_dropout, fc_f32_copy_grad),
    KG("Flatten", fc_f32_copy, fc_f32_copy_grad),
    KG("Gather", fc_f32_gather, fc_f32_gather_grad),
    KG_("Gemm", fc_f32_gemm, FC_KERNEL_FUSES_ACTIVATION, fc_f32_gemm_grad),
    KG("GlobalAveragePool", fc_f32_globalaveragepool, fc_f32_globalaveragepool_grad),
    KG("GlobalMaxPool", fc_f32_globalmaxpool, fc_f32_globalmaxpool_grad),
    KG("Identity", fc_f32_copy, fc_f32_copy_grad),
    KG("LeakyRelu", fc_f32_leakyrelu, fc_f32_leakyrelu_grad),
    KG("LogSoftmax", fc_f32_logsoftmax, fc_f32_logsoftmax_grad),
    KG_("MatMul", fc_f32_matmul, FC_KERNEL_FUSES_ACTIVATION, fc_f32_matmul_grad),
    KG("MaxPool", fc_f32_maxpool, fc_f32_maxpool_grad),
    KG("Mul", fc_f32_mul, fc_f32_mul_grad),
    KG("Pad", fc_f32_pad, fc_f32_pad_grad),
    KG("ReduceMean", fc_f32_reducemean, fc_f32_reducemean_grad),
    KG("Relu", fc_f32_relu, fc_f32_relu_grad),
    KG("Reshape", fc_f32_copy, fc_f32_copy_grad),
    K("Shape", fc_f32_shape),
    KG("Sigmoid", fc_f32_sigmoid, fc_f32_sigmoid_grad),
    KG("Softmax", fc_f32_softmax, fc_f32_softmax_grad),
    KG("Squeeze", fc_f32_copy, fc_f32_copy_grad),
    KG("Sub", fc_f32_sub, fc_f32_sub_grad),
    KG("Tanh", fc_f32_tanh, fc_f32_tanh_grad),
    KG("Transpose", fc_f32_transpose, fc_f32_transpose_grad),
    KG("Unsqueeze", fc_f32_copy, fc_f32_copy_grad),
};

const fc_kernel_table fc_kernels_f32 = {.engine = "f32", .defs = defs,
                                        .count = (int)(sizeof defs / sizeof defs[0])};

/* ---- helpers ---- */

const fc_tensor *fc_f32_in(const fc_kernel_ctx *k, int i)
{
    return i >= 0 && i < k->n_in ? k->in[i] : NULL;
}

fc_tensor *fc_f32_out(const fc_kernel_ctx *k, int i)
{
    return i >= 0 && i < k->n_out ? k->out[i] : NULL;
}

fc_status fc_f32_require(const fc_kernel_ctx *k, int n_in, int n_out, fc_err *err)
{
    for (int i = 0; i < n_in; i++)
        if (!fc_f32_in(k, i))
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: input %d missing", k->node->op_type, i);
    for (int i = 0; i < n_out; i++)
        if (!fc_f32_out(k, i))
            return fc_err_set(err, FC_ERR_INTERNAL, "%s: output %d missing", k->node->op_type, i);
    return FC_OK;
}

fc_status fc_f32_unsupported(const fc_kernel_ctx *k, fc_dtype dt, fc_err *err)
{
    return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: dtype %s is not supported by engine f32",
                      k->node->op_type, fc_dtype_name(dt));
}

size_t fc_f32_prod(const int64_t *dims, int from, int to)
{
    size_t p = 1;
    for (int i = from; i < to; i++)
        p *= (size_t)dims[i];
    return p;
}

void fc_f32_apply_act(const fc_kernel_ctx *k, float *y, size_t n)
{
    if (k->act != FC_ACT_CLAMP)
        return;
    const float lo = k->act_min, hi = k->act_max;
    /* Written as selects so that NaN passes through and gcc vectorises. */
    for (size_t i = 0; i < n; i++) {
        float v = y[i];
        v = v < lo ? lo : v;
        y[i] = v > hi ? hi : v;
    }
}

void fc_f32_window3(fc_window *w)
{
    int shift = 3 - w->nsp;
    for (int i = 2; i >= 0; i--) {
        int from = i - shift;
        if (from >= 0) {
            w->in[i] = w->in[from];
            w->kernel[i] = w->kernel[from];
            w->stride[i] = w->stride[from];
            w->dilation[i] = w->dilation[from];
            w->pad_begin[i] = w->pad_begin[from];
            w->pad_end[i] = w->pad_end[from];
            w->out[i] = w->out[from];
        } else {
            w->in[i] = w->kernel[i] = w->stride[i] = w->dilation[i] = w->out[i] = 1;
            w->pad_begin[i] = w->pad_end[i] = 0;
        }
    }
    w->nsp = 3;
}

void fc_f32_valid_range(int64_t off, int64_t stride, int64_t in, int64_t out, int64_t *lo,
                        int64_t *hi)
{
    /* o*stride + off >= 0      <=>  o >= ceil(-off / stride)
     * o*stride + off <= in - 1 <=>  o <= floor((in - 1 - off) / stride) */
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = in - 1 - off < 0 ? 0 : (in - 1 - off) / stride + 1;
    if (l > out)
        l = out;
    if (h > out)
        h = out;
    if (h < l)
        h = l;
    *lo = l;
    *hi = h;
}

void fc_f32_bcast_strides(const fc_tensor *t, int out_rank, const int64_t *out_dims,
                          int64_t *strides)
{
    (void)out_dims;
    int64_t s = 1;
    for (int i = out_rank - 1; i >= 0; i--) {
        int it = i - (out_rank - t->rank);
        if (it < 0 || t->dims[it] == 1) {
            strides[i] = 0;
        } else {
            strides[i] = s;
            s *= t->dims[it];
        }
    }
}
