/* JSON config -> fc_config, strictly validated with JSON paths in errors. */
#include "fc_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/fc_alloc.h"
#include "../core/fc_file.h"
#include "../engines/fc_engine.h"
#include "fc_config_internal.h"

/* The bundled defaults.  Paths are relative to the source tree. */
static const char DEFAULT_JSON[] =
    "{\n"
    "  \"seed\": 1,\n"
    "  \"timeout_s\": 10,\n"
    "  \"thresholds\": {\n"
    "    \"max_int8_accuracy_drop\": 0.02,\n"
    "    \"max_flip_rate\": 0.05,\n"
    "    \"max_confidence_drop\": 0.25,\n"
    "    \"fgsm\": {\"eps\": 0.01, \"min_robust_accuracy\": 0.5},\n"
    "    \"pgd\": {\"eps\": 0.01, \"min_robust_accuracy\": 0.3},\n"
    "    \"max_crashes\": 0,\n"
    "    \"max_hangs\": 0,\n"
    "    \"max_nonfinite_outputs\": 16\n"
    "  },\n"
    "  \"defaults\": {\n"
    "    \"int8\": {\"calibrate\": \"minmax\"},\n"
    "    \"data\": {\"test\": \"images/fashion/test\", \"calib\": \"images/fashion/calib\"},\n"
    "    \"attacks\": {\"fgsm\": {\"eps\": [0.01, 0.02, 0.05]}, \"pgd\": {\"eps\": [0.01],"
    " \"steps\": 10}, \"max_images\": 128}\n"
    "  },\n"
    "  \"models\": [\n"
    "    {\"name\": \"mlp\", \"fp32\": \"models/mlp.onnx\"},\n"
    "    {\"name\": \"cnn\", \"fp32\": \"models/cnn.onnx\"},\n"
    "    {\"name\": \"resnet\", \"fp32\": \"models/resnet.onnx\"},\n"
    "    {\"name\": \"mobilenet\", \"fp32\": \"models/mobilenet.onnx\"}\n"
    "  ]\n"
    "}\n";

char *fc_config_default_json(void)
{
    return fc_strdup(DEFAULT_JSON);
}

void fc_thresholds_unset(fc_thresholds *t)
{
    t->max_int8_accuracy_drop = t->max_flip_rate = t->max_confidence_drop = NAN;
    t->fgsm_eps = t->fgsm_min_robust_accuracy = NAN;
    t->pgd_eps = t->pgd_min_robust_accuracy = NAN;
    t->max_crashes = t->max_hangs = t->max_nonfinite_outputs = -1;
    t->max_latency_p99_ms = t->max_peak_rss_mb = t->max_membership_advantage = NAN;
}

bool fc_threshold_set(double v)
{
    return !isnan(v);
}

fc_status fail(parser *p, const char *path, const char *what)
{
    return fc_err_set(p->err, FC_ERR_PARSE, "%s: %s: %s", p->label, path, what);
}

/* Every key of obj must be in allowed (NULL-terminated). */
fc_status only_keys(parser *p, const cJSON *obj, const char *path,
                           const char *const *allowed)
{
    if (!cJSON_IsObject(obj))
        return fail(p, path, "expected an object");
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, it->string) == 0;
        if (!ok) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s", path, it->string);
            return fail(p, sub, "unknown key");
        }
    }
    return FC_OK;
}

fc_status get_number(parser *p, const cJSON *obj, const char *key, const char *path,
                            double lo, double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return FC_OK;
    char sub[256];
    snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", key);
    if (!cJSON_IsNumber(v))
        return fail(p, sub, "expected a number");
    if (!(v->valuedouble >= lo && v->valuedouble <= hi)) {
        char msg[96];
        snprintf(msg, sizeof msg, "%g is outside %g..%g", v->valuedouble, lo, hi);
        return fail(p, sub, msg);
    }
    *out = v->valuedouble;
    return FC_OK;
}

