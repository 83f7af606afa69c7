#include "training/trainer/exact_sum.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace parsity::trainer {
namespace {

// The specification, computed independently: trunc(x * 2^64) in 128-bit integers via long double (64-bit
// significand: x * 2^64 is exact for every float and double of magnitude below 2^40).
__int128 Truncated(double x) {
  return static_cast<__int128>(std::ldexp(static_cast<long double>(x), 64));
}

__int128 EntryOf(const ExactSum& sum, int64_t entry) {
  const uint64_t low = sum.words()[2 * entry];
  const uint64_t high = sum.words()[2 * entry + 1];
  return static_cast<__int128>((static_cast<unsigned __int128>(high) << 64) | low);
}

uint32_t Bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// Vectors of floats spread over 60 binary orders of magnitude, both signs, some exact zeros.
std::vector<std::vector<float>> RandomTerms(int terms, int size, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> exponent(-45.0, 15.0);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::vector<std::vector<float>> result(terms, std::vector<float>(size));
  for (auto& term : result) {
    for (float& value : term) value = engine() % 11 == 0 ? 0.0f : static_cast<float>(unit(engine) * std::exp2(exponent(engine)));
  }
  return result;
}

TEST(ExactSumTest, EveryEntryIsTheExactSumOfTheTruncatedTerms) {
  const auto terms = RandomTerms(40, 257, 1);
  ExactSum sum(257);
  for (const auto& term : terms) sum.AddFloats(term);
  for (int i = 0; i < 257; ++i) {
    __int128 expected = 0;
    for (const auto& term : terms) expected += Truncated(term[i]);
    ASSERT_TRUE(EntryOf(sum, i) == expected) << "entry " << i;
  }
  EXPECT_EQ(sum.invalid_terms(), 0);
}

TEST(ExactSumTest, AnyOrderAndAnySplitGiveTheSameBits) {
  const auto terms = RandomTerms(24, 1000, 2);
  ExactSum reference(1000);
  for (const auto& term : terms) reference.AddFloats(term);
  std::vector<float> reference_rounded(1000);
  ASSERT_TRUE(reference.Round(absl::MakeSpan(reference_rounded)));

  std::mt19937_64 engine(3);
  std::vector<int> order(terms.size());
  std::iota(order.begin(), order.end(), 0);
  for (int trial = 0; trial < 10; ++trial) {
    std::shuffle(order.begin(), order.end(), engine);
    // Split the shuffled terms over three partial sums (threads, ranks), combined by AddTo and by AddWords.
    ExactSum a(1000), b(1000), c(1000);
    for (size_t k = 0; k < order.size(); ++k) (k % 3 == 0 ? a : k % 3 == 1 ? b : c).AddFloats(terms[order[k]]);
    c.AddTo(&b);
    ExactSum::AddWords(b.words().data(), a.words().data(), a.size() + 2);
    ASSERT_TRUE(std::equal(a.words().begin(), a.words().end(), reference.words().begin())) << "trial " << trial;
    std::vector<float> rounded(1000);
    ASSERT_TRUE(a.Round(absl::MakeSpan(rounded)));
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(Bits(rounded[i]), Bits(reference_rounded[i])) << i;
  }

  // The float sum in two orders differs somewhere (which is why this type exists).
  std::vector<float> forward(1000, 0.0f), backward(1000, 0.0f);
  for (size_t k = 0; k < terms.size(); ++k) {
    for (int i = 0; i < 1000; ++i) {
      forward[i] += terms[k][i];
      backward[i] += terms[terms.size() - 1 - k][i];
    }
  }
  EXPECT_FALSE(std::equal(forward.begin(), forward.end(), backward.begin()));
}

TEST(ExactSumTest, CancellationIsExact) {
  // In float, 1e8 + 1 == 1e8, so the left-to-right sum is 0; the exact sum is 1.
  ExactSum sum(1);
  for (float term : {1e8f, 1.0f, -1e8f}) sum.AddFloats(absl::MakeConstSpan(&term, 1));
  float rounded;
  ASSERT_TRUE(sum.Round(absl::MakeSpan(&rounded, 1)));
  EXPECT_EQ(rounded, 1.0f);
}

TEST(ExactSumTest, RoundsNegativeAndTinySumsCorrectly) {
  const float tiny = std::ldexp(1.0f, -60);
  struct Case {
    std::vector<float> terms;
    float expected;
  };
  const std::vector<Case> cases = {
      {{-5 * tiny}, -5 * tiny},                  // negative with a zero high word's complement
      {{-3.0f, 0.25f}, -2.75f},                  //
      {{std::ldexp(1.0f, -70)}, 0.0f},           // below 2^-64: truncated to 0
      {{-std::ldexp(1.0f, -70)}, 0.0f},          // toward zero on both sides
      {{-0.0f}, 0.0f},                           //
      {{1.0f + std::ldexp(1.0f, -23), -1.0f}, std::ldexp(1.0f, -23)},
      {{0x1.fffffep39f, 0x1.fffffep39f}, 2 * 0x1.fffffep39f},  // the largest valid term, twice
  };
  for (const Case& test : cases) {
    ExactSum sum(1);
    for (float term : test.terms) sum.AddFloats(absl::MakeConstSpan(&term, 1));
    float rounded;
    ASSERT_TRUE(sum.Round(absl::MakeSpan(&rounded, 1)));
    EXPECT_EQ(Bits(rounded), Bits(test.expected)) << test.terms[0] << ": " << rounded << " vs " << test.expected;
  }
}

TEST(ExactSumTest, RoundedValueIsWithinOneFloatUlpOfTheExactSum) {
  const auto terms = RandomTerms(16, 500, 4);
  ExactSum sum(500);
  for (const auto& term : terms) sum.AddFloats(term);
  std::vector<float> rounded(500);
  ASSERT_TRUE(sum.Round(absl::MakeSpan(rounded)));
  for (int i = 0; i < 500; ++i) {
    const long double exact = std::ldexp(static_cast<long double>(EntryOf(sum, i)), -64);
    const long double ulp = std::ldexp(1.0L, std::ilogb(static_cast<float>(exact)) - 23);
    EXPECT_LE(std::fabs(static_cast<long double>(rounded[i]) - exact), ulp) << i;
  }
}

TEST(ExactSumTest, InvalidTermsAreCountedAndMakeTheSumNaN) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity(), 0x1p40f, -0x1p45f}) {
    ExactSum sum(3);
    const std::vector<float> good = {1.0f, 2.0f, 3.0f};
    const std::vector<float> with_bad = {1.0f, bad, 3.0f};
    sum.AddFloats(good);
    sum.AddFloats(with_bad);
    EXPECT_EQ(sum.invalid_terms(), 1) << bad;
    std::vector<float> rounded(3);
    EXPECT_FALSE(sum.Round(absl::MakeSpan(rounded))) << bad;
    for (float value : rounded) EXPECT_TRUE(std::isnan(value)) << bad;
    EXPECT_TRUE(std::isnan(sum.Scalar()));
    // Counts add across partial sums like the entries do.
    ExactSum other(3);
    other.AddFloats(with_bad);
    other.AddTo(&sum);
    EXPECT_EQ(sum.invalid_terms(), 2);
  }
  ExactSum scalar_only(0);
  scalar_only.AddScalar(std::numeric_limits<double>::infinity());
  EXPECT_EQ(scalar_only.invalid_terms(), 1);
}

