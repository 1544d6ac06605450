/* PNG reading and writing: every colour type and depth libpng can write is
 * made here with libpng itself and must decode to the documented values;
 * round trips of what flipcheck writes are exact; caps hold at and one past
 * their value. */
#include <check.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fc_alloc.h"
#include "io/fc_png.h"

/* A growing memory buffer libpng writes into. */
typedef struct membuf {
    uint8_t *data;
    size_t len, cap;
} membuf;

static void mem_write(png_structp png, png_bytep src, size_t n)
{
    membuf *m = png_get_io_ptr(png);
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2;
        m->data = realloc(m->data, m->cap);
    }
    memcpy(m->data + m->len, src, n);
    m->len += n;
}

static void mem_flush(png_structp png)
{
    (void)png;
}

typedef struct spec {
    int w, h, depth, color, interlace;
    const png_color *palette;
    int n_palette;
    const png_byte *trns;
    int n_trns;
} spec;

/* Sample s of pixel (x, y), channel c: a pattern that covers the range. */
static unsigned sample(const spec *s, int x, int y, int c)
{
    unsigned max = (1u << s->depth) - 1;
    if (s->color == PNG_COLOR_TYPE_PALETTE)
        max = (unsigned)s->n_palette - 1;
    return (unsigned)(x * 7 + y * 13 + c * 29 + x * y) % (max + 1);
}

static int channels_of(int color)
{
    switch (color) {
    case PNG_COLOR_TYPE_GRAY: case PNG_COLOR_TYPE_PALETTE: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    default: return 4;
    }
}

/* Packs the pattern into rows of the given depth and writes a PNG. */
static membuf make_png(const spec *s)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(!setjmp(png_jmpbuf(png)));
    png_set_write_fn(png, &m, mem_write, mem_flush);
    png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth, s->color,
                 s->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->palette)
        png_set_PLTE(png, info, s->palette, s->n_palette);
    if (s->trns)
        png_set_tRNS(png, info, s->trns, s->n_trns, NULL);
    png_write_info(png, info);
    int ch = channels_of(s->color);
    size_t rowbytes = ((size_t)s->w * (size_t)ch * (size_t)s->depth + 7) / 8;
    png_bytep *rows = calloc((size_t)s->h, sizeof *rows);
    for (int y = 0; y < s->h; y++) {
        rows[y] = calloc(rowbytes, 1);
        for (int x = 0; x < s->w; x++)
            for (int c = 0; c < ch; c++) {
                unsigned v = sample(s, x, y, c);
                size_t bit = ((size_t)x * (size_t)ch + (size_t)c) * (size_t)s->depth;
                if (s->depth == 16) {
                    rows[y][bit / 8] = (png_byte)(v >> 8);   /* PNG is big-endian */
                    rows[y][bit / 8 + 1] = (png_byte)v;
                } else {
                    rows[y][bit / 8] |= (png_byte)(v << (8 - s->depth - bit % 8));
                }
            }
    }
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    for (int y = 0; y < s->h; y++)
        free(rows[y]);
    free(rows);
    return m;
}

/* The documented value of pixel (x, y) as [r, g, b] in [0,1] after alpha is
 * composited on black. */
static void expected_rgb(const spec *s, int x, int y, double rgb[3])
{
    double max = (double)((1u << s->depth) - 1);
    if (s->color == PNG_COLOR_TYPE_PALETTE) {
        unsigned i = sample(s, x, y, 0);
        double a = s->trns && (int)i < s->n_trns ? s->trns[i] / 255.0 : 1.0;
        rgb[0] = s->palette[i].red / 255.0 * a;
        rgb[1] = s->palette[i].green / 255.0 * a;
        rgb[2] = s->palette[i].blue / 255.0 * a;
        return;
    }
    int ch = channels_of(s->color);
    bool colour = s->color & PNG_COLOR_MASK_COLOR, alpha = s->color & PNG_COLOR_MASK_ALPHA;
    double a = alpha ? sample(s, x, y, ch - 1) / max : 1.0;
    for (int c = 0; c < 3; c++)
        rgb[c] = sample(s, x, y, colour ? c : 0) / max * a;
}

