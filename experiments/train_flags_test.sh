#!/usr/bin/env bash
# Invalid flags make //experiments:train exit non-zero with one line that names the flag at fault.
set -uo pipefail
train=$1
failures=0
expect_rejected() {
  local flag_name=$1
  shift
  local output
  output=$("$train" "$@" 2>&1 >/dev/null)
  local code=$?
  if [[ $code -eq 0 ]]; then
    echo "FAIL: $* was accepted"; failures=$((failures + 1)); return
  fi
  if [[ $(printf '%s\n' "$output" | wc -l) -ne 1 || "$output" != *"$flag_name"* ]]; then
    echo "FAIL: $* gave a message that is not one line naming $flag_name: $output"; failures=$((failures + 1)); return
  fi
  echo "ok: $* -> $output"
}
expect_rejected learning_rate --learning_rate=-0.1
expect_rejected learning_rate --learning_rate=0
expect_rejected network --network=vgg16
expect_rejected batch_size --batch_size=0
expect_rejected goal_error --goal_error=1.5
expect_rejected goal_error --goal_error=0
expect_rejected optimizer --optimizer=rmsprop
expect_rejected momentum --optimizer=momentum --momentum=1.0
expect_rejected max_steps --max_steps=0
expect_rejected threads --threads=0
expect_rejected dataset --dataset=imagenet
expect_rejected schedule --schedule=cosine
expect_rejected batch_size --batch_size=100000
expect_rejected sparsity --pruning=snip --sparsity=1.0
expect_rejected sparsity --pruning=magnitude --sparsity=-0.5
expect_rejected pruning --pruning=lottery --sparsity=0.5
expect_rejected prune_scope --pruning=snip --sparsity=0.5 --prune_scope=network
[[ $failures -eq 0 ]] || { echo "$failures failures"; exit 1; }
