/* Inputs that hurt without any gradient: boundary values, garbage tensors
 * and garbage PNG files.  Every case has a stable name and is a pure
 * function of (model input shape, seed), so a finding can be reproduced
 * and fed to another runtime.
 *
 * Tensor cases are pixel-space batches [1, C, H, W] (fc_dataset.h): they go
 * through the model's preprocessing like any image, so "all 1" is the
 * brightest image; out-of-range, NaN, Inf and denormal cases deliberately
 * leave [0, 1]. */
#ifndef FC_GEN_H
#define FC_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/fc_status.h"
#include "core/fc_tensor.h"

typedef enum fc_gen_kind {
    FC_GEN_BOUNDARY = 0,   /* fixed values at and past the edges */
    FC_GEN_NOISE = 1,      /* seeded noise and flat gray levels */
    FC_GEN_QUANT = 2,      /* an int8 model's input quantization edges */
} fc_gen_kind;

typedef struct fc_gen_case {
    char name[64];         /* "nan_one_pixel": stable, file-name safe */
    char what[160];        /* one line for people */
    fc_gen_kind kind;
    fc_tensor x;           /* float32 [1, C, H, W], owned */
} fc_gen_case;

typedef struct fc_gen_set {
    fc_gen_case *cases;
    int n;
} fc_gen_set;

/* The input quantization of an int8 model: q = clamp(round(x / scale) + zp). */
typedef struct fc_gen_quant {
    float scale;
    int zero_point, qmin, qmax;
} fc_gen_quant;

/* Appends the cases of `kind` for an input of shape [1, c, h, w] to *set
 * (created empty by the caller: {0}); q is required for FC_GEN_QUANT only.
 * The set owns its tensors: fc_gen_set_free. */
fc_status fc_gen_tensors(fc_gen_kind kind, int c, int64_t h, int64_t w, uint64_t seed,
                         const fc_gen_quant *q, fc_gen_set *set, fc_err *err);
void fc_gen_set_free(fc_gen_set *set);

/* ---- garbage PNG files (fc_gen_png.c) ---- */

typedef struct fc_gen_file {
    char name[64];         /* "truncated_idat_0", "bad_crc_ihdr", ... */
    char what[160];
    uint8_t *bytes;        /* owned */
    size_t len;
} fc_gen_file;

typedef struct fc_gen_files {
    fc_gen_file *files;
    int n;
} fc_gen_files;

/* Broken PNGs derived from a valid w x h image with `channels` (1 or 3):
 * truncations at every chunk boundary and at seeded random offsets, bad
 * CRCs, IHDR sizes 0 and 2^31-1, a size over `max_pixels`, invalid
 * depth/colour pairs, a palette image without PLTE, no IEND, an unknown
 * critical chunk, a decompression bomb, random bytes and an empty file.
 * Every one must be refused by a PNG reader with caps like flipcheck's. */
fc_status fc_gen_pngs(uint32_t w, uint32_t h, int channels, uint64_t seed, uint64_t max_pixels,
                      fc_gen_files *out, fc_err *err);
void fc_gen_files_free(fc_gen_files *f);

/* Deterministic PRNG shared by the generators and attacks (splitmix64). */
uint64_t fc_rng_next(uint64_t *state);
/* Uniform in [0, 1). */
double fc_rng_uniform(uint64_t *state);
/* Standard normal (Box-Muller). */
double fc_rng_normal(uint64_t *state);

#endif
