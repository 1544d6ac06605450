/* Chart primitives drawn as inline SVG: line chart, histogram, horizontal
 * bars, state matrix.  Our own code, no script: the page must work offline
 * and print.  Every label that may come from a results file goes through
 * rp_text; coordinates are printed with %.1f of values we computed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report_internal.h"

#define W 560.0
#define H 300.0
#define ML 58.0   /* left margin: y tick labels */
#define MR 16.0
#define MT 34.0   /* top: title */
#define MB 64.0   /* bottom: x ticks, x label, legend */

const char *rp_color(int k)
{
    static const char *const pal[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    if (k < 0)
        k = -k;
    return pal[k % (int)(sizeof pal / sizeof pal[0])];
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about n ticks. */
static double nice_step(double span, int n)
{
    if (!(span > 0) || !isfinite(span))
        return 1;
    double raw = span / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* Writes the finished chart: the opening tag (with how many data marks
 * the body holds), the title, the body; frees the body. */
static void emit_svg(rp_buf *b, rp_buf *body, const char *id, const char *title, double w,
                     double h, int marks)
{
    rp_printf(b, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
                 "width=\"%.0f\" height=\"%.0f\" role=\"img\" data-points=\"%d\" data-chart=\"",
              w, h, w, h, marks);
    rp_text(b, id);
    rp_put(b, "\" aria-label=\"");
    rp_text(b, title);
    rp_put(b, "\"><text class=\"ct\" x=\"8\" y=\"20\">");
    rp_text(b, title);
    rp_put(b, "</text>");
    if (body->failed)
        b->failed = true;
    else if (body->len)
        rp_putn(b, body->data, body->len);
    rp_put(b, "</svg>\n");
    rp_free(body);
}

static void axis_text(rp_buf *b, double x, double y, const char *anchor, const char *cls,
                      const char *text)
{
    rp_printf(b, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", cls, x, y, anchor);
    rp_text(b, text);
    rp_put(b, "</text>");
}

/* Grid lines and tick labels for [lo, hi] on y (and x when horizontal). */
static void y_axis(rp_buf *b, double lo, double hi, double top, double bottom, double left,
                   double right)
{
    double step = nice_step(hi - lo, 5);
    for (double v = ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
        double y = bottom - (v - lo) / (hi - lo) * (bottom - top);
        char t[32];
        snprintf(t, sizeof t, "%g", fabs(v) < step * 1e-9 ? 0.0 : v);
        rp_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                  left, y, right, y);
        axis_text(b, left - 6, y + 4, "end", "tick", t);
    }
}

static void x_axis(rp_buf *b, double lo, double hi, double left, double right, double bottom)
{
    double step = nice_step(hi - lo, 6);
    for (double v = ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
        double x = left + (v - lo) / (hi - lo) * (right - left);
        char t[32];
        snprintf(t, sizeof t, "%g", fabs(v) < step * 1e-9 ? 0.0 : v);
        rp_printf(b, "<line class=\"tk\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x,
                  bottom, x, bottom + 4);
        axis_text(b, x, bottom + 16, "middle", "tick", t);
    }
}

static void frame(rp_buf *b, double left, double top, double right, double bottom)
{
    rp_printf(b, "<path class=\"axis\" d=\"M%.1f %.1fV%.1fH%.1f\"/>", left, top, bottom, right);
}

/* Legend entries one per line from y down (14 px each). */
static void legend(rp_buf *b, const char *const *names, const char *const *colors, int n, double y,
                   const bool *dashed)
{
    for (int i = 0; i < n; i++, y += 14) {
        if (dashed && dashed[i])
            rp_printf(b, "<line class=\"lg\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                         "stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>", ML, y - 4,
                      ML + 18, y - 4, colors[i]);
        else
            rp_printf(b, "<rect class=\"lg\" x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"8\" "
                         "fill=\"%s\"/>", ML, y - 8, colors[i]);
        axis_text(b, ML + 22, y, "start", "lgt", names[i]);
    }
}

/* Extra height for a legend of n lines (the first fits in H). */
static double legend_extra(int n)
{
    return n > 1 ? 14.0 * (n - 1) : 0;
}

void rp_svg_lines(rp_buf *b, const char *id, const char *title, const char *xlabel,
                  const char *ylabel, const rp_series *s, int ns, double ymin, double ymax)
{
    rp_buf out;
    rp_init(&out);
    rp_buf *const dst = b;
    b = &out;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i]))
                continue;
            x0 = fmin(x0, s[k].x[i]), x1 = fmax(x1, s[k].x[i]);
            y0 = fmin(y0, s[k].y[i]), y1 = fmax(y1, s[k].y[i]);
        }
    if (ymin < ymax)
        y0 = ymin, y1 = ymax;
    if (!(x0 <= x1))
        x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    if (x1 - x0 < 1e-12)
        x0 -= 0.5, x1 += 0.5;
    if (y1 - y0 < 1e-12)
        y0 -= 0.5, y1 += 0.5;
    double L = ML, R = W - MR, T = MT, B = H - MB;
    y_axis(b, y0, y1, T, B, L, R);
    x_axis(b, x0, x1, L, R, B);
    frame(b, L, T, R, B);
    axis_text(b, (L + R) / 2, B + 32, "middle", "al", xlabel);
    rp_printf(b, "<text class=\"al\" transform=\"translate(14 %.1f) rotate(-90)\" "
                 "text-anchor=\"middle\">", (T + B) / 2);
    rp_text(b, ylabel);
    rp_put(b, "</text>");
    int marks = 0;
    const char *names[RP_MAX_SERIES], *colors[RP_MAX_SERIES];
    bool dashed[RP_MAX_SERIES];
    int nl = 0;
    for (int k = 0; k < ns; k++) {
        const char *col = rp_color(s[k].color);
        rp_printf(b, "<path class=\"ln\" fill=\"none\" stroke=\"%s\"%s d=\"", col,
                  s[k].dashed ? " stroke-dasharray=\"5 4\"" : "");
        char cmd = 'M';
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i]))
                continue;
            double y = fmin(fmax(s[k].y[i], y0), y1);
            rp_printf(b, "%c%.1f %.1f", cmd, L + (s[k].x[i] - x0) / (x1 - x0) * (R - L),
                      B - (y - y0) / (y1 - y0) * (B - T));
            cmd = 'L';
        }
        rp_put(b, "\"/>");
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i]))
                continue;
            double y = fmin(fmax(s[k].y[i], y0), y1);
            rp_printf(b, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>",
                      L + (s[k].x[i] - x0) / (x1 - x0) * (R - L), B - (y - y0) / (y1 - y0) * (B - T),
                      col);
            rp_text(b, s[k].name);
            rp_printf(b, ": %g, %.4g</title></circle>", s[k].x[i], s[k].y[i]);
            marks++;
        }
        if (nl < RP_MAX_SERIES) {
            names[nl] = s[k].name, colors[nl] = col, dashed[nl] = s[k].dashed;
            nl++;
        }
    }
    legend(b, names, colors, nl, H - 14, dashed);
    emit_svg(dst, b, id, title, W, H + legend_extra(nl), marks);
}

