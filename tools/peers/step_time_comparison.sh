#!/usr/bin/env bash
# Runs parsity's training-step benchmark and the same steps in PyTorch (reference BLAS and OpenBLAS), in one go, and
# prints the ratio table.
#   bazel run //tools/peers:step_time_comparison -- [--threads=1,2] [--networks=simple_cnn] [--sparsities=0,0.9] \
#     [--batch_sizes=2,32] [--min_seconds=1] [--json_output=/tmp/step_time.json]
set -euo pipefail
runfiles=${RUNFILES_DIR:-$0.runfiles}
root="$runfiles/parsity"
exec /usr/bin/python3 "$root/tools/peers/pytorch_step_time.py" \
  --parsity_benchmark="$root/training/trainer/training_step_benchmark" "$@"
