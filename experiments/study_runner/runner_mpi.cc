// The distributed sweep's scheduler (runner.h, "Distributed sweeps"; TrialScheduler in runner_internal.h): the ranks'
// check that they resolved the same trials, rank 0's scheduling loop (Coordinate) and the other ranks' loop (Serve),
// over MPI point-to-point messages.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "experiments/study_runner/result_store.h"
#include "experiments/study_runner/runner_internal.h"
#include "experiments/study_runner/trial.h"
#include "pruning/pruning.h"
#include "tools/base/status_macros.h"

namespace parsity::experiments::runner_internal {

class MpiScheduler final : public TrialScheduler {
 public:
  MpiScheduler(MPI_Comm communicator, int rank, int size) : communicator_(communicator), rank_(rank), size_(size) {}
  bool coordinator() const override { return rank_ == 0; }
  absl::Status Agree(const Runner& runner) override { return CheckRanksAgree(runner); }
  absl::Status Run(Runner& runner) override {
    runner_ = &runner;
    return rank_ == 0 ? Coordinate() : Serve();
  }
  std::string Describe() const override { return absl::StrCat(size_, " MPI ranks"); }

 private:
  // Every rank: the check that all resolved the same trials.
  absl::Status CheckRanksAgree(const Runner& runner) const;
  // Rank 0: hands out trials, trains on a thread of its own, records the others' trials and relays incumbents.
  absl::Status Coordinate();
  absl::Status FinishRemoteTrial(int study_index, int trial, int rank);
  // The other ranks: ask for trials, train them, report them.
  absl::Status Serve();

  const MPI_Comm communicator_;
  const int rank_;
  const int size_;
  Runner* runner_ = nullptr;  // The one Run was given.
};

absl::Status MpiScheduler::CheckRanksAgree(const Runner& runner) const {
  std::string fingerprints;
  for (const std::unique_ptr<Study>& study : runner.studies_) {
    for (const TrialSpec& trial : study->trials) absl::StrAppend(&fingerprints, TrialFingerprint(trial));
  }
  int64_t length = static_cast<int64_t>(fingerprints.size());
  MPI_Bcast(&length, 1, MPI_INT64_T, 0, communicator_);
  std::string rank_zero = fingerprints;
  rank_zero.resize(length);
  MPI_Bcast(rank_zero.data(), static_cast<int>(length), MPI_CHAR, 0, communicator_);
  const int differs = rank_zero != fingerprints ? 1 : 0;
  std::vector<int> all(size_);
  MPI_Allgather(&differs, 1, MPI_INT, all.data(), 1, MPI_INT, communicator_);
  std::vector<int> differing;
  for (int other = 0; other < size_; ++other) {
    if (all[other] != 0) differing.push_back(other);
  }
  if (differing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the ", size_, " MPI ranks resolved different trials: rank", differing.size() > 1 ? "s " : " ",
      absl::StrJoin(differing, ", "), " differ", differing.size() > 1 ? "" : "s",
      " from rank 0 (every rank needs the same --config, --profile, --data_dir and data set); this is rank ", rank_));
}

absl::Status MpiScheduler::Coordinate() {
  std::atomic<bool> local_done{false};
  std::thread local([this, &local_done] {
    runner_->Work();
    local_done = true;
  });
  std::vector<bool> serving(size_, true);
  serving[0] = false;
  int serving_count = size_ - 1;
  std::vector<std::optional<Incumbent>> sent(runner_->studies_.size());  // The incumbents the other ranks were sent.
  absl::Status status;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(runner_->mutex_);
      if (!runner_->error_.ok()) break;
    }
    int pending = 0;
    MPI_Status probe;
    MPI_Iprobe(MPI_ANY_SOURCE, kReadyTag, communicator_, &pending, &probe);
    if (pending != 0) {
      const int rank = probe.MPI_SOURCE;
      int64_t ready[2];
      MPI_Recv(ready, 2, MPI_INT64_T, rank, kReadyTag, communicator_, MPI_STATUS_IGNORE);
      if (ready[0] >= 0) {
        status = FinishRemoteTrial(static_cast<int>(ready[0]), static_cast<int>(ready[1]), rank);
        if (!status.ok()) break;
      }
      Runner::Task task;
      bool has_task;
      {
        std::lock_guard<std::mutex> lock(runner_->mutex_);
        has_task = runner_->NextTask(&task);
      }
      if (has_task) {
        // Trained on `rank`, which prunes for itself: this process's cache will not be asked for the mask.
        if (task.study->sparsity > 0) runner_->masks_.Release(task.study->sparsity_index, task.trial);
        const std::optional<Incumbent> incumbent = task.study->incumbent.Get();
        int64_t message[4] = {task.study->index, task.trial, incumbent ? incumbent->steps_to_result : -1,
                              incumbent ? incumbent->trial : -1};
        MPI_Send(message, 4, MPI_INT64_T, rank, kTaskTag, communicator_);
      } else {
        MPI_Send(nullptr, 0, MPI_INT64_T, rank, kStopTag, communicator_);
        serving[rank] = false;
        --serving_count;
      }
      continue;
    }
    for (const std::unique_ptr<Study>& study : runner_->studies_) {
      const std::optional<Incumbent> incumbent = study->incumbent.Get();
      if (!incumbent.has_value() || !Improves(incumbent->steps_to_result, incumbent->trial, sent[study->index])) {
        continue;
      }
      sent[study->index] = incumbent;
      int64_t message[3] = {study->index, incumbent->steps_to_result, incumbent->trial};
      for (int rank = 1; rank < size_; ++rank) {
        if (serving[rank]) MPI_Send(message, 3, MPI_INT64_T, rank, kIncumbentTag, communicator_);
      }
    }
    if (serving_count == 0 && local_done) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!status.ok()) {
    std::lock_guard<std::mutex> lock(runner_->mutex_);
    if (runner_->error_.ok()) runner_->error_ = status;
    runner_->aborting_ = true;
  }
  local.join();
  std::lock_guard<std::mutex> lock(runner_->mutex_);
  return runner_->error_;
}

