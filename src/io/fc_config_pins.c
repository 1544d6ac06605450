/* The config's pins: a model file's SHA-256 and its interface, so the
 * integrity suite can tell that the file tested is the file meant, and
 * that it still takes and gives what the deployment expects. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../engines/fc_engine.h"
#include "fc_config_internal.h"

fc_status config_parse_sha256(parser *p, const cJSON *obj, const char *path, char out[65])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "sha256");
    out[0] = '\0';
    if (!v)
        return FC_OK;
    char sub[300];
    snprintf(sub, sizeof sub, "%s.sha256", path);
    if (!cJSON_IsString(v) || strlen(v->valuestring) != 64)
        return fail(p, sub, "expected 64 hexadecimal digits");
    for (int i = 0; i < 64; i++) {
        char c = v->valuestring[i];
        if (!isxdigit((unsigned char)c))
            return fail(p, sub, "expected 64 hexadecimal digits");
        out[i] = (char)tolower((unsigned char)c);
    }
    out[64] = '\0';
    return FC_OK;
}

static fc_status parse_value(parser *p, const cJSON *v, const char *path, fc_iface_value *out)
{
    static const char *const k[] = {"name", "type", "shape", NULL};
    fc_status st = only_keys(p, v, path, k);
    if (st)
        return st;
    char sub[400];
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
    snprintf(sub, sizeof sub, "%s.name", path);
    if (!cJSON_IsString(name) || !name->valuestring[0] ||
        strlen(name->valuestring) >= sizeof out->name)
        return fail(p, sub, "expected a name of 1 to 127 characters");
    snprintf(out->name, sizeof out->name, "%s", name->valuestring);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(v, "type");
    if (type) {
        static const char *const types[] = {"float32", "uint8", "int8", "int32",
                                            "int64",   "bool",  "float64"};
        bool ok = false;
        for (size_t i = 0; cJSON_IsString(type) && i < sizeof types / sizeof types[0]; i++)
            ok = ok || !strcmp(type->valuestring, types[i]);
        snprintf(sub, sizeof sub, "%s.type", path);
        if (!ok)
            return fail(p, sub, "expected float32, uint8, int8, int32, int64, bool or float64");
        snprintf(out->dtype, sizeof out->dtype, "%s", type->valuestring);
    }
    out->rank = -1;
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(v, "shape");
    if (!shape)
        return FC_OK;
    snprintf(sub, sizeof sub, "%s.shape", path);
    int n = cJSON_GetArraySize(shape);
    if (!cJSON_IsArray(shape) || n > FC_CONFIG_MAX_RANK)
        return fail(p, sub, "expected an array of at most 8 dims (numbers or names)");
    out->rank = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape)
    {
        int i = out->rank++;
        char item[420];
        snprintf(item, sizeof item, "%s[%d]", sub, i);
        if (cJSON_IsString(d) && d->valuestring[0] && strlen(d->valuestring) < 32) {
            out->dims[i] = -1;
            snprintf(out->dim_names[i], sizeof out->dim_names[i], "%s", d->valuestring);
        } else if (cJSON_IsNumber(d) && d->valuedouble >= 0 && d->valuedouble <= 1e15 &&
                   d->valuedouble == (double)(int64_t)d->valuedouble) {
            out->dims[i] = (int64_t)d->valuedouble;
        } else {
            return fail(p, item, "expected a whole number >= 0 or a dim name");
        }
    }
    return FC_OK;
}

static fc_status parse_list(parser *p, const cJSON *iface, const char *key, const char *path,
                            fc_iface_value *vals, int *n)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(iface, key);
    *n = 0;
    if (!arr)
        return FC_OK;
    char sub[300];
    snprintf(sub, sizeof sub, "%s.%s", path, key);
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > FC_CONFIG_MAX_IO)
        return fail(p, sub, "expected an array of at most 8 values");
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        char item[320];
        snprintf(item, sizeof item, "%s[%d]", sub, *n);
        fc_status st = parse_value(p, v, item, &vals[*n]);
        if (st)
            return st;
        (*n)++;
    }
    return FC_OK;
}

fc_status config_parse_interface(parser *p, const cJSON *m, const char *path, fc_interface *out)
{
    memset(out, 0, sizeof *out);
    const cJSON *iface = cJSON_GetObjectItemCaseSensitive(m, "interface");
    if (!iface)
        return FC_OK;
    static const char *const k[] = {"inputs", "outputs", NULL};
    char sub[256];
    snprintf(sub, sizeof sub, "%s.interface", path);
    fc_status st = only_keys(p, iface, sub, k);
    if (!st)
        st = parse_list(p, iface, "inputs", sub, out->inputs, &out->n_inputs);
    if (!st)
        st = parse_list(p, iface, "outputs", sub, out->outputs, &out->n_outputs);
    out->set = !st;
    return st;
}

fc_status config_parse_references(parser *p, const cJSON *m, const char *path,
                                  fc_model_config *mc)
{
    mc->n_refs = 0;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(m, "reference_outputs");
    if (!arr)
        return FC_OK;
    char sub[300];
    snprintf(sub, sizeof sub, "%s.reference_outputs", path);
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > FC_CONFIG_MAX_REFS)
        return fail(p, sub, "expected an array of at most 8 reference outputs");
    static const char *const k[] = {"file", "data", "labels", "model", "engine", "max_abs", NULL};
    const cJSON *r;
    cJSON_ArrayForEach(r, arr)
    {
        char item[340];
        snprintf(item, sizeof item, "%s[%d]", sub, mc->n_refs);
        fc_reference_output *o = &mc->refs[mc->n_refs++];
        memset(o, 0, sizeof *o);
        o->max_abs = 1e-4;
        fc_status st;
        if ((st = only_keys(p, r, item, k)) || (st = get_path(p, r, "file", item, &o->file)) ||
            (st = get_path(p, r, "data", item, &o->data)) ||
            (st = get_path(p, r, "labels", item, &o->labels)) ||
            (st = get_number(p, r, "max_abs", item, 0, 1e30, &o->max_abs)))
            return st;
        if (!o->file || !o->data)
            return fail(p, item, "needs \"file\" (the outputs) and \"data\" (their inputs)");
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(r, "model");
        if (model) {
            char msub[360];
            snprintf(msub, sizeof msub, "%s.model", item);
            if (!cJSON_IsString(model) ||
                (strcmp(model->valuestring, "fp32") && strcmp(model->valuestring, "int8")))
                return fail(p, msub, "expected \"fp32\" or \"int8\"");
            o->int8 = !strcmp(model->valuestring, "int8");
        }
        snprintf(o->engine, sizeof o->engine, "%s", o->int8 ? "q8" : "f32");
        const cJSON *eng = cJSON_GetObjectItemCaseSensitive(r, "engine");
        if (eng) {
            char esub[360];
            snprintf(esub, sizeof esub, "%s.engine", item);
            if (!cJSON_IsString(eng) || strlen(eng->valuestring) >= sizeof o->engine ||
                !fc_engine_kind_known(eng->valuestring))
                return fail(p, esub, "expected one of \"f32\", \"f32-ref\", \"q8\", \"q8-ref\"");
            snprintf(o->engine, sizeof o->engine, "%s", eng->valuestring);
        }
    }
    return FC_OK;
}
