/* NumPy .npy files <-> fc_tensor.
 *
 * Why our own reader: images, logits and test fixtures travel as .npy, and
 * the files are untrusted input, so the header is parsed by a small strict
 * tokenizer (not an evaluator) with every size checked before allocation.
 *
 * Read: format versions 1.0, 2.0 and 3.0; C order only (fortran_order True
 * is refused by name); little-endian or byte-order-free dtypes '<f4' '<f8'
 * '|u1' '|i1' '<i4' '<i8' '|b1' (big-endian is refused by name).  The header
 * is capped by FC_MAX_NPY_HEADER, the shape by fc_shape_numel, and the data
 * must be exactly as long as the header says (shorter or longer is
 * FC_ERR_PARSE naming the file and the field).
 *
 * Write: version 1.0 (a header of at most FC_MAX_RANK dims always fits),
 * C order, the tensor's dtype, header padded to 64 bytes as NumPy does. */
#ifndef FC_NPY_H
#define FC_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "fc_status.h"
#include "fc_tensor.h"

/* Reads a .npy file into *out (owned; caller releases with
 * fc_tensor_release).  On failure *out is left empty (safe to release). */
fc_status fc_npy_read(const char *path, fc_tensor *out, fc_err *err);

/* Same from bytes in memory (fuzzing, tests); `label` names the source in
 * messages.  The bytes are copied; the caller keeps ownership of them. */
fc_status fc_npy_read_bytes(const uint8_t *bytes, size_t len, const char *label,
                            fc_tensor *out, fc_err *err);

/* Writes t (any supported dtype, rank <= FC_MAX_RANK) to path, replacing
 * the file.  FC_ERR_IO names the path when it cannot be written. */
fc_status fc_npy_write(const char *path, const fc_tensor *t, fc_err *err);

#endif
