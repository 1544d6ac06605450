/* Image folders, PNG files and .npy arrays -> one pixel-space batch. */
#include "fc_dataset.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../core/fc_alloc.h"
#include "../core/fc_npy.h"

#define MAX_DIR_ENTRIES 1000000
#define MAX_CLASSES 100000

/* One image to load: a PNG file, or row `row` of an .npy array. */
typedef struct item {
    char *path;
    int64_t label;        /* -1 = none */
    int64_t row;          /* -1 for a PNG */
} item;

typedef struct collector {
    item *items;
    size_t n, cap;
    char **classes;
    int n_classes;
    bool has_folder_labels, has_unlabelled;
} collector;

static fc_status push(collector *c, const char *path, int64_t label, int64_t row, fc_err *err)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        item *it = fc_realloc(c->items, cap * sizeof *it);
        if (!it)
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory listing images");
        c->items = it;
        c->cap = cap;
    }
    char *p = fc_strdup(path);
    if (!p)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory listing images");
    c->items[c->n++] = (item){p, label, row};
    if (label >= 0)
        c->has_folder_labels = true;
    else if (row < 0)
        c->has_unlabelled = true;
    return FC_OK;
}

static bool has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcasecmp(name + n - e, ext) == 0;
}

/* Image formats people put in ImageFolder trees that we cannot read: an
 * error beats silently running on fewer images than the user has. */
