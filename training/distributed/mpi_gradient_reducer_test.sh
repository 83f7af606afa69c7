#!/usr/bin/env bash
# Runs the GoogleTest binary of MpiGradientReducer under mpirun with 1, 2 and 3 ranks (3: shards of unequal size
# and all-reduce orders that differ between packed and dense buffers).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/mpi_test_lib.sh"
binary=$1
for ranks in 1 2 3; do
  echo "=== mpirun -np $ranks"
  mpi_run "$ranks" "$binary"
done
