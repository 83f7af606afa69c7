#!/bin/bash
# Checks that every reproducer of a known, unfixed bug outside the fuzzers' own scope (crashes/unfixed/<target>/)
# still makes its fuzz target fail, so that the reproducers cannot rot. When one stops failing, the bug is fixed:
# move the file to crashes/<target>/, where it is replayed as a regression test, and update README.md.
#
#   unfixed_crashes_test.sh FUZZ_BINARY DIRECTORY [FUZZ_BINARY DIRECTORY ...]
set -uo pipefail

status=0
count=0
while [[ $# -ge 2 ]]; do
  binary="$1"
  directory="$2"
  shift 2
  for input in "${directory}"/*; do
    [[ -f "${input}" ]] || continue
    count=$((count + 1))
    if "${binary}" -runs=0 "${input}" >"${TEST_TMPDIR:-/tmp}/unfixed.log" 2>&1; then
      echo "FIXED: ${input} no longer makes $(basename "${binary}") fail: move it to" \
        "$(dirname "$(dirname "${directory}")")/$(basename "${directory}")/ and update tools/fuzz/README.md"
      status=1
    else
      echo "still failing, as expected: ${input}: $(grep -E 'check failed|runtime error' \
        "${TEST_TMPDIR:-/tmp}/unfixed.log" | head -1)"
    fi
  done
done
if [[ ${count} -eq 0 ]]; then
  echo "no unfixed reproducers: every bug found so far is fixed (its reproducer is replayed from crashes/<target>/)"
fi
exit "${status}"
