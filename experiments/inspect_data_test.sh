#!/usr/bin/env bash
# //experiments:inspect_data prints the installed data sets' real sizes as its last stdout line, and names the flag
# at fault in one line when the data set is unknown or missing.
set -euo pipefail
inspect=$1
last_line=$("$inspect" --dataset=mnist 2>/dev/null | tail -n 1)
for expected in '"dataset":"mnist"' '"shape":"28x28x1"' '"train":54000' '"validation":6000' '"test":10000'; do
  [[ "$last_line" == *"$expected"* ]] || { echo "mnist summary lacks $expected: $last_line"; exit 1; }
done
last_line=$("$inspect" --dataset=fashion_mnist 2>/dev/null | tail -n 1)
[[ "$last_line" == *'"train_label_histogram":['* && "$last_line" == *'"train":54000'* ]] \
  || { echo "fashion_mnist summary is wrong: $last_line"; exit 1; }
if message=$("$inspect" --dataset=imagenet 2>&1 >/dev/null); then echo "imagenet was accepted"; exit 1; fi
[[ "$message" == *"--dataset"* && "$message" == *"mnist"* ]] || { echo "unclear message: $message"; exit 1; }
if message=$("$inspect" --dataset=cifar10 --data_dir="$TEST_TMPDIR/nothing" 2>&1 >/dev/null); then
  echo "a missing CIFAR-10 was accepted"; exit 1
fi
[[ "$message" == *"$TEST_TMPDIR/nothing"* ]] || { echo "missing file not named: $message"; exit 1; }
echo "inspect_data behaves"