static bool other_image_ext(const char *name)
{
    static const char *const exts[] = {".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif",
                                       ".tiff", ".ppm", ".pgm"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (has_ext(name, exts[i]))
            return true;
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        fc_free(names[i]);
    fc_free(names);
}

/* Sorted names of the entries of dir (no hidden ones), split by kind. */
static fc_status list_dir(const char *dir, char ***dirs, size_t *n_dirs, char ***files,
                          size_t *n_files, fc_err *err)
{
    *dirs = *files = NULL;
    *n_dirs = *n_files = 0;
    DIR *d = opendir(dir);
    if (!d)
        return fc_err_set(err, FC_ERR_IO, "%s: cannot open folder", dir);
    size_t cap_d = 0, cap_f = 0, seen = 0;
    fc_status st = FC_OK;
    struct dirent *e;
    while (!st && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (++seen > MAX_DIR_ENTRIES) {
            st = fc_err_set(err, FC_ERR_LIMIT, "%s: more than %d entries", dir, MAX_DIR_ENTRIES);
            break;
        }
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) {
            st = fc_err_set(err, FC_ERR_LIMIT, "%s: a file name is too long", dir);
            break;
        }
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;   /* a dangling link is not an image */
        bool is_dir = S_ISDIR(sb.st_mode);
        if (!is_dir && !S_ISREG(sb.st_mode))
            continue;
        char ***list = is_dir ? dirs : files;
        size_t *n = is_dir ? n_dirs : n_files, *cap = is_dir ? &cap_d : &cap_f;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            char **l = fc_realloc(*list, nc * sizeof *l);
            if (!l) {
                st = fc_err_set(err, FC_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            *list = l;
            *cap = nc;
        }
        if (!((*list)[*n] = fc_strdup(e->d_name))) {
            st = fc_err_set(err, FC_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (st) {
        free_names(*dirs, *n_dirs);
        free_names(*files, *n_files);
        *dirs = *files = NULL;
        *n_dirs = *n_files = 0;
        return st;
    }
    if (*n_dirs)
        qsort(*dirs, *n_dirs, sizeof **dirs, cmp_str);
    if (*n_files)
        qsort(*files, *n_files, sizeof **files, cmp_str);
    return FC_OK;
}

static fc_status add_pngs(collector *c, const char *dir, char **files, size_t n, int64_t label,
                          fc_err *err)
{
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (other_image_ext(files[i]))
            return fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: only PNG images are supported",
                              path);
        if (!has_ext(files[i], ".png"))
            continue;
        fc_status st = push(c, path, label, -1, err);
        if (st)
            return st;
    }
    return FC_OK;
}

/* A folder: ImageFolder when it has class folders, else a folder of PNGs. */
static fc_status add_folder(collector *c, const char *dir, fc_err *err)
{
    char **dirs, **files;
    size_t nd, nf;
    fc_status st = list_dir(dir, &dirs, &nd, &files, &nf, err);
    if (st)
        return st;
    if (nd == 0) {
        st = add_pngs(c, dir, files, nf, -1, err);
    } else if (c->n_classes) {
        st = fc_err_set(err, FC_ERR_INVALID_ARG, "%s: only one class-folder dataset per run",
                        dir);
    } else if (nd > MAX_CLASSES) {
        st = fc_err_set(err, FC_ERR_LIMIT, "%s: more than %d class folders", dir, MAX_CLASSES);
    } else {
        c->classes = dirs;
        c->n_classes = (int)nd;
        dirs = NULL;
        for (size_t k = 0; k < nd && !st; k++) {
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", dir, c->classes[k]);
            char **sd, **sf;
            size_t nsd, nsf;
            if ((st = list_dir(sub, &sd, &nsd, &sf, &nsf, err)))
                break;
            st = add_pngs(c, sub, sf, nsf, (int64_t)k, err);
            free_names(sd, nsd);
            free_names(sf, nsf);
        }
    }
    free_names(dirs, dirs ? nd : 0);
    free_names(files, nf);
    if (!st && c->n == 0)
        st = fc_err_set(err, FC_ERR_INVALID_ARG, "%s: no PNG images found", dir);
    return st;
}

void fc_resize_bilinear(const float *src, int c, int64_t h, int64_t w, float *dst, int64_t oh,
                        int64_t ow)
{
    const double sy = (double)h / (double)oh, sx = (double)w / (double)ow;
    for (int64_t y = 0; y < oh; y++) {
        double fy = ((double)y + 0.5) * sy - 0.5;
        if (fy < 0)
            fy = 0;
        int64_t y0 = (int64_t)fy;
        if (y0 > h - 1)
            y0 = h - 1;
        int64_t y1 = y0 + 1 < h ? y0 + 1 : h - 1;
        float wy = (float)(fy - (double)y0);
        for (int64_t x = 0; x < ow; x++) {
            double fx = ((double)x + 0.5) * sx - 0.5;
            if (fx < 0)
                fx = 0;
            int64_t x0 = (int64_t)fx;
            if (x0 > w - 1)
                x0 = w - 1;
            int64_t x1 = x0 + 1 < w ? x0 + 1 : w - 1;
            float wx = (float)(fx - (double)x0);
            for (int k = 0; k < c; k++) {
                const float *p = src + (size_t)k * (size_t)(h * w);
                float top = p[y0 * w + x0] * (1 - wx) + p[y0 * w + x1] * wx;
                float bot = p[y1 * w + x0] * (1 - wx) + p[y1 * w + x1] * wx;
                dst[(size_t)k * (size_t)(oh * ow) + (size_t)(y * ow + x)] =
                    top * (1 - wy) + bot * wy;
            }
        }
    }
}

/* Puts one [C, h, w] image into slot i of the batch, resizing if allowed. */
static fc_status place(const fc_dataset_opts *o, const char *what, const float *img, int64_t h,
                       int64_t w, float *dst, fc_err *err)
{
    if (h == o->height && w == o->width) {
        memcpy(dst, img, (size_t)(o->channels * h * w) * sizeof *dst);
        return FC_OK;
    }
    if (o->resize != FC_RESIZE_BILINEAR)
        return fc_err_set(err, FC_ERR_SHAPE, "%s: image is %lldx%lld (HxW), the model takes "
                          "%lldx%lld (use --resize bilinear)", what, (long long)h, (long long)w,
                          (long long)o->height, (long long)o->width);
    if (h == 0 || w == 0)
        return fc_err_set(err, FC_ERR_SHAPE, "%s: empty image cannot be resized", what);
    fc_resize_bilinear(img, o->channels, h, w, dst, o->height, o->width);
    return FC_OK;
}

static fc_status load_npy(const fc_dataset_opts *o, const char *path, fc_tensor *t,
                          fc_err *err)
{
    fc_status st = fc_npy_read(path, t, err);
    if (st)
        return st;
    if (t->rank != 4 || (t->dtype != FC_DT_U8 && t->dtype != FC_DT_F32))
        st = fc_err_set(err, FC_ERR_SHAPE, "%s: images must be uint8 or float32 [N,C,H,W], "
                        "got %s %s", path, fc_dtype_name(t->dtype),
                        fc_dims_str(t->rank, t->dims, (char[128]){0}, 128));
    else if (t->dims[1] != o->channels)
        st = fc_err_set(err, FC_ERR_SHAPE, "%s: images have %lld channels, the model takes %d",
                        path, (long long)t->dims[1], o->channels);
    if (st)
        fc_tensor_release(t);
    return st;
}

/* Converts row `row` of an npy array to pixel space floats. */
static void npy_row(const fc_tensor *t, int64_t row, float *dst)
{
    size_t per = t->numel / (size_t)t->dims[0];
    if (t->dtype == FC_DT_U8) {
        const uint8_t *s = (const uint8_t *)t->data + (size_t)row * per;
        for (size_t i = 0; i < per; i++)
            dst[i] = (float)s[i] / 255.0f;
    } else {
        memcpy(dst, (const float *)t->data + (size_t)row * per, per * sizeof *dst);
    }
}

static fc_status read_labels(const char *path, int64_t n, int64_t **out, fc_err *err)
{
    fc_tensor t;
    fc_status st = fc_npy_read(path, &t, err);
    if (st)
        return st;
    if (t.rank != 1 || (t.dtype != FC_DT_I64 && t.dtype != FC_DT_I32 && t.dtype != FC_DT_U8))
        st = fc_err_set(err, FC_ERR_SHAPE, "%s: labels must be an integer [N] array", path);
    else if (t.dims[0] != n)
        st = fc_err_set(err, FC_ERR_SHAPE, "%s: %lld labels for %lld images", path,
                        (long long)t.dims[0], (long long)n);
    else if (!(*out = fc_calloc((size_t)(n ? n : 1), sizeof **out)))
        st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", path);
    for (int64_t i = 0; !st && i < n; i++) {
        (*out)[i] = fc_tensor_get_i64(&t, (size_t)i);
        if ((*out)[i] < 0)
            st = fc_err_set(err, FC_ERR_PARSE, "%s: label %lld at row %lld is negative", path,
                            (long long)(*out)[i], (long long)i);
    }
    fc_tensor_release(&t);
    if (st) {
        fc_free(*out);
        *out = NULL;
    }
    return st;
}

static fc_status collect(collector *c, const char *const *sources, int n_sources,
                         const fc_dataset_opts *o, fc_err *err)
{
    for (int s = 0; s < n_sources; s++) {
        const char *src = sources[s];
        struct stat sb;
        if (stat(src, &sb) != 0)
            return fc_err_set(err, FC_ERR_IO, "%s: no such file or folder", src);
        fc_status st;
        if (S_ISDIR(sb.st_mode)) {
            st = add_folder(c, src, err);
        } else if (has_ext(src, ".npy")) {
            fc_tensor t;
            if ((st = load_npy(o, src, &t, err)))
                return st;
            for (int64_t r = 0; r < t.dims[0] && !st; r++)
                st = push(c, src, -1, r, err);
            fc_tensor_release(&t);
        } else if (has_ext(src, ".png")) {
            st = push(c, src, -1, -1, err);
        } else {
            st = fc_err_set(err, FC_ERR_UNSUPPORTED, "%s: not an image folder, .png or .npy",
                            src);
        }
        if (st)
            return st;
    }
    if (c->n == 0)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "no images given");
    return FC_OK;
}

/* Labels: from class folders, or from --labels for npy-only data. */
static fc_status attach_labels(collector *c, const fc_dataset_opts *o, fc_dataset *d,
                               fc_err *err)
{
    if (o->labels_path) {
        if (c->has_folder_labels || c->has_unlabelled)
            return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: --labels applies to .npy images "
                              "only; class folders carry their own labels", o->labels_path);
        return read_labels(o->labels_path, (int64_t)c->n, &d->labels, err);
    }
    if (!c->has_folder_labels || c->has_unlabelled)
        return FC_OK;
    for (int64_t i = 0; i < d->n; i++)
        if (c->items[i].label < 0)
            return FC_OK;   /* mixed with unlabelled npy rows: no labels */
    if (!(d->labels = fc_calloc((size_t)d->n, sizeof *d->labels)))
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < d->n; i++)
        d->labels[i] = c->items[i].label;
    return FC_OK;
}