static void check_decode(const spec *s, int want)
{
    membuf m = make_png(s);
    fc_tensor t;
    fc_png_info info;
    fc_err err = {0};
    ck_assert_msg(fc_png_read_bytes(m.data, m.len, "gen.png", want, NULL, &t, &info, &err) ==
                      FC_OK, "color %d depth %d: %s", s->color, s->depth, err.msg);
    ck_assert_int_eq(t.dims[0], want);
    ck_assert_int_eq(t.dims[1], s->h);
    ck_assert_int_eq(t.dims[2], s->w);
    ck_assert_int_eq(info.bit_depth, s->depth);
    const float *d = t.data;
    size_t plane = (size_t)s->w * (size_t)s->h;
    for (int y = 0; y < s->h; y++)
        for (int x = 0; x < s->w; x++) {
            double rgb[3];
            expected_rgb(s, x, y, rgb);
            size_t o = (size_t)y * (size_t)s->w + (size_t)x;
            bool colour = s->color == PNG_COLOR_TYPE_PALETTE || (s->color & PNG_COLOR_MASK_COLOR);
            if (want == 1) {
                double g = colour ? 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] : rgb[0];
                ck_assert_msg(fabs(d[o] - g) < 2e-6, "color %d depth %d at %d,%d: %g vs %g",
                              s->color, s->depth, x, y, d[o], g);
            } else {
                for (int c = 0; c < 3; c++)
                    ck_assert_msg(fabs(d[c * plane + o] - rgb[c]) < 2e-6,
                                  "color %d depth %d at %d,%d ch %d: %g vs %g", s->color,
                                  s->depth, x, y, c, d[c * plane + o], rgb[c]);
            }
        }
    fc_tensor_release(&t);
    free(m.data);
}

START_TEST(gray_every_depth)
{
    for (int depth = 1; depth <= 16; depth *= 2) {
        spec s = {.w = 11, .h = 7, .depth = depth, .color = PNG_COLOR_TYPE_GRAY};
        check_decode(&s, 1);
        check_decode(&s, 3);   /* gray -> RGB replicates */
    }
}
END_TEST

START_TEST(colour_types_with_alpha)
{
    static const int colors[] = {PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                 PNG_COLOR_TYPE_RGB_ALPHA};
    for (int i = 0; i < 3; i++)
        for (int depth = 8; depth <= 16; depth += 8) {
            spec s = {.w = 9, .h = 5, .depth = depth, .color = colors[i]};
            check_decode(&s, 1);   /* BT.601 for colour, alpha composited on black */
            check_decode(&s, 3);
        }
}
END_TEST

START_TEST(palette_every_depth_with_trns)
{
    png_color pal[256];
    png_byte trns[256];
    for (int i = 0; i < 256; i++) {
        pal[i] = (png_color){(png_byte)i, (png_byte)(255 - i), (png_byte)(i * 3)};
        trns[i] = (png_byte)(255 - i / 2);
    }
    for (int depth = 1; depth <= 8; depth *= 2) {
        spec s = {.w = 13, .h = 6, .depth = depth, .color = PNG_COLOR_TYPE_PALETTE,
                  .palette = pal, .n_palette = 1 << depth};
        check_decode(&s, 3);
        check_decode(&s, 1);
        s.trns = trns;
        s.n_trns = (1 << depth) / 2;   /* entries past n_trns are opaque */
        check_decode(&s, 3);
    }
}
END_TEST

START_TEST(interlaced)
{
    spec s = {.w = 17, .h = 10, .depth = 8, .color = PNG_COLOR_TYPE_RGB,
              .interlace = PNG_INTERLACE_ADAM7};
    check_decode(&s, 3);
    s.color = PNG_COLOR_TYPE_GRAY;
    s.depth = 2;
    check_decode(&s, 1);
}
END_TEST

