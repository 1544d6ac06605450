/* Shared pieces of the flipcheck command line: exit codes, option parsing,
 * error lines, loading models and data, JSON and timing helpers.
 *
 * The CLI is the only layer that prints for a person or decides an exit
 * code; everything below it returns fc_status and fills an fc_err. */
#ifndef CLI_COMMON_H
#define CLI_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/fc_status.h"
#include "core/fc_tensor.h"
#include "onnx/fc_ir.h"

/* Exit codes, the same for every command. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_CHECK_FAILED = 1,
    CLI_EXIT_USAGE = 2, /* usage or input error */
};

/* ---- option parsing -------------------------------------------------------- */

typedef struct cli_opt {
    const char *name;    /* "--batch" */
    bool has_value;
} cli_opt;

typedef struct cli_parser {
    const char *cmd;     /* "infer", for messages */
    int argc;
    char **argv;
    int i;               /* next argv index */
    const cli_opt *opts;
    int n_opts;
    bool only_pos;       /* after "--" */
} cli_parser;

enum {
    CLI_ARG_POS = -1,    /* *value is a positional argument */
    CLI_ARG_END = -2,    /* no more arguments */
    CLI_ARG_ERR = -3,    /* a usage error was printed to stderr */
    CLI_ARG_HELP = -4,   /* --help or -h */
};

/* argv[0] is the first argument after the command name. */
void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv,
                     const cli_opt *opts, int n_opts);
/* Returns the index into opts of the next option (its value in *value when
 * it takes one; "--opt=value" works too), or one of CLI_ARG_*. */
int cli_next(cli_parser *p, const char **value);

/* Parses a decimal integer in [lo, hi] for option `opt`; prints a one-line
 * usage error and returns false otherwise. */
bool cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi,
                   long *out);

/* Prints "flipcheck CMD: <message>" (and a pointer to --help) to stderr;
 * returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "flipcheck: FILE: STATUS: MSG" on one line to stderr (dropping a
 * leading "FILE: " from MSG so the file is named once) and returns
 * CLI_EXIT_USAGE. */
int cli_report(const char *file, const fc_err *err);

/* Untrusted text (file names, names from models and configs, messages
 * quoting them) made safe for a terminal: every control character (C0
 * including newline and carriage return, DEL, and the C1 range encoded as
 * UTF-8) becomes '?', so a name cannot move the cursor, recolour the
 * screen or forge an extra output line.  Returns one of 8 rotating static
 * buffers (so a printf can take several), truncated to 4095 bytes; never
 * NULL ("" for NULL).  JSON output needs no such step: cJSON escapes. */
const char *cli_tty(const char *s);

/* msg without a leading "FILE: " (lower layers start messages with the
 * file name; the CLI names it once). */
const char *cli_strip_file(const char *msg, const char *file);

/* ---- models and data ------------------------------------------------------- */

/* fc_onnx_load; on failure prints the error line and returns false. */
bool cli_load_model(const char *path, fc_graph **out);

/* "[N,1,28,28]" for a declared value shape: symbolic axis 0 as N, other
 * unknown dims as ?, "unknown" when the rank is not declared. */
const char *cli_value_shape_str(const fc_value *v, char *buf, size_t size);

/* A JSON array for a declared shape ("N" / "?" strings for unknown dims),
 * or JSON null when the rank is not declared. NULL when out of memory. */
cJSON *cli_value_shape_json(const fc_value *v);

/* Prints a cJSON tree on one line followed by '\n'; false if out of memory. */
bool cli_print_json(const cJSON *root);

/* Seconds from CLOCK_MONOTONIC. */
double cli_now(void);

/* True if path ends with suffix (ASCII case-insensitive). */
bool cli_has_suffix(const char *path, const char *suffix);

#endif
