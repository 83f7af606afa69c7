#!/usr/bin/env bash
# Sourced by parsity's shell tests (sh_test with deps = ["//tools/testing:test_lib"]):
#   source "${TEST_SRCDIR}/parsity/tools/testing/test_lib.sh"
# `fail MESSAGE` records a failed expectation and lets the test go on, so that one run reports every failure;
# `finish` ends the test: exit 1 naming the number of failures, or "PASS".
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
finish() {
  if [[ $failures -gt 0 ]]; then
    echo "$failures failure(s)"
    exit 1
  fi
  echo "PASS"
}
