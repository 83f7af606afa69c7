#!/usr/bin/env bash
# Fails when .ci/run and the README's test command drift apart: CI must prove exactly what the README promises.
set -euo pipefail
readme=$1
ci_run=$2
ci_command=$(grep -v '^\s*#' "$ci_run" | grep 'bazel test' | tail -n 1)
[[ -n "$ci_command" ]] || { echo "no 'bazel test' command in $ci_run" >&2; exit 1; }
if ! grep -qxF -- "$ci_command" "$readme"; then
  echo "README.md does not contain .ci/run's test command as a line of its own:" >&2
  echo "  $ci_command" >&2
  exit 1
fi
# The main command must be a `bazel run` of one of parsity's targets.
grep -q '^bash tools/bootstrap.sh && bazel run //' "$readme" || { echo "README.md has no main 'bazel run' command" >&2; exit 1; }
echo "README and .ci/run agree: $ci_command"
