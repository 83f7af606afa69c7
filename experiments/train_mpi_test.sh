#!/usr/bin/env bash
# //experiments:train runs unchanged as one process and under `mpirun -np 2` (LeNet-300-100 on MNIST, 200 steps at
# most, batch 100). Asserted:
#  - one process: "ranks":1, "bytes_communicated_per_step":0;
#  - mpirun -np 2, dense and SNIP 90% sparse: the one-process steps_to_result and final validation error (on the
#    direct kernels; a portable Eigen build, "matrix_products":"eigen", rounds a shard otherwise: status only); "ranks":2;
#    the bytes of the whole gradient (4 x 266,610) dense and of the kept entries only (4 x 26,661) sparse, or of the
#    whole gradient again with --sparse_allreduce=false; only rank 0 prints the JSON and the progress lines;
#  - mpirun -np 2 with --check_early_exit: the one-process (full-check) status and steps_to_result, with checks that
#    stopped early (the ranks decide each round together);
#  - ranks that disagree about the data set (mpirun's MPMD form gives rank 1 other flags) end the job before training
#    with a message naming the ranks; a batch smaller than the number of ranks ends it naming the flag.
set -uo pipefail
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/training/distributed/mpi_test_lib.sh"
train=$1
source "${TEST_SRCDIR}/parsity/tools/testing/test_lib.sh"
common=(--network=lenet_300_100 --batch_size=100 --max_steps=200 --check_interval=10 --goal_error=0.15)
dense=("${common[@]}" --learning_rate=0.02)
sparse=("${common[@]}" --learning_rate=0.1 --pruning=snip --snip_batches=5 --sparsity=0.9)

# compare LABEL ONE_PROCESS_JSON MPI_JSON BYTES SPARSE
compare() {
  local names=(status steps_to_result final_validation_error)
  if eigen_build "$3"; then  # Enough to move a validation example or a check: only the status is compared.
    echo "note: $1: Eigen build (--config=portable): steps_to_result and final_validation_error not compared"
    names=(status)
  fi
  for name in "${names[@]}"; do
    expect_field "$1" "$3" "$name" "$(field "$2" "$name")"
  done
  expect_field "$1" "$3" ranks 2
  expect_field "$1" "$3" bytes_communicated_per_step "$4"
  expect_field "$1" "$3" sparse_allreduce "$5"
}

for kind in dense sparse; do
  declare -n flags=$kind
  one=$("$train" "${flags[@]}" 2>/dev/null | tail -1)
  declare "one_$kind=$one"
  echo "one process, $kind: $one"
  expect_field "one process $kind" "$one" ranks 1
  expect_field "one process $kind" "$one" bytes_communicated_per_step 0
  expect_field "one process $kind" "$one" status '"COMPLETE"'

  mpi_run 2 "$train" "${flags[@]}" >"$TEST_TMPDIR/stdout" 2>"$TEST_TMPDIR/stderr" || fail "mpirun -np 2 $kind failed"
  two=$(tail -1 "$TEST_TMPDIR/stdout")
  echo "mpirun -np 2, $kind: $two"
  [[ $(wc -l <"$TEST_TMPDIR/stdout") -eq 1 ]] || fail "$kind: stdout has more than rank 0's JSON line"
  checks=$(field "$two" checks)
  [[ $(grep -c '^step ' "$TEST_TMPDIR/stderr") -eq $checks ]] || fail "$kind: progress lines from more than rank 0"
  if [[ $kind == dense ]]; then
    compare "mpirun -np 2 dense" "$one" "$two" $((4 * 266610)) false
  else
    compare "mpirun -np 2 sparse" "$one" "$two" $((4 * 26661)) true
    two=$(mpi_run 2 "$train" "${flags[@]}" --sparse_allreduce=false 2>/dev/null | tail -1)
    compare "mpirun -np 2 sparse, --sparse_allreduce=false" "$one" "$two" $((4 * 266610)) false
  fi
done

early=$(mpi_run 2 "$train" "${dense[@]}" --check_early_exit 2>/dev/null | tail -1)
echo "mpirun -np 2, dense, --check_early_exit: $early"
early_names=(status steps_to_result)
eigen_build "$early" && early_names=(status)
for name in "${early_names[@]}"; do
  expect_field "mpirun -np 2 --check_early_exit" "$early" "$name" "$(field "$one_dense" "$name")"
done
expect_field "mpirun -np 2 --check_early_exit" "$early" check_early_exit true
[[ $(field "$early" checks_exited_early) -gt 0 ]] || fail "--check_early_exit: no check exited early"
expect_field "one process dense" "$one_dense" checks_exited_early 0

expect_job_fails "rank 1 reads another data set" \
  "data sets (--dataset, --data_dir) differ across the 2 data-parallel ranks: rank 1 differs from rank 0" -- \
  -np 1 "$train" "${dense[@]}" --dataset=mnist : -np 1 "$train" "${dense[@]}" --dataset=fashion_mnist
expect_job_fails "batch smaller than the ranks" "train: rank [01] of 2: batch_size: 1 is smaller than the 2" -- \
  -np 2 "$train" "${dense[@]}" --batch_size=1

finish
echo "all passed"
