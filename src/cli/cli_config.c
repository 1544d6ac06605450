/* flipcheck config: print the default configuration, or check a file. */
#include <stdio.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "io/fc_config.h"

static const char usage[] =
    "usage: flipcheck config --print-default\n"
    "       flipcheck config --check FILE\n"
    "\n"
    "--print-default prints the configuration `flipcheck run` uses without\n"
    "--config (paths relative to the source tree); --check validates FILE and\n"
    "prints its models (exit 2 with the JSON path of the first problem).\n"
    "The format is documented in docs/config.md.\n";

enum { O_PRINT, O_CHECK, O_COUNT };

int cli_config_main(int argc, char **argv)
{
    static const cli_opt opts[O_COUNT] = {[O_PRINT] = {"--print-default", false},
                                          [O_CHECK] = {"--check", true}};
    bool print = false;
    const char *check = NULL;
    cli_parser p;
    cli_parser_init(&p, "config", argc, argv, opts, O_COUNT);
    const char *v;
    for (int k; (k = cli_next(&p, &v)) != CLI_ARG_END;) {
        switch (k) {
        case CLI_ARG_ERR: return CLI_EXIT_USAGE;
        case CLI_ARG_HELP: fputs(usage, stdout); return CLI_EXIT_OK;
        case CLI_ARG_POS: return cli_usage_error("config", "unexpected argument '%s'", v);
        case O_PRINT: print = true; break;
        case O_CHECK: check = v; break;
        default: break;
        }
    }
    if (print == (check != NULL))
        return cli_usage_error("config", "give one of --print-default or --check FILE");
    if (print) {
        char *text = fc_config_default_json();
        if (!text) {
            fc_err err;
            fc_err_set(&err, FC_ERR_NOMEM, "out of memory");
            return cli_report("config", &err);
        }
        fputs(text, stdout);
        fc_free(text);
        return CLI_EXIT_OK;
    }
    fc_config c;
    fc_err err;
    fc_err_clear(&err);
    if (fc_config_load(check, &c, &err))
        return cli_report(check, &err);
    for (int i = 0; i < c.n_models; i++)
        printf("%s: fp32 %s, int8 %s, test data %s\n", cli_tty(c.models[i].name),
               cli_tty(c.models[i].fp32),
               c.models[i].int8 ? cli_tty(c.models[i].int8) : "(calibrated)",
               cli_tty(c.models[i].test_data));
    printf("%s: %d model%s, valid\n", cli_tty(check), c.n_models, c.n_models == 1 ? "" : "s");
    fc_config_free(&c);
    return CLI_EXIT_OK;
}
