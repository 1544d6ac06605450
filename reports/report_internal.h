/* Pieces shared by the report writers (not public: fc_report.h is).
 *
 * rp_buf is a growing text buffer with a sticky failure flag: writers append
 * without checking every call, and whoever finishes the buffer turns
 * `failed` into FC_ERR_NOMEM.  Everything that reaches HTML or XML from
 * results.json (model names, paths, messages, layer names, test names) goes
 * through rp_text / rp_xml, never through rp_printf's %s. */
#ifndef REPORT_INTERNAL_H
#define REPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/fc_status.h"

typedef struct rp_buf {
    char *data;     /* NUL-terminated; owned, freed by rp_free */
    size_t len, cap;
    bool failed;    /* an allocation failed: the content is incomplete */
} rp_buf;

void rp_init(rp_buf *b);
void rp_free(rp_buf *b);
/* Appends trusted text (markup we wrote ourselves) as is. */
void rp_put(rp_buf *b, const char *s);
void rp_putn(rp_buf *b, const char *s, size_t n);
/* printf for markup and numbers only: never pass untrusted strings. */
void rp_printf(rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Untrusted text for HTML text or a double-quoted attribute: & < > " '
 * become entities; control characters (but tab and newline) are dropped;
 * bytes that are not valid UTF-8 become U+FFFD.  NULL appends nothing. */
void rp_text(rp_buf *b, const char *s);
/* The same for XML 1.0 (JUnit): also drops the code points XML forbids. */
void rp_xml(rp_buf *b, const char *s);
/* A number for display: "%.*g", or "n/a" when not finite. */
void rp_num(rp_buf *b, double v, int digits);
/* Base64 (RFC 4648, with padding) of n bytes. */
void rp_base64(rp_buf *b, const uint8_t *p, size_t n);

/* ---- reading results.json (absent or mistyped fields read as missing) ---- */

const cJSON *rp_get(const cJSON *o, const char *key);
/* The string, or "" when absent or not a string. */
const char *rp_str(const cJSON *o, const char *key);
/* True with *v set when key holds a number. */
bool rp_numv(const cJSON *o, const char *key, double *v);
/* The number, or def. */
double rp_num_or(const cJSON *o, const char *key, double def);

/* ---- SVG charts (report_svg.c): inline <svg class="chart"> elements ----
 * Every chart carries data-chart="<id>" and data-points="<marks drawn>" so
 * tests (and readers of the DOM) can see what was plotted. */

#define RP_MAX_SERIES 8

typedef struct rp_series {
    const char *name;        /* legend text (escaped) */
    const double *x, *y;     /* n points; non-finite ones are skipped */
    int n;
    int color;               /* palette index */
    bool dashed;
} rp_series;

/* Lines with dots: x and y axes from the data (y clamped to [ymin, ymax]
 * when ymin < ymax). */
void rp_svg_lines(rp_buf *b, const char *id, const char *title, const char *xlabel,
                  const char *ylabel, const rp_series *s, int ns, double ymin, double ymax);

/* Histogram over nbins bins [edges[i], edges[i+1]); ns series side by side
 * (counts[k][i]). */
void rp_svg_hist(rp_buf *b, const char *id, const char *title, const char *xlabel,
                 const double *edges, int nbins, const char *const *names,
                 const double *const *counts, int ns);

/* Horizontal bars, one per label; a bar with flag[i] set is drawn full
 * length in the "exact" colour with flag_text instead of a value. */
void rp_svg_hbars(rp_buf *b, const char *id, const char *title, const char *xlabel,
                  const char *const *labels, const double *values, const bool *flag,
                  const char *flag_text, int n);

/* A grid of cells (rows x cols), cell[r * cols + c] an index into the
 * states (-1 = empty); tip[r * cols + c] (may be NULL) is the hover text. */
typedef struct rp_state {
    const char *name;
    const char *color;       /* CSS colour, ours */
} rp_state;
void rp_svg_matrix(rp_buf *b, const char *id, const char *title, const char *const *rows,
                   int nrows, const char *const *cols, int ncols, const int *cell,
                   const char *const *tip, const rp_state *states, int nstates);

/* Palette colour k (any k). */
const char *rp_color(int k);

/* ---- thumbnails (report_png.c) ---- */

/* Reads an example .npy (float32 [3, C, H, W]: clean, adversarial,
 * saliency in [0,1]) at dir/rel (rel must be relative without "..") and
 * appends four <img> elements with PNG data URIs: clean, adversarial,
 * perturbation magnified, saliency heat map. */
fc_status rp_example_images(rp_buf *b, const char *dir, const char *rel, fc_err *err);

/* ---- the three writers ---- */

fc_status rp_write_html(const cJSON *results, const char *data_dir, rp_buf *out, fc_err *err);
fc_status rp_write_junit(const cJSON *results, rp_buf *out, fc_err *err);

/* The page's head, style sheet and <h1> (report_html.c). */
void rp_html_head(rp_buf *b, const char *title);

/* A sweep document (sweep.json) instead of a run's results (report_sweep.c):
 * counts as junit.xml has them, the page, the JUnit file. */
void rp_sweep_counts(const cJSON *doc, int *tests, int *failures, int *errors);
fc_status rp_write_sweep_html(const cJSON *doc, rp_buf *out, fc_err *err);
fc_status rp_write_sweep_junit(const cJSON *doc, rp_buf *out, fc_err *err);

/* Per-model sections of the page (report_html_model.c). */
void rp_html_model(rp_buf *b, const cJSON *model, int index, const char *data_dir);
/* The tables of a model's section (report_html_tables.c). */
void rp_html_tables(rp_buf *b, const cJSON *model);
/* The test of `suite` named `test` in a model entry, or NULL. */
const cJSON *rp_find_test(const cJSON *model, const char *suite, const char *test);

#endif