static fc_status get_count(parser *p, const cJSON *obj, const char *key, const char *path,
                           long *out)
{
    double d = NAN;
    fc_status st = get_number(p, obj, key, path, 0, 1e9, &d);
    if (st || isnan(d))
        return st;
    if (d != floor(d)) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, key);
        return fail(p, sub, "expected a whole number");
    }
    *out = (long)d;
    return FC_OK;
}

/* A path from the config, resolved against the base folder; *out owned. */
fc_status get_path(parser *p, const cJSON *obj, const char *key, const char *path,
                          char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return FC_OK;
    char sub[256];
    snprintf(sub, sizeof sub, "%s.%s", path, key);
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return fail(p, sub, "expected a non-empty string (a path)");
    fc_free(*out);
    size_t n = strlen(p->base) + strlen(v->valuestring) + 2;
    if (!(*out = fc_malloc(n)))
        return fc_err_set(p->err, FC_ERR_NOMEM, "out of memory");
    if (v->valuestring[0] == '/' || !p->base[0])
        snprintf(*out, n, "%s", v->valuestring);
    else
        snprintf(*out, n, "%s/%s", p->base, v->valuestring);
    return FC_OK;
}

static fc_status parse_thresholds(parser *p, const cJSON *t, const char *path, fc_thresholds *th)
{
    static const char *const keys[] = {"max_int8_accuracy_drop",
                                       "max_flip_rate",
                                       "max_confidence_drop",
                                       "fgsm",
                                       "pgd",
                                       "max_crashes",
                                       "max_hangs",
                                       "max_nonfinite_outputs",
                                       "max_latency_p99_ms",
                                       "max_peak_rss_mb",
                                       "max_membership_advantage",
                                       NULL};
    static const char *const akeys[] = {"eps", "min_robust_accuracy", NULL};
    fc_status st = only_keys(p, t, path, keys);
    if (st || (st = get_number(p, t, "max_int8_accuracy_drop", path, 0, 1,
                               &th->max_int8_accuracy_drop)) ||
        (st = get_number(p, t, "max_flip_rate", path, 0, 1, &th->max_flip_rate)) ||
        (st = get_number(p, t, "max_confidence_drop", path, 0, 1, &th->max_confidence_drop)) ||
        (st = get_count(p, t, "max_crashes", path, &th->max_crashes)) ||
        (st = get_count(p, t, "max_hangs", path, &th->max_hangs)) ||
        (st = get_count(p, t, "max_nonfinite_outputs", path, &th->max_nonfinite_outputs)) ||
        (st = get_number(p, t, "max_latency_p99_ms", path, 0, 1e9, &th->max_latency_p99_ms)) ||
        (st = get_number(p, t, "max_peak_rss_mb", path, 0, 1e9, &th->max_peak_rss_mb)) ||
        (st = get_number(p, t, "max_membership_advantage", path, 0, 1,
                         &th->max_membership_advantage)))
        return st;
    for (int a = 0; a < 2; a++) {
        const char *name = a ? "pgd" : "fgsm";
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(t, name);
        if (!o)
            continue;
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, name);
        if ((st = only_keys(p, o, sub, akeys)) ||
            (st = get_number(p, o, "eps", sub, 0, 1, a ? &th->pgd_eps : &th->fgsm_eps)) ||
            (st = get_number(p, o, "min_robust_accuracy", sub, 0, 1,
                             a ? &th->pgd_min_robust_accuracy : &th->fgsm_min_robust_accuracy)))
            return st;
    }
    return FC_OK;
}

static fc_status parse_eps_list(parser *p, const cJSON *o, const char *path, double *eps, int *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "eps");
    if (!v)
        return FC_OK;
    char sub[256];
    snprintf(sub, sizeof sub, "%s.eps", path);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 ||
        cJSON_GetArraySize(v) > FC_CONFIG_MAX_EPS)
        return fail(p, sub, "expected an array of 1 to 64 numbers");
    *n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0 && e->valuedouble <= 1)) {
            char item[280];
            snprintf(item, sizeof item, "%s[%d]", sub, *n);
            return fail(p, item, "expected a number in 0..1");
        }
        eps[(*n)++] = e->valuedouble;
    }
    return FC_OK;
}