static fc_status fill(collector *c, const fc_dataset_opts *o, fc_dataset *d, fc_err *err)
{
    int64_t dims[4] = {d->n, o->channels, o->height, o->width};
    fc_status st = fc_tensor_alloc(&d->images, FC_DT_F32, 4, dims, err);
    if (st)
        return st;
    size_t per = (size_t)(o->channels * o->height * o->width);
    float *row_buf = NULL;
    fc_tensor npy = {0};
    const char *npy_path = NULL;
    for (int64_t i = 0; i < d->n && !st; i++) {
        item *it = &c->items[i];
        float *dst = (float *)d->images.data + (size_t)i * per;
        char what[4200];
        if (it->row < 0) {
            fc_tensor img;
            if ((st = fc_png_read(it->path, o->channels, &o->png, &img, NULL, err)))
                break;
            st = place(o, it->path, img.data, img.dims[1], img.dims[2], dst, err);
            fc_tensor_release(&img);
            snprintf(what, sizeof what, "%s", it->path);
        } else {
            if (!npy_path || strcmp(npy_path, it->path) != 0) {
                fc_tensor_release(&npy);
                fc_free(row_buf);
                row_buf = NULL;
                if ((st = load_npy(o, it->path, &npy, err)))
                    break;
                npy_path = it->path;
                size_t n_row = npy.numel / (size_t)npy.dims[0];
                if (!(row_buf = fc_malloc(n_row * sizeof *row_buf))) {
                    st = fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory", it->path);
                    break;
                }
            }
            npy_row(&npy, it->row, row_buf);
            snprintf(what, sizeof what, "%s[%lld]", it->path, (long long)it->row);
            st = place(o, what, row_buf, npy.dims[2], npy.dims[3], dst, err);
        }
        if (!st && !(d->files[i] = fc_strdup(what)))
            st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    }
    fc_tensor_release(&npy);
    fc_free(row_buf);
    return st;
}

