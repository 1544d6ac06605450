/* Datasets: the images a command runs on, in pixel space.
 *
 * Pixel space is float in [0, 1] ([N, C, H, W]); attacks perturb there and
 * clip to it.  What the model actually sees (scale, mean, std, channel
 * order) is fc_preproc (fc_preproc.h), applied as part of the model's
 * forward so gradients flow through it.
 *
 * Sources, possibly mixed on one command line:
 *   - a folder in PyTorch's ImageFolder layout: DIR/<class>/<file>.png; the
 *     classes sorted by name (byte order) give the label index, files are
 *     sorted by name within a class;
 *   - a folder of PNGs without class folders, or single PNG files (no labels);
 *   - .npy images: uint8 [N,C,H,W] (divided by 255) or float32 [N,C,H,W]
 *     (taken as pixel values as is), labels from opts.labels_path.
 * A size that differs from the model's is an error naming both, unless
 * opts.resize is FC_RESIZE_BILINEAR. */
#ifndef FC_DATASET_H
#define FC_DATASET_H

#include <stdint.h>

#include "../core/fc_status.h"
#include "../core/fc_tensor.h"
#include "fc_png.h"

typedef enum fc_resize { FC_RESIZE_NONE = 0, FC_RESIZE_BILINEAR = 1 } fc_resize;

typedef struct fc_dataset_opts {
    int channels;             /* the model's C (1 or 3) */
    int64_t height, width;    /* the model's H and W */
    fc_resize resize;
    const char *labels_path;  /* .npy int64/int32 [N] for .npy images; NULL = none */
    fc_png_limits png;        /* caps for PNG files (0 = defaults) */
    int64_t max_images;       /* stop after this many (0 = no limit) */
} fc_dataset_opts;

typedef struct fc_dataset {
    fc_tensor images;         /* float32 [N, C, H, W] in [0, 1] (npy floats as given) */
    int64_t n;
    int64_t *labels;          /* n labels, or NULL when the data has none */
    char **files;             /* n source paths ("x.npy[3]" for npy rows), never NULL if n > 0 */
    int n_classes;            /* ImageFolder classes (0 otherwise) */
    char **class_names;       /* n_classes names, sorted */
} fc_dataset;

/* Loads every source into *out (owned by the caller: fc_dataset_free).
 * Errors name the file and what is wrong; on failure *out is empty. */
fc_status fc_dataset_load(const char *const *sources, int n_sources, const fc_dataset_opts *opts,
                          fc_dataset *out, fc_err *err);
void fc_dataset_free(fc_dataset *d);

/* Bilinear resize of one [C, H, W] image to [C, oh, ow], with PyTorch's
 * align_corners=False convention (no antialiasing). */
void fc_resize_bilinear(const float *src, int c, int64_t h, int64_t w, float *dst, int64_t oh,
                        int64_t ow);

#endif
