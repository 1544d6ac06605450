/* Verdicts on hostile models (see hostile_check.h). */
#include "hostile_check.h"

#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engines/fc_engine.h"
#include "hostile_craft.h"
#include "onnx/fc_onnx.h"

char hc_root[64];
static char current[320];    /* the case under test, for crash reports */
static int trace;

void hc_set_case(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(current, sizeof current, fmt, ap);
    va_end(ap);
    if (trace)
        fprintf(stderr, "hostile case: %s\n", current);
}

#if defined(__SANITIZE_ADDRESS__)
/* Called by ASan before it reports: say which case it was. */
void __asan_on_error(void);
void __asan_on_error(void) { fprintf(stderr, "hostile case: %s\n", current); }
#else
static void on_fatal_signal(int sig)
{
    static const char head[] = "hostile case crashed: ";
    if (write(2, head, sizeof head - 1) < 0 || write(2, current, strlen(current)) < 0 ||
        write(2, "\n", 1) < 0)
        _exit(128 + sig);
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

const char *hc_case(void) { return current; }

void hc_setup(void)
{
    trace = getenv("HOSTILE_TRACE") != NULL;
    strcpy(hc_root, "/tmp/fc_hostile_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(hc_root));
#if !defined(__SANITIZE_ADDRESS__)
    signal(SIGSEGV, on_fatal_signal);
    signal(SIGBUS, on_fatal_signal);
    signal(SIGFPE, on_fatal_signal);
    signal(SIGABRT, on_fatal_signal);
#endif
}

void hc_teardown(void) { hc_remove_tree(hc_root); }

void hc_print_tally(const char *what, const hc_tally *t)
{
    printf("%s: %d refused by the loader, %d loaded (%d refused by an engine, %d runs, "
           "%d with non-finite outputs); statuses:",
           what, t->refused, t->loaded, t->engine_refused, t->ran, t->ran_nonfinite);
    for (int s = 1; s < FC_STATUS_COUNT; s++)
        if (t->by_status[s])
            printf(" %s=%d", fc_status_name((fc_status)s), t->by_status[s]);
    printf("\n");
    fflush(stdout);
}

/* A refusal: a named status (never internal_error), recorded in err, with a
 * non-empty message naming the file. */
void hc_expect_named(fc_status st, const fc_err *err, const char *label)
{
    ck_assert_msg(st > FC_OK && st < FC_STATUS_COUNT && st != FC_ERR_INTERNAL,
                  "%s: status %d (%s) is not a named error: %s", current, (int)st,
                  fc_status_name(st), err->msg);
    ck_assert_msg(err->status == st, "%s: returned %s but err.status is %s", current,
                  fc_status_name(st), fc_status_name(err->status));
    ck_assert_msg(err->msg[0] != '\0', "%s: %s with an empty message", current,
                  fc_status_name(st));
    ck_assert_msg(strstr(err->msg, label) != NULL, "%s: message does not name '%s': %s",
                  current, label, err->msg);
}

/* Zero tensors for every run-time input: declared dtype and dims, with
 * symbolic, negative or huge dims replaced by 1 (a mismatch the engine must
 * then refuse by name) so the feed stays small. */
static void zero_inputs(const fc_graph *g, fc_tensor *in)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const fc_value *v = &g->values[g->inputs[i]];
        fc_dtype dt = fc_dtype_size(v->dtype) ? v->dtype : FC_DT_F32;
        int rank = v->rank < 0 || v->rank > FC_MAX_RANK ? 1 : v->rank;
        int64_t dims[FC_MAX_RANK] = {0};
        int64_t numel = 1;
        for (int d = 0; d < rank; d++) {
            dims[d] = v->rank < 0 ? 1 : v->dims[d];
            if (dims[d] < 0 || dims[d] > 1024 || numel * dims[d] > (1 << 20))
                dims[d] = 1;
            numel *= dims[d];
        }
        /* Plain calloc, not fc_tensor_alloc: the allocation-failure sweep
         * must not fail the feed itself. */
        in[i] = (fc_tensor){.dtype = dt, .rank = rank, .numel = (size_t)numel};
        memcpy(in[i].dims, dims, sizeof dims);
        in[i].data = calloc((size_t)numel + 1, fc_dtype_size(dt));
        ck_assert_ptr_nonnull(in[i].data);
    }
}

