#include "experiments/trial_flags.h"

#include <cstdio>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "tools/base/aligned_vector.h"
#include "training/nn/networks.h"
#include "experiments/flag_checks.h"
#include "tools/base/status_macros.h"

ABSL_FLAG(std::string, dataset, "mnist", "data set: mnist, fashion_mnist or cifar10");
ABSL_FLAG(std::string, data_dir, "", "directory of the data set's files (default: its install location)");
ABSL_FLAG(std::string, network, "simple_cnn", "network: simple_cnn, resnet8 or lenet_300_100");
ABSL_FLAG(std::string, optimizer, "sgd", "optimizer: sgd, momentum, nesterov or adam");
ABSL_FLAG(double, learning_rate, 0.05, "initial learning rate, > 0");
ABSL_FLAG(double, momentum, 0.9, "momentum (momentum, nesterov), in [0, 1)");
ABSL_FLAG(double, adam_beta1, 0.9, "Adam's beta1, in [0, 1)");
ABSL_FLAG(double, adam_beta2, 0.999, "Adam's beta2, in [0, 1)");
ABSL_FLAG(double, adam_epsilon, 1e-8, "Adam's epsilon, > 0");
ABSL_FLAG(std::string, schedule, "constant", "learning-rate schedule: constant or linear_decay");
ABSL_FLAG(int64_t, decay_steps, 30000, "linear_decay: steps over which the rate falls to end_factor * rate");
ABSL_FLAG(double, end_factor, 0.01, "linear_decay: final rate as a fraction of the initial one, in (0, 1]");
ABSL_FLAG(int64_t, batch_size, 128, "examples per step");
ABSL_FLAG(uint64_t, seed, 0, "trial seed: initialization (and pruning mask)");
ABSL_FLAG(int32_t, threads, 1, "threads inside a training step and a full-gradient evaluation (per rank)");
ABSL_FLAG(bool, exact_gradient_sum, false,
          "sum each step's gradient exactly over fixed leaves of the batch: bit-identical results for any number of "
          "ranks and threads (training/trainer/trainer.h; off: float sums whose order depends on them)");
ABSL_FLAG(int64_t, leaf_examples, 0, "with --exact_gradient_sum: examples per leaf (0: the network's chunk size)");
ABSL_FLAG(std::string, pruning, "none", "pruning at initialization: none, snip, magnitude or random");
ABSL_FLAG(double, sparsity, 0.0, "fraction of prunable parameters removed, in [0, 1)");
ABSL_FLAG(std::string, prune_scope, "global", "global (the paper: one threshold across layers) or layer");
ABSL_FLAG(bool, prune_biases, true, "whether biases are prunable (the paper prunes weights and biases alike)");
ABSL_FLAG(int64_t, snip_batches, 0, "SNIP's sample in batches of 100; 0 = the whole training set");

namespace parsity::experiments {

absl::StatusOr<trainer::TrainerConfig> TrainerConfigFromTrialFlags() {
  trainer::TrainerConfig config;
  ASSIGN_OR_RETURN(config.schedule.initial_learning_rate,
                   FloatFlag("learning_rate", absl::GetFlag(FLAGS_learning_rate), FloatFlagRange::kPositive));
  config.batch_size = absl::GetFlag(FLAGS_batch_size);
  config.evaluator.threads = absl::GetFlag(FLAGS_threads);
  config.exact_gradient_sum = absl::GetFlag(FLAGS_exact_gradient_sum);
  config.evaluator.leaf_examples = absl::GetFlag(FLAGS_leaf_examples);
  if (config.evaluator.leaf_examples < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--leaf_examples=", config.evaluator.leaf_examples, " must be >= 0 (0: the network's chunk)"));
  }
  config.optimizer.name = absl::GetFlag(FLAGS_optimizer);
  ASSIGN_OR_RETURN(config.optimizer.momentum,
                   FloatFlag("momentum", absl::GetFlag(FLAGS_momentum), FloatFlagRange::kBelowOne));
  ASSIGN_OR_RETURN(config.optimizer.beta1,
                   FloatFlag("adam_beta1", absl::GetFlag(FLAGS_adam_beta1), FloatFlagRange::kBelowOne));
  ASSIGN_OR_RETURN(config.optimizer.beta2,
                   FloatFlag("adam_beta2", absl::GetFlag(FLAGS_adam_beta2), FloatFlagRange::kBelowOne));
  ASSIGN_OR_RETURN(config.optimizer.epsilon,
                   FloatFlag("adam_epsilon", absl::GetFlag(FLAGS_adam_epsilon), FloatFlagRange::kPositive));
  config.schedule.name = absl::GetFlag(FLAGS_schedule);
  config.schedule.decay_steps = absl::GetFlag(FLAGS_decay_steps);
  ASSIGN_OR_RETURN(config.schedule.end_factor,
                   FloatFlag("end_factor", absl::GetFlag(FLAGS_end_factor), FloatFlagRange::kPositiveUpToOne));
  // Name the flag, not the config field, for the two names a user is most likely to mistype.
  RETURN_IF_ERROR(CheckOptimizerAndScheduleNames(config));
  return config;
}

absl::StatusOr<std::unique_ptr<nn::Network>> NetworkFromTrialFlags() {
  absl::StatusOr<std::unique_ptr<nn::Network>> network = nn::CreateNetwork(absl::GetFlag(FLAGS_network));
  if (!network.ok()) return absl::InvalidArgumentError(absl::StrCat("--network: ", network.status().message()));
  return network;
}

absl::StatusOr<data::Dataset> DatasetFromTrialFlags() {
  absl::StatusOr<data::Dataset> dataset = data::LoadDataset(absl::GetFlag(FLAGS_dataset), absl::GetFlag(FLAGS_data_dir));
  if (!dataset.ok()) {
    return absl::Status(dataset.status().code(), absl::StrCat("--dataset: ", dataset.status().message()));
  }
  return dataset;
}

absl::StatusOr<pruning::PruningConfig> PruningConfigFromTrialFlags() {
  pruning::PruningConfig config;
  config.scheme = absl::GetFlag(FLAGS_pruning);
  config.sparsity = absl::GetFlag(FLAGS_sparsity);
  config.scope = absl::GetFlag(FLAGS_prune_scope);
  config.prune_biases = absl::GetFlag(FLAGS_prune_biases);
  config.snip_batches = absl::GetFlag(FLAGS_snip_batches);
  RETURN_IF_ERROR(ValidatePruningFlags(config));
  return config;
}

absl::StatusOr<PrunedStart> InitializeAndPruneFromTrialFlags(const nn::Network& network, const data::Dataset& dataset,
                                                           const pruning::PruningConfig& pruning, int threads,
                                                           bool print) {
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  AlignedFloatVector parameters(network.parameter_count());
  trainer::InitializeParameters(network, seed, absl::MakeSpan(parameters));
  // Each trial prunes its own initialization, then trains from those same (masked) weights.
  ASSIGN_OR_RETURN(nn::Mask mask,
                   pruning::ComputeMask(pruning, network, parameters, dataset.train, seed, threads));
  mask.Apply(absl::MakeSpan(parameters));
  pruning::MaskReport report = pruning::ReportMask(mask, network.layout(), pruning.sparsity, pruning.prune_biases);
  if (print && pruning.scheme != "none") std::fprintf(stderr, "pruning: %s\n", pruning::MaskReportText(report).c_str());
  return PrunedStart{std::move(parameters), std::move(mask), std::move(report)};
}

}  // namespace parsity::experiments