TEST(ExactSumTest, ScalarIsExactAndOrderIndependent) {
  const std::vector<double> losses = {0.1, 2.5e3, 1e-9, 0.2, 0.3, 7.0 / 3.0, 1e6, -1e6};
  ExactSum forward(0), backward(0);
  for (double loss : losses) forward.AddScalar(loss);
  for (auto it = losses.rbegin(); it != losses.rend(); ++it) backward.AddScalar(*it);
  EXPECT_TRUE(std::equal(forward.words().begin(), forward.words().end(), backward.words().begin()));
  __int128 expected = 0;
  for (double loss : losses) expected += Truncated(loss);
  EXPECT_TRUE(EntryOf(forward, forward.scalar_entry()) == expected);
  EXPECT_NEAR(forward.Scalar(), 0.1 + 2.5e3 + 1e-9 + 0.2 + 0.3 + 7.0 / 3.0, 1e-12);
}

// The one-term shortcut gives Round's bits for every kind of float: tiny (truncated), negative, zeros, subnormal,
// the largest valid, and with a scale.
TEST(ExactSumTest, RoundOneTermGivesRoundsBits) {
  std::vector<float> terms = RandomTerms(1, 4000, 6)[0];
  for (float special : {0.0f, -0.0f, std::ldexp(1.0f, -41), -std::ldexp(1.0f, -41), std::nextafter(std::ldexp(1.0f, -41), 0.0f),
                        -std::ldexp(3.0f, -64), std::ldexp(1.0f, -65), -std::ldexp(1.0f, -65), 1e-40f, -1e-40f,
                        0x1.fffffep39f, -0x1.fffffep39f, 1.0f, -1.0f}) {
    terms.push_back(special);
  }
  for (float scale : {1.0f, 1.0f / 50.0f}) {
    ExactSum sum(static_cast<int64_t>(terms.size()));
    sum.AddFloats(terms);
    std::vector<float> expected(terms.size());
    ASSERT_TRUE(sum.Round(absl::MakeSpan(expected), scale));
    std::vector<float> shortcut = terms;
    ASSERT_TRUE(ExactSum::RoundOneTerm(absl::MakeSpan(shortcut), scale));
    for (size_t i = 0; i < terms.size(); ++i) {
      ASSERT_EQ(Bits(shortcut[i]), Bits(expected[i])) << terms[i] << " scale " << scale;
    }
  }
  // A block without tiny terms takes the plain pass: -0 still becomes +0.
  std::vector<float> plain(3000);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = i % 7 == 0 ? -0.0f : (i % 2 ? -1.0f : 1.0f) * (1.0f + i);
  ExactSum plain_sum(static_cast<int64_t>(plain.size()));
  plain_sum.AddFloats(plain);
  std::vector<float> plain_expected(plain.size());
  ASSERT_TRUE(plain_sum.Round(absl::MakeSpan(plain_expected), 0.25f));
  ASSERT_TRUE(ExactSum::RoundOneTerm(absl::MakeSpan(plain), 0.25f));
  for (size_t i = 0; i < plain.size(); ++i) ASSERT_EQ(Bits(plain[i]), Bits(plain_expected[i])) << i;
  std::vector<float> with_infinity = {1.0f, std::numeric_limits<float>::infinity()};
  EXPECT_FALSE(ExactSum::RoundOneTerm(absl::MakeSpan(with_infinity)));
  EXPECT_TRUE(std::isnan(with_infinity[0]));
  for (double loss : {0.0, 1e-30, 0.69314718, 12345.678, -2.5}) {
    ExactSum sum(0);
    sum.AddScalar(loss);
    EXPECT_EQ(ExactSum::RoundOneScalar(loss), sum.Scalar()) << loss;
  }
  EXPECT_TRUE(std::isnan(ExactSum::RoundOneScalar(std::nan(""))));
}

