// Over 450 lines: the Runner's planning, trial ordering, storing and aggregation of studies share its state (the
// studies, their queues and incumbents); who trains which trial is a TrialScheduler's (runner_internal.h): the local
// one below, the MPI one in runner_mpi.cc.
#include "experiments/study_runner/runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "experiments/study_runner/config.h"
#include "experiments/study_runner/early_termination.h"
#include "experiments/study_runner/mask_cache.h"
#include "experiments/study_runner/runner_internal.h"
#include "experiments/study_runner/result_store.h"
#include "experiments/study_runner/study_records.h"
#include "experiments/study_runner/search_space.h"
#include "experiments/study_runner/trial.h"
#include "pruning/mask_report.h"
#include "pruning/pruning.h"
#include "tools/base/aligned_vector.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"
#include "training/distributed/mpi_session.h"
#include "training/nn/networks.h"

namespace parsity::experiments {
namespace runner_internal {

std::string Duration(double seconds) {
  const int64_t total = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (total >= 3600) return absl::StrFormat("%dh%02dm", total / 3600, (total / 60) % 60);
  return absl::StrFormat("%dm%02ds", total / 60, total % 60);
}


absl::Status Runner::Plan(bool coordinator) {
  points_ = SobolPoints(spec_.search_size(), spec_.trials());
  for (const std::vector<double>& point : points_) parameters_.push_back(TrialMetaparameters(spec_, point));
  std::vector<int> sparsity_order(spec_.sparsities_size()), batch_order(spec_.batch_sizes_size());
  std::iota(sparsity_order.begin(), sparsity_order.end(), 0);
  std::iota(batch_order.begin(), batch_order.end(), 0);
  std::sort(sparsity_order.begin(), sparsity_order.end(),
            [&](int a, int b) { return spec_.sparsities(a) < spec_.sparsities(b); });
  std::sort(batch_order.begin(), batch_order.end(),
            [&](int a, int b) { return spec_.batch_sizes(a) < spec_.batch_sizes(b); });
  const DataFingerprint data = FingerprintData(dataset_);
  if (coordinator) {
    // This process owns the tree (its lock): no writer is left but killed ones.
    ASSIGN_OR_RETURN(temporary_files_removed_, RemoveStaleTemporaryFiles(options_.output_dir));
    if (temporary_files_removed_ > 0) {
      std::fprintf(stderr, "study: removed %d temporary file%s (*.tmp.<pid>) left in %s by writers that were killed\n",
                   temporary_files_removed_, temporary_files_removed_ > 1 ? "s" : "", options_.output_dir.c_str());
    }
  }
  // Read every stored trial before training anything, so that a mismatch fails at once.
  for (int sparsity_index : sparsity_order) {
    for (int batch_index : batch_order) {
      auto study = std::make_unique<Study>();
      study->index = static_cast<int>(studies_.size());
      study->sparsity_index = sparsity_index;
      study->batch_index = batch_index;
      study->sparsity = spec_.sparsities(sparsity_index);
      study->batch_size = spec_.batch_sizes(batch_index);
      study->directory = StudyDirectory(options_.output_dir, spec_, study->sparsity, study->batch_size);
      study->done.resize(spec_.trials());
      for (int trial = 0; trial < spec_.trials(); ++trial) {
        study->trials.push_back(
            MakeTrialSpec(spec_, data, study->sparsity, study->batch_size, trial, parameters_[trial]));
        if (!coordinator) continue;
        const std::string directory = TrialDirectory(study->directory, trial);
        ASSIGN_OR_RETURN(const StoredTrial stored,
                         CheckStoredTrial(directory, &study->trials.back(), /*adopt_legacy=*/true));
        if (stored.state == StoredTrialState::kDamaged) {
          ASSIGN_OR_RETURN(const std::string moved_to, MoveDamagedTrialAside(directory));
          ++trials_damaged_;
          std::fprintf(stderr, "study: damaged trial %s: %s; moved aside to %s, to be trained again\n",
                       directory.c_str(), stored.problem.c_str(),
                       moved_to.substr(moved_to.find_last_of('/') + 1).c_str());
        } else if (stored.state == StoredTrialState::kAdopted) {
          ++trials_adopted_;
        }
        study->done[trial] = stored.summary;
        ++trials_total_;
        if (study->done[trial].has_value()) {
          ++study->done_count;
          ++trials_resumed_;
          if (study->done[trial]->steps_to_result.has_value()) {
            study->incumbent.Offer(*study->done[trial]->steps_to_result, trial);
          }
        } else {
          ++trials_to_run_;
          if (study->sparsity > 0) masks_.Expect(sparsity_index, trial);
        }
      }
      studies_.push_back(std::move(study));
    }
  }
  if (!coordinator) return absl::OkStatus();
  if (trials_adopted_ > 0) {
    std::fprintf(stderr,
                 "study: adopted %d legacy trial%s of %s (written before digests; metadata.json and measurements.csv "
                 "agree): their digests added\n",
                 trials_adopted_, trials_adopted_ > 1 ? "s" : "", options_.output_dir.c_str());
  }
  RETURN_IF_ERROR(WriteResolvedSpec(options_.output_dir, spec_, options_.source));
  for (const std::unique_ptr<Study>& study : studies_) {
    if (study->done_count == spec_.trials()) {
      ++studies_done_;
      RETURN_IF_ERROR(WriteStudy(*study));
    }
  }
  return WriteStepsToResultCsv(options_.output_dir);
}

const Study* Runner::ReferenceFor(const Study& study) const {
  const auto has_incumbent = [](const Study* candidate) { return candidate->incumbent.Get().has_value(); };
  if (has_incumbent(&study)) return &study;  // Resumed with a complete trial: its own best is the best guess.
  const Study* same_sparsity = nullptr;
  const Study* same_batch = nullptr;
  for (const std::unique_ptr<Study>& candidate : studies_) {
    if (candidate.get() == &study) break;
    if (!has_incumbent(candidate.get())) continue;
    // Studies come in ascending order, so the last match is the nearest smaller batch size or sparsity.
    if (candidate->sparsity_index == study.sparsity_index) same_sparsity = candidate.get();
    if (candidate->batch_index == study.batch_index) same_batch = candidate.get();
  }
  // The best learning rate moves more with the batch size than with the sparsity, so the same batch size at a lower
  // sparsity is the better guess when it exists.
  if (same_batch != nullptr) return same_batch;
  if (same_sparsity != nullptr) return same_sparsity;
  const Study* nearest = nullptr;
  for (const std::unique_ptr<Study>& candidate : studies_) {
    if (candidate.get() == &study) break;
    if (has_incumbent(candidate.get())) nearest = candidate.get();
  }
  return nearest;
}

void Runner::Open(Study* study) {
  study->opened = true;
  std::vector<int> trials;
  for (int trial = 0; trial < spec_.trials(); ++trial) {
    if (!study->done[trial].has_value()) trials.push_back(trial);
  }
  const Study* reference = ReferenceFor(*study);
  if (reference != nullptr) {
    const std::vector<double>& target = points_[reference->incumbent.Get()->trial];
    const auto distance = [&](int trial) {
      double sum = 0;
      for (size_t d = 0; d < target.size(); ++d)
        sum += (points_[trial][d] - target[d]) * (points_[trial][d] - target[d]);
      return sum;
    };
    std::stable_sort(trials.begin(), trials.end(), [&](int a, int b) { return distance(a) < distance(b); });
  }
  study->queue.assign(trials.begin(), trials.end());
}

bool Runner::NextTask(Task* task) {
  for (;;) {
    for (const std::unique_ptr<Study>& study : studies_) {
      if (study->opened && !study->queue.empty()) {
        task->study = study.get();
        task->trial = study->queue.front();
        study->queue.pop_front();
        return true;
      }
    }
    // Open the next study with trials left, if any.
    while (next_to_open_ < studies_.size() && studies_[next_to_open_]->done_count == spec_.trials()) ++next_to_open_;
    if (next_to_open_ == studies_.size()) return false;
    Open(studies_[next_to_open_++].get());
  }
}

void Runner::Work() {
  for (;;) {
    Task task;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_.ok() || !NextTask(&task)) return;
    }
    const absl::Status status = RunTask(task);
    if (!status.ok()) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (error_.ok()) error_ = status;
      aborting_ = true;
      return;
    }
  }
}

