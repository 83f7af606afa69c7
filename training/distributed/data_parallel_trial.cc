// A small data-parallel trial for the tests of training/distributed (testonly): a network (LeNet-300-100 by default)
// on synthetic MNIST-shaped data, trained by the real Trainer, through an MpiGradientReducer when run under
// `mpirun -np P` with P > 1 (exactly as //experiments:train does). Rank 0 prints one JSON line and can write the final
// weights or compare them with a reference file, so that data_parallel_equivalence_test.sh can compare P = 1 with
// P = 2 and 3, dense and sparse. Test-only flags make one rank fail or diverge on purpose.
//
//   mpirun -np 2 data_parallel_trial --sparsity=0.9 --reference_weights=p1.bin --weight_tolerance_eps=16
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "tools/base/aligned_vector.h"
#include "tools/base/atomic_file.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"
#include "training/data/dataset.h"
#include "training/distributed/mpi_gradient_reducer.h"
#include "training/distributed/mpi_session.h"
#include "training/distributed/synthetic_trial_data.h"
#include "training/nn/networks.h"
#include "training/nn/mask.h"
#include "training/trainer/trainer.h"

ABSL_FLAG(std::string, network, "lenet_300_100", "network: lenet_300_100 or simple_cnn (28x28x1 inputs)");
ABSL_FLAG(int64_t, train_examples, 2000, "synthetic training examples");
ABSL_FLAG(int64_t, validation_examples, 500, "synthetic validation examples");
ABSL_FLAG(int64_t, batch_size, 64, "global batch size (split over the ranks)");
ABSL_FLAG(int64_t, max_steps, 200, "steps trained (the trainer's goal is out of reach, so it trains them all)");
ABSL_FLAG(int64_t, check_interval, 20, "steps between validation checks");
ABSL_FLAG(std::string, optimizer, "momentum", "optimizer");
ABSL_FLAG(double, learning_rate, 0.02, "constant learning rate");
ABSL_FLAG(double, goal_error, 0.1, "steps_to_goal is the first check with validation error <= this");
ABSL_FLAG(double, sparsity, 0.0, "fraction of parameters pruned by a random mask (0: dense)");
ABSL_FLAG(bool, sparse_allreduce, true, "all-reduce only the mask's kept entries");
ABSL_FLAG(uint64_t, seed, 0, "initialization and mask seed");
ABSL_FLAG(int32_t, threads, 1, "threads inside a step (per rank)");
ABSL_FLAG(bool, exact_gradient_sum, false, "sum each step's gradient exactly over fixed leaves (TrainerConfig)");
ABSL_FLAG(int64_t, leaf_examples, 0, "examples per leaf of the exact sum (0: the network's chunk)");
ABSL_FLAG(int64_t, consistency_check_interval, 50, "steps between checks that the ranks' parameters are identical");
ABSL_FLAG(std::string, weights_out, "", "rank 0 writes the final parameters here (raw float32)");
ABSL_FLAG(std::string, reference_weights, "", "rank 0 compares the final parameters with this file (raw float32)");
ABSL_FLAG(double, weight_tolerance_eps, 0.0,
          "largest max_i |w_i - w_reference_i| reported as within tolerance, in units of float epsilon times "
          "max_i |w_reference_i|");
ABSL_FLAG(int32_t, test_fail_rank, -1, "test only: this rank fails at --test_fail_step");
ABSL_FLAG(int64_t, test_fail_step, 5, "test only: the step after which --test_fail_rank fails");
ABSL_FLAG(std::string, test_fail_how, "exit",
          "test only: exit (status 3), abort (SIGABRT) or status (an error at the next check, which ends the job "
          "through MpiSession::Abort as //experiments:train does)");
ABSL_FLAG(int32_t, test_perturb_rank, -1, "test only: this rank changes one weight by one ulp at --test_perturb_step");
ABSL_FLAG(int64_t, test_perturb_step, 5, "test only: the step after which --test_perturb_rank perturbs a weight");

