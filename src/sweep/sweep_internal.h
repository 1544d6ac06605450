/* Shared by the sweep's files (sweep_run.c drives, sweep_unit.c attacks
 * one unit, sweep_doc.c aggregates, merges and compares); not public. */
#ifndef SWEEP_INTERNAL_H
#define SWEEP_INTERNAL_H

#include <stdint.h>

#include "attacks/fc_attack.h"
#include "attacks/fc_model.h"
#include "io/fc_dataset.h"
#include "sweep/fc_sweep.h"

/* One model of the sweep: read-only once the threads start. */
typedef struct sweep_model {
    const fc_model_config *mc;
    char int8_path[4096];      /* the twin's file (given, or calibrated into OUT/int8) */
    fc_dataset data;           /* owned */
    int64_t n_blocks;
    int pgd_steps;
    uint64_t seed;
} sweep_model;

typedef struct sweep_unit {
    int model;
    int64_t block;
    int attack;                /* fc_attack_kind */
    int done;                  /* found in the journal or finished now */
} sweep_unit;

/* A thread's open models (fc_model is not thread-safe). */
typedef struct sweep_open {
    int model;                 /* -1 = none open */
    fc_model *f32, *q8;
} sweep_open;

/* Attacks unit u with the models of `open` (opened by the caller for
 * u->model) and appends one record object per image and engine to
 * `records`. */
fc_status sweep_unit_run(const fc_sweep_options *o, const sweep_model *sm, sweep_open *open,
                         const sweep_unit *u, cJSON *records, fc_err *err);

/* Index of an attack name among the sweep's attacks ("fgsm" 0, "pgd" 1,
 * "boundary" 3: the fc_attack_kind), -1 otherwise. */
int sweep_attack_parse(const char *name);

/* A JSON number as an integer: files may hold anything, so out-of-range
 * values (and NaN) become -1 rather than an undefined conversion. */
static inline int64_t sweep_i64(double v)
{
    return v >= -1e9 && v <= 1e15 ? (int64_t)v : -1;
}

/* {"index": K, "count": N}; NULL when out of memory. */
cJSON *sweep_shard_json(int index, int count);

/* OUT/journal.jsonl: opens it for appending (*fd), writing the header line
 * {"flipcheck_sweep_journal": 1, "plan": ..., "shard": ...} when new, else
 * checking that the header has this plan and shard and cutting a last line
 * an interrupted write left half-written. */
fc_status sweep_journal_open(const char *out_dir, const cJSON *plan, const cJSON *shard, int *fd,
                             fc_err *err);
/* Reads the journal's unit lines: marks units[].done and, when records is
 * not NULL, returns the records (*records) and failures (*failures) of the
 * first line of each unit, new arrays the caller owns.  A unit that is not
 * among `units` is an error naming the line. */
fc_status sweep_journal_load(const char *out_dir, const sweep_model *models, int n_models,
                             sweep_unit *units, int64_t n_units, cJSON **records,
                             cJSON **failures, fc_err *err);

#endif
