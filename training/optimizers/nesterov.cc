#include "training/optimizers/nesterov.h"

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

void NesterovOptimizer::Step(float learning_rate, absl::Span<const float> gradient, absl::Span<float> parameters) {
  CheckStepBuffers(gradient, parameters);
  const int64_t count = size();
  const float m = momentum_;
  const float* g = gradient.data();
  float* v = velocity_.data();
  float* w = parameters.data();
  if (mask() == nullptr) {
    for (int64_t i = 0; i < count; ++i) {
      v[i] = m * v[i] + g[i];
      w[i] -= learning_rate * (g[i] + m * v[i]);
    }
    return;
  }
  const float* keep = mask()->values().data();
  optimizers_internal::ForEachKeptLine(kept_bits(), count, w, [&](int64_t i) {
    const bool kept = keep[i] != 0.0f;
    const float gi = kept ? g[i] : 0.0f;
    v[i] = m * v[i] + gi;
    w[i] = kept ? w[i] - learning_rate * (gi + m * v[i]) : 0.0f;
  });
}

}  // namespace parsity::optimizers
