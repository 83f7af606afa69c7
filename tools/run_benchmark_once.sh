#!/usr/bin/env bash
# Runs a Google Benchmark binary once, briefly, so that `bazel test` proves it still builds and runs.
# (Benchmark 1.7.1 takes --benchmark_min_time in seconds; it rejects the newer "1x" form.)
set -euo pipefail
"$1" --benchmark_min_time=0.001 "${@:2}"
