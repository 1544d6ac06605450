/* flipcheck merge: the sweep.json of every shard of a sweep -> one
 * sweep.json equal to the unsharded run's (docs/nightly.md). */
#include <stdio.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_common.h"
#include "core/fc_alloc.h"
#include "sweep/fc_sweep.h"

static const char usage[] =
    "usage: flipcheck merge SHARD1/sweep.json SHARD2/sweep.json ... [--out DIR]\n"
    "                       [--baseline OLD.json] [--tolerance PTS] [--flip-tolerance PTS]\n"
    "\n"
    "Combines the shards of one sweep into DIR/sweep.json (default\n"
    "flipcheck-sweep): the same numbers and per-image records as the sweep run\n"
    "unsharded.  Every shard 0..N-1 must be given exactly once, all of the same\n"
    "plan; a missing or duplicated shard is an error naming it.  --baseline\n"
    "compares the merged sweep with a previous one, as flipcheck sweep does.\n"
    "Exit: 0 ok, 1 regressions or failed units, 2 usage or input error.\n";

enum { O_OUT, O_BASELINE, O_TOL, O_FLIP_TOL, O_COUNT };

#define MAX_SHARDS 4096

int cli_merge_main(int argc, char **argv)
{
    static const cli_opt opts[O_COUNT] = {[O_OUT] = {"--out", true},
                                          [O_BASELINE] = {"--baseline", true},
                                          [O_TOL] = {"--tolerance", true},
                                          [O_FLIP_TOL] = {"--flip-tolerance", true}};
    const char *out = "flipcheck-sweep", *baseline = NULL;
    long tol = 2, flip_tol = 2;
    const char **paths = fc_calloc(MAX_SHARDS, sizeof *paths);
    if (!paths) {
        fprintf(stderr, "flipcheck merge: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    int n = 0, rc = -1;
    cli_parser p;
    cli_parser_init(&p, "merge", argc, argv, opts, O_COUNT);
    const char *v;
    for (int k; rc < 0 && (k = cli_next(&p, &v)) != CLI_ARG_END;) {
        switch (k) {
        case CLI_ARG_ERR: rc = CLI_EXIT_USAGE; break;
        case CLI_ARG_HELP:
            fputs(usage, stdout);
            rc = CLI_EXIT_OK;
            break;
        case CLI_ARG_POS:
            if (n == MAX_SHARDS)
                rc = cli_usage_error("merge", "at most %d shards", MAX_SHARDS);
            else
                paths[n++] = v;
            break;
        case O_OUT: out = v; break;
        case O_BASELINE: baseline = v; break;
        case O_TOL:
        case O_FLIP_TOL:
            if (!cli_parse_int("merge", k == O_TOL ? "--tolerance" : "--flip-tolerance", v, 0,
                               100, k == O_TOL ? &tol : &flip_tol))
                rc = CLI_EXIT_USAGE;
            break;
        default: break;
        }
    }
    if (rc < 0 && n == 0)
        rc = cli_usage_error("merge", "no shard files given");
    if (rc >= 0) {
        fc_free(paths);
        return rc;
    }
    cJSON *doc = NULL;
    fc_err err;
    fc_err_clear(&err);
    fc_status st = fc_sweep_merge(paths, n, &doc, &err);
    fc_free(paths);
    if (st)
        return cli_report("merge", &err);
    printf("merged %d shards\n", n);
    return cli_sweep_finish(doc, out, baseline, (double)tol, (double)flip_tol);
}
