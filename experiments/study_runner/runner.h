// Runs every study of a spec (one per sparsity and batch size) into a result tree (result_store.h): trials in
// parallel, exact early termination, resume after an interruption. Design note: experiments/study_runner/README.md.
//
//   ASSIGN_OR_RETURN(StudySpec spec, LoadStudySpec(path, "quick", path));
//   ASSIGN_OR_RETURN(data::Dataset dataset, data::LoadDataset(spec.dataset(), spec.data_dir()));
//   ASSIGN_OR_RETURN(RunSummary summary, RunStudies(spec, dataset, {.output_dir = "studies/quick"}));
//   std::cout << RunSummaryJson(summary).ToString() << "\n";
//
// Schedule. Studies are processed sparsity by sparsity (ascending), batch size by batch size (ascending). A study's
// trials are queued when it opens, ranked by how close their Sobol point lies (Euclidean distance in the unit cube,
// i.e. in the scaled coordinates: |log lr - log lr*| for a LOG learning rate) to the best trial so far of a study
// already run (the study itself when resumed with a complete trial, else the same batch size at the next lower
// sparsity, else the next smaller batch size at the same sparsity, else the nearest earlier study with a complete
// trial; ties and no reference: trial order), so that likely
// winners run first and set a low bar for the others. `parallel_trials` workers take trials from the first open
// study with queued trials and open the next study when none has any, so the cores stay busy across study
// boundaries. Every trial is single-threaded and deterministic; the data set is loaded once and shared read-only;
// the pruning mask of (sparsity, trial r) is computed once and shared by every batch size (it depends on the seed
// only), then dropped.
//
// Results. The study's steps-to-result and best trial do not depend on the order, the number of workers, early
// termination or interruptions (early_termination.h); which trials were stopped early, and so the status counts and
// examples trained, do.
//
// Distributed sweeps. Under `mpirun -np P` (options.session with P > 1 ranks) rank 0 schedules as above for the whole
// job: its main thread hands trials to the other ranks one at a time as each asks for work (dynamic scheduling: a
// slow trial does not idle the others) and trains one trial itself on a second thread; every other rank trains the
// trials it is given, one at a time, and writes their files itself, so the output directory must be on storage all
// ranks see. Rank 0 reads each finished trial back (ReadFinishedTrial: a rank that wrote another config's trial is
// refused), updates its study's incumbent and sends every improvement to the other ranks, which take it at their
// next check: an incumbent that arrives late only stops trials later, never wrongly, so early termination stays
// exact across ranks. Before training, every rank checks that all ranks resolved the same trials (config, profile
// and data set). A rank that fails ends the job (the binary aborts it); finished trials stay stored and the same
// command resumes.
//
// Resume. A trial is finished iff its metadata.json exists; a run reads finished trials back (refusing, before any
// training, ones whose TrialSpec differs from the current config's: another config, profile or data set), seeds
// each study's incumbent with them, and runs only the others. Every stored trial is verified first
// (result_store.h's CheckStoredTrial): one whose digest does not match its files, whose files cannot be parsed or
// whose measurements.csv is missing is damaged: its folder is moved aside to "<trial>.damaged.<time>" (nothing is
// deleted), one stderr line names the trial, the problem and the new folder, and the trial is trained again
// (RunSummary::trials_damaged, study.json's "trials_damaged"). A trial written before digests existed is verified
// by the agreement of its metadata.json and measurements.csv and adopted (its digest added), with one line counting
// them; one whose files disagree is damaged. Before that, temporary files of writers killed midway
// ("<file>.tmp.<pid>" with no process <pid> on this host) are removed from the tree, with one line counting them.
//
// One owner per output directory. Rank 0 (or the only process) holds DIR/study.lock (tools/base/file_lock.h,
// LockOutputDirectory) for the whole run, and the binary for its theory measurements and report too: a second run
// on the same directory is refused at once, naming the holder's host and PID. The kernel releases the lock when its
// holder dies, so the file a killed run leaves behind does not block the resume (it says which run ended without
// releasing it). The other MPI ranks take no lock: they only write the trials rank 0 hands them.
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_RUNNER_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_RUNNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "experiments/study.pb.h"
#include "experiments/study_runner/aggregation.h"
#include "tools/base/file_lock.h"
#include "tools/base/json.h"
#include "training/data/dataset.h"
#include "training/distributed/mpi_session.h"

