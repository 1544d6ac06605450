/* Integrity against the config's pins: the model file's SHA-256 and its
 * interface (names, element types, shapes with symbolic dims).  Each
 * difference is named: which value, what the model has, what was pinned. */
#include <stdio.h>
#include <string.h>

#include "core/fc_sha256.h"
#include "suite_internal.h"

void suite_check_sha256(const suite_ctx *ctx, const char *path, const char *pinned,
                        const char *what, fc_case_out *o)
{
    char hex[65];
    fc_err err = {0};
    if (fc_sha256_file(path, hex, &err)) {
        case_fail(o, "%s: %s", ctx->mc->name, err.msg);
        return;
    }
    char key[32];
    snprintf(key, sizeof key, "%s_sha256", what);
    case_metric_str(o, key, hex);
    if (pinned[0] && strcmp(hex, pinned))
        case_fail(o, "%s: %s file %s has SHA-256 %s, the config pins %s", ctx->mc->name, what,
                  path, hex, pinned);
}

static void shape_str(int rank, const int64_t *dims, char names[][32], char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && used < size; i++) {
        const char *sep = i ? "," : "";
        int n = dims[i] < 0 ? snprintf(buf + used, size - used, "%s%s", sep,
                                       names && names[i][0] ? names[i] : "?")
                            : snprintf(buf + used, size - used, "%s%lld", sep,
                                       (long long)dims[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static void check_value(const suite_ctx *ctx, const fc_graph *g, int v, const char *kind,
                        const fc_iface_value *pin, fc_case_out *o)
{
    const fc_value *val = &g->values[v];
    if (strcmp(val->name, pin->name)) {
        case_fail(o, "%s: %s '%s' in the model, '%s' pinned by the config", ctx->mc->name, kind,
                  val->name, pin->name);
        return;
    }
    if (pin->dtype[0] && strcmp(fc_dtype_name(val->dtype), pin->dtype)) {
        case_fail(o, "%s: %s '%s': type %s in the model, %s pinned by the config", ctx->mc->name,
                  kind, val->name, fc_dtype_name(val->dtype), pin->dtype);
        return;
    }
    if (pin->rank < 0)
        return;
    bool same = val->rank == pin->rank;
    for (int i = 0; same && i < pin->rank; i++)
        same = pin->dims[i] < 0 ? val->dims[i] < 0 : val->dims[i] == pin->dims[i];
    if (!same) {
        char have[160], want[160];
        char sym[FC_MAX_RANK][32];
        for (int i = 0; i < FC_MAX_RANK; i++)
            snprintf(sym[i], sizeof sym[i], "N");
        if (val->rank >= 0)
            shape_str(val->rank, val->dims, sym, have, sizeof have);
        else
            snprintf(have, sizeof have, "(undeclared)");
        shape_str(pin->rank, pin->dims, (char(*)[32])pin->dim_names, want, sizeof want);
        case_fail(o, "%s: %s '%s': shape %s in the model, %s pinned by the config", ctx->mc->name,
                  kind, val->name, have, want);
    }
}

void suite_check_interface(const suite_ctx *ctx, const fc_graph *g, fc_case_out *o)
{
    const fc_interface *pin = &ctx->mc->iface;
    if (!pin->set)
        return;
    case_metric_str(o, "interface", "pinned");
    if (pin->n_inputs && pin->n_inputs != g->n_inputs)
        case_fail(o, "%s: the model has %d input(s), the config pins %d", ctx->mc->name,
                  g->n_inputs, pin->n_inputs);
    if (pin->n_outputs && pin->n_outputs != g->n_outputs)
        case_fail(o, "%s: the model has %d output(s), the config pins %d", ctx->mc->name,
                  g->n_outputs, pin->n_outputs);
    for (int i = 0; i < pin->n_inputs && i < g->n_inputs; i++)
        check_value(ctx, g, g->inputs[i], "input", &pin->inputs[i], o);
    for (int i = 0; i < pin->n_outputs && i < g->n_outputs; i++)
        check_value(ctx, g, g->outputs[i], "output", &pin->outputs[i], o);
}