namespace parsity::distributed {
namespace {

// The trainer's goal: below the 2% of wrong labels, so that every run trains --max_steps steps.
constexpr double kUnreachableGoal = 0.001;

absl::Status Run(const MpiSession& session) {
  ASSIGN_OR_RETURN(std::unique_ptr<nn::Network> network, nn::CreateNetwork(absl::GetFlag(FLAGS_network)));
  const data::Dataset dataset =
      MakePatchDataset(absl::GetFlag(FLAGS_train_examples), absl::GetFlag(FLAGS_validation_examples));

  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  AlignedFloatVector parameters(network->parameter_count());
  trainer::InitializeParameters(*network, seed, absl::MakeSpan(parameters));
  const double sparsity = absl::GetFlag(FLAGS_sparsity);
  std::optional<nn::Mask> mask;
  if (sparsity > 0) {
    ASSIGN_OR_RETURN(mask, MakeRandomMask(network->parameter_count(), sparsity, seed));
    mask->Apply(absl::MakeSpan(parameters));
  }
  const nn::Mask* trainer_mask = mask.has_value() ? &*mask : nullptr;

  std::unique_ptr<MpiGradientReducer> reducer;
  if (session.size() > 1) {
    ASSIGN_OR_RETURN(reducer,
                     MpiGradientReducer::Create(session.communicator(), network->parameter_count(),
                                                absl::GetFlag(FLAGS_sparse_allreduce) ? trainer_mask : nullptr));
  }

  trainer::TrainerConfig config;
  config.batch_size = absl::GetFlag(FLAGS_batch_size);
  config.max_steps = absl::GetFlag(FLAGS_max_steps);
  config.check_interval = absl::GetFlag(FLAGS_check_interval);
  config.goal_error = kUnreachableGoal;
  config.optimizer.name = absl::GetFlag(FLAGS_optimizer);
  config.schedule.name = "constant";
  config.schedule.initial_learning_rate = static_cast<float>(absl::GetFlag(FLAGS_learning_rate));
  config.consistency_check_interval = absl::GetFlag(FLAGS_consistency_check_interval);
  config.evaluator.threads = absl::GetFlag(FLAGS_threads);
  config.evaluator.leaf_examples = absl::GetFlag(FLAGS_leaf_examples);
  config.exact_gradient_sum = absl::GetFlag(FLAGS_exact_gradient_sum);
  ASSIGN_OR_RETURN(std::unique_ptr<trainer::Trainer> trainer,
                   trainer::Trainer::Create(config, network.get(), &dataset, trainer_mask, reducer.get()));

  const int fail_rank = absl::GetFlag(FLAGS_test_fail_rank);
  const int64_t fail_step = absl::GetFlag(FLAGS_test_fail_step);
  const std::string fail_how = absl::GetFlag(FLAGS_test_fail_how);
  bool failed = false;
  const int perturb_rank = absl::GetFlag(FLAGS_test_perturb_rank);
  const int64_t perturb_step = absl::GetFlag(FLAGS_test_perturb_step);
  trainer::TrainerHooks hooks;
  hooks.after_step = [&](int64_t step, absl::Span<const float>, absl::Span<const float>) {
    if (session.rank() == fail_rank && step == fail_step) {
      std::fprintf(stderr, "rank %d: failing on purpose after step %lld (--test_fail_rank, --test_fail_how=%s)\n",
                   session.rank(), static_cast<long long>(step), fail_how.c_str());
      std::fflush(stderr);
      if (fail_how == "abort") std::abort();
      if (fail_how == "exit") std::exit(3);
      failed = true;
    }
    if (session.rank() == perturb_rank && step == perturb_step) {
      // The hook sees the parameters read-only; the buffer is ours. One ulp in the first kept weight.
      int64_t index = 0;
      while (trainer_mask != nullptr && !trainer_mask->is_kept(index)) ++index;
      parameters[index] = std::nextafter(parameters[index], 1.0f + 2.0f * std::fabs(parameters[index]));
    }
  };
  std::optional<int64_t> steps_to_goal;
  JsonArray validation_errors;
  const double goal_error = absl::GetFlag(FLAGS_goal_error);
  hooks.on_check = [&](const trainer::Check& check) {
    if (!steps_to_goal.has_value() && check.validation_error <= goal_error) steps_to_goal = check.step;
    validation_errors.Add(check.validation_error);
    return !failed;
  };
  const trainer::TrialResult result = trainer->Train(absl::MakeSpan(parameters), hooks);
  if (failed) return absl::InternalError(absl::StrCat("failing on purpose after step ", fail_step));
  if (session.rank() != 0) return absl::OkStatus();

  JsonObject summary;
  summary.Add("ranks", session.size()).Add("network", network->name()).Add("sparsity", sparsity);
  summary.Add("sparse_allreduce", reducer != nullptr && reducer->sparse());
  summary.Add("threads", config.evaluator.threads).Add("exact_gradient_sum", config.exact_gradient_sum);
  summary.Add("status", trainer::TrialStatusName(result.status)).Add("steps", result.steps);
  if (steps_to_goal.has_value()) {
    summary.Add("steps_to_goal", *steps_to_goal);
  } else {
    summary.AddNull("steps_to_goal");
  }
  summary.Add("validation_errors", validation_errors);
  summary.Add("final_validation_error", result.final_validation_error);
  summary.Add("bytes_communicated_per_step",
              reducer != nullptr && result.steps > 0 ? reducer->bytes_communicated() / result.steps : int64_t{0});
  const std::string weights_out = absl::GetFlag(FLAGS_weights_out);
  if (!weights_out.empty()) {
    RETURN_IF_ERROR(WriteFileAtomically(
        weights_out, absl::string_view(reinterpret_cast<const char*>(parameters.data()), parameters.size() * 4)));
  }
  const std::string reference_path = absl::GetFlag(FLAGS_reference_weights);
  if (!reference_path.empty()) {
    ASSIGN_OR_RETURN(const std::string reference, ReadFile(reference_path));
    if (reference.size() != parameters.size() * sizeof(float)) {
      return absl::InvalidArgumentError(absl::StrCat("--reference_weights=", reference_path, " holds ",
                                                     reference.size(), " bytes, not ", parameters.size() * 4));
    }
    double max_difference = 0, max_magnitude = 0;
    for (size_t i = 0; i < parameters.size(); ++i) {
      float value;
      std::memcpy(&value, reference.data() + 4 * i, 4);
      max_difference = std::max(max_difference, static_cast<double>(std::fabs(value - parameters[i])));
      max_magnitude = std::max(max_magnitude, static_cast<double>(std::fabs(value)));
    }
    summary.Add("weights_bitwise_equal", std::memcmp(reference.data(), parameters.data(), reference.size()) == 0);
    summary.Add("max_abs_weight_difference", max_difference).Add("max_abs_weight", max_magnitude);
    const double tolerance =
        absl::GetFlag(FLAGS_weight_tolerance_eps) * std::numeric_limits<float>::epsilon() * max_magnitude;
    summary.Add("weight_tolerance", tolerance).Add("weights_within_tolerance", max_difference <= tolerance);
  }
  std::cout << summary.ToString() << std::endl;
  return absl::OkStatus();
}

}  // namespace
}  // namespace parsity::distributed

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const parsity::distributed::MpiSession session;
  return session.ExitCode("data_parallel_trial", parsity::distributed::Run(session));
}
