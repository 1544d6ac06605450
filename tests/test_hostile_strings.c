/* Strings from models, configs and file names are never interpreted:
 *  - no control character reaches the terminal (an ESC sequence in a model's
 *    producer or a file name could recolour or clear the screen, a CR or LF
 *    could forge an output line): the CLI prints them as '?';
 *  - they are never a format string: names holding %s%n%s come out
 *    literally, and nothing crashes.
 * (HTML escaping in reports is tested with the reports.) */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile_craft.h"
#include "onnx/fc_onnx.h"

#define EVIL "\x1b[31m\x1b[2J%s%n%s\r\x7f\xc2\x9b"
#define FMT "%s%n%s"

static char tmp[64];

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/fc-strings-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void) { hc_remove_tree(tmp); }

typedef struct run_out {
    int status;          /* exit code, or -signal */
    char out[65536], err[65536];
} run_out;

static void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs the CLI with argv (no shell: names reach it byte for byte). */
static void run_cli(const char *const *args, run_out *r)
{
    char *out = hc_path(tmp, "stdout.txt"), *err = hc_path(tmp, "stderr.txt");
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int o = open(out, O_CREAT | O_WRONLY | O_TRUNC, 0600);
        int e = open(err, O_CREAT | O_WRONLY | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        const char *argv[16] = {FLIPCHECK_BIN};
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = args[i];
        execv(FLIPCHECK_BIN, (char *const *)argv);
        _exit(127);
    }
    int ws;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -WTERMSIG(ws);
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
    free(out);
    free(err);
}

/* No byte a terminal would act on: C0 controls other than '\n', DEL, and
 * C1 controls in UTF-8 (U+0080..U+009F, e.g. U+009B = CSI). */
static void ck_no_controls(const char *what, const char *text)
{
    const unsigned char *c = (const unsigned char *)text;
    for (size_t i = 0; c[i]; i++) {
        bool bad = (c[i] < 0x20 && c[i] != '\n') || c[i] == 0x7f ||
                   (c[i] == 0xc2 && c[i + 1] >= 0x80 && c[i + 1] <= 0x9f);
        ck_assert_msg(!bad, "%s: control byte 0x%02x at offset %zu in \"%s\"", what, c[i], i,
                      text);
    }
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = strdup(v);
    ck_assert_ptr_nonnull(*field);
}

/* The conv model with every name a user sees made hostile: producer, graph
 * input name (and its use by the Conv), node names, output name. */
static Onnx__ModelProto *evil_model(void)
{
    Onnx__ModelProto *m = hc_conv_model();
    Onnx__GraphProto *g = m->graph;
    set_str(&m->producer_name, "producer" EVIL);
    set_str(&g->name, "graph" EVIL);
    set_str(&g->input[0]->name, "in" EVIL);
    set_str(&g->node[0]->input[0], "in" EVIL);
    set_str(&g->node[0]->name, "conv" EVIL);
    set_str(&g->node[1]->output[0], "out" EVIL);
    set_str(&g->output[0]->name, "out" EVIL);
    return m;
}

START_TEST(file_name_with_controls_in_an_error)
{
    /* An invalid model whose file name holds ESC sequences, CR and %n. */
    char *path = hc_write_file(tmp, "bad" EVIL ".onnx", "not a model", 11);
    run_out *r = malloc(sizeof *r);
    ck_assert_ptr_nonnull(r);
    run_cli((const char *[]){"info", path, NULL}, r);
    ck_assert_int_eq(r->status, 2);
    ck_no_controls("stderr", r->err);
    ck_assert_int_eq(count_lines(r->err), 1);
    ck_assert_msg(strstr(r->err, FMT) != NULL, "the name is not printed literally: %s", r->err);
    ck_assert_msg(strstr(r->err, "parse_error") != NULL, "%s", r->err);
    free(r);
    free(path);
}
END_TEST

