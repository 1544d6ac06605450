/* Garbage PNG files.  Built chunk by chunk with zlib here (not libpng), so
 * every field can be set to what a PNG writer would never produce, with or
 * without a correct CRC. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/fc_alloc.h"
#include "fc_gen.h"

static const uint8_t SIGNATURE[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

typedef struct buf {
    uint8_t *d;
    size_t len, cap;
    bool failed;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->failed)
        return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *d = fc_realloc(b->d, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, src, n);
    b->len += n;
}

static void put_u32(buf *b, uint32_t v)
{
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, be, 4);
}

/* A chunk; crc_xor != 0 corrupts its CRC. */
static void chunk(buf *b, const char type[4], const uint8_t *data, uint32_t len, uint32_t crc_xor)
{
    put_u32(b, len);
    put(b, type, 4);
    if (len)
        put(b, data, len);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (len)
        crc = crc32(crc, data, len);
    put_u32(b, (uint32_t)crc ^ crc_xor);
}

static void ihdr(buf *b, uint32_t w, uint32_t h, uint8_t depth, uint8_t color, uint32_t crc_xor)
{
    uint8_t d[13] = {(uint8_t)(w >> 24), (uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w,
                     (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h,
                     depth, color, 0, 0, 0};
    chunk(b, "IHDR", d, 13, crc_xor);
}

/* zlib stream of h rows of `rowbytes` bytes, filter 0, a gentle pattern
 * (or zeros when `zeros`). */
static bool idat_stream(uint32_t rowbytes, uint32_t h, bool zeros, buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* Run-length matching finds the same few-hundred-kilobyte stream for
     * zeros as level 9's full search, an order of magnitude faster on the
     * 256 MiB bomb. */
    if (deflateInit2(&z, 9, Z_DEFLATED, 15, 9, zeros ? Z_RLE : Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    uint8_t *row = fc_calloc((size_t)rowbytes + 1, 1);
    uint8_t chunk_out[16384];
    bool ok = row != NULL;
    for (uint32_t y = 0; ok && y <= h; y++) {
        if (!zeros && y < h)
            for (uint32_t x = 0; x < rowbytes; x++)
                row[1 + x] = (uint8_t)((x * 5 + y * 3) & 0xff);
        z.next_in = row;
        z.avail_in = y < h ? rowbytes + 1 : 0;
        int flush = y < h ? Z_NO_FLUSH : Z_FINISH;
        do {
            z.next_out = chunk_out;
            z.avail_out = sizeof chunk_out;
            int r = deflate(&z, flush);
            if (r == Z_STREAM_ERROR) {
                ok = false;
                break;
            }
            put(out, chunk_out, sizeof chunk_out - z.avail_out);
        } while (z.avail_out == 0);
    }
    deflateEnd(&z);
    fc_free(row);
    return ok && !out->failed;
}

typedef struct gen {
    fc_gen_files *out;
    fc_err *err;
    fc_status st;
} gen;

static void emit(gen *g, const char *name, const char *what, const uint8_t *bytes, size_t len)
{
    if (g->st)
        return;
    fc_gen_file *f = fc_realloc(g->out->files, (size_t)(g->out->n + 1) * sizeof *f);
    if (!f) {
        g->st = fc_err_set(g->err, FC_ERR_NOMEM, "out of memory generating PNG cases");
        return;
    }
    g->out->files = f;
    fc_gen_file *k = &f[g->out->n];
    memset(k, 0, sizeof *k);
    k->bytes = fc_malloc(len ? len : 1);
    if (!k->bytes) {
        g->st = fc_err_set(g->err, FC_ERR_NOMEM, "out of memory generating PNG cases");
        return;
    }
    if (len)
        memcpy(k->bytes, bytes, len);
    k->len = len;
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->what, sizeof k->what, "%s", what);
    g->out->n++;
}

static void emit_buf(gen *g, const char *name, const char *what, buf *b)
{
    if (b->failed && !g->st)
        g->st = fc_err_set(g->err, FC_ERR_NOMEM, "out of memory generating PNG cases");
    emit(g, name, what, b->d, b->len);
    fc_free(b->d);
    memset(b, 0, sizeof *b);
}

/* A whole PNG with the given header fields and an IDAT for (w, h). */
static void whole(buf *b, uint32_t w, uint32_t h, uint8_t depth, uint8_t color,
                  const buf *idat, bool plte, bool iend)
{
    put(b, SIGNATURE, 8);
    ihdr(b, w, h, depth, color, 0);
    if (plte) {
        uint8_t pal[3 * 4] = {0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255};
        chunk(b, "PLTE", pal, sizeof pal, 0);
    }
    chunk(b, "IDAT", idat->d, (uint32_t)idat->len, 0);
    if (iend)
        chunk(b, "IEND", NULL, 0, 0);
}

fc_status fc_gen_pngs(uint32_t w, uint32_t h, int channels, uint64_t seed, uint64_t max_pixels,
                      fc_gen_files *out, fc_err *err)
{
    memset(out, 0, sizeof *out);
    if (w == 0 || h == 0 || w > 65535 || h > 65535 || (channels != 1 && channels != 3))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "PNG cases need a 1..65535 size and 1 or 3 "
                          "channels");
    gen g = {out, err, FC_OK};
    uint8_t color = channels == 1 ? 0 : 2;
    uint32_t rowbytes = w * (uint32_t)channels;
    buf idat = {0}, b = {0};
    if (!idat_stream(rowbytes, h, false, &idat)) {
        fc_free(idat.d);
        return fc_err_set(err, FC_ERR_NOMEM, "zlib failed generating PNG cases");
    }
    /* The valid file every other case is cut from. */
    buf valid = {0};
    whole(&valid, w, h, 8, color, &idat, false, true);
    if (valid.failed) {
        fc_free(idat.d);
        fc_free(valid.d);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory generating PNG cases");
    }
    /* Chunk boundaries: after the signature, after IHDR, inside and after
     * IDAT, before and inside IEND. */
    size_t ihdr_end = 8 + 25, idat_end = ihdr_end + 12 + idat.len;
    const struct { const char *name; size_t at; } cuts[] = {
        {"truncated_signature", 4}, {"truncated_after_signature", 8},
        {"truncated_in_ihdr", 8 + 12}, {"truncated_after_ihdr", ihdr_end},
        {"truncated_idat_header", ihdr_end + 4}, {"truncated_in_idat", ihdr_end + 8 + idat.len / 2},
        {"truncated_before_idat_crc", idat_end - 4}, {"truncated_after_idat", idat_end},
        {"truncated_in_iend", idat_end + 6},
    };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[160];
        snprintf(what, sizeof what, "a valid %ux%u PNG cut at byte %zu", w, h, cuts[i].at);
        emit(&g, cuts[i].name, what, valid.d, cuts[i].at);
    }
    uint64_t rng = seed;
    for (int i = 0; i < 8; i++) {
        size_t at = 1 + (size_t)(fc_rng_next(&rng) % (valid.len - 1));
        char name[64], what[160];
        snprintf(name, sizeof name, "truncated_random_%d", i);
        snprintf(what, sizeof what, "cut at byte %zu of %zu (seeded)", at, valid.len);
        emit(&g, name, what, valid.d, at);
    }
    put(&b, SIGNATURE, 8);
    ihdr(&b, w, h, 8, color, 0x1);
    chunk(&b, "IDAT", idat.d, (uint32_t)idat.len, 0);
    chunk(&b, "IEND", NULL, 0, 0);
    emit_buf(&g, "bad_crc_ihdr", "IHDR's CRC is wrong", &b);
    put(&b, SIGNATURE, 8);
    ihdr(&b, w, h, 8, color, 0);
    chunk(&b, "IDAT", idat.d, (uint32_t)idat.len, 0x80000000u);
    chunk(&b, "IEND", NULL, 0, 0);
    emit_buf(&g, "bad_crc_idat", "IDAT's CRC is wrong", &b);
    const struct { const char *name, *what; uint32_t w, h; } sizes[] = {
        {"ihdr_width_0", "IHDR width 0", 0, h},
        {"ihdr_height_0", "IHDR height 0", w, 0},
        {"ihdr_width_2p31m1", "IHDR width 2^31-1", 0x7fffffffu, h},
        {"ihdr_height_2p31m1", "IHDR height 2^31-1", w, 0x7fffffffu},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        whole(&b, sizes[i].w, sizes[i].h, 8, color, &idat, false, true);
        emit_buf(&g, sizes[i].name, sizes[i].what, &b);
    }
    /* Just over the pixel cap, with a square-ish shape. */
    uint32_t side = 1;
    while ((uint64_t)side * side <= max_pixels && side < 0x7fffffffu / 2)
        side *= 2;
    whole(&b, side, side, 8, color, &idat, false, true);
    char what[160];
    snprintf(what, sizeof what, "IHDR %ux%u, over the pixel cap of %llu", side, side,
             (unsigned long long)max_pixels);
    emit_buf(&g, "over_pixel_cap", what, &b);
    const struct { const char *name, *what; uint8_t depth, color; } pairs[] = {
        {"bad_depth_rgb_4", "RGB with bit depth 4", 4, 2},
        {"bad_depth_palette_16", "palette with bit depth 16", 16, 3},
        {"bad_depth_gray_3", "gray with bit depth 3", 3, 0},
        {"bad_color_type_5", "colour type 5 (undefined)", 8, 5},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        whole(&b, w, h, pairs[i].depth, pairs[i].color, &idat, false, true);
        emit_buf(&g, pairs[i].name, pairs[i].what, &b);
    }
    whole(&b, w, h, 8, 3, &idat, false, true);
    emit_buf(&g, "palette_without_plte", "colour type 3 and no PLTE chunk", &b);
    whole(&b, w, h, 8, color, &idat, false, false);
    emit_buf(&g, "missing_iend", "no IEND chunk at the end", &b);
    put(&b, SIGNATURE, 8);
    ihdr(&b, w, h, 8, color, 0);
    chunk(&b, "XYZW", (const uint8_t *)"data", 4, 0);
    chunk(&b, "IDAT", idat.d, (uint32_t)idat.len, 0);
    chunk(&b, "IEND", NULL, 0, 0);
    emit_buf(&g, "unknown_critical_chunk", "a critical chunk 'XYZW' no decoder knows", &b);
    /* The bomb: 16384 x 16384 gray (2^28 pixels, 256 MiB of rows) from a
     * stream of zeros that deflates to a few hundred kilobytes. */
    buf bomb_idat = {0};
    if (!g.st && idat_stream(16384, 16384, true, &bomb_idat)) {
        whole(&b, 16384, 16384, 8, 0, &bomb_idat, false, true);
        snprintf(what, sizeof what, "16384x16384 of zeros in %zu compressed bytes",
                 bomb_idat.len);
        emit_buf(&g, "decompression_bomb", what, &b);
    } else if (!g.st) {
        g.st = fc_err_set(err, FC_ERR_NOMEM, "zlib failed generating the bomb case");
    }
    fc_free(bomb_idat.d);
    uint8_t noise[1024];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)fc_rng_next(&rng);
    emit(&g, "random_bytes", "1024 seeded random bytes", noise, sizeof noise);
    memcpy(noise, SIGNATURE, 8);
    emit(&g, "signature_then_random", "a PNG signature followed by random bytes", noise,
         sizeof noise);
    emit(&g, "empty_file", "zero bytes", NULL, 0);
    fc_free(idat.d);
    fc_free(valid.d);
    fc_free(b.d);
    if (g.st)
        fc_gen_files_free(out);
    return g.st;
}

void fc_gen_files_free(fc_gen_files *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++)
        fc_free(f->files[i].bytes);
    fc_free(f->files);
    f->files = NULL;
    f->n = 0;
}
