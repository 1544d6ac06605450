/* Every cap on sizes that come from files, in one place (docs/limits.md
 * lists them for users).  A value over its cap is refused with FC_ERR_LIMIT
 * before anything of that size is allocated. */
#ifndef FC_LIMITS_H
#define FC_LIMITS_H

#define FC_MAX_RANK 8                          /* dims per tensor */
#define FC_MAX_MODEL_BYTES (512ull << 20)      /* .onnx file incl. external data */
#define FC_MAX_TENSOR_ELEMS (1ull << 28)       /* elements in any one tensor */
#define FC_MAX_TENSOR_BYTES (1ull << 30)       /* bytes in any one tensor */
#define FC_MAX_NODES 100000                    /* nodes in a graph */
#define FC_MAX_VALUES 400000                   /* named values in a graph */
#define FC_MAX_NODE_IO 1024                    /* inputs or outputs of one node */
#define FC_MAX_ATTR_ELEMS (1u << 20)           /* elements in an ints/floats attribute */
#define FC_MAX_NPY_HEADER 65536                /* bytes of a .npy header */
#define FC_MAX_FOLD_ELEMS (1u << 16)           /* constant-folded tensor size */

#endif