absl::Status Runner::RunTask(const Task& task) {
  Study& study = *task.study;
  const auto can_still_win = [&](int64_t earliest_completion_step) {
    if (aborting_) return false;
    return !options_.early_termination || CanStillWin(earliest_completion_step, task.trial, study.incumbent.Get());
  };
  const auto mask_for = [&](const nn::Network& network, absl::Span<const float> parameters) {
    const pruning::PruningConfig pruning_config = PruningConfigFor(study.trials[task.trial]);
    return masks_.Get(study.sparsity_index, task.trial, [&] {
      return pruning::ComputeMask(pruning_config, network, parameters, dataset_.train, study.trials[task.trial].seed(),
                                  /*threads=*/1);
    });
  };
  const absl::StatusOr<std::optional<TrialSummary>> summary = TrainAndStore(study, task.trial, can_still_win, mask_for);
  if (study.sparsity > 0) masks_.Release(study.sparsity_index, task.trial);
  RETURN_IF_ERROR(summary.status());
  if (!summary->has_value()) return absl::OkStatus();
  if ((*summary)->steps_to_result.has_value()) study.incumbent.Offer(*(*summary)->steps_to_result, task.trial);
  std::lock_guard<std::mutex> lock(mutex_);
  return Finish(task, **summary, (*summary)->wall_seconds, /*rank=*/0);
}

