#!/usr/bin/env bash
# //experiments:measure runs unchanged as one process and under `mpirun -np 2` (LeNet-300-100 on MNIST, batch 100,
# 200 steps; L and the Hessian every 50 steps on 2,000 examples, the noise every 100 steps on 100). Asserted, dense and
# SNIP 90% sparse:
#  - one process: "ranks":1, "bytes_communicated_per_step":0, "measure_bytes_communicated":0;
#  - mpirun -np 2: "ranks":2; the bytes of the whole gradient (4 x 266,610) dense and of the kept entries only
#    (4 x 26,661) sparse, per training step and per full gradient of L and the Hessian; measurements at the same steps as one process, and each measured number (loss, L and its
#    nine L_gamma, step and gradient norms, the Hessian's eigenvalue, |G|^2, |Gbar|^2, tr(Sigma), B_simple) within
#    $tolerance of the one-process value (on the direct kernels only: a portable Eigen build, "matrix_products":"eigen",
#    rounds a shard otherwise and the values are not compared); only rank 0 prints (one stdout stream, one set of
#    progress lines);
#  - ranks that disagree about a setting that decides the collective calls (mpirun's MPMD form gives rank 1 another
#    --measure_seed), and a batch smaller than the ranks, end the job with "measure: rank r of 2: <reason>".
set -uo pipefail
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/training/distributed/mpi_test_lib.sh"
measure=$1
source "${TEST_SRCDIR}/parsity/tools/testing/test_lib.sh"

# --hessian_tolerance=1e-12: every power iteration runs all 3 products, so that the two runs cannot stop after
# different numbers of iterations when a relative change falls near the tolerance.
common=(--network=lenet_300_100 --batch_size=100 --steps=200 --lipschitz_interval=50 --noise_interval=100
  --lipschitz_sample=2000 --noise_sample=100 --hessian --hessian_iterations=3 --hessian_tolerance=1e-12)
dense=("${common[@]}" --learning_rate=0.05)
sparse=("${common[@]}" --learning_rate=0.1 --pruning=snip --snip_batches=5 --sparsity=0.9)
steps=(50 100 150 200)

# Relative tolerance of every measured number, MPI against one process. The two runs differ only in the order of float
# additions: the training step's gradient (two shard sums added by the all-reduce), so the weights at a step differ
# in their last bits, and the full gradients of L and the Hessian (shard sums over 1,000 examples each). Measured on
# the build machine (2026-11-27), largest relative differences over the four steps: L 8e-7, the nine L_gamma 9e-5
# (a secant slope over a step of norm ~0.08, so float rounding of the gradients is amplified: theory/
# trajectory_lipschitz.h), the Hessian's eigenvalue 6e-5 (a finite difference over h ~ 1e-4), the noise quantities
# 1e-6, the loss 5e-8. 1e-3 is 11 times the largest. A real error moves them by far more: L from a shard's gradient
# alone (no all-reduce), or a noise sample other than one process's, changes them by percents.
tolerance=1e-3

# The measured numbers of one JSON line as "name value" lines, the per-gamma array flattened; "null" when not measured,
# "absent" when the line lacks the field.
values() {
  local name value
  for name in loss trajectory_lipschitz step_norm full_gradient_norm hessian_top_eigenvalue gradient_norm_squared \
      sample_gradient_norm_squared covariance_trace simple_noise_scale; do
    value=$(field "$1" "$name")
    echo "$name ${value:-absent}"
  done
  grep -o '"lipschitz_per_gamma":\[[^]]*\]' <<<"$1" | sed 's/.*\[//; s/\]//' | tr ',' '\n' |
    awk '{ print "lipschitz_per_gamma[" NR - 1 "] " $0 }'
}

