#include "cli_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fc_alloc.h"
#include "onnx/fc_onnx.h"

void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv,
                     const cli_opt *opts, int n_opts)
{
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->opts = opts;
    p->n_opts = n_opts;
}

const char *cli_tty(const char *s)
{
    static char bufs[8][4096];
    static unsigned next;
    char *b = bufs[next++ % 8];
    size_t n = 0;
    const unsigned char *c = (const unsigned char *)(s ? s : "");
    for (; *c && n < sizeof bufs[0] - 1; c++) {
        if (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f) {
            b[n++] = '?';
            c++;
        } else {
            b[n++] = *c < 0x20 || *c == 0x7f ? '?' : (char)*c;
        }
    }
    b[n] = '\0';
    return b;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "flipcheck %s: %s (see 'flipcheck %s --help')\n", cmd, cli_tty(msg), cmd);
    else
        fprintf(stderr, "flipcheck: %s (see 'flipcheck --help')\n", cli_tty(msg));
    return CLI_EXIT_USAGE;
}

int cli_next(cli_parser *p, const char **value)
{
    *value = NULL;
    while (p->i < p->argc) {
        const char *a = p->argv[p->i++];
        /* "-" alone is a positional (a file name some tools use for stdin). */
        if (p->only_pos || a[0] != '-' || a[1] == '\0') {
            *value = a;
            return CLI_ARG_POS;
        }
        if (!strcmp(a, "--")) {
            p->only_pos = true;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return CLI_ARG_HELP;
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        for (int k = 0; k < p->n_opts; k++) {
            const cli_opt *o = &p->opts[k];
            if (strlen(o->name) != nlen || strncmp(o->name, a, nlen) != 0)
                continue;
            if (!o->has_value) {
                if (eq) {
                    cli_usage_error(p->cmd, "option %s takes no value", o->name);
                    return CLI_ARG_ERR;
                }
                return k;
            }
            if (eq) {
                *value = eq + 1;
                return k;
            }
            /* "--model --json" is a forgotten value, not a file named --json. */
            if (p->i >= p->argc ||
                (strncmp(p->argv[p->i], "--", 2) == 0 && p->argv[p->i][2] != '\0')) {
                cli_usage_error(p->cmd, "option %s needs a value", o->name);
                return CLI_ARG_ERR;
            }
            *value = p->argv[p->i++];
            return k;
        }
        cli_usage_error(p->cmd, "unknown option '%s'", a);
        return CLI_ARG_ERR;
    }
    return CLI_ARG_END;
}

bool cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi,
                   long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi) {
        cli_usage_error(cmd, "option %s: '%s' is not an integer in %ld..%ld", opt, s, lo, hi);
        return false;
    }
    *out = (long)v;
    return true;
}

const char *cli_strip_file(const char *msg, const char *file)
{
    size_t fl = strlen(file);
    if (fl && strncmp(msg, file, fl) == 0 && msg[fl] == ':') {
        msg += fl + 1;
        while (*msg == ' ')
            msg++;
    }
    return msg;
}

int cli_report(const char *file, const fc_err *err)
{
    const char *msg = cli_strip_file(err->msg, file);
    /* One line whatever the message holds, so scripts can rely on it, and
     * no control character from a file name or a model reaches the
     * terminal. */
    fprintf(stderr, "flipcheck: %s: %s: %s\n", cli_tty(file), fc_status_name(err->status),
            *msg ? cli_tty(msg) : "(no message)");
    return CLI_EXIT_USAGE;
}

bool cli_load_model(const char *path, fc_graph **out)
{
    fc_err err;
    fc_err_clear(&err);
    *out = NULL;
    fc_status st = fc_onnx_load(path, out, &err);
    if (st) {
        err.status = st;
        cli_report(path, &err);
        return false;
    }
    return true;
}

const char *cli_value_shape_str(const fc_value *v, char *buf, size_t size)
{
    if (!size)
        return buf;
    if (v->rank < 0) {
        snprintf(buf, size, "unknown");
        return buf;
    }
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i <= v->rank && n < size; i++) {
        const char *sep = i ? "," : "[";
        int w;
        if (i == v->rank)
            w = snprintf(buf + n, size - n, "%s]", v->rank ? "" : "[");
        else if (v->dims[i] < 0)
            w = snprintf(buf + n, size - n, "%s%s", sep, i == 0 ? "N" : "?");
        else
            w = snprintf(buf + n, size - n, "%s%lld", sep, (long long)v->dims[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    return buf;
}

cJSON *cli_value_shape_json(const fc_value *v)
{
    if (v->rank < 0)
        return cJSON_CreateNull();
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < v->rank; i++) {
        cJSON *d = v->dims[i] < 0 ? cJSON_CreateString(i == 0 ? "N" : "?")
                                  : cJSON_CreateNumber((double)v->dims[i]);
        if (!cJSON_AddItemToArray(arr, d)) {
            cJSON_Delete(d);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

bool cli_print_json(const cJSON *root)
{
    char *s = cJSON_PrintUnformatted(root);
    if (!s)
        return false;
    fputs(s, stdout);
    fputc('\n', stdout);
    cJSON_free(s);
    return true;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool cli_has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), m = strlen(suffix);
    if (m > n)
        return false;
    for (size_t i = 0; i < m; i++) {
        char a = path[n - m + i], b = suffix[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return false;
    }
    return true;
}