absl::StatusOr<std::optional<TrialSummary>> Runner::TrainAndStore(const Study& study, int trial_index,
                                                                  const CanStillWinFunction& can_still_win,
                                                                  const MaskFunction& mask_for) {
  const TrialSpec& trial = study.trials[trial_index];
  const int64_t first_check = NextCheckStep(0, trial.check_interval(), trial.max_steps());
  TrialRun run;
  std::optional<pruning::MaskReport> mask_report;
  if (!can_still_win(first_check)) {
    // Its first check could not beat the incumbent: skipped, recorded as stopped early at step 0.
    if (aborting_) return std::nullopt;
    run.stopped_early = true;
    run.result.stopped_by_caller = true;
  } else {
    ASSIGN_OR_RETURN(std::unique_ptr<nn::Network> network, nn::CreateNetwork(trial.network()));
    AlignedFloatVector parameters(network->parameter_count());
    trainer::InitializeParameters(*network, trial.seed(), absl::MakeSpan(parameters));
    MaskPointer mask;
    if (study.sparsity > 0) {
      ASSIGN_OR_RETURN(mask, mask_for(*network, parameters));
      mask->Apply(absl::MakeSpan(parameters));
      const pruning::PruningConfig pruning_config = PruningConfigFor(trial);
      mask_report = pruning::ReportMask(*mask, network->layout(), pruning_config.sparsity, pruning_config.prune_biases);
    }
    ASSIGN_OR_RETURN(run, TrainTrial(trial, *network, dataset_, mask.get(), absl::MakeSpan(parameters), can_still_win,
                                     options_.check_early_exit));
    if (aborting_) return std::nullopt;  // Stopped because another worker failed: not a result.
  }
  RETURN_IF_ERROR(WriteTrial(TrialDirectory(study.directory, trial_index), trial, parameters_[trial_index],
                             points_[trial_index], run, mask_report));
  return SummarizeRun(trial, parameters_[trial_index], run);
}

