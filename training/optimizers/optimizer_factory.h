// Creates an optimizer by name from a plain config struct: the one entry point the trainer and the studies use.
//
//   OptimizerConfig config;  config.name = "nesterov";  config.momentum = 0.99f;
//   ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> optimizer, CreateOptimizer(config, parameter_count, &mask));
//   optimizer->Step(schedule.LearningRate(step), gradient, parameters);
#ifndef PARSITY_TRAINING_OPTIMIZERS_OPTIMIZER_FACTORY_H_
#define PARSITY_TRAINING_OPTIMIZERS_OPTIMIZER_FACTORY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/nn/mask.h"
#include "training/optimizers/optimizer.h"

namespace parsity::optimizers {

// The metaparameters of every optimizer; each optimizer reads only its own fields (the others are ignored and not
// validated). Defaults are Kingma & Ba's for Adam and the common 0.9 for momentum.
struct OptimizerConfig {
  std::string name = "sgd";  // One of OptimizerNames().
  float momentum = 0.9f;     // "momentum", "nesterov": in [0, 1).
  float beta1 = 0.9f;        // "adam": in [0, 1).
  float beta2 = 0.999f;      // "adam": in [0, 1).
  float epsilon = 1e-8f;     // "adam": finite, > 0.
};

// "sgd", "momentum", "nesterov", "adam" (sgd.h, momentum.h, nesterov.h, adam.h).
absl::Span<const absl::string_view> OptimizerNames();

// Creates the optimizer `config.name` over a buffer of `parameter_count` parameters; `mask` (nullable) is copied.
// Errors (InvalidArgument, naming the field and value): an unknown name (the message lists OptimizerNames()),
// parameter_count <= 0, a mask of another size, momentum / beta1 / beta2 outside [0, 1), epsilon not finite and
// positive.
absl::StatusOr<std::unique_ptr<Optimizer>> CreateOptimizer(const OptimizerConfig& config, int64_t parameter_count,
                                                           const nn::Mask* mask);

}  // namespace parsity::optimizers

#endif  // PARSITY_TRAINING_OPTIMIZERS_OPTIMIZER_FACTORY_H_
