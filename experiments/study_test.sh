#!/usr/bin/env bash
# //experiments:study end to end on a tiny data set:
#  1. config errors exit 1 with one line naming the file and the field (or listing the profiles);
#  2. a run killed with SIGKILL after its first finished trial, then rerun with the same command, gives the same
#     steps_to_result.csv results (the columns that do not depend on how trials ran) as an uninterrupted run, and
#     redoes only the trials that had not finished; the lock file the killed run left does not block the resume, and
#     temporary files of killed writers are removed;
#  3. (issue 13) damaged trials (a truncated or deleted measurements.csv, an edited or truncated metadata.json) make
#     the report refuse the store naming them, and are moved aside and trained again by a resume, with the same
#     results;
#  4. (issue 13) a second run on an output directory in use exits 1 at once naming the holder's host and PID;
#  5. (issue 13) a report that cannot be written (report.md is a directory) makes the run exit 2 after its summary.
set -uo pipefail
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/experiments/tiny_study_lib.sh"
study=$1
write_tiny_mnist=$2
report=$3
tmp=${TEST_TMPDIR:-$(mktemp -d)}
source "${TEST_SRCDIR}/parsity/tools/testing/test_lib.sh"

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
expect_error "folder $tmp/missing/deeper does not exist" --config="$tmp/tiny.textproto" \
  --output_dir="$tmp/missing/deeper/out"
[[ ! -e "$tmp/missing" ]] || fail "--output_dir under a missing folder created $tmp/missing"

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
# What a writer killed midway leaves: a temporary file of a process that no longer exists.
dead_pid=$(sh -c 'echo $$')
planted=$(dirname "$(find "$tmp/killed" -name metadata.json | head -1)")/measurements.csv.tmp.$dead_pid
echo "step,validation_er" > "$planted"

"$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/killed" --parallel_trials=2 >"$tmp/resumed.out" \
  2>"$tmp/resumed.err" || { cat "$tmp/resumed.err"; fail "the resumed run failed"; }
summary=$(tail -1 "$tmp/resumed.out")
[[ "$summary" == *"\"trials_resumed\":$finished,"* ]] ||
  fail "the resumed run did not reuse the $finished trials: $summary"
grep -q "study: $tmp/killed/study.lock: the run of host $(uname -n), PID $pid (since .*) ended without releasing it" \
  "$tmp/resumed.err" || fail "the resume did not take over the killed run's lock: $(head -3 "$tmp/resumed.err")"
[[ ! -e $planted ]] || fail "the temporary file of a killed writer is still there: $planted"
grep -qE "^study: removed [0-9]+ temporary files? \(\*\.tmp\.<pid>\) left in $tmp/killed by writers that were killed" \
  "$tmp/resumed.err" || fail "no line counting the temporary files removed"