absl::Status Runner::Finish(const Task& task, const TrialSummary& summary, double trial_seconds, int rank) {
  Study& study = *task.study;
  study.done[task.trial] = summary;
  ++study.done_count;
  ++trials_run_;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const std::optional<Incumbent> best = study.incumbent.Get();
  std::string outcome;
  if (summary.stopped_early) {
    outcome = summary.steps == 0 ? "skipped (its first check could not beat the best)"
                                 : absl::StrCat("stopped early at step ", summary.steps);
  } else if (summary.status == trainer::TrialStatus::kComplete) {
    outcome = absl::StrCat("COMPLETE at step ", *summary.steps_to_result);
  } else {
    outcome = absl::StrCat(trainer::TrialStatusName(summary.status), " at step ", summary.steps);
  }
  if (study.done_count == spec_.trials()) ++studies_done_;
  const int remaining = trials_to_run_ - trials_run_;
  Progress(absl::StrFormat(
      "[%d/%d studies, %d/%d trials, %s, ETA ~%s] sparsity %g batch %d trial %d (%s): %s in %.1f s%s; best %s",
      studies_done_, static_cast<int>(studies_.size()), trials_resumed_ + trials_run_, trials_total_, Duration(elapsed),
      Duration(trials_run_ > 0 ? elapsed * remaining / trials_run_ : 0), study.sparsity, study.batch_size, task.trial,
      MetaparametersText(summary.parameters), outcome, trial_seconds, ranks_ > 1 ? absl::StrCat(" on rank ", rank) : "",
      best.has_value() ? absl::StrCat(best->steps_to_result, " steps (trial ", best->trial, ")") : "none yet"));
  if (study.done_count < spec_.trials()) return absl::OkStatus();
  RETURN_IF_ERROR(WriteStudy(study));
  return WriteStepsToResultCsv(options_.output_dir);
}

absl::Status Runner::WriteStudy(const Study& study) {
  std::vector<TrialSummary> trials;
  for (const std::optional<TrialSummary>& trial : study.done) trials.push_back(*trial);
  const StudyResult result = AggregateStudy(trials);
  if (start_ != Clock::time_point() && result.trials > 0) {
    Progress(absl::StrCat("study sparsity ", study.sparsity, " batch ", study.batch_size, " done: ",
                          result.steps_to_result.has_value()
                              ? absl::StrCat("steps_to_result ", *result.steps_to_result, " by trial ",
                                             *result.best_trial, " (", MetaparametersText(result.best_parameters), ")")
                              : "no trial reached the goal",
                          "; ", result.complete, " complete, ", result.incomplete, " incomplete (",
                          result.stopped_early, " stopped early), ", result.infeasible, " infeasible"));
  }
  return WriteFileAtomically(
      absl::StrCat(study.directory, "/study.json"),
      StudyJson(spec_, study.sparsity, study.batch_size, result, CountDamagedTrials(study.directory)));
}

void Runner::Progress(const std::string& line) const {
  if (options_.progress) std::fprintf(stderr, "%s\n", line.c_str());
}

