// Time per training step and all-reduce bytes per step of synchronous data-parallel training, run under
// `mpirun -np P` by allreduce_benchmark.sh (which prints the table of experiments/README.md, "Data-parallel
// training"). Trains a network (Simple-CNN by default) with the real Trainer on synthetic data, dense or with a
// random mask, and times every step and the SumGradients call inside it. Rank 0 prints one JSON line:
//   {"ranks":2,"batch_size":256,"sparsity":0.9,"ms_per_step":..,"allreduce_ms_per_step":..,"bytes_per_step":..,
//    "allreduce_alone_us":..}
// "allreduce_ms_per_step" is the wall time inside SumGradients on rank 0 during training, which includes waiting for
// the slowest rank to finish its shard; compute = step - all-reduce. "allreduce_alone_us" is SumGradients by itself
// (pack, MPI_Allreduce, unpack) after an MPI_Barrier, the mean of --alone_repetitions: the cost of the
// communication without the waiting.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"
#include "training/distributed/mpi_gradient_reducer.h"
#include "training/distributed/mpi_session.h"
#include "training/distributed/synthetic_trial_data.h"
#include "training/nn/networks.h"
#include "training/nn/mask.h"
#include "training/trainer/gradient_reducer.h"
#include "training/trainer/trainer.h"

ABSL_FLAG(std::string, network, "simple_cnn", "network (28x28x1 inputs): simple_cnn or lenet_300_100");
ABSL_FLAG(int64_t, batch_size, 256, "global batch size");
ABSL_FLAG(double, sparsity, 0.0, "fraction of parameters pruned by a random mask");
ABSL_FLAG(bool, sparse_allreduce, true, "with a mask, all-reduce only its kept entries");
ABSL_FLAG(int64_t, warmup_steps, 2, "steps not timed");
ABSL_FLAG(int64_t, steps, 10, "steps timed");
ABSL_FLAG(int32_t, threads, 1, "threads per rank inside a step");
ABSL_FLAG(int32_t, alone_repetitions, 200, "SumGradients calls timed by themselves after training");

namespace parsity::distributed {
namespace {

using Clock = std::chrono::steady_clock;

// Forwards to another reducer and adds up the wall time spent in SumGradients.
class TimedReducer final : public trainer::GradientReducer {
 public:
  explicit TimedReducer(trainer::GradientReducer* inner) : inner_(inner) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  void SumGradients(absl::Span<float> gradient_sum) override {
    const Clock::time_point start = Clock::now();
    inner_->SumGradients(gradient_sum);
    seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  }
  void SumExact(trainer::ExactSum* sum) override {
    const Clock::time_point start = Clock::now();
    inner_->SumExact(sum);
    seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  }
  void SumScalars(absl::Span<double> values) override { inner_->SumScalars(values); }
  absl::Status CheckParametersIdentical(absl::Span<const float> parameters) override {
    return inner_->CheckParametersIdentical(parameters);
  }
  int64_t bytes_communicated() const override { return inner_->bytes_communicated(); }
  double seconds() const { return seconds_; }

