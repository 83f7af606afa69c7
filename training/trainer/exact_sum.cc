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

// The 128-bit two's complement entry as a double (rounded once from the exact magnitude's two parts).
double EntryValue(const uint64_t* entry) {
  uint64_t low = entry[0];
  uint64_t high = entry[1];
  const bool negative = static_cast<int64_t>(high) < 0;
  if (negative) {
    high = ~high + static_cast<uint64_t>(low == 0);
    low = ~low + 1;
  }
  const double magnitude = static_cast<double>(high) + static_cast<double>(low) / kTwoTo64;
  return negative ? -magnitude : magnitude;
}

}  // namespace

ExactSum::ExactSum(int64_t size) : size_(size) {
  PARSITY_CHECK(size >= 0);
  words_.assign(2 * (size + 2), 0);
}

void ExactSum::Clear() { std::fill(words_.begin(), words_.end(), uint64_t{0}); }

void ExactSum::AddFloats(absl::Span<const float> values) {
  PARSITY_CHECK(static_cast<int64_t>(values.size()) == size_);
  uint64_t* words = words_.data();
  const float* data = values.data();
  uint64_t invalid = 0;
  // A local bound: stores through `words` could alias the member, which keeps the loop from vectorizing.
  const int64_t size = size_;
  for (int64_t i = 0; i < size; ++i) {
    uint32_t bits;
    std::memcpy(&bits, data + i, sizeof(bits));
    AddFloatTerm(bits, words + 2 * i, invalid);
  }
  words[2 * invalid_entry()] += invalid;
}

void ExactSum::AddFloatsAndClear(absl::Span<float> values) {
  PARSITY_CHECK(static_cast<int64_t>(values.size()) == size_);
  uint64_t* words = words_.data();
  float* data = values.data();
  uint64_t invalid = 0;
  const int64_t size = size_;
  for (int64_t i = 0; i < size; ++i) {
    uint32_t bits;
    std::memcpy(&bits, data + i, sizeof(bits));
    AddFloatTerm(bits, words + 2 * i, invalid);
    data[i] = 0.0f;
  }
  words[2 * invalid_entry()] += invalid;
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

bool ExactSum::Round(absl::Span<float> values) const {
  PARSITY_CHECK(static_cast<int64_t>(values.size()) == size_);
  if (invalid_terms() > 0) {
    std::fill(values.begin(), values.end(), std::numeric_limits<float>::quiet_NaN());
    return false;
  }
  for (int64_t i = 0; i < size_; ++i) values[i] = static_cast<float>(EntryValue(words_.data() + 2 * i));
  return true;
}

double ExactSum::Scalar() const {
  if (invalid_terms() > 0) return std::numeric_limits<double>::quiet_NaN();
  return EntryValue(words_.data() + 2 * scalar_entry());
}

}  // namespace parsity::trainer
