/* The reports of a run: report.json, report.html and junit.xml.
 *
 * Input is the results.json tree of a run (docs/suites.md); reports read
 * results only and never run a model.  Example thumbnails are read from
 * the .npy files results.json names, relative to the results folder.
 *
 *   report.json  results.json plus a "report" block (docs/report-schema.json,
 *                docs/reports.md): a faithful superset, same schema_version
 *   report.html  one self-contained page: pass/fail grid, inline SVG charts,
 *                thumbnails as PNG data URIs; no script, font or image from
 *                elsewhere; every string from a file is escaped
 *   junit.xml    one testsuite per model and suite, one testcase per test
 *
 * A sweep document (sweep.json of `flipcheck sweep` / `merge`, recognised
 * by its "flipcheck_sweep" and "curves" members) gets the same three files:
 * report.json = sweep.json plus the report block, a page of curves against
 * eps per model and attack with the regressions and failed units, and a
 * junit.xml with one testcase per curve and per failed unit.
 *
 * Each file is written atomically (temporary file renamed over it). */
#ifndef FC_REPORT_H
#define FC_REPORT_H

#include <cjson/cJSON.h>

#include "core/fc_status.h"

/* Version of the "report" block added to report.json (the rest keeps the
 * results' own schema_version). */
#define FC_REPORT_VERSION 1

/* Writes the three files into out_dir (created when missing) from a run's
 * results or a sweep document.  data_dir is
 * the folder results.json lives in (example paths are relative to it); NULL
 * means out_dir.  results is only read; the caller keeps it.  A missing or
 * unreadable example file does not fail the report: the page says which
 * file and why. */
fc_status fc_report_write(const cJSON *results, const char *data_dir, const char *out_dir,
                          fc_err *err);

/* fc_report_write(results, out_dir, out_dir, err): what a run calls at its
 * end, with the results it has just written to out_dir/results.json. */
fc_status fc_report_write_all(const cJSON *results, const char *out_dir, fc_err *err);

#endif
