#!/usr/bin/env bash
# Runs allreduce_benchmark under mpirun for P = 1, 2, 4 ranks (4 oversubscribes a 2-core machine), batch sizes 256
# and 4096, dense and 90% sparse (random mask, packed all-reduce), and prints a Markdown table.
#
#   bazel build //training/distributed:allreduce_benchmark
#   training/distributed/allreduce_benchmark.sh bazel-bin/training/distributed/allreduce_benchmark
#   ... --smoke: one tiny configuration per P, for the test that keeps this script working.
# The timed runs use Open MPI's defaults (ranks bound to cores up to P = 2, shared-memory single copy); the smoke run
# uses the test settings of mpi_test_lib.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/mpi_test_lib.sh"
run() {
  if [[ $smoke == --smoke ]]; then mpi_run "$@"; else
    local ranks=$1
    shift
    mpirun --oversubscribe -np "$ranks" "$@" </dev/null
  fi
}
binary=$1
smoke=${2:-}
ranks_list=(1 2 4)
batches=(256 4096)
sparsities=(0 0.9)
if [[ $smoke == --smoke ]]; then
  ranks_list=(1 2)
  batches=(16)
  sparsities=(0.9)
fi
steps_for() {
  if [[ $smoke == --smoke ]]; then echo "--warmup_steps=1 --steps=1"; elif (($1 >= 4096)); then
    echo "--warmup_steps=1 --steps=6"
  else echo "--warmup_steps=3 --steps=40"; fi
}
field() { grep -o "\"$2\":[^,}]*" <<<"$1" | cut -d: -f2; }

echo "| batch | sparsity | P | ms / step | all-reduce ms / step (incl. waiting) | compute ms / step | bytes / step |" \
  "all-reduce alone, µs | speedup vs P = 1 |"
echo "|---|---|---|---|---|---|---|---|---|"
for batch in "${batches[@]}"; do
  for sparsity in "${sparsities[@]}"; do
    base=""
    for ranks in "${ranks_list[@]}"; do
      # shellcheck disable=SC2046
      json=$(run "$ranks" "$binary" --batch_size="$batch" --sparsity="$sparsity" $(steps_for "$batch") | tail -1)
      step=$(field "$json" ms_per_step)
      allreduce=$(field "$json" allreduce_ms_per_step)
      bytes=$(field "$json" bytes_per_step)
      alone=$(field "$json" allreduce_alone_us)
      [[ -n $base ]] || base=$step
      awk -v b="$batch" -v s="$sparsity" -v p="$ranks" -v t="$step" -v a="$allreduce" -v y="$bytes" -v t1="$base" \
        -v u="$alone" 'BEGIN { printf "| %d | %s | %d | %.1f | %.2f | %.1f | %d | %.0f | %.2f |\n",
                                      b, s, p, t, a, t - a, y, u, t1 / t }'
    done
  done
done
