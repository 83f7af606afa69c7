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

void SgdOptimizer::ScaledStep(float learning_rate, float gradient_scale, absl::Span<const float> gradient,
                              absl::Span<float> parameters) {
  CheckStepBuffers(gradient, parameters);
  const int64_t count = size();
  const float* g = gradient.data();
  float* w = parameters.data();
  const float scale = gradient_scale;
  if (mask() == nullptr) {
    for (int64_t i = 0; i < count; ++i) w[i] = std::fma(-learning_rate, g[i] * scale, w[i]);
    return;
  }
  ClearPrunedLinesOnFirstStep(parameters);
  absl::Span<const nn::LineRun> runs = kept_line_runs();
#if defined(__AVX512F__)
  const absl::Span<const uint16_t> kept = kept_bits();
  // The same arithmetic as below, 16 entries at a time; pruned lanes become +0.0f whatever they held.
  const __m512 rate = _mm512_set1_ps(learning_rate);
  const __m512 scales = _mm512_set1_ps(scale);
  for (const nn::LineRun& run : runs) {
    for (int64_t line = run.first_line; line < run.end_line; ++line) {
      const int64_t i = line * 16;
      const __m512 scaled = _mm512_mul_ps(_mm512_loadu_ps(g + i), scales);
      _mm512_storeu_ps(w + i, _mm512_maskz_fnmadd_ps(kept[line], rate, scaled, _mm512_loadu_ps(w + i)));
    }
  }
  runs = {};  // Only the partial last line is left for the loop below.
#endif
  const float* keep = mask()->values().data();
  optimizers_internal::ForEachKeptLineEntry(runs, count, [&](int64_t entry) {
    const bool is_kept = keep[entry] != 0.0f;
    w[entry] = is_kept ? std::fma(-learning_rate, g[entry] * scale, w[entry]) : 0.0f;
  });
}

}  // namespace parsity::optimizers
