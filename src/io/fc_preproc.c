#include "fc_preproc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void fc_preproc_default(fc_preproc *p)
{
    memset(p, 0, sizeof *p);
    p->scale = 1.0f / 255.0f;
    for (int c = 0; c < FC_PREPROC_MAX_CHANNELS; c++)
        p->std[c] = 1.0f;
}

fc_status fc_preproc_parse_list(const char *s, const char *what, float *dst, int *count,
                                fc_err *err)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n == FC_PREPROC_MAX_CHANNELS)
            return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: more than %d values", what,
                              FC_PREPROC_MAX_CHANNELS);
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno == ERANGE || !isfinite(v) || (*end && *end != ','))
            return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: '%s' is not a list of numbers", what,
                              s);
        dst[n++] = (float)v;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p)
            return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: trailing comma in '%s'", what, s);
    }
    if (n == 0)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "%s: empty list", what);
    *count = n;
    return FC_OK;
}

fc_status fc_preproc_check(const fc_preproc *p, int channels, fc_err *err)
{
    if (!isfinite(p->scale) || p->scale <= 0.0f)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "pixel scale must be a positive number");
    if (p->n_channels > 1 && p->n_channels != channels)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "mean/std have %d values, the model has %d "
                          "channels", p->n_channels, channels);
    for (int c = 0; c < p->n_channels; c++)
        if (!isfinite(p->mean[c]) || !isfinite(p->std[c]) || p->std[c] == 0.0f)
            return fc_err_set(err, FC_ERR_INVALID_ARG, "std must be non-zero and mean/std "
                              "finite (channel %d)", c);
    if (p->bgr && channels != 3)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "BGR order needs 3 channels, the model has "
                          "%d", channels);
    return FC_OK;
}

bool fc_preproc_is_identity(const fc_preproc *p)
{
    if (p->bgr || p->scale * 255.0f != 1.0f)
        return false;
    for (int c = 0; c < p->n_channels; c++)
        if (p->mean[c] != 0.0f || p->std[c] != 1.0f)
            return false;
    return true;
}

fc_status fc_preproc_apply(const fc_preproc *p, const fc_tensor *pixels, fc_tensor *out,
                           fc_err *err)
{
    if (pixels->dtype != FC_DT_F32 || pixels->rank < 2)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "preprocessing needs a float [N,C,...] batch");
    fc_status st = fc_tensor_copy(out, pixels, err);
    if (st || fc_preproc_is_identity(p))
        return st;
    const int64_t n = pixels->dims[0], ch = pixels->dims[1];
    const size_t plane = ch ? pixels->numel / (size_t)(n * ch) : 0;
    const float gain = 255.0f * p->scale;
    const float *src = pixels->data;
    float *dst = out->data;
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < ch; c++) {
            int64_t from = p->bgr ? ch - 1 - c : c;
            int k = p->n_channels == 1 ? 0 : (int)c;
            float mean = p->n_channels ? p->mean[k] : 0.0f;
            float std = p->n_channels ? p->std[k] : 1.0f;
            const float *s = src + ((size_t)(i * ch + from)) * plane;
            float *d = dst + ((size_t)(i * ch + c)) * plane;
            for (size_t j = 0; j < plane; j++)
                d[j] = (s[j] * gain - mean) / std;
        }
    return FC_OK;
}