fc_status fc_dataset_load(const char *const *sources, int n_sources, const fc_dataset_opts *opts,
                          fc_dataset *out, fc_err *err)
{
    memset(out, 0, sizeof *out);
    if (opts->channels != 1 && opts->channels != 3)
        return fc_err_set(err, FC_ERR_UNSUPPORTED, "the model takes %d channels; images can "
                          "feed 1 or 3", opts->channels);
    if (opts->height <= 0 || opts->width <= 0)
        return fc_err_set(err, FC_ERR_SHAPE, "the model's image size %lldx%lld is not fixed",
                          (long long)opts->height, (long long)opts->width);
    collector c = {0};
    fc_status st = collect(&c, sources, n_sources, opts, err);
    if (!st) {
        out->n = (int64_t)c.n;
        if (opts->max_images > 0 && out->n > opts->max_images)
            out->n = opts->max_images;
        if (!(out->files = fc_calloc((size_t)out->n, sizeof *out->files)))
            st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    }
    if (!st)
        st = attach_labels(&c, opts, out, err);
    if (!st)
        st = fill(&c, opts, out, err);
    if (!st && c.n_classes) {
        out->class_names = c.classes;
        out->n_classes = c.n_classes;
        c.classes = NULL;
        c.n_classes = 0;
    }
    for (size_t i = 0; i < c.n; i++)
        fc_free(c.items[i].path);
    fc_free(c.items);
    free_names(c.classes, (size_t)c.n_classes);
    if (st)
        fc_dataset_free(out);
    return st;
}

void fc_dataset_free(fc_dataset *d)
{
    if (!d)
        return;
    fc_tensor_release(&d->images);
    fc_free(d->labels);
    for (int64_t i = 0; d->files && i < d->n; i++)
        fc_free(d->files[i]);
    fc_free(d->files);
    free_names(d->class_names, (size_t)d->n_classes);
    memset(d, 0, sizeof *d);
}
