// Validation shared by the binaries that take trainer and pruning settings as flags (train, measure): the same
// checks as the libraries', with messages that name the command-line flag rather than the config field.
//
//   RETURN_IF_ERROR(CheckOptimizerAndScheduleNames(trainer_config));   // "--optimizer=rmsprop is unknown; ..."
//   RETURN_IF_ERROR(ValidatePruningFlags(pruning_config));             // "--prune_scope: 'x' is not one of ..."
#ifndef PARSITY_EXPERIMENTS_FLAG_CHECKS_H_
#define PARSITY_EXPERIMENTS_FLAG_CHECKS_H_

#include "absl/status/status.h"
#include "pruning/pruning.h"
#include "training/trainer/trainer.h"

namespace parsity::experiments {

// InvalidArgument naming --optimizer or --schedule (and listing the choices) when config names an unknown one.
absl::Status CheckOptimizerAndScheduleNames(const trainer::TrainerConfig& config);

// pruning::ValidatePruningConfig, with the field at fault renamed to its flag (--pruning, --prune_scope,
// --sparsity, --snip_batches).
absl::Status ValidatePruningFlags(const pruning::PruningConfig& config);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_FLAG_CHECKS_H_
