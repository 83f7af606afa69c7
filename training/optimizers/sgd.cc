#include "training/optimizers/sgd.h"

#include <cmath>
#include <cstdint>
#include <memory>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "tools/base/status_macros.h"

namespace parsity::optimizers {

absl::StatusOr<std::unique_ptr<SgdOptimizer>> SgdOptimizer::Create(int64_t parameter_count, const nn::Mask* mask) {
  RETURN_IF_ERROR(optimizers_internal::ValidateBufferShape(parameter_count, mask));
  return std::unique_ptr<SgdOptimizer>(new SgdOptimizer(parameter_count, mask));
}

SgdOptimizer::SgdOptimizer(int64_t parameter_count, const nn::Mask* mask) : Optimizer(parameter_count, mask) {
  if (mask == nullptr) return;
  kept_bits_.assign((parameter_count + 15) / 16, 0);
  for (int64_t i = 0; i < parameter_count; ++i) {
    if (mask->is_kept(i)) kept_bits_[i / 16] |= static_cast<uint16_t>(1u << (i % 16));
  }
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
  int64_t i = 0;
#if defined(__AVX512F__)
  // The same arithmetic as below, 16 entries at a time; pruned lanes become +0.0f whatever they held.
  const __m512 rate = _mm512_set1_ps(learning_rate);
  for (; i + 16 <= count; i += 16) {
    _mm512_storeu_ps(w + i, _mm512_maskz_fnmadd_ps(kept_bits_[i / 16], rate, _mm512_loadu_ps(g + i),
                                                   _mm512_loadu_ps(w + i)));
  }
#endif
  const float* keep = mask()->values().data();
  for (; i < count; ++i) {
    const bool kept = keep[i] != 0.0f;
    const float gi = kept ? g[i] : 0.0f;
    // w - lr g with one rounding: what GCC makes of the expression (it contracts into fused multiply-adds in C++
    // mode), spelled out so that the vector path above matches it by construction.
    w[i] = kept ? std::fma(-learning_rate, gi, w[i]) : 0.0f;
  }
}

}  // namespace parsity::optimizers
