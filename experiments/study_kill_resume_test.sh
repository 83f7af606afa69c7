#!/usr/bin/env bash
# A small real study (//experiments:study, one process, 2 parallel trials, early termination off so that every trial
# runs to its end and each record is deterministic) is SIGKILLed at several random moments and resumed each time
# with the same command; once it finishes, its table and every trial's record (metadata.json without its wall time
# and digest, measurements.csv without its seconds column) must equal those of an uninterrupted run, byte for byte.
set -uo pipefail
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/experiments/tiny_study_lib.sh"
study=$1
write_tiny_mnist=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
source "${TEST_SRCDIR}/parsity/tools/testing/test_lib.sh"

write_tiny_study "$write_tiny_mnist" "$tmp" 8 || { echo "cannot write the data set"; exit 1; }
flags=(--config="$tmp/tiny.textproto" --parallel_trials=2 --early_termination=false)

start=$(date +%s.%N)
"$study" "${flags[@]}" --output_dir="$tmp/whole" >"$tmp/whole.out" 2>"$tmp/whole.err" ||
  { cat "$tmp/whole.err"; echo "the uninterrupted run failed"; exit 1; }
whole_seconds=$(echo "$(date +%s.%N) - $start" | bc)
total=$(find "$tmp/whole" -name metadata.json | wc -l)
echo "uninterrupted: $total trials in $whole_seconds s"

# Each record without what legitimately differs between runs (wall times, and digests that cover them).
records() {
  (cd "$1" && find . -name metadata.json | sort | while read -r file; do
    echo "== $file"
    python3 -c '
import json, sys
record = json.load(open(sys.argv[1]))
for key in list(record):
    if key == "wall_seconds" or "digest" in key:
        del record[key]
print(json.dumps(record, sort_keys=True))' "$file"
    echo "== ${file%metadata.json}measurements.csv"
    python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
column = rows[0].index("seconds")
for row in rows:
    print(",".join(row[:column] + row[column + 1:]))' "${file%metadata.json}measurements.csv"
  done)
}
results() { cut -d, -f1-10 "$1/steps_to_result.csv"; }

# Kill at random moments, resuming after each kill: each attempt runs for 10-25% of an uninterrupted run's time (so
# that four attempts stop short of the end), the kill landing anywhere in a trial, a write or a start-up.
seed=${KILL_SEED:-$(date +%s)}
RANDOM=$seed
echo "kill moments drawn with RANDOM=$seed"
kills=0 midway=0 previous=0
for attempt in 1 2 3 4; do
  delay=$(echo "scale=3; $whole_seconds * (0.1 + 0.15 * $RANDOM / 32767)" | bc)
  "$study" "${flags[@]}" --output_dir="$tmp/killed" >/dev/null 2>>"$tmp/killed.err" &
  pid=$!
  sleep "$delay"
  if kill -KILL "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null
  finished=$(find "$tmp/killed" -name metadata.json 2>/dev/null | wc -l)
  echo "attempt $attempt: SIGKILL after ${delay} s: $finished of $total trials finished"
  [[ $finished -ge $previous ]] || fail "finished trials went from $previous down to $finished"
  if [[ $finished -gt $previous && $finished -lt $total ]]; then midway=$((midway + 1)); fi
  previous=$finished
done
[[ $midway -ge 2 ]] || fail "only $midway kills landed between trials finishing; the test proves less (seed $seed)"

"$study" "${flags[@]}" --output_dir="$tmp/killed" >"$tmp/resumed.out" 2>"$tmp/resumed.err" ||
  { cat "$tmp/resumed.err"; fail "the final resume failed"; }
summary=$(tail -1 "$tmp/resumed.out")
[[ "$summary" == *"\"trials_resumed\":$previous,"* ]] || fail "the final run did not reuse the $previous trials: $summary"
if [[ "$(results "$tmp/whole")" != "$(results "$tmp/killed")" ]]; then
  fail "the table differs:"; diff <(results "$tmp/whole") <(results "$tmp/killed")
fi
records "$tmp/whole" >"$tmp/whole.records"
records "$tmp/killed" >"$tmp/killed.records"
[[ $(grep -c '^== ' "$tmp/whole.records") -eq $((2 * total)) ]] || fail "the uninterrupted run's records are incomplete"
if ! cmp -s "$tmp/whole.records" "$tmp/killed.records"; then
  fail "trial records differ:"; diff "$tmp/whole.records" "$tmp/killed.records" | head -20
fi
leftovers=$(find "$tmp/killed" -name '*.tmp.*' | wc -l)
echo "$kills kills, $midway midway; temp files left by the kills: $leftovers"

finish
echo "PASS"