[[ "$summary" =~ \"temporary_files_removed\":[1-9] ]] || fail "temporary_files_removed in: $summary"
[[ -z $(find "$tmp/killed" -name '*.tmp.*') ]] || fail "temporary files left: $(find "$tmp/killed" -name '*.tmp.*')"
if [[ "$(results "$tmp/whole")" != "$(results "$tmp/killed")" ]]; then
  fail "resumed results differ:"; diff <(results "$tmp/whole") <(results "$tmp/killed")
fi
results "$tmp/killed"

# A third run finds everything done.
"$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/killed" >"$tmp/again.out" 2>/dev/null || fail "third run"
[[ "$(tail -1 "$tmp/again.out")" == *"\"trials_run\":0,"* ]] || fail "the third run trained again"

# 3. Damaged trials. Before digests, the first two were reused silently, the edit changed the table and the truncated
# metadata.json stopped the study with a parser message.
cp -r "$tmp/whole" "$tmp/damaged"
s0=$tmp/damaged/mnist/lenet_300_100/sgd/sparsity_0/8
csv=$s0/0/measurements.csv
head -c $(($(wc -c < "$csv") / 2)) "$csv" > "$tmp/cut" && cat "$tmp/cut" > "$csv"
rm "$s0/1/measurements.csv"
sed -i -E 's/"steps":[0-9]+,/"steps":7777,/' "$s0/2/metadata.json"
head -c 120 "$s0/3/metadata.json" > "$tmp/cut" && cat "$tmp/cut" > "$s0/3/metadata.json"
if "$report" "$tmp/damaged" --plots=false >/dev/null 2>"$tmp/report_damaged.err"; then
  fail "the report aggregated a damaged store"
fi
for trial in 0 1 2 3; do
  grep -q "^  $s0/$trial: " "$tmp/report_damaged.err" || fail "the report does not name trial $trial: $(cat "$tmp/report_damaged.err")"
done
grep -q "Run the study again with the same command" "$tmp/report_damaged.err" || fail "the report says not what to do"
"$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/damaged" --parallel_trials=2 >"$tmp/damaged.out" \
  2>"$tmp/damaged.err" || { cat "$tmp/damaged.err"; fail "the run over damaged trials failed"; }
summary=$(tail -1 "$tmp/damaged.out")
[[ "$summary" == *'"trials_run":4,'*'"trials_damaged":4,'* ]] || fail "damaged trials not retrained: $summary"
[[ $(grep -c "^study: damaged trial $s0/" "$tmp/damaged.err") -eq 4 ]] ||
  fail "expected 4 lines naming damaged trials: $(grep damaged "$tmp/damaged.err")"
grep -q "^study: damaged trial $s0/1: measurements.csv is missing; moved aside to 1.damaged." "$tmp/damaged.err" ||
  fail "the line of trial 1: $(grep "$s0/1:" "$tmp/damaged.err")"
grep -q "^study: damaged trial $s0/3: metadata.json cannot be parsed (120 bytes; truncated or edited?)" \
  "$tmp/damaged.err" || fail "the line of trial 3: $(grep "$s0/3:" "$tmp/damaged.err")"
[[ $(find "$s0" -maxdepth 1 -name '*.damaged.*' | wc -l) -eq 4 ]] || fail "damaged trials not kept aside"
grep -q '"trials_damaged":4' "$s0/study.json" || fail "study.json does not count the damaged trials"
if [[ "$(results "$tmp/whole")" != "$(results "$tmp/damaged")" ]]; then
  fail "results after retraining damaged trials differ:"; diff <(results "$tmp/whole") <(results "$tmp/damaged")
fi
"$report" "$tmp/damaged" --plots=false >"$tmp/report_repaired.out" 2>"$tmp/report_repaired.err" ||
  fail "the report refused the repaired store: $(cat "$tmp/report_repaired.err")"
[[ "$(tail -1 "$tmp/report_repaired.out")" == *'"store":{"trials":48,"verified":48,"legacy":0,"damaged_moved_aside":4}'* ]] ||
  fail "report store summary: $(tail -1 "$tmp/report_repaired.out")"

# 4. One run per output directory: a second run while the first holds the lock is refused at once, naming it.
"$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/busy" --parallel_trials=1 >"$tmp/busy.out" \
  2>"$tmp/busy.err" &
first=$!
for _ in $(seq 1 2000); do
  [[ -s $tmp/busy/study.lock ]] && break
  sleep 0.005
done
second=$("$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/busy" 2>&1 >/dev/null)
code=$?
[[ $code -eq 1 ]] || fail "a second run on a directory in use exited with $code"
[[ $(printf '%s\n' "$second" | wc -l) -eq 1 &&
   "$second" == "study: output directory $tmp/busy is in use: $tmp/busy/study.lock is held by host $(uname -n), PID $first, since "*"; wait for that run to end, or use another --output_dir" ]] ||
  fail "the refusal does not name the holder in one line: $second"
wait "$first" || fail "the first run failed: $(tail -3 "$tmp/busy.err")"
[[ "$(tail -1 "$tmp/busy.out")" == *'"trials_run":48,'* ]] || fail "the first run: $(tail -1 "$tmp/busy.out")"
[[ ! -s $tmp/busy/study.lock ]] || fail "the lock file still names a holder: $(cat "$tmp/busy/study.lock")"

# 5. The report cannot be written (report.md is a directory, which fails as root too): exit 2 after the summary line.
cp -r "$tmp/whole" "$tmp/noreport"
rm -f "$tmp/noreport/report.md" && mkdir -p "$tmp/noreport/report.md/x"
"$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/noreport" >"$tmp/noreport.out" 2>"$tmp/noreport.err"
code=$?
[[ $code -eq 2 ]] || fail "an unwritable report exited with $code"
[[ "$(tail -1 "$tmp/noreport.out")" == '{"workload":'*'"report_error":"'*"report.md"* ]] ||
  fail "no summary line with report_error: $(tail -1 "$tmp/noreport.out")"
grep -q "^study: the report was not written; the results are stored in $tmp/noreport" "$tmp/noreport.err" ||
  fail "stderr does not say the report was not written: $(tail -3 "$tmp/noreport.err")"
[[ "$(results "$tmp/whole")" == "$(results "$tmp/noreport")" ]] || fail "the results were not kept"

finish
echo "PASS"