START_TEST(model_strings_with_controls_in_info)
{
    char *path = hc_write_model(tmp, "evil" EVIL ".onnx", evil_model());
    run_out *r = malloc(sizeof *r);
    ck_assert_ptr_nonnull(r);
    run_cli((const char *[]){"info", path, NULL}, r);
    ck_assert_msg(r->status == 0, "exit %d: %s", r->status, r->err);
    ck_no_controls("stdout", r->out);
    ck_no_controls("stderr", r->err);
    /* Printed, literally (controls as '?'), not interpreted. */
    ck_assert_msg(strstr(r->out, "producer?[31m?[2J" FMT "???") != NULL, "%s", r->out);
    ck_assert_msg(strstr(r->out, "in?[31m?[2J" FMT) != NULL, "%s", r->out);
    ck_assert_msg(strstr(r->out, "out?[31m?[2J" FMT) != NULL, "%s", r->out);
    /* JSON output keeps the exact strings (escaped by the JSON writer). */
    run_cli((const char *[]){"info", "--json", path, NULL}, r);
    ck_assert_msg(r->status == 0, "exit %d: %s", r->status, r->err);
    /* Machine output: exact strings, C0 escaped by the JSON writer (DEL
     * and C1 are plain JSON string characters). */
    for (const char *c = r->out; *c; c++)
        ck_assert_msg((unsigned char)*c >= 0x20 || *c == '\n', "raw C0 in JSON: %s", r->out);
    ck_assert_msg(strstr(r->out, "\\u001b[31m") != NULL, "%s", r->out);
    free(r);
    free(path);
}
END_TEST

START_TEST(model_strings_in_errors)
{
    /* A node reading a value nobody produces, both named with controls and
     * conversions: the loader's message quotes them literally... */
    Onnx__ModelProto *m = hc_bare_model(13, "y");
    hc_add_node(m->graph, "Relu", "node" EVIL, "ghost" EVIL, "y");
    size_t len;
    uint8_t *bytes = hc_pack(m, &len);
    fc_graph *g = NULL;
    fc_err err;
    fc_status st = fc_onnx_load_bytes(bytes, len, NULL, "lbl" FMT, &g, &err);
    free(bytes);
    ck_assert_int_eq(st, FC_ERR_PARSE);
    ck_assert_msg(strstr(err.msg, "ghost\x1b[31m\x1b[2J" FMT) != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "lbl" FMT) != NULL, "%s", err.msg);
    /* ...and the CLI prints that message as one clean line. */
    char *path = hc_write_model(tmp, "ghost.onnx", m);
    run_out *r = malloc(sizeof *r);
    ck_assert_ptr_nonnull(r);
    run_cli((const char *[]){"info", path, NULL}, r);
    ck_assert_int_eq(r->status, 2);
    ck_no_controls("stderr", r->err);
    ck_assert_int_eq(count_lines(r->err), 1);
    ck_assert_msg(strstr(r->err, "ghost?[31m?[2J" FMT) != NULL, "%s", r->err);
    free(r);
    free(path);
}
END_TEST

START_TEST(config_strings_with_controls)
{
    /* A config naming a model and files with controls: `config --check`
     * prints them; they must come out inert. */
    char *cfg = hc_path(tmp, "c.json");
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"models\": [{\"name\": \"m\\u001b[31m%%n\", \"fp32\": \"x\\r\\u001b[2J%%s.onnx\", "
               "\"int8\": {\"file\": \"q\\u0007.onnx\"}, \"data\": {\"test\": \"t\\n.npy\"}}]}\n");
    fclose(f);
    run_out *r = malloc(sizeof *r);
    ck_assert_ptr_nonnull(r);
    run_cli((const char *[]){"config", "--check", cfg, NULL}, r);
    ck_no_controls("stdout", r->out);
    ck_no_controls("stderr", r->err);
    /* Valid (paths are not opened by --check) or refused by name rules:
     * either way one line per model or one error line. */
    if (r->status == 0)
        ck_assert_msg(strstr(r->out, "m?[31m%n") != NULL, "%s", r->out);
    else
        ck_assert_int_eq(count_lines(r->err), 1);
    free(r);
    free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile_strings");
    TCase *tc = tcase_create("strings");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, file_name_with_controls_in_an_error);
    tcase_add_test(tc, model_strings_with_controls_in_info);
    tcase_add_test(tc, model_strings_in_errors);
    tcase_add_test(tc, config_strings_with_controls);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
