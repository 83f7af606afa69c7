#!/usr/bin/env bash
# The agreement peer test: parsity's agreement_dump writes, for each network, what parsity computes from fixed
# inputs (loss, gradient, SNIP scores and mask, parameters after dense and masked SGD), and
# pytorch_agreement_test.py recomputes all of it in PyTorch (float32 and float64) and compares (README.md,
# "Agreement with PyTorch"). Skips, passing, when Debian's python3-torch is not installed.
#   bazel test //tools/peers:pytorch_agreement_test --test_output=all
set -euo pipefail
runfiles=${RUNFILES_DIR:-$0.runfiles}
root="$runfiles/parsity"
python=/usr/bin/python3
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "SKIPPED: PyTorch is not installed (apt-get install python3-torch); nothing was compared"
  exit 0
fi
out=${TEST_TMPDIR:-$(mktemp -d)}/agreement
networks=(simple_cnn resnet8 lenet_300_100)
for network in "${networks[@]}"; do
  mkdir -p "$out/$network"
  "$root/tools/peers/agreement_dump" --network="$network" --output_dir="$out/$network"
done
dirs=()
for network in "${networks[@]}"; do dirs+=("$out/$network"); done
exec "$python" "$root/tools/peers/pytorch_agreement_test.py" "${dirs[@]}"
