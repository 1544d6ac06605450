/* Thumbnails of the most-flipped examples as PNG data URIs: the clean
 * image, the adversarial one, the perturbation magnified (a diverging
 * blue-white-red map scaled to its own largest |delta|, since eps is a few
 * hundredths and would be invisible as is) and the input-gradient saliency
 * as a heat map (black, purple, red, orange, yellow).
 *
 * The .npy path comes from results.json, so it must stay inside the
 * results folder: absolute paths and ".." components are refused. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fc_alloc.h"
#include "core/fc_npy.h"
#include "core/fc_tensor.h"
#include "io/fc_png.h"
#include "report_internal.h"

#define RP_MAX_SIDE 512

static uint8_t to_u8(double v)
{
    if (!(v > 0))
        return 0;
    if (v >= 1)
        return 255;
    return (uint8_t)lround(v * 255);
}

static bool path_is_inside(const char *rel)
{
    if (!rel[0] || rel[0] == '/')
        return false;
    for (const char *p = rel; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n + (e ? 1 : 0);
    }
    return true;
}

static void heat(double t, uint8_t rgb[3])
{
    static const double stops[5][3] = {
        {0, 0, 4}, {87, 16, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
    if (!(t > 0))
        t = 0;
    if (t > 1)
        t = 1;
    double f = t * 4;
    int i = (int)f;
    if (i > 3)
        i = 3;
    f -= i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (uint8_t)lround(stops[i][c] + (stops[i + 1][c] - stops[i][c]) * f);
}

static void diverging(double t, uint8_t rgb[3])
{
    if (!isfinite(t))
        t = 0;
    t = fmax(-1, fmin(1, t));
    uint8_t fade = (uint8_t)lround(255 * (1 - fabs(t)));
    rgb[0] = t < 0 ? fade : 255;
    rgb[1] = fade;
    rgb[2] = t > 0 ? fade : 255;
}

static fc_status put_png(rp_buf *b, const uint8_t *px, uint32_t w, uint32_t h, int ch,
                         const char *alt, fc_err *err)
{
    uint8_t *png = NULL;
    size_t n = 0;
    fc_status st = fc_png_encode_u8(px, w, h, ch, &png, &n, err);
    if (st)
        return st;
    /* small images are shown enlarged (pixelated by the page's CSS) */
    uint32_t side = w > h ? w : h, k = side < 84 ? 84 / side : 1;
    rp_printf(b, "<img class=\"thumb\" width=\"%u\" height=\"%u\" alt=\"%s\" title=\"%s\" "
                 "src=\"data:image/png;base64,", w * k, h * k, alt, alt);
    rp_base64(b, png, n);
    rp_put(b, "\">");
    fc_free(png);
    return FC_OK;
}

fc_status rp_example_images(rp_buf *b, const char *dir, const char *rel, fc_err *err)
{
    if (!path_is_inside(rel))
        return fc_err_set(err, FC_ERR_SECURITY,
                          "example file '%s': must be relative to the results folder, without ..",
                          rel);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
        return fc_err_set(err, FC_ERR_LIMIT, "example file '%s': path too long", rel);
    fc_tensor t = {0};
    fc_status st = fc_npy_read(path, &t, err);
    if (st)
        return st;
    if (t.dtype != FC_DT_F32 || t.rank != 4 || t.dims[0] != 3 || (t.dims[1] != 1 && t.dims[1] != 3) ||
        t.dims[2] < 1 || t.dims[2] > RP_MAX_SIDE || t.dims[3] < 1 || t.dims[3] > RP_MAX_SIDE) {
        char d[96];
        fc_dims_str(t.rank, t.dims, d, sizeof d);
        fc_tensor_release(&t);
        return fc_err_set(err, FC_ERR_SHAPE,
                          "%s: expected float32 [3, C (1 or 3), H, W (<= %d)], got %s", path,
                          RP_MAX_SIDE, d);
    }
    int C = (int)t.dims[1];
    uint32_t Hh = (uint32_t)t.dims[2], Ww = (uint32_t)t.dims[3];
    size_t plane = (size_t)Hh * Ww, img = plane * (size_t)C;
    const float *clean = t.data, *adv = clean + img, *sal = adv + img;
    uint8_t *px = fc_malloc(plane * 3);
    if (!px) {
        fc_tensor_release(&t);
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory drawing %s", path);
    }
    /* clean and adversarial, in the model's own channels */
    for (int k = 0; k < 2 && !st; k++) {
        const float *src = k ? adv : clean;
        for (size_t i = 0; i < plane; i++)
            for (int c = 0; c < C; c++)
                px[i * (size_t)C + (size_t)c] = to_u8(src[(size_t)c * plane + i]);
        st = put_png(b, px, Ww, Hh, C, k ? "adversarial" : "clean", err);
    }
    /* perturbation: channel mean of adv - clean, scaled to its max |delta| */
    double m = 0;
    for (size_t i = 0; i < img; i++) {
        double d = (double)adv[i] - clean[i];
        if (isfinite(d))
            m = fmax(m, fabs(d));
    }
    for (size_t i = 0; i < plane && !st; i++) {
        double d = 0;
        for (int c = 0; c < C; c++)
            d += (double)adv[(size_t)c * plane + i] - clean[(size_t)c * plane + i];
        diverging(m > 0 ? d / C / m : 0, px + 3 * i);
    }
    if (!st) {
        char alt[64];
        snprintf(alt, sizeof alt, "perturbation (max |delta| %.3g, magnified)", m);
        st = put_png(b, px, Ww, Hh, 3, alt, err);
    }
    for (size_t i = 0; i < plane && !st; i++) {
        double s = 0;
        for (int c = 0; c < C; c++)
            s = fmax(s, (double)sal[(size_t)c * plane + i]);
        heat(s, px + 3 * i);
    }
    if (!st)
        st = put_png(b, px, Ww, Hh, 3, "saliency |input gradient|", err);
    fc_free(px);
    fc_tensor_release(&t);
    return st;
}