/* "engines": ["f32", "q8", ...]: the engines the suites run.  Names are
 * checked here so a typo fails before any test runs; "test-faulty" (the
 * suites' own crash/hang proof, fc_engine.h) only when it is enabled. */
static fc_status parse_engines(parser *p, const cJSON *m, const char *path, fc_model_config *mc)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "engines");
    if (!v)
        return FC_OK;
    char sub[256];
    snprintf(sub, sizeof sub, "%s%sengines", path, path[0] ? "." : "");
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n < 1 || n > FC_CONFIG_MAX_ENGINES)
        return fail(p, sub, "expected an array of 1 to 8 engine names");
    mc->n_engines = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        char item[280];
        snprintf(item, sizeof item, "%s[%d]", sub, mc->n_engines);
        if (!cJSON_IsString(e) || !fc_engine_kind_known(e->valuestring))
            return fail(p, item, "expected one of \"f32\", \"f32-ref\", \"q8\", \"q8-ref\"");
        for (int j = 0; j < mc->n_engines; j++)
            if (!strcmp(mc->engines[j], e->valuestring))
                return fail(p, item, "engine listed twice");
        snprintf(mc->engines[mc->n_engines++], FC_CONFIG_ENGINE_NAME, "%s", e->valuestring);
    }
    return FC_OK;
}

