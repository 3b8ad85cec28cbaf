#!/usr/bin/env bash
# The one place that knows how each shardable grid is run and merged; the Kubernetes Jobs and the
# Slurm scripts only map their task index to a 1-based shard number and call this.
#
#   plora-grid.sh shard <grid> <i> <n> [grid flags…]   run shard i of n (1 ≤ i ≤ n)
#   plora-grid.sh merge <grid> <n> [grid flags…]       join shards 1…n into the grid's result
#
# <grid>: sweep | value-add | ablation | gate-population. Results go under $RESULTS (default
# ./results), one folder or file per shard. The grid flags are passed to every shard, and to
# `plora sweep merge` (which needs them to know the grid); the other merges read the grid from the
# shard folders. $PLORA_WORKERS, when set, is the worker count (the sweep gets it as --workers).
set -euo pipefail

usage() {
  echo "usage: plora-grid.sh shard <grid> <i> <n> [grid flags…] | merge <grid> <n> [grid flags…]" >&2
  echo "  grids: sweep value-add ablation gate-population; found: $*" >&2
  exit 2
}
is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

R=${RESULTS:-results}
step=${1:-}
grid=${2:-}
[[ $step == shard || $step == merge ]] || usage "$@"
if [[ $step == shard ]]; then
  [[ $# -ge 4 ]] && is_count "$3" && is_count "$4" && (($3 <= $4)) || usage "$@"
  i=$3 n=$4
  shift 4
  case $grid in
  sweep) exec plora sweep --shard "$i/$n" --out "$R/sweep_shard_$i.jsonl" ${PLORA_WORKERS:+--workers "$PLORA_WORKERS"} "$@" ;;
  value-add) exec plora value-add run --shard "$i/$n" --output "$R/value_add_shard_$i" "$@" ;;
  ablation) exec plora ablation --shard "$i/$n" --out "$R/ablation_shard_$i" "$@" ;;
  gate-population) exec plora probes population --shard "$i/$n" --population-dir "$R/gate_study/population_shard_$i" "$@" ;;
  *) usage "$@" ;;
  esac
fi
[[ $# -ge 3 ]] && is_count "$3" || usage "$@"
n=$3
shift 3
# Every shard by name (not a glob), so a missing one is refused by the merge instead of skipped.
parts=()
for ((i = 1; i <= n; i++)); do
  case $grid in
  sweep) parts+=("$R/sweep_shard_$i.jsonl") ;;
  value-add) parts+=("$R/value_add_shard_$i") ;;
  ablation) parts+=("$R/ablation_shard_$i") ;;
  gate-population) parts+=("$R/gate_study/population_shard_$i") ;;
  *) usage "$@" ;;
  esac
done
case $grid in
sweep) exec plora sweep merge "${parts[@]}" --out "$R/sweep.jsonl" "$@" ;;
value-add) exec plora value-add merge "${parts[@]}" --output "$R/value_add" ;;
ablation) exec plora ablation merge "${parts[@]}" --out "$R/ablation" ;;
gate-population) exec plora probes population merge "${parts[@]}" --population-dir "$R/gate_study/gate_population" ;;
esac
