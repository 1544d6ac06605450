/* Verdicts for tests/test_hostile_models.c: every hostile file must end in
 * a named error (a status other than internal_error, recorded in err, with a
 * non-empty message naming the file) -- or, when a mutation still yields a
 * valid model, in clean runs or named errors from both engines.
 *
 * hc_set_case() names the case under test; a crash (signal, or an ASan
 * report) prints it, and HOSTILE_TRACE=1 in the environment prints every
 * case as it starts. */
#ifndef HOSTILE_CHECK_H
#define HOSTILE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "core/fc_status.h"
#include "onnx.pb-c.h"
#include "onnx/fc_ir.h"

typedef struct hc_tally {
    int refused;          /* by the loader */
    int loaded;
    int engine_refused;   /* engine creation or run */
    int ran;              /* engine runs that succeeded */
    int ran_nonfinite;    /* ... with a NaN or Inf among float outputs */
    int by_status[FC_STATUS_COUNT];
} hc_tally;

enum { HC_LOADER, HC_LOADER_OR_ENGINES };

/* Per-test fixture: makes hc_root (a fresh mkdtemp folder) and installs
 * crash reporting; the teardown removes the folder. */
extern char hc_root[64];
void hc_setup(void);
void hc_teardown(void);

void hc_set_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *hc_case(void);
void hc_print_tally(const char *what, const hc_tally *t);

/* st must be a named refusal (see above) whose message contains label. */
void hc_expect_named(fc_status st, const fc_err *err, const char *label);
/* hc_expect_named, and st == want unless want is FC_OK, and the message
 * mentions `also` unless that is NULL. */
void hc_check_refusal(fc_status st, const fc_err *err, const char *label, fc_status want,
                      const char *also);

/* Creates engine `kind` for g and runs it once on zero inputs (declared
 * shapes; symbolic, negative or huge dims fed as 1).  FC_OK if both worked,
 * else the checked named status with *err filled. */
fc_status hc_engine_try(const fc_graph *g, const char *kind, const char *label, hc_tally *t,
                        fc_err *err);

/* One mutated file (bytes must be an exact-size buffer so ASan sees
 * over-reads): refused by the loader with a named error, or run (or refused
 * by name) by both engines.  dir resolves external data (NULL: none). */
void hc_load_case(const uint8_t *bytes, size_t len, const char *dir, const char *label,
                  hc_tally *t);

/* Packs (and frees) a crafted model and loads it as label: the loader -- or
 * with HC_LOADER_OR_ENGINES the loader or else both engines -- must refuse
 * it as hc_check_refusal describes. */
void hc_must_refuse(Onnx__ModelProto *m, const char *dir, const char *label, int where,
                    fc_status want, const char *also);

/* Loads the first `cut` bytes (an exactly-sized copy) as
 * "<name>-cut<cut>.onnx" through hc_load_case. */
void hc_truncated(const uint8_t *bytes, size_t cut, const char *name, hc_tally *t);

/* n seeded mutations of base through hc_load_case, in turn single-bit
 * flips, 2..8-bit flips and 2..8 random byte overwrites; when hot > 0, half
 * of the positions fall within hot bytes of either end.  Each case's label
 * and positions go to hc_set_case so a failure can be replayed. */
void hc_mutate(const uint8_t *base, size_t len, const char *name, int n, uint64_t seed,
               size_t hot, hc_tally *t);

/* g is hc_conv_model() (W possibly from external data): W's values and
 * both engines' outputs on x = ones are right. */
void hc_check_conv_outputs(const fc_graph *g, const char *label);

/* Runs `bin info PATH` (or, for cmd "infer", `bin infer --model PATH DATA`)
 * and requires exit status 2 and exactly one non-empty stderr line naming
 * PATH's file name. */
void hc_cli_refuses(const char *bin, const char *cmd, const char *path, const char *data);

#endif