/* The parts a model entry shares with "defaults". */
static fc_status parse_model_parts(parser *p, const cJSON *m, const char *path,
                                   fc_model_config *mc)
{
    fc_status st;
    char sub[256];
    const cJSON *int8 = cJSON_GetObjectItemCaseSensitive(m, "int8");
    if (int8) {
        static const char *const k[] = {"file", "calibrate", "percentile", "sha256", NULL};
        snprintf(sub, sizeof sub, "%s.int8", path);
        if ((st = only_keys(p, int8, sub, k)) || (st = get_path(p, int8, "file", sub, &mc->int8)) ||
            (st = config_parse_sha256(p, int8, sub, mc->int8_sha256)) ||
            (st = get_number(p, int8, "percentile", sub, 50, 100, &mc->percentile)))
            return st;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(int8, "calibrate");
        if (c) {
            const char *s = cJSON_IsString(c) ? c->valuestring : "";
            mc->calibrate = !strcmp(s, "minmax")       ? FC_CALIB_MINMAX
                            : !strcmp(s, "percentile") ? FC_CALIB_PERCENTILE
                            : !strcmp(s, "entropy")    ? FC_CALIB_ENTROPY
                                                       : FC_CALIB_NONE;
            if (mc->calibrate == FC_CALIB_NONE) {
                snprintf(sub, sizeof sub, "%s.int8.calibrate", path);
                return fail(p, sub, "expected \"minmax\", \"percentile\" or \"entropy\"");
            }
        }
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(m, "data");
    if (data) {
        static const char *const k[] = {"test", "labels", "calib", "calib_labels", "max_images",
                                        NULL};
        snprintf(sub, sizeof sub, "%s.data", path);
        double mx = NAN;
        if ((st = only_keys(p, data, sub, k)) ||
            (st = get_path(p, data, "test", sub, &mc->test_data)) ||
            (st = get_path(p, data, "labels", sub, &mc->test_labels)) ||
            (st = get_path(p, data, "calib", sub, &mc->calib_data)) ||
            (st = get_path(p, data, "calib_labels", sub, &mc->calib_labels)) ||
            (st = get_number(p, data, "max_images", sub, 1, 1e9, &mx)))
            return st;
        if (!isnan(mx))
            mc->max_images = (int64_t)mx;
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(m, "preprocess");
    if (pre) {
        static const char *const k[] = {"scale", "mean", "std", "bgr", NULL};
        snprintf(sub, sizeof sub, "%s.preprocess", path);
        double scale = NAN;
        if ((st = only_keys(p, pre, sub, k)) ||
            (st = get_number(p, pre, "scale", sub, 1e-9, 1e6, &scale)))
            return st;
        if (!isnan(scale))
            mc->pre.scale = (float)scale;
        for (int w = 0; w < 2; w++) {
            const char *key = w ? "std" : "mean";
            const cJSON *arr = cJSON_GetObjectItemCaseSensitive(pre, key);
            if (!arr)
                continue;
            char item[300];
            snprintf(item, sizeof item, "%s.%s", sub, key);
            if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 ||
                cJSON_GetArraySize(arr) > FC_PREPROC_MAX_CHANNELS)
                return fail(p, item, "expected an array of 1 to 4 numbers");
            int i = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, arr)
            {
                if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) ||
                    (w && e->valuedouble == 0))
                    return fail(p, item, w ? "expected non-zero numbers" : "expected numbers");
                (w ? mc->pre.std : mc->pre.mean)[i++] = (float)e->valuedouble;
            }
            if (mc->pre.n_channels && mc->pre.n_channels != i)
                return fail(p, item, "mean and std need the same length");
            mc->pre.n_channels = i;
        }
        const cJSON *bgr = cJSON_GetObjectItemCaseSensitive(pre, "bgr");
        if (bgr && !cJSON_IsBool(bgr)) {
            snprintf(sub, sizeof sub, "%s.preprocess.bgr", path);
            return fail(p, sub, "expected true or false");
        }
        if (bgr)
            mc->pre.bgr = cJSON_IsTrue(bgr);
    }
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(m, "attacks");
    if (att) {
        static const char *const k[] = {"fgsm", "pgd", "max_images", NULL};
        static const char *const fk[] = {"eps", NULL}, *const pk[] = {"eps", "steps", NULL};
        snprintf(sub, sizeof sub, "%s.attacks", path);
        double mx = NAN;
        if ((st = only_keys(p, att, sub, k)) ||
            (st = get_number(p, att, "max_images", sub, 0, 1e9, &mx)))
            return st;
        if (!isnan(mx))
            mc->attack_images = (int64_t)mx;
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(att, "fgsm");
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(att, "pgd");
        char fsub[280], gsub[280];
        snprintf(fsub, sizeof fsub, "%s.fgsm", sub);
        snprintf(gsub, sizeof gsub, "%s.pgd", sub);
        double steps = NAN;
        if (f && ((st = only_keys(p, f, fsub, fk)) ||
                  (st = parse_eps_list(p, f, fsub, mc->fgsm_eps, &mc->n_fgsm_eps))))
            return st;
        if (g && ((st = only_keys(p, g, gsub, pk)) ||
                  (st = parse_eps_list(p, g, gsub, mc->pgd_eps, &mc->n_pgd_eps)) ||
                  (st = get_number(p, g, "steps", gsub, 1, 10000, &steps))))
            return st;
        if (!isnan(steps))
            mc->pgd_steps = (int)steps;
    }
    if ((st = parse_engines(p, m, path, mc)))
        return st;
    double t = NAN, seed = NAN;
    if ((st = get_number(p, m, "timeout_s", path, 0.01, 86400, &t)) ||
        (st = get_number(p, m, "seed", path, 0, 4294967295.0, &seed)))
        return st;
    if (!isnan(t))
        mc->timeout_s = t;
    if (!isnan(seed))
        mc->seed = (uint64_t)seed;
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(m, "thresholds");
    if (th) {
        snprintf(sub, sizeof sub, "%s.thresholds", path);
        return parse_thresholds(p, th, sub, &mc->th);
    }
    return FC_OK;
}

static int depth_of(const cJSON *j)
{
    int d = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, j)
    {
        int cd = depth_of(c);
        d = cd > d ? cd : d;
    }
    return d + 1;
}

