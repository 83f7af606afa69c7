// Validation shared by the binaries that take trainer and pruning settings as flags (train, measure): the same
// checks as the libraries', with messages that name the command-line flag rather than the config field.
//
//   RETURN_IF_ERROR(CheckOptimizerAndScheduleNames(trainer_config));   // "--optimizer=rmsprop is unknown; ..."
//   RETURN_IF_ERROR(ValidatePruningFlags(pruning_config));             // "--prune_scope: 'x' is not one of ..."
#ifndef PARSITY_EXPERIMENTS_FLAG_CHECKS_H_
#define PARSITY_EXPERIMENTS_FLAG_CHECKS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pruning/pruning.h"
#include "training/trainer/trainer.h"

namespace parsity::experiments {

// InvalidArgument naming --optimizer or --schedule (and listing the choices) when config names an unknown one.
absl::Status CheckOptimizerAndScheduleNames(const trainer::TrainerConfig& config);

// pruning::ValidatePruningConfig, with the field at fault renamed to its flag (--pruning, --prune_scope,
// --sparsity, --snip_batches).
absl::Status ValidatePruningFlags(const pruning::PruningConfig& config);

// What a double flag that the trainer stores as a float must be, as typed and after rounding to float.
enum class FloatFlagRange {
  kPositive,         // Finite, > 0 and a normal float: in [1.17549e-38, 3.40282e+38] (learning rate, epsilon).
  kBelowOne,         // In [0, 1), also after rounding to float (momentum, Adam's betas).
  kPositiveUpToOne,  // In (0, 1] and a normal float (end factor).
};

// `value` of flag --`name` as a float, or InvalidArgument naming the flag and the value as typed (not the float it
// would round to): "--learning_rate=1e-320 is below the smallest normal float (1.17549e-38)", "--momentum=
// 0.99999999999 rounds to 1 as a float; it must be below 1 (at most 0.99999994)".
absl::StatusOr<float> FloatFlag(absl::string_view name, double value, FloatFlagRange range);

// A warning for stderr when early-exit validation checks are on in a build without the direct kernels (Eigen's
// products, --config=portable): there an example's loss depends on its batch in the last bits, so an early exit may
// decide a check near the goal differently from a full check. Empty when `check_early_exit` is off or the build has
// the direct kernels (training/README.md, "-march=native").
std::string EarlyExitWarning(absl::string_view program, bool check_early_exit);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_FLAG_CHECKS_H_
