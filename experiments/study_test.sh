#!/usr/bin/env bash
# //experiments:study end to end on a tiny data set:
#  1. config errors exit 1 with one line naming the file and the field (or listing the profiles);
#  2. a run killed with SIGKILL after its first finished trial, then rerun with the same command, gives the same
#     steps_to_result.csv results (the columns that do not depend on how trials ran) as an uninterrupted run, and
#     redoes only the trials that had not finished.
set -uo pipefail
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/experiments/tiny_study_lib.sh"
study=$1
write_tiny_mnist=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

write_tiny_study "$write_tiny_mnist" "$tmp" 8 'profiles { name: "quick"  overrides { trials: 2 } }' ||
  { echo "cannot write the data set"; exit 1; }

# 1. Config errors.
expect_error() {
  local expected=$1
  shift
  local output
  output=$("$study" "$@" 2>&1 >/dev/null)
  local code=$?
  if [[ $code -ne 1 ]]; then fail "$* exited with $code"; return; fi
  if [[ $(printf '%s\n' "$output" | wc -l) -ne 1 || "$output" != *"$expected"* ]]; then
    fail "$*: expected one line with '$expected', got: $output"; return
  fi
  echo "ok: $output"
}
sed 's/batch_sizes: \[8, 16, 32\]/batch_sizes: [8, 16, 32, 0]/' "$tmp/tiny.textproto" > "$tmp/bad_batch.textproto"
expect_error "bad_batch.textproto: batch_sizes[3]: 0 is not a positive batch size" \
  --config="$tmp/bad_batch.textproto" --output_dir="$tmp/unused"
printf 'dataset: "mnist"\nnetwork: lenet\n' > "$tmp/bad_syntax.textproto"
expect_error "bad_syntax.textproto:2:10: " --config="$tmp/bad_syntax.textproto" --output_dir="$tmp/unused"
expect_error "no profile 'fast'; known profiles: quick" --config="$tmp/tiny.textproto" --profile=fast \
  --output_dir="$tmp/unused"
expect_error "--config is required" --output_dir="$tmp/unused"

# 2. Kill and resume.
results() { cut -d, -f1-10 "$1/steps_to_result.csv"; }
"$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/whole" --parallel_trials=2 >"$tmp/whole.out" \
  2>"$tmp/whole.err" || { cat "$tmp/whole.err"; echo "the uninterrupted run failed"; exit 1; }
total=$(find "$tmp/whole" -name metadata.json | wc -l)
[[ $total -eq 48 ]] || fail "the uninterrupted run finished $total trials, not 48"

"$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/killed" --parallel_trials=2 >/dev/null 2>"$tmp/killed.err" &
pid=$!
for _ in $(seq 1 2000); do
  [[ -n $(find "$tmp/killed" -name metadata.json 2>/dev/null | head -1) ]] && break
  sleep 0.005
done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
finished=$(find "$tmp/killed" -name metadata.json | wc -l)
echo "killed after $finished of $total trials"
[[ $finished -ge 1 ]] || fail "no trial had finished when the run was killed"
[[ $finished -lt $total ]] || fail "the run finished before it could be killed; the test proves less"

"$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/killed" --parallel_trials=2 >"$tmp/resumed.out" \
  2>"$tmp/resumed.err" || { cat "$tmp/resumed.err"; fail "the resumed run failed"; }
summary=$(tail -1 "$tmp/resumed.out")
[[ "$summary" == *"\"trials_resumed\":$finished,"* ]] ||
  fail "the resumed run did not reuse the $finished trials: $summary"
if [[ "$(results "$tmp/whole")" != "$(results "$tmp/killed")" ]]; then
  fail "resumed results differ:"; diff <(results "$tmp/whole") <(results "$tmp/killed")
fi
results "$tmp/killed"

# A third run finds everything done.
"$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/killed" >"$tmp/again.out" 2>/dev/null || fail "third run"
[[ "$(tail -1 "$tmp/again.out")" == *"\"trials_run\":0,"* ]] || fail "the third run trained again"

[[ $failures -eq 0 ]] || { echo "$failures failures"; exit 1; }
echo "PASS"
