#include "experiments/flag_checks.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "training/nn/layer.h"
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

absl::StatusOr<float> FloatFlag(absl::string_view name, double value, FloatFlagRange range) {
  // The shortest decimal that reads back as `value`: what the user typed, not a rounding of it.
  std::string shortest;
  for (int digits = 1; digits <= 17; ++digits) {
    shortest = absl::StrFormat("%.*g", digits, value);
    if (std::strtod(shortest.c_str(), nullptr) == value) break;
  }
  const std::string typed = absl::StrCat("--", name, "=", shortest);
  auto error = [&](absl::string_view problem) { return absl::InvalidArgumentError(absl::StrCat(typed, " ", problem)); };
  constexpr double kSmallest = std::numeric_limits<float>::min();
  constexpr double kLargest = std::numeric_limits<float>::max();
  if (!std::isfinite(value)) return error("is not a finite number");
  switch (range) {
    case FloatFlagRange::kPositive:
      if (!(value > 0)) return error("must be positive");
      break;
    case FloatFlagRange::kBelowOne:
      if (!(value >= 0 && value < 1)) return error("is not in [0, 1)");
      break;
    case FloatFlagRange::kPositiveUpToOne:
      if (!(value > 0 && value <= 1)) return error("is not in (0, 1]");
      break;
  }
  if (value > 0 && value < kSmallest) {
    return error(absl::StrFormat("is below the smallest normal float (%g): it would be computed as 0", kSmallest));
  }
  if (value > kLargest) return error(absl::StrFormat("is above the largest float (%g)", kLargest));
  const float rounded = static_cast<float>(value);
  if (range == FloatFlagRange::kBelowOne && rounded >= 1.0f) {
    return error(absl::StrFormat("rounds to 1 as a float; it must be below 1 (at most %.8g)",
                                 std::nextafter(1.0f, 0.0f)));
  }
  return rounded;
}

std::string EarlyExitWarning(absl::string_view program, bool check_early_exit) {
  if (!check_early_exit || nn::HasDirectKernels()) return "";
  return absl::StrCat(program,
                      ": warning: this build computes with Eigen (--config=portable), where an example's loss depends "
                      "on its batch in the last bits: early-exit validation checks may decide a check near the goal "
                      "differently from a full check; pass --check_early_exit=false for exact checks\n");
}

}  // namespace parsity::experiments