fc_status hc_engine_try(const fc_graph *g, const char *kind, const char *label, hc_tally *t,
                        fc_err *err)
{
    fc_err_clear(err);
    fc_engine *e = NULL;
    fc_status st = fc_engine_create(g, kind, &e, err);
    if (st == FC_OK) {
        fc_tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
        fc_tensor *out = calloc((size_t)g->n_outputs + 1, sizeof *out);
        ck_assert(in && out);
        zero_inputs(g, in);
        st = fc_engine_run(e, in, g->n_inputs, out, g->n_outputs, err);
        if (st == FC_OK) {
            int finite = 1;
            for (int o = 0; o < g->n_outputs; o++) {
                for (size_t k = 0; out[o].dtype == FC_DT_F32 && k < out[o].numel; k++)
                    finite &= isfinite(((const float *)out[o].data)[k]) != 0;
                fc_tensor_release(&out[o]);
            }
            t->ran++;
            t->ran_nonfinite += !finite;
        }
        for (int i = 0; i < g->n_inputs; i++)
            free(in[i].data);
        free(in);
        free(out);
    } else {
        ck_assert_msg(e == NULL, "%s: failed engine creation left an engine", current);
    }
    fc_engine_free(e);
    if (st != FC_OK) {
        hc_expect_named(st, err, label);
        t->engine_refused++;
        t->by_status[st]++;
    }
    return st;
}

void hc_load_case(const uint8_t *bytes, size_t len, const char *dir, const char *label,
                  hc_tally *t)
{
    fc_err err;
    fc_err_clear(&err);
    fc_graph *g = NULL;
    fc_status st = fc_onnx_load_bytes(bytes, len, dir, label, &g, &err);
    if (st != FC_OK) {
        ck_assert_msg(g == NULL, "%s: failed load left a graph", current);
        hc_expect_named(st, &err, label);
        t->refused++;
        t->by_status[st]++;
        return;
    }
    ck_assert_ptr_nonnull(g);
    t->loaded++;
    hc_engine_try(g, "f32-ref", label, t, &err);
    hc_engine_try(g, "f32", label, t, &err);
    fc_graph_free(g);
}

void hc_check_refusal(fc_status st, const fc_err *err, const char *label, fc_status want,
                      const char *also)
{
    if (trace)
        fprintf(stderr, "  %s\n", err->msg);
    hc_expect_named(st, err, label);
    if (want != FC_OK)
        ck_assert_msg(st == want, "%s: %s, want %s: %s", label, fc_status_name(st),
                      fc_status_name(want), err->msg);
    if (also)
        ck_assert_msg(strstr(err->msg, also) != NULL, "%s: message does not mention '%s': %s",
                      label, also, err->msg);
}

void hc_must_refuse(Onnx__ModelProto *m, const char *dir, const char *label, int where,
                    fc_status want, const char *also)
{
    size_t len;
    uint8_t *bytes = hc_pack(m, &len);
    hc_model_free(m);
    hc_set_case("%s", label);
    fc_err err;
    fc_err_clear(&err);
    fc_graph *g = NULL;
    fc_status st = fc_onnx_load_bytes(bytes, len, dir, label, &g, &err);
    free(bytes);
    if (st != FC_OK) {
        ck_assert_msg(g == NULL, "%s: failed load left a graph", label);
        hc_check_refusal(st, &err, label, want, also);
        return;
    }
    static const char *const kinds[] = {"f32-ref", "f32"};
    for (int k = 0; k < 2; k++) {
        hc_tally t = {0};
        st = where == HC_LOADER_OR_ENGINES ? hc_engine_try(g, kinds[k], label, &t, &err)
                                           : FC_OK;
        if (st == FC_OK) {
            fc_graph_free(g);
            ck_abort_msg("%s: accepted by the loader%s", label,
                         where == HC_LOADER ? "" : k ? " and engine f32" : " and engine f32-ref");
        }
        hc_check_refusal(st, &err, label, want, also);
    }
    fc_graph_free(g);
}

static int run(const char *bin, char *const argv[], char **err_text)
{
    char *err_path = hc_path(hc_root, "run.stderr");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (freopen(err_path, "w", stderr) && freopen("/dev/null", "w", stdout))
            execv(bin, argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    size_t len;
    uint8_t *text = hc_read_file(err_path, &len);
    *err_text = realloc(text, len + 1);
    ck_assert_ptr_nonnull(*err_text);
    (*err_text)[len] = '\0';
    free(err_path);
    return status;
}

void hc_truncated(const uint8_t *bytes, size_t cut, const char *name, hc_tally *t)
{
    uint8_t *buf = malloc(cut ? cut : 1);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, bytes, cut);
    char label[96];
    snprintf(label, sizeof label, "%s-cut%zu.onnx", name, cut);
    hc_set_case("%s truncated to %zu bytes", name, cut);
    hc_load_case(buf, cut, NULL, label, t);
    free(buf);
}

