/* What a person reads after `flipcheck run` (one line per model and
 * suite), and the environment block that makes results.json comparable
 * across machines. */
#include <check.h>
#include <math.h>
#include <png.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cblas.h>

#include "engines/q8/q8_gemm.h"
#include "suite_run.h"

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static const cJSON *find_test(const cJSON *tests, const char *name)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, tests) if (!strcmp(str(t, "test"), name)) return t;
    return NULL;
}

/* The figures worth a glance, per suite. */
static void key_figures(const cJSON *suite, const cJSON *model, char *buf, size_t size)
{
    static const char *const key_test[][2] = {{"integrity", "int8_twin"},
                                              {"accuracy", "accuracy"},
                                              {"agreement", "fp32_vs_int8"},
                                              {"agreement", "per_layer"},
                                              {"performance", "perf_f32"},
                                              {"performance", "perf_q8"},
                                              {"privacy", "membership_fp32"},
                                              {"privacy", "membership_int8"},
                                              {"consistency", "reference_0_f32"},
                                              {"boundary", "nonfinite_total"},
                                              {"garbage", "model_loader"}};
    const char *name = str(suite, "name");
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(suite, "tests");
    buf[0] = '\0';
    if (!strcmp(name, "adversarial")) {
        const cJSON *cmp = cJSON_GetObjectItemCaseSensitive(model, "twin_comparison");
        const cJSON *th = cJSON_GetObjectItemCaseSensitive(model, "thresholds");
        const cJSON *c;
        size_t used = 0;
        /* The threshold's eps when there is one, else every eps measured. */
        bool any_th = false;
        cJSON_ArrayForEach(c, cmp)
        {
            char k[32];
            snprintf(k, sizeof k, "%s.eps", str(c, "attack"));
            const cJSON *te = cJSON_GetObjectItemCaseSensitive(th, k);
            const cJSON *ce = cJSON_GetObjectItemCaseSensitive(c, "eps");
            any_th = any_th || (cJSON_IsNumber(te) && cJSON_IsNumber(ce) &&
                                fabs(te->valuedouble - ce->valuedouble) <= 1e-12);
        }
        cJSON_ArrayForEach(c, cmp)
        {
            char k[32];
            snprintf(k, sizeof k, "%s.eps", str(c, "attack"));
            const cJSON *te = cJSON_GetObjectItemCaseSensitive(th, k);
            const cJSON *ce = cJSON_GetObjectItemCaseSensitive(c, "eps");
            if (!cJSON_IsNumber(ce) || used >= size ||
                (any_th && (!cJSON_IsNumber(te) || fabs(te->valuedouble - ce->valuedouble) > 1e-12)))
                continue;
            const cJSON *fo = cJSON_GetObjectItemCaseSensitive(c, "fp32_robust_accuracy");
            double f = cJSON_IsNumber(fo) ? fo->valuedouble : NAN;
            const cJSON *q = cJSON_GetObjectItemCaseSensitive(c, "int8_robust_accuracy");
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(c, "transfer_robust_accuracy");
            int n = snprintf(buf + used, size - used,
                             "%s%s@%g robust f32 %.3f, q8 %.3f, transfer %.3f (weaker: %s)",
                             used ? "; " : "", str(c, "attack"), ce->valuedouble, f,
                             cJSON_IsNumber(q) ? q->valuedouble : NAN,
                             cJSON_IsNumber(x) ? x->valuedouble : NAN, str(c, "weaker"));
            used += n > 0 ? (size_t)n : 0;
        }
        return;
    }
    for (size_t k = 0; k < sizeof key_test / sizeof key_test[0]; k++)
        if (!strcmp(name, key_test[k][0])) {
            const cJSON *t = find_test(tests, key_test[k][1]);
            size_t used = strlen(buf);
            if (t && used < size)
                snprintf(buf + used, size - used, "%s%s", used ? "; " : "", str(t, "summary"));
        }
}

