#!/usr/bin/env bash
# Sourced by the tests that start MPI jobs. Defines `mpi_run NP COMMAND [ARGS...]`: mpirun with the settings a test
# machine needs, and nothing that changes what the ranks compute; `mpirun_for_tests ARGS...`, the same with mpirun's
# own arguments (its MPMD form `-np 1 A : -np 1 B`); `expect_job_fails`, `field` and `expect_field` (below).
#  - Open MPI refuses to run as root unless told twice (CI containers run as root).
#  - --oversubscribe: the tests start up to 4 ranks on 2-core machines.
#  - --bind-to none: with bindings, ranks of two concurrent tests could be pinned to the same core.
#  - stdin from /dev/null: mpirun forwards stdin to rank 0 and would otherwise hold the terminal.
#  - vader's single-copy mechanism off: it uses process_vm_readv (CMA), which containers often forbid (Docker's
#    default seccomp profile without CAP_SYS_PTRACE), and then large messages fail; the tests do not measure speed.
# The tests run in Bazel's linux-sandbox (Bazel 4.2.3) as they are: Open MPI's session directory in /tmp and its
# shared-memory segments in /dev/shm stay writable there, and mpirun reaches its ranks over loopback TCP. No
# "no-sandbox" tag and no btl/plm settings are needed (tried on the build machine).
# GoogleTest binaries create and delete Bazel's premature-exit marker file; with several ranks they race and the
# losers print "[ ERROR ] Failed to remove premature exit filepath". The marker guards this script's own exit.
unset TEST_PREMATURE_EXIT_FILE
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
mpirun_for_tests() {
  mpirun --oversubscribe --bind-to none --mca btl_vader_single_copy_mechanism none "$@" </dev/null
}
mpi_run() {
  local ranks=$1
  shift
  mpirun_for_tests -np "$ranks" "$@"
}

# expect_job_fails LABEL PATTERN -- MPIRUN_ARGS...: the job fails (mpirun exits non-zero) and its output matches the
# glob PATTERN. Calls the test's own `fail MESSAGE` otherwise. When every rank fails alike, whichever calls MPI_Abort
# first may end the others before they print: let PATTERN accept any rank (e.g. "rank [01] of 2").
expect_job_fails() {
  local label=$1 pattern=$2
  shift 3
  local output code
  output=$(mpirun_for_tests "$@" 2>&1)
  code=$?
  if [[ $code -eq 0 ]]; then fail "$label: mpirun exited 0"; return; fi
  # shellcheck disable=SC2053  # PATTERN is a glob on purpose.
  if [[ "$output" != *$pattern* ]]; then fail "$label: output lacks '$pattern':"; echo "$output"; return; fi
  echo "ok: $label: mpirun exited $code and said: $pattern"
}

# field JSON NAME: the value of NAME (a number, null, true/false, a string with its quotes, or an array) in one-line
# JSON, as the binaries print their summaries.
field() { grep -o "\"$2\":\(\[[^]]*\]\|[^,}]*\)" <<<"$1" | head -1 | cut -d: -f2-; }

# eigen_build JSON: whether the binary that printed JSON computes with Eigen (--config=portable, "matrix_products"),
# whose products round a shard of a batch otherwise than the whole batch, so that one process and several ranks may
# differ beyond the last bits (README, "Running on a cluster").
eigen_build() { [[ $(field "$1" matrix_products) == '"eigen"' ]]; }

# expect_field LABEL JSON NAME VALUE: prints "ok: ..." or calls the test's own `fail MESSAGE`.
expect_field() {
  local value
  value=$(field "$2" "$3")
  if [[ "$value" == "$4" ]]; then echo "ok: $1: $3 = $4"; else fail "$1: $3 = $value, expected $4"; fi
}