absl::StatusOr<RunSummary> Runner::Run() {
  const distributed::MpiSession* session = options_.session;
  ranks_ = session != nullptr ? session->size() : 1;
  const int rank = session != nullptr ? session->rank() : 0;
  if (options_.parallel_trials < 1) {
    return absl::InvalidArgumentError(absl::StrCat("parallel_trials: ", options_.parallel_trials, " must be >= 1"));
  }
  if (ranks_ > 1 && options_.parallel_trials != 1) {
    return absl::InvalidArgumentError(absl::StrCat("parallel_trials: ", options_.parallel_trials, " with ", ranks_,
                                                   " MPI ranks: under mpirun every rank trains one trial at a time; "
                                                   "start one rank per core instead"));
  }
  RETURN_IF_ERROR(ValidateStudySpecForData(spec_, dataset_, options_.source));
  std::unique_ptr<FileLock> own_lock;  // Held until the run returns, when the caller holds none.
  if (rank == 0) {
    const FileLock* lock = options_.lock;
    if (lock == nullptr) {
      ASSIGN_OR_RETURN(own_lock, LockOutputDirectory(options_.output_dir));
      lock = own_lock.get();
    } else if (lock->path() != OutputLockPath(options_.output_dir)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the lock given, ", lock->path(), ", is not the output directory's ", OutputLockPath(options_.output_dir)));
    }
    if (lock->previous_holder().has_value()) {
      const LockHolder& holder = *lock->previous_holder();
      std::fprintf(stderr, "study: %s: the run of host %s, PID %lld (since %s) ended without releasing it; resuming\n",
                   lock->path().c_str(), holder.host.c_str(), static_cast<long long>(holder.pid), holder.since.c_str());
    }
  }
  const std::unique_ptr<TrialScheduler> scheduler =
      ranks_ > 1 ? MakeMpiScheduler(session->communicator(), rank, ranks_)
                 : MakeLocalScheduler(options_.parallel_trials);
  RETURN_IF_ERROR(Plan(scheduler->coordinator()));
  RETURN_IF_ERROR(scheduler->Agree(*this));
  if (!scheduler->coordinator()) {
    RETURN_IF_ERROR(scheduler->Run(*this));
    RunSummary summary;
    summary.coordinator = false;
    summary.ranks = ranks_;
    return summary;
  }
  start_ = Clock::now();
  Progress(absl::StrCat(WorkloadName(spec_), ": ", studies_.size(), " studies of ", spec_.trials(), " trials; ",
                        trials_resumed_, " trials already finished in ", options_.output_dir, ", ", trials_to_run_,
                        " to run on ", scheduler->Describe(),
                        options_.early_termination ? " with early termination" : ""));
  RETURN_IF_ERROR(scheduler->Run(*this));
  RETURN_IF_ERROR(error_);
  RunSummary summary;
  summary.workload = WorkloadName(spec_);
  summary.goal_error = spec_.goal_error();
  summary.trials = trials_total_;
  summary.trials_run = trials_run_;
  summary.trials_resumed = trials_resumed_;
  summary.trials_damaged = trials_damaged_;
  summary.trials_adopted = trials_adopted_;
  summary.temporary_files_removed = temporary_files_removed_;
  summary.early_termination = options_.early_termination;
  summary.check_early_exit = options_.check_early_exit;
  summary.parallel_trials = options_.parallel_trials;
  summary.ranks = ranks_;
  for (int sparsity_index = 0; sparsity_index < spec_.sparsities_size(); ++sparsity_index) {
    for (int batch_index = 0; batch_index < spec_.batch_sizes_size(); ++batch_index) {
      for (const std::unique_ptr<Study>& study : studies_) {
        if (study->sparsity_index != sparsity_index || study->batch_index != batch_index) continue;
        std::vector<TrialSummary> trials;
        for (const std::optional<TrialSummary>& trial : study->done) trials.push_back(*trial);
        StudyOutcome outcome{study->sparsity, study->batch_size, AggregateStudy(trials)};
        summary.examples_trained += outcome.result.examples_trained;
        summary.examples_saved_at_most += outcome.result.examples_saved_at_most;
        summary.validation_examples_evaluated += outcome.result.validation_examples_evaluated;
        summary.validation_examples_in_full_checks += outcome.result.validation_examples_in_full_checks;
        summary.studies.push_back(std::move(outcome));
      }
    }
  }
  summary.wall_seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  return summary;
}

}  // namespace runner_internal

using runner_internal::Runner;

std::string OutputLockPath(const std::string& output_dir) { return absl::StrCat(output_dir, "/study.lock"); }

absl::StatusOr<std::unique_ptr<FileLock>> LockOutputDirectory(const std::string& output_dir) {
  std::error_code error;
  if (std::filesystem::exists(output_dir, error) && !std::filesystem::is_directory(output_dir, error)) {
    return absl::InvalidArgumentError(absl::StrCat("output directory ", output_dir, " is not a directory"));
  }
  if (const absl::Status folder = CheckParentFolderExists(output_dir); !folder.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("output directory ", output_dir, ": ", folder.message(),
                                                   " (only the output directory itself is created)"));
  }
  RETURN_IF_ERROR(CreateDirectories(output_dir));
  absl::StatusOr<std::unique_ptr<FileLock>> lock = FileLock::TryAcquire(OutputLockPath(output_dir));
  if (absl::IsUnavailable(lock.status())) {
    return absl::UnavailableError(absl::StrCat("output directory ", output_dir, " is in use: ", lock.status().message(),
                                               "; wait for that run to end, or use another --output_dir"));
  }
  return lock;
}

