#!/bin/sh
# A nightly flipcheck sweep as a Slurm job array (docs/nightly.md).
#
#   sbatch tools/slurm-sweep.sh [flipcheck sweep options...]
#       one array task per shard: each runs `flipcheck sweep`, which reads
#       its shard K/N from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT,
#       into $SWEEP_DIR/shard-K (rerunning a task resumes from its journal)
#   sbatch --dependency=afterany:<array job id> tools/slurm-sweep.sh --merge [merge options...]
#       merges every shard into $SWEEP_DIR/merged/sweep.json (e.g. with
#       --baseline last-night/sweep.json: exit 1 on regressions)
#
# Environment: FLIPCHECK (the binary, default `flipcheck` on PATH), SWEEP_DIR
# (default sweep-YYYYMMDD, UTC).  Change --array to change the shard count.
#SBATCH --job-name=flipcheck-sweep
#SBATCH --array=0-3
#SBATCH --cpus-per-task=4
#SBATCH --time=06:00:00
#SBATCH --output=flipcheck-sweep-%A_%a.log
set -eu
FLIPCHECK=${FLIPCHECK:-flipcheck}
SWEEP_DIR=${SWEEP_DIR:-sweep-$(date -u +%Y%m%d)}

if [ "${1:-}" = "--merge" ]; then
    shift
    exec "$FLIPCHECK" merge "$SWEEP_DIR"/shard-*/sweep.json --out "$SWEEP_DIR/merged" "$@"
fi

: "${SLURM_ARRAY_TASK_ID:?not in a job array: submit with sbatch, or set SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT}"
: "${SLURM_ARRAY_TASK_COUNT:?SLURM_ARRAY_TASK_COUNT is not set (Slurm 20.11 or later sets it)}"
# The shard K/N comes from the environment; the folder is per task id.
exec "$FLIPCHECK" sweep --out "$SWEEP_DIR/shard-$SLURM_ARRAY_TASK_ID" \
    --jobs "${SLURM_CPUS_PER_TASK:-1}" "$@"
