#!/usr/bin/env bash
# The alias targets of experiments/BUILD: run_study.sh STUDY_BINARY CONFIG [FLAGS...] runs the study binary on CONFIG,
# a runfiles path (found in the user's directory when bazel runs from the workspace root, else in the runfiles).
set -euo pipefail
study=$1
config=$2
shift 2
exec "$study" "--config=$config" "$@"
