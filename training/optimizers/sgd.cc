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

void SgdOptimizer::Step(float learning_rate, absl::Span<const float> gradient, absl::Span<float> parameters) {
  CheckStepBuffers(gradient, parameters);
  const int64_t count = size();
  const float* g = gradient.data();
  float* w = parameters.data();
  if (mask() == nullptr) {
    for (int64_t i = 0; i < count; ++i) w[i] -= learning_rate * g[i];
    return;
  }
  const absl::Span<const uint16_t> kept = kept_bits();
  int64_t i = 0;
#if defined(__AVX512F__)
  // The same arithmetic as below, 16 entries at a time; pruned lanes become +0.0f whatever they held.
  const __m512 rate = _mm512_set1_ps(learning_rate);
  for (; i + 16 <= count; i += 16) {
    if (kept[i / 16] == 0) {
      optimizers_internal::ClearPrunedLine(w + i);
      continue;
    }
    _mm512_storeu_ps(w + i, _mm512_maskz_fnmadd_ps(kept[i / 16], rate, _mm512_loadu_ps(g + i), _mm512_loadu_ps(w + i)));
  }
#endif
  const float* keep = mask()->values().data();
  // w - lr g with one rounding: what GCC makes of the expression (it contracts into fused multiply-adds in C++
  // mode), spelled out so that the vector path above matches it by construction.
  optimizers_internal::ForEachKeptLine(kept.subspan(i / 16), count - i, w + i, [&](int64_t k) {
    const int64_t entry = i + k;
    const bool is_kept = keep[entry] != 0.0f;
    w[entry] = is_kept ? std::fma(-learning_rate, g[entry], w[entry]) : 0.0f;
  });
}

}  // namespace parsity::optimizers