/* Copies the strings of src (defaults) into dst so each model owns its own. */
static fc_status copy_model(const fc_model_config *src, fc_model_config *dst, fc_err *err)
{
    *dst = *src;
    dst->name = dst->fp32 = dst->int8 = dst->test_data = dst->test_labels = dst->calib_data =
        dst->calib_labels = NULL;
    dst->n_refs = 0;
    const char *s[] = {src->int8, src->test_data, src->test_labels, src->calib_data,
                       src->calib_labels};
    char **d[] = {&dst->int8, &dst->test_data, &dst->test_labels, &dst->calib_data,
                  &dst->calib_labels};
    for (int i = 0; i < 5; i++)
        if (s[i] && !(*d[i] = fc_strdup(s[i])))
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    return FC_OK;
}

static void model_release(fc_model_config *m)
{
    fc_free(m->name);
    fc_free(m->fp32);
    fc_free(m->int8);
    fc_free(m->test_data);
    fc_free(m->test_labels);
    fc_free(m->calib_data);
    fc_free(m->calib_labels);
    for (int i = 0; i < m->n_refs; i++) {
        fc_free(m->refs[i].file);
        fc_free(m->refs[i].data);
        fc_free(m->refs[i].labels);
    }
    m->n_refs = 0;
}

static fc_status parse_root(parser *p, const cJSON *root, fc_config *c)
{
    static const char *const keys[] = {"seed", "timeout_s", "thresholds", "defaults", "models",
                                       NULL};
    fc_status st = only_keys(p, root, "(top level)", keys);
    if (st)
        return st;
    /* Everything a model does not say comes from here. */
    fc_model_config base;
    memset(&base, 0, sizeof base);
    fc_preproc_default(&base.pre);
    fc_thresholds_unset(&base.th);
    base.percentile = 99.99;
    base.pgd_steps = 10;
    base.attack_images = 256;
    static const char *const default_engines[] = {"f32", "f32-ref", "q8", "q8-ref"};
    base.n_engines = 4;
    for (int e = 0; e < 4; e++)
        snprintf(base.engines[e], FC_CONFIG_ENGINE_NAME, "%s", default_engines[e]);
    base.timeout_s = 10;
    base.seed = 1;
    double t = NAN, seed = NAN;
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(root, "thresholds");
    const cJSON *defs = cJSON_GetObjectItemCaseSensitive(root, "defaults");
    static const char *const dkeys[] = {"int8", "data", "preprocess", "attacks", "timeout_s",
                                        "seed", "engines", NULL};
    if ((st = get_number(p, root, "timeout_s", "", 0.01, 86400, &t)) ||
        (st = get_number(p, root, "seed", "", 0, 4294967295.0, &seed)) ||
        (th && (st = parse_thresholds(p, th, "thresholds", &base.th))) ||
        (defs && ((st = only_keys(p, defs, "defaults", dkeys)) ||
                  (st = parse_model_parts(p, defs, "defaults", &base))))) {
        model_release(&base);
        return st;
    }
    if (!isnan(t))
        base.timeout_s = t;
    if (!isnan(seed))
        base.seed = (uint64_t)seed;
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    int n = models ? cJSON_GetArraySize(models) : 0;
    if (!cJSON_IsArray(models) || n < 1 || n > FC_CONFIG_MAX_MODELS) {
        model_release(&base);
        return fail(p, "models", "expected an array of 1 to 256 model entries");
    }
    if (!(c->models = fc_calloc((size_t)n, sizeof *c->models))) {
        model_release(&base);
        return fc_err_set(p->err, FC_ERR_NOMEM, "out of memory");
    }
    static const char *const mkeys[] = {"name",     "fp32",      "int8",      "data",
                                        "preprocess", "attacks", "thresholds", "timeout_s",
                                        "seed",     "engines",   "sha256",    "interface",
                                        "reference_outputs", NULL};
    const cJSON *m;
    int i = 0;
    cJSON_ArrayForEach(m, models)
    {
        char path[64];
        snprintf(path, sizeof path, "models[%d]", i);
        fc_model_config *mc = &c->models[i];
        c->n_models = ++i;
        if ((st = copy_model(&base, mc, p->err)) || (st = only_keys(p, m, path, mkeys)) ||
            (st = parse_model_parts(p, m, path, mc)) || (st = get_path(p, m, "fp32", path, &mc->fp32)) ||
            (st = config_parse_sha256(p, m, path, mc->sha256)) ||
            (st = config_parse_interface(p, m, path, &mc->iface)) ||
            (st = config_parse_references(p, m, path, mc)))
            break;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
        /* The name heads a Check suite, console lines and the report: no
         * control characters that could rewrite a terminal. */
        bool controls = false;
        for (const char *ch = cJSON_IsString(name) ? name->valuestring : ""; *ch; ch++)
            controls = controls || (unsigned char)*ch < 0x20 || *ch == 0x7f;
        if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) > 64 ||
            controls) {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.name", path);
            st = fail(p, sub, "expected a name of 1 to 64 characters, no control characters");
            break;
        }
        if (!(mc->name = fc_strdup(name->valuestring))) {
            st = fc_err_set(p->err, FC_ERR_NOMEM, "out of memory");
            break;
        }
        for (int k = 0; k < i - 1 && !st; k++)
            if (!strcmp(c->models[k].name, mc->name))
                st = fail(p, path, "two models have the same name");
        if (!st && !mc->fp32)
            st = fail(p, path, "missing \"fp32\" (the fp32 model file)");
        if (!st && !mc->test_data)
            st = fail(p, path, "no test data (\"data\": {\"test\": ...}) here or in defaults");
        if (!st && !mc->int8 && mc->calibrate != FC_CALIB_NONE && !mc->calib_data)
            st = fail(p, path, "int8 calibration needs \"data\": {\"calib\": ...}");
        if (st)
            break;
    }
    model_release(&base);
    return st;
}

