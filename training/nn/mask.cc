#include "training/nn/mask.h"

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/base/check.h"

namespace parsity::nn {

absl::StatusOr<Mask> Mask::Create(std::vector<float> values) {
  int64_t kept_count = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const float value = values[i];
    if (value == 1.0f) {
      ++kept_count;
    } else if (value != 0.0f) {
      return absl::InvalidArgumentError(absl::StrCat("Mask values must be exactly 0 or 1; values[", i, "] is ", value));
    }
  }
  return Mask(std::move(values), kept_count);
}

Mask Mask::AllKept(int64_t size) {
  PARSITY_CHECK(size >= 0);
  return Mask(std::vector<float>(static_cast<size_t>(size), 1.0f), size);
}

double Mask::sparsity() const {
  if (values_.empty()) return 0.0;
  return static_cast<double>(pruned_count()) / static_cast<double>(size());
}

absl::Status Mask::CheckCovers(int64_t parameter_count) const {
  if (size() != parameter_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("Mask size ", size(), " does not match the parameter buffer size ", parameter_count));
  }
  return absl::OkStatus();
}

std::vector<int32_t> Mask::KeptIndices() const {
  PARSITY_CHECK(size() <= std::numeric_limits<int32_t>::max());
  std::vector<int32_t> indices;
  indices.reserve(kept_count_);
  for (int64_t i = 0; i < size(); ++i) {
    if (is_kept(i)) indices.push_back(static_cast<int32_t>(i));
  }
  return indices;
}

std::vector<uint16_t> Mask::KeptBits() const {
  std::vector<uint16_t> bits((size() + 15) / 16, 0);
  for (int64_t i = 0; i < size(); ++i) {
    if (is_kept(i)) bits[i / 16] |= static_cast<uint16_t>(1u << (i % 16));
  }
  return bits;
}

std::vector<LineRun> KeptLineRuns(absl::Span<const uint16_t> kept_bits, int64_t first_line, int64_t end_line) {
  PARSITY_CHECK(0 <= first_line && first_line <= end_line && end_line <= static_cast<int64_t>(kept_bits.size()));
  std::vector<LineRun> runs;
  for (int64_t line = first_line; line < end_line; ++line) {
    if (kept_bits[line] == 0) continue;
    if (!runs.empty() && runs.back().end_line == line) {
      runs.back().end_line = line + 1;
    } else {
      runs.push_back({line, line + 1});
    }
  }
  return runs;
}

void Mask::Apply(absl::Span<float> buffer) const {
  PARSITY_CHECK(static_cast<int64_t>(buffer.size()) == size());
  const float* keep = values_.data();
  float* entries = buffer.data();
  const int64_t count = size();
  for (int64_t i = 0; i < count; ++i) {
    entries[i] = keep[i] != 0.0f ? entries[i] : 0.0f;
  }
}

}  // namespace parsity::nn
