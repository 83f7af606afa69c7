#include "experiments/flag_checks.h"

#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "training/optimizers/optimizer_factory.h"
#include "training/optimizers/schedule.h"

namespace parsity::experiments {

absl::Status CheckOptimizerAndScheduleNames(const trainer::TrainerConfig& config) {
  if (!absl::c_linear_search(optimizers::OptimizerNames(), config.optimizer.name)) {
    return absl::InvalidArgumentError(absl::StrCat("--optimizer=", config.optimizer.name, " is unknown; expected one of: ",
                                                   absl::StrJoin(optimizers::OptimizerNames(), ", ")));
  }
  if (!absl::c_linear_search(optimizers::ScheduleNames(), config.schedule.name)) {
    return absl::InvalidArgumentError(absl::StrCat("--schedule=", config.schedule.name, " is unknown; expected one of: ",
                                                   absl::StrJoin(optimizers::ScheduleNames(), ", ")));
  }
  return absl::OkStatus();
}

absl::Status ValidatePruningFlags(const pruning::PruningConfig& config) {
  const absl::Status status = pruning::ValidatePruningConfig(config);
  if (status.ok()) return status;
  // The config's messages start with its field's name.
  constexpr std::pair<absl::string_view, absl::string_view> kFlagOfField[] = {
      {"scheme", "--pruning"}, {"scope", "--prune_scope"}, {"sparsity", "--sparsity"}, {"snip_batches", "--snip_batches"}};
  for (const auto& [field, flag] : kFlagOfField) {
    if (absl::StartsWith(status.message(), field)) {
      return absl::InvalidArgumentError(absl::StrCat(flag, status.message().substr(field.size())));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("pruning flags: ", status.message()));
}

}  // namespace parsity::experiments