absl::Status MpiScheduler::FinishRemoteTrial(int study_index, int trial, int rank) {
  if (study_index < 0 || study_index >= static_cast<int>(runner_->studies_.size()) || trial < 0 ||
      trial >= runner_->spec_.trials()) {
    return absl::InternalError(
        absl::StrCat("rank ", rank, " reported an unknown trial ", trial, " of study ", study_index));
  }
  Study& study = *runner_->studies_[study_index];
  const std::string directory = TrialDirectory(study.directory, trial);
  ASSIGN_OR_RETURN(const std::optional<TrialSummary> summary, ReadFinishedTrial(directory, study.trials[trial]));
  if (!summary.has_value()) {
    return absl::DataLossError(absl::StrCat("rank ", rank, " stored trial ", trial, " but ", directory,
                                            "/metadata.json does not exist on rank 0: --output_dir must be on "
                                            "storage that every rank sees"));
  }
  if (summary->steps_to_result.has_value()) study.incumbent.Offer(*summary->steps_to_result, trial);
  std::lock_guard<std::mutex> lock(runner_->mutex_);
  return runner_->Finish(Runner::Task{&study, trial}, *summary, summary->wall_seconds, rank);
}

absl::Status MpiScheduler::Serve() {
  std::vector<std::optional<Incumbent>> incumbents(runner_->studies_.size());
  const auto take_incumbent = [&](int64_t study_index, int64_t steps_to_result, int64_t trial) {
    std::optional<Incumbent>& incumbent = incumbents[study_index];
    if (Improves(steps_to_result, static_cast<int>(trial), incumbent)) {
      incumbent = Incumbent{steps_to_result, static_cast<int>(trial)};
    }
  };
  const auto receive_incumbent = [&] {
    int64_t message[3];
    MPI_Recv(message, 3, MPI_INT64_T, 0, kIncumbentTag, communicator_, MPI_STATUS_IGNORE);
    take_incumbent(message[0], message[1], message[2]);
  };
  // Masks of the current sparsity by trial: studies come sparsity by sparsity, so older ones are not asked again.
  std::map<int, MaskPointer> masks;
  int masks_sparsity_index = -1;
  int64_t ready[2] = {-1, -1};
  for (;;) {
    MPI_Send(ready, 2, MPI_INT64_T, 0, kReadyTag, communicator_);
    int64_t task[4];
    for (;;) {
      MPI_Status status;
      MPI_Probe(0, MPI_ANY_TAG, communicator_, &status);
      if (status.MPI_TAG == kIncumbentTag) {
        receive_incumbent();
        continue;
      }
      if (status.MPI_TAG == kStopTag) {
        MPI_Recv(nullptr, 0, MPI_INT64_T, 0, kStopTag, communicator_, MPI_STATUS_IGNORE);
        return absl::OkStatus();
      }
      MPI_Recv(task, 4, MPI_INT64_T, 0, kTaskTag, communicator_, MPI_STATUS_IGNORE);
      break;
    }
    const Study& study = *runner_->studies_[task[0]];
    const int trial = static_cast<int>(task[1]);
    if (task[2] >= 0) take_incumbent(task[0], task[2], task[3]);
    const auto can_still_win = [&](int64_t earliest_completion_step) {
      for (int pending = 1; pending != 0;) {
        MPI_Iprobe(0, kIncumbentTag, communicator_, &pending, MPI_STATUS_IGNORE);
        if (pending != 0) receive_incumbent();
      }
      return !runner_->options_.early_termination ||
             CanStillWin(earliest_completion_step, trial, incumbents[study.index]);
    };
    const auto mask_for = [&](const nn::Network& network,
                              absl::Span<const float> parameters) -> absl::StatusOr<MaskPointer> {
      if (study.sparsity_index != masks_sparsity_index) {
        masks.clear();
        masks_sparsity_index = study.sparsity_index;
      }
      MaskPointer& mask = masks[trial];
      if (mask == nullptr) {
        ASSIGN_OR_RETURN(nn::Mask computed,
                         pruning::ComputeMask(PruningConfigFor(study.trials[trial]), network, parameters,
                                              runner_->dataset_.train, study.trials[trial].seed(), /*threads=*/1));
        mask = std::make_shared<const nn::Mask>(std::move(computed));
      }
      return mask;
    };
    RETURN_IF_ERROR(runner_->TrainAndStore(study, trial, can_still_win, mask_for).status());
    ready[0] = task[0];
    ready[1] = task[1];
  }
}

std::unique_ptr<TrialScheduler> MakeMpiScheduler(MPI_Comm communicator, int rank, int size) {
  return std::make_unique<MpiScheduler>(communicator, rank, size);
}

}  // namespace parsity::experiments::runner_internal
