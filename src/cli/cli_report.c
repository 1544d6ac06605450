/* flipcheck report: the reports (report.json, report.html, junit.xml) again
 * from a results.json, e.g. after a run on another machine or with a newer
 * flipcheck.  `run` writes the same three files itself. */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "reports/fc_report.h"

/* results.json of a big run is a few megabytes; this only stops a wrong
 * file from being read whole. */
#define CLI_REPORT_MAX_INPUT (1ull << 30)

static const char usage[] =
    "usage: flipcheck report --in RESULTS.json [--out DIR]\n"
    "\n"
    "Writes report.json (the results plus a report block, docs/report-schema.json),\n"
    "report.html (one self-contained page: pass/fail grid, charts, examples) and\n"
    "junit.xml (one testsuite per model and suite) into DIR (docs/reports.md).\n"
    "Example files named in the results are read relative to the folder of\n"
    "RESULTS.json.  A sweep.json (flipcheck sweep, merge) gets the same three\n"
    "files: its curves against eps, regressions and failed units.\n"
    "\n"
    "  --in FILE   results.json (or report.json) of a run, or a sweep.json\n"
    "  --out DIR   where to write (default: the folder of FILE)\n"
    "\n"
    "Exit: 0 written, 2 usage or input error.\n";

enum { O_IN, O_OUT, O_COUNT };

int cli_report_main(int argc, char **argv)
{
    static const cli_opt opts[O_COUNT] = {[O_IN] = {"--in", true}, [O_OUT] = {"--out", true}};
    const char *in = NULL, *out = NULL, *v;
    cli_parser p;
    cli_parser_init(&p, "report", argc, argv, opts, O_COUNT);
    for (int k; (k = cli_next(&p, &v)) != CLI_ARG_END;) {
        switch (k) {
        case CLI_ARG_ERR: return CLI_EXIT_USAGE;
        case CLI_ARG_HELP: fputs(usage, stdout); return CLI_EXIT_OK;
        case CLI_ARG_POS: return cli_usage_error("report", "unexpected argument '%s'", v);
        case O_IN: in = v; break;
        case O_OUT: out = v; break;
        default: break;
        }
    }
    if (!in)
        return cli_usage_error("report", "--in RESULTS.json is required");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", in);
    const char *data_dir = dirname(dir);
    if (!out)
        out = data_dir;
    fc_err err;
    fc_err_clear(&err);
    uint8_t *text = NULL;
    size_t len = 0;
    if (fc_file_read_all(in, CLI_REPORT_MAX_INPUT, "results", &text, &len, &err))
        return cli_report(in, &err);
    cJSON *root = cJSON_ParseWithLength((const char *)text, len);
    fc_free(text);
    if (!root) {
        fc_err_set(&err, FC_ERR_PARSE, "not valid JSON");
        return cli_report(in, &err);
    }
    fc_status st = fc_report_write(root, data_dir, out, &err);
    cJSON_Delete(root);
    if (st)
        return cli_report(in, &err);
    printf("report.json, report.html, junit.xml in %s\n", out);
    return CLI_EXIT_OK;
}
