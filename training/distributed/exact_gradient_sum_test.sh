#!/usr/bin/env bash
# With TrainerConfig::exact_gradient_sum, a trial's parameters are bit-identical for any number of ranks and threads.
#
# data_parallel_trial trains 50 steps at a global batch of 50 (4 leaves of 12-13 examples: uneven, and not a multiple
# of 2 or 3 ranks) on synthetic data, Simple-CNN (leaves of its 16-example chunk) and LeNet-300-100 (--leaf_examples=16),
# dense and with a random 90% mask (sparse kernels, packed all-reduce). Reference: one process, one thread. Asserted:
#  - 1 process with 2 threads, and mpirun -np 1, 2, 3 with 1 and 2 threads each: final weights equal bit for bit.
#  - The exact all-reduce sends 16 bytes per entry plus 32 (the loss and the invalid count).
#  - LeNet-300-100 with its default leaf (1,024 examples: the batch is one leaf): one process (which skips the
#    128-bit entries) against 2 and 3 ranks (which all-reduce them).
#  - Without the exact sum the same runs differ (the hole this closes: float sums in another order): P = 2 and one
#    process with 2 threads against one process with 1 thread, Simple-CNN dense, are not bit-equal.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/mpi_test_lib.sh"
trial=$1
work=${TEST_TMPDIR:-$(mktemp -d)}
source "${TEST_SRCDIR}/parsity/tools/testing/test_lib.sh"

common=(--batch_size=50 --max_steps=50 --check_interval=25 --learning_rate=0.05 --optimizer=momentum
        --consistency_check_interval=10)
declare -A parameters=([simple_cnn]=62346 [lenet_300_100]=266610)
declare -A kept=([simple_cnn]=6235 [lenet_300_100]=26661)

for network in simple_cnn lenet_300_100; do
  leaf=()
  [[ $network == lenet_300_100 ]] && leaf=(--leaf_examples=16)
  for sparsity in 0 0.9; do
    label="$network sparsity $sparsity"
    args=("${common[@]}" --network="$network" --sparsity="$sparsity" --exact_gradient_sum "${leaf[@]}")
    reference="$work/${network}_${sparsity}.bin"
    echo "=== $label: one process, one thread (reference)"
    out=$("$trial" "${args[@]}" --weights_out="$reference" | tail -1)
    echo "$out"
    expect_field "$label reference" "$out" steps 50
    out=$("$trial" "${args[@]}" --threads=2 --reference_weights="$reference" | tail -1)
    expect_field "$label, 1 process x 2 threads" "$out" weights_bitwise_equal true
    for ranks in 1 2 3; do
      for threads in 1 2; do
        out=$(mpi_run "$ranks" "$trial" "${args[@]}" --threads="$threads" --reference_weights="$reference" | tail -1)
        echo "P=$ranks x $threads threads: $out"
        expect_field "$label, $ranks ranks x $threads threads" "$out" weights_bitwise_equal true
        if [[ $ranks -gt 1 ]]; then
          entries=${parameters[$network]}
          [[ $sparsity == 0.9 ]] && entries=${kept[$network]}
          expect_field "$label, $ranks ranks" "$out" bytes_communicated_per_step $((16 * (entries + 2)))
        fi
      done
    done
  done
done

echo "=== a batch of one leaf (LeNet-300-100's default leaf of 1,024): one process takes the one-term shortcut"
args=("${common[@]}" --network=lenet_300_100 --exact_gradient_sum)
"$trial" "${args[@]}" --weights_out="$work/one_leaf.bin" >/dev/null
for ranks in 2 3; do
  out=$(mpi_run "$ranks" "$trial" "${args[@]}" --threads=2 --reference_weights="$work/one_leaf.bin" | tail -1)
  expect_field "one leaf, $ranks ranks" "$out" weights_bitwise_equal true
done

echo "=== without the exact sum, the split changes the bits"
float_args=("${common[@]}" --network=simple_cnn)
"$trial" "${float_args[@]}" --weights_out="$work/float_p1.bin" >/dev/null
out=$(mpi_run 2 "$trial" "${float_args[@]}" --reference_weights="$work/float_p1.bin" | tail -1)
expect_field "float sums, 2 ranks" "$out" weights_bitwise_equal false
out=$("$trial" "${float_args[@]}" --threads=2 --reference_weights="$work/float_p1.bin" | tail -1)
expect_field "float sums, 2 threads" "$out" weights_bitwise_equal false

finish
