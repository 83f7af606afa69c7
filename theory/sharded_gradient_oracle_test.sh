#!/usr/bin/env bash
# Runs the GoogleTest binary of ShardedGradientOracle under mpirun with 1, 2 and 3 ranks (3: shards of unequal size,
# and an empty shard for a BatchGradient of 2 indices).
set -euo pipefail
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/training/distributed/mpi_test_lib.sh"
binary=$1
for ranks in 1 2 3; do
  echo "=== mpirun -np $ranks"
  mpi_run "$ranks" "$binary"
done