 private:
  trainer::GradientReducer* inner_;
  double seconds_ = 0;
};

absl::Status Run(const MpiSession& session) {
  ASSIGN_OR_RETURN(std::unique_ptr<nn::Network> network, nn::CreateNetwork(absl::GetFlag(FLAGS_network)));
  const int64_t batch_size = absl::GetFlag(FLAGS_batch_size);
  const int64_t warmup_steps = absl::GetFlag(FLAGS_warmup_steps);
  const int64_t steps = absl::GetFlag(FLAGS_steps);
  if (warmup_steps < 1 || steps < 1) return absl::InvalidArgumentError("--warmup_steps and --steps must be >= 1");
  const data::Dataset dataset = MakePatchDataset(batch_size, /*validation=*/64);
  std::vector<float> parameters(network->parameter_count());
  trainer::InitializeParameters(*network, /*seed=*/0, absl::MakeSpan(parameters));
  const double sparsity = absl::GetFlag(FLAGS_sparsity);
  std::optional<nn::Mask> mask;
  if (sparsity > 0) {
    ASSIGN_OR_RETURN(mask, MakeRandomMask(network->parameter_count(), sparsity, /*seed=*/0));
    mask->Apply(absl::MakeSpan(parameters));
  }
  const nn::Mask* trainer_mask = mask.has_value() ? &*mask : nullptr;
  std::unique_ptr<MpiGradientReducer> reducer;
  std::optional<TimedReducer> timed;
  if (session.size() > 1) {
    ASSIGN_OR_RETURN(reducer,
                     MpiGradientReducer::Create(session.communicator(), network->parameter_count(),
                                                absl::GetFlag(FLAGS_sparse_allreduce) ? trainer_mask : nullptr));
    timed.emplace(reducer.get());
  }

  trainer::TrainerConfig config;
  config.batch_size = batch_size;
  config.max_steps = warmup_steps + steps;
  config.check_interval = config.max_steps;  // One evaluation, after the last timed step.
  config.goal_error = 0.001;
  config.optimizer.name = "sgd";
  config.schedule.name = "constant";
  config.schedule.initial_learning_rate = 0.01f;
  config.evaluator.threads = absl::GetFlag(FLAGS_threads);
  config.consistency_check_interval = 0;
  ASSIGN_OR_RETURN(
      std::unique_ptr<trainer::Trainer> trainer,
      trainer::Trainer::Create(config, network.get(), &dataset, trainer_mask, timed.has_value() ? &*timed : nullptr));
  Clock::time_point timed_start;
  double allreduce_seconds_at_start = 0, step_seconds = 0, allreduce_seconds = 0;
  trainer::TrainerHooks hooks;
  hooks.after_step = [&](int64_t step, absl::Span<const float>, absl::Span<const float>) {
    if (step == warmup_steps) {
      timed_start = Clock::now();
      if (timed.has_value()) allreduce_seconds_at_start = timed->seconds();
    } else if (step == warmup_steps + steps) {
      step_seconds = std::chrono::duration<double>(Clock::now() - timed_start).count();
      if (timed.has_value()) allreduce_seconds = timed->seconds() - allreduce_seconds_at_start;
    }
  };
  trainer->Train(absl::MakeSpan(parameters), hooks);
  double alone_seconds = 0;
  const int repetitions = absl::GetFlag(FLAGS_alone_repetitions);
  if (reducer != nullptr && repetitions > 0) {
    std::vector<float> gradient(parameters.size(), 1.0f);
    for (int i = 0; i < repetitions; ++i) {
      MPI_Barrier(session.communicator());
      const Clock::time_point start = Clock::now();
      reducer->SumGradients(absl::MakeSpan(gradient));
      alone_seconds += std::chrono::duration<double>(Clock::now() - start).count();
    }
    alone_seconds /= repetitions;
  }
  if (session.rank() != 0) return absl::OkStatus();
  JsonObject summary;
  summary.Add("network", network->name()).Add("ranks", session.size()).Add("batch_size", batch_size);
  summary.Add("sparsity", sparsity).Add("sparse_allreduce", reducer != nullptr && reducer->sparse());
  summary.Add("threads", config.evaluator.threads).Add("steps", steps);
  summary.Add("ms_per_step", 1e3 * step_seconds / static_cast<double>(steps));
  summary.Add("allreduce_ms_per_step", 1e3 * allreduce_seconds / static_cast<double>(steps));
  summary.Add("bytes_per_step", reducer != nullptr ? reducer->payload_bytes_per_step() : int64_t{0});
  summary.Add("allreduce_alone_us", 1e6 * alone_seconds);
  std::cout << summary.ToString() << std::endl;
  return absl::OkStatus();
}

}  // namespace
}  // namespace parsity::distributed

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const parsity::distributed::MpiSession session;
  const absl::Status status = parsity::distributed::Run(session);
  if (!status.ok()) {
    std::fprintf(stderr, "rank %d of %d: allreduce_benchmark: %s\n", session.rank(), session.size(),
                 std::string(status.message()).c_str());
    session.Abort(1);
  }
  return 0;
}
