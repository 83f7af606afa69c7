#!/usr/bin/env bash
# Invalid flags make //experiments:train exit non-zero with one line that names the flag at fault.
set -uo pipefail
train=$1
source "${TEST_SRCDIR}/parsity/tools/testing/test_lib.sh"
expect_rejected "$train" learning_rate --learning_rate=-0.1
expect_rejected "$train" learning_rate --learning_rate=0
expect_rejected "$train" network --network=vgg16
expect_rejected "$train" batch_size --batch_size=0
expect_rejected "$train" goal_error --goal_error=1.5
expect_rejected "$train" goal_error --goal_error=0
expect_rejected "$train" optimizer --optimizer=rmsprop
expect_rejected "$train" momentum --optimizer=momentum --momentum=1.0
expect_rejected "$train" max_steps --max_steps=0
expect_rejected "$train" threads --threads=0
expect_rejected "$train" dataset --dataset=imagenet
expect_rejected "$train" schedule --schedule=cosine
expect_rejected "$train" batch_size --batch_size=100000
expect_rejected "$train" sparsity --pruning=snip --sparsity=1.0
expect_rejected "$train" sparsity --pruning=magnitude --sparsity=-0.5
expect_rejected "$train" pruning --pruning=lottery --sparsity=0.5
expect_rejected "$train" prune_scope --pruning=snip --sparsity=0.5 --prune_scope=network
# Checked as typed, before rounding to float: not reported as an internal field after rounding ("got 0", "got 1").
expect_rejected "$train" "learning_rate=1e-320 is below the smallest normal float" --learning_rate=1e-320
expect_rejected "$train" "learning_rate=1e+39 is above the largest float" --learning_rate=1e39
expect_rejected "$train" "momentum=0.99999999999 rounds to 1" --optimizer=momentum --momentum=0.99999999999
expect_rejected "$train" "adam_beta2=0.999999999 rounds to 1" --optimizer=adam --adam_beta2=0.999999999
expect_rejected "$train" "adam_epsilon=1e-50 is below" --optimizer=adam --adam_epsilon=1e-50
expect_rejected "$train" "end_factor=0 is not in (0, 1]" --schedule=linear_decay --end_factor=0
# A file in a missing folder is refused before training; no folder is created.
expect_rejected "$train" "measurements_csv=$TEST_TMPDIR/missing/deeper/m.csv: folder $TEST_TMPDIR/missing/deeper does not exist" \
  --measurements_csv="$TEST_TMPDIR/missing/deeper/m.csv"
[[ ! -e "$TEST_TMPDIR/missing" ]] || fail "--measurements_csv created $TEST_TMPDIR/missing"
expect_rejected "$train" "measurements_csv=$TEST_TMPDIR is a directory" --measurements_csv="$TEST_TMPDIR"
finish
