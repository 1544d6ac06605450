/* Crafting (and breaking) ONNX models for tests/test_hostile_models.c.
 *
 * Models are protobuf-c structs built on the C heap (malloc/strdup), exactly
 * as onnx__model_proto__unpack(NULL, ...) would leave them, so one
 * hc_model_free() releases a crafted model, an unpacked file, or an unpacked
 * file that a test then edited with these helpers.  Every helper aborts the
 * (forked) test on allocation failure. */
#ifndef HOSTILE_CRAFT_H
#define HOSTILE_CRAFT_H

#include <stddef.h>
#include <stdint.h>

#include "onnx.pb-c.h"

/* A dims entry meaning "the symbolic dimension N" (dim_param) in value infos. */
#define HC_DIM_N (INT64_MIN + 1)

/* Empty model: ir_version 7, one default-domain opset (none if opset <= 0),
 * an empty graph "g". */
Onnx__ModelProto *hc_model_new(int64_t opset);
void hc_model_free(Onnx__ModelProto *m);          /* NULL allowed */
Onnx__ModelProto *hc_unpack(const uint8_t *bytes, size_t len); /* NULL if invalid */
uint8_t *hc_pack(const Onnx__ModelProto *m, size_t *len);      /* malloc'd */

/* ins / outs: comma-separated value names ("" = none, "a,,b" has an empty
 * optional name in the middle). */
Onnx__NodeProto *hc_add_node(Onnx__GraphProto *g, const char *op, const char *name,
                             const char *ins, const char *outs);
/* Graph input / output declarations with a float tensor type of rank dims. */
Onnx__ValueInfoProto *hc_add_input(Onnx__GraphProto *g, const char *name, int elem_type,
                                   int rank, const int64_t *dims);
Onnx__ValueInfoProto *hc_add_output(Onnx__GraphProto *g, const char *name, int elem_type,
                                    int rank, const int64_t *dims);
/* Replaces the declared shape of a value info. */
void hc_set_vi_dims(Onnx__ValueInfoProto *vi, int rank, const int64_t *dims);

/* A float32 tensor with raw_data holding n floats (n may differ from the
 * product of dims: that is how mismatches are made). */
Onnx__TensorProto *hc_tensor_f32(const char *name, int rank, const int64_t *dims,
                                 const float *vals, size_t n);
Onnx__TensorProto *hc_add_init(Onnx__GraphProto *g, Onnx__TensorProto *t);
void hc_set_dims(Onnx__TensorProto *t, int rank, const int64_t *dims);
/* Moves raw_data into typed float_data, keeping n of its floats. */
void hc_raw_to_float_data(Onnx__TensorProto *t, size_t n);
/* Drops raw_data and points the tensor at external data.  NULL key values
 * are left out. */
void hc_set_external(Onnx__TensorProto *t, const char *location, const char *offset,
                     const char *length);

Onnx__AttributeProto *hc_attr_int(Onnx__NodeProto *n, const char *name, int64_t v);
Onnx__AttributeProto *hc_attr_ints(Onnx__NodeProto *n, const char *name, size_t count,
                                   const int64_t *v);
Onnx__AttributeProto *hc_attr_tensor(Onnx__NodeProto *n, const char *name,
                                     Onnx__TensorProto *t);           /* takes t */
Onnx__AttributeProto *hc_attr_graph(Onnx__NodeProto *n, const char *name,
                                    Onnx__GraphProto *sub);           /* takes sub */
Onnx__GraphProto *hc_graph_new(const char *name);

Onnx__TensorProto *hc_find_init(const Onnx__GraphProto *g, const char *name);
/* Removes (and frees) the initializer of that name; returns 1 if found. */
int hc_remove_init(Onnx__GraphProto *g, const char *name);

/* The base model most cases mutate: x [N,1,4,4] -> Conv(W [2,1,3,3], B [2],
 * pads 1) -> c -> Relu -> y [N,2,4,4].  W[i] = 0.1 * (i + 1), B = {0.5, -100}:
 * on x = ones, y[0,0,1,1] = 5.0, y[0,0,0,0] = 3.3 and channel 1 is all 0. */
Onnx__ModelProto *hc_conv_model(void);
#define HC_CONV_W_COUNT 18

/* x [N,1,4,4] -> (nodes the caller adds) -> output `out` [N,1,4,4]. */
Onnx__ModelProto *hc_bare_model(int64_t opset, const char *out);
/* input [N,1,28,28] -> op "hostile_node" (in `domain`, imported at version
 * 1, unless NULL) -> y. */
Onnx__ModelProto *hc_one_op_model(const char *op, const char *domain);
/* x -> Add(x, k) -> y, k from a Constant node holding `value` (taken). */
Onnx__ModelProto *hc_constant_model(Onnx__TensorProto *value);
/* cond, x -> If(then: Relu(x), else: Identity(x)) or Loop(body) -> y; with
 * cycle_inside the subgraphs hold a cycle instead. */
Onnx__ModelProto *hc_control_flow_model(const char *op, int cycle_inside);
/* The conv model with W moved to external data (NULL keys left out). */
Onnx__ModelProto *hc_external_model(const char *location, const char *offset,
                                    const char *length);
/* Makes root/secret.bin (hc_secret: a valid W, so a loader that escapes
 * succeeds) and returns the malloc'd model folder root/m holding W.bin (the
 * conv W), packed.bin (16 bytes, then W), sub/, and the symlinks
 * link.bin -> ../secret.bin, abslink.bin -> root/secret.bin, updir -> ..,
 * passwd.bin -> /etc/passwd. */
char *hc_external_dir(const char *root);
extern const float hc_secret[HC_CONV_W_COUNT];
/* Packs m (and frees it) into dir/name; returns the malloc'd path. */
char *hc_write_model(const char *dir, const char *name, Onnx__ModelProto *m);

/* Files.  hc_read_file: whole file, malloc'd.  hc_write_file: returns the
 * malloc'd path dir/name.  hc_remove_tree: rm -r without following links. */
uint8_t *hc_read_file(const char *path, size_t *len);
char *hc_write_file(const char *dir, const char *name, const void *bytes, size_t len);
char *hc_path(const char *dir, const char *name);
void hc_remove_tree(const char *dir);

/* splitmix64: a seeded PRNG so every mutation is reproducible. */
uint64_t hc_rand(uint64_t *state);

#endif
