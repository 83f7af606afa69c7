// Plain stochastic gradient descent on a flat parameter buffer. Stateless.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<SgdOptimizer> sgd, SgdOptimizer::Create(parameter_count, /*mask=*/nullptr));
//   sgd->Step(/*learning_rate=*/0.1f, gradient, parameters);
//
// Update, for every entry i (g: the mean-loss gradient, lr: the learning rate):
//   w_i <- fma(-lr, g_i, w_i)            (w_i - lr g_i with one rounding)
// With a mask, pruned entries read g_i = 0 and are set to w_i = 0 (optimizer.h). The masked step reads the mask as
// one bit per entry and visits only the runs of lines that hold kept entries, so that it moves less memory than the
// unmasked one.
#ifndef PARSITY_TRAINING_OPTIMIZERS_SGD_H_
#define PARSITY_TRAINING_OPTIMIZERS_SGD_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/nn/mask.h"
#include "training/optimizers/optimizer.h"

namespace parsity::optimizers {

class SgdOptimizer : public Optimizer {
 public:
  // `mask` (nullable) is copied. Errors: InvalidArgument when parameter_count <= 0 or the mask's size differs.
  static absl::StatusOr<std::unique_ptr<SgdOptimizer>> Create(int64_t parameter_count, const nn::Mask* mask);

  void ScaledStep(float learning_rate, float gradient_scale, absl::Span<const float> gradient,
                  absl::Span<float> parameters) override;
  absl::string_view name() const override { return "sgd"; }

 private:
  SgdOptimizer(int64_t parameter_count, const nn::Mask* mask) : Optimizer(parameter_count, mask) {}
};

}  // namespace parsity::optimizers

#endif  // PARSITY_TRAINING_OPTIMIZERS_SGD_H_