fc_status fc_config_parse(const char *text, const char *label, const char *base_dir,
                          fc_config *out, fc_err *err)
{
    memset(out, 0, sizeof *out);
    parser p = {label ? label : "config", base_dir ? base_dir : "", err};
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text ? (long)(at - text) : -1;
        return fc_err_set(err, FC_ERR_PARSE, "%s: not valid JSON (near byte %ld)", p.label, off);
    }
    fc_status st = FC_OK;
    if (depth_of(root) > FC_CONFIG_MAX_DEPTH)
        st = fc_err_set(err, FC_ERR_LIMIT, "%s: nested deeper than %d levels", p.label,
                        FC_CONFIG_MAX_DEPTH);
    if (!st && !(out->path = fc_strdup(p.label)))
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    if (!st)
        st = parse_root(&p, root, out);
    cJSON_Delete(root);
    if (st)
        fc_config_free(out);
    return st;
}

fc_status fc_config_load(const char *path, fc_config *out, fc_err *err)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t len;
    fc_status st = fc_file_read_all(path, FC_CONFIG_MAX_BYTES, "config", &buf, &len, err);
    if (st)
        return st;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (memchr(buf, 0, len))
        st = fc_err_set(err, FC_ERR_PARSE, "%s: not a text file (contains NUL bytes)", path);
    else
        st = fc_config_parse((const char *)buf, path, dir, out, err);
    fc_free(buf);
    return st;
}

fc_status fc_config_default(const char *data_root, fc_config *out, fc_err *err)
{
    fc_status st = fc_config_parse(DEFAULT_JSON, "<default config>", data_root, out, err);
    return st;
}

void fc_config_free(fc_config *c)
{
    if (!c)
        return;
    for (int i = 0; c->models && i < c->n_models; i++)
        model_release(&c->models[i]);
    fc_free(c->models);
    fc_free(c->path);
    memset(c, 0, sizeof *c);
}