void suite_print_model(FILE *f, const cJSON *model)
{
    const cJSON *suites = cJSON_GetObjectItemCaseSensitive(model, "suites");
    const cJSON *s;
    cJSON_ArrayForEach(s, suites)
    {
        int passed = (int)cJSON_GetObjectItemCaseSensitive(s, "passed")->valuedouble;
        int failed = (int)cJSON_GetObjectItemCaseSensitive(s, "failed")->valuedouble;
        char figures[512];
        key_figures(s, model, figures, sizeof figures);
        fprintf(f, "%-12s %-12s %s %3d/%-3d %s\n", str(model, "name"), str(s, "name"),
                failed ? "FAIL" : "pass", passed, passed + failed, figures);
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(s, "tests"))
        {
            if (!strcmp(str(t, "status"), "pass"))
                continue;
            fprintf(f, "  %s %s/%s: %s\n", str(t, "status"), str(s, "name"), str(t, "test"),
                    str(t, "message"));
        }
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(model, "checks"))
    {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "pass")))
            continue;
        fprintf(f, "  fail %s: threshold %s = %g not met: %g\n", str(model, "name"),
                str(c, "threshold"), cJSON_GetObjectItemCaseSensitive(c, "limit")->valuedouble,
                cJSON_GetObjectItemCaseSensitive(c, "value")->valuedouble);
    }
}

static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10))
            continue;
        const char *colon = strchr(line, ':');
        if (colon) {
            snprintf(buf, size, "%s", colon + 1 + (colon[1] == ' '));
            buf[strcspn(buf, "\n")] = '\0';
        }
        break;
    }
    fclose(f);
}

cJSON *suite_environment_json(void)
{
    cJSON *env = cJSON_CreateObject();
    if (!env)
        return NULL;
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    cJSON_AddStringToObject(env, "cpu", cpu);
    cJSON_AddNumberToObject(env, "cpus_online", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON *feat = cJSON_AddObjectToObject(env, "cpu_features");
    __builtin_cpu_init();
    cJSON_AddBoolToObject(feat, "sse4.2", __builtin_cpu_supports("sse4.2"));
    cJSON_AddBoolToObject(feat, "avx2", __builtin_cpu_supports("avx2"));
    cJSON_AddBoolToObject(feat, "fma", __builtin_cpu_supports("fma"));
    cJSON_AddBoolToObject(feat, "avx512f", __builtin_cpu_supports("avx512f"));
    cJSON_AddBoolToObject(feat, "avx512bw", __builtin_cpu_supports("avx512bw"));
    cJSON_AddBoolToObject(feat, "avx512vnni", __builtin_cpu_supports("avx512vnni"));
    cJSON *k = cJSON_AddObjectToObject(env, "kernels");
    cJSON_AddStringToObject(k, "q8_gemm", fc_q8_isa());
    cJSON_AddStringToObject(k, "openblas", openblas_get_config());
    cJSON_AddNumberToObject(k, "openblas_threads", openblas_get_num_threads());
    cJSON *v = cJSON_AddObjectToObject(env, "versions");
    cJSON_AddStringToObject(v, "flipcheck", FLIPCHECK_VERSION);
    char ck[32];
    snprintf(ck, sizeof ck, "%d.%d.%d", check_major_version, check_minor_version,
             check_micro_version);
    cJSON_AddStringToObject(v, "check", ck);
    cJSON_AddStringToObject(v, "cjson", cJSON_Version());
    cJSON_AddStringToObject(v, "libpng", png_get_libpng_ver(NULL));
    cJSON_AddStringToObject(v, "protobuf-c", protobuf_c_version());
    cJSON_AddStringToObject(v, "compiler", __VERSION__);
    struct utsname u;
    if (!uname(&u)) {
        char os[400];
        snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
        cJSON_AddStringToObject(env, "os", os);
    }
    return env;
}
