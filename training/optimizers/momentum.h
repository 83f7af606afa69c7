// Heavy-ball momentum (as in the paper and TensorFlow's MomentumOptimizer) on a flat parameter buffer. State: one
// velocity buffer, zero at creation.
//
//   ASSIGN_OR_RETURN(auto optimizer, MomentumOptimizer::Create(parameter_count, /*momentum=*/0.9f, &mask));
//   optimizer->Step(/*learning_rate=*/0.01f, gradient, parameters);
//
// Update, for every entry i (g: the mean-loss gradient, lr: the learning rate, m: the momentum, v: the velocity):
//   v_i <- fma(m, v_i, g_i)              (m v_i + g_i with one rounding)
//   w_i <- fma(-lr, v_i, w_i)
// With a constant lr the effective step is lr / (1 - m). With a mask, pruned entries read g_i = 0 (so v_i stays 0)
// and are set to w_i = 0 (optimizer.h).
#ifndef PARSITY_TRAINING_OPTIMIZERS_MOMENTUM_H_
#define PARSITY_TRAINING_OPTIMIZERS_MOMENTUM_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tools/base/aligned_vector.h"
#include "training/nn/mask.h"
#include "training/optimizers/optimizer.h"

namespace parsity::optimizers {

class MomentumOptimizer : public Optimizer {
 public:
  // `mask` (nullable) is copied. Errors: InvalidArgument when parameter_count <= 0, the mask's size differs, or
  // momentum is not in [0, 1).
  static absl::StatusOr<std::unique_ptr<MomentumOptimizer>> Create(int64_t parameter_count, float momentum,
                                                                   const nn::Mask* mask);

  void ScaledStep(float learning_rate, float gradient_scale, absl::Span<const float> gradient,
                  absl::Span<float> parameters) override;
  absl::string_view name() const override { return "momentum"; }

  float momentum() const { return momentum_; }
  // The velocity v, size() entries.
  absl::Span<const float> velocity() const { return velocity_; }

 private:
  MomentumOptimizer(int64_t parameter_count, float momentum, const nn::Mask* mask);

  float momentum_;
  AlignedFloatVector velocity_;
};

}  // namespace parsity::optimizers

#endif  // PARSITY_TRAINING_OPTIMIZERS_MOMENTUM_H_