void rp_svg_hist(rp_buf *b, const char *id, const char *title, const char *xlabel,
                 const double *edges, int nbins, const char *const *names,
                 const double *const *counts, int ns)
{
    rp_buf out;
    rp_init(&out);
    rp_buf *const dst = b;
    b = &out;
    double L = ML, R = W - MR, T = MT, B = H - MB;
    double top = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < nbins; i++)
            if (isfinite(counts[k][i]))
                top = fmax(top, counts[k][i]);
    if (top <= 0)
        top = 1;
    y_axis(b, 0, top * 1.05, T, B, L, R);
    double x0 = nbins > 0 ? edges[0] : 0, x1 = nbins > 0 ? edges[nbins] : 1;
    if (!(x1 > x0))
        x1 = x0 + 1;
    x_axis(b, x0, x1, L, R, B);
    frame(b, L, T, R, B);
    axis_text(b, (L + R) / 2, B + 32, "middle", "al", xlabel);
    rp_printf(b, "<text class=\"al\" transform=\"translate(14 %.1f) rotate(-90)\" "
                 "text-anchor=\"middle\">count</text>", (T + B) / 2);
    int marks = 0;
    const char *colors[RP_MAX_SERIES];
    for (int k = 0; k < ns && k < RP_MAX_SERIES; k++) {
        colors[k] = rp_color(k);
        for (int i = 0; i < nbins; i++) {
            double c = counts[k][i];
            if (!isfinite(c) || c <= 0)
                continue;
            double bx0 = L + (edges[i] - x0) / (x1 - x0) * (R - L);
            double bx1 = L + (edges[i + 1] - x0) / (x1 - x0) * (R - L);
            double bw = (bx1 - bx0) / ns, h = c / (top * 1.05) * (B - T);
            rp_printf(b, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                         "fill=\"%s\"><title>", bx0 + k * bw + 0.5, B - h, fmax(bw - 1, 0.8), h,
                      colors[k]);
            rp_text(b, names[k]);
            rp_printf(b, ": [%.4g, %.4g) %g</title></rect>", edges[i], edges[i + 1], c);
            marks++;
        }
    }
    int nl = ns < RP_MAX_SERIES ? ns : RP_MAX_SERIES;
    legend(b, names, colors, nl, H - 14, NULL);
    emit_svg(dst, b, id, title, W, H + legend_extra(nl), marks);
}

