#include "training/nn/initialization.h"

#include <cmath>
#include <cstdint>

#include "tools/base/check.h"

namespace parsity::nn {

double UniformOpenClosed(std::mt19937_64& engine) {
  constexpr double kTwoToMinus53 = 1.0 / 9007199254740992.0;
  return static_cast<double>((engine() >> 11) + 1) * kTwoToMinus53;
}

double StandardNormal(std::mt19937_64& engine) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  const double radius = std::sqrt(-2.0 * std::log(UniformOpenClosed(engine)));
  const double angle = kTwoPi * UniformOpenClosed(engine);
  return radius * std::cos(angle);
}

double TruncatedStandardNormal(std::mt19937_64& engine) {
  while (true) {
    const double z = StandardNormal(engine);
    if (z >= -2.0 && z <= 2.0) return z;
  }
}

void InitializeParameters(const ParameterLayout& layout, std::mt19937_64& engine, absl::Span<float> parameters) {
  PARSITY_CHECK(static_cast<int64_t>(parameters.size()) == layout.size());
  for (const ParameterView& view : layout.views()) {
    absl::Span<float> values = Slice(parameters, view);
    if (view.kind == ParameterKind::kBiases) {
      for (float& value : values) value = 0.0f;
      continue;
    }
    const double scale = std::sqrt(1.0 / static_cast<double>(view.fan_in)) / kTruncatedNormalStddev;
    for (float& value : values) value = static_cast<float>(scale * TruncatedStandardNormal(engine));
  }
}

}  // namespace parsity::nn