START_TEST(round_trip_gray_and_rgb)
{
    char dir[] = "/tmp/fc_pngXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/x.png", dir);
    for (int ch = 1; ch <= 3; ch += 2) {
        uint32_t w = 31, h = 9;
        uint8_t px[31 * 9 * 3];
        for (size_t i = 0; i < sizeof px; i++)
            px[i] = (uint8_t)(i * 37 + 11);
        fc_err err = {0};
        ck_assert_int_eq(fc_png_write_u8(path, px, w, h, ch, &err), FC_OK);
        fc_tensor t;
        fc_png_info info;
        ck_assert_int_eq(fc_png_read(path, 0, NULL, &t, &info, &err), FC_OK);
        ck_assert_int_eq(info.channels, ch);
        ck_assert_int_eq(info.bit_depth, 8);
        const float *d = t.data;
        for (uint32_t i = 0; i < w * h; i++)
            for (int c = 0; c < ch; c++)
                ck_assert_int_eq((int)lrintf(d[(size_t)c * w * h + i] * 255.0f),
                                 px[i * (uint32_t)ch + (uint32_t)c]);
        /* and back through the float writer: exact again */
        ck_assert_int_eq(fc_png_write_chw(path, d, ch, h, w, &err), FC_OK);
        fc_tensor t2;
        ck_assert_int_eq(fc_png_read(path, 0, NULL, &t2, NULL, &err), FC_OK);
        ck_assert_int_eq(memcmp(t.data, t2.data, fc_tensor_bytes(&t)), 0);
        fc_tensor_release(&t);
        fc_tensor_release(&t2);
    }
    remove(path);
    rmdir(dir);
}
END_TEST

START_TEST(pixel_cap_at_and_past)
{
    spec s = {.w = 100, .h = 100, .depth = 8, .color = PNG_COLOR_TYPE_GRAY};
    membuf m = make_png(&s);
    fc_tensor t;
    fc_err err = {0};
    fc_png_limits at = {.max_pixels = 10000}, past = {.max_pixels = 9999};
    ck_assert_int_eq(fc_png_read_bytes(m.data, m.len, "cap.png", 1, &at, &t, NULL, &err), FC_OK);
    fc_tensor_release(&t);
    ck_assert_int_eq(fc_png_read_bytes(m.data, m.len, "cap.png", 1, &past, &t, NULL, &err),
                     FC_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.msg, "cap.png"));
    ck_assert_ptr_nonnull(strstr(err.msg, "pixels"));
    free(m.data);
}
END_TEST

/* A 2048x2048 RGBA16 image is a 32 MB decode from a much smaller file. */
START_TEST(inflate_cap_stops_a_bomb)
{
    spec s = {.w = 2048, .h = 2048, .depth = 16, .color = PNG_COLOR_TYPE_RGB_ALPHA};
    membuf m = make_png(&s);
    size_t decoded = 2048u * 2048u * 8u;
    ck_assert_uint_lt(m.len, decoded / 4);
    fc_tensor t;
    fc_err err = {0};
    fc_png_limits at = {.max_inflated = decoded}, past = {.max_inflated = decoded - 1};
    ck_assert_int_eq(fc_png_read_bytes(m.data, m.len, "bomb.png", 3, &past, &t, NULL, &err),
                     FC_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.msg, "decompression cap"));
    ck_assert_int_eq(fc_png_read_bytes(m.data, m.len, "bomb.png", 3, &at, &t, NULL, &err), FC_OK);
    fc_tensor_release(&t);
    free(m.data);
}
END_TEST

START_TEST(allocation_failures_are_named)
{
    spec s = {.w = 8, .h = 8, .depth = 8, .color = PNG_COLOR_TYPE_RGB_ALPHA};
    membuf m = make_png(&s);
    fc_tensor t;
    fc_err err = {0};
    unsigned long before = fc_alloc_count();
    ck_assert_int_eq(fc_png_read_bytes(m.data, m.len, "a.png", 3, NULL, &t, NULL, &err), FC_OK);
    fc_tensor_release(&t);
    long total = (long)(fc_alloc_count() - before);
    for (long k = 0; k < total; k++) {
        fc_alloc_fail_after(k);
        fc_status st = fc_png_read_bytes(m.data, m.len, "a.png", 3, NULL, &t, NULL, &err);
        fc_alloc_fail_reset();
        ck_assert_msg(st == FC_ERR_NOMEM, "k=%ld: %d %s", k, st, err.msg);
    }
    free(m.data);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("png");
    TCase *tc = tcase_create("png");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gray_every_depth);
    tcase_add_test(tc, colour_types_with_alpha);
    tcase_add_test(tc, palette_every_depth_with_trns);
    tcase_add_test(tc, interlaced);
    tcase_add_test(tc, round_trip_gray_and_rgb);
    tcase_add_test(tc, pixel_cap_at_and_past);
    tcase_add_test(tc, inflate_cap_stops_a_bomb);
    tcase_add_test(tc, allocation_failures_are_named);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
