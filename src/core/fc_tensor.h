/* Dense tensors: a dtype, a shape and a row-major (C order) buffer.
 *
 * fc_tensor is a plain struct so kernels can read dims and data directly.
 * A tensor either owns its data (owns_data = true, freed by fc_tensor_release)
 * or borrows it (a view into someone else's buffer; release only resets it). */
#ifndef FC_TENSOR_H
#define FC_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fc_limits.h"
#include "fc_status.h"

/* Numbering follows onnx.TensorProto.DataType so loaders can cast directly. */
typedef enum fc_dtype {
    FC_DT_UNDEFINED = 0,
    FC_DT_F32 = 1,
    FC_DT_U8 = 2,
    FC_DT_I8 = 3,
    FC_DT_I32 = 6,
    FC_DT_I64 = 7,
    FC_DT_BOOL = 9,
    FC_DT_F64 = 11,
} fc_dtype;

typedef struct fc_tensor {
    fc_dtype dtype;
    int rank;                     /* 0 = scalar (numel 1) */
    int64_t dims[FC_MAX_RANK];
    size_t numel;                 /* product of dims */
    void *data;                   /* numel * fc_dtype_size(dtype) bytes */
    bool owns_data;
} fc_tensor;

/* Bytes per element; 0 for an unsupported dtype. */
size_t fc_dtype_size(fc_dtype dt);
/* "float32", "uint8", ...; "undefined" for anything else. */
const char *fc_dtype_name(fc_dtype dt);
/* True if dt is one of the enum values above (other than UNDEFINED). */
bool fc_dtype_supported(int dt);

/* numel of dims, checked against overflow and FC_MAX_TENSOR_ELEMS.  Negative
 * dims are refused.  `what` names the tensor in the error message. */
fc_status fc_shape_numel(int rank, const int64_t *dims, size_t *numel,
                         const char *what, fc_err *err);

/* Allocates a zeroed owned buffer for the given shape.  On failure *t is left
 * empty (safe to release).  Checks the byte cap FC_MAX_TENSOR_BYTES. */
fc_status fc_tensor_alloc(fc_tensor *t, fc_dtype dt, int rank,
                          const int64_t *dims, fc_err *err);
/* Deep copy into dst (owned).  dst must not alias src. */
fc_status fc_tensor_copy(fc_tensor *dst, const fc_tensor *src, fc_err *err);
/* Frees owned data and resets *t to an empty tensor.  NULL is allowed. */
void fc_tensor_release(fc_tensor *t);
/* Size in bytes of t's data. */
size_t fc_tensor_bytes(const fc_tensor *t);
/* Element i of any numeric dtype as double (for comparisons and tests). */
double fc_tensor_get_f64(const fc_tensor *t, size_t i);
/* Element i of an integer dtype as int64 (for shape tensors, indices). */
int64_t fc_tensor_get_i64(const fc_tensor *t, size_t i);
/* True if the two shapes are equal. */
bool fc_tensor_same_shape(const fc_tensor *a, const fc_tensor *b);
/* Writes "[1,3,28,28]" into buf (truncated to size). */
const char *fc_dims_str(int rank, const int64_t *dims, char *buf, size_t size);

#endif
