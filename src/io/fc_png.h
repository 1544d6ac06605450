/* PNG images through libpng: read any PNG into a float tensor in [0,1] with
 * the model's channel count, write 8-bit gray and RGB.
 *
 * Conversion rules (docs/images.md):
 *   - every bit depth (1, 2, 4, 8, 16), palette and interlaced images are
 *     expanded; 16-bit samples keep their precision (v / 65535);
 *   - alpha is composited on black (v * a) and then dropped;
 *   - gray -> RGB replicates the gray value in the three channels;
 *   - RGB -> gray uses ITU-R BT.601 weights: 0.299 R + 0.587 G + 0.114 B.
 *
 * Files are untrusted: the pixel count is checked from IHDR before any pixel
 * memory is allocated, the inflated size is bounded, ancillary chunks are
 * capped, and every libpng error becomes an fc_status naming the file. */
#ifndef FC_PNG_H
#define FC_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "../core/fc_status.h"
#include "../core/fc_tensor.h"

#define FC_PNG_DEFAULT_MAX_PIXELS (64ull << 20)          /* 64 MP */
#define FC_PNG_DEFAULT_MAX_INFLATED (512ull << 20)       /* decoded bytes */
#define FC_PNG_MAX_FILE_BYTES (256ull << 20)

typedef struct fc_png_limits {
    uint64_t max_pixels;      /* width * height; 0 = default */
    uint64_t max_inflated;    /* bytes of decoded rows; 0 = default */
} fc_png_limits;

/* What IHDR says, after validation. */
typedef struct fc_png_info {
    uint32_t width, height;
    int bit_depth;            /* 1, 2, 4, 8, 16 */
    int color_type;           /* PNG colour type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA */
    int interlaced;
    int channels;             /* 1 (gray) or 3 (colour), alpha not counted */
} fc_png_info;

/* Reads a PNG and converts it to `want_channels` (1 or 3; 0 keeps the
 * file's own: 1 for gray, 3 for colour) as float32 [C, H, W] in [0, 1].
 * out is owned by the caller (fc_tensor_release).  info may be NULL. */
fc_status fc_png_read(const char *path, int want_channels, const fc_png_limits *limits,
                      fc_tensor *out, fc_png_info *info, fc_err *err);
/* Same from memory (fuzzing); label names the source in messages. */
fc_status fc_png_read_bytes(const uint8_t *bytes, size_t len, const char *label,
                            int want_channels, const fc_png_limits *limits, fc_tensor *out,
                            fc_png_info *info, fc_err *err);

/* Writes an 8-bit gray (channels 1) or RGB (channels 3) PNG from
 * interleaved rows: pixels[(y * width + x) * channels + c]. */
fc_status fc_png_write_u8(const char *path, const uint8_t *pixels, uint32_t width,
                          uint32_t height, int channels, fc_err *err);
/* Same from a float [C, H, W] image in [0, 1] (values outside are clamped,
 * NaN is written as 0), rounded to the nearest of 0..255. */
fc_status fc_png_write_chw(const char *path, const float *chw, int channels, uint32_t height,
                           uint32_t width, fc_err *err);
/* Encodes to memory (for data URIs in reports): *out from fc_malloc. */
fc_status fc_png_encode_u8(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                           uint8_t **out, size_t *out_len, fc_err *err);

#endif
