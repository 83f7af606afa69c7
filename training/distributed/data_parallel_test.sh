#!/usr/bin/env bash
# Synchronous data-parallel training gives the one-process results, and failures end the whole job loudly.
#
# data_parallel_trial trains LeNet-300-100 for 200 steps (global batch 64, momentum) on synthetic data, as one
# process and under mpirun with P = 2 and 3 ranks, dense and with a random 90% mask. Asserted:
#  - P = 2, 3 against P = 1, dense and sparse (packed all-reduce): the same steps_to_goal and the same validation
#    error at all 20 checks, and final weights within 16 float eps x max|w| of the one-process weights (the ranks
#    add shard sums, the one process adds chunk sums: the orders differ, so the bits may; measured: at most 1 ulp
#    of the largest weight, i.e. under 1 eps x max|w|).
#  - P = 2, sparse: the packed all-reduce and the dense all-reduce of the whole buffer give bit-identical weights;
#    the packed one sends 10% of the bytes.
#  - mpirun -np 1 (MPI active, one rank, no reducer) gives the plain run's weights bit for bit.
#  - A rank that exits non-zero, aborts, or returns an error mid-training ends the job: mpirun exits non-zero, and
#    the output names the failing rank and the reason.
#  - One rank's weights changed by one ulp make the trainer's consistency check abort the job naming that rank.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/mpi_test_lib.sh"
trial=$1
work=${TEST_TMPDIR:-$(mktemp -d)}
source "${TEST_SRCDIR}/parsity/tools/testing/test_lib.sh"

dense=(--learning_rate=0.001 --check_interval=10 --goal_error=0.05)
sparse=(--learning_rate=0.01 --check_interval=10 --goal_error=0.3 --sparsity=0.9)
lenet_parameters=266610

# expect_same_trajectory LABEL JSON REFERENCE_JSON: same steps_to_goal and validation errors at every check.
expect_same_trajectory() {
  expect_field "$1" "$2" steps_to_goal "$(field "$3" steps_to_goal)"
  expect_field "$1" "$2" validation_errors "$(field "$3" validation_errors)"
  expect_field "$1 (max |dw| $(field "$2" max_abs_weight_difference))" "$2" weights_within_tolerance true
}

echo "=== one process"
p1_dense=$("$trial" "${dense[@]}" --weights_out="$work/dense_p1.bin" | tail -1)
p1_sparse=$("$trial" "${sparse[@]}" --weights_out="$work/sparse_p1.bin" | tail -1)
echo "$p1_dense"
echo "$p1_sparse"
expect_field "P=1 dense" "$p1_dense" steps_to_goal 80
expect_field "P=1 sparse" "$p1_sparse" steps_to_goal 150
expect_field "P=1" "$p1_dense" bytes_communicated_per_step 0

echo "=== mpirun -np 1"
out=$(mpi_run 1 "$trial" "${dense[@]}" --reference_weights="$work/dense_p1.bin" | tail -1)
expect_field "mpirun -np 1" "$out" ranks 1
expect_field "mpirun -np 1" "$out" weights_bitwise_equal true

for ranks in 2 3; do
  echo "=== mpirun -np $ranks"
  out=$(mpi_run "$ranks" "$trial" "${dense[@]}" --reference_weights="$work/dense_p1.bin" --weight_tolerance_eps=16 |
        tail -1)
  echo "$out"
  expect_field "P=$ranks dense" "$out" ranks "$ranks"
  expect_same_trajectory "P=$ranks dense" "$out" "$p1_dense"
  expect_field "P=$ranks dense" "$out" bytes_communicated_per_step $((4 * lenet_parameters))

  out=$(mpi_run "$ranks" "$trial" "${sparse[@]}" --reference_weights="$work/sparse_p1.bin" --weight_tolerance_eps=16 \
        --weights_out="$work/sparse_p${ranks}_packed.bin" | tail -1)
  echo "$out"
  expect_field "P=$ranks sparse" "$out" sparse_allreduce true
  expect_same_trajectory "P=$ranks sparse" "$out" "$p1_sparse"
  # round(266610 x 0.1) = 26661 kept entries.
  expect_field "P=$ranks sparse" "$out" bytes_communicated_per_step $((4 * 26661))
done

echo "=== P=2: packed sparse all-reduce against the dense all-reduce of the same masked training"
out=$(mpi_run 2 "$trial" "${sparse[@]}" --sparse_allreduce=false --reference_weights="$work/sparse_p2_packed.bin" |
      tail -1)
echo "$out"
expect_field "P=2 sparse, dense all-reduce" "$out" sparse_allreduce false
expect_field "P=2 sparse, dense all-reduce" "$out" bytes_communicated_per_step $((4 * lenet_parameters))
expect_field "P=2 packed vs dense all-reduce" "$out" weights_bitwise_equal true

# expect_job_fails LABEL CODE NEEDLE... -- ARGS: mpirun -np 2 with ARGS exits with CODE and its output (stdout and
# stderr) has every NEEDLE. mpirun passes on the first failing rank's exit code, 128 + signal for a signal, or
# MPI_Abort's error code.
expect_job_fails() {
  local label=$1 expected_code=$2
  shift 2
  local needles=()
  while [[ $1 != -- ]]; do needles+=("$1"); shift; done
  shift
  local output code
  output=$(mpi_run 2 "$trial" --max_steps=40 "$@" 2>&1)
  code=$?
  if [[ $code -ne $expected_code ]]; then
    fail "$label: mpirun exited $code, not $expected_code"
    echo "$output"
    return
  fi
  local needle
  for needle in "${needles[@]}"; do
    if [[ "$output" != *"$needle"* ]]; then fail "$label: output lacks '$needle':"; echo "$output"; return; fi
  done
  echo "ok: $label: mpirun exited $code and said: ${needles[*]}"
}

echo "=== failures"
expect_job_fails "rank 1 exits with status 3" 3 \
  "rank 1: failing on purpose after step 5" "exited with non-zero status" "Exit code:    3" \
  -- --test_fail_rank=1 --test_fail_step=5 --test_fail_how=exit
expect_job_fails "rank 1 aborts" 134 \
  "rank 1: failing on purpose after step 5" "process rank 1" "exited on signal 6 (Aborted)" \
  -- --test_fail_rank=1 --test_fail_step=5 --test_fail_how=abort
# (Open MPI's own "MPI_ABORT was invoked on rank 1" banner is sometimes lost when mpirun stops the job first.)
expect_job_fails "rank 1 returns an error" 1 \
  "data_parallel_trial: rank 1 of 2: failing on purpose after step 5" \
  -- --test_fail_rank=1 --test_fail_step=5 --test_fail_how=status
expect_job_fails "rank 1's weights diverge" 134 \
  "parameters differ across the 2 data-parallel ranks after 10 gradient all-reduces: rank 1 differs from rank 0" \
  -- --test_perturb_rank=1 --test_perturb_step=7 --consistency_check_interval=10

finish
echo "all passed"