// The compact form over kept indices equals the full form restricted to them, touches no other value, and rounds
// the others to +0.
TEST(ExactSumTest, CompactFormOverKeptIndices) {
  auto terms = RandomTerms(5, 64, 7);
  const std::vector<int32_t> kept = {0, 3, 4, 17, 40, 63};
  ExactSum full(64), compact(static_cast<int64_t>(kept.size()));
  for (auto& term : terms) {
    full.AddFloats(term);
    std::vector<float> copy = term;
    compact.AddFloatsAndClear(absl::MakeSpan(copy), kept);
    for (int i = 0; i < 64; ++i) {
      const bool is_kept = std::find(kept.begin(), kept.end(), i) != kept.end();
      ASSERT_EQ(Bits(copy[i]), is_kept ? 0u : Bits(term[i])) << i;
    }
  }
  std::vector<float> full_rounded(64), compact_rounded(64, 7.0f);
  ASSERT_TRUE(full.Round(absl::MakeSpan(full_rounded), 0.5f));
  ASSERT_TRUE(compact.Round(absl::MakeSpan(compact_rounded), kept, 0.5f));
  for (int i = 0; i < 64; ++i) {
    const bool is_kept = std::find(kept.begin(), kept.end(), i) != kept.end();
    EXPECT_EQ(Bits(compact_rounded[i]), is_kept ? Bits(full_rounded[i]) : 0u) << i;
  }
}

TEST(ExactSumTest, AddFloatsAndClearAddsTheSameAndZeroesTheInput) {
  auto terms = RandomTerms(3, 100, 5);
  ExactSum plain(100), clearing(100);
  for (auto& term : terms) {
    plain.AddFloats(term);
    clearing.AddFloatsAndClear(absl::MakeSpan(term));
    for (float value : term) ASSERT_EQ(Bits(value), 0u);
  }
  EXPECT_TRUE(std::equal(plain.words().begin(), plain.words().end(), clearing.words().begin()));
  clearing.Clear();
  for (uint64_t word : clearing.words()) EXPECT_EQ(word, 0u);
}

}  // namespace
}  // namespace parsity::trainer
