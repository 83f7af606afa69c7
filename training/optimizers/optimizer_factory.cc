#include "training/optimizers/optimizer_factory.h"

#include <cstdint>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/base/status_macros.h"
#include "training/optimizers/adam.h"
#include "training/optimizers/momentum.h"
#include "training/optimizers/nesterov.h"
#include "training/optimizers/sgd.h"

namespace parsity::optimizers {

absl::Span<const absl::string_view> OptimizerNames() {
  static constexpr absl::string_view kNames[] = {"sgd", "momentum", "nesterov", "adam"};
  return kNames;
}

absl::StatusOr<std::unique_ptr<Optimizer>> CreateOptimizer(const OptimizerConfig& config, int64_t parameter_count,
                                                           const nn::Mask* mask) {
  if (config.name == "sgd") {
    ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> optimizer, SgdOptimizer::Create(parameter_count, mask));
    return optimizer;
  }
  if (config.name == "momentum") {
    ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> optimizer,
                     MomentumOptimizer::Create(parameter_count, config.momentum, mask));
    return optimizer;
  }
  if (config.name == "nesterov") {
    ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> optimizer,
                     NesterovOptimizer::Create(parameter_count, config.momentum, mask));
    return optimizer;
  }
  if (config.name == "adam") {
    const AdamHyperparameters hyperparameters{config.beta1, config.beta2, config.epsilon};
    ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> optimizer,
                     AdamOptimizer::Create(parameter_count, hyperparameters, mask));
    return optimizer;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("OptimizerConfig.name \"", config.name,
                   "\" is unknown; expected one of: ", absl::StrJoin(OptimizerNames(), ", ")));
}

}  // namespace parsity::optimizers
