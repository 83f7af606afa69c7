#!/usr/bin/env bash
# //experiments:measure on real MNIST, briefly: a dense and a pruned LeNet-300-100 for 20 steps with L, the Hessian
# and the noise at steps 10 and 20 on small samples. Every measurement line carries finite values, the summary comes
# last, and invalid flags exit non-zero with one line naming the flag.
set -uo pipefail
measure=$1
source "${TEST_SRCDIR}/parsity/tools/testing/test_lib.sh"

check_run() {
  local label=$1
  shift
  local output
  if ! output=$("$measure" --dataset=mnist --network=lenet_300_100 --optimizer=sgd --learning_rate=0.05 \
      --batch_size=64 --steps=20 --lipschitz_interval=10 --noise_interval=10 --lipschitz_sample=2000 \
      --noise_sample=50 --hessian --hessian_iterations=4 --threads=2 "$@" 2>"$TEST_TMPDIR/$label.stderr"); then
    fail "$label: exit code $?: $(tail -n 3 "$TEST_TMPDIR/$label.stderr")"; return
  fi
  local lines
  lines=$(printf '%s\n' "$output" | wc -l)
  [[ $lines -eq 3 ]] || { fail "$label: expected 2 measurement lines and a summary, got $lines: $output"; return; }
  local number='-?[0-9][0-9.eE+-]*'
  local step
  for step in 10 20; do
    local line
    line=$(printf '%s\n' "$output" | grep "^{\"step\":$step,")
    [[ -n "$line" ]] || { fail "$label: no measurement at step $step"; continue; }
    local field
    for field in trajectory_lipschitz hessian_top_eigenvalue gradient_norm_squared covariance_trace \
        simple_noise_scale loss step_norm; do
      [[ "$line" =~ \"$field\":$number[,}] ]] || fail "$label: step $step: $field missing or not finite: $line"
    done
    [[ "$line" =~ \"lipschitz_per_gamma\":\[($number,){8}$number\] ]] || fail "$label: step $step: nine L_gamma: $line"
  done
  local summary
  summary=$(printf '%s\n' "$output" | tail -n 1)
  for field in mean_trajectory_lipschitz max_trajectory_lipschitz mean_hessian_top_eigenvalue \
      mean_gradient_norm_squared mean_covariance_trace mask_sparsity wall_seconds; do
    [[ "$summary" =~ \"$field\":$number[,}] ]] || fail "$label: summary: $field missing or not finite: $summary"
  done
  [[ "$summary" == *'"steps":20'* && "$summary" == *'"measurements":2'* && "$summary" == *'"failed_estimates":0'* ]] \
    || fail "$label: summary counts: $summary"
  echo "ok: $label: $summary"
  LAST_SUMMARY=$summary
}

check_run dense
[[ "$LAST_SUMMARY" == *'"mask_sparsity":0,'* ]] || fail "dense: mask sparsity is not 0: $LAST_SUMMARY"
check_run snip --pruning=snip --sparsity=0.9 --snip_batches=10
[[ "$LAST_SUMMARY" =~ \"mask_sparsity\":0\.(89|9) ]] || fail "snip: mask sparsity is not 0.9: $LAST_SUMMARY"

expect_rejected "$measure" lipschitz_interval --lipschitz_interval=-1
expect_rejected "$measure" "learning_rate=1e-320 is below the smallest normal float" --learning_rate=1e-320
expect_rejected "$measure" "momentum=0.99999999999 rounds to 1" --optimizer=momentum --momentum=0.99999999999
# The flags train has, measure has too (one definition, experiments/trial_flags.h).
expect_rejected "$measure" prune_scope --pruning=snip --sparsity=0.5 --prune_scope=network
expect_rejected "$measure" "adam_beta2=0.999999999 rounds to 1" --optimizer=adam --adam_beta2=0.999999999
expect_rejected "$measure" noise_interval --noise_interval=-5
expect_rejected "$measure" lipschitz_interval --lipschitz_interval=0 --noise_interval=0
expect_rejected "$measure" lipschitz_sample --lipschitz_sample=-2
expect_rejected "$measure" lipschitz_sample --lipschitz_sample=100000 --network=lenet_300_100
expect_rejected "$measure" noise_sample --noise_sample=1
expect_rejected "$measure" noise_sample --noise_sample=100000 --network=lenet_300_100
expect_rejected "$measure" hessian_iterations --hessian --hessian_iterations=0
expect_rejected "$measure" hessian_tolerance --hessian_tolerance=0
expect_rejected "$measure" steps --steps=0
expect_rejected "$measure" learning_rate --learning_rate=-1
expect_rejected "$measure" batch_size --batch_size=0
expect_rejected "$measure" network --network=vgg16
expect_rejected "$measure" optimizer --optimizer=rmsprop
expect_rejected "$measure" dataset --dataset=imagenet
expect_rejected "$measure" sparsity --pruning=snip --sparsity=1.5
expect_rejected "$measure" threads --threads=0
finish
echo "measure behaves"
