/* Nightly robustness sweeps (docs/nightly.md): every model of a config
 * over a grid of eps, attacks and engines, split into shards that a batch
 * scheduler runs on many machines and `flipcheck merge` puts back together.
 *
 * Work unit: (model, block of `block` consecutive images, attack).  A unit
 * computes every engine: f32 (the fp32 model attacked and judged), q8 (the
 * int8 twin attacked through its straight-through gradients and judged) and,
 * when both run, q8-transfer (the f32 unit's adversarials judged by the
 * twin; its records also keep the fp32 model's top-1 on the same images, so
 * the curve can show how often fp32 and int8 disagree).  Images are attacked
 * in their block, whatever the shard or thread: every per-image number is
 * computed in the same batch everywhere, so shards, threads and resumed runs
 * agree to the bit even with engines whose results depend on the batch.
 *
 * Shards: the (model, block) pairs in order, round-robin: pair p goes to
 * shard p mod N.  Journal: OUT/journal.jsonl, a header line with the plan,
 * then one line per finished unit (fsync'd); a rerun with the same OUT skips
 * the units it holds.  sweep.json is always built from parsed records by
 * fc_sweep_document, the one aggregation shared by sweeps and merges, so a
 * merge of shards equals the unsharded run exactly.
 *
 * Ownership: documents are cJSON trees the caller frees with cJSON_Delete;
 * options and configs are borrowed. */
#ifndef FC_SWEEP_H
#define FC_SWEEP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "core/fc_status.h"
#include "io/fc_config.h"

#define FC_SWEEP_MAX_EPS 256
#define FC_SWEEP_DEFAULT_BLOCK 32
#define FC_SWEEP_DEFAULT_QUERIES 1000

/* Engines of a curve, in the order of sweep.json. */
enum { FC_SWEEP_F32 = 0, FC_SWEEP_Q8 = 1, FC_SWEEP_Q8_TRANSFER = 2, FC_SWEEP_N_ENGINES = 3 };
/* "f32", "q8", "q8-transfer"; parse returns -1 for another name. */
const char *fc_sweep_engine_name(int e);
int fc_sweep_engine_parse(const char *name);

typedef struct fc_sweep_options {
    const fc_config *cfg;        /* the models (borrowed) */
    unsigned attacks;            /* bits 1u << FC_ATTACK_FGSM, _PGD, _BOUNDARY */
    bool f32, q8;                /* engines; q8-transfer comes with both */
    int n_eps;
    double eps[FC_SWEEP_MAX_EPS];/* ascending, distinct, in [0, 1] */
    int64_t block;               /* images per unit (0 = FC_SWEEP_DEFAULT_BLOCK) */
    int64_t max_images;          /* per model, 0 = the config's */
    int pgd_steps;               /* 0 = the config's */
    int64_t boundary_queries;    /* per image (0 = FC_SWEEP_DEFAULT_QUERIES) */
    int shard_index, shard_count;/* 0 and 1 when not sharded */
    int jobs;                    /* threads (>= 1) */
    const char *out_dir;         /* journal.jsonl, int8/ (calibrated twins) */
    FILE *progress;              /* NULL = silent */
    bool progress_tty;           /* a redrawn bar rather than periodic lines */
} fc_sweep_options;

/* What a sweep did, for the command line. */
typedef struct fc_sweep_stats {
    int64_t units, units_skipped;   /* of this shard; skipped = found in the journal */
    int64_t images;                 /* model-images of this shard computed now */
    double seconds;
} fc_sweep_stats;

/* Runs this shard's units (those not in the journal yet) and returns the
 * sweep document (*doc) built from the whole journal.  Fails naming the
 * model, file or journal at fault; a unit that fails is recorded in the
 * document's "failures" (a crash of that unit), not returned as an error. */
fc_status fc_sweep_run(const fc_sweep_options *o, cJSON **doc, fc_sweep_stats *stats,
                       fc_err *err);

/* The aggregation: takes ownership of `plan`, `shard`, `records` and
 * `failures` (cJSON arrays of record / failure objects), sorts them and
 * returns the document with its "curves". */
fc_status fc_sweep_document(cJSON *plan, cJSON *shard, cJSON *records, cJSON *failures,
                            cJSON **doc, fc_err *err);

/* Merges shard documents (files) into one: every shard 0..N-1 exactly
 * once and the same plan, else an error naming the missing, duplicated or
 * mismatched files. */
fc_status fc_sweep_merge(const char *const *paths, int n, cJSON **doc, fc_err *err);

/* Reads a sweep.json. */
fc_status fc_sweep_load(const char *path, cJSON **doc, fc_err *err);

/* Compares doc with a previous sweep: robust accuracy lower by more than
 * acc_tol at an eps both have, the fp32/int8 disagreement of a q8-transfer
 * curve higher by more than flip_tol, or a failure (crash) the baseline
 * did not have.  Adds doc["regressions"] (an array, possibly empty) and
 * returns how many in *count. */
fc_status fc_sweep_compare(cJSON *doc, const cJSON *baseline, double acc_tol, double flip_tol,
                           int *count, fc_err *err);

/* Writes doc to OUT/sweep.json (atomically). */
fc_status fc_sweep_write(const cJSON *doc, const char *out_dir, fc_err *err);

#endif
