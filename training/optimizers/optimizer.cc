#include "training/optimizers/optimizer.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "tools/base/check.h"
#include "tools/base/status_macros.h"

namespace parsity::optimizers {

Optimizer::Optimizer(int64_t size, const nn::Mask* mask) : size_(size) {
  PARSITY_CHECK_OK(optimizers_internal::ValidateBufferShape(size, mask));
  if (mask != nullptr) {
    mask_.emplace(*mask);
    kept_bits_ = mask->KeptBits();
    kept_line_runs_ = nn::KeptLineRuns(kept_bits_, 0, size / 16);  // Full lines; steps do the partial one whole.
  }
}

void Optimizer::ClearPrunedLinesOnFirstStep(absl::Span<float> parameters) {
  if (pruned_lines_cleared_) return;
  pruned_lines_cleared_ = true;
  float* values = parameters.data();
  for (int64_t line = 0; line < size_ / 16; ++line) {
    if (kept_bits_[line] == 0) std::fill(values + line * 16, values + line * 16 + 16, 0.0f);
  }
}

void Optimizer::CheckStepBuffers(absl::Span<const float> gradient, absl::Span<float> parameters) const {
  PARSITY_CHECK(static_cast<int64_t>(gradient.size()) == size_);
  PARSITY_CHECK(static_cast<int64_t>(parameters.size()) == size_);
}

namespace optimizers_internal {

absl::Status ValidateBufferShape(int64_t parameter_count, const nn::Mask* mask) {
  if (parameter_count <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Optimizer parameter_count must be positive; got ", parameter_count));
  }
  if (mask != nullptr) RETURN_IF_ERROR(mask->CheckCovers(parameter_count));
  return absl::OkStatus();
}

absl::Status ValidateInUnitInterval(absl::string_view field, float value) {
  if (!(value >= 0.0f && value < 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat("Optimizer ", field, " must be in [0, 1); got ", value));
  }
  return absl::OkStatus();
}

}  // namespace optimizers_internal
}  // namespace parsity::optimizers
