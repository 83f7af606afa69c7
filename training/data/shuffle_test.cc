#include "training/data/shuffle.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace parsity::data {
namespace {

using ::testing::ElementsAre;

// Pearson's chi-square statistic of `counts` against equal expected counts.
double ChiSquare(const std::vector<int64_t>& counts) {
  const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
  const double expected = total / counts.size();
  double statistic = 0.0;
  for (int64_t count : counts) statistic += (count - expected) * (count - expected) / expected;
  return statistic;
}

TEST(ShuffleTest, TheEngineIsTheStandardOne) {
  // The C++ standard ([rand.predef]) fixes the 10000th output of a default-constructed std::mt19937_64; the split
  // and the data order are reproducible only because of this.
  std::mt19937_64 engine;
  engine.discard(9999);
  EXPECT_EQ(engine(), 9981545732273789042ull);
}

TEST(UniformIndexTest, StaysInRange) {
  std::mt19937_64 engine(7);
  for (uint64_t bound : {1ull, 2ull, 3ull, 10ull, 1000003ull, (1ull << 63) + 1, ~0ull}) {
    for (int i = 0; i < 1000; ++i) ASSERT_LT(UniformIndex(engine, bound), bound) << bound;
  }
}

TEST(UniformIndexTest, IsUniform) {
  // Fixed seed, so deterministic; with a correct sampler a chi-square (9 degrees of freedom) above 27.88 happens for
  // 0.1% of seeds.
  std::mt19937_64 engine(0);
  std::vector<int64_t> counts(10, 0);
  for (int i = 0; i < 100000; ++i) ++counts[UniformIndex(engine, 10)];
  EXPECT_LT(ChiSquare(counts), 27.88);
}

TEST(UniformIndexTest, IsUnbiasedForHugeBounds) {
  // bound ~ 2/3 * 2^64: plain `engine() % bound` would return a value below bound / 2 with probability 2/3; the
  // rejection of draws below 2^64 mod bound makes it 1/2.
  std::mt19937_64 engine(3);
  const uint64_t bound = 0xAAAAAAAAAAAAAAABull;
  int lower_half = 0;
  for (int i = 0; i < 10000; ++i) lower_half += UniformIndex(engine, bound) < bound / 2;
  // Binomial(10000, 0.5) has standard deviation 50: 4,800..5,200 is a 4-sigma band; 2/3 would give ~6,667.
  EXPECT_GT(lower_half, 4800);
  EXPECT_LT(lower_half, 5200);
}

TEST(ShuffledIndicesTest, IsAPermutation) {
  std::mt19937_64 engine(1);
  for (int64_t count : {0, 1, 2, 17, 1000}) {
    std::vector<int64_t> indices = ShuffledIndices(count, engine);
    std::sort(indices.begin(), indices.end());
    std::vector<int64_t> identity(count);
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_EQ(indices, identity);
  }
}

TEST(ShuffledIndicesTest, IsFixedForAGivenSeed) {
  // Frozen: changing this output changes the paper's validation split and every data order.
  std::mt19937_64 engine(0);
  EXPECT_THAT(ShuffledIndices(10, engine), ElementsAre(7, 2, 0, 8, 3, 9, 6, 1, 5, 4));
}

TEST(ShuffledIndicesTest, DependsOnTheSeed) {
  std::mt19937_64 engine_a(0);
  std::mt19937_64 engine_b(0);
  std::mt19937_64 engine_c(1);
  const std::vector<int64_t> a = ShuffledIndices(100, engine_a);
  EXPECT_EQ(a, ShuffledIndices(100, engine_b));
  EXPECT_NE(a, ShuffledIndices(100, engine_c));
}

TEST(ShuffledIndicesTest, AllPermutationsAreEquallyLikely) {
  // 4! = 24 permutations, 48,000 shuffles; chi-square with 23 degrees of freedom exceeds 49.73 for 0.1% of seeds.
  std::mt19937_64 engine(0);
  std::map<std::vector<int64_t>, int64_t> counts;
  for (int i = 0; i < 48000; ++i) ++counts[ShuffledIndices(4, engine)];
  ASSERT_EQ(counts.size(), 24u);
  std::vector<int64_t> values;
  for (const auto& [permutation, count] : counts) values.push_back(count);
  EXPECT_LT(ChiSquare(values), 49.73);
}

}  // namespace
}  // namespace parsity::data