namespace parsity::experiments {

struct RunOptions {
  std::string output_dir;         // Root of the result tree; created if missing.
  int parallel_trials = 1;        // Workers, each training one single-threaded trial at a time: >= 1.
  bool early_termination = true;  // Stop trials that can no longer improve their study's result.
  // Stop each validation check once it cannot complete its trial (training/trainer/validation_check.h). Exact, like
  // early termination: the same steps-to-result and the same COMPLETE trials; the stored checks of trials that did
  // not complete record lower bounds on their errors.
  bool check_early_exit = true;
  bool progress = true;           // Progress lines on stderr.
  std::string source;             // The config's name, recorded in study_spec.textproto.
  // The MPI job this process belongs to (distributed sweeps above), or null for a run of this process only. With
  // more than one rank every rank calls RunStudies with the same arguments and parallel_trials must be 1.
  const distributed::MpiSession* session = nullptr;
  // Rank 0 (or the only process): the output directory's lock (LockOutputDirectory) when the caller holds it for
  // longer than the run (the binary: through the theory measurements and the report); null: RunStudies takes it
  // itself for the run. Ignored on the other ranks.
  const FileLock* lock = nullptr;
};

struct StudyOutcome {
  double sparsity = 0;
  int64_t batch_size = 0;
  StudyResult result;
};

struct RunSummary {
  std::string workload;  // "mnist/simple_cnn/sgd".
  double goal_error = 0;
  std::vector<StudyOutcome> studies;  // Sparsity-major, in the spec's order.
  int trials = 0;                     // Over all studies.
  int trials_run = 0;                 // Trained (or skipped by early termination) in this run.
  int trials_resumed = 0;             // Read back from an earlier run (verified, or legacy and adopted).
  int trials_damaged = 0;             // Found damaged by this run, moved aside and trained again.
  int trials_adopted = 0;             // Of trials_resumed, legacy trials (no digest) whose digest this run added.
  int temporary_files_removed = 0;    // Left by writers killed midway.
  int64_t examples_trained = 0;       // Over all trials of all studies, earlier runs' included.
  int64_t examples_saved_at_most = 0;
  int64_t validation_examples_evaluated = 0;       // Over all trials' checks, earlier runs' included.
  int64_t validation_examples_in_full_checks = 0;  // What those checks would have evaluated without early exit.
  bool early_termination = true;
  bool check_early_exit = true;
  int parallel_trials = 1;
  int ranks = 1;            // MPI ranks that trained trials.
  bool coordinator = true;  // False on MPI ranks other than 0, whose summary is empty: rank 0 reports.
  double wall_seconds = 0;  // Of this run.
};

// DIR/study.lock.
std::string OutputLockPath(const std::string& output_dir);

// Creates `output_dir` if missing (the folder itself only: its parent must exist, so that a mistyped path creates
// nothing) and takes its lock (OutputLockPath) for as long as the result lives. Errors: InvalidArgument "output
// directory DIR: folder PARENT does not exist" (or "... is not a directory"); Unavailable when another process
// holds it: "output directory DIR is in use: DIR/study.lock is held by host H,
// PID P, since T; wait for that run to end, or use another --output_dir"; those of creating the directory or the file.
absl::StatusOr<std::unique_ptr<FileLock>> LockOutputDirectory(const std::string& output_dir);

// Runs (or resumes) every study of the valid, resolved `spec` (ValidateStudySpec) on `dataset`, writing the result
// tree under options.output_dir, and returns the table. Errors: InvalidArgument for parallel_trials < 1 (or > 1 with
// several MPI ranks), batch sizes larger than the training set or data of another shape than the network takes
// (ValidateStudySpecForData), or options.lock not the
// output directory's; Unavailable when another process holds the output directory (LockOutputDirectory);
// FailedPrecondition when MPI ranks resolved different trials, naming the ranks; FailedPrecondition from stored trials
// of another configuration (CheckStoredTrial), before any training; the errors of reading, adopting or moving stored
// trials; the first error of a trial (pruning, trainer creation) or a write, after which the other workers stop
// (finished trials stay stored: rerun to resume).
absl::StatusOr<RunSummary> RunStudies(const StudySpec& spec, const data::Dataset& dataset, const RunOptions& options);

// The binary's last stdout line:
//   {"workload":"mnist/simple_cnn/sgd","goal_error":0.03,"steps_to_result":{"0":{"8":3400,"32":1000},"0.9":{...}},
//    "trials":40,"trials_run":40,"trials_resumed":0,"trials_damaged":0,"trials_adopted":0,
//    "temporary_files_removed":0,"stopped_early":22,"examples_trained":...,
//    "examples_saved_at_most":...,"validation_examples_evaluated":...,"validation_examples_in_full_checks":...,
//    "early_termination":true,"check_early_exit":true,"parallel_trials":2,"ranks":1,"wall_seconds":812.5}
// steps_to_result maps sparsity, then batch size, to the study's steps-to-result (null when no trial completed).
JsonObject RunSummaryJson(const RunSummary& summary);

// The table for humans: one row per sparsity, one column per batch size.
std::string RunSummaryTable(const RunSummary& summary);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_RUNNER_H_
