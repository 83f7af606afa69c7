#!/bin/bash
# Builds the fuzz targets of tools/fuzz as libFuzzer binaries (clang-14, AddressSanitizer, UndefinedBehaviorSanitizer:
# .bazelrc's --config=fuzz) and runs each for a bounded time, one after the other, never two at once. Inputs that
# add coverage go to a work corpus outside the tree; every crash, leak, timeout or out-of-memory input is copied to
# tools/fuzz/crashes/<target>/, where `bazel test //tools/fuzz/...` replays it from then on.
#
#   tools/fuzz/run_fuzzers.sh                           # every target, 60 s each
#   tools/fuzz/run_fuzzers.sh 600 idx_reader_fuzzer     # one target, 10 minutes
#
# Environment: PARSITY_FUZZ_OUTPUT_BASE (default ~/.cache/parsity_fuzz_bazel), the output base of the clang build,
# kept apart from the default GCC build's so that neither discards the other's cache; PARSITY_FUZZ_WORK (default
# /tmp/parsity_fuzz), the work corpora and logs. Exits non-zero when a target found something or did not build.
set -euo pipefail

cd "$(dirname "$0")/../.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(gzip_reader_fuzzer idx_reader_fuzzer cifar_reader_fuzzer study_config_fuzzer trial_record_fuzzer)
fi
output_base="${PARSITY_FUZZ_OUTPUT_BASE:-$HOME/.cache/parsity_fuzz_bazel}"
work="${PARSITY_FUZZ_WORK:-/tmp/parsity_fuzz}"

# Flags per target: dictionaries of the text formats' tokens; CIFAR-10 records are 3073 bytes, so longer inputs.
extra_flags() {
  case "$1" in
    study_config_fuzzer) echo "-dict=tools/fuzz/study_config.dict -max_len=8192" ;;
    trial_record_fuzzer) echo "-dict=tools/fuzz/trial_record.dict -max_len=4096" ;;
    cifar_reader_fuzzer) echo "-max_len=16384" ;;
    *) echo "-max_len=4096" ;;
  esac
}

labels=()
for target in "${targets[@]}"; do labels+=("//tools/fuzz:${target}"); done
# No bazel-* links: they would point the workspace's links at this output base, and the default build's next
# `bazel test //...` would then walk into the fuzz build's execroot through them and fail to load.
bazel --output_base="${output_base}" build --config=fuzz --symlink_prefix=/ "${labels[@]}"
bin="$(bazel --output_base="${output_base}" info --config=fuzz bazel-bin 2>/dev/null)"

status=0
for target in "${targets[@]}"; do
  mkdir -p "${work}/${target}/corpus" "${work}/${target}/artifacts"
  rm -f "${work}/${target}/artifacts/"*  # Saved to the tree by an earlier run.
  log="${work}/${target}/fuzz.log"
  echo "=== ${target}: ${seconds} s (log: ${log})"
  # shellcheck disable=SC2046
  if "${bin}/tools/fuzz/${target}" -max_total_time="${seconds}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="${work}/${target}/artifacts/" $(extra_flags "${target}") \
      "${work}/${target}/corpus" "tools/fuzz/corpus/${target}" >"${log}" 2>&1; then
    result="no crash"
  else
    result="FOUND A PROBLEM (exit $?)"
    status=1
  fi
  found=("${work}/${target}/artifacts/"*)
  if [[ -e "${found[0]}" ]]; then
    mkdir -p "tools/fuzz/crashes/${target}"
    cp "${found[@]}" "tools/fuzz/crashes/${target}/"
    result="${result}; saved to tools/fuzz/crashes/${target}/: $(basename -a "${found[@]}" | tr '\n' ' ')"
  fi
  echo "${result}"
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^#[0-9]+[[:space:]]+DONE" "${log}" || true
  grep -E "^==[0-9]+==ERROR|runtime error|check failed|SUMMARY" "${log}" | head -5 || true
done
exit "${status}"
