#include "training/optimizers/nesterov.h"

#include <cmath>
#include <cstdint>
#include <memory>

#include "tools/base/status_macros.h"

namespace parsity::optimizers {

absl::StatusOr<std::unique_ptr<NesterovOptimizer>> NesterovOptimizer::Create(int64_t parameter_count, float momentum,
                                                                             const nn::Mask* mask) {
  RETURN_IF_ERROR(optimizers_internal::ValidateBufferShape(parameter_count, mask));
  RETURN_IF_ERROR(optimizers_internal::ValidateInUnitInterval("momentum", momentum));
  return std::unique_ptr<NesterovOptimizer>(new NesterovOptimizer(parameter_count, momentum, mask));
}

NesterovOptimizer::NesterovOptimizer(int64_t parameter_count, float momentum, const nn::Mask* mask)
    : Optimizer(parameter_count, mask), momentum_(momentum), velocity_(static_cast<size_t>(parameter_count), 0.0f) {}

void NesterovOptimizer::ScaledStep(float learning_rate, float gradient_scale, absl::Span<const float> gradient,
                                   absl::Span<float> parameters) {
  CheckStepBuffers(gradient, parameters);
  const int64_t count = size();
  const float m = momentum_;
  const float* g = gradient.data();
  float* v = velocity_.data();
  float* w = parameters.data();
  const float scale = gradient_scale;
  if (mask() == nullptr) {
    for (int64_t i = 0; i < count; ++i) {
      const float gi = g[i] * scale;
      v[i] = std::fma(m, v[i], gi);
      w[i] = std::fma(-learning_rate, std::fma(m, v[i], gi), w[i]);
    }
    return;
  }
  ClearPrunedLinesOnFirstStep(parameters);
  const float* keep = mask()->values().data();
  optimizers_internal::ForEachKeptLineEntry(kept_line_runs(), count, [&](int64_t i) {
    const bool kept = keep[i] != 0.0f;
    const float gi = kept ? g[i] * scale : 0.0f;
    v[i] = std::fma(m, v[i], gi);
    w[i] = kept ? std::fma(-learning_rate, std::fma(m, v[i], gi), w[i]) : 0.0f;
  });
}

}  // namespace parsity::optimizers