void hc_mutate(const uint8_t *base, size_t len, const char *name, int n, uint64_t seed,
               size_t hot, hc_tally *t)
{
    uint64_t rng = seed;
    uint8_t *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    for (int c = 0; c < n; c++) {
        memcpy(buf, base, len);
        int kind = c % 3, count = kind == 0 ? 1 : 2 + (int)(hc_rand(&rng) % 7);
        char what[160];
        int used = snprintf(what, sizeof what, "%s", kind == 2 ? "bytes" : "bits");
        for (int k = 0; k < count; k++) {
            size_t pos = hc_rand(&rng) % len;
            if (hot && hot * 2 < len && hc_rand(&rng) % 2) {
                size_t h = hc_rand(&rng) % (hot * 2);
                pos = h < hot ? h : len - (h - hot) - 1;
            }
            unsigned v = (unsigned)(hc_rand(&rng) % 256);
            if (kind == 2)
                buf[pos] = (uint8_t)v;
            else
                buf[pos] ^= (uint8_t)(1u << (v % 8));
            if (used < (int)sizeof what - 24)
                used += snprintf(what + used, sizeof what - (size_t)used, " %zu:%u", pos,
                                 kind == 2 ? v : v % 8);
        }
        char label[64];
        snprintf(label, sizeof label, "%s-mut%d.onnx", name, c);
        hc_set_case("%s: seed %llu case %d, %s", label, (unsigned long long)seed, c, what);
        hc_load_case(buf, len, NULL, label, t);
    }
    free(buf);
}

void hc_check_conv_outputs(const fc_graph *g, const char *label)
{
    int w = fc_graph_find_value(g, "W");
    ck_assert_int_ge(w, 0);
    ck_assert_ptr_nonnull(g->values[w].init);
    ck_assert_uint_eq(g->values[w].init->numel, HC_CONV_W_COUNT);
    for (int i = 0; i < HC_CONV_W_COUNT; i++)
        ck_assert_float_eq(((const float *)g->values[w].init->data)[i], 0.1f * (float)(i + 1));
    fc_err err;
    fc_tensor x, y;
    const int64_t dims[] = {1, 1, 4, 4};
    ck_assert_int_eq(fc_tensor_alloc(&x, FC_DT_F32, 4, dims, &err), FC_OK);
    for (size_t i = 0; i < x.numel; i++)
        ((float *)x.data)[i] = 1.0f;
    static const char *const kinds[] = {"f32-ref", "f32"};
    for (int k = 0; k < 2; k++) {
        fc_engine *e = NULL;
        ck_assert_msg(fc_engine_create(g, kinds[k], &e, &err) == FC_OK, "%s: %s", label, err.msg);
        ck_assert_msg(fc_engine_run(e, &x, 1, &y, 1, &err) == FC_OK, "%s: %s", label, err.msg);
        const float *d = y.data;
        ck_assert_uint_eq(y.numel, 32);
        ck_assert_float_eq_tol(d[5], 5.0f, 1e-5f);
        ck_assert_float_eq_tol(d[0], 3.3f, 1e-5f);
        for (int i = 16; i < 32; i++)
            ck_assert_float_eq(d[i], 0.0f);
        fc_tensor_release(&y);
        fc_engine_free(e);
    }
    fc_tensor_release(&x);
}

void hc_cli_refuses(const char *bin, const char *cmd, const char *path, const char *data)
{
    const char *name = strrchr(path, '/') + 1;
    char *argv[6] = {"flipcheck", (char *)cmd, NULL, NULL, NULL, NULL};
    if (strcmp(cmd, "infer") == 0) {
        argv[2] = "--model";
        argv[3] = (char *)path;
        argv[4] = (char *)data;
    } else {
        argv[2] = (char *)path;
    }
    hc_set_case("flipcheck %s %s", cmd, path);
    char *text;
    int status = run(bin, argv, &text);
    if (trace)
        fprintf(stderr, "  status %d, stderr: %s", status, text);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2,
                  "flipcheck %s %s: %s %d, want exit 2; stderr: %s", cmd, name,
                  WIFEXITED(status) ? "exit" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), text);
    size_t n = strlen(text);
    ck_assert_msg(n > 1 && text[n - 1] == '\n' && strchr(text, '\n') == text + n - 1,
                  "flipcheck %s %s: stderr is not exactly one line: \"%s\"", cmd, name, text);
    ck_assert_msg(strstr(text, name) != NULL, "flipcheck %s: stderr does not name %s: %s", cmd,
                  name, text);
    free(text);
}
