#!/usr/bin/env bash
# Sourced by the shell tests of //experiments:study. Defines
#   write_tiny_study WRITE_TINY_MNIST DIR TRIALS [LINE...]
# which writes a tiny MNIST-shaped data set (600 training, 100 test examples) to DIR/data and the study config
# DIR/tiny.textproto over it: LeNet-300-100, SGD with the learning rate searched, TRIALS trials of at most 600 steps,
# goal 0.04, batch sizes 8, 16, 32, sparsities 0 and 0.8, then each LINE (profiles, a theory block, ...). It is the
# runner_test study, somewhat longer so that a kill can land midway.
write_tiny_study() {
  local write_tiny_mnist=$1 dir=$2 trials=$3
  shift 3
  "$write_tiny_mnist" "$dir/data" 600 100 || return 1
  cat > "$dir/tiny.textproto" <<EOF
dataset: "mnist"
data_dir: "$dir/data"
network: "lenet_300_100"
optimizer { name: "sgd" }
search { parameter: LEARNING_RATE  min: 0.001  max: 3  scale: LOG }
trials: $trials
max_steps: 600
check_interval: 10
goal_error: 0.04
batch_sizes: [8, 16, 32]
sparsities: [0, 0.8]
EOF
  local line
  for line in "$@"; do echo "$line" >> "$dir/tiny.textproto"; done
}
