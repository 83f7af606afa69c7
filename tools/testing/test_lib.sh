#!/usr/bin/env bash
# Sourced by parsity's shell tests (sh_test with deps = ["//tools/testing:test_lib"]):
#   source "${TEST_SRCDIR}/parsity/tools/testing/test_lib.sh"
# `fail MESSAGE` records a failed expectation and lets the test go on, so that one run reports every failure;
# `finish` ends the test: exit 1 naming the number of failures, or "PASS". `expect_rejected BINARY NEEDLE ARGS...`:
# BINARY ARGS exits non-zero with exactly one line on stderr that contains NEEDLE (a flag's name, a reason).
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
finish() {
  if [[ $failures -gt 0 ]]; then
    echo "$failures failure(s)"
    exit 1
  fi
  echo "PASS"
}
expect_rejected() {
  local binary=$1 needle=$2
  shift 2
  local output
  output=$("$binary" "$@" 2>&1 >/dev/null)
  local code=$?
  if [[ $code -eq 0 ]]; then
    fail "$* was accepted"; return
  fi
  if [[ $(printf '%s\n' "$output" | wc -l) -ne 1 || "$output" != *"$needle"* ]]; then
    fail "$* gave a message that is not one line naming $needle: $output"; return
  fi
  echo "ok: $* -> $output"
}