/* Label cut to at most max bytes on a UTF-8 boundary, with an ellipsis. */
static void short_label(char *dst, size_t size, const char *s, size_t max)
{
    size_t n = strlen(s ? s : "");
    if (n <= max || max + 4 > size) {
        snprintf(dst, size, "%s", s ? s : "");
        return;
    }
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(dst, s, cut);
    memcpy(dst + cut, "\xE2\x80\xA6", 4);
}

void rp_svg_hbars(rp_buf *b, const char *id, const char *title, const char *xlabel,
                  const char *const *labels, const double *values, const bool *flag,
                  const char *flag_text, int n)
{
    rp_buf out;
    rp_init(&out);
    rp_buf *const dst = b;
    b = &out;
    double row = 20, L = 230, R = W - 60, T = MT + 4;
    double h = T + row * (n > 0 ? n : 1) + 44;
    double top = 0;
    for (int i = 0; i < n; i++)
        if (!flag[i] && isfinite(values[i]))
            top = fmax(top, values[i]);
    if (top <= 0)
        top = 1;
    top *= 1.1;
    double B = T + row * (n > 0 ? n : 1);
    x_axis(b, 0, top, L, R, B);
    frame(b, L, T, R, B);
    axis_text(b, (L + R) / 2, B + 32, "middle", "al", xlabel);
    int marks = 0;
    for (int i = 0; i < n; i++) {
        double y = T + row * i;
        char lab[80];
        short_label(lab, sizeof lab, labels[i], 34);
        rp_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\"><title>", L - 6,
                  y + row * 0.65);
        rp_text(b, labels[i]);
        rp_put(b, "</title>");
        rp_text(b, lab);
        rp_put(b, "</text>");
        bool ex = flag[i];
        double v = ex ? top : values[i];
        if (!isfinite(v))
            continue;
        double w = fmax(v, 0) / top * (R - L);
        rp_printf(b, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                     "fill=\"%s\"><title>", L, y + 3, fmax(w, 1), row - 6,
                  ex ? "#b8d8b8" : rp_color(0));
        rp_text(b, labels[i]);
        rp_put(b, ": ");
        if (ex)
            rp_text(b, flag_text);
        else
            rp_printf(b, "%.4g", v);
        rp_put(b, "</title></rect>");
        rp_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">", L + fmax(w, 1) + 4, y + row * 0.65);
        if (ex)
            rp_text(b, flag_text);
        else
            rp_printf(b, "%.1f", v);
        rp_put(b, "</text>");
        marks++;
    }
    emit_svg(dst, b, id, title, W, h, marks);
}

void rp_svg_matrix(rp_buf *b, const char *id, const char *title, const char *const *rows,
                   int nrows, const char *const *cols, int ncols, const int *cell,
                   const char *const *tip, const rp_state *states, int nstates)
{
    rp_buf out;
    rp_init(&out);
    rp_buf *const dst = b;
    b = &out;
    double cw = 64, ch = 17, L = 170, T = MT + 22;
    double w = fmax(L + cw * ncols + 16, 540), h = T + ch * nrows + 16 + 18 * ((nstates + 1) / 2);
    for (int c = 0; c < ncols; c++) {
        char lab[40];
        short_label(lab, sizeof lab, cols[c], 9);
        axis_text(b, L + cw * c + cw / 2, T - 6, "middle", "tick", lab);
    }
    int marks = 0;
    for (int r = 0; r < nrows; r++) {
        char lab[80];
        short_label(lab, sizeof lab, rows[r], 26);
        axis_text(b, L - 6, T + ch * r + ch * 0.72, "end", "tick", lab);
        for (int c = 0; c < ncols; c++) {
            int s = cell[r * ncols + c];
            if (s < 0 || s >= nstates)
                continue;
            rp_printf(b, "<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                         "fill=\"%s\"><title>", L + cw * c + 1, T + ch * r + 1, cw - 2, ch - 2,
                      states[s].color);
            rp_text(b, cols[c]);
            rp_put(b, " / ");
            rp_text(b, rows[r]);
            rp_put(b, ": ");
            rp_text(b, states[s].name);
            if (tip && tip[r * ncols + c]) {
                rp_put(b, "; ");
                rp_text(b, tip[r * ncols + c]);
            }
            rp_put(b, "</title></rect>");
            marks++;
        }
    }
    double y = T + ch * nrows + 20, x = 8;
    for (int s = 0; s < nstates; s++) {
        rp_printf(b, "<rect class=\"lg\" x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" "
                     "fill=\"%s\"/>", x, y - 9, states[s].color);
        axis_text(b, x + 16, y, "start", "lgt", states[s].name);
        x += 265;
        if (x > w - 265) {
            x = 8;
            y += 18;
        }
    }
    emit_svg(dst, b, id, title, w, h, marks);
}
