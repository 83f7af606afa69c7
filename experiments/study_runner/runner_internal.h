// The study runner's internals, shared by runner.cc (planning, ordering, storing), local_scheduler.cc (one process's
// workers) and runner_mpi.cc (the distributed sweep's scheduler): not part of the library's interface (runner.h is).
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_INTERNAL_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_INTERNAL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <mpi.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "experiments/study.pb.h"
#include "experiments/study_runner/aggregation.h"
#include "experiments/study_runner/early_termination.h"
#include "experiments/study_runner/mask_cache.h"
#include "experiments/study_runner/runner.h"
#include "training/data/dataset.h"
#include "training/nn/mask.h"
#include "training/nn/network.h"

namespace parsity::experiments::runner_internal {

using Clock = std::chrono::steady_clock;

// Messages of a distributed sweep (runner.h), all int64 arrays between rank 0 and one other rank.
constexpr int kReadyTag = 1;      // rank -> 0: {study, trial} just finished and stored, or {-1, -1} at the start.
constexpr int kTaskTag = 2;       // 0 -> rank: {study, trial, incumbent steps or -1, incumbent trial}.
constexpr int kStopTag = 3;       // 0 -> rank: no trial is left to start (empty).
constexpr int kIncumbentTag = 4;  // 0 -> rank: {study, steps_to_result, trial}, a study's improved incumbent.

using MaskPointer = std::shared_ptr<const nn::Mask>;
using CanStillWinFunction = std::function<bool(int64_t earliest_completion_step)>;
using MaskFunction = std::function<absl::StatusOr<MaskPointer>(const nn::Network&, absl::Span<const float>)>;

// "1h02m" or "3m07s".
std::string Duration(double seconds);


struct Study {
  int index = 0;  // In the processing order.
  int sparsity_index = 0;
  int batch_index = 0;
  double sparsity = 0;
  int64_t batch_size = 0;
  std::string directory;
  std::vector<TrialSpec> trials;                  // By trial index.
  std::vector<std::optional<TrialSummary>> done;  // By trial index: stored or run.
  int done_count = 0;
  bool opened = false;
  std::deque<int> queue;  // Ranked trials still to start (filled when the study opens).
  SharedIncumbent incumbent;
};

class Runner;

// How the planned trials get trained, once every process has planned them: by this process's workers
// (MakeLocalScheduler) or by the ranks of an MPI job (MakeMpiScheduler, runner_mpi.cc: rank 0 hands out trials and
// trains too, the others ask for them). The Runner plans, stores and aggregates; a scheduler only decides who trains
// which trial when.
class TrialScheduler {
 public:
  virtual ~TrialScheduler() = default;
  // Whether this process aggregates the results (the only process, or rank 0).
  virtual bool coordinator() const = 0;
  // On every process after planning: OK when it may go on (under MPI: every rank resolved the same trials).
  virtual absl::Status Agree(const Runner& runner) = 0;
  // Trains trials until none is left or the run failed; returns the run's error.
  virtual absl::Status Run(Runner& runner) = 0;
  // "2 workers", "3 MPI ranks": for the progress line.
  virtual std::string Describe() const = 0;
};

// `workers` threads of this process, each training one trial at a time (Runner::Work).
std::unique_ptr<TrialScheduler> MakeLocalScheduler(int workers);
// The distributed sweep (runner.h) over `communicator`, this process being `rank` of `size`.
std::unique_ptr<TrialScheduler> MakeMpiScheduler(MPI_Comm communicator, int rank, int size);

class Runner {
 public:
  Runner(const StudySpec& spec, const data::Dataset& dataset, const RunOptions& options)
      : spec_(spec), dataset_(dataset), options_(options) {}

  absl::StatusOr<RunSummary> Run();

 private:
  struct Task {
    Study* study = nullptr;
    int trial = 0;
  };

  // Builds the studies and their trials; the coordinator (the only process, or rank 0) also reads finished trials back
  // and writes the resolved spec and the studies already done.
  absl::Status Plan(bool coordinator);
  // Under mutex_: the next trial to run, opening studies as needed; false when no trial is left to start.
  bool NextTask(Task* task);
  void Open(Study* study);
  const Study* ReferenceFor(const Study& study) const;
  void Work();
  absl::Status RunTask(const Task& task);
  // Trains trial `trial` of `study` (or skips it when its first check cannot win) and stores its files; the mask of a
  // sparse trial comes from `mask_for`. std::nullopt when stopped because the run is aborting.
  absl::StatusOr<std::optional<TrialSummary>> TrainAndStore(const Study& study, int trial,
                                                            const CanStillWinFunction& can_still_win,
                                                            const MaskFunction& mask_for);
  // Under mutex_: records a finished trial, writes study.json and the table when its study is done.
  absl::Status Finish(const Task& task, const TrialSummary& summary, double trial_seconds, int rank);
  // The schedulers drive the workers and, under MPI, the queue, the stores and the error (runner_mpi.cc).
  friend class LocalScheduler;
  friend class MpiScheduler;
  absl::Status WriteStudy(const Study& study);
  void Progress(const std::string& line) const;

  const StudySpec& spec_;
  const data::Dataset& dataset_;
  const RunOptions& options_;
  std::vector<std::vector<double>> points_;      // Sobol point of each trial.
  std::vector<Metaparameters> parameters_;       // Metaparameters of each trial.
  std::vector<std::unique_ptr<Study>> studies_;  // Processing order: sparsity, then batch size, ascending.
  MaskCache masks_;
  Clock::time_point start_;

  std::mutex mutex_;  // Guards what follows and the studies' queue, done, done_count and opened.
  size_t next_to_open_ = 0;
  int trials_total_ = 0;
  int trials_to_run_ = 0;
  int trials_run_ = 0;
  int trials_resumed_ = 0;
  int trials_damaged_ = 0;
  int trials_adopted_ = 0;
  int temporary_files_removed_ = 0;
  int studies_done_ = 0;
  absl::Status error_;
  std::atomic<bool> aborting_{false};
  int ranks_ = 1;
};

}  // namespace parsity::experiments::runner_internal

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_INTERNAL_H_
