#include "training/trainer/exact_sum.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "tools/base/check.h"

namespace parsity::trainer {
namespace {

constexpr double kTwoTo64 = 18446744073709551616.0;  // 2^64
constexpr double kTwoTo32 = 4294967296.0;
constexpr uint32_t kMaxTermFloatBits = 0x53800000u;  // 2^40 as a float's bits
constexpr uint32_t kTinyBits = 0x2b000000u;          // 2^-41 as a float's bits: smaller terms are not on the grid

// What every rounding writes when a term was invalid.
void FillWithNaN(absl::Span<float> values) {
  std::fill(values.begin(), values.end(), std::numeric_limits<float>::quiet_NaN());
}

// Adds trunc(magnitude * 2^64), negated when `negative` is all ones, to the 128-bit entry (low word, high word).
// REQUIRES: 0 <= magnitude < 2^40. Every step is exact: magnitude = whole + fraction, and fraction * 2^64 is taken
// in two 32-bit halves so that all conversions are to int64 (one instruction each, also in vector form).
inline void AddMagnitude(double magnitude, uint64_t negative, uint64_t* entry) {
  const int64_t whole = static_cast<int64_t>(magnitude);
  const uint64_t high = static_cast<uint64_t>(whole);
  const double fraction = (magnitude - static_cast<double>(whole)) * kTwoTo32;
  const int64_t upper = static_cast<int64_t>(fraction);
  const int64_t lower = static_cast<int64_t>((fraction - static_cast<double>(upper)) * kTwoTo32);
  const uint64_t low = (static_cast<uint64_t>(upper) << 32) | static_cast<uint64_t>(lower);
  // Two's complement negation of (high:low): (~high + (low == 0)) : -low.
  const uint64_t term_low = (low ^ negative) - negative;
  const uint64_t term_high = (high ^ negative) + (negative & static_cast<uint64_t>(low == 0));
  const uint64_t sum_low = entry[0] + term_low;
  entry[1] += term_high + static_cast<uint64_t>(sum_low < term_low);
  entry[0] = sum_low;
}

// AddMagnitude for a float given by its bits; counts it in `invalid` instead when it is not finite or not below
// kMaxTerm. Validity and sign come from integer tests of the bits and an invalid term becomes +0 by masking, so the
// loops over a buffer have no branch and vectorize.
inline void AddFloatTerm(uint32_t bits, uint64_t* entry, uint64_t& invalid) {
  const uint32_t magnitude_bits = bits & 0x7fffffffu;
  const bool valid = magnitude_bits < kMaxTermFloatBits;  // NaN and infinity have larger bit patterns
  const uint32_t kept_bits = magnitude_bits & (0u - static_cast<uint32_t>(valid));
  float kept;
  std::memcpy(&kept, &kept_bits, sizeof(kept));
  AddMagnitude(kept, 0 - static_cast<uint64_t>(bits >> 31), entry);
  invalid += static_cast<uint64_t>(!valid);
}

// The 128-bit two's complement entry as a double: the magnitude's two halves, converted and added (one rounding),
// with the sign put back. Branch-free, so that Round vectorizes; an entry of 0 gives +0.0.
inline double EntryValue(const uint64_t* entry) {
  const uint64_t low = entry[0];
  const uint64_t high = entry[1];
  const uint64_t negative = static_cast<uint64_t>(static_cast<int64_t>(high) >> 63);
  const uint64_t magnitude_low = (low ^ negative) - negative;
  const uint64_t magnitude_high = (high ^ negative) + (negative & static_cast<uint64_t>(low == 0));
  const double magnitude = static_cast<double>(magnitude_high) + static_cast<double>(magnitude_low) / kTwoTo64;
  uint64_t bits;
  std::memcpy(&bits, &magnitude, sizeof(bits));
  bits ^= negative & 0x8000000000000000ULL;
  double value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

}  // namespace

ExactSum::ExactSum(int64_t size) : size_(size) {
  PARSITY_CHECK(size >= 0);
  words_.assign(2 * (size + 2), 0);
}

void ExactSum::Clear() { std::fill(words_.begin(), words_.end(), uint64_t{0}); }

namespace {

// Adds data[position(k)] to entry k for k < size, clearing it when `Clear`; returns the number of invalid terms.
// `size` is a local, not the member: stores through `words` could alias the member, which keeps the loop from
// vectorizing.
template <bool Clear, typename Position, typename Float>
uint64_t AddTerms(Float* data, Position position, int64_t size, uint64_t* words) {
  uint64_t invalid = 0;
  for (int64_t k = 0; k < size; ++k) {
    const int64_t i = position(k);
    uint32_t bits;
    std::memcpy(&bits, data + i, sizeof(bits));
    AddFloatTerm(bits, words + 2 * k, invalid);
    if constexpr (Clear) data[i] = 0.0f;
  }
  return invalid;
}

}  // namespace

void ExactSum::AddFloats(absl::Span<const float> values) {
  PARSITY_CHECK(static_cast<int64_t>(values.size()) == size_);
  const auto identity = [](int64_t k) { return k; };
  words_[2 * invalid_entry()] += AddTerms<false>(values.data(), identity, size_, words_.data());
}

void ExactSum::AddFloatsAndClear(absl::Span<float> values) {
  PARSITY_CHECK(static_cast<int64_t>(values.size()) == size_);
  const auto identity = [](int64_t k) { return k; };
  words_[2 * invalid_entry()] += AddTerms<true>(values.data(), identity, size_, words_.data());
}

void ExactSum::AddFloatsAndClear(absl::Span<float> values, absl::Span<const int32_t> indices) {
  PARSITY_CHECK(static_cast<int64_t>(indices.size()) == size_);
  const int32_t* index = indices.data();
  const auto kept = [index](int64_t k) { return static_cast<int64_t>(index[k]); };
  words_[2 * invalid_entry()] += AddTerms<true>(values.data(), kept, size_, words_.data());
}

void ExactSum::AddScalar(double value) {
  if (!(std::fabs(value) < kMaxTerm)) {  // also NaN
    words_[2 * invalid_entry()] += 1;
    return;
  }
  AddMagnitude(std::fabs(value), std::signbit(value) ? ~uint64_t{0} : uint64_t{0},
               words_.data() + 2 * scalar_entry());
}

void ExactSum::AddTo(ExactSum* target) const {
  PARSITY_CHECK(target != nullptr && target->size_ == size_);
  AddWords(words_.data(), target->words_.data(), size_ + 2);
}

void ExactSum::AddWords(const uint64_t* in, uint64_t* inout, int64_t entries) {
  for (int64_t e = 0; e < entries; ++e) {
    const uint64_t low = inout[2 * e] + in[2 * e];
    inout[2 * e + 1] += in[2 * e + 1] + static_cast<uint64_t>(low < in[2 * e]);
    inout[2 * e] = low;
  }
}

int64_t ExactSum::invalid_terms() const { return static_cast<int64_t>(words_[2 * invalid_entry()]); }

bool ExactSum::Round(absl::Span<float> values, float scale) const {
  PARSITY_CHECK(static_cast<int64_t>(values.size()) == size_);
  if (invalid_terms() > 0) {
    FillWithNaN(values);
    return false;
  }
  const uint64_t* words = words_.data();
  float* data = values.data();
  const int64_t size = size_;
  for (int64_t i = 0; i < size; ++i) data[i] = static_cast<float>(EntryValue(words + 2 * i)) * scale;
  return true;
}

bool ExactSum::Round(absl::Span<float> values, absl::Span<const int32_t> indices, float scale) const {
  PARSITY_CHECK(static_cast<int64_t>(indices.size()) == size_);
  if (invalid_terms() > 0) {
    FillWithNaN(values);
    return false;
  }
  std::fill(values.begin(), values.end(), 0.0f);
  const uint64_t* words = words_.data();
  float* data = values.data();
  const int32_t* index = indices.data();
  const int64_t size = size_;
  for (int64_t k = 0; k < size; ++k) data[index[k]] = static_cast<float>(EntryValue(words + 2 * k)) * scale;
  return true;
}

namespace {

// RoundOneTerm for one term: x itself when it is a multiple of 2^-64, i.e. unless 0 < |x| < 2^-41; then x * 2^64 <
// 2^23 is exact and truncates through int32. Bit masks instead of branches, so that the loop over a block vectorizes.
inline float TruncateToGrid(float x) {
  constexpr float kUp = 18446744073709551616.0f;  // 2^64
  constexpr float kDown = 1.0f / kUp;
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  const uint32_t tiny = 0u - static_cast<uint32_t>((bits & 0x7fffffffu) < kTinyBits);
  const float scaled = x * kUp;
  uint32_t scaled_bits;
  std::memcpy(&scaled_bits, &scaled, sizeof(scaled_bits));
  scaled_bits &= tiny;  // 0.0f unless tiny: the conversion below stays in range
  float small;
  std::memcpy(&small, &scaled_bits, sizeof(small));
  const float truncated = static_cast<float>(static_cast<int32_t>(small)) * kDown;
  uint32_t truncated_bits;
  std::memcpy(&truncated_bits, &truncated, sizeof(truncated_bits));
  const uint32_t result_bits = (truncated_bits & tiny) | (bits & ~tiny);
  float result;
  std::memcpy(&result, &result_bits, sizeof(result));
  return result;
}

}  // namespace

bool ExactSum::RoundOneTerm(absl::Span<float> values, float scale) {
  // Block by block (in L1): the plain pass (x + 0) * scale, adding +0 to turn -0 into the +0 that Round gives for a
  // zero entry, with flags for invalid terms and for nonzero terms below 2^-41 (rare), which need the truncating
  // pass. With a power-of-two scale (every power-of-two batch) the plain pass is exact and invertible down to 2^-64,
  // so a flagged block is recovered from its output (terms below 2^-64 recover to below 2^-64: truncated to 0 either
  // way). Any other scale tests each block before writing it.
  constexpr int64_t kBlock = 1024;
  uint32_t scale_bits;
  std::memcpy(&scale_bits, &scale, sizeof(scale_bits));
  const uint32_t scale_exponent = (scale_bits >> 23) & 0xffu;
  // A positive power of two in [2^-26, 2^64): products with terms in [2^-64, 2^40) stay normal, hence exact.
  const bool invertible = (scale_bits & 0x807fffffu) == 0 && scale_exponent > 100 && scale_exponent < 127 + 64;
  float* data = values.data();
  const int64_t size = static_cast<int64_t>(values.size());
  for (int64_t block = 0; block < size; block += kBlock) {
    const int64_t end = std::min(size, block + kBlock);
    uint32_t invalid = 0, tiny = 0;
    auto flag = [&](int64_t i) {
      uint32_t bits;
      std::memcpy(&bits, data + i, sizeof(bits));
      const uint32_t magnitude_bits = bits & 0x7fffffffu;
      invalid |= static_cast<uint32_t>(magnitude_bits >= kMaxTermFloatBits);
      tiny |= static_cast<uint32_t>(magnitude_bits - 1 < kTinyBits - 1);  // 0 < |x| < 2^-41
    };
    if (invertible) {
      for (int64_t i = block; i < end; ++i) {
        flag(i);
        data[i] = (data[i] + 0.0f) * scale;
      }
      if (tiny != 0 && invalid == 0) {
        for (int64_t i = block; i < end; ++i) data[i] = (TruncateToGrid(data[i] / scale) + 0.0f) * scale;
      }
    } else {
      for (int64_t i = block; i < end; ++i) flag(i);
      if (invalid == 0) {
        if (tiny != 0) {
          for (int64_t i = block; i < end; ++i) data[i] = (TruncateToGrid(data[i]) + 0.0f) * scale;
        } else {
          for (int64_t i = block; i < end; ++i) data[i] = (data[i] + 0.0f) * scale;
        }
      }
    }
    if (invalid != 0) {
      FillWithNaN(values);
      return false;
    }
  }
  return true;
}

double ExactSum::RoundOneScalar(double value) {
  if (!(std::fabs(value) < kMaxTerm)) return std::numeric_limits<double>::quiet_NaN();
  return std::trunc(value * kTwoTo64) / kTwoTo64 + 0.0;
}

double ExactSum::Scalar() const {
  if (invalid_terms() > 0) return std::numeric_limits<double>::quiet_NaN();
  return EntryValue(words_.data() + 2 * scalar_entry());
}

}  // namespace parsity::trainer