# compare_step LABEL STEP ONE_PROCESS_STDOUT MPI_STDOUT: every number within $tolerance; prints the largest difference.
compare_step() {
  local label=$1 step=$2 one two
  one=$(grep "^{\"step\":$2," "$3")
  two=$(grep "^{\"step\":$2," "$4")
  if [[ -z "$one" || -z "$two" ]]; then fail "$label: step $step: missing measurement line"; return; fi
  local verdict
  verdict=$(paste -d' ' <(values "$one") <(values "$two") | awk -v tolerance=$tolerance '
    $1 != $3 { bad = bad " field order " $1 "/" $3; next }
    $2 == $4 && ($2 == "null" || $2 == "absent") { next }  # Not measured at this step by either run.
    $2 == "null" || $4 == "null" || $2 == "absent" || $4 == "absent" { bad = bad " " $1 ": " $2 " vs " $4; next }
    {
      scale = $2 < 0 ? -$2 : $2
      difference = $2 - $4; if (difference < 0) difference = -difference
      relative = scale > 0 ? difference / scale : difference
      if (relative > worst) { worst = relative; worst_name = $1 }
      if (!(relative <= tolerance)) bad = bad " " $1 ": " $2 " vs " $4
      ++compared
    }
    END { printf "%d %s %.2g %s\n", compared, (bad == "" ? "ok" : "bad"), worst, worst_name; if (bad != "") print bad }')
  local compared status worst worst_name
  read -r compared status worst worst_name <<<"$(head -1 <<<"$verdict")"
  # L, its nine L_gamma, the loss, two norms and the Hessian at every step; four noise numbers at steps 100 and 200.
  local expected=$((14 + (step % 100 == 0 ? 4 : 0)))
  if [[ $status != ok ]]; then
    fail "$label: step $step: differences above $tolerance:$(tail -n +2 <<<"$verdict")"
  elif [[ $compared -ne $expected ]]; then
    fail "$label: step $step: compared $compared numbers, expected $expected: $two"
  else
    echo "ok: $label: step $step: $compared numbers within $tolerance (largest relative difference $worst, $worst_name)"
  fi
}

for kind in dense sparse; do
  declare -n flags=$kind
  "$measure" "${flags[@]}" >"$TEST_TMPDIR/$kind.1.stdout" 2>"$TEST_TMPDIR/$kind.1.stderr" ||
    fail "one process $kind failed: $(tail -n 3 "$TEST_TMPDIR/$kind.1.stderr")"
  one=$(tail -1 "$TEST_TMPDIR/$kind.1.stdout")
  echo "one process, $kind: $one"
  expect_field "one process $kind" "$one" ranks 1
  expect_field "one process $kind" "$one" bytes_communicated_per_step 0

  mpi_run 2 "$measure" "${flags[@]}" >"$TEST_TMPDIR/$kind.2.stdout" 2>"$TEST_TMPDIR/$kind.2.stderr" ||
    fail "mpirun -np 2 $kind failed: $(tail -n 3 "$TEST_TMPDIR/$kind.2.stderr")"
  two=$(tail -1 "$TEST_TMPDIR/$kind.2.stdout")
  echo "mpirun -np 2, $kind: $two"
  expect_field "mpirun -np 2 $kind" "$two" ranks 2
  if [[ $kind == dense ]]; then bytes=$((4 * 266610)); else bytes=$((4 * 26661)); fi
  expect_field "mpirun -np 2 $kind" "$two" bytes_communicated_per_step $bytes
  # The full gradients of L (1 + 9 gammas) and of the Hessian (2 per iteration) went through the sharded oracle, one
  # all-reduce of the same payload each: the measurements were split, not computed by every rank alone.
  gradients=0
  for iterations in $(grep -o '"hessian_iterations":[0-9]*' "$TEST_TMPDIR/$kind.2.stdout" | cut -d: -f2); do
    gradients=$((gradients + 10 + 2 * iterations))
  done
  [[ $gradients -eq $((${#steps[@]} * 16)) ]] || fail "$kind: $gradients full gradients, expected ${#steps[@]} x 16"
  expect_field "one process $kind" "$one" measure_bytes_communicated 0
  expect_field "mpirun -np 2 $kind" "$two" measure_bytes_communicated $((gradients * bytes))
  for name in steps measurements failed_estimates mask_sparsity; do
    expect_field "mpirun -np 2 $kind" "$two" $name "$(field "$one" $name)"
  done
  # Only rank 0 prints: its JSON lines (one per measurement and the summary), one header and one progress line each.
  [[ $(wc -l <"$TEST_TMPDIR/$kind.2.stdout") -eq $((${#steps[@]} + 1)) ]] ||
    fail "$kind: stdout has more than rank 0's $((${#steps[@]} + 1)) JSON lines: $(cat "$TEST_TMPDIR/$kind.2.stdout")"
  [[ $(grep -c '^step ' "$TEST_TMPDIR/$kind.2.stderr") -eq ${#steps[@]} &&
    $(grep -c '^measuring ' "$TEST_TMPDIR/$kind.2.stderr") -eq 1 ]] ||
    fail "$kind: progress lines from more than rank 0: $(cat "$TEST_TMPDIR/$kind.2.stderr")"
  if eigen_build "$two"; then  # A pruned trajectory can drift past the tolerance within 200 steps.
    echo "note: $kind: Eigen build (--config=portable): the measured values are not compared"
    continue
  fi
  # The validation error counts examples (6,000): allow one example's flip from weights that differ in their last bits.
  awk -v a="$(field "$one" final_validation_error)" -v b="$(field "$two" final_validation_error)" \
    'BEGIN { d = a - b; exit !(d <= 2e-4 && d >= -2e-4) }' ||
    fail "$kind: final validation error $(field "$two" final_validation_error) vs one process's $(field "$one" final_validation_error)"
  for step in "${steps[@]}"; do
    compare_step "mpirun -np 2 $kind" "$step" "$TEST_TMPDIR/$kind.1.stdout" "$TEST_TMPDIR/$kind.2.stdout"
  done
done

short=(--network=lenet_300_100 --batch_size=100 --steps=20 --lipschitz_interval=10 --noise_interval=0
  --lipschitz_sample=200)
expect_job_fails "rank 1 has another --measure_seed" \
  "measure: rank [01] of 2: settings (--batch_size, --steps, --lipschitz_interval, --lipschitz_sample, --hessian, --hessian_iterations, --hessian_tolerance, --measure_seed) differ across the 2 data-parallel ranks: rank 1 differs from rank 0" \
  -- -np 1 "$measure" "${short[@]}" : -np 1 "$measure" "${short[@]}" --measure_seed=1
expect_job_fails "batch smaller than the ranks" "measure: rank [01] of 2: batch_size: 1 is smaller than the 2" -- \
  -np 2 "$measure" "${short[@]}" --batch_size=1

finish
echo "all passed"
