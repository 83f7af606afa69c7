// The command-line flags of one trial that every trial binary shares (//experiments:train, //experiments:measure):
// data set, network, optimizer and its metaparameters, schedule, batch size, seed, threads and pruning, each defined
// once here with its conversion to the library configs. Float-valued settings are checked as typed, before rounding
// (flag_checks.h's FloatFlag), and every error names its flag. Each binary adds its own flags (budget, checks, goal,
// measurements) and validates the finished config.
//
//   ASSIGN_OR_RETURN(trainer::TrainerConfig config, TrainerConfigFromTrialFlags());   // then config.max_steps = ...
//   ASSIGN_OR_RETURN(pruning::PruningConfig pruning, PruningConfigFromTrialFlags());
#ifndef PARSITY_EXPERIMENTS_TRIAL_FLAGS_H_
#define PARSITY_EXPERIMENTS_TRIAL_FLAGS_H_

#include <cstdint>
#include <memory>
#include <vector>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "pruning/mask_report.h"
#include "pruning/pruning.h"
#include "tools/base/aligned_vector.h"
#include "training/data/dataset.h"
#include "training/nn/network.h"
#include "training/trainer/trainer.h"

ABSL_DECLARE_FLAG(std::string, dataset);
ABSL_DECLARE_FLAG(std::string, data_dir);
ABSL_DECLARE_FLAG(std::string, network);
ABSL_DECLARE_FLAG(std::string, optimizer);
ABSL_DECLARE_FLAG(double, learning_rate);
ABSL_DECLARE_FLAG(double, momentum);
ABSL_DECLARE_FLAG(double, adam_beta1);
ABSL_DECLARE_FLAG(double, adam_beta2);
ABSL_DECLARE_FLAG(double, adam_epsilon);
ABSL_DECLARE_FLAG(std::string, schedule);
ABSL_DECLARE_FLAG(int64_t, decay_steps);
ABSL_DECLARE_FLAG(double, end_factor);
ABSL_DECLARE_FLAG(int64_t, batch_size);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(int32_t, threads);
ABSL_DECLARE_FLAG(std::string, pruning);
ABSL_DECLARE_FLAG(double, sparsity);
ABSL_DECLARE_FLAG(std::string, prune_scope);
ABSL_DECLARE_FLAG(bool, prune_biases);
ABSL_DECLARE_FLAG(int64_t, snip_batches);

namespace parsity::experiments {

// The optimizer (name, momentum, Adam's betas and epsilon), schedule (name, learning rate, decay steps, end factor),
// batch size and threads of the flags; the other fields keep their defaults. Errors: InvalidArgument naming the flag:
// an unknown optimizer or schedule, a float setting out of range as typed or after rounding.
absl::StatusOr<trainer::TrainerConfig> TrainerConfigFromTrialFlags();

// The network named by --network. Errors: InvalidArgument "--network: ..." for an unknown name.
absl::StatusOr<std::unique_ptr<nn::Network>> NetworkFromTrialFlags();

// The data set of --dataset read from --data_dir (its install location when empty). Errors: LoadDataset's, with the
// message prefixed "--dataset: ".
absl::StatusOr<data::Dataset> DatasetFromTrialFlags();

// --pruning, --sparsity, --prune_scope, --prune_biases, --snip_batches, validated. Errors: InvalidArgument naming the
// flag (ValidatePruningFlags).
absl::StatusOr<pruning::PruningConfig> PruningConfigFromTrialFlags();

// The trial's start: `parameters` initialized from --seed and pruned by `pruning` (SNIP etc. on the training set,
// with `threads`), and its mask with the report of it; prints the report to stderr when `print` and the trial prunes.
// Errors: pruning::ComputeMask's.
struct PrunedStart {
  AlignedFloatVector parameters;
  nn::Mask mask;
  pruning::MaskReport report;
};
absl::StatusOr<PrunedStart> InitializeAndPruneFromTrialFlags(const nn::Network& network, const data::Dataset& dataset,
                                                           const pruning::PruningConfig& pruning, int threads,
                                                           bool print);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_TRIAL_FLAGS_H_
