/* See schema_check.h.  Recursive descent over schema and document
 * together, carrying the JSON path for the message. */
#include "schema_check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct ctx {
    char *why;
    size_t size;
} ctx;

static bool fail(ctx *c, const char *path, const char *msg, const char *detail)
{
    snprintf(c->why, c->size, "%s: %s%s%s", path, msg, detail ? " " : "", detail ? detail : "");
    return false;
}

static bool has_type(const cJSON *v, const char *t)
{
    if (!strcmp(t, "object"))
        return cJSON_IsObject(v);
    if (!strcmp(t, "array"))
        return cJSON_IsArray(v);
    if (!strcmp(t, "string"))
        return cJSON_IsString(v);
    if (!strcmp(t, "boolean"))
        return cJSON_IsBool(v);
    if (!strcmp(t, "null"))
        return cJSON_IsNull(v);
    if (!strcmp(t, "number"))
        return cJSON_IsNumber(v);
    if (!strcmp(t, "integer"))
        return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
               v->valuedouble == floor(v->valuedouble);
    return false;
}

static bool check(ctx *c, const cJSON *s, const cJSON *v, const char *path);

static bool check_object(ctx *c, const cJSON *s, const cJSON *v, const char *path)
{
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required"), *r;
    cJSON_ArrayForEach(r, req)
    {
        if (!cJSON_IsString(r))
            return fail(c, path, "schema: required holds a non-string", NULL);
        if (!cJSON_GetObjectItemCaseSensitive(v, r->valuestring))
            return fail(c, path, "missing required property", r->valuestring);
    }
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
    const cJSON *m;
    cJSON_ArrayForEach(m, v)
    {
        char sub[1024];
        snprintf(sub, sizeof sub, "%s.%s", path, m->string);
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, m->string);
        if (ps) {
            if (!check(c, ps, m, sub))
                return false;
        } else if (cJSON_IsFalse(extra)) {
            return fail(c, sub, "property not allowed by the schema", NULL);
        } else if (cJSON_IsObject(extra)) {
            if (!check(c, extra, m, sub))
                return false;
        }
    }
    return true;
}

static bool check(ctx *c, const cJSON *s, const cJSON *v, const char *path)
{
    if (cJSON_IsTrue(s))
        return true;
    if (!cJSON_IsObject(s))
        return fail(c, path, "schema: not an object", NULL);
    static const char *const known[] = {"type",  "enum",    "required", "properties",
                                        "additionalProperties", "items", "minimum", "maximum",
                                        "$schema", "$id", "title", "description"};
    const cJSON *k;
    cJSON_ArrayForEach(k, s)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok = ok || !strcmp(k->string, known[i]);
        if (!ok)
            return fail(c, path, "schema: unsupported keyword", k->string);
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (type) {
        bool ok = false;
        if (cJSON_IsString(type)) {
            ok = has_type(v, type->valuestring);
        } else if (cJSON_IsArray(type)) {
            const cJSON *t;
            cJSON_ArrayForEach(t, type) ok = ok || (cJSON_IsString(t) && has_type(v, t->valuestring));
        } else {
            return fail(c, path, "schema: bad type", NULL);
        }
        if (!ok) {
            char *want = cJSON_PrintUnformatted(type);
            fail(c, path, "wrong type, want", want);
            cJSON_free(want);
            return false;
        }
    }
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
    if (en) {
        bool ok = false;
        const cJSON *e;
        cJSON_ArrayForEach(e, en) ok = ok || cJSON_Compare(e, v, true);
        if (!ok) {
            char *got = cJSON_PrintUnformatted(v);
            fail(c, path, "value not in enum:", got);
            cJSON_free(got);
            return false;
        }
    }
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(s, "minimum");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(s, "maximum");
    if (cJSON_IsNumber(v) && cJSON_IsNumber(mn) && v->valuedouble < mn->valuedouble)
        return fail(c, path, "below minimum", NULL);
    if (cJSON_IsNumber(v) && cJSON_IsNumber(mx) && v->valuedouble > mx->valuedouble)
        return fail(c, path, "above maximum", NULL);
    if (cJSON_IsObject(v) && !check_object(c, s, v, path))
        return false;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    if (cJSON_IsArray(v) && items) {
        const cJSON *e;
        int i = 0;
        cJSON_ArrayForEach(e, v)
        {
            char sub[1024];
            snprintf(sub, sizeof sub, "%s[%d]", path, i++);
            if (!check(c, items, e, sub))
                return false;
        }
    }
    return true;
}

bool schema_check(const cJSON *schema, const cJSON *doc, char *why, size_t size)
{
    ctx c = {why, size};
    if (size)
        why[0] = '\0';
    return check(&c, schema, doc, "$");
}
