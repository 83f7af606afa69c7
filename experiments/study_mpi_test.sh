#!/usr/bin/env bash
# //experiments:study as a distributed sweep under mpirun (experiments/study_runner/runner.h, "Distributed sweeps"), on
# a tiny data set:
#  1. 2 ranks give the same steps_to_result.csv results (the columns that do not depend on how trials ran) as one
#     process, train every trial, share the trials between the ranks, and print one JSON line with "ranks":2;
#  2. ranks started with different configs (mpirun's MPMD form) end the job before training, naming the rank;
#  3. a rank killed midway (SIGKILL, as when a node dies) makes the job fail with mpirun naming the rank, and the
#     same command then resumes: it reuses the finished trials and the results equal the one-process run. This run
#     has early termination off (it then lasts long enough to be killed midway), so its equality with the
#     one-process run with early termination on also shows that the shortcut changes no result across ranks. While
#     that job runs, rank 0 alone holds the output directory's lock (the other ranks train without it), and a second
#     run on the directory is refused naming rank 0's host and PID (issue 13); the ranks are frozen (SIGSTOP) for that
#     check, or the job, whose trials take milliseconds, can finish before rank 1 is killed.
set -uo pipefail
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/training/distributed/mpi_test_lib.sh"
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/experiments/tiny_study_lib.sh"
study=$1
write_tiny_mnist=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
source "${TEST_SRCDIR}/parsity/tools/testing/test_lib.sh"
results() { cut -d, -f1-10 "$1/steps_to_result.csv"; }
same_results() {  # LABEL DIR
  if [[ "$(results "$tmp/one")" == "$(results "$2")" ]]; then
    echo "ok: $1: steps_to_result.csv equals the one-process run's"
  else
    fail "$1: results differ from the one-process run:"; diff <(results "$tmp/one") <(results "$2")
  fi
}

write_tiny_study "$write_tiny_mnist" "$tmp" 8 || { echo "cannot write the data set"; exit 1; }
total=48

# 1. One process, then 2 ranks.
"$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/one" --parallel_trials=1 >"$tmp/one.out" \
  2>"$tmp/one.err" || { cat "$tmp/one.err"; echo "the one-process run failed"; exit 1; }
mpi_run 2 "$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/two" >"$tmp/two.out" 2>"$tmp/two.err" ||
  { cat "$tmp/two.err"; fail "mpirun -np 2 failed"; }
summary=$(tail -1 "$tmp/two.out")
echo "2 ranks: $summary"
[[ $(wc -l <"$tmp/two.out") -eq 1 ]] || fail "stdout has more than rank 0's JSON line"
[[ "$summary" == *'"ranks":2,'* ]] || fail "the summary lacks \"ranks\":2"
[[ "$summary" == *"\"trials_run\":$total,"* ]] || fail "the 2-rank run did not run all $total trials"
[[ $(find "$tmp/two" -name metadata.json | wc -l) -eq $total ]] || fail "the 2-rank run did not store $total trials"
on_rank_1=$(grep -c ' on rank 1;' "$tmp/two.err")
on_rank_0=$(grep -c ' on rank 0;' "$tmp/two.err")
echo "trials finished on rank 0: $on_rank_0, on rank 1: $on_rank_1"
[[ $on_rank_1 -ge 1 && $on_rank_0 -ge 1 ]] || fail "the ranks did not share the trials"
same_results "2 ranks" "$tmp/two"

# 2. Ranks with different configs.
sed 's/goal_error: 0.04/goal_error: 0.05/' "$tmp/tiny.textproto" > "$tmp/other.textproto"
expect_job_fails "different configs" "the 2 MPI ranks resolved different trials: rank 1 differs from rank 0" -- \
  -np 1 "$study" --config="$tmp/tiny.textproto" --output_dir="$tmp/mixed" : \
  -np 1 "$study" --config="$tmp/other.textproto" --output_dir="$tmp/mixed"
[[ -z $(find "$tmp/mixed" -name metadata.json 2>/dev/null) ]] || fail "different configs: trials were trained"

# 3. Kill rank 1 of 3 midway, then resume with 2 ranks.
killed_run=(--config="$tmp/tiny.textproto" --output_dir="$tmp/killed" --early_termination=false)
mpi_run 3 "$study" "${killed_run[@]}" >/dev/null 2>"$tmp/killed.err" &
mpirun_pid=$!
# The study processes of this job by rank, in rank_pids: one grep over every command line (a loop spawning two
# processes per PID took long enough for the whole job to finish), then each candidate's rank from its environment.
declare -A rank_pids=()
find_ranks() {
  local cmdline
  for cmdline in $(grep -lasF -- "--output_dir=$tmp/killed" /proc/[0-9]*/cmdline); do
    local pid=${cmdline#/proc/}
    pid=${pid%/cmdline}
    local rank
    rank=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
    [[ -n $rank ]] && rank_pids[$rank]=$pid
  done
}
victim=""
for _ in $(seq 1 4000); do
  [[ ${#rank_pids[@]} -ge 3 ]] || find_ranks
  if [[ ${#rank_pids[@]} -ge 3 && $(find "$tmp/killed" -name metadata.json 2>/dev/null | wc -l) -ge 3 ]]; then
    victim=${rank_pids[1]}
    holder=${rank_pids[0]}
    other=${rank_pids[2]}
    # Frozen while the lock is checked, so that the job cannot finish first (its trials take milliseconds).
    kill -STOP $victim $holder $other 2>/dev/null
    break
  fi
  sleep 0.005
done
if [[ -z $victim ]]; then
  fail "could not find rank 1 of the 3-rank run"
else
  second=$("$study" "${killed_run[@]}" 2>&1 >/dev/null)
  code=$?
  [[ $code -eq 1 && "$second" == *"/study.lock is held by host $(uname -n), PID $holder, since "* ]] ||
    fail "a second run on the directory of the 3-rank job (rank 0 is PID $holder): exit $code: $second"
  kill -KILL "$victim"
  kill -CONT $holder $other 2>/dev/null
fi
wait "$mpirun_pid"
code=$?
finished=$(find "$tmp/killed" -name metadata.json | wc -l)
echo "rank 1 killed after $finished of $total trials; mpirun exited $code"
[[ $code -ne 0 ]] || fail "the job with a killed rank exited 0"
grep -q "process rank 1 with PID .* exited on signal 9" "$tmp/killed.err" || { fail "mpirun did not name the killed rank:"; cat "$tmp/killed.err"; }
[[ $finished -lt $total ]] || fail "the run finished before the kill took effect; the test proves less"

mpi_run 2 "$study" "${killed_run[@]}" >"$tmp/resumed.out" \
  2>"$tmp/resumed.err" || { cat "$tmp/resumed.err"; fail "the resumed run failed"; }
summary=$(tail -1 "$tmp/resumed.out")
[[ "$summary" == *"\"trials_resumed\":$finished,"* ]] || fail "the resumed run did not reuse the $finished trials: $summary"
same_results "killed and resumed" "$tmp/killed"
results "$tmp/killed"

finish
echo "PASS"
