/* libpng glue.  libpng reports errors by longjmp; every function that calls
 * setjmp here keeps its state in a struct owned by its caller, so nothing
 * that changes after setjmp lives in the frame that longjmp returns to. */
#include "fc_png.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "../core/fc_alloc.h"
#include "../core/fc_file.h"

#define CHUNK_MALLOC_MAX (8u << 20)   /* ancillary chunks (zTXt, iCCP, ...) */

/* Both libpng contexts (reading: png_io, writing: png_sink) start with
 * `nomem`, which is all on_malloc may touch through the error pointer. */
typedef struct png_io {
    bool nomem;
    const char *label;
    const uint8_t *bytes;
    size_t len, pos;
    char msg[256];           /* libpng's last error */
    png_structp png;
    png_infop info;
    uint8_t *pixels;         /* decoded rows */
    png_bytep *rows;
    size_t rowbytes;
    int spp, depth;          /* samples per pixel and bits per sample after transforms */
} png_io;

static void on_error(png_structp png, png_const_charp msg)
{
    png_io *io = png_get_error_ptr(png);
    snprintf(io->msg, sizeof io->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;   /* warnings (bad ancillary CRC, ...) do not stop a read */
}

static png_voidp on_malloc(png_structp png, png_alloc_size_t size)
{
    void *p = fc_malloc(size);
    bool *nomem = png_get_error_ptr(png);
    if (!p && nomem)
        *nomem = true;
    return p;
}

static void on_free(png_structp png, png_voidp ptr)
{
    (void)png;
    fc_free(ptr);
}

static void on_read(png_structp png, png_bytep dst, size_t n)
{
    png_io *io = png_get_io_ptr(png);
    if (n > io->len - io->pos)
        png_error(png, "file ends early (truncated?)");
    memcpy(dst, io->bytes + io->pos, n);
    io->pos += n;
}

/* Walks the chunk list before libpng sees it: every chunk must fit in the
 * file.  libpng trusts a chunk's declared length when it allocates the
 * chunk's buffer (the chunk_malloc_max limit is not applied to every
 * chunk), so a 70-byte file declaring a 2 GB tEXt chunk made it allocate
 * 2 GB and spend seconds before the read failed (found by fuzz_png).
 * Returns false with msg set; chunks after IEND are not looked at. */
static bool chunks_fit(const uint8_t *b, size_t len, char *msg, size_t size)
{
    size_t pos = 8;
    while (len - pos >= 8) {
        uint32_t n = (uint32_t)b[pos] << 24 | (uint32_t)b[pos + 1] << 16 |
                     (uint32_t)b[pos + 2] << 8 | b[pos + 3];
        const uint8_t *t = b + pos + 4;
        char type[16];
        bool alpha = true;
        for (int i = 0; i < 4; i++)
            alpha = alpha && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z'));
        if (alpha)
            snprintf(type, sizeof type, "%c%c%c%c", t[0], t[1], t[2], t[3]);
        else
            snprintf(type, sizeof type, "%02x%02x%02x%02x", t[0], t[1], t[2], t[3]);
        /* length, type, data, CRC */
        if (n > 0x7fffffffu || (uint64_t)n + 12 > len - pos) {
            snprintf(msg, size, "chunk %s at byte %zu declares %lu bytes, but the file has %zu "
                     "left (truncated or corrupt)", type, pos, (unsigned long)n, len - pos);
            return false;
        }
        pos += (size_t)n + 12;
        if (!memcmp(t, "IEND", 4))
            break;
    }
    return true;
}

/* Everything that can longjmp.  Returns 0 on success, 1 after a libpng
 * error (io->msg says which), 2 for a limit (io->msg too). */
static int decode(png_io *io, const fc_png_limits *lim, fc_png_info *pi)
{
    if (setjmp(png_jmpbuf(io->png)))
        return 1;
    png_set_read_fn(io->png, io, on_read);
    uint32_t max_dim = 0x7fffffffu;
    png_set_user_limits(io->png, max_dim, max_dim);
    png_set_chunk_malloc_max(io->png, CHUNK_MALLOC_MAX);
    png_set_chunk_cache_max(io->png, 1000);
    png_read_info(io->png, io->info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(io->png, io->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    pi->width = w;
    pi->height = h;
    pi->bit_depth = depth;
    pi->color_type = color;
    pi->interlaced = interlace != PNG_INTERLACE_NONE;
    pi->channels = (color & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    uint64_t pixels = (uint64_t)w * h;
    if (pixels > lim->max_pixels) {
        snprintf(io->msg, sizeof io->msg, "IHDR says %ux%u = %llu pixels, over the cap of %llu "
                 "(--max-pixels)", (unsigned)w, (unsigned)h, (unsigned long long)pixels,
                 (unsigned long long)lim->max_pixels);
        return 2;
    }
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(io->png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(io->png);
    if (png_get_valid(io->png, io->info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(io->png);
    if (depth == 16)
        png_set_swap(io->png);   /* native little-endian uint16 samples */
    png_set_interlace_handling(io->png);
    png_read_update_info(io->png, io->info);
    io->rowbytes = png_get_rowbytes(io->png, io->info);
    io->spp = png_get_channels(io->png, io->info);
    io->depth = png_get_bit_depth(io->png, io->info);
    size_t total;
    if (!fc_mul_size(io->rowbytes, h, &total) || total > lim->max_inflated) {
        snprintf(io->msg, sizeof io->msg, "%ux%u image decodes to more than %llu bytes (the "
                 "decompression cap)", (unsigned)w, (unsigned)h,
                 (unsigned long long)lim->max_inflated);
        return 2;
    }
    io->pixels = fc_malloc(total ? total : 1);
    io->rows = fc_malloc((h ? h : 1) * sizeof *io->rows);
    if (!io->pixels || !io->rows) {
        io->nomem = true;
        snprintf(io->msg, sizeof io->msg, "out of memory for %zu bytes of pixels", total);
        return 1;
    }
    for (png_uint_32 y = 0; y < h; y++)
        io->rows[y] = io->pixels + (size_t)y * io->rowbytes;
    png_read_image(io->png, io->rows);
    png_read_end(io->png, NULL);
    return 0;
}

/* Decoded samples -> float [C, H, W] with alpha composited on black. */
static void to_chw(const png_io *io, uint32_t w, uint32_t h, int want, float *out)
{
    const int spp = io->spp, colour = spp >= 3, alpha = spp == 2 || spp == 4;
    const float scale = io->depth == 16 ? 1.0f / 65535.0f : 1.0f / 255.0f;
    const size_t plane = (size_t)w * h;
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *row = io->rows[y];
        for (uint32_t x = 0; x < w; x++) {
            float s[4] = {0};
            for (int c = 0; c < spp; c++) {
                size_t i = (size_t)x * (size_t)spp + (size_t)c;
                unsigned v;
                if (io->depth == 16) {
                    uint16_t u;
                    memcpy(&u, row + 2 * i, 2);
                    v = u;
                } else {
                    v = row[i];
                }
                s[c] = (float)v * scale;
            }
            float a = alpha ? s[spp - 1] : 1.0f;
            float r = s[0] * a;
            float g = colour ? s[1] * a : r;
            float b = colour ? s[2] * a : r;
            size_t o = (size_t)y * w + x;
            if (want == 1) {
                out[o] = colour ? 0.299f * r + 0.587f * g + 0.114f * b : r;
            } else {
                out[o] = r;
                out[plane + o] = g;
                out[2 * plane + o] = b;
            }
        }
    }
}

fc_status fc_png_read_bytes(const uint8_t *bytes, size_t len, const char *label,
                            int want_channels, const fc_png_limits *limits, fc_tensor *out,
                            fc_png_info *info, fc_err *err)
{
    memset(out, 0, sizeof *out);
    if (!label)
        label = "<memory>";
    if (want_channels != 0 && want_channels != 1 && want_channels != 3)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: cannot convert to %d channels", label,
                          want_channels);
    if (!bytes || len == 0)
        return fc_err_set(err, FC_ERR_PARSE, "%s: empty file, not a PNG", label);
    if (len < 8 || png_sig_cmp(bytes, 0, 8) != 0)
        return fc_err_set(err, FC_ERR_PARSE, "%s: not a PNG (bad signature)", label);
    fc_png_limits lim = {FC_PNG_DEFAULT_MAX_PIXELS, FC_PNG_DEFAULT_MAX_INFLATED};
    if (limits && limits->max_pixels)
        lim.max_pixels = limits->max_pixels;
    if (limits && limits->max_inflated)
        lim.max_inflated = limits->max_inflated;
    char why[160];
    if (!chunks_fit(bytes, len, why, sizeof why))
        return fc_err_set(err, FC_ERR_PARSE, "%s: bad PNG: %s", label, why);
    png_io io = {.label = label, .bytes = bytes, .len = len};
    fc_png_info pi = {0};
    io.png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &io, on_error, on_warning, &io,
                                      on_malloc, on_free);
    if (io.png)
        io.info = png_create_info_struct(io.png);
    fc_status st = FC_OK;
    if (!io.png || !io.info) {
        st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory starting libpng", label);
    } else {
        int r = decode(&io, &lim, &pi);
        if (r == 2)
            st = fc_err_set(err, FC_ERR_LIMIT, "%s: %s", label, io.msg);
        else if (r == 1 && io.nomem)
            st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory decoding the PNG", label);
        else if (r == 1)
            st = fc_err_set(err, FC_ERR_PARSE, "%s: bad PNG: %s", label, io.msg);
    }
    if (!st) {
        int want = want_channels ? want_channels : pi.channels;
        int64_t dims[3] = {want, pi.height, pi.width};
        st = fc_tensor_alloc(out, FC_DT_F32, 3, dims, err);
        if (st)
            fc_err_prefix(err, "%s: ", label);
        else
            to_chw(&io, pi.width, pi.height, want, out->data);
    }
    png_destroy_read_struct(io.png ? &io.png : NULL, io.info ? &io.info : NULL, NULL);
    fc_free(io.pixels);
    fc_free(io.rows);
    if (!st && info)
        *info = pi;
    return st;
}

fc_status fc_png_read(const char *path, int want_channels, const fc_png_limits *limits,
                      fc_tensor *out, fc_png_info *info, fc_err *err)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t len;
    fc_status st = fc_file_read_all(path, FC_PNG_MAX_FILE_BYTES, "image", &buf, &len, err);
    if (st)
        return st;
    st = fc_png_read_bytes(buf, len, path, want_channels, limits, out, info, err);
    fc_free(buf);
    return st;
}

/* ---- writing ---- */

typedef struct png_sink {
    bool nomem;
    uint8_t *data;
    size_t len, cap;
    char msg[256];
    png_structp png;
    png_infop info;
} png_sink;

static void on_write(png_structp png, png_bytep src, size_t n)
{
    png_sink *s = png_get_io_ptr(png);
    if (n > s->cap - s->len) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap - s->len < n) {
            if (cap > SIZE_MAX / 2)
                png_error(png, "PNG too large");
            cap *= 2;
        }
        uint8_t *d = fc_realloc(s->data, cap);
        if (!d) {
            s->nomem = true;
            png_error(png, "out of memory");
        }
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, src, n);
    s->len += n;
}

static void on_flush(png_structp png)
{
    (void)png;
}

static void on_write_error(png_structp png, png_const_charp msg)
{
    png_sink *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static int encode(png_sink *s, const uint8_t *pixels, uint32_t w, uint32_t h, int channels)
{
    if (setjmp(png_jmpbuf(s->png)))
        return 1;
    png_set_write_fn(s->png, s, on_write, on_flush);
    png_set_IHDR(s->png, s->info, w, h, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(s->png, s->info);
    for (uint32_t y = 0; y < h; y++)
        png_write_row(s->png, pixels + (size_t)y * w * (size_t)channels);
    png_write_end(s->png, NULL);
    return 0;
}

fc_status fc_png_encode_u8(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                           uint8_t **out, size_t *out_len, fc_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (channels != 1 && channels != 3)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "PNG writer: %d channels (1 or 3 only)",
                          channels);
    if (width == 0 || height == 0 || width > 0x7fffffffu || height > 0x7fffffffu)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "PNG writer: bad size %ux%u", width, height);
    png_sink s = {0};
    s.png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, &s, on_write_error, on_warning, &s,
                                      on_malloc, on_free);
    if (s.png)
        s.info = png_create_info_struct(s.png);
    fc_status st = FC_OK;
    if (!s.png || !s.info)
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory starting libpng");
    else if (encode(&s, pixels, width, height, channels))
        st = fc_err_set(err, s.nomem ? FC_ERR_NOMEM : FC_ERR_INTERNAL, "PNG writer: %s", s.msg);
    png_destroy_write_struct(s.png ? &s.png : NULL, s.info ? &s.info : NULL);
    if (st) {
        fc_free(s.data);
        return st;
    }
    *out = s.data;
    *out_len = s.len;
    return FC_OK;
}

fc_status fc_png_write_u8(const char *path, const uint8_t *pixels, uint32_t width,
                          uint32_t height, int channels, fc_err *err)
{
    uint8_t *data;
    size_t len;
    fc_status st = fc_png_encode_u8(pixels, width, height, channels, &data, &len, err);
    if (st) {
        fc_err_prefix(err, "%s: ", path);
        return st;
    }
    st = fc_file_write_all(path, data, len, err);
    fc_free(data);
    return st;
}

fc_status fc_png_write_chw(const char *path, const float *chw, int channels, uint32_t height,
                           uint32_t width, fc_err *err)
{
    size_t plane = (size_t)width * height, n;
    if (channels < 1 || !fc_mul_size(plane, (size_t)channels, &n))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: bad image size", path);
    uint8_t *px = fc_malloc(n ? n : 1);
    if (!px)
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < channels; c++) {
            float v = chw[(size_t)c * plane + i];
            v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;   /* NaN -> 0 */
            px[i * (size_t)channels + (size_t)c] = (uint8_t)lrintf(v * 255.0f);
        }
    fc_status st = fc_png_write_u8(path, px, width, height, channels, err);
    fc_free(px);
    return st;
}
