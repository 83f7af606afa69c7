#include "training/optimizers/adam.h"

#include <cmath>
#include <cstdint>
#include <memory>

#include "absl/strings/str_cat.h"
#include "tools/base/status_macros.h"

namespace parsity::optimizers {

absl::StatusOr<std::unique_ptr<AdamOptimizer>> AdamOptimizer::Create(int64_t parameter_count,
                                                                     const AdamHyperparameters& hyperparameters,
                                                                     const nn::Mask* mask) {
  RETURN_IF_ERROR(optimizers_internal::ValidateBufferShape(parameter_count, mask));
  RETURN_IF_ERROR(optimizers_internal::ValidateInUnitInterval("beta1", hyperparameters.beta1));
  RETURN_IF_ERROR(optimizers_internal::ValidateInUnitInterval("beta2", hyperparameters.beta2));
  if (!(hyperparameters.epsilon > 0.0f && std::isfinite(hyperparameters.epsilon))) {
    return absl::InvalidArgumentError(
        absl::StrCat("Optimizer epsilon must be finite and > 0; got ", hyperparameters.epsilon));
  }
  return std::unique_ptr<AdamOptimizer>(new AdamOptimizer(parameter_count, hyperparameters, mask));
}

AdamOptimizer::AdamOptimizer(int64_t parameter_count, const AdamHyperparameters& hyperparameters, const nn::Mask* mask)
    : Optimizer(parameter_count, mask),
      hyperparameters_(hyperparameters),
      first_moment_(static_cast<size_t>(parameter_count), 0.0f),
      second_moment_(static_cast<size_t>(parameter_count), 0.0f) {}

void AdamOptimizer::ScaledStep(float learning_rate, float gradient_scale, absl::Span<const float> gradient,
                               absl::Span<float> parameters) {
  CheckStepBuffers(gradient, parameters);
  ++step_count_;
  beta1_power_ *= hyperparameters_.beta1;
  beta2_power_ *= hyperparameters_.beta2;
  // 1 - b^t >= 1 - b > 0 for b in [0, 1), so the divisions are safe.
  const float first_correction = static_cast<float>(1.0 / (1.0 - beta1_power_));
  const float second_correction = static_cast<float>(1.0 / (1.0 - beta2_power_));
  const float b1 = hyperparameters_.beta1;
  const float b2 = hyperparameters_.beta2;
  const float one_minus_b1 = 1.0f - b1;
  const float one_minus_b2 = 1.0f - b2;
  const float eps = hyperparameters_.epsilon;
  const int64_t count = size();
  const float* g = gradient.data();
  float* m = first_moment_.data();
  float* v = second_moment_.data();
  float* w = parameters.data();
  const float scale = gradient_scale;
  if (mask() == nullptr) {
    for (int64_t i = 0; i < count; ++i) {
      const float gi = g[i] * scale;
      m[i] = std::fma(b1, m[i], one_minus_b1 * gi);
      v[i] = std::fma(b2, v[i], one_minus_b2 * (gi * gi));
      w[i] -= learning_rate * (m[i] * first_correction) / (std::sqrt(v[i] * second_correction) + eps);
    }
    return;
  }
  ClearPrunedLinesOnFirstStep(parameters);
  const float* keep = mask()->values().data();
  optimizers_internal::ForEachKeptLineEntry(kept_line_runs(), count, [&](int64_t i) {
    const bool kept = keep[i] != 0.0f;
    const float gi = kept ? g[i] * scale : 0.0f;
    m[i] = std::fma(b1, m[i], one_minus_b1 * gi);
    v[i] = std::fma(b2, v[i], one_minus_b2 * (gi * gi));
    w[i] = kept ? w[i] - learning_rate * (m[i] * first_correction) / (std::sqrt(v[i] * second_correction) + eps) : 0.0f;
  });
}

}  // namespace parsity::optimizers
