#include "training/optimizers/sgd.h"

#include <cstdint>
#include <memory>

#include "tools/base/status_macros.h"

namespace parsity::optimizers {

absl::StatusOr<std::unique_ptr<SgdOptimizer>> SgdOptimizer::Create(int64_t parameter_count, const nn::Mask* mask) {
  RETURN_IF_ERROR(optimizers_internal::ValidateBufferShape(parameter_count, mask));
  return std::unique_ptr<SgdOptimizer>(new SgdOptimizer(parameter_count, mask));
}

void SgdOptimizer::Step(float learning_rate, absl::Span<const float> gradient, absl::Span<float> parameters) {
  CheckStepBuffers(gradient, parameters);
  const int64_t count = size();
  const float* g = gradient.data();
  float* w = parameters.data();
  if (mask() == nullptr) {
    for (int64_t i = 0; i < count; ++i) w[i] -= learning_rate * g[i];
    return;
  }
  const float* keep = mask()->values().data();
  for (int64_t i = 0; i < count; ++i) {
    const bool kept = keep[i] != 0.0f;
    const float gi = kept ? g[i] : 0.0f;
    w[i] = kept ? w[i] - learning_rate * gi : 0.0f;
  }
}

}  // namespace parsity::optimizers
