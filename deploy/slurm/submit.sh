#!/usr/bin/env bash
# Queues the N shards of a grid as an array job and the merge behind it (afterok: only when every
# shard succeeded). Run from the repository root on a shared filesystem, with plora on PATH.
#   deploy/slurm/submit.sh <grid> <N> [grid flags…]    e.g. deploy/slurm/submit.sh sweep 8 --ns 20,40
# Extra sbatch options go in $SBATCH_ARGS (e.g. "--partition=cpu --account=lab").
set -euo pipefail

grid=${1:?usage: submit.sh <grid> <N> [grid flags…]}
n=${2:?usage: submit.sh <grid> <N> [grid flags…]}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: N must be a positive integer, found '$n'" >&2; exit 2; }
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PLORA_GRID=$here/../plora-grid.sh
export RESULTS=${RESULTS:-$PWD/results}
mkdir -p "$RESULTS"
# shellcheck disable=SC2086 # SBATCH_ARGS is a list of options
jobid=$(sbatch --parsable ${SBATCH_ARGS:-} --array="1-$n" "$here/shards.sbatch" "$grid" "$@")
jobid=${jobid%%;*} # --parsable prints "id" or "id;cluster"
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${SBATCH_ARGS:-} --dependency="afterok:$jobid" "$here/merge.sbatch" "$grid" "$n" "$@")
echo "shards: job $jobid (array 1-$n); merge: job ${merge%%;*} after it; results in $RESULTS"