absl::StatusOr<RunSummary> RunStudies(const StudySpec& spec, const data::Dataset& dataset, const RunOptions& options) {
  Runner runner(spec, dataset, options);
  return runner.Run();
}

JsonObject RunSummaryJson(const RunSummary& summary) {
  JsonObject table;
  std::vector<double> sparsities;
  for (const StudyOutcome& study : summary.studies) {
    if (std::find(sparsities.begin(), sparsities.end(), study.sparsity) == sparsities.end()) {
      sparsities.push_back(study.sparsity);
    }
  }
  int stopped_early = 0;
  for (double sparsity : sparsities) {
    JsonObject row;
    for (const StudyOutcome& study : summary.studies) {
      if (study.sparsity != sparsity) continue;
      const std::string key = absl::StrCat(study.batch_size);
      if (study.result.steps_to_result.has_value()) {
        row.Add(key, *study.result.steps_to_result);
      } else {
        row.AddNull(key);
      }
      stopped_early += study.result.stopped_early;
    }
    table.Add(absl::StrCat(sparsity), row);
  }
  JsonObject json;
  json.Add("workload", summary.workload).Add("goal_error", summary.goal_error).Add("steps_to_result", table);
  json.Add("trials", summary.trials).Add("trials_run", summary.trials_run);
  json.Add("trials_resumed", summary.trials_resumed).Add("trials_damaged", summary.trials_damaged);
  json.Add("trials_adopted", summary.trials_adopted);
  json.Add("temporary_files_removed", summary.temporary_files_removed).Add("stopped_early", stopped_early);
  json.Add("examples_trained", summary.examples_trained);
  json.Add("examples_saved_at_most", summary.examples_saved_at_most);
  json.Add("validation_examples_evaluated", summary.validation_examples_evaluated);
  json.Add("validation_examples_in_full_checks", summary.validation_examples_in_full_checks);
  json.Add("early_termination", summary.early_termination).Add("check_early_exit", summary.check_early_exit);
  json.Add("parallel_trials", summary.parallel_trials);
  json.Add("ranks", summary.ranks);
  json.Add("wall_seconds", summary.wall_seconds);
  return json;
}

std::string RunSummaryTable(const RunSummary& summary) {
  std::vector<int64_t> batch_sizes;
  std::vector<double> sparsities;
  for (const StudyOutcome& study : summary.studies) {
    if (std::find(batch_sizes.begin(), batch_sizes.end(), study.batch_size) == batch_sizes.end()) {
      batch_sizes.push_back(study.batch_size);
    }
    if (std::find(sparsities.begin(), sparsities.end(), study.sparsity) == sparsities.end()) {
      sparsities.push_back(study.sparsity);
    }
  }
  std::sort(batch_sizes.begin(), batch_sizes.end());
  std::string table =
      absl::StrFormat("steps to result (goal error %g), %s\n%-10s", summary.goal_error, summary.workload, "sparsity");
  for (int64_t batch_size : batch_sizes)
    absl::StrAppend(&table, absl::StrFormat("%9s", absl::StrCat("B=", batch_size)));
  for (double sparsity : sparsities) {
    absl::StrAppend(&table, absl::StrFormat("\n%-10g", sparsity));
    for (int64_t batch_size : batch_sizes) {
      std::string cell = "";
      for (const StudyOutcome& study : summary.studies) {
        if (study.sparsity != sparsity || study.batch_size != batch_size) continue;
        cell = study.result.steps_to_result.has_value() ? absl::StrCat(*study.result.steps_to_result) : "-";
      }
      absl::StrAppend(&table, absl::StrFormat("%9s", cell));
    }
  }
  return table + "\n";
}

}  // namespace parsity::experiments
