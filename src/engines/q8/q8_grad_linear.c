/* STE backward of the integer ops (q8_grad.h): each names the float op it
 * stands for and which of its inputs are the float op's operands, with
 * their quantization parameters; fc_q8g_through_float does the rest.
 * Only the activations' gradients are ever wanted (weights and biases are
 * initializers), so biases are left out of the float op: they do not
 * change the gradient of its other inputs. */
#include "q8_grad.h"

/* Input order of the ops (ONNX and com.microsoft definitions):
 *   QLinearConv     x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B]
 *   ConvInteger     x, w, [x_zp], [w_zp]                        -> int32
 *   QLinearMatMul   a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp
 *   MatMulInteger   a, b, [a_zp], [b_zp]                        -> int32
 *   QGemm           A, a_scale, a_zp, B, b_scale, b_zp, [C], [y_scale], [y_zp]
 *   QLinearAdd      A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp
 *   QLinearConcat   y_scale, y_zp, then (x, x_scale, x_zp) per input
 *   QLinear(Global)AveragePool  x, x_scale, x_zp, y_scale, y_zp
 * Per-axis parameters: Conv weights per output channel (axis 0), matrix
 * products' right operand per output column, left operand per row. */

fc_status fc_q8_qlinearconv_grad(const fc_grad_ctx *k, const fc_kernel_table *flt, fc_err *err)
{
    const fc_q8g_operand ops[] = {{0, 1, 2, 1}, {3, 4, 5, 0}};
    return fc_q8g_through_float(k, flt, "Conv", ops, 2, 6, 7, err);
}

fc_status fc_q8_convinteger_grad(const fc_grad_ctx *k, const fc_kernel_table *flt, fc_err *err)
{
    const fc_q8g_operand ops[] = {{0, -1, 2, 1}, {1, -1, 3, 0}};
    return fc_q8g_through_float(k, flt, "Conv", ops, 2, -1, -1, err);
}

fc_status fc_q8_qlinearmatmul_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                   fc_err *err)
{
    const fc_q8g_operand ops[] = {{0, 1, 2, -2}, {3, 4, 5, -1}};
    return fc_q8g_through_float(k, flt, "MatMul", ops, 2, 6, 7, err);
}

fc_status fc_q8_matmulinteger_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                   fc_err *err)
{
    const fc_q8g_operand ops[] = {{0, -1, 2, -2}, {1, -1, 3, -1}};
    return fc_q8g_through_float(k, flt, "MatMul", ops, 2, -1, -1, err);
}

/* Gemm's alpha and transA/transB are QGemm's attributes too; B's columns
 * are its axis 0 when transposed. */
fc_status fc_q8_qgemm_grad(const fc_grad_ctx *k, const fc_kernel_table *flt, fc_err *err)
{
    int64_t ta, tb;
    fc_status st;
    if ((st = fc_attr_get_int(k->node, "transA", 0, &ta, err)) ||
        (st = fc_attr_get_int(k->node, "transB", 0, &tb, err)))
        return st;
    const fc_q8g_operand ops[] = {{0, 1, 2, ta ? 1 : 0}, {3, 4, 5, tb ? 0 : 1}};
    return fc_q8g_through_float(k, flt, "Gemm", ops, 2, 7, 8, err);
}

fc_status fc_q8_qlinearadd_grad(const fc_grad_ctx *k, const fc_kernel_table *flt, fc_err *err)
{
    const fc_q8g_operand ops[] = {{0, 1, 2, 1}, {3, 4, 5, 1}};
    return fc_q8g_through_float(k, flt, "Add", ops, 2, 6, 7, err);
}

fc_status fc_q8_qlinearconcat_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                   fc_err *err)
{
    if (k->n_in < 5 || (k->n_in - 2) % 3 != 0)
        return fc_err_set(err, FC_ERR_INTERNAL, "QLinearConcat: %d inputs", k->n_in);
    fc_q8g_operand ops[(FC_MAX_NODE_IO - 2) / 3];
    int n = (k->n_in - 2) / 3;
    for (int j = 0; j < n; j++)
        ops[j] = (fc_q8g_operand){2 + 3 * j, 3 + 3 * j, 4 + 3 * j, 1};
    return fc_q8g_through_float(k, flt, "Concat", ops, n, 0, 1, err);
}

/* The float pools are NCHW only. */
static fc_status channels_first(const fc_grad_ctx *k, fc_err *err)
{
    int64_t cl;
    fc_status st = fc_attr_get_int(k->node, "channels_last", 0, &cl, err);
    if (!st && cl != 0)
        st = fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: no gradient in channels_last layout",
                        k->node->op_type);
    return st;
}

fc_status fc_q8_qlinearglobalavgpool_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                          fc_err *err)
{
    const fc_q8g_operand ops[] = {{0, 1, 2, 1}};
    fc_status st = channels_first(k, err);
    return st ? st : fc_q8g_through_float(k, flt, "GlobalAveragePool", ops, 1, 3, 4, err);
}

fc_status fc_q8_qlinearavgpool_grad(const fc_grad_ctx *k, const fc_kernel_table *flt,
                                    fc_err *err)
{
    const fc_q8g_operand ops[] = {{0, 1, 2, 1}};
    fc_status st = channels_first(k, err);
    return st ? st : fc_q8g_through_float(k, flt, "AveragePool", ops, 1, 3, 4, err);
}
