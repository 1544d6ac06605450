/* What the model sees, given pixels in [0, 1].
 *
 *   x[c] = (p[src(c)] * 255 * scale - mean[c]) / std[c]
 *
 * p is pixel space (fc_dataset.h), scale the model's pixel scale (default
 * 1/255, so x = (p - mean) / std; 1 for models trained on 0..255), and
 * src(c) = c, or C-1-c for models that take BGR.  Attacks perturb p; this
 * map is part of the model's forward (and backward: dx/dp = 255*scale/std). */
#ifndef FC_PREPROC_H
#define FC_PREPROC_H

#include <stdbool.h>

#include "../core/fc_status.h"
#include "../core/fc_tensor.h"

#define FC_PREPROC_MAX_CHANNELS 4

typedef struct fc_preproc {
    float scale;                          /* default 1/255 */
    int n_channels;                       /* entries used in mean/std; 0 = identity */
    float mean[FC_PREPROC_MAX_CHANNELS];  /* per channel, default 0 */
    float std[FC_PREPROC_MAX_CHANNELS];   /* per channel, default 1 */
    bool bgr;                             /* reverse channel order */
} fc_preproc;

/* Defaults: scale 1/255, mean 0, std 1, RGB. */
void fc_preproc_default(fc_preproc *p);

/* Parses "0.485,0.456,0.406" (1..4 numbers, or 1 number for all channels)
 * into dst; `what` names the option in errors. */
fc_status fc_preproc_parse_list(const char *s, const char *what, float *dst, int *count,
                                fc_err *err);

/* Checks p against a model with `channels` channels (std != 0, lists of
 * length 1 or C, finite numbers). */
fc_status fc_preproc_check(const fc_preproc *p, int channels, fc_err *err);

/* True when the map is the identity (x = p). */
bool fc_preproc_is_identity(const fc_preproc *p);

/* x = map(p) for a float [N, C, ...] batch; out is allocated (owned). */
fc_status fc_preproc_apply(const fc_preproc *p, const fc_tensor *pixels, fc_tensor *out,
                           fc_err *err);

#endif
