#include "training/nn/internal/vector_ops.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace parsity::nn_internal {
namespace {

// AddRows promises the additions of `count` AddFloats calls in row order, so the bits must match, for column counts
// with and without vector tails, below, at and above one 64-column block.
TEST(AddRowsTest, EqualsRowByRowAddFloatsBitForBit) {
  std::mt19937_64 engine(7);
  std::normal_distribution<float> value(0.0f, 3.0f);
  for (const int64_t columns : {1, 10, 16, 17, 32, 50, 64, 65, 100, 130, 300}) {
    for (const int64_t count : {0, 1, 3, 196}) {
      std::vector<float> rows(count * columns);
      for (float& x : rows) x = value(engine);
      std::vector<float> start(columns + 1);
      for (float& x : start) x = value(engine);
      std::vector<float> expected = start, actual = start;
      for (int64_t r = 0; r < count; ++r) AddFloats(rows.data() + r * columns, columns, expected.data());
      AddRows(rows.data(), count, columns, actual.data());
      ASSERT_EQ(std::memcmp(expected.data(), actual.data(), sizeof(float) * expected.size()), 0)
          << "columns " << columns << ", count " << count;
      EXPECT_EQ(actual[columns], start[columns]) << "wrote past the last column";
    }
  }
}

}  // namespace
}  // namespace parsity::nn_internal
